"""Helpers shared by the detector tests: windows over the test organisation, truth, findings."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from molehunt.detectors import Detector, Window
from molehunt.pipeline import open_window
from molehunt.store.connect import Store, connect
from molehunt.store.workspace import Workspace


def window(workspace: Workspace, backend: str = "duckdb") -> tuple[Store, Window]:
    """The store (close it when done) and a window over every day with features."""
    store = connect(workspace, backend)
    return store, open_window(workspace, store)


def insiders(org: Path) -> list[dict[str, Any]]:
    """Rows of the simulated organisation's insiders.csv with dates parsed."""
    with (org / "answers" / "insiders.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("start", "end"):
            row[key] = dt.datetime.strptime(row[key], "%m/%d/%Y %H:%M:%S").date()
    return rows


def lookalikes(org: Path) -> set[str]:
    """Users the simulated organisation lists as benign look-alikes (lookalikes.csv)."""
    with (org / "answers" / "lookalikes.csv").open(newline="") as handle:
        return {row["user"] for row in csv.DictReader(handle)}


def with_dates(found: pd.DataFrame) -> pd.DataFrame:
    """``found`` with its ``day`` column as ``datetime.date`` values."""
    return found.assign(day=[d.date() if isinstance(d, dt.datetime) else d for d in found.day])


_RUNS: dict[tuple[str, str], pd.DataFrame] = {}


def run(detector: Detector, workspace: Workspace) -> pd.DataFrame:
    """Fit and score ``detector`` over the whole organisation (DuckDB), once per session."""
    key = (repr(detector), str(workspace.root))
    if key not in _RUNS:
        store, full = window(workspace)
        try:
            _RUNS[key] = detector.fit(full).score(full).to_pandas()
        finally:
            store.close()
    return _RUNS[key].copy()


def slice_of(full: Window, days: int, skip: int = 90) -> Window:
    """``days`` days of ``full`` after the first ``skip`` (baselines are warm by then)."""
    start = full.start + dt.timedelta(days=skip)
    return full.cut(start, start + dt.timedelta(days=days - 1))


def caught(found: pd.DataFrame, insider: dict[str, Any], top: int, grace: int = 7
           ) -> bool:
    """Whether ``insider`` is among the ``top`` people by score on a day of their episode."""
    if found.empty:
        return False
    found = found.assign(day=pd.to_datetime(found.day).dt.date)
    episode = found[(found.day >= insider["start"])
                    & (found.day <= insider["end"] + dt.timedelta(days=grace))]
    for day, rows in episode.groupby("day"):
        best = rows.groupby("user_id").score.max().sort_values(ascending=False)
        if insider["user"] in set(best.head(top).index):
            others = found[found.day == day]
            ranked = others.groupby("user_id").score.max().sort_values(ascending=False)
            if insider["user"] in set(ranked.head(top).index):
                return True
    return False


#: Columns of a synthetic events table (those the detectors read).
_EVENT_COLUMNS = {"event_id": "string", "ts": "timestamp", "day": "date", "user_id": "string",
                  "host": "string", "action": "string", "channel": "string",
                  "target": "string", "domain": "string"}


def synthetic_window(user_days: list[dict[str, Any]], events: list[dict[str, Any]] | None = None,
                     columns: frozenset[str] = frozenset()) -> Window:
    """A window over hand-made person-days (``day`` as a date; absent numbers are 0, absent
    ``days_*`` context columns null) and events, for look-alike tests of single detectors;
    ``columns`` (e.g. a detector's ``requires``) are added when no row has them."""
    import ibis

    tables = {"user_day", "events", "directory", "hr_events"}
    columns_all = {k for row in user_days for k in row} | (set(columns) - tables)
    columns = frozenset(columns_all - {"user_id", "day"})
    data: dict[str, list[Any]] = {"user_id": [r["user_id"] for r in user_days],
                                  "day": [r["day"] for r in user_days]}
    schema: dict[str, str] = {"user_id": "string", "day": "date"}
    for column in sorted(columns):
        context = column.startswith("days_since") or column.startswith("days_to")
        data[column] = [r.get(column, None if context else 0) for r in user_days]
        schema[column] = "float64"
    user_day = ibis.memtable(pd.DataFrame(data).astype(
        {c: "float64" for c in columns}), schema=schema)
    import pyarrow as pa

    rows = events or []
    arrow_types = {"string": pa.string(), "timestamp": pa.timestamp("us"), "date": pa.date32()}
    table = ibis.memtable(pa.table({c: pa.array([r.get(c) for r in rows], arrow_types[t])
                                    for c, t in _EVENT_COLUMNS.items()}))
    empty = ibis.memtable(pd.DataFrame({"user_id": pd.Series([], dtype="object")}),
                          schema={"user_id": "string"})
    days = [r["day"] for r in user_days]
    return Window(start=min(days), end=max(days), user_day=user_day, events=table,
                  directory=empty, hr_events=empty)


def outbound_table(rows: list[dict[str, Any]] | None = None) -> Any:
    """An ``outbound`` feature table (``user_id, day, channel, sensitivity, doc_id, events``)
    holding ``rows``, for synthetic windows of detectors that read it."""
    import ibis
    import pyarrow as pa

    rows = rows or []
    types = {"user_id": pa.string(), "day": pa.date32(), "channel": pa.string(),
             "sensitivity": pa.int8(), "doc_id": pa.string(), "events": pa.int64()}
    return ibis.memtable(pa.table({c: pa.array([r.get(c, 1 if c == "events" else None)
                                                for r in rows], t)
                                   for c, t in types.items()}))


def on_spark(window: Window) -> Window:
    """The same synthetic window with its tables copied into a local Spark session (for
    small parity tests of single detectors)."""
    import ibis
    from ibis.backends.pyspark.datatypes import PySparkSchema

    from molehunt.store.connect import spark_session, unique_view_name

    session = spark_session()
    con = ibis.pyspark.connect(session)

    def copy(name: str, table: ibis.Table) -> ibis.Table:
        view = unique_view_name(f"mh_twin_{name}")
        schema = PySparkSchema.from_ibis(table.schema())
        session.createDataFrame(table.to_pyarrow().to_pylist(), schema=schema
                                ).createOrReplaceTempView(view)
        return con.table(view).cast(table.schema())

    return Window(start=window.start, end=window.end,
                  user_day=copy("user_day", window.user_day),
                  events=copy("events", window.events),
                  directory=window.directory, hr_events=window.hr_events,
                  settings=window.settings, backend="spark",
                  tables={n: copy(n, t) for n, t in window.tables.items()})
