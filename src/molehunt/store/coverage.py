"""What this deployment can see: the observations its sources provide, and over which days.

What people do and what gets logged differ by deployment (DESIGN.md §6b): the public CERT r4.2
release has web visits but no upload/download distinction and no HR events; an M365-only
tenant sees cloud files and mail but no removable media. Detectors must tell "saw none" from
"cannot see". An observation is covered when a stored file's layout declares it
(:attr:`~molehunt.sources.base.FileLayout.observes`) or when the stored rows show it (the
canonical JSONL declares nothing: an upload row means uploads are logged).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from molehunt.portable import as_date
from molehunt.store.connect import Store
from molehunt.store.workspace import Workspace

#: Every observation a source can provide, and what it means.
OBSERVATIONS: Mapping[str, str] = {
    "logon": "logons and logoffs",
    "removable_connect": "removable media connected and disconnected",
    "removable_files": "files copied to or from removable media",
    "file_access": "files opened, written and deleted on computers and shares",
    "email_sent": "e-mail sent",
    "email_received": "e-mail received and read",
    "web_visit": "web requests (visits)",
    "web_direction": "uploads and downloads told apart from visits",
    "cloud_files": "files shared or uploaded in cloud storage",
    "document_labels": "documents' sensitivity (labels, markings or a registered corpus)",
    "printing": "print jobs",
    "meetings": "meetings and their attendees",
    "physical": "badge and physical access",
    "hr_departure": "resignation notices and terminations (HR)",
    "hr_travel": "business travel (HR)",
    "hr_performance": "performance concerns (HR)",
    "hr_layoff": "layoffs (HR)",
    "hr_declarations": "declared outside engagements (HR)",
    "directory": "the directory: people, roles, teams, joiners and leavers",
}

#: Which observation a stored event shows, by action (and channel where it decides).
_ACTIONS: Mapping[str, str] = {
    "logon": "logon", "logoff": "logon",
    "device_connect": "removable_connect", "device_disconnect": "removable_connect",
    "email_send": "email_sent", "email_view": "email_received",
    "web_visit": "web_visit", "web_upload": "web_direction", "web_download": "web_direction",
    "print": "printing", "meeting": "meetings", "badge": "physical",
    "file_open": "file_access", "file_write": "file_access", "file_copy": "file_access",
    "file_delete": "file_access",
}
_HR_KINDS: Mapping[str, str] = {
    "resignation_notice": "hr_departure", "termination": "hr_departure",
    "travel": "hr_travel", "performance_concern": "hr_performance",
    # a feed of reviews is a feed of performance: a concern would show in it
    "performance_review": "hr_performance", "layoff": "hr_layoff",
    "outside_engagement_declared": "hr_declarations",
}

#: The first and last day an observation is covered.
Span = tuple[dt.date, dt.date]


def _widen(found: dict[str, Span], name: str, first: Any, last: Any) -> None:
    if first is None or last is None:
        return
    first, last = as_date(first), as_date(last)
    if name in found:
        first, last = min(first, found[name][0]), max(last, found[name][1])
    found[name] = (first, last)


def coverage(workspace: Workspace, store: Store) -> dict[str, Span]:
    """Observation → first and last day it is covered (absent: this deployment cannot see it).

    Days are those of the stored rows (a layout's declaration covers the days of its files).
    """
    from molehunt.sources.base import load_sources

    layouts = load_sources()
    found: dict[str, Span] = {}
    for record in workspace.records():
        layout = layouts.get(record.layout)
        if record.state != "committed" or layout is None:
            continue
        for declared in layout.observes:
            if record.min_day and record.max_day:
                _widen(found, declared, record.min_day, record.max_day)
            elif declared == "directory":
                found.setdefault(declared, (dt.date.min, dt.date.max))
    e = store.events
    shown = e.group_by(e.action, e.channel).aggregate(
        first=e.day.min(), last=e.day.max(),
        labelled=(e.sensitivity.notnull() | e.doc_id.notnull()).cast("int64").sum())
    for row in shown.to_pyarrow().to_pylist():
        name = _ACTIONS.get(row["action"] or "")
        if name == "file_access" and row["channel"] == "removable_media":
            name = "removable_files"
        elif name == "file_access" and row["channel"] == "cloud_storage":
            name = "cloud_files"
        if name:
            _widen(found, name, row["first"], row["last"])
        if row["labelled"]:
            _widen(found, "document_labels", row["first"], row["last"])
    hr = store.hr_events
    kinds = hr.group_by(hr.kind).aggregate(first=hr.ts.min(), last=hr.ts.max())
    for row in kinds.to_pyarrow().to_pylist():
        if row["kind"] in _HR_KINDS:
            _widen(found, _HR_KINDS[row["kind"]], row["first"], row["last"])
    if "document_labels" not in found and int(store.documents.count().execute()) > 0:
        found["document_labels"] = (dt.date.min, dt.date.max)
    if "directory" not in found and int(store.directory.count().execute()) > 0:
        found["directory"] = (dt.date.min, dt.date.max)
    return dict(sorted(found.items()))


def describe(found: Mapping[str, Span]) -> dict[str, Any]:
    """JSON-ready coverage: what is seen (with days) and what no source provides."""
    def text(day: dt.date) -> str | None:
        return None if day in (dt.date.min, dt.date.max) else day.isoformat()

    return {
        "observed": {name: {"first_day": text(span[0]), "last_day": text(span[1]),
                            "what": OBSERVATIONS.get(name, name)}
                     for name, span in found.items()},
        "not_observed": {name: what for name, what in OBSERVATIONS.items()
                         if name not in found},
    }


__all__ = ["OBSERVATIONS", "Span", "coverage", "describe"]
