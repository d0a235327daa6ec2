"""The Windows Security event source: EVTX, Event XML, Winlogbeat and NXLog, one set of events.

Fixtures: tests/fixtures/windows/ (make_windows_fixtures.py writes the XML and JSON from
hand-written events in Microsoft's documented layout; security_4_chunks.evtx is a real public
sample, see tests/fixtures/README). Every record must end up stored, a duplicate, quarantined
with its location and reason, or skipped with a reason; the property tests count the records
they write themselves.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, events, quarantine
from molehunt.sources.base import Skipped, SqlContext, Unreadable
from molehunt.sources.ingest import (
    FileResult,
    Ingestor,
    IngestSummary,
    UnaccountedRowsError,
    recognise_records,
)
from molehunt.sources.windows_security import (
    REMOVABLE_USE_WINDOW,
    SPLIT_TOKEN_TWIN,
    WindowsSecurity,
    _count_start_tags,
    _Sessions,
    _xml_segments,
    evtx_record_locations,
)
from molehunt.store.workspace import Workspace

WINDOWS = FIXTURES / "windows"
EXPECTED = FIXTURES / "expected" / "windows_events.json"
EVTX = WINDOWS / "security_4_chunks.evtx"
SHAPES = ["security_wevtutil.xml", "winlogbeat.ndjson", "nxlog.ndjson"]


def _workspace(root: Path) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "molehunt.toml").write_text('company_domains = ["corp.example"]\n')
    return Workspace(root)


def _ingest(workspace: Workspace, paths: list[Path]) -> IngestSummary:
    with workspace.locked():
        return Ingestor(workspace).ingest_records(paths, "windows")


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for row in rows:
        attrs = json.loads(row["attrs"]) if row.get("attrs") else None
        if attrs:
            attrs.pop("shape", None)
        result.append({k: (str(v) if k in ("ts", "day") and v is not None else v)
                       for k, v in {**row, "attrs": attrs}.items()})
    return sorted(result, key=lambda r: (r["ts"], r["event_id"]))


def _adds_up(result: FileResult) -> bool:
    return result.rows_read == (result.rows_stored + result.rows_duplicate
                                + result.rows_quarantined + result.rows_skipped)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_gives_the_same_events(shape: str, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [WINDOWS / shape])
    [result] = summary.files
    assert result.status == "ingested" and _adds_up(result)
    assert (result.rows_read, result.rows_stored) == (22, 12)
    assert result.quarantined_by_reason == {"implausible time": 1}
    assert result.skipped_by_reason == {
        "well-known service account (not a person)": 2, "machine account (not a person)": 1,
        "external device of class HIDClass (not storage)": 1,
        "process start (4688): the store has no process action": 1,
        "logoff of a network logon (4634 type 3 or 8)": 1, "Security event 4672 not read": 1,
        "named pipe on IPC$ (not a file)": 1,
        "end of an unlock's logon session (4634 type 7 or 13)": 1}
    actual = _jsonable(events(workspace))
    if os.environ.get("MOLEHUNT_UPDATE_GOLDEN") and shape == SHAPES[0]:
        EXPECTED.write_text(json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True)
                            + "\n")
    assert actual == json.loads(EXPECTED.read_text())


def test_what_each_event_becomes(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [WINDOWS / "security_wevtutil.xml"])
    seen = {(e["user_id"], e["host"], e["action"], e["channel"], e["object"]):
            json.loads(e["attrs"]) for e in events(workspace)}
    kinds = {key: attrs.get("logon_kind") for key, attrs in seen.items()}
    # a person at a computer is a logon there, as CERT's logon.csv has it; the case typed at
    # logon ("Alice") does not make another person
    assert kinds[("alice", "WS-0042", "logon", "local", "WS-0042")] in {"interactive", "unlock"}
    assert kinds[("carol", "JUMP-01", "logon", "local", "JUMP-01")] == "remote_interactive"
    assert kinds[("dave@corp.example", "WS-0042", "logon", "local", "WS-0042")] == (
        "cached_interactive")
    # a network logon to a file server is no logon to someone else's computer
    assert ("bob", "FS-01", "network_logon", "network_share", "FS-01") in seen
    assert ("bob", "FS-01", "share_access", "network_share", "\\\\FS-01\\Finance") in seen
    assert ("bob", "FS-01", "file_open", "network_share",
            "\\\\FS-01\\Finance\\Q1\\budget.xlsx") in seen
    assert ("alice", "WS-0042", "file_copy", "removable_media",
            "\\Device\\HarddiskVolume7\\atlas\\plans.docx") in seen
    assert ("alice", "WS-0042", "file_open", "local", "C:\\Projects\\atlas\\design.docx") in seen
    # the computer account connected the drive; alice was logged on there
    device = seen[("alice", "WS-0042", "device_connect", "removable_media", "WS-0042")]
    assert device["person_from"] == "interactive logon" and device["device_class"] == "DiskDrive"
    logon = seen[("carol", "JUMP-01", "logon", "local", "JUMP-01")]
    assert logon["account"] == "CORP\\carol" and logon["sid"].endswith("-1106")
    assert logon["source_ip"] == "10.0.0.7"
    assert [e["action"] for e in events(workspace)].count("logoff") == 2  # 4647 and its 4634


def test_winlogbeat_task_names_are_read(tmp_path: Path) -> None:
    """Winlogbeat writes ``winlog.task`` as the subcategory's name ("Removable Storage"), not
    its number: a copy to a drive is still one to removable media."""
    lines = []
    for record, task in ((1, "Removable Storage"), (2, "File System")):
        lines.append(json.dumps({
            "@timestamp": "2024-03-04T09:20:00.000Z",
            "winlog": {"channel": "Security", "computer_name": "WS-7.corp.example",
                       "event_id": "4663", "record_id": record, "task": task,
                       "event_data": {"SubjectUserName": "alice", "SubjectDomainName": "CORP",
                                      "SubjectUserSid": "S-1-5-21-1-2-3-1104",
                                      "ObjectType": "File", "AccessList": "%%4417",
                                      "ObjectName": f"\\Device\\HarddiskVolume{record}\\a.docx"}}}))
    path = tmp_path / "winlogbeat.ndjson"
    path.write_text("\n".join(lines) + "\n")
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [path])
    assert sorted((e["action"], e["channel"]) for e in events(workspace)) == [
        ("file_copy", "removable_media"), ("file_write", "local")]


def _winlogbeat(record: int, at: str, code: int, task: str, data: dict[str, str]) -> str:
    return json.dumps({"@timestamp": f"2024-03-04T{at}.000Z", "winlog": {
        "channel": "Security", "computer_name": "WS-9.corp.example", "event_id": str(code),
        "record_id": record, "task": task, "event_data": data}})


def test_a_drive_on_a_shared_computer_is_its_users(tmp_path: Path) -> None:
    """Two people logged on at one computer: the drive is the one whose account then wrote
    to removable storage there, not the later logon's."""
    def logon(record: int, at: str, user: str, logon_id: str) -> str:
        return _winlogbeat(record, at, 4624, "Logon", {
            "TargetUserName": user, "TargetDomainName": "CORP", "TargetLogonId": logon_id,
            "TargetUserSid": f"S-1-5-21-1-2-3-{record}", "LogonType": "2"})

    machine = {"SubjectUserName": "WS-9$", "SubjectDomainName": "CORP",
               "SubjectUserSid": "S-1-5-18", "ClassName": "DiskDrive",
               "DeviceDescription": "USB Mass Storage Device"}
    path = tmp_path / "winlogbeat.ndjson"
    path.write_text("\n".join([
        logon(1, "08:00:00", "alice", "0x11"), logon(2, "09:00:00", "bob", "0x22"),
        _winlogbeat(3, "10:00:00", 6416, "Plug and Play Events", machine),
        _winlogbeat(4, "10:05:00", 4663, "Removable Storage", {
            "SubjectUserName": "alice", "SubjectDomainName": "CORP", "ObjectType": "File",
            "AccessList": "%%4417", "ObjectName": "\\Device\\HarddiskVolume5\\a.docx"}),
        _winlogbeat(5, "11:00:00", 6416, "Plug and Play Events", machine)]) + "\n")
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [path])
    drives = sorted((str(e["ts"]), e["user_id"], json.loads(e["attrs"])["person_from"])
                    for e in events(workspace) if e["action"] == "device_connect")
    # the second drive has no file access after it: the latest logon, as before
    assert drives == [("2024-03-04 10:00:00", "alice", "removable storage access"),
                      ("2024-03-04 11:00:00", "bob", "interactive logon")]


