"""The Microsoft 365 unified audit log source: four shapes of one record, one set of events.

Fixtures: tests/fixtures/m365/ (written by make_m365_fixtures.py from hand-written records in
Microsoft's documented layouts). Every record must end up stored, a duplicate or quarantined
with its line and reason; the property tests count the records they write themselves.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, events, lower_keys, quarantine, query
from molehunt.sources.ingest import Ingestor, IngestSummary, recognise_records
from molehunt.sources.m365_audit import M365Audit
from molehunt.sql import sql_paths
from molehunt.store.workspace import Workspace

M365 = FIXTURES / "m365"
EXPECTED = FIXTURES / "expected" / "m365_events.json"
SECRET = "d9f23ae3-a239-45ea-bf23-f515f824c57b"
SETTINGS = f'company_domains = ["contoso.com"]\n[sensitivity_labels]\n"{SECRET}" = 4\n' \
           '"general" = 1\n'
#: Every shape of the same twenty records (the array is split over two content blobs).
SHAPES = {
    "management_api_array": ["management_api.json", "management_api_more.json"],
    "management_api_ndjson": ["management_api.ndjson"],
    "purview_csv": ["purview_export.csv"],
    "search_unifiedauditlog_csv": ["search_unifiedauditlog.csv"],
    "graph": ["graph_records.json"],
    "sentinel_json": ["sentinel_officeactivity.json"],
    "sentinel_csv": ["sentinel_officeactivity.csv"],
}


def _workspace(root: Path) -> Workspace:
    workspace = Workspace(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "molehunt.toml").write_text(SETTINGS)
    return workspace


def _ingest(workspace: Workspace, paths: list[Path]) -> IngestSummary:
    with workspace.locked():
        return Ingestor(workspace).ingest_records(paths, "m365")


def _jsonable(rows: list[dict[str, Any]], drop_shape: bool = True) -> list[dict[str, Any]]:
    result = []
    for row in rows:
        attrs = json.loads(row["attrs"]) if row.get("attrs") else None
        if drop_shape and attrs:
            attrs.pop("shape", None)
        result.append({k: (str(v) if k in ("ts", "day") and v is not None else v)
                       for k, v in {**row, "attrs": attrs}.items()})
    return result


def _table(workspace: Workspace, table: str) -> list[dict[str, Any]]:
    files = workspace.table_files(table)
    if not files:
        return []
    return query(f"SELECT * FROM read_parquet({sql_paths(files)}) ORDER BY ALL")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_shape_gives_the_same_events(shape: str, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [M365 / name for name in SHAPES[shape]])
    assert [recognise_records(M365 / name) for name in SHAPES[shape]] == \
        [M365Audit] * len(SHAPES[shape])
    assert sum(f.rows_read for f in summary.files) == 20
    assert sum(f.rows_stored for f in summary.files) == 20
    assert summary.rows_quarantined == 0
    actual = _jsonable(events(workspace))
    if os.environ.get("MOLEHUNT_UPDATE_GOLDEN") and shape == "management_api_ndjson":
        EXPECTED.write_text(json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True)
                            + "\n")
    assert actual == json.loads(EXPECTED.read_text())
    # system and service accounts are never a person; the HR signal is an HR event
    service = _table(workspace, "service_events")
    assert sorted(r["user_id"] for r in service) == ["app@sharepoint", "serviceprincipal_3f2a"]
    assert not {"app@sharepoint", "serviceprincipal_3f2a"} & {e["user_id"] for e in
                                                             events(workspace)}
    hr = _table(workspace, "hr_events")
    assert [(r["user_id"], str(r["ts"]), r["kind"]) for r in hr] == [
        ("al.ali@contoso.com", "2024-03-01 00:00:00", "resignation_notice")]


@pytest.mark.parametrize("name", ["management_api.ndjson", "graph_records.json"])
def test_lower_cased_keys_give_the_same_events(name: str, tmp_path: Path) -> None:
    # copies in a data lake (Panther, Athena, Snowflake) lower-case every key: such a file
    # used to be refused as not an audit log, and a MailItemsAccessed record lost its
    # OperationProperties' MailAccessType
    text = (M365 / name).read_text()
    lowered = tmp_path / name
    lowered.write_text("".join(json.dumps(lower_keys(json.loads(line))) + "\n"
                               for line in text.splitlines()) if name.endswith(".ndjson")
                       else json.dumps(lower_keys(json.loads(text)), indent=1))
    assert "CreationTime" not in lowered.read_text()
    assert recognise_records(lowered) is M365Audit
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [lowered]).files
    assert (result.rows_read, result.rows_stored, result.rows_quarantined) == (20, 20, 0)
    assert _jsonable(events(workspace)) == json.loads(EXPECTED.read_text())


def test_mapping_of_the_documented_operations(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [M365 / "management_api.ndjson"])
    by_op = {json.loads(e["attrs"])["operation"] + ":" + (e["target"] or ""): e
             for e in events(workspace)}
    found = {key.split(":")[0]: (e["action"], e["channel"]) for key, e in by_op.items()}
    assert found["FileAccessed"] == ("file_open", "cloud_storage")
    assert found["FileDownloaded"] == ("file_copy", "cloud_storage")
    assert found["FileSyncDownloadedFull"] == ("file_copy", "cloud_storage")
    assert found["FileUploaded"] == ("file_write", "cloud_storage")
    assert found["FileCopied"] == ("file_copy", "cloud_storage")
    assert found["AnonymousLinkCreated"] == ("web_upload", "cloud_storage")
    assert by_op["SharingSet:cy.chen@contoso.com"]["action"] == "file_share"
    assert by_op["SharingSet:al.ali.private@gmail.com"]["action"] == "web_upload"
    assert found["Send"] == ("email_send", "webmail")
    assert found["MailItemsAccessed"] == ("email_view", None)
    assert found["New-MailboxExportRequest"] == ("mailbox_export", None)
    assert found["FileCopiedToRemovableMedia"] == ("file_copy", "removable_media")
    assert found["FileUploadedToCloud"] == ("web_upload", "cloud_storage")
    assert found["FilePrinted"] == ("print", "printer")
    assert found["PhysicalBadgingSignal"] == ("badge", "physical")
    assert found["UserLoggedIn"] == ("cloud_sign_in", None)
    assert found["PageViewed"] == ("m365_activity", None)
    usb = by_op["FileCopiedToRemovableMedia:SanDisk Ultra 4C530001"]
    assert (usb["host"], usb["bytes"], usb["sensitivity"]) == ("LT-0042", 40211, 4)
    assert json.loads(usb["attrs"])["to_removable_media"] is True
    upload = by_op["FileUploadedToCloud:"]
    assert upload["domain"] == "drive.google.com"
    send = by_op["Send:al.ali.private@gmail.com"]
    assert (send["n_attachments"], send["bytes"], send["domain"]) == (1, 48213, "gmail.com")
    # an upper-case UPN is the same person
    assert {e["user_id"] for e in events(workspace)} == {
        "al.ali@contoso.com", "bo.berg@contoso.com", "cy.chen@contoso.com",
        "dn.dale@contoso.com"}
    # a label outside the map leaves sensitivity unknown and keeps the id
    uploaded = by_op["FileUploaded:"]
    assert uploaded["sensitivity"] is None
    assert json.loads(uploaded["attrs"])["label_id"] == "87ba5c36-b7cf-4793-bbc2-bd5b3a9f95ca"


def test_bad_records_are_quarantined_with_line_and_reason(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [M365 / "bad.ndjson"])
    result = summary.files[0]
    records_in = sum(_records_on(line) for line in (M365 / "bad.ndjson").read_bytes()
                     .splitlines())
    assert records_in == 11  # line 5 is an array of two values: two records, neither valid
    assert (result.rows_stored, result.rows_duplicate, result.rows_quarantined) == (1, 1, 9)
    assert result.rows_stored + result.rows_duplicate + result.rows_quarantined == records_in
    assert [(r["line"], r["reason"]) for r in quarantine(workspace)] == [
        (1, "unparseable CreationTime"),
        (2, "empty UserId"),
        (3, "empty Operation"),
        (4, "invalid JSON"),
        (5, "not a JSON object"),
        (5, "not a JSON object"),
        (6, "not an audit record"),
        (9, "HR record of unknown kind"),
        (10, "negative size"),
    ]
    rows = quarantine(workspace)
    assert all(r["file"].endswith("bad.ndjson") and r["raw"] and r["layout"] == "m365.audit"
               for r in rows)
    assert rows[0]["detail"] == 'record 1: CreationTime "yesterday"'


def test_the_same_record_through_another_shape_is_a_duplicate(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [M365 / "management_api.ndjson"])
    again = _ingest(workspace, [M365 / "management_api.ndjson", M365 / "graph_records.json"])
    assert again.files[0].status == "skipped"
    graph = again.files[1]
    # 17 person events, 2 service events and the HR record (by its content key) are duplicates
    assert (graph.rows_stored, graph.rows_duplicate) == (0, 20)
    assert len(_table(workspace, "hr_events")) == 1
    assert len(events(workspace)) == 17 and len(_table(workspace, "service_events")) == 2


def test_same_input_same_output_byte_for_byte(tmp_path: Path) -> None:
    dumps = []
    for run in ("a", "b"):
        workspace = _workspace(tmp_path / run)
        _ingest(workspace, [M365 / "purview_export.csv", M365 / "bad.ndjson"])
        rows = {"events": _jsonable(events(workspace), drop_shape=False),
                "service_events": _jsonable(_table(workspace, "service_events"), False),
                "hr_events": [{**r, "ts": str(r["ts"])} for r in _table(workspace, "hr_events")],
                "quarantine": [{k: v for k, v in r.items() if k not in ("batch_id", "file")}
                               for r in quarantine(workspace)]}
        dumps.append(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode())
    assert dumps[0] == dumps[1]


def test_damaged_arrays_and_pages(tmp_path: Path) -> None:
    records = json.loads((M365 / "management_api.json").read_text())
    folder = tmp_path / "in"
    folder.mkdir()
    # two content blobs appended into one file, then a record cut off by the end of the file
    text = json.dumps(records[:2]) + "\n" + json.dumps(records[2:4], indent=1)
    (folder / "appended.json").write_text(text)
    cut = json.dumps(records[:3], indent=1)
    (folder / "cut.json").write_text(cut[:cut.rindex('"Operation"')])
    bad_bytes = json.dumps(records[:2]).encode().replace(b"Atlas design", b"Atlas \xffdesign")
    (folder / "bytes.json.gz").write_bytes(gzip.compress(bad_bytes))
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [folder])
    by_name = {Path(f.path).name: f for f in summary.files}
    assert (by_name["appended.json"].rows_stored, by_name["appended.json"].rows_quarantined) \
        == (4, 0)
    # the records before the damage were stored from appended.json already: duplicates
    cut_result = by_name["cut.json"]
    assert (cut_result.rows_duplicate, dict(cut_result.quarantined_by_reason)) \
        == (2, {"invalid JSON": 1})
    damaged = by_name["bytes.json.gz"]
    assert (damaged.rows_duplicate, dict(damaged.quarantined_by_reason)) \
        == (1, {"invalid UTF-8": 1})
    lines = {(Path(r["file"]).name, r["line"]) for r in quarantine(workspace)}
    assert ("cut.json", 1 + cut[:cut.rindex("{")].count("\n")) in lines


def _molehunt(*args: str, workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace),
                           *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=300)


def test_cli_ingest_m365_and_ingest_auto(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    _workspace(workspace)
    done = _molehunt("ingest", "m365", str(M365 / "purview_export.csv"), workspace=workspace)
    assert done.returncode == 0, done.stderr
    assert "m365.audit" in done.stdout
    strict = _molehunt("ingest", "m365", "--strict", str(M365 / "bad.ndjson"),
                       workspace=workspace)
    assert strict.returncode == 3 and "9 rows quarantined" in strict.stderr
    wrong = _molehunt("ingest", "m365", str(FIXTURES / "cert_r6" / "logon.csv"),
                      workspace=workspace)
    assert wrong.returncode == 1 and "unknown layout" in wrong.stderr
    # a folder of mixed sources: each file's layout on its own
    folder = tmp_path / "org"
    (folder / "m365").mkdir(parents=True)
    (folder / "logon.csv").write_text("id,date,user,pc,activity\n"
                                      "{L1},03/04/2024 07:12:00,al.ali@contoso.com,PC-1,Logon\n")
    (folder / "m365" / "audit.ndjson").write_bytes((M365 / "management_api.ndjson").read_bytes())
    (folder / "m365" / "page.json").write_bytes((M365 / "graph_records.json").read_bytes())
    auto_ws = tmp_path / "auto"
    _workspace(auto_ws)
    auto = _molehunt("ingest", "auto", str(folder), workspace=auto_ws)
    assert auto.returncode == 0, auto.stderr
    report = json.loads(_molehunt("status", "--json", workspace=auto_ws).stdout)
    layouts = sorted((Path(f["path"]).name, f["layout"], f["rows_stored"],
                      f["rows_duplicate"]) for f in report["files"])
    assert layouts == [("audit.ndjson", "m365.audit", 20, 0), ("logon.csv", "cert.logon", 1, 0),
                       ("page.json", "m365.audit", 0, 20)]
    assert {"cloud_files", "email_sent", "removable_files", "printing", "physical",
            "hr_departure", "logon"} <= set(report["coverage"]["observed"])


# -- property tests: never crash, every record accounted for --------------------------------
_SETTINGS = settings(max_examples=12, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])
_BASE = [json.loads(line) for line in (M365 / "management_api.ndjson").read_text().splitlines()]
_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)
_FIELDS = ["CreationTime", "UserId", "Operation", "RecordType", "UserType", "Workload", "Id",
           "FileSize", "RecipientList", "Item", "RemovableMediaDeviceAttributes"]


@st.composite
def _record(draw: st.DrawFn) -> object:
    """A real record with some fields replaced by anything, or any JSON value at all."""
    if draw(st.integers(0, 4)) == 0:
        return draw(_json_value)
    record = dict(draw(st.sampled_from(_BASE)))
    for field in draw(st.lists(st.sampled_from(_FIELDS), max_size=3)):
        record[field] = draw(_json_value)
    if draw(st.booleans()):
        record["Id"] = draw(st.sampled_from(["dup-1", "dup-2", record.get("Id")]))
    return record


_line = st.one_of(_record().map(lambda r: json.dumps(r).encode()),
                  st.binary(max_size=30).filter(lambda b: b"\n" not in b and b"\r" not in b))


def _records_on(line: bytes) -> int:
    """How many records an NDJSON line holds: a record, or each one of an array (a content
    blob) or of a Graph page's ``value``; a line that is not JSON is one (bad) record."""
    if not line.strip():
        return 0
    try:
        value = orjson.loads(line)  # the reader's parser: what it cannot read is one record
    except orjson.JSONDecodeError:
        return 1
    if isinstance(value, dict) and isinstance(value.get("value"), list):
        return len(value["value"])
    return len(value) if isinstance(value, list) else 1


