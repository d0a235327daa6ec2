"""JSONL in the canonical schemas: events, HR events and directory rows."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import events, ingest_jsonl, quarantine, query
from molehunt.store.workspace import Workspace


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines))
    return path


def test_events_are_stored_and_bad_lines_quarantined(workspace: Workspace,
                                                     tmp_path: Path) -> None:
    good = {"event_id": "b1", "ts": "2024-03-01T08:00:00Z", "user_id": "u1", "action": "badge",
            "channel": "physical", "object": "door 4", "floor": 3}
    path = _write(tmp_path / "badge.jsonl", [
        json.dumps(good).encode(),
        json.dumps({"ts": "2024-03-01T09:30:00+01:00", "user_id": "u2", "action": "print",
                    "channel": "printer", "bytes": 2048, "sensitivity": 2}).encode(),
        b"{not json",  # 3
        b"[1, 2]",  # 4
        json.dumps({"ts": "yesterday", "user_id": "u1", "action": "print"}).encode(),  # 5
        json.dumps({"ts": "2024-03-01T10:00:00", "user_id": "", "action": "print"}).encode(),
        json.dumps({"ts": "2024-03-01T10:00:00", "user_id": "u1", "action": "print",
                    "channel": "telepathy"}).encode(),  # 7
        b'{"ts": "2024-03-01T10:00:00", "user_id": "u\xff", "action": "print"}',  # 8
        b"",  # 9
        json.dumps({"ts": "2024-03-01T10:00:00", "user_id": "u1", "action": "print",
                    "sensitivity": 9}).encode(),  # 10
        b'{"ts": "2024-03-01T11:00:00", "user_id": "u3", "act',  # 11, truncated
    ])
    summary = ingest_jsonl(workspace, [path], source="badge")
    assert summary.files[0].rows_stored == 2
    stored = {e["user_id"]: e for e in events(workspace)}
    assert stored["u1"]["source"] == "badge"
    assert json.loads(stored["u1"]["attrs"]) == {"floor": 3}
    assert str(stored["u2"]["ts"]) == "2024-03-01 08:30:00"  # offset converted to UTC
    assert stored["u2"]["sensitivity"] == 2
    assert len(stored["u2"]["event_id"]) == 32  # hashed when the source has no id
    assert [(r["line"], r["reason"]) for r in quarantine(workspace)] == [
        (3, "invalid JSON"),
        (4, "not a JSON object"),
        (5, "unparseable ts"),
        (6, "empty user id"),
        (7, "unknown channel"),
        (8, "invalid UTF-8"),
        (9, "blank line"),
        (10, "invalid sensitivity"),
        (11, "truncated last line (invalid JSON)"),
    ]


def test_hashed_ids_make_reingest_of_a_grown_file_idempotent(workspace: Workspace,
                                                             tmp_path: Path) -> None:
    line = {"ts": "2024-03-01T08:00:00", "user_id": "u1", "action": "print"}
    path = tmp_path / "print.jsonl"
    path.write_text(json.dumps(line) + "\n")
    ingest_jsonl(workspace, [path])
    path.write_text(json.dumps(line) + "\n" + json.dumps({**line, "user_id": "u2"}) + "\n")
    summary = ingest_jsonl(workspace, [path])
    assert (summary.files[0].rows_stored, summary.files[0].rows_duplicate) == (1, 1)
    assert sorted(e["user_id"] for e in events(workspace)) == ["u1", "u2"]


def test_hr_events_and_directory_rows(workspace: Workspace, tmp_path: Path) -> None:
    hr = tmp_path / "hr.jsonl"
    hr.write_text("\n".join([
        json.dumps({"user_id": "u1", "ts": "2024-02-01T00:00:00", "kind": "resignation_notice"}),
        json.dumps({"user_id": "u1", "ts": "2024-01-10T00:00:00", "kind": "travel",
                    "attrs": {"destination": "X"}}),
        json.dumps({"user_id": "u2", "ts": "2024-01-10T00:00:00", "kind": "promotion"}),
    ]) + "\n")
    summary = ingest_jsonl(workspace, [hr], table="hr_events")
    assert summary.files[0].rows_stored == 2
    assert quarantine(workspace)[0]["reason"] == "unknown kind"
    people = tmp_path / "people.jsonl"
    people.write_text("\n".join([
        json.dumps({"user_id": "u1", "name": "A", "email": "a@corp.example", "role": "Engineer",
                    "valid_from": "2023-01-01", "valid_to": "2024-03-01"}),
        json.dumps({"user_id": "u2", "name": "B", "email": "b@corp.example", "role": "Sales",
                    "valid_from": "2023-01-01"}),
    ]) + "\n")
    ingest_jsonl(workspace, [people], table="directory")
    rows = query(f"SELECT user_id, CAST(valid_to AS VARCHAR) AS valid_to"
                 f" FROM '{workspace.directory_file}' ORDER BY user_id")
    assert rows == [{"user_id": "u1", "valid_to": "2024-03-01"},
                    {"user_id": "u2", "valid_to": None}]


def test_gzip_compressed_jsonl(workspace: Workspace, tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "badge.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"ts": "2024-03-01T08:00:00", "user_id": "u1",'
                                   b' "action": "badge"}\n{broken\n'))
    summary = ingest_jsonl(workspace, [path])
    assert (summary.files[0].rows_stored, summary.files[0].rows_quarantined) == (1, 1)
    assert quarantine(workspace)[0]["line"] == 2


def test_out_of_range_values_are_quarantined(workspace: Workspace, tmp_path: Path) -> None:
    base = {"ts": "2024-03-01T08:00:00", "user_id": "u1", "action": "print"}
    path = tmp_path / "edge.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in [
        {**base, "n_attachments": 3_000_000_000},
        {**base, "bytes": 2**64},
        {**base, "ts": "0001-01-01T00:00:00+01:00"},
        base,
    ]) + "\n")
    summary = ingest_jsonl(workspace, [path])
    assert summary.files[0].rows_stored == 1
    assert [r["reason"] for r in quarantine(workspace)] == [
        "invalid n_attachments", "invalid bytes", "unparseable ts"]


def test_a_text_file_that_starts_like_gzip_is_read_as_text(workspace: Workspace,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"  # found by the property test: not every 1f 8b is gzip
    path.write_bytes(b'\x1f\x8b\n{"ts": "2024-03-01T08:00:00", "user_id": "u1", "action": "x"}\n')
    summary = ingest_jsonl(workspace, [path])
    assert (summary.files[0].rows_stored, summary.files[0].rows_quarantined) == (1, 1)
    assert quarantine(workspace)[0]["line"] == 1