def test_one_record_read_through_two_shapes_is_stored_once(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [WINDOWS / "security_wevtutil.xml", WINDOWS / "winlogbeat.ndjson",
                                  WINDOWS / "nxlog.ndjson"])
    assert [(f.rows_stored, f.rows_duplicate) for f in summary.files] == [(12, 0), (0, 12),
                                                                          (0, 12)]


OTHER_LOGS = ["other_logs.xml", "other_logs_winlogbeat.ndjson", "other_logs_nxlog.ndjson"]


def test_security_log_cleared_is_stored_and_other_logs_are_named(tmp_path: Path) -> None:
    # 1102 (the Security log cleared) used to be skipped as "event 1102 not read", and a
    # Sysmon event as "event 13 not read", as though it were a Security event of that number.
    # The same three events in three shapes: the first stores the 1102, the others repeat
    # it (the same event: same time, person, action and object, else it would conflict)
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [WINDOWS / shape for shape in OTHER_LOGS])
    for result in summary.files:
        assert result.status == "ingested" and _adds_up(result), result.path
        assert (result.rows_read, result.rows_quarantined, result.rows_conflicting) == (3, 0, 0)
        assert result.skipped_by_reason == {
            "Microsoft-Windows-Sysmon/Operational event 13 not read": 1}, result.path
    assert [(f.rows_stored, f.rows_duplicate) for f in summary.files] == [(2, 0), (0, 2), (0, 2)]
    # the System log's 104 (another log cleared) is the same cover-up, written a second later
    cleared, system = sorted(events(workspace), key=lambda row: str(row["ts"]))
    assert (cleared["user_id"], cleared["host"], cleared["action"], cleared["channel"],
            cleared["object"], str(cleared["ts"])) == (
        "carol", "JUMP-01", "audit_log_cleared", "local", "Security", "2024-03-04 22:40:00")
    assert (system["user_id"], system["action"], system["object"], str(system["ts"])) == (
        "carol", "audit_log_cleared", "System", "2024-03-04 22:40:01")
    assert json.loads(system["attrs"])["event_code"] == 104
    attrs = json.loads(cleared["attrs"])
    assert attrs["account"] == "CORP\\carol" and attrs["sid"].endswith("-1106")
    assert attrs["logon_id"] == "0x7d00" and attrs["event_code"] == 1102


