"""Reading the workspace for the console: risk, findings, alerts, features and events.

The detection core writes ``<workspace>/results/`` (``risk/day=…``, ``findings/day=…``,
``alerts.parquet``); the feature build writes ``features/outbound/day=…`` and
``features/ledger.parquet``; ingestion writes ``events/day=…`` and ``directory.parquet``.
Every reader here tolerates a missing table (it returns nothing, and :attr:`ready` says why),
and prunes by day partition so that a person's page reads only the days it shows.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from molehunt.sql import sql_path, sql_string

EVENT_COLUMNS = ("event_id", "ts", "day", "user_id", "host", "source", "action", "channel",
                 "object", "target", "domain", "bytes", "n_attachments", "content", "doc_id",
                 "sensitivity")


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class WorkspaceResults:
    """Read-only access to a workspace's results, features, events and directory."""

    def __init__(self, root: Path, cache_seconds: float = 10.0) -> None:
        self.root = Path(root)
        self._con = duckdb.connect(config={"threads": 2})
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_seconds = cache_seconds

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
        """The detection core's output folder."""
        return self.root / "results"

    @property
    def ready(self) -> str | None:
        """``None`` when risk results exist, else what to run first."""
        if self._partitioned(self.results_dir / "risk") is None:
            return "no risk results yet: run `molehunt run` first"
        return None

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            cursor = self._con.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows of one DuckDB query as dictionaries."""
        with self._cursor() as cursor:
            return _rows(cursor.execute(sql, params or []))

    def _cached(self, key: str, compute: Any) -> Any:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        value = compute()
        self._cache[key] = (now, value)
        return value

    # -- directory -----------------------------------------------------------------------
    def directory(self) -> list[dict[str, Any]]:
        """The latest directory row of every person (name, email, role, department)."""
        source = self._file(self.root / "directory.parquet")
        if source is None:
            return []
        return list(self._cached("directory", lambda: self.query(
            f"SELECT user_id, name, email, role, department FROM {source}"
            " QUALIFY row_number() OVER (PARTITION BY user_id"
            " ORDER BY valid_from DESC NULLS LAST) = 1")))

    # -- risk ----------------------------------------------------------------------------
    def last_day(self) -> dt.date | None:
        """The newest day with risk results."""
        folder = self.results_dir / "risk"
        days = sorted(p.name.split("=", 1)[1] for p in folder.glob("day=*")) if (
            folder.is_dir()) else []
        return dt.date.fromisoformat(days[-1]) if days else None

    def risk_on(self, day: dt.date) -> list[dict[str, Any]]:
        """Everyone's risk on one day, highest first."""
        folder = self.results_dir / "risk" / f"day={day.isoformat()}"
        if not any(folder.glob("*.parquet")):
            return []
        return self.query(
            f"SELECT user_id, risk, band FROM read_parquet({sql_path(folder, '/*.parquet')})"
            " ORDER BY risk DESC, user_id")

    def risk_trends(self, users: list[str], first: dt.date) -> dict[str, list[float]]:
        """Daily risk of some people since ``first`` (for sparklines)."""
        source = self._partitioned(self.results_dir / "risk")
        if source is None or not users:
            return {}
        rows = self.query(
            f"SELECT user_id, day, risk FROM {source} WHERE day >= ? AND user_id IN"
            f" ({', '.join('?' * len(users))}) ORDER BY day", [first, *users])
        trends: dict[str, list[float]] = {u: [] for u in users}
        for row in rows:
            trends[row["user_id"]].append(float(row["risk"]))
        return trends

    def band_counts(self, first: dt.date) -> list[dict[str, Any]]:
        """People per band and day since ``first`` (the alert load over time)."""
        source = self._partitioned(self.results_dir / "risk")
        if source is None:
            return []
        return list(self._cached(f"bands:{first}", lambda: self.query(
            f"SELECT day, band, count(*) AS people FROM {source} WHERE day >= ?"
            " GROUP BY day, band ORDER BY day, band", [first])))

    def person_risk(self, user_id: str) -> list[dict[str, Any]]:
        """One person's risk timeline with bands and the day's top reasons."""
        source = self._partitioned(self.results_dir / "risk")
        if source is None:
            return []
        return self.query(f"SELECT day, risk, band, reasons FROM {source} WHERE user_id = ?"
                          " ORDER BY day", [user_id])

    # -- findings ------------------------------------------------------------------------
    def findings(self, user_id: str, first: dt.date | None = None,
                 last: dt.date | None = None) -> list[dict[str, Any]]:
        """One person's findings (newest first), optionally within a day range."""
        source = self._partitioned(self.results_dir / "findings")
        if source is None:
            return []
        where, params = ["user_id = ?"], [user_id]
        if first is not None:
            where.append("day >= ?")
            params.append(first.isoformat())
        if last is not None:
            where.append("day <= ?")
            params.append(last.isoformat())
        return self.query(
            f"SELECT day, detector, detector_version, score, reasons, evidence, related_users"
            f" FROM {source} WHERE {' AND '.join(where)} ORDER BY day DESC, score DESC", params)

    def alerts_table(self) -> list[dict[str, Any]]:
        """The rows of ``results/alerts.parquet`` (empty when the file does not exist)."""
        source = self._file(self.results_dir / "alerts.parquet")
        if source is None:
            return []
        return self.query(f"SELECT * FROM {source}")

    # -- events --------------------------------------------------------------------------
    def _events(self) -> str | None:
        return self._partitioned(self.root / "events")

    def events(self, user_id: str, first: dt.date, last: dt.date, channel: str | None = None,
               limit: int = 500) -> list[dict[str, Any]]:
        """One person's events in a day range (the activity timeline), newest first."""
        source = self._events()
        if source is None:
            return []
        where, params = ["user_id = ?", "day BETWEEN ? AND ?"], [user_id, first, last]
        if channel:
            where.append("channel = ?")
            params.append(channel)
        return self.query(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM {source} WHERE {' AND '.join(where)}"
            f" ORDER BY ts DESC LIMIT {int(limit)}", params)

    def events_by_id(self, event_ids: list[str], first: dt.date | None = None,
                     last: dt.date | None = None) -> list[dict[str, Any]]:
        """Events by id (evidence), pruned to a day range when one is known."""
        source = self._events()
        if source is None or not event_ids:
            return []
        where = [f"event_id IN ({', '.join(sql_string(e) for e in event_ids[:2000])})"]
        params: list[Any] = []
        if first is not None and last is not None:
            where.append("day BETWEEN ? AND ?")
            params += [first, last]
        return self.query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM {source}"
                          f" WHERE {' AND '.join(where)} ORDER BY ts", params)

    def channels(self) -> list[str]:
        """The channels the events use (for the timeline filter)."""
        return ["local", "removable_media", "network_share", "email_internal",
                "email_external", "webmail", "web", "cloud_storage", "printer", "meeting",
                "physical"]

    # -- features ------------------------------------------------------------------------
    def ledger(self, user_id: str) -> list[dict[str, Any]]:
        """What ever left, per channel and sensitivity (``features/ledger.parquet``)."""
        source = self._file(self.root / "features" / "ledger.parquet")
        if source is None:
            return []
        return self.query(f"SELECT * EXCLUDE (user_id) FROM {source} WHERE user_id = ?"
                          " ORDER BY sensitivity DESC NULLS LAST, events DESC", [user_id])

    def documents_out(self, user_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Labelled documents that left, most sensitive first (``features/outbound``)."""
        source = self._partitioned(self.root / "features" / "outbound")
        if source is None:
            return []
        return self.query(
            f"SELECT day, channel, sensitivity, doc_id, events, bytes FROM {source}"
            " WHERE user_id = ? AND doc_id IS NOT NULL"
            f" ORDER BY sensitivity DESC NULLS LAST, day DESC LIMIT {int(limit)}", [user_id])
