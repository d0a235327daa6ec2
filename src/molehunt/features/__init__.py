"""Behavioural features: per person × day (and week, and logon session) tables from events.

Everything is an Ibis expression over the store, so the same code runs on DuckDB and on Spark.
:mod:`~molehunt.features.catalogue` lists every column with its meaning;
:mod:`~molehunt.features.build` computes the tables incrementally into the workspace.
"""
