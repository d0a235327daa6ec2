"""One person under many names: UPNs, account names and addresses resolve to the directory's
``user_id`` when the store reads events (molehunt.store.people)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from conftest import ingest_jsonl, query
from molehunt.sql import sql_path
from molehunt.store.connect import connect
from molehunt.store.people import (
    aliases_rename,
    changed_alias_day,
    read_aliases,
    resolved_events_sql,
)
from molehunt.store.workspace import Workspace

DIRECTORY = [
    {"user_id": "ACM2278", "name": "Al Ali", "email": "Al.Ali@x.com", "valid_from": "2024-01-01"},
    {"user_id": "bob", "name": "Bob", "email": "bob@x.com", "valid_from": "2024-01-01"},
    # a shared address handed from one person to the next
    {"user_id": "u1", "email": "desk@x.com", "valid_from": "2024-01-01",
     "valid_to": "2024-02-01"},
    {"user_id": "u2", "email": "desk@x.com", "valid_from": "2024-02-01"},
]
#: (name as a log writes it, day) → the person it is
EVENTS = {
    ("al.ali@x.com", "2024-01-15"): "ACM2278",  # Microsoft 365: the UPN, lower-cased
    ("acm2278", "2024-01-15"): "ACM2278",  # Windows: the account name, lower-cased
    ("ACM2278", "2024-01-16"): "ACM2278",  # CERT, canonical JSONL: the directory's id
    ("BOB@X.COM", "2024-01-16"): "bob",
    ("desk@x.com", "2024-01-20"): "u1",
    ("desk@x.com", "2024-02-20"): "u2",
    ("stranger@y.com", "2024-01-21"): "stranger@y.com",  # nobody the directory knows
}


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    return path


def _workspace(tmp_path: Path) -> Workspace:
    workspace = Workspace(tmp_path / "ws")
    ingest_jsonl(workspace, [_jsonl(tmp_path / "directory.jsonl", DIRECTORY)], "directory")
    rows = [{"event_id": f"e{n}", "user_id": name, "ts": f"{day}T10:00:00",
             "action": "logon", "source": "test"}
            for n, (name, day) in enumerate(sorted(EVENTS))]
    ingest_jsonl(workspace, [_jsonl(tmp_path / "events.jsonl", rows)])
    return workspace


def _expected() -> dict[str, str]:
    return {f"e{n}": EVENTS[key] for n, key in enumerate(sorted(EVENTS))}


def test_the_store_reads_every_name_as_its_person(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    store = connect(workspace)
    try:
        rows = store.events.select("event_id", "user_id").to_pyarrow().to_pylist()
        # the days of one range too (the features read events that way)
        some = store.events_of(dt.date(2024, 2, 1), dt.date(2024, 2, 28)).to_pyarrow()
    finally:
        store.close()
    assert {r["event_id"]: r["user_id"] for r in rows} == _expected()
    assert some.column("user_id").to_pylist() == ["u2"]
    # the readers that go to the files directly resolve the same way
    raw = (f"read_parquet({sql_path(workspace.events_dir, '/*/*.parquet')},"
           " hive_partitioning=true, hive_types={'day': DATE})")
    resolved = resolved_events_sql(raw, workspace.aliases_file, workspace.event_files())
    direct = query(f"SELECT event_id, user_id FROM {resolved}")
    assert {r["event_id"]: r["user_id"] for r in direct} == _expected()


def test_the_join_is_left_out_only_where_it_renames_no_event(tmp_path: Path) -> None:
    # logs that write the directory's own ids (CERT, canonical JSONL): the table names people
    # (e-mails, lower-cased ids) but renames none of the events
    workspace = Workspace(tmp_path / "ws")
    ingest_jsonl(workspace, [_jsonl(tmp_path / "directory.jsonl", DIRECTORY)], "directory")
    ingest_jsonl(workspace, [_jsonl(tmp_path / "events.jsonl", [
        {"event_id": "e1", "user_id": "ACM2278", "ts": "2024-01-15T10:00:00", "action": "logon",
         "source": "test"}])])
    assert read_aliases(workspace.aliases_file)
    assert not aliases_rename(workspace.event_files(), workspace.aliases_file)
    raw = f"read_parquet({sql_path(workspace.events_dir, '/*/*.parquet')})"
    assert resolved_events_sql(raw, workspace.aliases_file, workspace.event_files()) == raw
    # one event under an account name: the same files with it are read through the table
    ingest_jsonl(workspace, [_jsonl(tmp_path / "more.jsonl", [
        {"event_id": "e2", "user_id": "acm2278", "ts": "2024-01-16T10:00:00", "action": "logon",
         "source": "test"}])])
    assert aliases_rename(workspace.event_files(), workspace.aliases_file)
    store = connect(workspace)
    try:
        rows = store.events.select("event_id", "user_id").to_pyarrow().to_pylist()
    finally:
        store.close()
    assert sorted((r["event_id"], r["user_id"]) for r in rows) == [("e1", "ACM2278"),
                                                                   ("e2", "ACM2278")]


def test_a_directory_change_names_the_days_to_compute_again(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    before = read_aliases(workspace.aliases_file)
    assert changed_alias_day(workspace.event_files(), before, before) is None
    # the stranger joins the directory: their event of 2024-01-21 is theirs from now on
    ingest_jsonl(workspace, [_jsonl(tmp_path / "directory_2.jsonl", [
        {"user_id": "s9", "email": "stranger@y.com", "valid_from": "2024-01-01"}])],
        "directory")
    now = read_aliases(workspace.aliases_file)
    assert changed_alias_day(workspace.event_files(), before, now) == dt.date(2024, 1, 21)
    # a person's own id in another case is an alias too (Windows writes "acm2278"), but an
    # event written with the id itself was theirs already: nothing to compute again for it
    own_id = [row for row in now if row[0] != "acm2278"]
    day_16 = [p for p in workspace.event_files() if "2024-01-16" in str(p)]
    assert changed_alias_day(day_16, own_id, now) is None
    assert changed_alias_day(workspace.event_files(), own_id, now) == dt.date(2024, 1, 15)
    store = connect(workspace)
    try:
        users = set(store.events.select("user_id").to_pyarrow().column(0).to_pylist())
    finally:
        store.close()
    assert "s9" in users and "stranger@y.com" not in users
