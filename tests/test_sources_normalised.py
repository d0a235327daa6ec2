"""The OCSF and ECS input sources: documents a data lake already normalised become our events.

Fixtures: tests/fixtures/normalised/ (make_normalised_fixtures.py writes them from
hand-written documents in the public schemas' layout, with what becomes of each beside it).
Every document must end up stored, a duplicate, quarantined with its location and reason, or
skipped with a reason; the property tests count the documents they write themselves.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, events, quarantine
from molehunt.sources.ecs_input import EcsEvents
from molehunt.sources.ingest import FileResult, Ingestor, IngestSummary, recognise_records
from molehunt.sources.ocsf_input import OcsfEvents
from molehunt.sources.windows_security import WindowsSecurity
from molehunt.store.workspace import Workspace

NORMALISED = FIXTURES / "normalised"
EXPECTED = FIXTURES / "expected"
SHAPES = {"ocsf": ["ocsf_events.ndjson", "ocsf_events.json"],
          "ecs": ["ecs_events.ndjson", "ecs_search.json"]}


def _workspace(root: Path) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "molehunt.toml").write_text('company_domains = ["corp.example"]\n')
    return Workspace(root)


def _ingest(workspace: Workspace, paths: list[Path], family: str) -> IngestSummary:
    with workspace.locked():
        return Ingestor(workspace).ingest_records(paths, family)


def _adds_up(result: FileResult) -> bool:
    return result.rows_read == (result.rows_stored + result.rows_duplicate
                                + result.rows_quarantined + result.rows_skipped)


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for row in rows:
        attrs = json.loads(row["attrs"]) if row.get("attrs") else None
        result.append({k: (str(v) if k in ("ts", "day") and v is not None else v)
                       for k, v in {**row, "attrs": attrs}.items()})
    return sorted(result, key=lambda r: (r["ts"], r["event_id"]))


@pytest.mark.parametrize(("family", "shape"),
                         [(f, s) for f, shapes in SHAPES.items() for s in shapes])
def test_every_shape_gives_the_same_events(family: str, shape: str, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [NORMALISED / shape], family).files
    assert result.status == "ingested" and _adds_up(result)
    expected_counts = {"ocsf": (24, 15, 8), "ecs": (19, 11, 7)}[family]
    assert (result.rows_read, result.rows_stored, result.rows_skipped) == expected_counts
    assert result.quarantined_by_reason == {"implausible time": 1}
    golden = EXPECTED / f"{family}_events.json"
    actual = _jsonable(events(workspace))
    if os.environ.get("MOLEHUNT_UPDATE_GOLDEN") and shape == SHAPES[family][0]:
        golden.write_text(json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True)
                          + "\n")
    assert actual == json.loads(golden.read_text())


def _seen(workspace: Workspace) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {(e["user_id"], e["action"], e["channel"], e["object"]): e for e in events(workspace)}


def test_what_each_ocsf_event_becomes(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [NORMALISED / "ocsf_events.ndjson"], "ocsf").files
    seen = _seen(workspace)
    alice = "alice@corp.example"
    opened = seen[(alice, "file_open", "local", "C:\\Projects\\atlas\\design.docx")]
    assert (opened["host"], opened["bytes"], opened["source"]) == ("WS-0042", 52000, "ocsf")
    assert opened["event_id"] == "ocsf:f-1"  # metadata.uid: read twice, stored once
    assert (alice, "file_write", "network_share", "\\\\FS-01\\Finance\\Q1\\budget.xlsx") in seen
    assert (alice, "logon", "local", "WS-0042") in seen
    assert ("bob@corp.example", "network_logon", "network_share", "FS-01") in seen
    assert ("carol@corp.example", "cloud_sign_in", None, "Salesforce") in seen
    sent = seen[(alice, "email_send", "email_external", "<m1@corp.example>")]
    assert (sent["domain"], sent["n_attachments"], sent["content"]) == (
        "rival.example", 2, "Q3 pricing")
    assert sent["target"] == "partner@rival.example;bob@corp.example"
    assert ("bob@corp.example", "email_send", "email_internal", None) in seen
    assert (alice, "email_send", "webmail", None) in seen
    viewed = seen[("carol@corp.example", "email_view", "email_external", None)]
    assert viewed["domain"] == "headhunt.example"
    download = seen[(alice, "web_download", "cloud_storage",
                     "https://drive.google.com/file/d/abc")]
    assert download["bytes"] == 300000
    upload = seen[("bob@corp.example", "web_upload", "webmail",
                   "https://mail.proton.me/api/upload")]
    assert (upload["bytes"], upload["host"], upload["domain"]) == (
        5000000, "WS-0077", "mail.proton.me")
    assert ("bob@corp.example", "web_visit", "web", "news.example.org/article") in seen
    assert (alice, "file_share", "cloud_storage", "plans.docx") in seen
    assert result.skipped_by_reason == {
        "file activity Rename not read": 1, "failed logon": 1,
        "service account (not a person)": 1, "machine account (not a person)": 1,
        "received mail without an actor and not to one recipient": 1,
        "web resource activity other than read, search, create, import, update, export or"
        " share": 1,
        "HTTP activity other than get, connect, post, put or patch": 1,
        "OCSF class 4001 not read": 1}


def test_what_each_ecs_document_becomes(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [NORMALISED / "ecs_search.json"], "ecs").files
    seen = _seen(workspace)
    alice = "alice@corp.example"
    opened = seen[(alice, "file_open", "local", "C:\\Projects\\atlas\\design.docx")]
    assert (opened["host"], opened["bytes"], opened["event_id"]) == ("WS-0042", 52000,
                                                                     "ecs:f-1")
    # the second hit writes its fields as dotted keys: read the same
    assert (alice, "file_write", "network_share", "\\\\FS-01\\Finance\\Q1\\budget.xlsx") in seen
    assert json.loads(seen[(alice, "logon", "local", "WS-0042")]["attrs"])["source_ip"] == (
        "10.0.0.42")
    assert (alice, "logoff", "local", "WS-0042") in seen
    assert ("carol@corp.example", "cloud_sign_in", None, "okta.system") in seen
    assert seen[(alice, "email_send", "email_external", "<m1@corp.example>")][
        "n_attachments"] == 2
    assert ("bob@corp.example", "email_send", "email_internal", None) in seen
    assert ("carol@corp.example", "email_view", "email_external", None) in seen
    assert seen[("bob", "web_upload", "webmail", "https://mail.proton.me/api/upload")][
        "bytes"] == 5000000
    assert seen[("bob", "web_visit", "cloud_storage", "https://www.dropbox.com/s/x")][
        "domain"] == "dropbox.com"
    assert result.skipped_by_reason == {
        "file event of type info not read": 1, "failed logon": 1,
        "well-known service account (not a person)": 1, "machine account (not a person)": 1,
        "e-mail whose direction cannot be told (no send or receive action, no"
        " email.direction)": 1,
        "HTTP method OPTIONS not read": 1, "ECS category process not read": 1}


@pytest.mark.parametrize("family", list(SHAPES))
def test_one_document_read_through_two_shapes_is_stored_once(family: str,
                                                             tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    summary = _ingest(workspace, [NORMALISED / s for s in SHAPES[family]], family)
    stored = {"ocsf": 15, "ecs": 11}[family]
    assert [(f.rows_stored, f.rows_duplicate) for f in summary.files] == [(stored, 0),
                                                                          (0, stored)]


@pytest.mark.parametrize(("family", "expected"), [
    ("ocsf", [(1, "invalid JSON"), (2, "not a JSON object"), (3, "no class_uid"),
              (4, "unparseable time"), (5, "empty user"), (6, "negative size"),
              (7, "empty user"), (8, "truncated last line (invalid JSON)")]),
    ("ecs", [(1, "invalid JSON"), (2, "not a JSON object"), (3, "no event.category"),
             (4, "unparseable time"), (5, "empty user"), (6, "negative size")]),
])
def test_malformed_documents_are_quarantined_with_their_line(
        family: str, expected: list[tuple[int, str]], tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [NORMALISED / f"{family}_bad.ndjson"], family).files
    assert result.status == "ingested" and _adds_up(result)
    assert result.rows_read == len(expected) and result.rows_stored == 0
    assert [(r["line"], r["reason"]) for r in quarantine(workspace)] == expected


def test_ingest_auto_tells_ocsf_ecs_and_winlogbeat_apart(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    names = {"ocsf_events.ndjson": OcsfEvents, "ocsf_events.json": OcsfEvents,
             "ecs_events.ndjson": EcsEvents, "ecs_search.json": EcsEvents}
    for name, layout in names.items():
        shutil.copy(NORMALISED / name, folder / name)
        assert recognise_records(folder / name) is layout, name
    # Winlogbeat writes ECS too, but its Windows events are the Windows source's
    shutil.copy(FIXTURES / "windows" / "winlogbeat.ndjson", folder / "winlogbeat.ndjson")
    assert recognise_records(folder / "winlogbeat.ndjson") is WindowsSecurity
    workspace = _workspace(tmp_path / "ws")
    with workspace.locked():
        summary = Ingestor(workspace).ingest_auto(folder)
    assert sorted(f.layout for f in summary.files) == [
        "ecs.events", "ecs.events", "ocsf.events", "ocsf.events", "windows.security"]
    assert all(f.status == "ingested" and _adds_up(f) for f in summary.files)


def test_no_other_source_file_is_taken_for_ocsf_or_ecs() -> None:
    others = [p for folder in ("m365", "windows", "hr") for p in (FIXTURES / folder).iterdir()
              if p.is_file()]
    assert others
    claimed = [p.name for p in others
               if recognise_records(p) in (OcsfEvents, EcsEvents)]
    assert claimed == []


def test_the_ocsf_fixtures_are_valid_ocsf() -> None:
    """The hand-written OCSF events follow the schema (pydantic-ocsf, a test dependency)."""
    from ocsf.v1_7_0 import events as ocsf_events

    classes = {1001: ocsf_events.FileActivity, 3002: ocsf_events.Authentication,
               4001: ocsf_events.NetworkActivity, 4002: ocsf_events.HttpActivity,
               4009: ocsf_events.EmailActivity, 6001: ocsf_events.WebResourcesActivity}
    documents = json.loads((NORMALISED / "ocsf_events.json").read_text("utf-8"))
    for document in documents:
        checked = json.loads(json.dumps(document))
        # pydantic-ocsf 3.0 types http_request.http_method as an integer from OCSF 1.5 on;
        # the schema has it a string ("GET", "POST"), as the fixtures write it
        assert checked.get("http_request", {}).pop("http_method", "GET") in {
            "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE"}
        classes[document["class_uid"]].model_validate(checked)
    assert len(documents) == 24


def test_cli_ingest_ocsf_and_ecs(tmp_path: Path) -> None:
    from test_cli import _molehunt

    workspace = _workspace(tmp_path / "ws")
    for family, name in (("ocsf", "ocsf_events.ndjson"), ("ecs", "ecs_events.ndjson")):
        done = _molehunt("ingest", family, str(NORMALISED / name), workspace=workspace.root)
        assert done.returncode == 0, done.stderr
        assert "skipped" in done.stdout
    assert len(events(workspace)) == 15 + 11


# -- property tests -----------------------------------------------------------------------
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10)
_ANY = st.one_of(_TEXT, st.integers(-5, 10**12), st.none(), st.booleans(),
                 st.lists(_TEXT, max_size=2), st.dictionaries(_TEXT, _TEXT, max_size=2))
_OCSF = st.fixed_dictionaries({
    "class_uid": st.sampled_from([1001, 3002, 4002, 4009, 6001, 4001, "1001", None]),
    "activity_id": st.one_of(st.integers(0, 15), st.just(99), _ANY),
    "time": st.one_of(st.integers(0, 5 * 10**12), st.just(1709283600000), _ANY),
    "metadata": st.fixed_dictionaries({"version": st.just("1.7.0"),
                                       "uid": st.one_of(st.none(), st.text(max_size=3))}),
    "actor": st.one_of(st.fixed_dictionaries({"user": st.one_of(
        st.fixed_dictionaries({"name": st.sampled_from(["alice", "WS-1$", ""]),
                               "type_id": st.sampled_from([1, 3, 4, 0])}), _ANY)}), _ANY),
    "user": st.one_of(st.fixed_dictionaries({"email_addr": st.sampled_from(
        ["a@corp.example", ""])}), _ANY),
    "logon_type_id": st.one_of(st.integers(0, 13), _ANY),
    "file": st.one_of(st.fixed_dictionaries({"path": _TEXT, "size": st.integers(-3, 10**9)}),
                      _ANY),
    "email": st.one_of(st.fixed_dictionaries({
        "from": _ANY, "to": st.lists(st.sampled_from(["b@x.example", "c@gmail.com", ""]),
                                     max_size=3)}), _ANY),
    "web_resources": st.one_of(st.lists(st.fixed_dictionaries(
        {"url_string": st.sampled_from(["https://drive.google.com/x", "not a url", ""])}),
        max_size=2), _ANY),
    "http_request": st.one_of(st.fixed_dictionaries({"url": st.one_of(
        st.fixed_dictionaries({"url_string": _TEXT}), _ANY)}), _ANY),
})
_ECS = st.fixed_dictionaries({
    "@timestamp": st.one_of(st.sampled_from(["2024-03-01T09:00:00Z", "2024-03-01 09:00",
                                             "1970-01-01T00:00:00Z"]), _ANY),
    "event": st.one_of(st.fixed_dictionaries({
        "category": st.one_of(st.sampled_from(["file", "authentication", "email", "web",
                                               "network", "process"]),
                              st.lists(st.sampled_from(["file", "web", "email"]), max_size=2),
                              _ANY),
        "type": st.one_of(st.lists(st.sampled_from(["access", "creation", "deletion", "start",
                                                    "end", "info"]), max_size=2), _ANY),
        "action": st.one_of(st.sampled_from(["sent", "received", "x"]), _ANY),
        "outcome": st.sampled_from(["success", "failure", ""]),
        "id": st.one_of(st.none(), st.text(max_size=3))}), _ANY),
    "user": st.one_of(st.fixed_dictionaries({"name": st.sampled_from(["bob", "SYSTEM", "X$",
                                                                      ""])}), _ANY),
    "host": st.one_of(st.fixed_dictionaries({"name": _TEXT}), _ANY),
    "url": st.one_of(st.fixed_dictionaries({"full": _TEXT}), _ANY),
    "http": st.one_of(st.fixed_dictionaries({"request": st.fixed_dictionaries({
        "method": st.sampled_from(["GET", "POST", "DELETE", ""]),
        "bytes": st.one_of(st.integers(-2, 10**9), _ANY)})}), _ANY),
    "email": st.one_of(st.fixed_dictionaries({"direction": st.sampled_from(["inbound",
                                                                           "outbound", ""]),
                                              "to": st.fixed_dictionaries({"address": _ANY})}),
                       _ANY),
})
_DAMAGE = st.sampled_from(["none", "none", "none", "cut", "garbage", "array"])


def _line(document: dict[str, Any], damage: str) -> str:
    text = json.dumps(document)
    if damage == "cut":
        return text[:len(text) // 2]
    if damage == "garbage":
        return "{" + text
    if damage == "array":
        return json.dumps([document])  # a JSON value that is no object: one unreadable record
    return text


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(family=st.sampled_from(["ocsf", "ecs"]), data=st.data(),
       as_array=st.booleans())
def test_any_documents_are_accounted_for(tmp_path_factory: pytest.TempPathFactory,
                                         family: str, data: st.DataObject,
                                         as_array: bool) -> None:
    root = tmp_path_factory.mktemp("prop")
    documents = data.draw(st.lists(_OCSF if family == "ocsf" else _ECS, max_size=10))
    # the first document is whole, so that the file is recognised as the family's
    source = NORMALISED / f"{family}_events.ndjson"
    first = json.loads(source.read_text("utf-8").splitlines()[0])
    if as_array:
        path = root / "events.json"
        path.write_text(json.dumps([first, *documents]))
        count = 1 + len(documents)
    else:
        damage = data.draw(st.lists(_DAMAGE, min_size=len(documents),
                                    max_size=len(documents)))
        path = root / "events.ndjson"
        lines = [json.dumps(first), *(_line(d, x) for d, x in zip(documents, damage,
                                                                   strict=True))]
        path.write_text("\n".join(lines) + "\n")
        count = len(lines)
    workspace = _workspace(root / "ws")
    [result] = _ingest(workspace, [path], family).files
    assert result.status == "ingested", result.note
    assert result.rows_read == count and _adds_up(result)
    assert len(events(workspace)) == result.rows_stored
    assert len(quarantine(workspace)) == result.rows_quarantined


def test_ecs_proxy_body_bytes_count_as_the_upload() -> None:
    document = {"@timestamp": "2024-03-01T09:00:00Z", "user": {"name": "bob"},
                "event": {"category": ["network"]}, "url": {"full": "https://box.com/u"},
                "http": {"request": {"method": "PUT", "body": {"bytes": 7_000_000}}}}
    flat = EcsEvents().flatten(document)
    assert isinstance(flat, dict)
    assert (flat["action"], flat["bytes"], flat["domain"]) == ("web_upload", 7_000_000,
                                                              "box.com")


def test_ocsf_time_in_epoch_seconds_is_read_as_seconds(tmp_path: Path) -> None:
    # OCSF's time is milliseconds, but producers write seconds too (the OCSF project's own
    # examples of an Okta sign-in and of an HTTP request do): read as milliseconds it is a
    # moment of January 1970, and the event was quarantined as implausible.
    document = {"class_uid": 3002, "category_uid": 3, "activity_id": 1, "status_id": 1,
                "time": 1723564700, "time_dt": "2024-08-13T15:58:20.000Z",
                "metadata": {"uid": "okta-seconds-1", "version": "1.3.0",
                             "product": {"name": "Okta System Log", "vendor_name": "Okta"}},
                "user": {"email_addr": "dana@corp.example", "name": "Dana", "type_id": 1}}
    path = tmp_path / "seconds.ndjson"
    path.write_text(json.dumps(document) + "\n")
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [path], "ocsf").files
    assert result.rows_stored == 1 and not result.quarantined_by_reason
    [stored] = events(workspace)
    assert str(stored["ts"]) == "2024-08-13 15:58:20"
    assert (stored["user_id"], stored["action"]) == ("dana@corp.example", "cloud_sign_in")


def test_ocsf_http_request_without_a_user_is_skipped_not_quarantined(tmp_path: Path) -> None:
    # OCSF HTTP Activity has no required user (the OCSF project's own proxy example has
    # none): like a proxy log's unauthenticated request it is skipped with a reason, not
    # quarantined as malformed.
    document = {"class_uid": 4002, "category_uid": 4, "activity_id": 3, "time": 1729092237000,
                "metadata": {"uid": "http-no-user-1", "version": "1.3.0",
                             "product": {"name": "Proxy", "vendor_name": "Example"}},
                "http_request": {"http_method": "GET",
                                 "url": {"url_string": "https://example.org/a"}}}
    path = tmp_path / "http.ndjson"
    path.write_text(json.dumps(document) + "\n")
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [path], "ocsf").files
    assert not result.quarantined_by_reason
    assert result.skipped_by_reason == {"HTTP request without a user (unauthenticated)": 1}
