"""The analyst store: accounts, alerts, cases, notes, evidence, pseudonyms and the audit log.

Everything here lives in one relational database reached through SQLAlchemy 2 (SQLite by
default, PostgreSQL for teams) whose schema is created and upgraded by Alembic migrations
(:func:`molehunt.cases.store.open_store`). The web console and the CLI are its only callers.
"""
