"""Reading the workspace for the console: risk, findings, alerts, features and events.

The detection core writes ``<workspace>/results/`` (``risk/day=…``, ``findings/day=…``,
``alerts.parquet``); the feature build writes ``features/outbound/`` (segments) and
``features/ledger.parquet``; ingestion writes ``events/day=…`` and ``directory.parquet``.
Every reader here tolerates a missing table (it returns nothing, and :attr:`ready` says why).

Speed. Many analysts look at the same few people, and the results change only when
``molehunt run`` writes them, so the console keeps *read models* in memory: the risk of every
person and day (sorted by person, so one person's timeline is a slice), the latest day's
ranking, people per band and day, findings, the ledger and the documents that left. Each is
rebuilt when the files it was built from change (names, sizes and modification times, checked
at most every ``recheck_seconds``); while one thread rebuilds, the others keep serving the
previous version. Events are too many to hold in memory: :class:`ActivityIndex` keeps a copy
of each day sorted by person in small row groups, so reading one person's days skips the rest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from molehunt.features.io import segment_files
from molehunt.sql import sql_path, sql_paths, sql_string
from molehunt.store.people import resolved_events_sql

EVENT_COLUMNS = ("event_id", "ts", "day", "user_id", "host", "source", "action", "channel",
                 "object", "target", "domain", "bytes", "n_attachments", "content", "doc_id",
                 "sensitivity")
#: rows per row group in the activity index: one person's day of events usually falls in one
INDEX_ROW_GROUP = 2048
#: index files whose footers are kept (a week of 1,000 people: ~200 row groups)
INDEX_FOOTERS_KEPT = 64
#: activity pages remembered (several analysts open the same people, and page back and forth)
ACTIVITY_PAGES_KEPT = 256
log = logging.getLogger("molehunt.console")
T = TypeVar("T")


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _signature(path: Path) -> tuple[Any, ...]:
    """What a table's files are: (folder, name, mtime, size) of each Parquet file under path."""
    if path.is_file():
        stat = path.stat()
        return (("", path.name, stat.st_mtime_ns, stat.st_size),)
    if not path.is_dir():
        return ()
    found = []
    for file in path.rglob("*.parquet"):
        if file.is_file():
            stat = file.stat()
            found.append((file.parent.name, file.name, stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(found))


class Cached(Generic[T]):
    """A value built from files, rebuilt when their signature changes.

    The signature is looked at most every ``recheck`` seconds (a directory walk per request
    would cost more than the answer). The first build makes callers wait; later rebuilds let
    the other threads keep the previous value until the new one is ready.
    """

    def __init__(self, signature: Callable[[], object], build: Callable[[], T],
                 recheck: float) -> None:
        self._signature, self._build, self._recheck = signature, build, recheck
        self._value: tuple[object, T] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> T:
        """The current value (built or rebuilt when needed)."""
        current = self._value
        now = time.monotonic()
        if current is not None and now - self._checked < self._recheck:
            return current[1]
        signature = self._signature()
        if current is not None and current[0] == signature:
            self._checked = now
            return current[1]
        if current is not None and not self._lock.acquire(blocking=False):
            return current[1]  # another thread is rebuilding; serve the previous version
        if current is None:
            self._lock.acquire()
        try:
            current = self._value
            if current is None or current[0] != signature:
                current = (signature, self._build())
                self._value = current
            self._checked = time.monotonic()
            return current[1]
        finally:
            self._lock.release()


class Grouped:
    """A table sorted by ``user_id``, with each person's rows found by one dictionary lookup."""

    def __init__(self, table: pa.Table) -> None:
        self._where: dict[str, tuple[int, int]] = {}
        start = 0
        if table.num_rows:
            # value_counts lists values in order of first appearance: sorted, like the rows
            for item in pc.value_counts(table["user_id"]).to_pylist():
                self._where[item["values"]] = (start, item["counts"])
                start += item["counts"]
        self._table = table.drop_columns(["user_id"])

    def rows(self, user_id: str) -> list[dict[str, Any]]:
        """One person's rows in the table's order (without ``user_id``)."""
        where = self._where.get(user_id)
        return self._table.slice(*where).to_pylist() if where else []

    def __len__(self) -> int:
        return int(self._table.num_rows)


class RiskModel:
    """Everyone's risk in memory: per-person series, the latest ranking, people per band."""

    def __init__(self, series: Grouped, days: list[dt.date], latest: list[dict[str, Any]],
                 bands: list[dict[str, Any]], reasons: dict[str, Any] | None = None) -> None:
        self.series, self.days, self.latest, self.bands = series, days, latest, bands
        #: everyone's reasons on the newest day (the person page shows the latest ones)
        self.reasons = reasons or {}

    @property
    def last_day(self) -> dt.date | None:
        """The newest day with risk results."""
        return self.days[-1] if self.days else None


class _RelistError(Exception):
    """An event file listed a moment ago was replaced before it was read."""

    def __init__(self, error: duckdb.Error) -> None:
        super().__init__(str(error))
        self.error = error


class _Cursors(threading.local):
    cursor: duckdb.DuckDBPyConnection | None = None


class ActivityIndex:
    """The events sorted by person, one file per week, in small row groups: ``console/activity``.

    The event store is partitioned by day only, so one person's 14 days meant reading every
    event of 14 days, in 14 or more files. Here each week (Monday to Sunday) is one file sorted
    by ``user_id`` and time, so DuckDB skips the row groups of everyone else by their min/max
    statistics, and a two-week window opens three files. A week's file is named by a hash of
    its source files (names, sizes, times): a week that ingestion changed is not used until
    it has been rebuilt, and until then (and for weeks never indexed) queries read the event
    store itself: slower, never stale. Costs the disk space of a second copy of the events.
    """

    def __init__(self, events_dir: Path, index_dir: Path, aliases: Path | None = None) -> None:
        self.events_dir, self.index_dir = events_dir, index_dir
        #: the alias table people's other names resolve through (molehunt.store.people): an
        #: index week is built with it, so it is one of the week's sources
        self.aliases = aliases

    def days(self) -> list[str]:
        """The days the event store holds (``YYYY-MM-DD``)."""
        if not self.events_dir.is_dir():
            return []
        return sorted(p.name[4:] for p in self.events_dir.iterdir() if p.name.startswith("day="))

    @staticmethod
    def week_of(day: dt.date) -> dt.date:
        """The Monday of ``day``'s week (the index's unit).

        >>> ActivityIndex.week_of(dt.date(2024, 1, 7))
        datetime.date(2024, 1, 1)
        """
        return day - dt.timedelta(days=day.weekday())

    def _sources(self, first: dt.date, last: dt.date) -> list[Path]:
        found: list[Path] = []
        day = first
        while day <= last:
            folder = self.events_dir / f"day={day.isoformat()}"
            if folder.is_dir():
                found += sorted(folder.glob("*.parquet"))
            day += dt.timedelta(days=1)
        return found

    def _tag(self, files: list[Path]) -> str:
        digest = hashlib.sha256()
        if self.aliases is not None and self.aliases.exists():
            files = [*files, self.aliases]
        for path in files:
            stat = path.stat()
            digest.update(f"{path.parent.name}/{path.name}:{stat.st_size}:"
                          f"{stat.st_mtime_ns};".encode())
        return digest.hexdigest()[:20]

    def _target(self, week: dt.date, sources: list[Path]) -> Path:
        return self.index_dir / f"week={week.isoformat()}" / (self._tag(sources) + ".parquet")

    def files(self, first: dt.date, last: dt.date) -> tuple[list[Path], bool]:
        """Files holding the days in ``[first, last]``, and whether they are index files.

        Index files when every week of the range is indexed and current, else the event
        store's own day files (one kind only, so one query can read them all).
        """
        indexed: list[Path] = []
        week = self.week_of(first)
        while week <= last:
            sources = self._sources(week, week + dt.timedelta(days=6))
            if sources:
                target = self._target(week, sources)
                if not target.is_file():
                    return self._sources(first, last), False
                indexed.append(target)
            week += dt.timedelta(days=7)
        return indexed, True

    def build_week(self, con: duckdb.DuckDBPyConnection, week: dt.date) -> bool:
        """Write one week's sorted copy unless it is current; True when one was written."""
        sources = self._sources(week, week + dt.timedelta(days=6))
        if not sources:
            return False
        target = self._target(week, sources)
        if target.is_file():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        raw = f"read_parquet({sql_paths(sources)}, hive_partitioning=true, union_by_name=true)"
        if self.aliases is not None:
            raw = resolved_events_sql(raw, self.aliases, sources)
        have = {d[0] for d in con.execute(f"SELECT * FROM {raw} LIMIT 0").description or []}
        columns = ", ".join(c if c in have else f"NULL AS {c}" for c in EVENT_COLUMNS)
        temporary = target.parent / f".{target.name}.tmp"
        con.execute(
            f"COPY (SELECT {columns} FROM {raw} ORDER BY user_id, ts)"
            f" TO {sql_string(str(temporary))}"
            f" (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {INDEX_ROW_GROUP})")
        temporary.replace(target)
        for old in target.parent.iterdir():
            if old != target:
                old.unlink(missing_ok=True)
        return True

    def build(self, stop: threading.Event | None = None) -> int:
        """Bring every week's copy up to date, newest first; returns the weeks written."""
        con = duckdb.connect(config={"threads": 1})  # a background chore: one core at most
        written = 0
        try:
            weeks = sorted({self.week_of(dt.date.fromisoformat(d)) for d in self.days()})
            for week in reversed(weeks):
                if stop is not None and stop.is_set():
                    break
                written += self.build_week(con, week)
            names = {f"week={w.isoformat()}" for w in weeks}
            if self.index_dir.is_dir():  # weeks no longer in the event store
                for folder in self.index_dir.iterdir():
                    if folder.is_dir() and folder.name not in names:
                        shutil.rmtree(folder, ignore_errors=True)
        finally:
            con.close()
        return written


class WorkspaceResults:
    """Read-only access to a workspace's results, features, events and directory."""

    def __init__(self, root: Path, recheck_seconds: float = 1.0) -> None:
        self.root = Path(root)
        # one DuckDB thread per query and a few queries at a time: under many concurrent
        # requests, parallelism inside a query only adds contention, and dozens of queries
        # at once on two cores each run slower than the same queries taken a few at a time
        self._con = duckdb.connect(config={"threads": 1})
        self._running = threading.BoundedSemaphore(max(2, 2 * (os.cpu_count() or 1)))
        self._con.execute("SET parquet_metadata_cache = true")
        self._cursors = _Cursors()
        self._cursor_lock = threading.Lock()
        self.activity = ActivityIndex(self.root / "events", self.root / "console" / "activity",
                                      self.root / "people_aliases.parquet")
        # the results folder is looked up each time: ``molehunt run`` publishes a new one
        self._risk = Cached(lambda: _signature(self.results_dir / "risk"), self._build_risk,
                            recheck_seconds)
        self._findings = Cached(lambda: _signature(self.results_dir / "findings"),
                                self._build_findings, recheck_seconds)
        features = self.root / "features"
        self._ledger = Cached(lambda: _signature(features / "ledger.parquet"),
                              self._build_ledger, recheck_seconds)
        self._families = Cached(lambda: _signature(features / "ledger_families.parquet"),
                                self._build_families, recheck_seconds)
        self._outbound = Cached(lambda: _signature(features / "outbound"), self._build_outbound,
                                recheck_seconds)
        self._outbound_daily = Cached(lambda: _signature(features / "outbound"),
                                      self._build_outbound_daily, recheck_seconds)
        self._directory = Cached(lambda: _signature(self.root / "directory.parquet"),
                                 self._build_directory, recheck_seconds)
        self._pages: OrderedDict[tuple[Any, ...], tuple[list[dict[str, Any]], int]] = (
            OrderedDict())
        self._pages_lock = threading.Lock()
        self._footers: OrderedDict[Path, tuple[Any, list[str], list[str]]] = OrderedDict()
        self._recheck = recheck_seconds
        #: (first, last) -> (when looked, files, indexed): listing a range's day folders and
        #: hashing their files' stats is a few milliseconds of Python (under the interpreter
        #: lock) per call, and each look at a person made two or more
        self._listed: dict[tuple[dt.date, dt.date], tuple[float, list[Path], bool]] = {}
        self._index_stop = threading.Event()
        self._index_thread: threading.Thread | None = None

    # -- where things are --------------------------------------------------------------
    def _partitioned(self, folder: Path) -> str | None:
        if not folder.is_dir() or not any(folder.glob("*=*/*.parquet")):
            return None
        return (f"read_parquet({sql_path(folder, '/*=*/*.parquet')}, hive_partitioning=true,"
                " union_by_name=true)")

    def _file(self, path: Path) -> str | None:
        return f"read_parquet({sql_path(path)})" if path.is_file() else None

    @property
    def results_dir(self) -> Path:
        """The detection core's published results (the version ``results`` links to, looked
        up once per call: see :mod:`molehunt.store.published`)."""
        return (self.root / "results").resolve()

    def cannot_see(self) -> dict[str, str]:
        """Observations no source of this deployment provides (observation → what it is), as
        the last ``molehunt run`` found them; empty before a run."""
        path = self.results_dir / "coverage.json"
        try:
            described = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        missing = described.get("not_observed", {}) if isinstance(described, dict) else {}
        return {str(k): str(v) for k, v in missing.items()} if isinstance(missing, dict) else {}

    @property
    def ready(self) -> str | None:
        """``None`` when risk results exist, else what to run first."""
        if self._risk.get().last_day is None:
            return "no risk results yet: run `molehunt run` first"
        return None

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        # one cursor per thread: cursors of one connection run queries in parallel, and
        # creating one per request would cost more than most queries here
        cursor = self._cursors.cursor
        if cursor is None:
            with self._cursor_lock:
                cursor = self._con.cursor()
            self._cursors.cursor = cursor
        return cursor

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of one DuckDB query as dictionaries."""
        with self._running:
            return _rows(self._cursor().execute(sql, params or []))

    def _arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        with self._running:
            return self._cursor().sql(sql, params=params or None).to_arrow_table()

    def versions(self) -> tuple[int, ...]:
        """Identities of the read models in use: they change whenever one is rebuilt."""
        return (id(self._risk.get()), id(self._findings.get()), id(self._ledger.get()),
                id(self._outbound.get()), id(self._directory.get()))

    # -- the activity index --------------------------------------------------------------
    def start_indexing(self, every_seconds: float = 60.0) -> None:
        """Keep the activity index current in a background thread (newest days first)."""
        if self._index_thread is not None:
            return

        def loop() -> None:
            while not self._index_stop.is_set():
                try:
                    self.activity.build(self._index_stop)
                except (duckdb.Error, OSError) as error:  # a day being ingested, a full disk
                    log.warning("activity index: %s", error)
                self._index_stop.wait(every_seconds)

        self._index_thread = threading.Thread(target=loop, name="molehunt-activity-index",
                                              daemon=True)
        self._index_thread.start()

    def close(self) -> None:
        """Stop the background indexing and release DuckDB."""
        self._index_stop.set()
        if self._index_thread is not None:
            self._index_thread.join(timeout=30)
        try:
            self._con.close()
        except duckdb.Error as error:  # a request still running at shutdown
            log.warning("closing DuckDB: %s", error)

    # -- directory -----------------------------------------------------------------------
    def _build_directory(self) -> list[dict[str, Any]]:
        source = self._file(self.root / "directory.parquet")
        if source is None:
            return []
        return self.query(
            f"SELECT user_id, name, email, role, department FROM {source}"
            " QUALIFY row_number() OVER (PARTITION BY user_id"
            " ORDER BY valid_from DESC NULLS LAST) = 1")

    def directory(self) -> list[dict[str, Any]]:
        """The latest directory row of every person (name, email, role, department)."""
        return list(self._directory.get())

    # -- risk ----------------------------------------------------------------------------
    def _build_risk(self) -> RiskModel:
        source = self._partitioned(self.results_dir / "risk")
        if source is None:
            return RiskModel(Grouped(pa.table({"user_id": pa.array([], pa.string())})), [],
                             [], [])
        series = self._arrow(f"SELECT user_id, day, risk, band FROM {source}"
                             " WHERE user_id IS NOT NULL ORDER BY user_id, day")
        bands = self.query(f"SELECT day, band, count(*) AS people FROM {source}"
                           " GROUP BY day, band ORDER BY day, band")
        days = sorted({row["day"] for row in bands})
        latest = self.query(f"SELECT user_id, risk, band, reasons FROM {source} WHERE day = ?"
                            " ORDER BY risk DESC, user_id", [days[-1]]) if days else []
        reasons = {row["user_id"]: row.pop("reasons") for row in latest}
        return RiskModel(Grouped(series), days, latest, bands, reasons)

    def last_day(self) -> dt.date | None:
        """The newest day with risk results."""
        return self._risk.get().last_day

    def risk_on_last_day(self) -> list[dict[str, Any]]:
        """Everyone's risk on the newest day, highest first."""
        return list(self._risk.get().latest)

    def risk_trends(self, users: list[str], first: dt.date) -> dict[str, list[float]]:
        """Daily risk of some people since ``first`` (for sparklines)."""
        model = self._risk.get()
        return {u: [float(r["risk"]) for r in model.series.rows(u) if r["day"] >= first]
                for u in users}

    def band_counts(self, first: dt.date) -> list[dict[str, Any]]:
        """People per band and day since ``first`` (the alert load over time)."""
        return [row for row in self._risk.get().bands if row["day"] >= first]

    def person_risk(self, user_id: str) -> list[dict[str, Any]]:
        """One person's risk timeline (day, risk, band), oldest first."""
        return self._risk.get().series.rows(user_id)

    def reasons_on(self, user_id: str, day: dt.date) -> Any:
        """The reasons of one person's risk on one day (read from that day's partition)."""
        model = self._risk.get()
        if day == model.last_day:
            return model.reasons.get(user_id, [])
        folder = self.results_dir / "risk" / f"day={day.isoformat()}"
        if not any(folder.glob("*.parquet")):
            return []
        rows = self.query(f"SELECT reasons FROM read_parquet({sql_path(folder, '/*.parquet')},"
                          " union_by_name=true) WHERE user_id = ? LIMIT 1", [user_id])
        return rows[0]["reasons"] if rows else []

    # -- findings ------------------------------------------------------------------------
    def _build_findings(self) -> Grouped:
        source = self._partitioned(self.results_dir / "findings")
        if source is None:
            return Grouped(pa.table({"user_id": pa.array([], pa.string())}))
        return Grouped(self._arrow(
            f"SELECT user_id, day, detector, detector_version, score, reasons, evidence,"
            f" related_users FROM {source} WHERE user_id IS NOT NULL"
            " ORDER BY user_id, day DESC, score DESC"))

    def findings(self, user_id: str, first: dt.date | None = None,
                 last: dt.date | None = None) -> list[dict[str, Any]]:
        """One person's findings (newest first), optionally within a day range."""
        return [f for f in self._findings.get().rows(user_id)
                if (first is None or f["day"] >= first) and (last is None or f["day"] <= last)]

    def alerts_table(self) -> list[dict[str, Any]]:
        """The rows of ``results/alerts.parquet`` (empty when the file does not exist)."""
        source = self._file(self.results_dir / "alerts.parquet")
        if source is None:
            return []
        return self.query(f"SELECT * FROM {source}")

    # -- events --------------------------------------------------------------------------
    def _files(self, first: dt.date, last: dt.date) -> tuple[list[Path], bool]:
        """:meth:`ActivityIndex.files`, looked up again at most every ``recheck_seconds``."""
        now = time.monotonic()
        known = self._listed.get((first, last))
        if known is not None and now - known[0] < self._recheck:
            return known[1], known[2]
        files, indexed = self.activity.files(first, last)
        if len(self._listed) >= ACTIVITY_PAGES_KEPT:
            self._listed = {}
        self._listed[(first, last)] = (now, files, indexed)
        return files, indexed

    def _forget_files(self) -> None:
        # a file listed a moment ago is gone (the index rewrote its week): list again
        self._listed = {}

    def _event_query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """:meth:`query` over event files, listed again once if one has just been replaced."""
        try:
            return self.query(sql, params)
        except duckdb.IOException as error:
            self._forget_files()
            raise _RelistError(error) from None

    def _relisting(self, read: Callable[[], T]) -> T:
        """``read()``, once more after listing the files again if one had just gone."""
        try:
            return read()
        except _RelistError:
            pass
        try:
            return read()
        except _RelistError as again:
            raise again.error from None

    def _event_source(self, first: dt.date, last: dt.date) -> tuple[str, str] | None:
        """The events of the days in range (a subquery) and the SELECT list of their columns."""
        files, indexed = self._files(first, last)
        if not files:
            return None
        days = f"day BETWEEN DATE {sql_string(first.isoformat())} AND DATE" \
               f" {sql_string(last.isoformat())}"
        if indexed:  # index files hold every column, ``day`` included
            return (f"(SELECT * FROM read_parquet({sql_paths(files)}) WHERE {days})",
                    ", ".join(EVENT_COLUMNS))
        raw = resolved_events_sql(f"read_parquet({sql_paths(files)}, hive_partitioning=true,"
                                  " union_by_name=true)", self.root / "people_aliases.parquet",
                                  files)
        source = f"(SELECT * FROM {raw} WHERE {days})"
        # raw event files hold only the columns their sources had
        have = {d[0] for d in self._cursor().execute(
            f"SELECT * FROM {source} LIMIT 0").description or []}
        return source, ", ".join(c if c in have else f"NULL AS {c}" for c in EVENT_COLUMNS)

    def events(self, user_id: str, first: dt.date, last: dt.date, channel: str | None = None,
               limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """One page of a person's events in a day range, newest first, and how many there are."""
        files, _ = self._files(first, last)
        # the key names the files read (an index file is named by its sources, raw event files
        # never change), so a page is never served from a day that has changed since
        key = (user_id, channel, first, last, int(limit), int(offset),
               tuple(map(str, files)))
        with self._pages_lock:
            hit = self._pages.get(key)
            if hit is not None:
                self._pages.move_to_end(key)
                return [dict(row) for row in hit[0]], hit[1]
        page = self._relisting(
            lambda: self._events_page(user_id, first, last, channel, limit, offset))
        with self._pages_lock:
            self._pages[key] = page
            while len(self._pages) > ACTIVITY_PAGES_KEPT:
                self._pages.popitem(last=False)
        return [dict(row) for row in page[0]], page[1]

    def _row_groups(self, path: Path) -> tuple[Any, list[str], list[str]]:
        """An index file's footer and its row groups' lowest and highest ``user_id``."""
        known = self._footers.get(path)
        if known is not None:
            return known
        metadata = pq.read_metadata(path)
        column = metadata.schema.to_arrow_schema().get_field_index("user_id")
        lows, highs = [], []
        for group in range(metadata.num_row_groups):
            stats = metadata.row_group(group).column(column).statistics
            lows.append(stats.min if stats is not None and stats.has_min_max else "")
            highs.append(stats.max if stats is not None and stats.has_min_max else "\U0010ffff")
        with self._pages_lock:
            if len(self._footers) >= INDEX_FOOTERS_KEPT:
                self._footers.popitem(last=False)
            self._footers[path] = (metadata, lows, highs)
        return metadata, lows, highs

    def _indexed_page(self, files: list[Path], user_id: str, first: dt.date, last: dt.date,
                      channel: str | None, limit: int, offset: int
                      ) -> tuple[list[dict[str, Any]], int]:
        """A page of one person's events read from the index with pyarrow: only the row groups
        whose statistics can hold the person (DuckDB spent ~10 ms per file choosing 1 of 200
        row groups on 1,000 people; the footers and their bounds are kept here)."""
        parts = []
        for path in files:
            metadata, lows, highs = self._row_groups(path)
            groups = [g for g in range(len(lows)) if lows[g] <= user_id <= highs[g]]
            if not groups:
                continue
            try:
                table = pq.ParquetFile(path, metadata=metadata).read_row_groups(
                    groups, columns=list(EVENT_COLUMNS), use_threads=False)
            except OSError as error:  # the index rewrote this week since it was listed
                self._forget_files()
                raise _RelistError(duckdb.IOException(str(error))) from None
            keep = pc.and_(pc.equal(table["user_id"], user_id), pc.and_(
                pc.greater_equal(table["day"], pa.scalar(first, pa.date32())),
                pc.less_equal(table["day"], pa.scalar(last, pa.date32()))))
            if channel:
                keep = pc.and_(keep, pc.equal(table["channel"], channel))
            parts.append(table.filter(pc.fill_null(keep, False)))
        if not parts:
            return [], 0
        rows = pa.concat_tables(parts).sort_by([("ts", "descending"), ("event_id", "ascending")])
        return rows.slice(int(offset), int(limit)).to_pylist(), int(rows.num_rows)

    def _events_page(self, user_id: str, first: dt.date, last: dt.date, channel: str | None,
                     limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        files, indexed = self._files(first, last)
        if indexed and files:
            return self._indexed_page(files, user_id, first, last, channel, limit, offset)
        found = self._event_source(first, last)
        if found is None:
            return [], 0
        source, columns = found
        where, params = ["user_id = ?"], [user_id]
        if channel:
            where.append("channel = ?")
            params.append(channel)
        rows = self._event_query(
            f"SELECT {columns}, count(*) OVER () AS _total FROM {source}"
            f" WHERE {' AND '.join(where)} ORDER BY ts DESC, event_id"
            f" LIMIT {int(limit)} OFFSET {int(offset)}", params)
        total = int(rows[0]["_total"]) if rows else (
            0 if offset == 0 else self.query(
                f"SELECT count(*) AS n FROM {source} WHERE {' AND '.join(where)}",
                params)[0]["n"])
        for row in rows:
            row.pop("_total")
        return rows, total

    def events_by_id(self, event_ids: list[str], first: dt.date | None = None,
                     last: dt.date | None = None, users: Iterable[str] | None = None
                     ) -> list[dict[str, Any]]:
        """Events by id (evidence) in a day range, optionally only of some people.

        Naming the people lets the activity index skip everyone else's events; without a day
        range every day is read.
        """
        if not event_ids:
            return []
        return self._relisting(lambda: self._events_by_id(event_ids, first, last, users))

    def _events_by_id(self, event_ids: list[str], first: dt.date | None,
                      last: dt.date | None, users: Iterable[str] | None
                      ) -> list[dict[str, Any]]:
        if first is None or last is None:
            days = self.activity.days()
            if not days:
                return []
            first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
        found = self._event_source(first, last)
        if found is None:
            return []
        source, columns = found
        where = [f"event_id IN ({', '.join(sql_string(e) for e in event_ids[:2000])})"]
        people = sorted(set(users or []))
        if people:
            where.append(f"user_id IN ({', '.join(sql_string(u) for u in people)})")
        return self._event_query(f"SELECT {columns} FROM {source}"
                                 f" WHERE {' AND '.join(where)} ORDER BY ts", [])

    def hosts(self) -> list[str]:
        """Every computer name in the events (one column read; the index's copy when current).
        """
        days = self.activity.days()
        if not days:
            return []
        first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])

        def read() -> list[str]:
            files, indexed = self._files(first, last)
            if not files:
                return []
            options = "" if indexed else ", hive_partitioning=true, union_by_name=true"
            try:
                return [str(r["host"]) for r in self._event_query(
                    f"SELECT DISTINCT host FROM read_parquet({sql_paths(files)}{options})"
                    " WHERE host IS NOT NULL AND host <> '' ORDER BY host", [])]
            except duckdb.BinderException:  # no source of this store records a computer
                return []
        return self._relisting(read)

    def channels(self) -> list[str]:
        """The channels the events use (for the timeline filter)."""
        return ["local", "removable_media", "network_share", "email_internal",
                "email_external", "webmail", "web", "cloud_storage", "printer", "meeting",
                "physical"]

    # -- features ------------------------------------------------------------------------
    def _build_ledger(self) -> Grouped:
        source = self._file(self.root / "features" / "ledger.parquet")
        if source is None:
            return Grouped(pa.table({"user_id": pa.array([], pa.string())}))
        return Grouped(self._arrow(f"SELECT * FROM {source} WHERE user_id IS NOT NULL"
                                   " ORDER BY user_id, sensitivity DESC NULLS LAST,"
                                   " events DESC"))

    def ledger(self, user_id: str) -> list[dict[str, Any]]:
        """What ever left, per channel and sensitivity (``features/ledger.parquet``)."""
        return self._ledger.get().rows(user_id)

    def _build_families(self) -> Grouped:
        source = self._file(self.root / "features" / "ledger_families.parquet")
        if source is None:
            return Grouped(pa.table({"user_id": pa.array([], pa.string())}))
        return Grouped(self._arrow(f"SELECT * FROM {source} WHERE user_id IS NOT NULL"
                                   " ORDER BY user_id, sensitivity_max DESC NULLS LAST,"
                                   " documents DESC, family"))

    def ledger_families(self, user_id: str) -> list[dict[str, Any]]:
        """What ever left per content family (the documents' project), most sensitive first.

        From ``features/ledger_families.parquet``: first and last day, highest sensitivity,
        events, bytes, distinct documents and channels. The slow leak of one technology shows
        here as many pieces of one family over months.
        """
        return self._families.get().rows(user_id)

    def _build_outbound(self) -> Grouped:
        files = segment_files(self.root / "features" / "outbound")
        source = f"read_parquet({sql_paths(files)}, union_by_name=true)" if files else None
        if source is None:
            return Grouped(pa.table({"user_id": pa.array([], pa.string())}))
        # only the 100 most sensitive, newest documents per person are ever shown
        return Grouped(self._arrow(
            f"SELECT user_id, day, channel, sensitivity, doc_id, events, bytes FROM {source}"
            " WHERE user_id IS NOT NULL AND doc_id IS NOT NULL QUALIFY row_number() OVER"
            " (PARTITION BY user_id ORDER BY sensitivity DESC NULLS LAST, day DESC) <= 100"
            " ORDER BY user_id, sensitivity DESC NULLS LAST, day DESC"))

    def documents_out(self, user_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Labelled documents that left, most sensitive first (``features/outbound``)."""
        return self._outbound.get().rows(user_id)[:limit]

    # -- the person's chart --------------------------------------------------------------
    def risk_quantiles(self, users: Iterable[str] | None, first: dt.date, last: dt.date
                       ) -> list[dict[str, Any]]:
        """Per day from ``first`` to ``last``: the 25th, 50th, 75th and 90th percentile of the
        risk of ``users`` (everyone when ``None``) and how many people the day counts."""
        source = self._partitioned(self.results_dir / "risk")
        if source is None:
            return []
        where = ["day BETWEEN ? AND ?"]
        params: list[Any] = [first, last]
        if users is not None:
            where.append("user_id IN (SELECT unnest(?::VARCHAR[]))")
            params.append(sorted(set(users)))
        # quantile_cont on float64, rounded in Python: engines and versions round halves
        # differently, and a chart needs one decimal at most
        return [{"day": row["day"], "people": int(row["people"]),
                 "p25": round(float(row["q"][0]), 1), "p50": round(float(row["q"][1]), 1),
                 "p75": round(float(row["q"][2]), 1), "p90": round(float(row["q"][3]), 1)}
                for row in self.query(
                    f"SELECT day, count(*) AS people, quantile_cont(CAST(risk AS DOUBLE),"
                    f" [0.25, 0.5, 0.75, 0.9]) AS q FROM {source}"
                    f" WHERE {' AND '.join(where)} GROUP BY day ORDER BY day", params)]

    def _build_outbound_daily(self) -> Grouped:
        files = segment_files(self.root / "features" / "outbound")
        if not files:
            return Grouped(pa.table({"user_id": pa.array([], pa.string())}))
        return Grouped(self._arrow(
            f"SELECT user_id, day, channel, CAST(sum(events) AS BIGINT) AS events,"
            f" CAST(sum(coalesce(bytes, 0)) AS BIGINT) AS bytes"
            f" FROM read_parquet({sql_paths(files)}, union_by_name=true)"
            " WHERE user_id IS NOT NULL AND channel IS NOT NULL GROUP BY user_id, day, channel"
            " ORDER BY user_id, day, channel"))

    def outbound_by_day(self, user_id: str) -> list[dict[str, Any]]:
        """What left per day and channel (events, bytes), oldest first, every document and
        unlabelled transfer included (``features/outbound``, kept in memory per person: one
        row per person, day and channel that something left by)."""
        return self._outbound_daily.get().rows(user_id)

    def outbound_destinations(self, user_id: str, first: dt.date, last: dt.date,
                              limit: int = 10) -> list[dict[str, Any]]:
        """Where things left to, from the events of ``first`` to ``last``: per channel and
        destination (recipient or web domain, device, printer), events and bytes, largest
        first. What counts as leaving is the feature build's rule (``features.enrich``)."""
        return self._relisting(
            lambda: self._outbound_destinations(user_id, first, last, limit))

    def _outbound_destinations(self, user_id: str, first: dt.date, last: dt.date, limit: int
                               ) -> list[dict[str, Any]]:
        found = self._event_source(first, last)
        if found is None:
            return []
        source, columns = found
        channel = ("CASE WHEN action = 'email_send' THEN channel WHEN action = 'print'"
                   " THEN 'printer' WHEN action = 'web_upload' THEN coalesce(channel, 'web')"
                   " ELSE 'removable_media' END")
        return self._event_query(
            f"SELECT {channel} AS channel,"
            " coalesce(nullif(domain, ''), nullif(target, ''), host, '') AS destination,"
            " count(*) AS events, CAST(sum(coalesce(bytes, 0)) AS BIGINT) AS bytes"
            f" FROM (SELECT {columns} FROM {source}) WHERE user_id = ? AND ("
            "(action = 'email_send' AND channel IN ('email_external', 'webmail'))"
            " OR action = 'web_upload' OR action = 'print'"
            " OR (action IN ('file_copy', 'file_write') AND channel = 'removable_media'))"
            f" GROUP BY ALL ORDER BY bytes DESC, events DESC, destination LIMIT {int(limit)}",
            [user_id])
