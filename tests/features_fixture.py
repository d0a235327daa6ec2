"""A small hand-made organisation whose feature values are worked out by hand in the tests.

Three people: alice and bob (Engineers in R&D, on PC-A and PC-B) and carol (Sales, PC-C).
Every weekday from Monday 2024-03-04 each logs on at 09:00, visits a news site twice and
mails a colleague; on Wednesday 2024-03-13 (``BUSY_DAY``) alice does everything the catalogue
counts, and on Saturday 2024-03-16 she visits one site.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from conftest import ingest_jsonl
from molehunt.store.workspace import Workspace

FIRST_DAY = dt.date(2024, 3, 4)
BUSY_DAY = dt.date(2024, 3, 13)
WEEKEND_DAY = dt.date(2024, 3, 16)
LAST_WEEKDAY = dt.date(2024, 3, 15)
PCS = {"alice": "PC-A", "bob": "PC-B", "carol": "PC-C"}
SETTINGS = 'company_domains = ["corp.com"]\ncompetitors = ["rival.com"]\n'


def _event(day: dt.date, clock: str, user: str, action: str, channel: str,
           **fields: Any) -> dict[str, Any]:
    return {"ts": f"{day.isoformat()}T{clock}", "user_id": user, "action": action,
            "channel": channel, "host": fields.pop("host", PCS[user]), **fields}


def routine_day(day: dt.date) -> list[dict[str, Any]]:
    """What everyone does on an ordinary weekday: four events each."""
    rows = []
    for user in PCS:
        rows += [
            _event(day, "09:00:00", user, "logon", "local", object=PCS[user]),
            _event(day, "09:10:00", user, "web_visit", "web", object="http://news.example/a",
                   domain="news.example"),
            _event(day, "09:20:00", user, "web_visit", "web", object="http://news.example/b",
                   domain="news.example"),
            _event(day, "09:30:00", user, "email_send", "email_internal",
                   object=f"{user}@corp.com", target="team@corp.com", domain="corp.com",
                   bytes=1000, n_attachments=0),
        ]
    return rows


def busy_day() -> list[dict[str, Any]]:
    """Alice's busy Wednesday (on top of her routine)."""
    d = BUSY_DAY

    def a(clock: str, action: str, channel: str, **fields: Any) -> dict[str, Any]:
        return _event(d, clock, "alice", action, channel, **fields)

    return [
        a("10:00:00", "file_open", "network_share", object=r"\\fs\sales\plan.xlsx"),
        a("10:05:00", "file_open", "network_share", object=r"\\fs\rd\spec.docx"),
        a("10:10:00", "file_write", "network_share", object=r"\\fs\rd\readme.txt"),
        a("11:00:00", "email_send", "email_external", object="alice@corp.com",
          target="x@rival.com;y@rival.com", domain="rival.com", bytes=5000, n_attachments=2),
        a("11:05:00", "email_send", "webmail", object="alice@corp.com",
          target="alice.home@gmail.com", domain="gmail.com", bytes=1000, n_attachments=0,
          content="内部 资料 第一部分"),
        a("11:20:00", "email_view", "email_external", object="ext@partner.example",
          target="alice@corp.com", domain="partner.example", bytes=300),
        a("12:00:00", "web_visit", "web", object="http://monster.com/jobs",
          domain="monster.com"),
        a("12:01:00", "web_visit", "web", object="http://monster.com/apply",
          domain="monster.com"),
        a("12:02:00", "web_visit", "cloud_storage", object="http://dropbox.com/",
          domain="dropbox.com"),
        a("12:03:00", "web_upload", "cloud_storage", object="http://dropbox.com/up",
          domain="dropbox.com", content="TOP SECRET - CORE TECHNOLOGY cell recipe"),
        a("12:04:00", "web_upload", "web", object="http://pastebin.com/new",
          domain="pastebin.com", content="notes"),
        a("12:05:00", "web_upload", "web", object="http://example.org/form",
          domain="example.org"),
        a("12:06:00", "web_download", "web", object="http://hackforums.net/kl.zip",
          domain="hackforums.net"),
        a("12:07:00", "web_visit", "web", object="http://glgroup.com/", domain="glgroup.com"),
        a("13:00:00", "print", "printer", object=r"\\fs\rd\spec.docx", target="PRN-1",
          bytes=40000, pages=12),
        a("14:00:00", "meeting", "meeting", host="ROOM-1", object="M-1",
          department="Sales", closed_door=True),
        a("14:30:00", "meeting", "meeting", host="ROOM-2", object="M-2",
          department="R&D", closed_door=False),
        a("20:30:00", "logon", "local", host="PC-B", object="PC-B"),
        a("20:35:00", "device_connect", "removable_media", host="PC-B", target="USB-1"),
        a("20:40:00", "file_copy", "removable_media", host="PC-B",
          object=r"\\fs\rd\spec.docx", to_removable_media=True, from_removable_media=False),
        a("20:41:00", "file_copy", "removable_media", host="PC-B", object=r"R:\notes.txt",
          content="CONFIDENTIAL draft", to_removable_media=True, from_removable_media=False),
        a("20:42:00", "file_copy", "removable_media", host="PC-B", object=r"R:\tool.exe",
          to_removable_media=False, from_removable_media=True),
        a("20:50:00", "logoff", "local", host="PC-B", object="PC-B"),
    ]


