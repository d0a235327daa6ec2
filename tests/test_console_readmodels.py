"""The console's speed machinery must never change an answer: the activity index against the
event store, paging, read models after new results, shared views after a triage decision,
and the credential cache after an account is deactivated."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from conftest import ingest_jsonl
from console_fixture import ConsoleWorkspace, build
from molehunt.cases.accounts import Principal, create_account, create_token
from molehunt.cases.models import AuditEntry
from molehunt.cases.results import WorkspaceResults
from molehunt.store.workspace import Workspace
from molehunt.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> ConsoleWorkspace:
    """A small simulated workspace with stand-in results (its own: these tests change it)."""
    return build(tmp_path_factory.mktemp("readmodels"))


@pytest.fixture(scope="module")
def app(made: ConsoleWorkspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The console without its background indexer (tests build the index when they want)."""
    db = tmp_path_factory.mktemp("db") / "console.sqlite"
    application = create_app(made.root, f"sqlite:///{db}", index_activity=False)
    with application.state.console.store.transaction() as session:
        for name in ("analyst", "analyst2"):
            create_account(session, name, PASSWORD, "analyst")
        create_account(session, "boss", PASSWORD, "admin")
    yield application
    application.state.console.close()


def _token(app: Any, username: str) -> str:
    console = app.state.console
    with console.store.transaction() as session:
        import sqlalchemy as sa

        from molehunt.cases.models import Account
        account = session.scalar(sa.select(Account).where(Account.username == username))
        return create_token(session, account, "t")


def _window(results: WorkspaceResults) -> tuple[dt.date, dt.date]:
    days = results.activity.days()
    return dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])


def _all_pages(results: WorkspaceResults, user: str, first: dt.date, last: dt.date,
               channel: str | None) -> list[dict[str, Any]]:
    rows, total = results.events(user, first, last, channel, limit=10_000)
    assert len(rows) == total
    return rows


def test_activity_index_gives_the_event_store_answers(made: ConsoleWorkspace) -> None:
    results = WorkspaceResults(made.root)
    first, last = _window(results)
    users = [*made.user_ids[:6], made.target]
    windows = [(first, last), (last - dt.timedelta(days=9), last - dt.timedelta(days=3))]
    raw = {(u, w, c): _all_pages(results, u, *w, c) for u in users for w in windows
           for c in (None, "email_external")}
    assert not results.activity.files(first, last)[1]  # no index yet: the event store
    assert results.activity.build() >= 3
    assert results.activity.files(first, last)[1]
    indexed = {(u, w, c): _all_pages(WorkspaceResults(made.root), u, *w, c)
               for u in users for w in windows for c in (None, "email_external")}
    assert indexed == raw
    assert sum(len(v) for v in raw.values()) > 100  # the comparison compared something
    # evidence by id through the index: the planted events of the target
    found = results.events_by_id([f"xss-file-{i}" for i in range(3)], first, last,
                                 users=[made.target])
    assert [e["event_id"] for e in found] == ["xss-file-0", "xss-file-1", "xss-file-2"]
    assert results.activity.build() == 0  # nothing changed, nothing rewritten
    results.close()


def test_a_changed_week_is_read_from_the_event_store_until_reindexed(
        made: ConsoleWorkspace, tmp_path: Path) -> None:
    results = WorkspaceResults(made.root)
    results.activity.build()
    first, last = _window(results)
    line = {"event_id": "late-arrival-1", "ts": f"{last.isoformat()}T23:59:00",
            "user_id": made.target, "host": "PC-LATE", "action": "file_copy",
            "channel": "removable_media", "object": "late.docx", "target": "E:\\"}
    source = tmp_path / "late.jsonl"
    source.write_text(json.dumps(line) + "\n", "utf-8")
    ingest_jsonl(Workspace(made.root), [source])
    assert not results.activity.files(first, last)[1]  # the last week is stale: not used
    rows, _ = results.events(made.target, last, last, None)
    assert "late-arrival-1" in {r["event_id"] for r in rows}
    assert results.activity.build() == 1  # only the changed week is rewritten
    assert results.activity.files(first, last)[1]
    rows, _ = results.events(made.target, last, last, None)
    assert "late-arrival-1" in {r["event_id"] for r in rows}
    results.close()


def test_activity_pages(app: Any, made: ConsoleWorkspace) -> None:
    token = _token(app, "analyst")
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    person = app.state.console.pseudonyms.of(made.target)
    whole = client.get(f"/api/v1/people/{person}", params={"page_size": 12}).json()["activity"]
    assert whole["total"] > 12 and whole["pages"] == -(-whole["total"] // 12)
    one = client.get(f"/api/v1/people/{person}", params={"page_size": 6}).json()["activity"]
    two = client.get(f"/api/v1/people/{person}",
                     params={"page_size": 6, "page": 2}).json()["activity"]
    assert one["events"] + two["events"] == whole["events"]
    assert one["total"] == two["total"] == whole["total"]
    beyond = client.get(f"/api/v1/people/{person}", params={"page": 10_000}).json()
    assert beyond["activity"]["events"] == [] and beyond["activity"]["total"] == whole["total"]
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 5000}, {"page": "x"}):
        response = client.get(f"/api/v1/people/{person}", params=bad)
        assert response.status_code == 422 and "error" in response.json()
    # the page shows where it is and links the next one
    page = client.get(f"/people/{person}", params={"page": 2})
    assert "page 2 of" in page.text and 'id="newer"' in page.text