def test_event_1102_of_another_log_is_not_the_security_log_cleared(tmp_path: Path) -> None:
    # an application may number an event of its own 1102: only the Security log's is read
    record = json.loads((WINDOWS / "other_logs_winlogbeat.ndjson").read_text().splitlines()[0])
    record["winlog"].update(channel="Application", provider_name="ExampleApp")
    path = tmp_path / "application.ndjson"
    path.write_text(json.dumps(record) + "\n")
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [path]).files
    assert result.skipped_by_reason == {"Application event 1102 not read": 1}


def test_a_skipped_event_of_no_named_log_says_so(tmp_path: Path) -> None:
    record = json.loads((WINDOWS / "other_logs_nxlog.ndjson").read_text().splitlines()[1])
    del record["Channel"], record["SourceName"]
    path = tmp_path / "nameless.ndjson"
    path.write_text(json.dumps(record) + "\n")
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [path]).files
    assert result.skipped_by_reason == {"unnamed log event 13 not read": 1}


def test_malformed_events_are_quarantined_with_their_line(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [WINDOWS / "bad_events.xml"]).files
    assert _adds_up(result) and result.rows_read == 5
    rows = [(r["line"], r["reason"]) for r in quarantine(workspace)]
    assert rows == [(3, "truncated event"), (4, "invalid XML"), (5, "unparseable time"),
                    (6, "empty user"), (7, "no event id")]


