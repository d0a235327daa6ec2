"""The protect commands (typer CliRunner) and the event-store passes behind `protect scan`."""

from __future__ import annotations

import json
import random
from pathlib import Path

from typer.testing import CliRunner

from conftest import ingest_jsonl
from molehunt.cli import app
from molehunt.content.protect import (
    match_events,
    open_index,
    protect_add,
    read_batch_table,
    scan_foreign_markings,
)
from molehunt.simulate.documents import document_text
from molehunt.store.workspace import Workspace
from test_content_extract import CHINESE, make_docx, make_pdf

runner = CliRunner()


def _spec(seed: int, level: int, language: str = "en") -> str:
    rng = random.Random(seed)
    return "\n".join(document_text(rng, f"Spec {seed}", level, "cathode", language)
                     for _ in range(3))


def test_protect_add_list_match_remove(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "cell.md").write_text(_spec(1, 4), encoding="utf-8")
    (folder / "notes.txt").write_text(_spec(2, 1), encoding="utf-8")
    make_pdf(folder / "zh.pdf", [*CHINESE, *_spec(3, 2, "zh").splitlines()[2:40]])
    make_docx(folder / "plan.docx", _spec(4, 3).splitlines(), header="SECRET")
    result = runner.invoke(app, ["-w", str(ws), "protect", "add", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.count("added ") == 4

    listed = runner.invoke(app, ["-w", str(ws), "protect", "list", "--json"])
    rows = [json.loads(line) for line in listed.output.splitlines() if line.strip()]
    by_name = {Path(r["path"]).name: r for r in rows}
    assert {n: r["sensitivity"] for n, r in by_name.items()} == {
        "cell.md": 4, "notes.txt": 1, "zh.pdf": 4, "plan.docx": 3}

    excerpt = " ".join(_spec(1, 4)[400:1400].split())
    (tmp_path / "mail.txt").write_text(f"Hi,\nas discussed:\n{excerpt}\nBest", encoding="utf-8")
    matched = runner.invoke(app, ["-w", str(ws), "protect", "match", str(tmp_path / "mail.txt")])
    assert matched.exit_code == 0 and by_name["cell.md"]["doc_id"] in matched.output
    piped = runner.invoke(app, ["-w", str(ws), "protect", "match", "-"], input=excerpt)
    assert by_name["cell.md"]["doc_id"] in piped.output

    again = runner.invoke(app, ["-w", str(ws), "protect", "add", str(folder / "cell.md")])
    assert "unchanged" in again.output
    removed = runner.invoke(app, ["-w", str(ws), "protect", "remove", str(folder / "cell.md")])
    assert removed.exit_code == 0 and "removed" in removed.output
    after = runner.invoke(app, ["-w", str(ws), "protect", "match", str(tmp_path / "mail.txt")])
    assert by_name["cell.md"]["doc_id"] not in after.output


def test_bad_files_do_not_stop_the_run(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 truncated")
    (tmp_path / "x.xyz").write_text("hello", encoding="utf-8")
    (tmp_path / "good.md").write_text(_spec(5, 2), encoding="utf-8")
    result = runner.invoke(app, ["-w", str(ws), "protect", "add", str(tmp_path / "bad.pdf"),
                                 str(tmp_path / "x.xyz"), str(tmp_path / "good.md")])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "Traceback" not in result.output
    assert "added " in result.output
    bad_label = runner.invoke(app, ["-w", str(ws), "protect", "add", "--label", "sparkly",
                                    str(tmp_path / "good.md")])
    assert bad_label.exit_code == 1 and "is not a sensitivity" in bad_label.output
    missing = runner.invoke(app, ["-w", str(ws), "protect", "remove", "P000"])
    assert missing.exit_code == 1


def test_label_overrides_markings(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    (tmp_path / "a.md").write_text(_spec(6, 1), encoding="utf-8")
    with workspace.locked():
        result = protect_add(workspace, [tmp_path / "a.md"], label="crown_jewel",
                             project="ATLAS")
    assert result.added[0].sensitivity == 4 and result.added[0].project == "ATLAS"


def test_match_events_and_foreign_markings_tables(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    secret = _spec(7, 4)
    (tmp_path / "secret.md").write_text(secret, encoding="utf-8")
    foreign = " ".join(document_text(random.Random(8), "北风能源 cathode 1", 3, "cathode", "zh",
                                     "北风能源").split())
    events = [
        {"event_id": "e1", "ts": "2024-03-01T10:00:00", "user_id": "U1", "source": "t",
         "action": "email_send", "channel": "webmail", "content": secret[300:1500]},
        {"event_id": "e2", "ts": "2024-03-01T11:00:00", "user_id": "U1", "source": "t",
         "action": "email_send", "channel": "email_external", "content": "lunch on friday?"},
        {"event_id": "e3", "ts": "2024-03-02T09:00:00", "user_id": "U2", "source": "t",
         "action": "file_copy", "channel": "removable_media", "content": foreign,
         "attrs": json.dumps({"to_removable_media": False, "from_removable_media": True})},
        {"event_id": "e4", "ts": "2024-03-05T09:00:00", "user_id": "U1", "source": "t",
         "action": "web_upload", "channel": "cloud_storage", "content": secret[2000:2600]},
    ]
    lines = tmp_path / "events.jsonl"
    lines.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events),
                     encoding="utf-8")
    ingest_jsonl(workspace, [lines])
    from datetime import date

    with workspace.locked():  # nothing protected yet: every outbound text scanned, no match
        before = match_events(workspace, date(2024, 3, 1), date(2024, 3, 3))
    assert (before.events_scanned, before.rows) == (2, 0)
    with workspace.locked():
        protect_add(workspace, [tmp_path / "secret.md"])
        first = match_events(workspace, date(2024, 3, 1), date(2024, 3, 3))
        scanned = scan_foreign_markings(workspace, date(2024, 3, 1), date(2024, 3, 3))
    assert (first.events_scanned, first.rows) == (2, 1)
    doc_id = open_index(workspace).documents()[0].doc_id
    rows = read_batch_table(workspace, "content_matches").to_pylist()
    assert [(r["event_id"], r["doc_id"], r["sensitivity"]) for r in rows] == [("e1", doc_id, 4)]
    assert 0 < rows[0]["matched_fraction"] < 1
    assert scanned.rows == 1
    marks = read_batch_table(workspace, "foreign_markings").to_pylist()
    assert [(m["event_id"], m["owner"], m["sensitivity"]) for m in marks] == [("e3", "北风能源", 3)]

    # a wider run supersedes the first for the days it covers
    with workspace.locked():
        match_events(workspace, date(2024, 3, 1), date(2024, 3, 31))
    rows = read_batch_table(workspace, "content_matches").to_pylist()
    assert sorted(r["event_id"] for r in rows) == ["e1", "e4"]


def test_protect_import_from_the_documents_table(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    docs = [{"doc_id": f"D{i}", "path": f"\\\\fs\\d{i}.docx", "title": f"Spec {i}",
             "project": "cells", "sensitivity": level, "marking": "x", "language": "en",
             "created": "2024-01-01", "text": _spec(20 + i, level)}
            for i, level in enumerate((1, 3, 4))]
    lines = tmp_path / "documents.jsonl"
    lines.write_text("\n".join(json.dumps(d) for d in docs), encoding="utf-8")
    ingest_jsonl(workspace, [lines], table="documents")
    result = runner.invoke(app, ["-w", str(workspace.root), "protect", "import"])
    assert result.exit_code == 0 and "protected 2 documents" in result.output
    assert sorted(d.doc_id for d in open_index(workspace).documents()) == ["D1", "D2"]
    again = runner.invoke(app, ["-w", str(workspace.root), "protect", "import"])
    assert "2 unchanged" in again.output
