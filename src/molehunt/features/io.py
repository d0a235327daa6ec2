"""Reading and writing feature tables on either backend.

DuckDB writes one Parquet file per partition with ``COPY … PARTITION_BY``; Spark writes a
folder of part files. Both are read back the same way: every ``*.parquet`` under the table's
folder, with ``day=…`` (or ``week=…``) folders as a column.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ibis

from molehunt.store.connect import Store, hadoop_literal, unique_view_name


def parquet_files(folder: Path) -> list[Path]:
    """Every Parquet file under ``folder`` (recursively), sorted; a file is itself."""
    if folder.is_file():
        return [folder]
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*.parquet") if p.is_file())


def write(store: Store, expr: ibis.Table, path: Path, partition: str | None = None) -> None:
    """Execute ``expr`` and write it to ``path`` (a file, or a folder of partitions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if store.backend == "duckdb":
        options = ["FORMAT parquet"]
        if partition is not None:
            options += [f"PARTITION_BY ({_quoted(partition)})", "OVERWRITE_OR_IGNORE true"]
            path.mkdir(parents=True, exist_ok=True)
        store.con._run_pre_execute_hooks(expr)  # registers the expression's in-memory tables
        query = _exact_integers(expr, str(store.con.compile(expr)))
        target = "'" + os.fspath(path).replace("'", "''") + "'"
        store.con.raw_sql(f"COPY ({query}) TO {target} ({', '.join(options)})")
        return
    spark_options: dict[str, Any] = {"mode": "overwrite"}
    if partition is not None:
        spark_options["partitionBy"] = partition
    store.con.to_parquet(expr, os.fspath(path), **spark_options)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _exact_integers(expr: ibis.Table, query: str) -> str:
    """``query`` (``expr`` compiled for DuckDB) with its integer columns stored as BIGINT.

    DuckDB sums BIGINTs into HUGEINTs, which Ibis still calls int64 (so a cast to int64 in
    the expression is dropped) and which Parquet would store as doubles. The cast is added to
    the SQL rather than to the expression: a few hundred more Ibis nodes cost more to build
    and compile than a daily run's whole query takes to run.
    """
    schema = expr.schema()
    integers = [c for c in expr.columns if schema[c].is_int64()]
    if not integers:
        return query
    casts = ", ".join(f"CAST({_quoted(c)} AS BIGINT) AS {_quoted(c)}" for c in integers)
    return f"SELECT * REPLACE ({casts}) FROM ({query})"


def read(store: Store, folder: Path, partition: str | None = None,
         files: list[Path] | None = None, *, uniform: bool = False) -> ibis.Table | None:
    """The table stored under ``folder`` (``None`` when it holds no data files).

    Files written at different times may differ in their columns and are matched by name;
    ``uniform`` says they were written by one statement, with one schema, which spares
    DuckDB reading every file's schema each time a query uses the table (seconds for a
    few hundred partitions of a wide table).
    """
    chosen = parquet_files(folder) if files is None else files
    if not chosen:
        return None
    name = unique_view_name("mh_features")
    if store.backend == "duckdb":
        listing = "[" + ", ".join("'" + os.fspath(p).replace("'", "''") + "'"
                                  for p in chosen) + "]"
        hive = ", hive_partitioning=true" if partition else ", hive_partitioning=false"
        by_name = "" if uniform else ", union_by_name=true"
        store.con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM"
                          f" read_parquet({listing}{by_name}{hive})")
    else:
        reader = store.con._session.read
        if partition:
            reader = reader.option("basePath", os.fspath(folder))
        reader.parquet(*[hadoop_literal(p) for p in chosen]).createOrReplaceTempView(name)
    table = store.con.table(name)
    if partition and partition in table.columns:
        table = table.mutate(**{partition: table[partition].cast("date")})
    return table
