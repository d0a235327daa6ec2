"""Golden tests for the CERT layouts (r4.x and r6.x), including every malformed-row kind."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, copy_fixture, events, ingest_cert, quarantine
from molehunt.errors import SourceError
from molehunt.sources.ingest import recognise
from molehunt.store.workspace import Workspace

EXPECTED = FIXTURES / "expected"


def _jsonable(rows: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    def convert(value: Any) -> Any:
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()
        return value

    return [{k: convert(v) for k, v in row.items() if k not in drop} for row in rows]


def _golden(name: str, actual: Any) -> None:
    """Compare with the golden file; MOLEHUNT_UPDATE_GOLDEN=1 rewrites it (review the diff!)."""
    path = EXPECTED / f"{name}.json"
    if os.environ.get("MOLEHUNT_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    assert actual == json.loads(path.read_text())


@pytest.mark.parametrize("release", ["cert_r4", "cert_r6"])
def test_cert_folder_matches_golden_output(release: str, workspace: Workspace,
                                           tmp_path: Path) -> None:
    folder = copy_fixture(release, tmp_path)
    ingest_cert(workspace, folder)
    _golden(f"{release}_events", _jsonable(events(workspace)))
    rows = _jsonable(quarantine(workspace), drop=("batch_id",))
    for row in rows:
        row["file"] = Path(row["file"]).relative_to(folder.resolve()).as_posix()
    _golden(f"{release}_quarantine", rows)


def test_every_malformed_kind_is_quarantined_with_its_line(workspace: Workspace,
                                                           tmp_path: Path) -> None:
    ingest_cert(workspace, copy_fixture("cert_r4", tmp_path))
    logon = {(r["line"], r["reason"]) for r in quarantine(workspace)
             if r["file"].endswith("logon.csv")}
    assert logon == {
        (5, "unparseable date"),
        (6, "empty user id"),
        (7, "wrong field count"),
        (8, "invalid UTF-8"),
        (9, "wrong field count"),
        (11, "unknown activity"),
        (12, "truncated last line (unknown activity)"),
    }
    stored = {e["event_id"] for e in events(workspace) if e["source"] == "cert.logon"}
    assert stored == {"{L1}", "{L2}", "{L3}", "{L9}"}  # the rest of the file is ingested


def test_channels_follow_recipients_and_domains(workspace: Workspace, tmp_path: Path) -> None:
    ingest_cert(workspace, copy_fixture("cert_r4", tmp_path))
    by_id = {e["event_id"]: e for e in events(workspace)}
    assert by_id["{E1}"]["channel"] == "email_internal"
    assert (by_id["{E2}"]["channel"], by_id["{E2}"]["domain"]) == ("email_external",
                                                                   "customer.example")
    assert (by_id["{E3}"]["channel"], by_id["{E3}"]["domain"]) == ("webmail", "gmail.com")
    assert by_id["{E6}"]["channel"] == "email_internal"  # a subdomain of the company
    assert by_id["{E5}"]["content"] == "quoted, with a comma"
    assert by_id["{H1}"]["channel"] == "cloud_storage"
    assert by_id["{H5}"]["channel"] == "webmail"
    assert by_id["{H6}"]["channel"] == "cloud_storage"
    assert by_id["{H3}"]["domain"] == "wikileaks.org"
    assert by_id["{F2}"]["channel"] == "removable_media"


def test_r6_activity_and_removable_media_flags(workspace: Workspace, tmp_path: Path) -> None:
    ingest_cert(workspace, copy_fixture("cert_r6", tmp_path))
    by_id = {e["event_id"]: e for e in events(workspace)}
    assert (by_id["{F1}"]["action"], by_id["{F1}"]["channel"]) == ("file_open", "local")
    assert (by_id["{F2}"]["action"], by_id["{F2}"]["channel"]) == ("file_copy", "removable_media")
    assert json.loads(by_id["{F3}"]["attrs"])["from_removable_media"] is True
    assert by_id["{E2}"]["action"] == "email_view"
    assert by_id["{E2}"]["channel"] == "email_external"  # the sender of a viewed mail counts
    assert by_id["{E1}"]["n_attachments"] == 2
    assert (by_id["{H2}"]["action"], by_id["{H2}"]["channel"]) == ("web_upload", "cloud_storage")
    assert by_id["{H3}"]["action"] == "web_download"
    assert json.loads(by_id["{D1}"]["attrs"])["file_tree"][-1] == "R:\\tools\\kl.exe"


def test_directory_history_from_snapshots(workspace: Workspace, tmp_path: Path) -> None:
    from conftest import query

    ingest_cert(workspace, copy_fixture("cert_r4", tmp_path))
    rows = query(f"SELECT user_id, team, supervisor_id, CAST(valid_from AS VARCHAR) AS f,"
                 f" CAST(valid_to AS VARCHAR) AS t FROM '{workspace.directory_file}'"
                 " ORDER BY user_id, valid_from")
    assert [(r["user_id"], r["team"], r["supervisor_id"], r["f"], r["t"]) for r in rows] == [
        ("AGR0002", "2 - Support", "CEL0561", "2010-01-01", None),
        ("BJS0003", "1 - Field", "CEL0561", "2010-01-01", "2010-02-01"),  # left in January
        ("CEL0561", None, None, "2010-01-01", None),
        ("DKF0004", "3 - Cells", "AGR0002", "2010-01-01", "2010-02-01"),
        ("DKF0004", "4 - Modules", "AGR0002", "2010-02-01", None),  # moved team
    ]


def test_layout_is_recognised_from_content_not_names(tmp_path: Path) -> None:
    renamed = tmp_path / "whatever.csv"
    renamed.write_bytes((FIXTURES / "cert_r4" / "logon.csv").read_bytes())
    assert recognise(renamed)[0].name == "cert.logon"
    renamed.write_bytes((FIXTURES / "cert_r4" / "device.csv").read_bytes())
    assert recognise(renamed)[0].name == "cert.device.r4"
    renamed.write_bytes((FIXTURES / "cert_r4" / "http.csv").read_bytes())
    assert recognise(renamed) [0].name == "cert.http.r4"
    assert recognise(renamed)[1] is False  # no header line


def test_unknown_layout_and_missing_file_are_clear_errors(tmp_path: Path) -> None:
    unknown = tmp_path / "x.csv"
    unknown.write_text("alpha,beta\n1,2\n")
    with pytest.raises(SourceError, match="unknown layout"):
        recognise(unknown)
    with pytest.raises(SourceError, match="no such file"):
        recognise(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SourceError, match="empty file"):
        recognise(empty)


def test_windows_line_ends_give_the_same_store(tmp_path: Path) -> None:
    unix = copy_fixture("cert_r4", tmp_path / "lf")
    windows = copy_fixture("cert_r4", tmp_path / "crlf")
    for path in windows.rglob("*.csv"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    stores = []
    for folder in (unix, windows):
        workspace = Workspace(folder.parent / "ws")
        ingest_cert(workspace, folder)
        stores.append((events(workspace), [(Path(r["file"]).name, r["line"], r["reason"],
                                            r["raw"]) for r in quarantine(workspace)]))
    assert stores[0] == stores[1]


def test_gzip_compressed_files_give_the_same_store(tmp_path: Path) -> None:
    import gzip

    plain = copy_fixture("cert_r4", tmp_path / "plain")
    packed = copy_fixture("cert_r4", tmp_path / "packed")
    for path in list(packed.rglob("*.csv")):
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    stores = []
    for folder in (plain, packed):
        workspace = Workspace(folder.parent / "ws")
        ingest_cert(workspace, folder)
        stores.append((events(workspace), [(Path(r["file"]).name.removesuffix(".gz"),
                                            r["line"], r["reason"], r["raw"])
                                           for r in quarantine(workspace)]))
    assert stores[0] == stores[1]


def test_an_unclosed_quote_loses_no_line(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "quote"
    folder.mkdir()
    rows = ["id,date,user,pc,activity", "{A},01/04/2010 07:00:00,U1,PC-1,Logon",
            '{B},01/04/2010 07:10:00,U1,PC-1,"Logon']
    rows += [f"{{C{i}}},01/04/2010 08:00:00,U1,PC-1,Logoff" for i in range(50)]
    (folder / "logon.csv").write_text("\n".join(rows) + "\n")
    ingest_cert(workspace, folder)
    stored = [e["event_id"] for e in events(workspace)]
    held = quarantine(workspace)
    # the reader resumes on the line after the bad one: only that line is quarantined
    assert len(stored) == 51 and "{C49}" in stored
    assert [(r["line"], r["reason"], r["raw"]) for r in held] == [
        (3, "malformed quoting", '{B},01/04/2010 07:10:00,U1,PC-1,"Logon')]


def test_line_numbers_count_lines_not_records(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "multiline"
    folder.mkdir()
    (folder / "email.csv").write_text(
        "id,date,user,pc,to,cc,bcc,from,size,attachments,content\n"
        '{E1},01/04/2010 07:00:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,10,0,"two\nlines"\n'
        "{E2},13/45/2010 07:00:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,10,0,bad date\n"
    )
    ingest_cert(workspace, folder)
    assert events(workspace)[0]["content"] == "two\nlines"
    assert [(r["line"], r["reason"]) for r in quarantine(workspace)] == [(4, "unparseable date")]


def test_an_absurd_attachment_count_is_quarantined_not_fatal(workspace: Workspace,
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "att"
    folder.mkdir()
    (folder / "email.csv").write_text(
        "id,date,user,pc,to,cc,bcc,from,size,attachments,content\n"
        "{E1},01/04/2010 07:00:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,10,99999999999,x\n"
        "{E2},01/04/2010 07:00:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,10,1,y\n"
    )
    ingest_cert(workspace, folder)
    assert [e["event_id"] for e in events(workspace)] == ["{E2}"]
    assert [(r["line"], r["reason"]) for r in quarantine(workspace)] == [
        (2, "unparseable attachments")]


def test_byte_order_marks_are_not_data(tmp_path: Path) -> None:
    headerless = tmp_path / "http.csv"
    headerless.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "cert_r4" / "http.csv").read_bytes())
    assert recognise(headerless)[0].name == "cert.http.r4"


def test_a_bad_row_is_not_matched_to_an_identical_good_line(workspace: Workspace,
                                                            tmp_path: Path) -> None:
    folder = tmp_path / "twins"
    folder.mkdir()
    (folder / "logon.csv").write_text("id,date,user,pc,activity\n"
                                      "{A},01/04/2010 07:00:00,U1,PC-1,Logon\n"
                                      "{A},,U1,PC-1,Logon\n")
    ingest_cert(workspace, folder)
    assert [(r["line"], r["reason"]) for r in quarantine(workspace)] == [(3, "missing date")]


def test_control_characters_in_fields_do_not_hide_a_bad_row(workspace: Workspace,
                                                            tmp_path: Path) -> None:
    folder = tmp_path / "ctl"  # found by the property test: \x1f once separated key fields
    folder.mkdir()
    (folder / "psychometric.csv").write_bytes(b"employee_name,user_id,O,C,E,A,N\n"
                                              b"\x1f,,1,2,3,4,5\nA,U1,1,2,3,4,5\n")
    ingest_cert(workspace, folder)
    assert [(r["line"], r["reason"], r["raw"]) for r in quarantine(workspace)] == [
        (2, "empty user id", "\x1f,,1,2,3,4,5")]
