"""The console over HTTP (FastAPI's test client): the route × role matrix, CSRF, escaping,
pseudonymity of every answer to an analyst, the alert/case workflow and the exports."""

from __future__ import annotations

import collections
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from console_fixture import PLANTED, ConsoleWorkspace, build
from molehunt.cases.accounts import InputError, create_account, create_token
from molehunt.cases.bundle import verify_bundle
from molehunt.cases.models import ROLES, Account
from molehunt.web.app import create_app

PASSWORD = "a long test password"
A, N, I, U, P = "admin", "analyst", "investigator", "auditor", "privacy_officer"  # noqa: E741
EVERYONE = {A, N, I, U, P}
VIEW = {N, I}
#: The reviewed access matrix: who may call each route (None: no sign-in needed).
EXPECTED: dict[tuple[str, str], set[str] | None] = {
    ("POST", "/api/v1/login"): None,
    ("GET", "/api/v1/docs"): None,
    ("GET", "/api/v1/me"): EVERYONE,
    ("POST", "/api/v1/tokens"): EVERYONE,
    ("GET", "/api/v1/tokens"): EVERYONE,
    ("POST", "/api/v1/tokens/{token_id}/revoke"): EVERYONE,
    ("GET", "/api/v1/overview"): VIEW,
    ("GET", "/api/v1/people/{person}"): VIEW,
    ("GET", "/api/v1/people"): VIEW,
    ("GET", "/api/v1/people/{person}/chart"): VIEW,
    ("POST", "/api/v1/people/{person}/reveal"): {I},
    ("POST", "/api/v1/people/{person}/event-text"): {I},
    ("GET", "/api/v1/reveal-requests"): {P},
    ("POST", "/api/v1/reveal-requests/{request_id}"): {P},
    ("GET", "/api/v1/alerts"): VIEW,
    ("POST", "/api/v1/alerts/import"): VIEW,
    ("GET", "/api/v1/alerts/{alert_id}"): VIEW,
    ("POST", "/api/v1/alerts/{alert_id}/assign"): VIEW,
    ("POST", "/api/v1/alerts/{alert_id}/confirm"): VIEW,
    ("POST", "/api/v1/alerts/{alert_id}/dismiss"): VIEW,
    ("GET", "/api/v1/cases"): VIEW,
    ("POST", "/api/v1/cases"): VIEW,
    ("GET", "/api/v1/cases/{case_id}"): VIEW,
    ("POST", "/api/v1/cases/{case_id}/notes"): VIEW,
    ("POST", "/api/v1/cases/{case_id}/evidence"): VIEW,
    ("POST", "/api/v1/cases/{case_id}/status"): VIEW,
    ("GET", "/api/v1/cases/{case_id}/bundle"): {I},
    ("GET", "/api/v1/audit"): {U, P, A},
    ("GET", "/api/v1/settings"): {A, P, N, I},
    ("POST", "/api/v1/settings/allowlist"): {A},
    ("POST", "/api/v1/settings/weights"): {A},
    ("POST", "/api/v1/accounts"): {A},
    ("GET", "/api/v1/approvals"): {A, P, N, I},
    ("POST", "/api/v1/approvals/{request_id}"): {A, P, N, I},
    ("GET", "/api/v1/exports/alerts.json"): {A},
    ("GET", "/api/v1/exports/alerts.cef"): {A},
    ("GET", "/login"): None,
    ("POST", "/login"): None,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/"): VIEW,
    ("GET", "/people/{person}"): VIEW,
    ("GET", "/people"): VIEW,
    ("POST", "/people/{person}/reveal"): {I},
    ("POST", "/people/{person}/event-text"): {I},
    ("GET", "/alerts"): VIEW,
    ("GET", "/alerts/{alert_id}"): VIEW,
    ("POST", "/alerts/{alert_id}/assign"): VIEW,
    ("POST", "/alerts/{alert_id}/confirm"): VIEW,
    ("POST", "/alerts/{alert_id}/dismiss"): VIEW,
    ("POST", "/alerts/{alert_id}/case"): VIEW,
    ("GET", "/cases"): VIEW,
    ("GET", "/cases/{case_id}"): VIEW,
    ("POST", "/cases/{case_id}/notes"): VIEW,
    ("POST", "/cases/{case_id}/evidence"): VIEW,
    ("POST", "/cases/{case_id}/status"): VIEW,
    ("GET", "/cases/{case_id}/bundle.zip"): {I},
    ("GET", "/audit"): {U, P, A},
    ("GET", "/settings"): {A, P, N, I},
    ("POST", "/settings/allowlist"): {A},
    ("POST", "/settings/allowlist/{entry_id}/delete"): {A},
    ("POST", "/settings/weights"): {A},
    ("POST", "/settings/reveal-approval"): {A},
    ("POST", "/settings/accounts"): {A},
    ("POST", "/settings/accounts/{username}"): {A},
    ("POST", "/settings/tokens"): EVERYONE,
    ("POST", "/settings/tokens/{token_id}/revoke"): EVERYONE,
    ("POST", "/settings/reveals/{request_id}"): {P},
    ("POST", "/settings/approvals/{request_id}"): {A, P, N, I},
}
#: routes a person must be signed in for: an API token is refused (tokens cannot mint tokens)
SESSION_ONLY = {("POST", "/api/v1/tokens"), ("POST", "/settings/tokens")}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> ConsoleWorkspace:
    """The simulated workspace with fake results (built once for the module)."""
    return build(tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module")
def app_and_tokens(made: ConsoleWorkspace, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app on a fresh SQLite store, one account and API token per role."""
    db = tmp_path_factory.mktemp("db") / "console.sqlite"
    app = create_app(made.root, f"sqlite:///{db}")
    tokens = {}
    with app.state.console.store.transaction() as session:
        for role in ROLES:
            account = create_account(session, role, PASSWORD, role)
            tokens[role] = create_token(session, account, "tests")
        create_account(session, "investigator2", PASSWORD, "investigator")
    yield app, tokens
    app.state.console.store.close()


@pytest.fixture(scope="module")
def alert_ids(app_and_tokens: tuple[Any, dict[str, str]]) -> list[str]:
    """The console's alert ids, highest risk first (the fixture's order)."""
    app, tokens = app_and_tokens
    rows = TestClient(app).get("/api/v1/alerts", headers={
        "Authorization": f"Bearer {tokens['analyst']}"}).json()["alerts"]
    return [a["alert_id"] for a in rows]


def _signed_in(app: Any, username: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token.group(1)},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/settings")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    return client, csrf.group(1)


def test_every_route_is_in_the_matrix(app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, _ = app_and_tokens
    routes = {(m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods}
    assert routes == set(EXPECTED), "a route was added or removed: review the access matrix"


def test_route_role_matrix(app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    fill = {"person": "P-AAAAAAAAAA", "request_id": "999999", "alert_id": "no-such-alert",
            "case_id": "999999", "entry_id": "999999", "username": "nobody",
            "token_id": "999999"}
    checked = 0
    for (method, path), allowed in EXPECTED.items():
        url = path.format(**fill)
        if allowed is None:
            continue
        anonymous = client.request(method, url, follow_redirects=False)
        expected_anonymous = 401 if path.startswith("/api/") else 303
        assert anonymous.status_code == expected_anonymous, (method, path)
        for role in ROLES:
            if path in ("/logout",) and role in allowed:
                continue  # would end nothing (bearer) but is covered by the walk test
            response = client.request(method, url, headers={
                "Authorization": f"Bearer {tokens[role]}"}, follow_redirects=False)
            if (method, path) in SESSION_ONLY:
                assert response.status_code == 403, (method, path, role, response.text)
            elif role in allowed:
                assert response.status_code not in (401, 403), (method, path, role,
                                                               response.text)
                assert response.status_code < 500, (method, path, role, response.text)
            else:
                assert response.status_code == 403, (method, path, role, response.status_code)
            checked += 1
    assert checked > 200


def test_state_changes_need_the_csrf_token(app_and_tokens: tuple[Any, dict[str, str]],
                                           made: ConsoleWorkspace, alert_ids: list[str]) -> None:
    app, _ = app_and_tokens
    client, csrf = _signed_in(app, "analyst")
    url = f"/alerts/{alert_ids[2]}/assign"
    assert client.post(url, data={}, follow_redirects=False).status_code == 403
    assert client.post(url, data={"csrf_token": "forged"},
                       follow_redirects=False).status_code == 403
    assert client.post(url, data={"csrf_token": csrf},
                       follow_redirects=False).status_code == 303
    api = client.post(f"/api/v1/alerts/{alert_ids[2]}/assign", json={})
    assert api.status_code == 403
    api = client.post(f"/api/v1/alerts/{alert_ids[2]}/assign", json={},
                      headers={"X-CSRF-Token": csrf})
    assert api.status_code == 200


def test_session_cookie_flags_and_headers(app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, _ = app_and_tokens
    client = TestClient(app)
    form = client.get("/login")
    assert "script-src 'self'" in form.headers["content-security-policy"]
    assert "unsafe-inline" not in form.headers["content-security-policy"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    response = client.post("/login", data={"username": "analyst", "password": PASSWORD,
                                           "csrf_token": token.group(1)},
                           follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def _texts_for_analyst(app: Any, alert_ids: list[str]) -> dict[str, str]:
    client, _ = _signed_in(app, "analyst")
    overview = client.get("/api/v1/overview").json()
    people = {p["person"] for p in overview["top"]}
    people |= {client.get(f"/api/v1/alerts/{a}").json()["person"] for a in alert_ids}
    urls = ["/", "/alerts", "/cases", "/settings", "/api/v1/overview", "/api/v1/alerts",
            "/api/v1/cases", "/api/v1/settings", "/api/v1/me"]
    urls += [f"/alerts/{a}" for a in alert_ids] + [f"/api/v1/alerts/{a}"
                                                        for a in alert_ids]
    for person in sorted(people):
        urls += [f"/people/{person}", f"/api/v1/people/{person}",
                 f"/people/{person}?channel=email_external"]
    texts = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.text)
        texts[url] = response.text
    return texts


def test_no_real_name_reaches_an_analyst(app_and_tokens: tuple[Any, dict[str, str]],
                                         made: ConsoleWorkspace, alert_ids: list[str]) -> None:
    app, _ = app_and_tokens
    texts = _texts_for_analyst(app, alert_ids)
    assert len(texts) > 20
    leaks = []
    for url, text in texts.items():
        lowered = text.lower()
        for secret in [*made.names, *made.emails, *made.user_ids]:
            if secret.lower() in lowered:
                leaks.append((url, secret))
    assert leaks == []
    # and the pages are not empty: the target's page shows events and pseudonyms
    assert any("P-" in t and "removable_media" in t for t in texts.values())


def test_planted_markup_is_escaped(app_and_tokens: tuple[Any, dict[str, str]],
                                   made: ConsoleWorkspace, alert_ids: list[str]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {tokens['analyst']}"}
    alert = client.get(f"/alerts/{alert_ids[0]}", headers=headers).text
    person = client.get(f"/api/v1/alerts/{alert_ids[0]}", headers=headers).json()["person"]
    page = client.get(f"/people/{person}", headers=headers).text
    for html in (alert, page):
        for planted in PLANTED:
            assert planted not in html
        assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in html
        assert "&lt;img src=x onerror=" in html or "&#34;&gt;&lt;img src=x onerror=" in html


def test_alert_case_bundle_workflow(app_and_tokens: tuple[Any, dict[str, str]],
                                    made: ConsoleWorkspace, alert_ids: list[str],
                                    tmp_path: Path) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    inv = {"Authorization": f"Bearer {tokens['investigator']}"}
    alert_id = alert_ids[0]
    assert client.post(f"/api/v1/alerts/{alert_id}/confirm", json={"reason": "short"},
                       headers=inv).status_code == 400
    assert client.post(f"/api/v1/alerts/{alert_id}/confirm",
                       json={"reason": "copies crown jewels to USB"}, headers=inv).json() == {
        "state": "confirmed"}
    case_id = client.post("/api/v1/cases", json={"alert_ids": [alert_id], "title": "USB"},
                          headers=inv).json()["id"]
    detail = client.get(f"/api/v1/alerts/{alert_id}", headers=inv).json()
    event = next(e for e in detail["evidence"] if e["event_id"] == "xss-file-0")
    assert client.post(f"/api/v1/cases/{case_id}/evidence",
                       json={"event_id": event["event_id"], "day": event["day"],
                             "note": "the copy"}, headers=inv).status_code == 200
    assert client.post(f"/api/v1/cases/{case_id}/evidence",
                       json={"event_id": "nope", "day": event["day"]},
                       headers=inv).status_code == 400
    client.post(f"/api/v1/cases/{case_id}/notes", json={"body": "interviewed manager"},
                headers=inv)
    bundle = client.get(f"/api/v1/cases/{case_id}/bundle", headers=inv)
    assert bundle.status_code == 200
    ok, head, problems = verify_bundle(bundle.content, app.state.console.audit_key.public)
    assert ok and problems == [] and head == bundle.headers["x-chain-head"]
    archive = zipfile.ZipFile(io.BytesIO(bundle.content))
    assert sorted(archive.namelist()) == ["audit-public.pem", "audit.jsonl", "case.json",
                                          "events.jsonl", "findings.jsonl", "manifest.json",
                                          "manifest.sig", "notes.jsonl"]
    assert "xss-file-0" in archive.read("events.jsonl").decode()
    assert "interviewed manager" in archive.read("notes.jsonl").decode()
    audit = client.get("/api/v1/audit", headers={
        "Authorization": f"Bearer {tokens['auditor']}"}).json()
    assert audit["verification"]["ok"]
    exported = [e for e in audit["entries"] if e["action"] == "case.export"]
    assert exported and exported[0]["details"]["chain_head"] == head
    # the CLI checks the bundle against its manifest and the audit log
    from typer.testing import CliRunner

    from molehunt.cli import app as cli

    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle.content)
    database = str(app.state.console.store.engine.url)
    result = CliRunner().invoke(cli, ["--workspace", str(made.root), "audit", "verify-bundle",
                                      str(path), "--database-url", database])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["--workspace", str(made.root), "audit", "verify",
                                      "--database-url", database])
    assert result.exit_code == 0 and "audit log intact" in result.output


def test_dismissal_feeds_allowlist_and_tuning_files(
        app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace,
        alert_ids: list[str]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    analyst = {"Authorization": f"Bearer {tokens['analyst']}"}
    response = client.post(f"/api/v1/alerts/{alert_ids[1]}/dismiss", json={
        "reason": "project team sharing", "allowlist_kind": "domain",
        "allowlist_value": "partner.example"}, headers=analyst)
    assert response.status_code == 200
    # not in the alert's evidence: it waits for a second person (here an investigator)
    assert response.json()["allowlist"] == "pending"
    approved = client.post(f"/api/v1/approvals/{response.json()['approval']}", json={
        "approve": True}, headers={"Authorization": f"Bearer {tokens['investigator']}"})
    assert approved.status_code == 200, approved.text
    folder = made.root / "console"
    allow = json.loads((folder / "allowlists.json").read_text())
    assert {"kind": "domain", "value": "partner.example"}.items() <= allow[-1].items()
    feedback = json.loads((folder / "feedback.json").read_text())
    assert feedback["group_forwarding"]["dismiss"] >= 1
    bad = client.post(f"/api/v1/alerts/{alert_ids[1]}/dismiss", json={
        "reason": "project team sharing", "allowlist_kind": "planet",
        "allowlist_value": "x"}, headers=analyst)
    assert bad.status_code == 400 and "allowlist kind" in bad.json()["error"]


def test_reveal_needs_reason_and_optional_second_approver(
        app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace,
        alert_ids: list[str]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    inv = {"Authorization": f"Bearer {tokens['investigator']}"}
    person = client.get(f"/api/v1/alerts/{alert_ids[0]}", headers=inv).json()["person"]
    url = f"/api/v1/people/{person}/reveal"
    assert client.post(url, json={"reason": "why"}, headers=inv).status_code == 400
    shown = client.post(url, json={"reason": "case 1 interview planning"}, headers=inv).json()
    assert shown["status"] == "revealed" and shown["user_id"] == made.target
    console = app.state.console
    console.set_reveal_approval(_principal(app, "admin"), True)
    try:
        pending = client.post(url, json={"reason": "case 1 follow-up"}, headers=inv).json()
        assert pending["status"] == "pending" and "user_id" not in pending
        officer = {"Authorization": f"Bearer {tokens['privacy_officer']}"}
        assert client.post(f"/api/v1/reveal-requests/{pending['request']}",
                           json={"approve": True}, headers=officer).status_code == 200
        shown = client.post(url, json={"reason": "case 1 follow-up"}, headers=inv).json()
        assert shown["status"] == "revealed"
    finally:  # switching it off takes a second person (see test_console_duties.py)
        pending = console.set_reveal_approval(_principal(app, "admin"), False,
                                              "end of the approval test")
        console.decide(_principal(app, "privacy_officer"), pending["approval"], True)
    audit = client.get("/api/v1/audit", headers={
        "Authorization": f"Bearer {tokens['auditor']}"}).json()["entries"]
    reveals = [e for e in audit if e["action"] == "reveal"]
    assert len(reveals) == 2 and all(e["target"] == person for e in reveals)
    assert reveals[-1]["reason"] == "case 1 interview planning"


def test_free_text_is_withheld_until_an_investigator_reads_it_with_a_reason(
        app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace,
        alert_ids: list[str]) -> None:
    """Issue 19 item 1: only known-safe fields of free text are shown by default (a mail body
    holds what no directory lists); reading the rest is an investigator's audited act."""
    app, tokens = app_and_tokens
    client = TestClient(app)
    analyst = {"Authorization": f"Bearer {tokens['analyst']}"}
    shown = client.get(f"/api/v1/alerts/{alert_ids[0]}", headers=analyst).json()
    person = shown["person"]
    mail = next(e for e in shown["evidence"] if e["event_id"] == "xss-mail-0")
    assert mail["content"] is None and mail["withheld"] == {"content": len(
        f"Subject: {PLANTED[0]}")}
    web = next(e for e in shown["evidence"] if e["event_id"] == "xss-web-0")
    assert web["object"].startswith("https://drop.example/")  # no query string to withhold
    page = client.get(f"/alerts/{alert_ids[0]}", headers=analyst).text
    assert "withheld: content" in page and "an investigator can read it" in page
    day = mail["day"]
    url = f"/api/v1/people/{person}/event-text"
    assert client.post(url, json={"event_id": "xss-mail-0", "day": day, "reason": "x"},
                       headers=analyst).status_code == 403
    inv, csrf = _signed_in(app, "investigator")
    assert 'action="/people/' in inv.get(f"/alerts/{alert_ids[0]}").text
    form = {"event_id": "xss-mail-0", "day": day, "csrf_token": csrf}
    assert inv.post(f"/people/{person}/event-text", data=form | {"reason": "  "}
                    ).status_code == 400
    read = inv.post(f"/people/{person}/event-text",
                    data=form | {"reason": "what was mailed to the rival"})
    assert read.status_code == 200, read.text
    assert "Subject: &lt;script&gt;window.__xss = 1&lt;/script&gt;" in read.text
    assert inv.post(f"/people/{person}/event-text", data=form | {
        "event_id": "no/such event", "reason": "an event the alert names"}).status_code == 404
    audit = client.get("/api/v1/audit", headers={
        "Authorization": f"Bearer {tokens['auditor']}"}).json()["entries"]
    readings = [e for e in audit if e["action"] == "event.text"]
    assert [(e["target"], e["reason"]) for e in readings] == [
        (person, "what was mailed to the rival")]


def _principal(app: Any, username: str) -> Any:
    import sqlalchemy as sa

    from molehunt.cases.accounts import Principal

    with app.state.console.store.sessions() as session:
        account = session.scalar(sa.select(Account).where(Account.username == username))
        assert account is not None
        return Principal(account.id, account.username, account.role, "x")


def test_siem_exports(app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace,
                      alert_ids: list[str]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    cef = client.get("/api/v1/exports/alerts.cef", headers=admin).text.splitlines()
    assert len(cef) == len(alert_ids)
    assert all(line.startswith("CEF:0|molehunt|molehunt|") for line in cef)
    assert made.target not in "".join(cef)
    data = client.get("/api/v1/exports/alerts.json", headers=admin).json()
    assert {a["alert_id"] for a in data["alerts"]} == set(alert_ids)
    bad = client.get("/api/v1/exports/alerts.json?since=yesterday", headers=admin)
    assert bad.status_code == 400 and bad.json() == {"error": "since must be a YYYY-MM-DD date"}


def test_webhook_and_syslog_delivery(app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from molehunt.cases.siem import post_webhook, send_syslog

    received: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    alert = {"alert_id": "a1", "person": "P-X", "band": "high", "peak_risk": 80,
             "opened_day": "2024-01-01", "last_day": "2024-01-02", "detectors": ["d"],
             "state": "new", "summary": "s"}
    assert post_webhook([alert], f"http://127.0.0.1:{server.server_port}/hook") == 204
    thread.join()
    server.server_close()
    assert json.loads(received[0])["alerts"][0]["alert_id"] == "a1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(10)
        assert send_syslog([alert], "127.0.0.1", listener.getsockname()[1]) == 1
        message = listener.recv(65536).decode()
    assert message.startswith("<164>1 ") and "CEF:0|molehunt|" in message


def test_bad_input_gives_one_line_not_500(app_and_tokens: tuple[Any, dict[str, str]]
                                          ) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    analyst = {"Authorization": f"Bearer {tokens['analyst']}"}
    person = TestClient(app).get("/api/v1/overview", headers=analyst).json()["top"][0]["person"]
    for url, status in (("/api/v1/alerts?state=bogus", 400), ("/api/v1/alerts?limit=0", 422),
                        ("/api/v1/people/P-AAAAAAAAAA", 404),
                        ("/api/v1/cases/notanumber", 422),
                        # found by fuzzing: row ids beyond 64 bits, days at the calendar's ends
                        (f"/api/v1/cases/{10**20}", 422),
                        (f"/api/v1/people/{person}?from=9999-12-30&to=9999-12-31", 400),
                        (f"/api/v1/people/{person}?to=0001-01-01", 400),
                        ("/api/v1/exports/alerts.json?since=0001-01-01", 403)):
        response = client.get(url, headers=analyst)
        assert response.status_code == status, url
        assert list(response.json()) == ["error"] and "\n" not in response.json()["error"]
    page = client.get("/people/P-AAAAAAAAAA", headers=analyst)
    assert page.status_code == 404 and "no person" in page.text
    wrong = client.get("/api/v1/me", headers={"Authorization": "Bearer mh_forged"})
    assert wrong.status_code == 401


def test_api_tokens_are_listed_and_revoked_at_once(app_and_tokens: tuple[Any, dict[str, str]]
                                                   ) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)

    def as_(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    analyst, analyst_csrf = _signed_in(app, "analyst")
    fresh = analyst.post("/api/v1/tokens", json={"name": "script"},
                         headers={"X-CSRF-Token": analyst_csrf}).json()["token"]
    assert client.get("/api/v1/me", headers=as_(fresh)).status_code == 200  # now remembered
    mine = client.get("/api/v1/tokens", headers=as_(tokens["analyst"])).json()
    assert {t["owner"] for t in mine} == {"analyst"}
    script = next(t for t in mine if t["name"] == "script" and not t["revoked"])
    # another analyst may neither see nor revoke it
    other = client.post(f"/api/v1/tokens/{script['id']}/revoke",
                        headers=as_(tokens["investigator"]))
    assert other.status_code == 404
    assert client.get("/api/v1/me", headers=as_(fresh)).status_code == 200
    revoked = client.post(f"/api/v1/tokens/{script['id']}/revoke",
                          headers=as_(tokens["analyst"]))
    assert revoked.status_code == 200
    assert client.get("/api/v1/me", headers=as_(fresh)).status_code == 401
    # an admin sees everyone's and revokes from the settings page (with the CSRF token)
    everyone = client.get("/api/v1/tokens", headers=as_(tokens["admin"])).json()
    assert {"analyst", "investigator", "admin"} <= {t["owner"] for t in everyone}
    officer, officer_csrf = _signed_in(app, "privacy_officer")
    second = officer.post("/api/v1/tokens", json={"name": "second"},
                          headers={"X-CSRF-Token": officer_csrf}).json()["token"]
    target = next(t for t in client.get("/api/v1/tokens", headers=as_(second)).json()
                  if t["name"] == "second")
    browser, csrf = _signed_in(app, "admin")
    page = browser.get("/settings")
    assert f'/settings/tokens/{target["id"]}/revoke' in page.text
    assert browser.post(f"/settings/tokens/{target['id']}/revoke",
                        follow_redirects=False).status_code == 403  # no CSRF token
    done = browser.post(f"/settings/tokens/{target['id']}/revoke",
                        data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/api/v1/me", headers=as_(second)).status_code == 401
    assert "revoked" in browser.get("/settings").text


def _hosts(made: ConsoleWorkspace) -> list[str]:
    con = duckdb.connect()
    rows = con.sql(f"SELECT DISTINCT host FROM read_parquet('{made.root}/events/**/*.parquet',"
                   " union_by_name=true) WHERE host IS NOT NULL").fetchall()
    return sorted(r[0] for r in rows)


def test_no_computer_name_reaches_an_analyst(app_and_tokens: tuple[Any, dict[str, str]],
                                             made: ConsoleWorkspace, alert_ids: list[str]
                                             ) -> None:
    # one person's usual computer is as good as their name to anyone with the asset inventory
    app, _ = app_and_tokens
    texts = _texts_for_analyst(app, alert_ids)
    hosts = _hosts(made)
    assert hosts
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(h)}(?![\w-])" for h in hosts),
                         re.IGNORECASE)
    leaks = {(url, m.group(0)) for url, text in texts.items() for m in pattern.finditer(text)}
    assert leaks == set()
    assert any(re.search(r"H-[A-Z2-7]{10}", t) for t in texts.values())


def test_role_and_department_are_shown_only_for_groups_of_k(
        app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace) -> None:
    app, tokens = app_and_tokens
    console = app.state.console
    k = console.workspace_settings.console_min_group
    con = duckdb.connect()
    latest = con.sql(f"SELECT user_id, role, department FROM read_parquet("
                     f"'{made.root}/directory.parquet') QUALIFY row_number() OVER (PARTITION BY"
                     " user_id ORDER BY valid_from DESC NULLS LAST) = 1").fetchall()
    pairs = collections.Counter((r, d) for _, r, d in latest)
    departments = collections.Counter(d for _, _, d in latest)
    roles = collections.Counter(r for _, r, _ in latest)
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {tokens['analyst']}"}
    seen = {"pair": 0, "hidden": 0}
    for user_id, role, department in latest[:80]:
        shown = client.get(f"/api/v1/people/{console.pseudonyms.of(user_id)}",
                           headers=headers).json()
        if pairs[(role, department)] >= k:
            assert (shown["role"], shown["department"]) == (role, department)
            seen["pair"] += 1
        else:
            expected = ((None, department) if departments[department] >= k
                        else (role, None) if roles[role] >= k else (None, None))
            assert (shown["role"], shown["department"]) == expected
            assert "fewer than" in shown["context_hidden"]
            seen["hidden"] += 1
    assert seen["pair"] and seen["hidden"], seen


def test_a_computer_is_allowlisted_by_the_pseudonym_the_console_showed(
        app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace,
        alert_ids: list[str]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    analyst = {"Authorization": f"Bearer {tokens['analyst']}"}
    person = client.get(f"/api/v1/alerts/{alert_ids[2]}", headers=analyst).json()["person"]
    page = client.get(f"/api/v1/people/{person}", headers=analyst).text
    found = re.search(r"H-[A-Z2-7]{10}", page)
    assert found, "the person page shows the computers of the person's events"
    alert, shown = alert_ids[2], found.group(0)
    response = client.post(f"/api/v1/alerts/{alert}/dismiss", json={
        "reason": "shared kiosk in the lobby", "allowlist_kind": "host",
        "allowlist_value": shown}, headers=analyst)
    assert response.status_code == 200, response.text
    if response.json()["allowlist"] == "pending":  # a computer beyond the alert's evidence
        app.state.console.decide(_principal(app, "investigator"),
                                 response.json()["approval"], True)
    allow = json.loads((made.root / "console" / "allowlists.json").read_text())
    assert allow[-1]["kind"] == "host" and allow[-1]["value"] in _hosts(made)
    with pytest.raises(InputError, match="no computer"):
        app.state.console.add_allowlist(_principal(app, "admin"), "host", "H-AAAAAAAAAA",
                                        "a pseudonym this console never showed")


def test_the_alert_page_opens_with_its_summary_and_folds_the_days(
        app_and_tokens: tuple[Any, dict[str, str]], alert_ids: list[str]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {tokens['analyst']}"}
    html = client.get(f"/alerts/{alert_ids[0]}", headers=headers).text
    summary = html.index('id="alert-summary"')
    assert summary < html.index("Findings by day") < html.index("<h2>Evidence")
    # every day's findings repeated the same reasons open, one under another: now folded
    assert '<details class="finding" open' not in html
    shown = client.get(f"/api/v1/alerts/{alert_ids[0]}", headers=headers).json()["summary"]
    assert shown["top_reasons"] and len(shown["top_reasons"]) <= 3
    assert shown["timeline"][-1]["day"] == client.get(
        f"/api/v1/alerts/{alert_ids[0]}", headers=headers).json()["last_day"]
    assert ">None<" not in html
