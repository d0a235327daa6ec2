"""``ingest cert DIR`` reads a whole organisation: CERT CSVs plus canonical JSONL, never answers."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import events, ingest_cert, quarantine
from molehunt.errors import SourceError
from molehunt.sources.ingest import Ingestor
from molehunt.store.connect import connect
from molehunt.store.status import store_status
from molehunt.store.workspace import Workspace

_LOGON = """id,date,user,pc,activity
{L1},01/04/2010 07:12:00,u1,PC-1,Logon
{L2},01/04/2010 17:40:00,u1,PC-1,Logoff
"""
_EMAIL = """id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content
{E1},01/04/2010 10:00:00,u1,PC-1,bo.b@corp.example,,,al.a@corp.example,Send,500,,status
"""


def _lines(*records: dict[str, object]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _organisation(root: Path) -> Path:
    """A folder as the simulator writes it, with the ground truth in ``answers/``."""
    folder = root / "org"
    (folder / "answers" / "r1").mkdir(parents=True)
    (folder / "logon.csv").write_text(_LOGON)
    (folder / "email.csv").write_text(_EMAIL)
    (folder / "directory.jsonl").write_text(_lines(
        {"user_id": "u1", "name": "Al A", "email": "al.a@corp.example", "valid_from": "2010-01-01"},
        {"user_id": "u2", "name": "Bo B", "email": "bo.b@corp.example", "valid_from": "2010-01-01"},
    ))
    (folder / "events.jsonl").write_text(_lines(
        {"event_id": "P1", "ts": "2010-01-04T11:00:00", "user_id": "u1", "action": "print",
         "channel": "printer", "source": "sim.print", "bytes": 2000},
        {"event_id": "M1", "ts": "2010-01-04T14:00:00", "user_id": "u2", "action": "meeting",
         "channel": "meeting", "source": "sim.meeting", "object": "mtg-1"},
    ))
    (folder / "events_2010-02.jsonl.gz").write_bytes(gzip.compress(_lines(
        {"event_id": "F1", "ts": "2010-02-01T09:00:00", "user_id": "u1", "action": "file_open",
         "channel": "local", "source": "sim.file", "object": "/p/a.docx", "doc_id": "D1"},
    ).encode()))
    (folder / "hr_events.jsonl").write_text(_lines(
        {"user_id": "u2", "ts": "2010-01-20T00:00:00", "kind": "travel", "destination": "X"},
    ))
    (folder / "documents.jsonl").write_text(_lines(
        {"doc_id": "D1", "path": "/p/a.docx", "sensitivity": 4, "created": "2009-12-01",
         "text": "the plan"},
        {"doc_id": "D2", "path": "/p/b.txt", "sensitivity": 0, "created": "2009-12-02",
         "text": "lunch"},
    ))
    (folder / "company.json").write_text('{"company_domains": ["corp.example"]}\n')
    (folder / "answers" / "insiders.csv").write_text("dataset,scenario,details,user,start,end\n"
                                                     "1,C1,x,u1,2010-01-04,2010-01-05\n")
    (folder / "answers" / "events.jsonl").write_text(_lines(
        {"ts": "2010-01-04T00:00:00", "user_id": "u1", "action": "print"}))
    (folder / "answers" / "r1" / "labels.csv").write_text("event_id,label\nP1,C1\n")
    return folder


def test_ingest_cert_reads_csv_and_jsonl_but_never_answers(workspace: Workspace,
                                                           tmp_path: Path) -> None:
    folder = _organisation(tmp_path)
    truth = {p: p.read_bytes() for p in (folder / "answers").rglob("*") if p.is_file()}
    summary = ingest_cert(workspace, folder)
    assert [(Path(f.path).name, f.layout, f.status) for f in summary.files] == [
        ("directory.jsonl", "jsonl.directory", "ingested"),
        ("hr_events.jsonl", "jsonl.hr_events", "ingested"),
        ("documents.jsonl", "jsonl.documents", "ingested"),
        ("logon.csv", "cert.logon", "ingested"),
        ("email.csv", "cert.email.r6", "ingested"),
        ("events_2010-02.jsonl.gz", "jsonl.events", "ingested"),
        ("events.jsonl", "jsonl.events", "ingested"),
    ]
    assert summary.rows_quarantined == 0 and quarantine(workspace) == []
    assert summary.notes == [
        "ignored 1 file that is not *.csv/*.csv.gz/*.jsonl/*.jsonl.gz: company.json",
        f"skipped {folder / 'answers'}: ground truth is never ingested"]
    assert not any("answers" in r.path for r in workspace.records())
    assert {p: p.read_bytes() for p in truth} == truth
    by_id = {e["event_id"]: e for e in events(workspace)}
    assert sorted(by_id) == ["F1", "M1", "P1", "{E1}", "{L1}", "{L2}"]
    assert by_id["P1"]["source"] == "sim.print"
    # the directory JSONL was read before the e-mail: its domain is the company's
    assert by_id["{E1}"]["channel"] == "email_internal"
    report = store_status(workspace)
    assert (report["documents"], report["directory_users"]) == (2, 2)
    store = connect(workspace)
    try:
        assert store.hr_events.count().execute() == 1
    finally:
        store.close()
    again = ingest_cert(workspace, folder)
    assert {f.status for f in again.files} == {"skipped"}


def test_unknown_jsonl_name_is_an_error_unless_skipped(workspace: Workspace,
                                                       tmp_path: Path) -> None:
    folder = _organisation(tmp_path)
    odd = folder / "foo.jsonl"
    odd.write_text(_lines({"ts": "2010-01-04T00:00:00", "user_id": "u1", "action": "print"}))
    with workspace.locked(), pytest.raises(SourceError, match="unknown layout") as raised:
        Ingestor(workspace).ingest_cert(folder)
    assert raised.value.where == str(odd)
    assert not workspace.records()  # the error comes before anything is read
    with workspace.locked():
        summary = Ingestor(workspace).ingest_cert(folder, skip_unknown=True)
    assert any(note.startswith(f"skipped {odd}: unknown layout") for note in summary.notes)
    assert len(summary.files) == 7


def _molehunt(*args: str, workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace),
                           *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=300)


def test_cli_documents_table_and_unknown_jsonl(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    documents = tmp_path / "corpus.jsonl"
    documents.write_text(_lines({"doc_id": "C1", "path": "/a"}, {"doc_id": "C2", "path": "/b"},
                                {"doc_id": "C3"}))
    done = _molehunt("ingest", "jsonl", "--table", "documents", str(documents),
                     workspace=workspace)
    assert done.returncode == 0, done.stderr
    assert "jsonl.documents" in done.stdout and "empty path: 1" in done.stderr
    report = json.loads(_molehunt("status", "--json", workspace=workspace).stdout)
    assert (report["documents"], report["quarantined_total"]) == (2, 1)
    folder = _organisation(tmp_path)
    (folder / "foo.jsonl").write_text("{}\n")
    failed = _molehunt("ingest", "cert", str(folder), workspace=workspace)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        f"error: {folder / 'foo.jsonl'}: unknown layout: a JSONL file's name must be events,"
        " hr_events, documents or directory, optionally followed by _ or - and more"]
    skipped = _molehunt("ingest", "cert", "--skip-unknown", str(folder), workspace=workspace)
    assert skipped.returncode == 0, skipped.stderr
    report = json.loads(_molehunt("status", "--json", workspace=workspace).stdout)
    assert (report["documents"], report["events_total"]) == (4, 6)


def test_a_simulated_organisation_ingests_with_one_command(tmp_path: Path) -> None:
    organisation = tmp_path / "org"
    simulated = subprocess.run(
        [sys.executable, "-m", "molehunt.cli", "simulate", "--out", str(organisation),
         "--users", "40", "--days", "30", "--seed", "3", "--layout", "r4.2"],
        capture_output=True, text=True, timeout=300)
    assert simulated.returncode == 0, simulated.stderr
    workspace = tmp_path / "ws"
    done = _molehunt("ingest", "cert", "--strict", str(organisation), workspace=workspace)
    assert done.returncode == 0, done.stderr  # --strict: nothing was quarantined
    report = json.loads(_molehunt("status", "--json", workspace=workspace).stdout)
    with open(organisation / "documents.jsonl", "rb") as handle:
        assert report["documents"] == sum(1 for _ in handle) > 0
    assert any(source.startswith("sim.") for source in report["events_by_source"])
    layouts = {f["layout"] for f in report["files"]}
    assert {"jsonl.events", "jsonl.hr_events", "jsonl.documents", "cert.logon"} <= layouts
    assert not any("answers" in f["path"] for f in report["files"])
