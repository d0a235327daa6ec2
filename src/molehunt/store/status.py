"""What is in the store: events per source and month, people, departures, documents,
quarantine."""

from __future__ import annotations

from typing import Any

from molehunt.store.connect import connect
from molehunt.store.coverage import coverage, describe
from molehunt.store.workspace import Workspace


def store_status(workspace: Workspace, backend: str = "duckdb") -> dict[str, Any]:
    """The store's contents as one JSON-ready object.

    Keys: ``events_total``, ``events_by_source``, ``events_by_source_month``, ``users``,
    ``directory_users``, ``departures``, ``documents`` (one per ``doc_id``), ``coverage``
    (what the deployment can and cannot see, :func:`molehunt.store.coverage.describe`),
    ``first_day``,
    ``last_day``, ``quarantined_total``, ``quarantined_by_reason``, ``quarantined_by_file``,
    ``files``.

    Everything is read from one committed state of the store (:meth:`Workspace.snapshot`),
    consistent while an ingest commits, and nothing is written: it works on a read-only copy.
    """
    workspace = workspace.snapshot()
    store = connect(workspace, backend)
    try:
        events = store.events
        by_source = (
            events.group_by("source").aggregate(n=events.count()).order_by("source").to_pyarrow()
        )
        month = events.day.truncate("M").cast("string").substr(0, 7).name("month")
        by_month = (
            events.group_by(["source", month]).aggregate(n=events.count())
            .order_by(["source", "month"]).to_pyarrow()
        )
        totals = events.aggregate(
            n=events.count(), users=events.user_id.nunique(), first=events.day.min(),
            last=events.day.max(),
        ).to_pyarrow().to_pylist()[0]
        directory = store.directory
        latest = directory.group_by("user_id").aggregate(
            left=directory.valid_to.max(),
            open_rows=(directory.valid_to.isnull()).cast("int32").sum(),
        )
        people = latest.aggregate(
            n=latest.count(),
            departed=(latest.open_rows == 0).cast("int32").sum(),
        ).to_pyarrow().to_pylist()[0]
        documents = int(store.documents.count().execute())
        seen = describe(coverage(workspace, store))
        quarantine = store.quarantine
        by_reason = (
            quarantine.group_by("reason").aggregate(n=quarantine.count()).order_by("reason")
            .to_pyarrow()
        )
        by_file = (
            quarantine.group_by(["file", "reason"]).aggregate(n=quarantine.count())
            .order_by(["file", "reason"]).to_pyarrow()
        )
    finally:
        store.close()
    quarantined_by_file: dict[str, dict[str, int]] = {}
    for row in by_file.to_pylist():
        quarantined_by_file.setdefault(row["file"], {})[row["reason"]] = int(row["n"])
    by_source_month: dict[str, dict[str, int]] = {}
    for row in by_month.to_pylist():
        by_source_month.setdefault(row["source"], {})[row["month"]] = int(row["n"])
    reasons = {r["reason"]: int(r["n"]) for r in by_reason.to_pylist()}
    return {
        "workspace": str(workspace.root),
        "backend": backend,
        "events_total": int(totals["n"] or 0),
        "events_by_source": {r["source"]: int(r["n"]) for r in by_source.to_pylist()},
        "events_by_source_month": by_source_month,
        "users": int(totals["users"] or 0),
        "first_day": str(totals["first"]) if totals["first"] else None,
        "last_day": str(totals["last"]) if totals["last"] else None,
        "directory_users": int(people["n"] or 0),
        "departures": int(people["departed"] or 0),
        "documents": documents,
        "coverage": seen,
        "quarantined_total": sum(reasons.values()),
        "quarantined_by_reason": reasons,
        "quarantined_by_file": quarantined_by_file,
        "files": [
            {
                "path": r.path,
                "layout": r.layout,
                "rows_read": r.rows_read,
                "rows_stored": r.rows_stored,
                "rows_duplicate": r.rows_duplicate,
                "rows_quarantined": r.rows_quarantined,
                "sha256": r.sha256,
                "size": r.size,
                "state": r.state,
            }
            for r in workspace.records()
        ],
    }


__all__ = ["store_status"]