def test_read_models_follow_new_results(made: ConsoleWorkspace) -> None:
    results = WorkspaceResults(made.root, recheck_seconds=0)
    last = results.last_day()
    assert last is not None
    before = results.person_risk(made.target)
    new_day = last + dt.timedelta(days=1)
    folder = made.root / "results" / "risk" / f"day={new_day.isoformat()}"
    folder.mkdir(parents=True)
    old = pq.read_table(made.root / "results" / "risk" / f"day={last.isoformat()}")
    pq.write_table(old.set_column(old.schema.get_field_index("day"), "day",
                                  pa.array([new_day] * old.num_rows, pa.date32())),
                   folder / "part-0.parquet")
    try:
        assert results.last_day() == new_day
        after = results.person_risk(made.target)
        assert len(after) == len(before) + 1 and after[-1]["day"] == new_day
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    assert results.last_day() == last
    results.close()


def test_a_triage_decision_shows_at_once_in_shared_views(app: Any) -> None:
    console = app.state.console
    analyst = Principal(1, "analyst", "analyst", None, via="token")
    before = console.overview(analyst)
    assert before is console.overview(analyst)  # shared while nothing changed
    newest = before["new_alerts"][0]["alert_id"]
    console.confirm(analyst, newest, "confirmed in the read model test")
    after = console.overview(analyst)
    assert newest not in {a["alert_id"] for a in after["new_alerts"]}
    assert after["open_alerts"] == before["open_alerts"] - 1


def test_a_deactivated_account_is_refused_at_once(app: Any) -> None:
    token = _token(app, "analyst2")
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/v1/me").status_code == 200  # now remembered by the cache
    boss = _token(app, "boss")
    admin = TestClient(app, headers={"Authorization": f"Bearer {boss}"})
    assert admin.get("/api/v1/me").json()["role"] == "admin"
    console = app.state.console
    console.update_account(Principal(3, "boss", "admin", None, via="token"), "analyst2", None,
                           False)
    assert client.get("/api/v1/me").status_code == 401


def test_every_person_look_is_audited_even_when_shared(app: Any, made: ConsoleWorkspace
                                                       ) -> None:
    console = app.state.console
    analyst = Principal(1, "analyst", "analyst", None, via="token")
    person = console.pseudonyms.of(made.user_ids[0])

    def looks() -> int:
        with console.store.sessions() as session:
            return session.scalar(sa.select(sa.func.count()).where(
                AuditEntry.action == "person.view", AuditEntry.target == person)) or 0

    before = looks()
    first = console.person(analyst, person)
    assert console.person(analyst, person) is first  # the second answer was shared
    assert looks() == before + 2


def test_a_value_the_database_refuses_is_bad_input(database_url: str, tmp_path: Path) -> None:
    """PostgreSQL stores no NUL character in text; that is the request's fault (400, one
    line), not the server's. SQLite stores it."""
    application = create_app(tmp_path / "ws", database_url, index_activity=False)
    with application.state.console.store.transaction() as session:
        token = create_token(session, create_account(session, "boss", PASSWORD, "admin"), "t")
    client = TestClient(application, raise_server_exceptions=False,
                        headers={"Authorization": f"Bearer {token}"})
    response = client.post("/api/v1/settings/allowlist", json={
        "kind": "domain", "value": "bad\x00.example", "reason": "a reason long enough"})
    if database_url.startswith("postgresql"):
        assert response.status_code == 400, response.text
        assert "NUL" in response.json()["error"]
    else:
        assert response.status_code == 200, response.text
    application.state.console.close()


def test_warm_up_prepares_the_top_people_and_audits_no_look(app: Any, monkeypatch: Any
                                                            ) -> None:
    console = app.state.console
    analyst = Principal(1, "analyst", "analyst", None, via="token")

    def looks() -> int:
        with console.store.sessions() as session:
            return session.scalar(sa.select(sa.func.count()).where(
                AuditEntry.action == "person.view")) or 0

    before = looks()
    assert console.warm_up(2) == 2
    assert looks() == before  # preparing a page is nobody's look
    top = console.pseudonyms.of(console.results.risk_on_last_day()[0]["user_id"])
    console._views = {}  # past the shared views' few seconds

    def no_events(*_: Any, **__: Any) -> Any:
        raise AssertionError("a prepared person's events were read again")

    with monkeypatch.context() as patched:
        patched.setattr(console.results, "events", no_events)
        shown = console.person(analyst, top)
    assert shown["activity"]["events"] and looks() == before + 1
    # a name learned since may appear in the prepared text: the next look redacts again
    console.pseudonyms.add_hosts(["WARM-UP-TEST-HOST"])
    console._views = {}
    read: list[str] = []
    events = console.results.events
    monkeypatch.setattr(console.results, "events",
                        lambda *a, **k: read.append(a[0]) or events(*a, **k))
    assert console.person(analyst, top)["activity"] == shown["activity"]
    assert read