def test_nxlog_local_time_is_quarantined_not_read_as_utc(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [WINDOWS / "nxlog_local_time.ndjson"]).files
    assert result.quarantined_by_reason == {"time without zone": 1}
    assert "DateFormat" in quarantine(workspace)[0]["detail"]


def test_evtx_sample_every_record_accounted_for(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [EVTX]).files
    assert result.status == "ingested" and _adds_up(result)
    assert result.rows_read == 349 == len(evtx_record_locations(EVTX))
    assert result.rows_quarantined == 0
    stored = events(workspace)
    assert {e["action"] for e in stored} == {"logon", "logoff"}
    assert {e["user_id"] for e in stored} == {"fsir"}
    assert result.skipped_by_reason["Security event 4672 not read"] == 90


def _corrupt_second_chunk(target: Path) -> Path:
    """A copy of the sample whose second chunk has 200 bytes overwritten inside its records
    (past the chunk header, so the chunk is found but some of its records cannot be read)."""
    data = bytearray(EVTX.read_bytes())
    start = 4096 + 65536 + 0x900
    data[start:start + 200] = b"\xab" * 200
    target.write_bytes(bytes(data))
    return target


def test_corrupt_chunk_quarantines_its_records_with_their_offset(tmp_path: Path) -> None:
    clean = _workspace(tmp_path / "clean")
    [whole] = _ingest(clean, [EVTX]).files
    workspace = _workspace(tmp_path / "ws")
    path = _corrupt_second_chunk(tmp_path / "damaged.evtx")
    [result] = _ingest(workspace, [path]).files
    assert result.status == "ingested" and _adds_up(result) and result.rows_read == 349
    bad = quarantine(workspace)
    assert bad and {r["reason"] for r in bad} == {"corrupt chunk"}
    chunk_two = range(4096 + 65536, 4096 + 2 * 65536)
    for row in bad:
        assert row["file"] == str(path.resolve()) and row["line"] is None
        offset = int(row["detail"].split("byte ")[1].split(",")[0])
        assert offset in chunk_two, row["detail"]
    # the rest is ingested: what the clean file stored from the other chunks is all there
    assert result.rows_stored + result.rows_skipped + len(bad) == whole.rows_read
    kept = {e["event_id"] for e in events(workspace)}
    assert kept <= {e["event_id"] for e in events(clean)}
    assert len(kept) == result.rows_stored > 0


