"""The Ibis connection factory: the store's tables on DuckDB (default) or Apache Spark.

Everything between the store and the findings is an Ibis expression over these tables, so the
same code runs embedded on a laptop and on a Spark cluster.

``events.user_id`` is the directory's ``user_id`` wherever the alias table knows the name a
log wrote (a UPN, an account name: :mod:`molehunt.store.people`).

``documents`` holds one row per ``doc_id``: when several batches hold a document, the row of the
batch committed last wins (a re-exported corpus replaces the earlier export's rows; the
earlier files stay on disk, untouched).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis

from molehunt.errors import ConfigError, StoreError
from molehunt.schema import (
    DIRECTORY_COLUMNS,
    DOCUMENT_COLUMNS,
    EVENT_COLUMNS,
    HR_EVENT_COLUMNS,
    QUARANTINE_COLUMNS,
)
from molehunt.sql import empty_select, sql_path
from molehunt.store.people import ALIAS_COLUMNS, aliases_rename, resolve_people
from molehunt.store.workspace import Workspace

# Ibis merges every chain of projections into one SELECT, measuring the merged expression's
# size after each merge: quadratic in the size of a detector's plan, and a third of a run's time
# (one run, 40 people x 90 days: 30 s -> 23 s without it; 1,000 x 240: 67 s -> 58 s). DuckDB's
# and Spark's optimisers merge projections themselves; the findings are the same rows.
ibis.options.sql.fuse_selects = False

BACKENDS = ("duckdb", "spark")
#: Column added while reading ``documents``: the commit rank of the row's batch.
_RANK = "_batch_rank"
_view_numbers = itertools.count()


def unique_view_name(name: str) -> str:
    """``name`` with a number no other view of this process has.

    One Spark session serves every store, and Ibis tables refer to views by name: a view
    registered again under a fixed name by a later store (another workspace, another window)
    would silently redirect the earlier store's lazy tables.
    """
    return f"{name}_{next(_view_numbers)}"


def _files_between(files: list[Path], start: dt.date, end: dt.date) -> list[Path]:
    """The event files whose ``day=`` partition lies between ``start`` and ``end``."""
    low, high = f"day={start.isoformat()}", f"day={end.isoformat()}"
    return [p for p in files if low <= p.parent.name <= high]


@dataclass
class Store:
    """Lazy Ibis tables of one workspace on one backend.

    ``events`` (the whole history) is opened on first use: binding a view over every event
    file reads every file's schema, which a job that reads a few days should not pay for.
    """

    backend: str
    con: Any
    open_events: Callable[[], ibis.Table]
    directory: ibis.Table
    hr_events: ibis.Table
    documents: ibis.Table
    quarantine: ibis.Table
    #: ``events_of(start, end)``: the events of those days, reading only their partitions
    #: (a daily job then opens one day's files, not the whole history's).
    events_of: Callable[[dt.date, dt.date], ibis.Table]

    @functools.cached_property
    def events(self) -> ibis.Table:
        """Every stored event."""
        return self.open_events()

    def close(self) -> None:
        """Release the backend connection (the Spark session stays for reuse)."""
        if self.backend == "duckdb":
            self.con.disconnect()


def _ordered(table: ibis.Table, columns: dict[str, str]) -> ibis.Table:
    return table.select(*[table[c].cast(_ibis_type(t)).name(c) for c, t in columns.items()])


def _latest_documents(table: ibis.Table) -> ibis.Table:
    """One row per ``doc_id``: the one of the batch with the highest commit rank."""
    newest_first = ibis.window(group_by=table.doc_id, order_by=ibis.desc(table[_RANK]))
    return _ordered(table.filter(ibis.row_number().over(newest_first) == 0),
                    dict(DOCUMENT_COLUMNS))


def _ibis_type(sql_type: str) -> str:
    return {
        "VARCHAR": "string",
        "TIMESTAMP": "timestamp",
        "DATE": "date",
        "BIGINT": "int64",
        "INTEGER": "int32",
        "TINYINT": "int8",
    }[sql_type]


def spark_session() -> Any:
    """A local Spark session set up for molehunt (UTC, quiet); reused when one exists.

    ``MOLEHUNT_SPARK_MASTER`` (default ``local[2]``) and ``MOLEHUNT_SPARK_DRIVER_MEMORY``
    (default ``2g``; read when the first session of the process starts the JVM) override.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("the spark backend needs `pip install molehunt[spark]`") from None
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    master = os.environ.get("MOLEHUNT_SPARK_MASTER", "local[2]")
    session = (
        SparkSession.builder.master(master)
        .appName("molehunt")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", os.environ.get("MOLEHUNT_SPARK_DRIVER_MEMORY", "2g"))
        # the UI is off: keep no history of executed plans (molehunt's plans are large, and a
        # long-lived session would keep the last thousand of them in the driver's memory)
        .config("spark.sql.ui.retainedExecutions", "1")
        .config("spark.ui.retainedJobs", "1")
        .config("spark.ui.retainedStages", "1")
        .getOrCreate()
    )
    if master.startswith("local"):
        # a listing of more than 32 paths (a store's day files) is a Spark job of its own; on
        # one machine, listing in the driver costs a fraction of scheduling that job
        session.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", "1000000")
    return session


