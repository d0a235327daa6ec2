"""Reading and writing feature tables on either backend.

A table keyed by day (or week) is a folder of *segments*: ``<first>_<last>.parquet``, one per
run, holding that run's days (DuckDB writes a file, Spark a folder of part files). A full build
writes one segment, a daily run one small one; a run that recomputes from an earlier day drops
the segments after it and trims the one it falls in. Days are a column of the data, not a
folder name: writing a few hundred day folders cost more than computing a full build's
deviations, and a daily run would still have rewritten whole folders.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import ibis

from molehunt.store.connect import Store, hadoop_literal, unique_view_name


def parquet_files(folder: Path) -> list[Path]:
    """Every Parquet file under ``folder`` (recursively), sorted; a file is itself."""
    if folder.is_file():
        return [folder]
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*.parquet") if p.is_file())


def write(store: Store, expr: ibis.Table, path: Path) -> None:
    """Execute ``expr`` and write it to ``path`` (DuckDB: a file; Spark: a folder of parts).

    On DuckDB the rows are written sorted by all their columns, so the same rows make the
    same bytes: the engine returns them in whatever order its threads finish in.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if store.backend == "duckdb":
        store.con._run_pre_execute_hooks(expr)  # registers the expression's in-memory tables
        query = _exact_integers(expr, str(store.con.compile(expr)))
        target = "'" + os.fspath(path).replace("'", "''") + "'"
        store.con.raw_sql(f"COPY (SELECT * FROM ({query}) ORDER BY ALL) TO {target}"
                          " (FORMAT parquet)")
        return
    store.con.to_parquet(expr, os.fspath(path), mode="overwrite")


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


def read(store: Store, folder: Path, files: list[Path] | None = None, *,
         uniform: bool = False) -> ibis.Table | None:
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
        by_name = "" if uniform else ", union_by_name=true"
        store.con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM"
                          f" read_parquet({listing}{by_name}, hive_partitioning=false)")
    else:
        store.con._session.read.parquet(*[hadoop_literal(p) for p in chosen]
                                        ).createOrReplaceTempView(name)
    return store.con.table(name)


#: Segments beyond this many are merged into one (a year of daily runs would leave hundreds
#: of small files, each read by every later query).
MAX_SEGMENTS = 32
_SEGMENT = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})\.parquet$")
_REMOVING = ".removing"


@dataclass(frozen=True)
class Segment:
    """One run's part of a day-keyed feature table: the days ``first`` to ``last``."""

    path: Path
    first: dt.date
    last: dt.date


def segment_path(folder: Path, first: dt.date, last: dt.date) -> Path:
    """Where the segment of the days ``first`` to ``last`` of a table lives."""
    return folder / f"{first.isoformat()}_{last.isoformat()}.parquet"


def _all_segments(folder: Path) -> list[Segment]:
    found = []
    for path in folder.iterdir() if folder.is_dir() else []:
        match = _SEGMENT.match(path.name)
        if match:
            found.append(Segment(path, dt.date.fromisoformat(match[1]),
                                 dt.date.fromisoformat(match[2])))
    return sorted(found, key=lambda s: (s.first, -s.last.toordinal()))


def _stale(segment: Segment, others: list[Segment]) -> bool:
    """Whether a wider segment covers ``segment``'s days: a run stopped mid-way left it."""
    return any(o is not segment and o.first <= segment.first and segment.last <= o.last
               for o in others)


def segments(folder: Path) -> list[Segment]:
    """A table's segments, in order of their days (leftovers of an interrupted run ignored)."""
    found = _all_segments(folder)
    return [s for s in found if not _stale(s, found)]


def segment_files(folder: Path) -> list[Path]:
    """The data files of a segmented table's live segments (what a reader should read)."""
    return [f for s in segments(folder) for f in parquet_files(s.path)]


def read_days(store: Store, folder: Path, key: str = "day", start: dt.date | None = None,
              before: dt.date | None = None) -> ibis.Table | None:
    """The rows of a segmented table with ``key`` from ``start`` and before ``before``.

    ``None`` when no segment covers those days.
    """
    chosen = [s for s in segments(folder) if (start is None or s.last >= start)
              and (before is None or s.first < before)]
    table = read(store, folder, files=[f for s in chosen for f in parquet_files(s.path)],
                 uniform=len(chosen) == 1)
    if table is None:
        return None
    table = table.mutate(**{key: table[key].cast("date")})
    if start is not None and any(s.first < start for s in chosen):
        table = table.filter(table[key] >= start)
    if before is not None and any(s.last >= before for s in chosen):
        table = table.filter(table[key] < before)
    return table


def replace_days(store: Store, staged: Path, target: Path, since: dt.date,
                 key: str = "day") -> None:
    """Put the staged segments into ``target`` in place of its days from ``since`` on.

    The segment ``since`` falls in is first rewritten with its earlier days. No step loses a
    day before ``since`` (a trimmed or merged copy is in place before what it replaces goes,
    and until then counts as a leftover; a segment is renamed away before it is deleted), and
    the days from ``since`` on are missing only until the staged ones are moved in, so a
    rerun from the same day repairs an interrupted run.
    """
    target.mkdir(parents=True, exist_ok=True)
    scratch = staged.parent / f"{staged.name}-rewritten"
    for half_removed in target.glob("*" + _REMOVING):
        _remove(half_removed)
    found = _all_segments(target)
    for segment in found:
        if _stale(segment, found):
            _remove(segment.path)
    for segment in segments(target):
        if segment.first < since <= segment.last:
            kept = read(store, segment.path)
            if kept is not None:
                last_kept = since - dt.timedelta(days=1)
                trimmed = segment_path(scratch, segment.first, last_kept)
                write(store, kept.filter(kept[key].cast("date") < since), trimmed)
                _move(trimmed, segment_path(target, segment.first, last_kept))
            _remove(segment.path)
        elif segment.first >= since:
            _remove(segment.path)
    for segment in segments(staged):
        _move(segment.path, target / segment.path.name)
    existing = segments(target)
    if len(existing) > MAX_SEGMENTS:
        merged = read_days(store, target, key)
        assert merged is not None
        whole = segment_path(scratch, existing[0].first, max(s.last for s in existing))
        write(store, merged, whole)
        _move(whole, target / whole.name)
        for segment in existing:
            _remove(segment.path)


def _move(source: Path, destination: Path) -> None:
    _remove(destination)
    os.replace(source, destination)


def _remove(path: Path) -> None:
    if path.is_dir():
        # a folder (Spark's segment) goes in many steps: first make it no segment at all, so
        # that a half-deleted one is never read
        doomed = path.with_name(path.name + _REMOVING)
        os.replace(path, doomed)
        shutil.rmtree(doomed)
    elif path.exists():
        path.unlink()