def _accounted(summary: IngestSummary, records_in: int, workspace: Workspace) -> None:
    stored = sum(f.rows_stored for f in summary.files)
    duplicates = sum(f.rows_duplicate for f in summary.files)
    assert stored + duplicates + summary.rows_quarantined == records_in
    assert all(r["line"] is not None and r["line"] >= 1 for r in quarantine(workspace))
    held = (len(events(workspace)) + len(_table(workspace, "service_events"))
            + len(_table(workspace, "hr_events")))
    assert held == stored


@_SETTINGS
@given(st.lists(_line, min_size=1, max_size=15))
def test_ndjson_never_crashes_and_accounts_for_every_record(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.ndjson"
        path.write_bytes(b'{"CreationTime": "2024-01-01T00:00:00", "Operation": "X", '
                         b'"UserId": "u@x"}\n' + b"\n".join(lines) + b"\n")
        workspace = _workspace(Path(tmp) / "ws")
        summary = _ingest(workspace, [path])
        _accounted(summary, 1 + sum(_records_on(line) for line in lines), workspace)


@_SETTINGS
@given(st.lists(_record(), min_size=0, max_size=12), st.booleans())
def test_arrays_never_crash_and_account_for_every_record(records: list[object],
                                                         pretty: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob.json"
        # one real record first: a file with no audit record at all is not of this source
        path.write_text(json.dumps([_BASE[0], *records], indent=1 if pretty else None))
        workspace = _workspace(Path(tmp) / "ws")
        summary = _ingest(workspace, [path])
        _accounted(summary, 1 + len(records), workspace)


@_SETTINGS
@given(st.lists(st.one_of(_record().map(json.dumps), st.text(max_size=20)), min_size=1,
                max_size=12))
def test_purview_csv_never_crashes_and_accounts_for_every_row(cells: list[str]) -> None:
    import csv
    import io

    out = io.StringIO()
    # CRLF, as Export-Csv writes it: the writer then quotes a cell holding a CR. (With LF
    # alone it leaves "\r" bare, and a bare CR ends a line, as in every CSV file molehunt
    # reads: the row is then two records, each accounted for, not the one written.)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["CreationDate", "UserIds", "Operations", "AuditData"])
    for cell in cells:
        writer.writerow(["2024-03-04T08:00:00Z", "u@contoso.com", "FileAccessed", cell])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        path.write_text(out.getvalue(), newline="")
        workspace = _workspace(Path(tmp) / "ws")
        summary = _ingest(workspace, [path])
        _accounted(summary, len(cells), workspace)


def test_record_type_9_password_logon_is_a_sign_in_with_its_outcome(tmp_path: Path) -> None:
    # Microsoft's own example records of the Management Activity API (its API reference)
    # are OrgId sign-ins of record type 9, one failed and one not: both were stored as
    # anonymous m365_activity, with nothing telling the failed one apart.
    records = [{"CreationTime": f"2024-03-04T08:0{i}:00", "Id": f"5a1e0000-0000-4000-8000-00{i}",
                "Operation": "PasswordLogonInitialAuthUsingPassword", "RecordType": 9,
                "ResultStatus": status, "UserType": 0, "Workload": "AzureActiveDirectory",
                "ClientIP": "203.0.113.9", "ObjectId": "al.ali@contoso.com",
                "UserId": "al.ali@contoso.com", "AzureActiveDirectoryEventType": 0}
               for i, status in enumerate(["failed", "success"])]
    path = tmp_path / "orgid_logons.json"
    path.write_text(json.dumps(records))
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [path]).files
    assert result.rows_stored == 2
    stored = sorted(events(workspace), key=lambda e: e["ts"])
    assert [e["action"] for e in stored] == ["cloud_sign_in", "cloud_sign_in"]
    assert [json.loads(e["attrs"])["outcome"] for e in stored] == ["failed", "success"]