def connect(workspace: Workspace, backend: str = "duckdb") -> Store:
    """Open the store's tables with Ibis on ``backend`` (``duckdb`` or ``spark``)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if not workspace.exists():
        raise StoreError("no workspace here; run `molehunt ingest` first",
                         where=str(workspace.root))
    if backend == "duckdb":
        return _connect_duckdb(workspace)
    return _connect_spark(workspace)


def _connect_duckdb(workspace: Workspace) -> Store:
    con = ibis.duckdb.connect()

    def table(name: str, files: list[str], columns: dict[str, str], hive: bool = False
              ) -> ibis.Table:
        if not files:
            con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {empty_select(columns)}")
            return _ordered(con.table(name), columns)
        listing = "[" + ", ".join(files) + "]"
        options = ", hive_partitioning=true, hive_types={'day': DATE}" if hive else ""
        con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM"
                    f" read_parquet({listing}, union_by_name=true{options})")
        return _ordered(con.table(name), columns)

    def documents() -> ibis.Table:
        files = workspace.table_files_by_commit("documents")
        if not files:
            return table("documents", [], dict(DOCUMENT_COLUMNS))
        ranked = " UNION ALL BY NAME ".join(
            f"SELECT *, {rank} AS {_RANK} FROM read_parquet({sql_path(path)})"
            for rank, path in enumerate(files)
        )
        con.raw_sql(f"CREATE OR REPLACE TEMP VIEW documents_batches AS {ranked}")
        return _latest_documents(con.table("documents_batches"))

    all_event_files = workspace.event_files()
    aliases = (table("people_aliases", [sql_path(workspace.aliases_file)], dict(ALIAS_COLUMNS))
               if aliases_rename(all_event_files, workspace.aliases_file) else None)

    def events(name: str, files: list[Path]) -> ibis.Table:
        read = table(name, [sql_path(p) for p in files], dict(EVENT_COLUMNS), hive=True)
        return read if aliases is None else resolve_people(read, aliases)

    def events_of(start: dt.date, end: dt.date) -> ibis.Table:
        return events(unique_view_name("events"), _files_between(all_event_files, start, end))

    return Store(
        backend="duckdb",
        con=con,
        open_events=lambda: events("events", all_event_files),
        events_of=events_of,
        directory=table("directory", [sql_path(p) for p in _existing(workspace.directory_file)],
                        dict(DIRECTORY_COLUMNS)),
        hr_events=table("hr_events", [sql_path(p) for p in workspace.table_files("hr_events")],
                        dict(HR_EVENT_COLUMNS)),
        documents=documents(),
        quarantine=table("quarantine",
                         [sql_path(p) for p in workspace.table_files("quarantine")],
                         dict(QUARANTINE_COLUMNS)),
    )


def _connect_spark(workspace: Workspace) -> Store:
    session = spark_session()
    con = ibis.pyspark.connect(session)

    def table(name: str, files: list[str], columns: dict[str, str], base: str | None = None
              ) -> ibis.Table:
        if not files:
            frame = session.createDataFrame([], schema=_spark_ddl(columns))
        else:
            reader = session.read.option("mergeSchema", "true")
            if base is not None:  # keeps the day=… folders as the partition column
                reader = reader.option("basePath", base)
            frame = reader.parquet(*files)
        view = unique_view_name(name)
        frame.createOrReplaceTempView(view)
        return _ordered(con.table(view), columns)

    def documents() -> ibis.Table:
        files = workspace.table_files_by_commit("documents")
        if not files:
            return table("documents", [], dict(DOCUMENT_COLUMNS))
        from pyspark.sql import functions

        frames = [session.read.parquet(hadoop_literal(path)).withColumn(_RANK,
                                                                         functions.lit(rank))
                  for rank, path in enumerate(files)]
        ranked = frames[0]
        for frame in frames[1:]:
            ranked = ranked.unionByName(frame, allowMissingColumns=True)
        view = unique_view_name("documents_batches")
        ranked.createOrReplaceTempView(view)
        return _latest_documents(con.table(view))

    all_event_files = workspace.event_files()
    aliases = (table("people_aliases", [hadoop_literal(workspace.aliases_file)],
                     dict(ALIAS_COLUMNS))
               if aliases_rename(all_event_files, workspace.aliases_file) else None)

    def events(files: list[Path]) -> ibis.Table:
        read = table("events", [hadoop_literal(p) for p in files], dict(EVENT_COLUMNS),
                     base=str(workspace.events_dir))
        return read if aliases is None else resolve_people(read, aliases)

    def events_of(start: dt.date, end: dt.date) -> ibis.Table:
        return events(_files_between(all_event_files, start, end))

    return Store(
        backend="spark",
        con=con,
        open_events=lambda: events(all_event_files),
        events_of=events_of,
        directory=table("directory", [hadoop_literal(p) for p in
                                      _existing(workspace.directory_file)],
                        dict(DIRECTORY_COLUMNS)),
        hr_events=table("hr_events", [hadoop_literal(p) for p in
                                      workspace.table_files("hr_events")],
                        dict(HR_EVENT_COLUMNS)),
        documents=documents(),
        quarantine=table("quarantine", [hadoop_literal(p) for p in
                                        workspace.table_files("quarantine")],
                         dict(QUARANTINE_COLUMNS)),
    )


def hadoop_literal(path: object) -> str:
    """A path that Spark (Hadoop's glob syntax) reads as exactly that path."""
    return re.sub(r"([\\{}\[\]*?])", r"\\\1", str(path))


def _spark_ddl(columns: dict[str, str]) -> str:
    spark_types = {"VARCHAR": "string", "TIMESTAMP": "timestamp_ntz", "DATE": "date",
                   "BIGINT": "bigint", "INTEGER": "int", "TINYINT": "tinyint"}
    return ", ".join(f"`{c}` {spark_types[t]}" for c, t in columns.items())


def _existing(path: os.PathLike[str]) -> list[str]:
    return [os.fspath(path)] if os.path.exists(path) else []
