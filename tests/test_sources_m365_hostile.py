"""The Microsoft 365 audit log source against the files a real tenant and its tools produce.

Each test is a fault found in review: HR records stored again on every read, records after
the first Graph page or the first pretty-printed record lost or lumped together, a damaged
first NDJSON line sinking the whole file, Windows PowerShell's UTF-16 files refused, and
the Purview export saved as JSON quarantined whole. Records are counted from the input
itself, never from the ingest's own report.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, events, ingest_jsonl, quarantine, query
from molehunt.sources.base import SqlContext, Unreadable
from molehunt.sources.ingest import Ingestor, IngestSummary
from molehunt.sources.m365_audit import M365Audit
from molehunt.sql import sql_paths
from molehunt.store.workspace import Workspace

M365 = FIXTURES / "m365"
RECORDS = [json.loads(line) for line in (M365 / "management_api.ndjson").read_text()
           .splitlines()]
#: Records of people, of service accounts and the HR record, as the fixture holds them.
PEOPLE, SERVICE, HR = 17, 2, 1


def _workspace(root: Path) -> Workspace:
    root.mkdir(parents=True)
    (root / "molehunt.toml").write_text('company_domains = ["contoso.com"]\n')
    return Workspace(root)


def _ingest(workspace: Workspace, paths: list[Path]) -> IngestSummary:
    with workspace.locked():
        return Ingestor(workspace).ingest_records(paths, "m365")


def _table(workspace: Workspace, table: str) -> list[dict[str, Any]]:
    files = workspace.table_files(table)
    if not files:
        return []
    return query(f"SELECT * FROM read_parquet({sql_paths(files)}) ORDER BY ALL")


def _held(workspace: Workspace) -> tuple[int, int, int]:
    return (len(events(workspace)), len(_table(workspace, "service_events")),
            len(_table(workspace, "hr_events")))


def _hr(**fields: Any) -> dict[str, Any]:
    """An HR signal record as the Management API gives it (Purview HR connector fields)."""
    return {"CreationTime": "2024-03-05T00:00:00", "Operation": "HRSignal", "RecordType": 58,
            "UserType": 4, "Workload": "HRConnector", "UserId": "HRConnector", **fields}


def test_hr_records_are_stored_once_however_often_they_are_read(tmp_path: Path) -> None:
    # the HR connector uploads its file again: the same facts under new record ids
    notice = {"EmailAddress": "Al.Ali@contoso.com", "ResignationDate": "2024-03-01T00:00:00Z",
              "LastWorkingDate": "2024-03-29T00:00:00Z"}
    first = tmp_path / "upload1.ndjson"
    first.write_text(json.dumps(_hr(Id="hr-1", **notice)) + "\n")
    again = tmp_path / "upload2.ndjson"
    again.write_text(json.dumps(_hr(Id="hr-2", **notice)) + "\n"
                     + json.dumps(_hr(Id="hr-3", **notice)) + "\n")
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [first])
    summary = _ingest(workspace, [again])
    assert (summary.files[0].rows_stored, summary.files[0].rows_duplicate) == (0, 2)
    rows = _table(workspace, "hr_events")
    assert [(r["user_id"], str(r["ts"]), r["kind"]) for r in rows] == [
        ("al.ali@contoso.com", "2024-03-01 00:00:00", "resignation_notice")]
    # the leaving date is where the features read it (days_to_departure_1d)
    assert json.loads(rows[0]["attrs"])["leave_date"] == "2024-03-29"


def test_hr_records_are_stored_beside_hr_events_of_other_sources(tmp_path: Path) -> None:
    # HR rows of the canonical JSONL carry no key: they must not hide every new M365 row
    workspace = _workspace(tmp_path / "ws")
    canonical = tmp_path / "hr_events.jsonl"
    canonical.write_text('{"user_id": "bo.berg@contoso.com", "ts": "2024-01-02T09:00:00",'
                         ' "kind": "hire", "grade": "L4"}\n')
    ingest_jsonl(workspace, [canonical], table="hr_events")
    path = tmp_path / "hr.ndjson"
    path.write_text(json.dumps(_hr(Id="hr-1", EmailAddress="al.ali@contoso.com",
                                   LastWorkingDate="2024-03-29T00:00:00Z")) + "\n")
    summary = _ingest(workspace, [path])
    assert (summary.files[0].rows_stored, summary.files[0].rows_duplicate) == (1, 0)
    assert sorted(r["kind"] for r in _table(workspace, "hr_events")) == ["hire", "termination"]


def test_hr_kinds_follow_the_connector_data_types(tmp_path: Path) -> None:
    records = [
        _hr(Id="a", EmailAddress="bo.berg@contoso.com", EffectiveDate="2024-02-10T00:00:00Z",
            Remarks="missed targets", Rating="1"),
        _hr(Id="b", EmailAddress="cy.chen@contoso.com", EffectiveDate="2024-02-11T00:00:00Z",
            OldLevel="L4", NewLevel="L3", Remarks="demoted"),
        _hr(Id="c", EmailAddress="dn.dale@contoso.com", LastWorkingDate="2024-02-12T00:00:00Z"),
        # an improvement plan is a concern; the review above, even rated 1, is not one
        _hr(Id="d", EmailAddress="ed.eko@contoso.com", EffectiveDate="2024-02-13T00:00:00Z",
            ImprovementRemarks="plan agreed"),
    ]
    path = tmp_path / "hr.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in records)
                    + json.dumps({**RECORDS[0], "CreationTime": "2024-03-04T08:15:02"}) + "\n")
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [path])
    kinds = {r["user_id"]: (r["kind"], str(r["ts"].date())) for r in
             _table(workspace, "hr_events")}
    assert kinds == {"bo.berg@contoso.com": ("performance_review", "2024-02-10"),
                     "cy.chen@contoso.com": ("transfer", "2024-02-11"),
                     "dn.dale@contoso.com": ("termination", "2024-02-12"),
                     "ed.eko@contoso.com": ("performance_concern", "2024-02-13")}
    # the batch's first day is the first HR day, before its only event: the features
    # recompute from there
    assert workspace.records()[0].min_day == "2024-02-10"


def test_graph_pages_written_one_after_another_are_all_read(tmp_path: Path) -> None:
    page = json.loads((M365 / "graph_records.json").read_text())
    other = {**page["value"][0], "id": "ffffffff-0000-4000-8000-000000000099",
             "auditData": {**page["value"][0]["auditData"],
                           "Id": "ffffffff-0000-4000-8000-000000000099"}}
    path = tmp_path / "pages.json"
    path.write_text(json.dumps(page, indent=2) + "\n"
                    + json.dumps({"@odata.context": "x", "value": [other]}, indent=2) + "\n")
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [path])
    assert summary.files[0].rows_read == 21
    assert _held(workspace) == (PEOPLE + 1, SERVICE, HR)


def test_pretty_printed_records_one_after_another_are_each_a_record(tmp_path: Path) -> None:
    path = tmp_path / "records.json"  # ConvertTo-Json per record, appended
    path.write_text("\n".join(json.dumps(r, indent=4) for r in RECORDS[:5]) + "\n")
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [path])
    assert (summary.files[0].rows_read, summary.files[0].rows_stored) == (5, 5)


def test_a_damaged_first_ndjson_line_costs_that_record_alone(tmp_path: Path) -> None:
    lines = [json.dumps(r).encode() for r in RECORDS]
    damaged = lines[0].replace(b"FileAccessed", b"File\x00Accessed")
    huge = json.dumps({**RECORDS[1], "Padding": "x" * 300_000}).encode()  # beyond the head
    for name, first in (("nul.ndjson", damaged), ("huge.ndjson", huge)):
        path = tmp_path / name
        path.write_bytes(b"\n".join([first, *lines[2:]]) + b"\n")
        workspace = _workspace(tmp_path / name.replace(".", "_"))
        summary = _ingest(workspace, [path])
        result = summary.files[0]
        assert result.rows_read == len(lines) - 1
        stored_first = name == "huge.ndjson"
        assert result.rows_quarantined == (0 if stored_first else 1)
        assert [r["line"] for r in quarantine(workspace)] == ([] if stored_first else [1])


def test_windows_powershell_utf16_files_read_as_utf8_ones(tmp_path: Path) -> None:
    ndjson = (M365 / "management_api.ndjson").read_text(encoding="utf-8")
    csv_text = (M365 / "purview_export.csv").read_text(encoding="utf-8-sig")
    files = {"bom.ndjson": ndjson.replace("\n", "\r\n").encode("utf-16"),
             "le.ndjson": ndjson.encode("utf-16-le"),
             "export.csv": csv_text.replace("\n", "\r\n").encode("utf-16")}
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        workspace = _workspace(tmp_path / ("ws_" + name.replace(".", "_")))
        summary = _ingest(workspace, [path])
        assert (summary.files[0].rows_read, summary.rows_quarantined) == (20, 0), name
        assert _held(workspace) == (PEOPLE, SERVICE, HR), name
        assert "al.ali@contoso.com" in {e["user_id"] for e in events(workspace)}


def test_the_purview_export_saved_as_json_is_read(tmp_path: Path) -> None:
    rows = [{"RecordType": r["RecordType"], "CreationDate": r["CreationTime"],
             "UserIds": r["UserId"], "Operations": r["Operation"], "AuditData": json.dumps(r),
             "ResultIndex": i + 1, "ResultCount": len(RECORDS), "IsValid": True}
            for i, r in enumerate(RECORDS)]
    as_text = tmp_path / "text.json"  # Search-UnifiedAuditLog | ConvertTo-Json
    as_text.write_text(json.dumps(rows, indent=2))
    as_object = tmp_path / "object.json"  # a tool that parsed AuditData already
    as_object.write_text(json.dumps([{**r, "AuditData": json.loads(r["AuditData"])}
                                     for r in rows]))
    for path in (as_text, as_object):
        workspace = _workspace(tmp_path / ("ws_" + path.stem))
        summary = _ingest(workspace, [path])
        assert (summary.files[0].rows_stored, summary.rows_quarantined) == (20, 0), path.name
        assert _held(workspace) == (PEOPLE, SERVICE, HR)


def test_csv_exports_appended_into_one_file_are_read_as_one(tmp_path: Path) -> None:
    export = (M365 / "search_unifiedauditlog.csv").read_text(encoding="utf-8-sig")
    lines = export.splitlines(keepends=True)
    assert lines[0].startswith("#TYPE")
    body = [line for line in lines[2:] if line.strip()]
    # two exports one after the other, each with its #TYPE line and header
    path = tmp_path / "appended.csv"
    path.write_text("".join(lines[:2] + body[:7] + lines[:2] + body[7:]))
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [path])
    assert (summary.files[0].rows_read, summary.rows_quarantined) == (20, 0)
    assert _held(workspace) == (PEOPLE, SERVICE, HR)


def test_a_file_in_someone_elses_onedrive_says_whose_it_is(tmp_path: Path) -> None:
    url = "https://contoso-my.sharepoint.com/personal/bo_berg_contoso_com/Documents/plan.docx"
    records = [{**RECORDS[0], "Id": "own", "ObjectId": url, "UserId": "Bo.Berg@contoso.com"},
               {**RECORDS[0], "Id": "other", "ObjectId": url, "UserId": "al.ali@contoso.com"}]
    path = tmp_path / "onedrive.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [path])
    owners = {e["user_id"]: json.loads(e["attrs"]) for e in events(workspace)}
    assert {u: (a["onedrive_owner"], a["own_onedrive"]) for u, a in owners.items()} == {
        "bo.berg@contoso.com": ("bo_berg_contoso_com", True),
        "al.ali@contoso.com": ("bo_berg_contoso_com", False)}


def test_a_record_nested_deeper_than_json_can_write_is_quarantined(tmp_path: Path) -> None:
    # orjson reads 1,000 levels; writing them back (attrs, the quarantine) used to crash
    deep = "[" * 1000 + "]" * 1000
    line = json.dumps(RECORDS[0]).replace('"ObjectId": "', f'"ObjectId": {deep}, "X": "', 1)
    path = tmp_path / "deep.ndjson"
    path.write_text(line + "\n" + json.dumps(RECORDS[1]) + "\n")
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [path])
    assert (summary.files[0].rows_stored, dict(summary.files[0].quarantined_by_reason)) == (
        1, {"too deeply nested": 1})
    assert [r["line"] for r in quarantine(workspace)] == [1]


def test_content_blobs_one_per_line_are_each_their_records(tmp_path: Path) -> None:
    path = tmp_path / "blobs.ndjson"
    path.write_text(json.dumps(RECORDS[0]) + "\n" + json.dumps(RECORDS[1:5]) + "\n")
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [path])
    assert (summary.files[0].rows_read, summary.files[0].rows_stored) == (5, 5)


_SETTINGS = settings(max_examples=15, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["array", "object", "page"]),
                          st.lists(st.sampled_from(range(len(RECORDS))), min_size=1,
                                   max_size=4)),
                min_size=1, max_size=5),
       st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le"]), st.booleans())
def test_json_values_one_after_another_account_for_every_record(
        values: list[tuple[str, list[int]]], encoding: str, pretty: bool) -> None:
    """Arrays, Graph pages and lone records in any order and encoding: each record is read."""
    parts, records_in, ids = [], 0, []
    for kind, picked in values:
        records = [RECORDS[i] for i in picked]
        if kind == "object":
            records = records[:1]
        ids += [r["Id"] for r in records]
        records_in += len(records)
        value: object = (records if kind == "array" else records[0] if kind == "object"
                         else {"@odata.context": "x", "value": [
                             {"id": r["Id"], "auditData": r} for r in records],
                             "@odata.nextLink": "https://graph.microsoft.com/next"})
        parts.append(json.dumps(value, indent=2 if pretty else None))
    # a first value on one line is NDJSON; start with an array so every layout is a document
    text = "[]\n" + "\n".join(parts) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mixed.json"
        path.write_bytes(text.encode(encoding))
        workspace = _workspace(Path(tmp) / "ws")
        summary = _ingest(workspace, [path])
        result = summary.files[0]
        assert (result.rows_read, result.rows_quarantined) == (records_in, 0)
        assert result.rows_stored + result.rows_duplicate == records_in
        held = _held(workspace)
        stored_ids = ({e["event_id"] for e in events(workspace)}
                      | {e["event_id"] for e in _table(workspace, "service_events")})
        assert stored_ids | ({RECORDS[15]["Id"]} if held[2] else set()) == set(ids)


def test_a_graph_record_is_its_upn_not_its_object_id(tmp_path: Path) -> None:
    inner = {k: v for k, v in RECORDS[0].items() if k != "UserId"}
    record = {"id": inner["Id"], "createdDateTime": "2024-03-04T08:15:02Z",
              "auditLogRecordType": "sharePointFileOperation", "operation": "FileAccessed",
              "userPrincipalName": "Al.Ali@contoso.com",
              "userId": "5e7f3c1a-0000-4000-8000-00000000a11a", "auditData": inner}
    path = tmp_path / "graph.json"
    path.write_text(json.dumps({"value": [record]}))
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [path])
    assert [e["user_id"] for e in events(workspace)] == ["al.ali@contoso.com"]


def test_an_hr_fact_has_one_key_whatever_the_shape_wrote_its_values_as(tmp_path: Path) -> None:
    review = {"EmailAddress": "bo.berg@contoso.com", "EffectiveDate": "2024-02-10T00:00:00Z"}
    path = tmp_path / "hr.ndjson"  # the API's numbers; a CSV's text; another signal type name
    path.write_text(json.dumps(_hr(Id="a", Rating=1, HRSignalType="PerformanceReview",
                                   **review)) + "\n"
                    + json.dumps(_hr(Id="b", Rating="1", DataType="performance", **{
                        **review, "EffectiveDate": "2024-02-10T00:00:00.0000000Z"})) + "\n")
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [path])
    assert (summary.files[0].rows_stored, summary.files[0].rows_duplicate) == (1, 1)


def test_colleagues_are_inside_before_any_directory_or_company_domain(tmp_path: Path) -> None:
    # `ingest m365` first, nothing configured: the actor's own tenant domain is the company's
    root = tmp_path / "ws"
    root.mkdir()
    workspace = Workspace(root)
    send = RECORDS[8]
    records = [
        RECORDS[6],  # SharingSet to cy.chen@contoso.com, a member
        {**send, "Id": "to-colleague", "recipientList": [{"Address": "Cy.Chen@contoso.com"}]},
        {**send, "Id": "to-partner", "recipientList": [{"Address": "jo@fabrikam.com"}]},
        {**RECORDS[7], "Id": "to-partner-share", "TargetUserOrGroupName": "jo@fabrikam.com",
         "TargetUserOrGroupType": "Member"},
    ]
    path = tmp_path / "audit.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    _ingest(workspace, [path])
    found = {e["event_id"]: (e["action"], e["channel"]) for e in events(workspace)}
    assert found == {RECORDS[6]["Id"]: ("file_share", "cloud_storage"),
                     "to-colleague": ("email_send", "email_internal"),
                     "to-partner": ("email_send", "email_external"),
                     "to-partner-share": ("web_upload", "cloud_storage")}


def test_a_sentinel_csv_in_local_time_is_not_read_as_utc(tmp_path: Path) -> None:
    text = (M365 / "sentinel_officeactivity.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "local.csv"
    path.write_text(text.replace("TimeGenerated [UTC]", "TimeGenerated [Local Time]", 1))
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [path])
    assert (summary.files[0].rows_stored,
            dict(summary.files[0].quarantined_by_reason)) == (0, {"time not in UTC": 20})
    assert quarantine(workspace)[0]["line"] == 2


# -- every record counted apart from the parser (issue 20, item 1) ------------------------------
def test_a_stray_quote_in_a_csv_export_costs_its_own_line(tmp_path: Path) -> None:
    """A quote left open in one row made the CSV reader take the next rows into that row's
    field: those records were gone without a word. Now the line is quarantined alone."""
    lines = (M365 / "purview_export.csv").read_text(encoding="utf-8-sig").splitlines()
    records = len(lines) - 1
    # the last (empty) field of row 5 opens a quote that never closes
    assert lines[5].endswith(",")
    lines[5] += '"'
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    workspace = _workspace(tmp_path / "ws")
    (result,) = _ingest(workspace, [path]).files
    assert result.status == "ingested"
    assert [(q["line"], q["reason"]) for q in quarantine(workspace)] == [
        (6, "malformed quoting")]
    assert result.rows_read == records
    assert result.rows_stored == records - 1


def test_a_quote_closed_mid_field_then_one_left_open_costs_its_own_line(
        tmp_path: Path) -> None:
    """As above, but the row first closes a quote before its field ends (``"5d1e"7a0c-…``):
    the line counter stopped reading the row there and took it for a whole record, while the
    CSV reader read on into the quote left open at its end and took the next row with it,
    so the file failed with a record unaccounted. Now the line is quarantined alone."""
    lines = (M365 / "purview_export.csv").read_text(encoding="utf-8-sig").splitlines()
    records = len(lines) - 1
    assert lines[5].endswith(",")
    lines[5] = '"' + lines[5][:4] + '"' + lines[5][4:] + '"'
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    workspace = _workspace(tmp_path / "ws")
    (result,) = _ingest(workspace, [path]).files
    assert result.status == "ingested", result.note
    assert [(q["line"], q["reason"]) for q in quarantine(workspace)] == [
        (6, "malformed quoting")]
    assert result.rows_read == records
    assert result.rows_stored == records - 1


class _LosesOne(M365Audit):
    """The real audit-log reader with a fault put in: it loses the file's third record."""

    def records(self, path: Path, ctx: SqlContext) -> Iterator[dict[str, Any] | Unreadable]:
        for number, item in enumerate(super().records(path, ctx)):
            if number != 2:
                yield item


@pytest.mark.parametrize("name", ["management_api.json", "management_api.ndjson",
                                  "purview_export.csv", "search_unifiedauditlog.csv",
                                  "graph_records.json", "sentinel_officeactivity.csv",
                                  "sentinel_officeactivity.json"])
def test_a_record_the_parser_loses_fails_the_file(name: str, tmp_path: Path) -> None:
    """Each shape's records are counted by a reader that is not the parser: a record the
    parser drops makes the file fail, nothing of it stored."""
    workspace = _workspace(tmp_path / "ws")
    with workspace.locked():
        result = Ingestor(workspace)._record_file_or_failure(M365 / name, _LosesOne)
    assert result.status == "failed"
    assert "unaccounted; nothing of this file was stored" in result.note
    assert _held(workspace) == (0, 0, 0)
    # the same file read by the reader itself adds up
    assert _ingest(workspace, [M365 / name]).files[0].status == "ingested"
