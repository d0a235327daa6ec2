"""The Google Workspace Reports API source: saved pages and NDJSON, one set of events.

Fixtures: tests/fixtures/gworkspace/ (written by make_gworkspace_fixtures.py from hand-written
activities in Google's documented layout). Every event must end up stored, a duplicate,
quarantined with its line and reason, or skipped with a reason; the property tests count the
records they write themselves.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, events, quarantine
from molehunt.sources.base import Skipped, SqlContext, Unreadable
from molehunt.sources.google_workspace import GoogleWorkspace
from molehunt.sources.ingest import (
    Ingestor,
    IngestSummary,
    UnaccountedRowsError,
    recognise_records,
)
from molehunt.store.workspace import Workspace

GW = FIXTURES / "gworkspace"
EXPECTED = FIXTURES / "expected" / "gworkspace_events.json"
SETTINGS = 'company_domains = ["corp.example"]\n'
#: Events in the fixtures: 27, of which 3 are skipped (a side effect, Google's own key and
#: a service account).
EVENTS_IN, SKIPPED = 27, 3


def _workspace(root: Path, settings_text: str = SETTINGS) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "molehunt.toml").write_text(settings_text)
    return Workspace(root)


def _ingest(workspace: Workspace, paths: list[Path]) -> IngestSummary:
    with workspace.locked():
        return Ingestor(workspace).ingest_records(paths, "gworkspace")


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for row in rows:
        attrs = json.loads(row["attrs"]) if row.get("attrs") else None
        if attrs:
            attrs.pop("shape", None)
        result.append({k: (str(v) if k in ("ts", "day") and v is not None else v)
                       for k, v in {**row, "attrs": attrs}.items()})
    return result


@pytest.mark.parametrize("name", ["pages.json", "activities.ndjson"])
def test_both_shapes_give_the_same_events(name: str, tmp_path: Path) -> None:
    assert recognise_records(GW / name) is GoogleWorkspace
    workspace = _workspace(tmp_path / "ws")
    result = _ingest(workspace, [GW / name]).files[0]
    assert (result.rows_read, result.rows_stored, result.rows_quarantined,
            result.rows_skipped) == (EVENTS_IN, EVENTS_IN - SKIPPED, 0, SKIPPED)
    assert dict(result.skipped_by_reason) == {
        "Drive side effect of another event (primary_event false)": 1,
        "actor is not a person (callerType KEY: Google or an API key)": 1,
        "actor is a service account (*.gserviceaccount.com)": 1}
    actual = _jsonable(events(workspace))
    if os.environ.get("MOLEHUNT_UPDATE_GOLDEN") and name == "activities.ndjson":
        EXPECTED.write_text(json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True)
                            + "\n")
    assert actual == json.loads(EXPECTED.read_text())
    # never a person: neither Google's own key nor the service account
    assert {e["user_id"] for e in events(workspace)} == {
        "al.ali@corp.example", "bo.berg@corp.example", "cy.chen@corp.example"}


def _by_event(workspace: Workspace) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events(workspace):
        attrs = json.loads(event["attrs"])
        found.setdefault(attrs["event"], []).append({**event, "attrs": attrs})
    return found


def test_mapping_of_the_documented_events(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [GW / "activities.ndjson"])
    by = _by_event(workspace)
    first = {name: (rows[0]["action"], rows[0]["channel"]) for name, rows in by.items()}
    assert first["view"] == ("file_open", "cloud_storage")
    assert first["download"] == ("file_copy", "cloud_storage")
    assert by["download"][0]["attrs"]["direction"] == "download"
    assert first["edit"] == first["upload"] == first["create"] == ("file_write",
                                                                   "cloud_storage")
    assert first["copy"] == ("file_copy", "cloud_storage")
    assert first["trash"] == ("file_delete", "cloud_storage")
    assert first["print"] == ("print", "printer")
    shares = {(e["target"], e["action"], e["domain"]) for e in by["change_user_access"]}
    # a personal address outside the company; a colleague; the personal address removed
    assert shares == {("al.ali.private@gmail.com", "web_upload", "gmail.com"),
                      ("cy.chen@corp.example", "file_share", "corp.example"),
                      ("al.ali.private@gmail.com", "share_revoked", "gmail.com")}
    visibility = {e["attrs"]["visibility"]: e["action"]
                  for e in by["change_document_visibility"]}
    assert visibility == {"people_with_link": "web_upload",
                          "people_within_domain_with_link": "file_share"}
    assert first["change_acl_editors"] == ("web_upload", "cloud_storage")  # shared outside
    assert all(e["channel"] == "cloud_storage" for e in by["change_document_visibility"])
    assert "change_document_access_scope" not in by  # the side effect
    assert first["login_success"] == first["login_failure"] == ("cloud_sign_in", None)
    assert by["login_failure"][0]["attrs"]["outcome"] == "failure"
    assert by["suspicious_login"][0]["attrs"]["suspicious"] is True
    assert first["logout"] == ("gworkspace_activity", None)
    mail = {e["attrs"]["mail_event_type"]: e for e in by["delivery"]}
    sent_home = next(e for e in by["delivery"] if e["user_id"] == "al.ali@corp.example")
    assert (sent_home["action"], sent_home["channel"], sent_home["domain"],
            sent_home["bytes"], sent_home["n_attachments"], sent_home["content"]) == (
        "email_send", "webmail", "gmail.com", 48213, 1, "for home")
    assert sent_home["attrs"]["attachments"] == ["roadmap.pdf"]
    internal = next(e for e in by["delivery"] if e["user_id"] == "bo.berg@corp.example")
    assert (internal["action"], internal["channel"]) == ("email_send", "email_internal")
    assert (mail[11]["action"], mail[11]["channel"], mail[11]["target"]) == (
        "email_send", "webmail", "cy.chen.home@outlook.com")
    assert (mail[2]["action"], mail[2]["user_id"], mail[2]["target"], mail[2]["domain"]) == (
        "email_view", "cy.chen@corp.example", "bo.berg@corp.example", "corp.example")
    grant = by["authorize"][0]
    assert (grant["action"], grant["object"], grant["target"]) == (
        "oauth_grant", "PDF Converter Pro", "77310987654-abcd.apps.googleusercontent.com")
    assert grant["attrs"]["scopes"] == ["https://www.googleapis.com/auth/drive.readonly",
                                        "https://www.googleapis.com/auth/gmail.readonly"]
    assert first["revoke"] == ("oauth_revoke", None)
    view = by["view"][0]
    assert (view["object"], view["attrs"]["title"], view["attrs"]["owner"],
            view["attrs"]["own_file"]) == ("1aX9roadmapQ2FvW3", "Roadmap 2025",
                                           "bo.berg@corp.example", False)


def test_without_company_domains_the_actors_own_domain_is_inside(tmp_path: Path) -> None:
    # ingest gworkspace may run before any directory: a colleague must not count as outside
    workspace = _workspace(tmp_path / "ws", settings_text="")
    _ingest(workspace, [GW / "activities.ndjson"])
    by = _by_event(workspace)
    actions = {e["target"]: e["action"] for e in by["change_user_access"]
               if e["action"] != "share_revoked"}
    assert actions == {"al.ali.private@gmail.com": "web_upload",
                       "cy.chen@corp.example": "file_share"}


def test_an_outside_collaborator_sharing_onwards_shares_outside(tmp_path: Path) -> None:
    # the customer's domain (ownerDomain) is inside, not the collaborator's own
    activity = json.loads((GW / "activities.ndjson").read_text().splitlines()[9])
    activity["actor"] = {"callerType": "USER", "email": "pat@partner.example"}
    activity["events"][0]["parameters"] = [
        {"name": "doc_id", "value": "1bY8pricingR3GwX4"},
        {"name": "target_user", "value": "sam@partner.example"},
        {"name": "new_value", "multiValue": ["can_view"]}]
    path = tmp_path / "collaborator.ndjson"
    path.write_text(json.dumps(activity) + "\n")
    workspace = _workspace(tmp_path / "ws", settings_text="")
    _ingest(workspace, [path])
    assert [(e["user_id"], e["action"], e["domain"]) for e in events(workspace)] == [
        ("pat@partner.example", "web_upload", "partner.example")]


def test_an_int_value_padded_with_separator_characters_does_not_stop_the_read(
        tmp_path: Path) -> None:
    """``intValue`` "\\x1c3\\x1f": the reader's pattern took the separators for white space
    and ``int()`` raised, which ended the ingest with an internal error; now it reads as
    the M365 reader reads it, and the download is stored."""
    activity = {"kind": "admin#reports#activity",
                "id": {"time": "2026-01-01T00:00:00Z", "applicationName": "drive",
                       "uniqueQualifier": "1"},
                "actor": {"email": "a@corp.example"},
                "events": [{"type": "access", "name": "download",
                            "parameters": [{"name": "size", "intValue": "\x1c3\x1f"}]}]}
    path = tmp_path / "padded.ndjson"
    path.write_text(json.dumps(activity) + "\n")
    workspace = _workspace(tmp_path / "ws")
    result = _ingest(workspace, [path]).files[0]
    assert (result.status, result.rows_read, result.rows_stored) == ("ingested", 1, 1)
    assert [e["action"] for e in events(workspace)] == ["file_copy"]


def test_bad_records_are_quarantined_with_line_and_reason(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    result = _ingest(workspace, [GW / "bad.ndjson"]).files[0]
    assert (result.rows_read, result.rows_stored, result.rows_duplicate,
            result.rows_quarantined) == (12, 1, 1, 10)
    rows = quarantine(workspace)
    assert [(r["line"], r["reason"]) for r in rows] == [
        (1, "unparseable id.time"),
        (2, "no actor e-mail"),
        (3, "no applicationName"),
        (4, "empty event name"),
        (5, "invalid JSON"),
        (6, "not a JSON object"),
        (6, "not a JSON object"),
        (7, "activity without events"),
        (8, "event not a JSON object"),
        (9, "negative size"),
    ]
    assert all(r["raw"] and r["layout"] == "gworkspace.reports" for r in rows)
    assert rows[0]["detail"] == 'record 1: id.time "yesterday"'


def test_the_same_activity_through_another_shape_is_a_duplicate(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [GW / "pages.json"])
    again = _ingest(workspace, [GW / "pages.json", GW / "activities.ndjson"])
    assert again.files[0].status == "skipped"
    assert (again.files[1].rows_stored, again.files[1].rows_duplicate) == (
        0, EVENTS_IN - SKIPPED)


def test_quarantined_activities_in_a_page_keep_their_own_line(tmp_path: Path) -> None:
    page = json.loads((GW / "pages.json").read_text().split("\n}\n")[0] + "\n}")
    page["items"][2]["id"]["time"] = "not a time"
    path = tmp_path / "page.json"
    text = json.dumps(page, indent=2)
    path.write_text(text)
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [path])
    line = text[:text.index('"not a time"')].count("\n") + 1
    start = text[:text.rindex("{", 0, text.index('"not a time"'))].rfind('\n    {')
    assert [r["reason"] for r in quarantine(workspace)] == ["unparseable id.time"]
    assert quarantine(workspace)[0]["line"] == text[:start + 1].count("\n") + 1 < line


@pytest.mark.parametrize("name", ["pages.json", "activities.ndjson"])
def test_an_event_lost_by_the_reader_fails_the_file(name: str, tmp_path: Path) -> None:
    class KeepsFirstEvents(GoogleWorkspace):
        """A reader that reads one record per activity, losing the second event of the
        activity that has two (the count of events, not of activities, must notice)."""

        def records(self, path: Path, ctx: SqlContext
                    ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
            return (r for r in super().records(path, ctx)
                    if not (isinstance(r, Skipped) and "side effect" in r.reason))

    workspace = _workspace(tmp_path / "ws")
    with workspace.locked(), pytest.raises(UnaccountedRowsError, match="1 unaccounted"):
        Ingestor(workspace).ingest_record_file(GW / name, KeepsFirstEvents)
    assert not events(workspace)


def test_the_sample_in_the_documentation_becomes_what_it_says(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "docs" / "sources.md").read_text()
    section = text[text.index("## Google Workspace Reports API"):]
    sample = section[section.index("```json") + 7:section.index("```\n\n→")]
    path = tmp_path / "sample.json"
    path.write_text(sample)
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [path])
    (event,) = events(workspace)
    assert (event["action"], event["channel"], event["user_id"], event["object"],
            event["target"], event["domain"]) == (
        "web_upload", "cloud_storage", "al.ali@corp.example", "1aX9roadmapQ2FvW3",
        "al.ali.private@gmail.com", "gmail.com")
    assert json.loads(event["attrs"])["own_file"] is False


def test_pages_one_per_file_compressed_utf16_and_an_empty_last_page(tmp_path: Path) -> None:
    # a pull script saves each page as it comes; the last page of a quiet day has no items
    pages = [json.loads("{" + part if not part.startswith("{") else part)
             for part in (GW / "pages.json").read_text().strip().split("\n{")]
    folder = tmp_path / "pulled"
    folder.mkdir()
    for number, page in enumerate(pages):
        text = json.dumps(page, indent=2)
        path = folder / f"page_{number}.json"
        if number == 0:
            (folder / "page_0.json.gz").write_bytes(gzip.compress(text.encode()))
        elif number == 1:
            path.write_bytes(text.encode("utf-16"))
        else:
            path.write_text(text)
    assert "items" not in pages[-1]
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [folder])
    assert [f.status for f in summary.files] == ["ingested"] * len(pages)
    assert sum(f.rows_stored for f in summary.files) == EVENTS_IN - SKIPPED
    assert _jsonable(events(workspace)) == json.loads(EXPECTED.read_text())


def test_bytes_that_are_not_utf8_cost_their_activity_alone(tmp_path: Path) -> None:
    text = (GW / "pages.json").read_bytes().replace(b"Signed contract.pdf",
                                                    b"Signed \xffcontract.pdf", 1)
    path = tmp_path / "pages.json"
    path.write_bytes(text)
    workspace = _workspace(tmp_path / "ws")
    result = _ingest(workspace, [path]).files[0]
    assert (result.rows_stored, dict(result.quarantined_by_reason)) == (
        EVENTS_IN - SKIPPED - 1, {"invalid UTF-8": 1})
    (row,) = quarantine(workspace)
    starts = text[:text.index(b"\xff")].rfind(b"\n    {")  # the activity holding the byte
    assert row["line"] == text[:starts + 1].count(b"\n") + 1 > 100


def test_a_damaged_first_ndjson_line_costs_that_activity_alone(tmp_path: Path) -> None:
    lines = (GW / "activities.ndjson").read_text().splitlines()
    path = tmp_path / "activities.ndjson"
    path.write_text(lines[0][:120] + "\n" + "\n".join(lines[1:]) + "\n")
    workspace = _workspace(tmp_path / "ws")
    result = _ingest(workspace, [path]).files[0]
    assert (result.rows_stored, dict(result.quarantined_by_reason)) == (
        EVENTS_IN - SKIPPED - 1, {"invalid JSON": 1})
    assert [r["line"] for r in quarantine(workspace)] == [1]


def _molehunt(*args: str, workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace),
                           *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=300)


def test_cli_ingest_gworkspace_and_ingest_auto(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    _workspace(workspace)
    done = _molehunt("ingest", "gworkspace", str(GW / "pages.json"), workspace=workspace)
    assert done.returncode == 0, done.stderr
    assert "gworkspace.reports" in done.stdout
    wrong = _molehunt("ingest", "gworkspace", str(FIXTURES / "m365" / "management_api.ndjson"),
                      workspace=workspace)
    assert wrong.returncode == 1 and "unknown layout" in wrong.stderr
    folder = tmp_path / "org"
    (folder / "google").mkdir(parents=True)
    (folder / "google" / "activities.ndjson").write_bytes(
        (GW / "activities.ndjson").read_bytes())
    (folder / "audit.ndjson").write_bytes((FIXTURES / "m365" / "management_api.ndjson")
                                          .read_bytes())
    auto_ws = tmp_path / "auto"
    _workspace(auto_ws)
    auto = _molehunt("ingest", "auto", str(folder), workspace=auto_ws)
    assert auto.returncode == 0, auto.stderr
    report = json.loads(_molehunt("status", "--json", workspace=auto_ws).stdout)
    assert sorted((Path(f["path"]).name, f["layout"]) for f in report["files"]) == [
        ("activities.ndjson", "gworkspace.reports"), ("audit.ndjson", "m365.audit")]
    assert "cloud_files" in report["coverage"]["observed"]


# -- property tests: never crash, every record accounted for --------------------------------
_SETTINGS = settings(max_examples=12, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])
_BASE = [json.loads(line) for line in (GW / "activities.ndjson").read_text().splitlines()]
_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)
_FIELDS = ["id", "actor", "events", "kind", "items", "ipAddress"]
_DEEP = [("id", "time"), ("id", "applicationName"), ("id", "uniqueQualifier"),
         ("actor", "email"), ("actor", "callerType")]


@st.composite
def _activity(draw: st.DrawFn) -> object:
    """A real activity with some fields replaced by anything, or any JSON value at all."""
    if draw(st.integers(0, 5)) == 0:
        return draw(_json_value)
    activity = json.loads(json.dumps(draw(st.sampled_from(_BASE))))
    for field in draw(st.lists(st.sampled_from(_FIELDS), max_size=2)):
        activity[field] = draw(_json_value)
    for outer, inner in draw(st.lists(st.sampled_from(_DEEP), max_size=2)):
        if isinstance(activity.get(outer), dict):
            activity[outer][inner] = draw(_json_value)
    events_ = activity.get("events")
    if isinstance(events_, list) and events_ and isinstance(events_[0], dict) and draw(
            st.booleans()):
        events_[0]["parameters"] = draw(st.lists(st.one_of(_json_value, st.fixed_dictionaries(
            {"name": st.sampled_from(["doc_id", "visibility", "target_user", "new_value",
                                      "event_info", "message_info", "primary_event"]),
             "value": _json_value, "intValue": _json_value, "multiValue": _json_value,
             "messageValue": _json_value})), max_size=4))
    return activity


def _records_in(value: object) -> int:
    """The records a top-level value holds, by the documented rule, counted here: a page's
    items (none for an empty page), an array's elements (a page among them its items), each
    activity its events or one."""
    def of_one(v: object) -> list[object]:
        if isinstance(v, dict) and isinstance(v.get("items"), list):
            return list(v["items"])
        if isinstance(v, dict) and "items" not in v and v.get("kind") == \
                "admin#reports#activities":
            return []
        return [v]

    activities = ([a for e in value for a in of_one(e)] if isinstance(value, list)
                  else of_one(value))
    return sum(len(a["events"]) or 1 if isinstance(a, dict) and isinstance(a.get("events"),
                                                                            list) else 1
               for a in activities)


def _accounted(summary: IngestSummary, records_in: int, workspace: Workspace) -> None:
    result = summary.files[0]
    assert result.status == "ingested", result.note
    assert (result.rows_stored + result.rows_duplicate + result.rows_quarantined
            + result.rows_skipped) == records_in
    assert all(r["line"] is not None and r["line"] >= 1 for r in quarantine(workspace))
    assert len(events(workspace)) == result.rows_stored


_line = st.one_of(_activity().map(lambda a: json.dumps(a).encode()),
                  st.binary(max_size=30).filter(lambda b: b"\n" not in b and b"\r" not in b))


def _line_records(line: bytes) -> int:
    if not line.strip():
        return 0
    try:
        return _records_in(json.loads(line))
    except ValueError:
        return 1


@_SETTINGS
@given(st.lists(_line, min_size=1, max_size=12))
def test_ndjson_never_crashes_and_accounts_for_every_record(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "activities.ndjson"
        first = json.dumps(_BASE[0]).encode()
        path.write_bytes(first + b"\n" + b"\n".join(lines) + b"\n")
        workspace = _workspace(Path(tmp) / "ws")
        summary = _ingest(workspace, [path])
        _accounted(summary, _line_records(first) + sum(map(_line_records, lines)), workspace)


@_SETTINGS
@given(st.lists(st.lists(_activity(), max_size=6), min_size=1, max_size=3), st.booleans(),
       st.booleans())
def test_pages_never_crash_and_account_for_every_record(pages: list[list[object]],
                                                        pretty: bool, as_array: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pages.json"
        # one real activity first: a file with no activity at all is not of this source
        values: list[object] = [{"kind": "admin#reports#activities", "items": [_BASE[0],
                                                                               *pages[0]]}]
        values += [{"kind": "admin#reports#activities", "items": items} if items
                   else {"kind": "admin#reports#activities"} for items in pages[1:]]
        indent = 2 if pretty else None
        path.write_text(json.dumps(values, indent=indent) if as_array
                        else "\n".join(json.dumps(v, indent=indent) for v in values))
        workspace = _workspace(Path(tmp) / "ws")
        summary = _ingest(workspace, [path])
        _accounted(summary, sum(_records_in(v) for v in values), workspace)
