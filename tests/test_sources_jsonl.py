"""JSONL in the canonical schemas: events, HR events, directory rows and documents."""

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


def _documents(workspace: Workspace) -> list[dict[str, object]]:
    from molehunt.store.connect import connect

    store = connect(workspace)
    try:
        rows: list[dict[str, object]] = store.documents.order_by("doc_id").to_pyarrow().to_pylist()
    finally:
        store.close()
    return rows


def test_documents_are_stored_and_bad_lines_quarantined(workspace: Workspace,
                                                        tmp_path: Path) -> None:
    full = {"doc_id": "D1", "path": "/projects/atlas/design.docx", "title": "Atlas design",
            "project": "atlas", "owner_id": "u1", "team": "T1", "department": "R&D",
            "business_unit": "BU1", "sensitivity": 4, "marking": "商业秘密", "language": "zh",
            "created": "2010-01-04", "text": "核心 design\nline two", "reviewers": ["u2"]}
    minimal = {"doc_id": "D2", "path": "/shared/menu.txt"}
    path = _write(tmp_path / "documents.jsonl", [
        json.dumps(full, ensure_ascii=False).encode(),
        json.dumps(minimal).encode(),
        json.dumps({"path": "/x"}).encode(),  # 3
        json.dumps({"doc_id": "D3", "path": " "}).encode(),  # 4
        json.dumps({**minimal, "doc_id": "D4", "sensitivity": 5}).encode(),  # 5
        json.dumps({**minimal, "doc_id": "D5", "sensitivity": True}).encode(),  # 6
        json.dumps({**minimal, "doc_id": "D6", "created": "last week"}).encode(),  # 7
        json.dumps({**minimal, "doc_id": "D7", "created": 20100104}).encode(),  # 8
        json.dumps({**minimal, "doc_id": "D8", "text": ["a", "b"]}).encode(),  # 9
        json.dumps({**minimal, "doc_id": 9}).encode(),  # 10
        json.dumps({**minimal, "doc_id": "D10", "attrs": [1]}).encode(),  # 11
        b"{not json",  # 12
        b'{"doc_id": "D12", "path": "/y", "te',  # 13, truncated
    ])
    summary = ingest_jsonl(workspace, [path], table="documents")
    assert (summary.files[0].layout, summary.files[0].rows_stored) == ("jsonl.documents", 2)
    stored = {d["doc_id"]: d for d in _documents(workspace)}
    assert set(stored) == {"D1", "D2"}
    d1 = stored["D1"]
    assert (d1["sensitivity"], str(d1["created"]), d1["marking"]) == (4, "2010-01-04", "商业秘密")
    assert d1["text"] == "核心 design\nline two"
    assert json.loads(str(d1["attrs"])) == {"reviewers": ["u2"]}
    assert all(stored["D2"][c] is None for c in ("title", "sensitivity", "created", "text",
                                                 "attrs"))
    assert [(r["line"], r["reason"]) for r in quarantine(workspace)] == [
        (3, "empty doc id"),
        (4, "empty path"),
        (5, "invalid sensitivity"),
        (6, "invalid sensitivity"),
        (7, "unparseable created"),
        (8, "invalid created"),
        (9, "invalid text"),
        (10, "invalid doc_id"),
        (11, "invalid attrs"),
        (12, "invalid JSON"),
        (13, "truncated last line (invalid JSON)"),
    ]


def test_a_later_document_replaces_an_earlier_one(workspace: Workspace, tmp_path: Path) -> None:
    first = tmp_path / "documents_v1.jsonl"
    first.write_text("\n".join(json.dumps(d) for d in [
        {"doc_id": "D1", "path": "/a", "title": "v1", "sensitivity": 2},
        {"doc_id": "D2", "path": "/b", "title": "v1"},
    ]) + "\n")
    second = tmp_path / "documents_v2.jsonl"
    second.write_text("\n".join(json.dumps(d) for d in [
        {"doc_id": "D1", "path": "/a", "title": "v2", "sensitivity": 4},
        {"doc_id": "D3", "path": "/c", "title": "draft"},
        {"doc_id": "D3", "path": "/c", "title": "final"},  # a later line of the same file wins
    ]) + "\n")
    ingest_jsonl(workspace, [first], table="documents")
    summary = ingest_jsonl(workspace, [second], table="documents")
    assert (summary.files[0].rows_stored, summary.files[0].rows_duplicate) == (2, 1)
    expected = [("D1", "v2", 4), ("D2", "v1", None), ("D3", "final", None)]
    assert [(d["doc_id"], d["title"], d["sensitivity"]) for d in _documents(workspace)] == expected
    # the same content again is a no-op: the second export stays the latest
    again = ingest_jsonl(workspace, [first], table="documents")
    assert again.files[0].status == "skipped"
    assert [(d["doc_id"], d["title"], d["sensitivity"]) for d in _documents(workspace)] == expected
    assert len(workspace.table_files("documents")) == 2  # earlier batches are kept on disk