def test_a_record_lost_by_the_reader_fails_the_file(tmp_path: Path) -> None:
    class LosesOne(WindowsSecurity):
        """A reader that drops a record (the independent count must notice)."""

        def records(self, path: Path, ctx: SqlContext
                    ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
            items = list(super().records(path, ctx))
            return iter(items[:-1])

    workspace = _workspace(tmp_path / "ws")
    with workspace.locked(), pytest.raises(UnaccountedRowsError, match="-1 unaccounted|"
                                           r"\+1 unaccounted"):
        Ingestor(workspace).ingest_record_file(WINDOWS / "security_wevtutil.xml", LosesOne)
    assert not events(workspace)


def test_ingest_auto_recognises_every_shape(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    for name in [*SHAPES, EVTX.name]:
        shutil.copy(WINDOWS / name, folder / name)
        assert recognise_records(folder / name) is WindowsSecurity, name
    workspace = _workspace(tmp_path / "ws")
    with workspace.locked():
        summary = Ingestor(workspace).ingest_auto(folder)
    assert {f.layout for f in summary.files} == {"windows.security"}
    assert all(f.status == "ingested" and _adds_up(f) for f in summary.files)
    # the same records through three shapes: stored once; the EVTX's six logons (each two
    # split-token 4624s) and four logoffs
    assert sum(f.rows_stored for f in summary.files) == 12 + 10


# -- property tests -----------------------------------------------------------------------
_FIELD = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_EVENT = st.fixed_dictionaries({
    "code": st.sampled_from([4624, 4634, 4647, 4663, 5140, 5145, 6416, 4688, 4672, 1]),
    "task": st.sampled_from([12544, 12800, 12812, 13316]),
    "time": st.one_of(st.sampled_from(["2024-03-04T08:00:00Z", "1970-01-01T00:00:00Z",
                                       "9999-12-31T23:59:59Z", "", "not a time"]),
                      st.datetimes().map(lambda d: d.isoformat() + "Z")),
    "computer": st.sampled_from(["WS-1.corp.example", "FS-01", ""]),
    "record": st.integers(0, 30),
    "fields": st.dictionaries(st.sampled_from([
        "TargetUserName", "SubjectUserName", "TargetUserSid", "SubjectUserSid", "LogonType",
        "TargetLogonId", "ObjectType", "ObjectName", "AccessList", "AccessMask", "ShareName",
        "RelativeTargetName", "ClassName", "DeviceDescription", "TargetDomainName"]),
        st.one_of(_FIELD, st.sampled_from(["alice", "WS-1$", "SYSTEM", "DWM-2", "2", "3",
                                           "10", "%%4417", "0x10000", "DiskDrive", "File",
                                           "S-1-5-18"])), max_size=8),
    "damage": st.sampled_from(["none", "none", "none", "cut", "garbage"]),
})


def _xml_text(event: dict[str, Any]) -> str:
    from xml.sax.saxutils import escape, quoteattr

    data = "".join(f"<Data Name={quoteattr(k)}>{escape(v)}</Data>"
                   for k, v in event["fields"].items())
    text = (f"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
            f"<EventID>{event['code']}</EventID><Task>{event['task']}</Task>"
            f"<TimeCreated SystemTime={quoteattr(event['time'])}/><EventRecordID>"
            f"{event['record']}</EventRecordID><Channel>Security</Channel><Computer>"
            f"{escape(event['computer'])}</Computer></System><EventData>{data}</EventData>"
            "</Event>")
    if event["damage"] == "cut":
        return text[:len(text) // 2]
    if event["damage"] == "garbage":
        return text.replace("<System>", "<System><<", 1)
    return text


def _json_text(event: dict[str, Any]) -> str:
    text = json.dumps({"@timestamp": event["time"], "winlog": {
        "event_id": event["code"], "task": event["task"], "record_id": event["record"],
        "computer_name": event["computer"], "channel": "Security",
        "event_data": event["fields"]}})
    if event["damage"] == "cut":
        return text[:len(text) // 2]
    if event["damage"] == "garbage":
        return "{" + text
    return text


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(_EVENT, max_size=12), as_xml=st.booleans())
def test_any_events_are_accounted_for(tmp_path_factory: pytest.TempPathFactory,
                                      batch: list[dict[str, Any]], as_xml: bool) -> None:
    root = tmp_path_factory.mktemp("prop")
    # the first event is always whole, so that the file is recognised as Windows events
    first = {"code": 4624, "task": 12544, "time": "2024-03-04T08:00:00Z", "computer": "WS-1",
             "record": 99, "fields": {"TargetUserName": "alice", "LogonType": "2"},
             "damage": "none"}
    records = [first, *batch]
    if as_xml:
        path = root / "events.xml"
        path.write_text("".join(_xml_text(e) for e in records))
    else:
        path = root / "events.ndjson"
        path.write_text("".join(_json_text(e) + "\n" for e in records))
    workspace = _workspace(root / "ws")
    [result] = _ingest(workspace, [path]).files
    assert result.status == "ingested", result.note
    assert result.rows_read == len(records) and _adds_up(result)
    assert len(events(workspace)) == result.rows_stored
    assert len(quarantine(workspace)) == result.rows_quarantined


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(chunk=st.integers(0, 3), at=st.integers(0, 65535), size=st.integers(1, 512),
       byte=st.integers(0, 255))
def test_any_damage_to_an_evtx_file_is_accounted_for(
        tmp_path_factory: pytest.TempPathFactory, chunk: int, at: int, size: int,
        byte: int) -> None:
    root = tmp_path_factory.mktemp("evtx")
    data = bytearray(EVTX.read_bytes())
    start = 4096 + chunk * 65536 + at
    end = min(start + size, len(data))
    data[start:end] = bytes([byte]) * (end - start)
    path = root / "damaged.evtx"
    path.write_bytes(bytes(data))
    workspace = _workspace(root / "ws")
    summary = _ingest(workspace, [path])
    [result] = summary.files
    # damage may make the header walk and the parser disagree: then the file fails whole,
    # in one line, and nothing of it is stored; otherwise every record is accounted for
    if result.status == "failed":
        assert "unaccounted" in result.note and not events(workspace)
    else:
        assert _adds_up(result) and result.rows_read == len(evtx_record_locations(path))


def test_header_walk_matches_the_file_header() -> None:
    data = EVTX.read_bytes()
    first, last, next_record = struct.unpack_from("<QQQ", data, 8)
    assert (first, last) == (0, 3)
    assert [loc.record_id for loc in evtx_record_locations(EVTX)] == list(range(1, next_record))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(["<Event xmlns='x'>", "<Event>", "</Event>", "\n",
                                        "<Events>", "<Even", "t>", "é", "<System/>", "ab"]),
                       max_size=40),
       block=st.integers(1, 40), utf16=st.booleans())
def test_xml_is_split_and_counted_the_same_in_any_block_size(
        tmp_path_factory: pytest.TempPathFactory, pieces: list[str], block: int,
        utf16: bool) -> None:
    path = tmp_path_factory.mktemp("xml") / "events.xml"
    text = "".join(pieces)
    path.write_bytes(text.encode("utf-16") if utf16 else text.encode())
    whole = list(_xml_segments(path, block_size=1 << 20))
    assert list(_xml_segments(path, block_size=block)) == whole
    assert _count_start_tags(path, block_size=block) == len(whole)
    starts = [i for i in range(len(text))
              if text.startswith(("<Event ", "<Event>", "<Event\n", "<Event/"), i)]
    ends = [*starts[1:], len(text)] if starts else []
    assert [segment for _, segment in whole] == [
        text[a:b] for a, b in zip(starts, ends, strict=True)]
    assert [line for line, _ in whole] == [text.count("\n", 0, a) + 1 for a in starts]


def test_ingest_auto_names_an_xml_file_that_is_not_windows_events(tmp_path: Path) -> None:
    from molehunt.errors import SourceError

    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(WINDOWS / "winlogbeat.ndjson", folder / "winlogbeat.ndjson")
    (folder / "sysmon-config.xml").write_text("<Sysmon schemaversion='4.90'></Sysmon>\n")
    workspace = _workspace(tmp_path / "ws")
    with workspace.locked(), pytest.raises(SourceError, match="not Windows events"):
        Ingestor(workspace).ingest_auto(folder)
    with workspace.locked():
        summary = Ingestor(workspace).ingest_auto(folder, skip_unknown=True)
    assert [Path(p).name for p, _ in summary.skipped] == ["sysmon-config.xml"]
    assert [f.rows_stored for f in summary.files] == [12]


def test_cli_shows_skipped_records_in_their_own_column(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"),
           "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "molehunt.cli", "--workspace", str(tmp_path / "ws"), "ingest",
         "windows", str(WINDOWS / "security_wevtutil.xml")],
        capture_output=True, text=True, env=env, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "read" in line)
    assert header.split("┃")[-2].strip() == "skipped"
    row = next(line for line in result.stdout.splitlines() if "security_wevtutil" in line)
    assert [cell.strip() for cell in row.split("│")[4:9]] == ["22", "12", "0", "1", "9"]
    assert "machine account (not a person): 1" in result.stdout + result.stderr


