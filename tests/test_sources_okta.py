"""The Okta System Log source: API pages and NDJSON, one set of events.

Fixtures: tests/fixtures/okta/ (make_okta_proxy_fixtures.py writes them from hand-written
LogEvents in Okta's documented layout). Every record must end up stored, a duplicate,
quarantined with its location and reason, or skipped with a reason; the property test counts
the records it writes itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, events, lower_keys, quarantine
from molehunt.sources.ingest import FileResult, Ingestor, IngestSummary, recognise_records
from molehunt.sources.m365_audit import M365Audit
from molehunt.sources.okta_system_log import OktaSystemLog
from molehunt.sources.windows_security import WindowsSecurity
from molehunt.store.workspace import Workspace

OKTA = FIXTURES / "okta"
EXPECTED = FIXTURES / "expected" / "okta_events.json"
PAGES = OKTA / "system_log_pages.json"
NDJSON = OKTA / "system_log.ndjson"


def _workspace(root: Path) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "molehunt.toml").write_text('company_domains = ["corp.example"]\n')
    return Workspace(root)


def _ingest(workspace: Workspace, paths: list[Path]) -> IngestSummary:
    with workspace.locked():
        return Ingestor(workspace).ingest_records(paths, "okta")


def _adds_up(result: FileResult) -> bool:
    return result.rows_read == (result.rows_stored + result.rows_duplicate
                                + result.rows_quarantined + result.rows_skipped)


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: (str(v) if k in ("ts", "day") and v is not None else v)
                    for k, v in {**row, "attrs": json.loads(row["attrs"])}.items()}
                   for row in rows), key=lambda r: (r["ts"], r["event_id"]))


@pytest.mark.parametrize("shape", [PAGES, NDJSON], ids=["pages", "ndjson"])
def test_every_shape_gives_the_same_events(shape: Path, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [shape]).files
    assert result.status == "ingested" and _adds_up(result)
    # the API pages overlap by one event (a duplicate); the NDJSON ends in a broken line
    assert (result.rows_read, result.rows_stored) == (13, 7)
    assert result.rows_duplicate == (1 if shape == PAGES else 0)
    assert result.quarantined_by_reason == {
        "unparseable time": 1, "empty user": 1, "implausible time": 1,
        **({"invalid JSON": 1} if shape == NDJSON else {})}
    assert result.skipped_by_reason == {"event policy.evaluate_sign_on not read": 1,
                                        "actor of type SystemPrincipal (not a person)": 1}
    actual = _jsonable(events(workspace))
    if os.environ.get("MOLEHUNT_UPDATE_GOLDEN") and shape == PAGES:
        EXPECTED.write_text(json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True)
                            + "\n")
    assert actual == json.loads(EXPECTED.read_text())


def test_what_each_event_becomes(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [NDJSON])
    seen = {(e["user_id"], e["action"], e["object"]): json.loads(e["attrs"])
            for e in events(workspace)}
    # the login's case does not make another person
    assert {user for user, _, _ in seen} == {"alice@corp.example", "bob@corp.example",
                                             "carol@corp.example"}
    bob = [json.loads(e["attrs"]) for e in events(workspace)
           if e["user_id"] == "bob@corp.example" and e["action"] == "cloud_sign_in"]
    assert sorted((a["outcome"], a.get("reason")) for a in bob) == [
        ("FAILURE", "INVALID_CREDENTIALS"), ("SUCCESS", None)]
    sso = seen[("bob@corp.example", "app_access", "Box")]
    assert sso["app"] == "box" and sso["ip"] == "203.0.113.77" and sso["country"] == "Portugal"
    assert ("carol@corp.example", "app_access", "Okta Admin Console") in seen
    assert ("alice@corp.example", "cloud_sign_out", None) in seen
    # sign-ins to Okta are no logons to a computer, and no host is invented for them
    assert all(e["host"] is None and e["action"] != "logon" for e in events(workspace))


def test_both_shapes_store_each_event_once(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    first, second = _ingest(workspace, [PAGES, NDJSON]).files
    assert first.rows_stored == 7 and second.rows_stored == 0
    assert second.rows_duplicate == 7


def test_quarantine_names_the_line_of_each_bad_event(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [NDJSON])
    rows = [(q["line"], q["reason"]) for q in quarantine(workspace)]
    assert rows == [(10, "unparseable time"), (11, "empty user"), (12, "implausible time"),
                    (13, "invalid JSON")]


def test_a_damaged_array_costs_the_rest_of_the_file_and_says_so(tmp_path: Path) -> None:
    text = PAGES.read_text()
    cut = tmp_path / "okta.json"
    cut.write_text(text[:text.index('"uuid": "a1f0c2e4-0005')] + "\n")
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [cut]).files
    assert result.status == "ingested" and _adds_up(result)
    # four whole events before the damage, then one unreadable rest
    assert result.rows_read == 5 and result.quarantined_by_reason == {"invalid JSON": 1}
    [bad] = [q for q in quarantine(workspace) if q["reason"] == "invalid JSON"]
    assert "the rest of the file cannot be read" in bad["detail"] and bad["line"] > 1


def test_a_response_page_kept_whole_gives_its_items(tmp_path: Path) -> None:
    events_of_page = [json.loads(line) for line in NDJSON.read_text().splitlines()[:3]]
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"value": events_of_page}, indent=1) + "\n")
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [page]).files
    assert result.status == "ingested" and _adds_up(result)
    assert (result.rows_read, result.rows_stored, result.rows_skipped) == (3, 2, 1)


@pytest.mark.parametrize("per_line", [True, False], ids=["ndjson", "pretty"])
def test_event_hook_deliveries_give_their_events(per_line: bool, tmp_path: Path) -> None:
    events_of_file = [json.loads(line) for line in NDJSON.read_text().splitlines()[:9]]
    hooks = [{"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0",
              "cloudEventsVersion": "0.1", "source": "https://corp.okta.com/api/v1/eventHooks/x",
              "eventId": f"hook-{n}", "eventTime": "2024-03-04T22:00:00.000Z",
              "contentType": "application/json", "data": {"events": events_of_file[n::3]}}
             for n in range(3)]
    path = tmp_path / "hooks.json"
    path.write_text("".join(json.dumps(h, indent=None if per_line else 1) + "\n"
                            for h in hooks))
    assert recognise_records(path) is OktaSystemLog
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [path]).files
    assert result.status == "ingested" and _adds_up(result)
    assert (result.rows_read, result.rows_stored, result.rows_skipped) == (9, 7, 2)


def test_lower_cased_keys_give_the_same_events(tmp_path: Path) -> None:
    # Panther's, Athena's and Snowflake's copies of the System Log lower-case every key
    # (eventtype, actor.alternateid, client.geographicalcontext, ...), as the Microsoft 365
    # layout already accepted; these used to be refused as "not an Okta event"
    lines = NDJSON.read_text().splitlines()
    lowered = tmp_path / "panther_okta.ndjson"
    lowered.write_text("".join(json.dumps(lower_keys(json.loads(line))) + "\n"
                               for line in lines[:-1]) + lines[-1] + "\n")
    assert '"eventtype"' in lowered.read_text() and "eventType" not in lowered.read_text()
    assert recognise_records(lowered) is OktaSystemLog
    workspace = _workspace(tmp_path / "ws")
    [result] = _ingest(workspace, [lowered]).files
    assert result.status == "ingested" and _adds_up(result)
    assert (result.rows_read, result.rows_stored) == (13, 7)
    assert result.skipped_by_reason == {"event policy.evaluate_sign_on not read": 1,
                                        "actor of type SystemPrincipal (not a person)": 1}
    assert _jsonable(events(workspace)) == json.loads(EXPECTED.read_text())


def test_ingest_auto_recognises_okta_and_nothing_else_claims_it(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    for path in (PAGES, NDJSON):
        shutil.copy(path, folder / path.name)
        assert recognise_records(folder / path.name) is OktaSystemLog
    for other, layout in [(FIXTURES / "windows" / "winlogbeat.ndjson", WindowsSecurity),
                          (next((FIXTURES / "m365").glob("*.ndjson")), M365Audit)]:
        assert recognise_records(other) is layout
    workspace = _workspace(tmp_path / "ws")
    with workspace.locked():
        summary = Ingestor(workspace).ingest_auto(folder)
    assert {f.layout for f in summary.files} == {"okta.system_log"}
    assert sum(f.rows_stored for f in summary.files) == 7


def test_cli_ingest_okta(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"),
           "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "molehunt.cli", "--workspace", str(tmp_path / "ws"), "ingest",
         "okta", str(PAGES)], capture_output=True, text=True, env=env, check=False,
        timeout=300)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "system_log_pages" in line)
    assert [cell.strip() for cell in row.split("│")[4:9]] == ["13", "7", "1", "3", "2"]


# -- property test ------------------------------------------------------------------------
_FIELD = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=10)
_EVENT = st.fixed_dictionaries({
    "eventType": st.sampled_from(["user.session.start", "user.session.end",
                                  "user.authentication.sso", "user.session.access_admin_app",
                                  "policy.evaluate_sign_on", "app.user_membership.add"]),
    "published": st.one_of(st.sampled_from(["2024-03-04T08:00:00.000Z", "1970-01-01T00:00:00Z",
                                            "9999-12-31T23:59:59Z", "", "nope"]),
                           st.datetimes().map(lambda d: d.isoformat() + "Z")),
    "uuid": st.one_of(st.sampled_from(["u1", "u2", "u3", ""]), _FIELD),
    "actor": st.one_of(st.fixed_dictionaries({
        "type": st.sampled_from(["User", "SystemPrincipal", "PublicClientApp"]),
        "alternateId": st.one_of(st.sampled_from(["alice@corp.example", "", "BOB@x.y"]),
                                 _FIELD)}), st.none(), st.integers()),
    "target": st.one_of(st.none(), st.lists(st.dictionaries(
        st.sampled_from(["type", "id", "alternateId", "displayName"]),
        st.one_of(_FIELD, st.sampled_from(["AppInstance"]))), max_size=2)),
    "damage": st.sampled_from(["none", "none", "none", "cut", "not an object", "hook"]),
})


def _event_text(event: dict[str, Any]) -> str:
    damage = event["damage"]
    if damage == "not an object":
        return json.dumps([event["uuid"]])
    if damage == "hook":
        # an event hook delivery: the event twice (a retried delivery), one duplicate id
        plain = {k: v for k, v in event.items() if k != "damage"}
        return json.dumps({"eventType": "com.okta.event_hook", "data": {"events": [plain,
                                                                                     plain]}})
    text = json.dumps({k: v for k, v in event.items() if k != "damage"})
    return text[:len(text) // 2] if damage == "cut" else text


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(_EVENT, max_size=12), as_array=st.booleans())
def test_any_events_are_accounted_for(tmp_path_factory: pytest.TempPathFactory,
                                      batch: list[dict[str, Any]], as_array: bool) -> None:
    root = tmp_path_factory.mktemp("prop")
    first = {"eventType": "user.session.start", "published": "2024-03-04T08:00:00Z",
             "uuid": "first", "actor": {"type": "User", "alternateId": "alice@corp.example"},
             "displayMessage": "User login to Okta", "target": None, "damage": "none"}
    records = [first, *batch]
    path = root / "okta.json"
    if as_array:
        # an array holds whole events only: the damage and the hook deliveries of the
        # NDJSON shape are left out
        records = [{**r, "damage": "none"} for r in records]
        path.write_text("[\n" + ",\n".join(_event_text(r) for r in records) + "\n]\n")
    else:
        path.write_text("".join(_event_text(r) + "\n" for r in records))
    workspace = _workspace(root / "ws")
    [result] = _ingest(workspace, [path]).files
    assert result.status == "ingested", result.note
    expected = len(records) + sum(r["damage"] == "hook" for r in records)
    assert result.rows_read == expected and _adds_up(result)
    assert len(events(workspace)) == result.rows_stored
    assert len(quarantine(workspace)) == result.rows_quarantined
