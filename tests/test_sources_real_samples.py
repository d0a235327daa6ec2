"""The connectors on real public samples: log records that molehunt did not write.

The samples are small excerpts of permissively licensed public repositories (their origin,
commit and licence are in ATTRIBUTION beside them, and in tests/fixtures/README). They are
not kept in this repository: a developer may commit nothing fetched from a public repository,
and such data files live under the workplace's shared folder. The tests look for them in
``$MOLEHUNT_REAL_SAMPLES``, else in ``shared/real-samples`` beside the repository, and are
skipped when neither is there.

Every test counts the records itself, from the file (lines, array items, EVTX chunk headers),
never from the parser's tally, and checks that records in = stored + duplicates +
quarantined + skipped; then that a few records checked by eye were stored as a person would
read them, and that what is skipped is skipped with a reason.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import pytest

from conftest import events, quarantine
from molehunt.sources.ingest import FileResult, Ingestor
from molehunt.store.workspace import Workspace


def _samples() -> Path | None:
    given = os.environ.get("MOLEHUNT_REAL_SAMPLES")
    folder = (Path(given) if given
              else Path(__file__).resolve().parents[1].parent / "shared" / "real-samples")
    return folder if folder.is_dir() else None


SAMPLES = _samples()
pytestmark = pytest.mark.skipif(SAMPLES is None, reason="no real public samples here (set"
                                " MOLEHUNT_REAL_SAMPLES or place them in shared/real-samples)")


def _sample(*parts: str) -> Path:
    assert SAMPLES is not None
    path = SAMPLES.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"sample {'/'.join(parts)} is not there")
    return path


def _ingest(tmp_path: Path, family: str, path: Path) -> tuple[FileResult, Workspace]:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "molehunt.toml").write_text('company_domains = ["example.com"]\n')
    workspace = Workspace(root)
    with workspace.locked():
        [result] = Ingestor(workspace).ingest_records([path], family).files
    assert result.status == "ingested", result.note
    return result, workspace


def _accounted(result: FileResult, records_in_file: int) -> None:
    assert result.rows_read == records_in_file
    assert records_in_file == (result.rows_stored + result.rows_duplicate
                               + result.rows_quarantined + result.rows_skipped)
    assert all(reason.strip() for reason in result.skipped_by_reason)


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def _by(rows: list[dict[str, Any]], **wanted: str) -> dict[str, Any]:
    [row] = [r for r in rows if all(str(r[k]) == v for k, v in wanted.items())]
    return row


def test_okta_panther_rule_test_events(tmp_path: Path) -> None:
    path = _sample("okta", "panther_okta_rule_tests.ndjson")
    result, workspace = _ingest(tmp_path, "okta", path)
    _accounted(result, _lines(path))
    stored = events(workspace)
    casey = _by(stored, user_id="casey.hill@hey.com")
    assert (casey["action"], str(casey["ts"])) == ("cloud_sign_in", "2024-04-02 19:17:37.621000")
    attrs = json.loads(casey["attrs"])
    assert (attrs["outcome"], attrs["city"], attrs["ip"]) == ("SUCCESS", "Atlanta",
                                                              "99.108.5.25")
    # the same uuid twice in the file: stored once
    assert result.rows_duplicate >= 1
    assert result.skipped_by_reason["event system.api_token.create not read"] == 1
    # Panther's case-folded test copies (eventtype, ...) are read like the others; what is
    # quarantined (scheduled-query rows among the rule tests, which are no LogEvents) has a
    # reason and its line, not dropped
    assert {r["reason"] for r in quarantine(workspace)} <= {"not an Okta event",
                                                            "unparseable time"}


def test_m365_microsoft_reference_records(tmp_path: Path) -> None:
    path = _sample("m365", "msdocs_management_api_reference.json")
    result, workspace = _ingest(tmp_path, "m365", path)
    _accounted(result, len(json.loads(path.read_text(encoding="utf-8"))))
    stored = events(workspace)
    failed = _by(stored, event_id="80c76bd2-9d81-4c57-a97a-accfc3443dca")
    assert (failed["user_id"], failed["action"], str(failed["ts"])) == (
        "admin@contoso.onmicrosoft.com", "cloud_sign_in", "2015-06-29 20:03:19")
    assert json.loads(failed["attrs"])["outcome"] == "failed"
    added = _by(stored, event_id="b567caf0-088e-4c1c-a4ea-633a1e3d66c8")
    assert (added["action"], added["object"]) == ("m365_activity",
                                                  "user001@contoso.onmicrosoft.com")


def test_m365_panther_rule_test_records(tmp_path: Path) -> None:
    path = _sample("m365", "panther_microsoft365_rule_tests.ndjson")
    result, workspace = _ingest(tmp_path, "m365", path)
    _accounted(result, _lines(path))
    stored = events(workspace)
    upload = _by(stored, action="web_upload")
    assert upload["user_id"] == "my.user@yourorg.onmicrosoft.com"
    assert upload["object"].endswith("/Documents/importantsecrets.docx")
    assert (upload["channel"], upload["domain"]) == ("cloud_storage", "alloweddomain.com")
    # the service principal's record is kept apart, not taken for a person
    assert "1 by system or service accounts" in result.note


def test_squid_native_lines_of_logstash_patterns(tmp_path: Path) -> None:
    path = _sample("proxy", "squid_logstash_patterns_spec.log")
    result, workspace = _ingest(tmp_path, "proxy", path)
    _accounted(result, _lines(path))
    [visit] = events(workspace)
    assert (visit["user_id"], visit["action"], visit["object"], str(visit["ts"])) == (
        "public-user", "web_visit", "http://www.sample.com/hellow_world.txt",
        "2018-05-03 07:58:50.556000")
    assert result.skipped_by_reason == {
        "no user name (unauthenticated request or 407 challenge)": 3}


def test_nxlog_json_of_security_datasets(tmp_path: Path) -> None:
    path = _sample("windows", "covenant_copy_smb_CreateRequest_2020-09-22145302.json")
    result, workspace = _ingest(tmp_path, "windows", path)
    _accounted(result, _lines(path))
    assert result.rows_quarantined == 0
    stored = events(workspace)
    assert {(e["user_id"], e["action"]) for e in stored} == {
        ("pgustavo", "network_logon"), ("pgustavo", "share_access"),
        ("pgustavo", "file_write"), ("pgustavo", "file_delete")}
    write = _by(stored, action="file_write")
    assert write["object"] == "\\\\WORKSTATION6\\C$\\ProgramData\\GruntHTTP.exe"
    # NXLog wrote 14:53:30 local time; Logstash's @timestamp says the collector ran at UTC-4
    assert str(write["ts"]) == "2020-09-22 18:53:30"
    assert json.loads(write["attrs"])["utc_offset"] == "-04:00"
    assert result.skipped_by_reason["machine account (not a person)"] == 2
    assert result.skipped_by_reason["named pipe on IPC$ (not a file)"] == 1


def test_truncated_security_evtx_of_plaso(tmp_path: Path) -> None:
    path = _sample("windows", "plaso_System2.evtx")
    data = path.read_bytes()
    in_headers = 0
    for chunk in range(4096, len(data), 65536):
        if data[chunk:chunk + 8] == b"ElfChnk\x00":
            first, last = struct.unpack_from("<QQ", data, chunk + 8)
            in_headers += last - first + 1
    result, workspace = _ingest(tmp_path, "windows", path)
    _accounted(result, in_headers)
    # the last chunk is cut short: its records are quarantined with their chunk, not lost
    assert {r["reason"] for r in quarantine(workspace)} == {"corrupt chunk"}
    stored = events(workspace)
    logons = sorted(str(e["ts"]) for e in stored if e["action"] == "logon")
    assert logons == ["2015-08-08 16:58:39.317734", "2015-08-09 09:14:56.035687"]
    assert {e["user_id"] for e in stored} == {"gold_administrator"}
    assert result.skipped_by_reason["well-known service account (not a person)"] == 43


def test_bluecoat_elff_of_stroom_docs(tmp_path: Path) -> None:
    path = _sample("proxy", "stroom_sampleBluecoat.log")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    result, workspace = _ingest(tmp_path, "proxy", path)
    _accounted(result, len(lines))
    # twenty identical lines of one second are twenty requests, not one and 19 duplicates
    assert result.rows_duplicate == 0
    assert result.skipped_by_reason == {
        "no user name (unauthenticated request or 407 challenge)": 1}
    stored = events(workspace)
    assert len([e for e in stored if e["user_id"] == "george"]) == 21
    post = _by(stored, user_id="carol")
    assert (post["object"], str(post["ts"]), post["bytes"]) == (
        "http://home.silverstar.com/cgi-bin/mailman.cgi", "2005-05-04 17:16:13", 1921)