def test_elasticsearch_hits_and_arrays_are_read(tmp_path: Path) -> None:
    docs = [json.loads(line) for line in (WINDOWS / "winlogbeat.ndjson").read_text().splitlines()]
    hits = tmp_path / "search.json"
    hits.write_text(json.dumps({"took": 3, "hits": {"total": {"value": len(docs)},
                                                    "hits": [{"_index": "winlogbeat-8",
                                                              "_source": d} for d in docs]}},
                               indent=2))
    array = tmp_path / "array.json"
    array.write_text(json.dumps(docs))
    for path in (hits, array):
        workspace = _workspace(tmp_path / path.stem)
        [result] = _ingest(workspace, [path]).files
        assert (result.rows_read, result.rows_stored, result.rows_skipped) == (22, 12, 9), path


def test_a_damaged_first_ndjson_line_costs_that_record_alone(tmp_path: Path) -> None:
    lines = (WINDOWS / "winlogbeat.ndjson").read_text().splitlines()
    path = tmp_path / "winlogbeat.ndjson"
    path.write_text("\ufeff" + lines[0][:80] + "\n" + "\n".join(lines[1:]) + "\n")
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [path]).files
    assert result.status == "ingested" and _adds_up(result) and result.rows_read == 22
    assert [(r["line"], r["reason"]) for r in quarantine(workspace)] == [
        (1, "invalid JSON"), (22, "implausible time")]