def directory_rows() -> list[dict[str, Any]]:
    """Who is who: R&D engineers alice, bob and dave; carol in Sales."""
    rows = []
    for user, role, department in (("alice", "Engineer", "R&D"), ("bob", "Engineer", "R&D"),
                                   ("carol", "Salesperson", "Sales"),
                                   ("dave", "Engineer", "R&D")):
        rows.append({"user_id": user, "name": user.title(), "email": f"{user}@corp.com",
                     "role": role, "department": department, "business_unit": "BU1",
                     "team": department + " A", "valid_from": "2024-01-01"})
    return rows


def hr_rows() -> list[dict[str, Any]]:
    """Alice's hire, trip, concern, declaration and notice; dave laid off from R&D."""
    return [
        {"user_id": "alice", "ts": "2024-01-15T09:00:00", "kind": "hire"},
        {"user_id": "alice", "ts": "2024-03-05T07:00:00", "kind": "travel", "days": 2},
        {"user_id": "alice", "ts": "2024-03-01T10:00:00", "kind": "performance_concern"},
        {"user_id": "alice", "ts": "2024-03-12T10:00:00", "kind": "outside_engagement_declared"},
        {"user_id": "alice", "ts": "2024-03-11T10:00:00", "kind": "resignation_notice",
         "leave_date": "2024-03-29"},
        {"user_id": "dave", "ts": "2024-03-08T11:00:00", "kind": "layoff", "group": "R&D"},
    ]


def document_rows() -> list[dict[str, Any]]:
    """Three labelled documents: a secret R&D spec, a confidential Sales plan, a readme."""
    return [
        {"doc_id": "D-SECRET", "path": r"\\fs\rd\spec.docx", "department": "R&D",
         "sensitivity": 3, "created": "2024-01-02"},
        {"doc_id": "D-SALES", "path": r"\\fs\sales\plan.xlsx", "department": "Sales",
         "sensitivity": 2, "created": "2024-01-02"},
        {"doc_id": "D-PUB", "path": r"\\fs\rd\readme.txt", "department": "R&D",
         "sensitivity": 0, "created": "2024-01-02"},
    ]


def all_events(last_day: dt.date = LAST_WEEKDAY) -> list[dict[str, Any]]:
    """Routine weekdays from FIRST_DAY to ``last_day``, the busy day and the weekend visit."""
    rows: list[dict[str, Any]] = []
    day = FIRST_DAY
    while day <= last_day:
        if day.weekday() < 5:
            rows += routine_day(day)
        if day == BUSY_DAY:
            rows += busy_day()
        if day == WEEKEND_DAY:
            rows.append(_event(day, "10:00:00", "alice", "web_visit", "web",
                               object="http://news.example/c", domain="news.example"))
        day += dt.timedelta(days=1)
    return rows


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                    "utf-8")
    return path


def make_workspace(workspace: Workspace, folder: Path,
                   last_day: dt.date = WEEKEND_DAY) -> Workspace:
    """Ingest the organisation (events up to ``last_day``) into ``workspace``."""
    folder.mkdir(parents=True, exist_ok=True)
    workspace.create()
    (workspace.root / "molehunt.toml").write_text(SETTINGS, "utf-8")
    ingest_jsonl(workspace, [_jsonl(folder / "directory.jsonl", directory_rows())],
                 table="directory")
    ingest_jsonl(workspace, [_jsonl(folder / "hr.jsonl", hr_rows())], table="hr_events")
    ingest_jsonl(workspace, [_jsonl(folder / "documents.jsonl", document_rows())],
                 table="documents")
    add_events(workspace, folder, all_events(last_day), "events")
    return workspace


def add_events(workspace: Workspace, folder: Path, rows: list[dict[str, Any]],
               name: str) -> None:
    """Ingest more events from a new file."""
    summary = ingest_jsonl(workspace, [_jsonl(folder / f"{name}.jsonl", rows)])
    assert summary.rows_quarantined == 0, summary


def add_hr_events(workspace: Workspace, folder: Path, rows: list[dict[str, Any]],
                  name: str) -> None:
    """Ingest more HR events from a new file."""
    ingest_jsonl(workspace, [_jsonl(folder / f"{name}.jsonl", rows)], table="hr_events")