def _nxlog_through_logstash(tmp_path: Path, shipped_utc: str) -> Path:
    """The local-time NXLog event as a Logstash pipeline ships it: NXLog's own local
    ``EventReceivedTime`` two seconds after the event, and Logstash's ``@timestamp`` in UTC
    (the shape of every Windows recording of the public Security-Datasets/Mordor project)."""
    record = json.loads((WINDOWS / "nxlog_local_time.ndjson").read_text())
    record.update({"EventReceivedTime": "2024-03-04 09:01:14", "@timestamp": shipped_utc,
                   "@version": "1"})
    path = tmp_path / "nxlog_logstash.ndjson"
    path.write_text(json.dumps(record) + "\n")
    return path


def test_nxlog_local_time_takes_the_zone_a_shipper_stamped_in_utc(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [_nxlog_through_logstash(tmp_path,
                                                           "2024-03-04T14:01:14.341Z")]).files
    assert result.rows_stored == 1 and result.rows_quarantined == 0
    [stored] = events(workspace)
    assert str(stored["ts"]) == "2024-03-04 14:01:12"  # 09:01:12 at UTC-05:00
    assert json.loads(stored["attrs"])["utc_offset"] == "-05:00"


def test_nxlog_local_time_stays_quarantined_when_the_shipper_stamp_is_late(tmp_path: Path
                                                                           ) -> None:
    # 4 h 52 min: five hours less eight minutes' delay, or a zone of -04:52? Not guessed.
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [_nxlog_through_logstash(tmp_path,
                                                           "2024-03-04T13:53:14Z")]).files
    assert result.quarantined_by_reason == {"time without zone": 1}


def test_a_split_token_logon_is_one_logon_not_two(tmp_path: Path) -> None:
    # The real Security log (security_4_chunks.evtx) has each of fsir's six interactive logons
    # as two 4624 records at the same instant (User Account Control's filtered and elevated
    # tokens, logon ids 0x2610b and 0x26159 for the first): one logon each is stored.
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [EVTX]).files
    assert _adds_up(result)
    logons = sorted(str(e["ts"]) for e in events(workspace) if e["action"] == "logon")
    assert len(logons) == len(set(logons)) == 6
    assert logons[0] == "2016-07-08 18:15:51.672433"
    assert result.skipped_by_reason[SPLIT_TOKEN_TWIN] == 6


def test_an_evtx_file_cut_inside_a_record_counts_that_record(tmp_path: Path) -> None:
    # plaso's public test file System2.evtx is a Security log cut off 704 bytes before the end
    # of its last chunk, inside record 284: the header walk stopped before it, so the file
    # read one record fewer than its chunk headers say it has, and that record was lost
    # without a word. Cut the same way here: 400 bytes into the last record of the sample.
    data = EVTX.read_bytes()
    last_chunk = 4096 + 3 * 65536
    first, last = struct.unpack_from("<QQ", data, last_chunk + 8)
    cut = data.rfind(b"**\x00\x00", last_chunk, len(data)) + 400
    path = tmp_path / "cut.evtx"
    path.write_bytes(data[:cut])
    in_headers = sum(struct.unpack_from("<QQ", data, 4096 + c * 65536 + 16)[0]
                     - struct.unpack_from("<QQ", data, 4096 + c * 65536 + 8)[0] + 1
                     for c in range(4))
    assert (first, last, in_headers) == (261, 349, 349)
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [path]).files
    assert result.status == "ingested" and _adds_up(result)
    assert result.rows_read == in_headers
    assert result.rows_quarantined >= 1


@given(st.lists(st.tuples(st.integers(0, 20), st.sampled_from("abc"), st.sampled_from("xy"),
                          st.sampled_from(["0x1", "0x2", "0x3", "0x4"]),
                          st.none() | st.integers(0, 30)), max_size=25),
       st.lists(st.tuples(st.integers(0, 120), st.sampled_from("abcd"), st.sampled_from("xy")),
                max_size=6),
       st.lists(st.integers(0, 30), min_size=1, max_size=5))
@settings(max_examples=100, deadline=None)
def test_the_person_at_a_computer_is_found_as_a_scan_of_every_logon_finds_them(
        logons: list[tuple[int, str, str, str, int | None]],
        drive_uses: list[tuple[int, str, str]], moments: list[int]) -> None:
    # the lookup walks back from the moment and bisects each person's logons instead of
    # scanning every logon of the computer (which made a large file's devices cost the square
    # of its logons): it must name the same person, for the same reason, as the scan -
    # logon ids repeated, ties of start, shared computers and drives used by nobody logged on
    sessions, base = _Sessions(), datetime(2024, 3, 4)
    for start, user, account, logon_id, end in logons:
        sessions.start("WS", base + timedelta(minutes=start), logon_id, user, account)
        if end is not None:
            sessions.end("WS", base + timedelta(minutes=end), logon_id)
    for minute, user, account in drive_uses:
        sessions.used_removable("WS", base + timedelta(minutes=minute), user, account)
    for minute in moments:
        at = base + timedelta(minutes=minute)
        open_ = [(start, user, account) for start, logon_id, user, account
                 in sessions.logons.get("WS", [])
                 if start <= at and sessions.ends.get(("WS", logon_id), datetime.max) >= at]
        candidates = {user for _, user, _ in open_}
        want: tuple[str, str, str] | None = None
        if len(candidates) != 1:
            used = sorted(entry for entry in sessions.removable.get("WS", [])
                          if at <= entry[0] <= at + REMOVABLE_USE_WINDOW)
            want = next(((user, account, "removable storage access") for _, user, account
                         in used if user in candidates or not candidates), None)
        if want is None and open_:
            want = (*max(open_)[1:], "interactive logon")
        assert sessions.person_at("WS", at) == want
