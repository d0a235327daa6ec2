"""Separation of duties (issue 19, item 4), over HTTP on SQLite and on a real PostgreSQL.

Measured before: one analyst allowlisted any person or ``gmail.com`` for everyone with no
second approval, and one admin revealed identities alone in five requests (switch the reveal
approval off, create an investigator, sign in as it, reveal, switch back). Now those changes
wait in ``approval_requests`` until a second person approves; nobody approves their own
request; every request, approval and refusal is audited with the client address and the
case it serves.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from console_fixture import ConsoleWorkspace, build
from molehunt.cases.accounts import AccessError, Principal, create_account, create_token
from molehunt.cases.models import Account, ApprovalRequest, AuditEntry
from molehunt.web.app import create_app

PASSWORD = "a long test password"
#: where the test client's requests come from (Starlette's TestClient)
CLIENT = "testclient"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> ConsoleWorkspace:
    """The simulated workspace with fake results (built once for the module)."""
    return build(tmp_path_factory.mktemp("console"))


@pytest.fixture
def app(made: ConsoleWorkspace, database_url: str) -> Iterator[Any]:
    """The console on an empty store with two of each role that approves something."""
    application = create_app(made.root, database_url, index_activity=False)
    with application.state.console.store.transaction() as session:
        for name, role in (("admin", "admin"), ("admin2", "admin"),
                           ("analyst", "analyst"), ("analyst2", "analyst"),
                           ("officer", "privacy_officer"), ("auditor", "auditor")):
            create_account(session, name, PASSWORD, role)
    (made.root / "console" / "allowlists.json").unlink(missing_ok=True)
    yield application
    application.state.console.close()


def _sign_in(app: Any, username: str) -> tuple[TestClient, int, str]:
    """A browser-like client signed in as ``username`` through the API: (client, status,
    CSRF token)."""
    client = TestClient(app)
    answer = client.post("/api/v1/login", json={"username": username, "password": PASSWORD})
    return client, answer.status_code, (answer.json().get("csrf_token", "")
                                        if answer.status_code == 200 else "")


def _bearer(app: Any, username: str) -> dict[str, str]:
    with app.state.console.store.transaction() as session:
        account = session.scalar(sa.select(Account).where(Account.username == username))
        assert account is not None
        return {"Authorization": f"Bearer {create_token(session, account, 'tests')}"}


def _principal(app: Any, username: str) -> Principal:
    with app.state.console.store.sessions() as session:
        account = session.scalar(sa.select(Account).where(Account.username == username))
        assert account is not None
        return Principal(account.id, account.username, account.role, "x", client="cli")


def _audit(app: Any, action: str) -> list[dict[str, Any]]:
    with app.state.console.store.sessions() as session:
        rows = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)
                               .order_by(AuditEntry.seq)).all()
        return [{"actor": r.actor, "target": r.target, "reason": r.reason,
                 **json.loads(r.details)} for r in rows]


def _allowlisted(made: ConsoleWorkspace) -> list[dict[str, Any]]:
    path = made.root / "console" / "allowlists.json"
    return json.loads(path.read_text("utf-8")) if path.exists() else []


def _alerts(app: Any) -> list[str]:
    rows = TestClient(app).get("/api/v1/alerts", headers=_bearer(app, "analyst")).json()
    return [a["alert_id"] for a in rows["alerts"]]


def test_one_admin_alone_cannot_reveal_in_five_requests(app: Any, made: ConsoleWorkspace
                                                        ) -> None:
    console = app.state.console
    console.set_reveal_approval(_principal(app, "admin"), True)  # tightening: at once
    assert console.reveal_needs_approval()
    person = console.pseudonyms.of(made.target)
    admin, status, csrf = _sign_in(app, "admin")
    assert status == 200
    headers = {"X-CSRF-Token": csrf}
    # 1. switch the reveal approval off
    admin.post("/settings/reveal-approval", data={
        "required": "", "reason": "audit season is over", "csrf_token": csrf},
        follow_redirects=False)
    # 2. create an investigator
    admin.post("/api/v1/accounts", json={
        "username": "shadow", "password": PASSWORD, "role": "investigator",
        "reason": "temporary help with a case"}, headers=headers)
    # 3. sign in as it, 4. reveal
    shadow, status, shadow_csrf = _sign_in(app, "shadow")
    revealed: dict[str, Any] = {}
    if status == 200:
        revealed = shadow.post(f"/api/v1/people/{person}/reveal", json={
            "reason": "just curious about this one"}, headers={"X-CSRF-Token": shadow_csrf}
        ).json()
    assert revealed.get("status") != "revealed" and "user_id" not in revealed
    assert status == 401, "the investigator account must not exist before a second approval"
    assert console.reveal_needs_approval(), "switching approval off needs a second person"
    assert not _audit(app, "reveal")
    # both steps wait, described as what they would change, with the client address
    mine = admin.get("/api/v1/approvals").json()["mine"]
    assert {r["summary"] for r in mine} == {
        "create account shadow with role investigator",
        "reveal approval: required → not required (investigators would then see identities"
        " without a privacy officer's approval)"}
    assert all(r["status"] == "pending" for r in mine)
    requests = _audit(app, "approval.request")
    assert len(requests) == 2 and all(r["client"] == CLIENT for r in requests)
    # the same admin cannot approve them: refused, and the refusal is audited
    for request in mine:
        refused = admin.post(f"/api/v1/approvals/{request['id']}", json={"approve": True},
                             headers=headers)
        assert refused.status_code == 403, refused.text
        assert "nobody approves their own" in refused.json()["error"]
    refusals = _audit(app, "approval.refused")
    assert len(refusals) == 2 and all(r["client"] == CLIENT for r in refusals)
    # an analyst may not decide them either
    analyst = TestClient(app, headers=_bearer(app, "analyst"))
    assert analyst.get("/api/v1/approvals").json()["to_decide"] == []
    assert analyst.post(f"/api/v1/approvals/{mine[0]['id']}",
                        json={"approve": True}).status_code == 403
    # a privacy officer sees exactly what would change and approves the account only
    officer = TestClient(app, headers=_bearer(app, "officer"))
    waiting = {r["action"]: r for r in officer.get("/api/v1/approvals").json()["to_decide"]}
    assert set(waiting) == {"account.create", "setting.reveal_approval"}
    assert "password" not in json.dumps(waiting)  # the hash never leaves the store
    approved = officer.post(f"/api/v1/approvals/{waiting['account.create']['id']}",
                            json={"approve": True, "reason": "checked with HR"})
    assert approved.json()["status"] == "approved", approved.text
    denied = officer.post(f"/api/v1/approvals/{waiting['setting.reveal_approval']['id']}",
                          json={"approve": False, "reason": "no"})
    assert denied.json()["status"] == "denied"
    # the investigator now exists, and its reveal still needs the privacy officer
    shadow, status, shadow_csrf = _sign_in(app, "shadow")
    assert status == 200
    case = _open_case(app)  # about the alert's person, who is `person`
    pending = shadow.post(f"/api/v1/people/{person}/reveal", json={
        "reason": "interview planning for the case", "case_id": case},
        headers={"X-CSRF-Token": shadow_csrf})
    assert pending.json()["status"] == "pending"
    assert console.reveal_needs_approval()
    asked = _audit(app, "reveal.request")[-1]
    assert asked["case"] == case and asked["client"] == CLIENT
    assert [r["case_id"] for r in officer.get("/api/v1/reveal-requests").json()] == [case]
    someone_else = console.pseudonyms.of(next(u for u in made.user_ids if u != made.target))
    wrong = shadow.post(f"/api/v1/people/{someone_else}/reveal", json={
        "reason": "interview planning for the case", "case_id": case},
        headers={"X-CSRF-Token": shadow_csrf})
    assert wrong.status_code == 400 and "is not about" in wrong.json()["error"]
    decisions = _audit(app, "approval.approve") + _audit(app, "approval.deny")
    assert {d["actor"] for d in decisions} == {"officer"}
    assert all(d["client"] == CLIENT and d["requested_by"] == "admin" for d in decisions)
    created = _audit(app, "account.create")
    assert created[-1]["target"] == "shadow" and created[-1]["approval"] == int(
        waiting["account.create"]["id"])


def test_a_second_admin_switches_approval_off_and_promotions_wait(app: Any) -> None:
    console = app.state.console
    admin = _principal(app, "admin")
    console.set_reveal_approval(admin, True)
    case = _open_case(app)
    answer = console.set_reveal_approval(admin, False, "pilot of the new workflow", case)
    assert answer["status"] == "pending" and console.reveal_needs_approval()
    assert console.decide(_principal(app, "admin2"), answer["approval"], True)["status"] == (
        "approved")
    assert not console.reveal_needs_approval()
    switched = _audit(app, "setting.reveal_approval")[-1]
    assert switched["actor"] == "admin2" and switched["case"] == case
    # a role change to a privileged role waits; so does a reset of a privileged password,
    # whose new password goes to the approver, never the requester
    promoted = console.update_account(admin, "analyst2", "investigator", None,
                                      "joins the investigations team", case)
    assert promoted["status"] == "pending"
    with console.store.sessions() as session:
        assert session.scalar(sa.select(Account.role).where(
            Account.username == "analyst2")) == "analyst"
    # nobody approves a change of their own account, even with the right role
    with pytest.raises(AccessError, match="own account"):
        console.decide(_principal(app, "analyst2"), promoted["approval"], True)
    console.decide(_principal(app, "officer"), promoted["approval"], True)
    reset = console.reset_password(admin, "admin2", "admin2 lost the password")
    assert reset["status"] == "pending" and "password" not in reset
    officer, status, csrf = _sign_in(app, "officer")
    assert status == 200
    page = officer.get("/settings").text
    assert "new password for admin2 (admin); shown to the approver" in page
    shown = officer.post(f"/settings/approvals/{reset['approval']}", data={
        "decision": "approve", "csrf_token": csrf})
    found = re.search(r'id="new-password">([^<]+)<', shown.text)
    assert found, shown.text[:2000]
    assert TestClient(app).post("/api/v1/login", json={
        "username": "admin2", "password": found.group(1)}).status_code == 200
    # an analyst account is still the admin's to make alone
    assert console.create_account(admin, "newbie", PASSWORD, "analyst")["status"] == "done"


def _open_case(app: Any) -> int:
    console = app.state.console
    return int(console.open_case(_principal(app, "analyst"), [_alerts(app)[0]], None))


def test_one_analyst_cannot_allowlist_gmail_or_a_person_for_everyone(
        app: Any, made: ConsoleWorkspace) -> None:
    alert_ids = _alerts(app)
    analyst = TestClient(app, headers=_bearer(app, "analyst"))
    other = next(u for u in made.user_ids if u != made.target)
    other_alias = app.state.console.pseudonyms.of(other)
    answers = [analyst.post(f"/api/v1/alerts/{alert_ids[0]}/dismiss", json={
        "reason": "benign: project team sharing", "allowlist_kind": kind,
        "allowlist_value": value}) for kind, value in (
            ("domain", "gmail.com"), ("person", other_alias), ("domain", "com"))]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    allowed = {(e["kind"], e["value"]) for e in _allowlisted(made)}
    assert ("domain", "gmail.com") not in allowed and ("person", other) not in allowed
    assert ("domain", "com") not in allowed
    assert [a.json().get("allowlist") for a in answers] == ["pending"] * 3
    # what the approver reads: the exact change and why it needs a second person
    mine = analyst.get("/api/v1/approvals").json()["mine"]
    summaries = " | ".join(r["summary"] for r in mine)
    assert "domain gmail.com (gmail.com is a webmail domain" in summaries
    assert f"person {other_alias} (a person allowlist" in summaries
    assert other not in json.dumps(mine)  # the person is shown by pseudonym only
    assert all(r["alert_id"] == alert_ids[0] for r in mine)
    # the requester cannot approve; a second analyst can, and then it holds
    gmail = next(r["id"] for r in mine if "gmail.com" in r["summary"])
    assert analyst.post(f"/api/v1/approvals/{gmail}", json={"approve": True}
                        ).status_code == 403
    second = TestClient(app, headers=_bearer(app, "analyst2"))
    assert second.post(f"/api/v1/approvals/{gmail}", json={"approve": True}
                       ).json()["status"] == "approved"
    assert ("domain", "gmail.com") in {(e["kind"], e["value"]) for e in _allowlisted(made)}
    entry = _audit(app, "allowlist.add")[-1]
    assert entry["actor"] == "analyst2" and entry["requested_by"] == "analyst"
    assert entry["alert"] == alert_ids[0] and entry["client"] == CLIENT
    # a value the alert's own evidence shows is one person's call, at once
    within = analyst.post(f"/api/v1/alerts/{alert_ids[0]}/dismiss", json={
        "reason": "the upload site is our own", "allowlist_kind": "domain",
        "allowlist_value": "drop.example"}).json()
    assert within["allowlist"] == "added"
    assert ("domain", "drop.example") in {(e["kind"], e["value"]) for e in _allowlisted(made)}


def test_admin_allowlists_wait_for_an_admin_or_officer_and_requests_expire(
        app: Any, made: ConsoleWorkspace) -> None:
    admin = TestClient(app, headers=_bearer(app, "admin"))
    answer = admin.post("/api/v1/settings/allowlist", json={
        "kind": "domain", "value": "partner.example", "reason": "contract 2024-17 partner"})
    assert answer.json()["status"] == "pending", answer.text
    assert _allowlisted(made) == []
    # admins make analyst accounts alone, so an analyst cannot approve an admin's allowlist
    analyst = TestClient(app, headers=_bearer(app, "analyst"))
    assert analyst.post(f"/api/v1/approvals/{answer.json()['approval']}",
                        json={"approve": True}).status_code == 403
    officer, _, csrf = _sign_in(app, "officer")
    page = officer.get("/settings").text
    assert "add to the allowlist, for everyone: domain partner.example" in page
    assert officer.post(f"/settings/approvals/{answer.json()['approval']}", data={
        "decision": "approve", "csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert _allowlisted(made)[-1]["value"] == "partner.example"
    # a request nobody decided in time cannot be approved any more
    late = admin.post("/api/v1/settings/allowlist", json={
        "kind": "domain", "value": "late.example", "reason": "a reason long enough"}).json()
    with app.state.console.store.transaction() as session:
        request = session.get(ApprovalRequest, late["approval"])
        assert request is not None
        request.expires_at = request.created_at - dt.timedelta(seconds=1)
    expired = TestClient(app, headers=_bearer(app, "officer")).post(
        f"/api/v1/approvals/{late['approval']}", json={"approve": True})
    assert expired.status_code == 400 and "expired" in expired.json()["error"]
    mine = admin.get("/api/v1/approvals").json()["mine"]
    assert next(r for r in mine if r["id"] == late["approval"])["status"] == "expired"


# -- the same in a real browser: the forms and the second person's pending list -------------
CHROMIUM = "/usr/lib/chromium/chromium"


@pytest.fixture
def served(made: ConsoleWorkspace, tmp_path: Any) -> Iterator[str]:
    """The console served by uvicorn on a free local port, with an admin and an officer."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: run `make test`, which installs chromium")
    import uvicorn

    application = create_app(made.root, f"sqlite:///{tmp_path / 'console.sqlite'}",
                             index_activity=False)
    with application.state.console.store.transaction() as session:
        create_account(session, "boss", PASSWORD, "admin")
        create_account(session, "olga", PASSWORD, "privacy_officer")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):  # wait until it listens (not a timing assertion)
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_second_person_approves_in_the_browser(served: str, tmp_path: Any) -> None:
    from playwright.sync_api import sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])

        def signed_in(username: str) -> Any:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(f"{served}/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            page.goto(f"{served}/settings")
            return page

        boss = signed_in("boss")
        form = boss.locator("form[action='/settings/accounts']")
        form.locator("input[name=username]").fill("ivy2")
        form.locator("input[name=password]").fill(PASSWORD)
        form.locator("select[name=role]").select_option("investigator")
        form.locator("input[name=reason]").fill("new investigator for the fraud team")
        form.locator("button[type=submit]").click()
        boss.wait_for_selector("#my-requests")
        mine = boss.inner_text("#my-requests")
        assert "create account ivy2 with role investigator" in mine and "pending" in mine
        assert "ivy2" not in boss.inner_text("#to-decide")  # not one's own to approve
        boss.screenshot(path=str(shots / "requester.png"), full_page=True)
        olga = signed_in("olga")
        waiting = olga.locator("#to-decide tbody tr", has_text="create account ivy2")
        assert waiting.count() == 1
        assert "new investigator for the fraud team" in waiting.inner_text()
        olga.screenshot(path=str(shots / "approver.png"), full_page=True)
        waiting.locator("input[name=reason]").fill("confirmed with HR")
        waiting.locator("button[value=approve]").click()
        olga.wait_for_selector("#to-decide")
        assert "nothing waits for you" in olga.inner_text("#to-decide")
        boss.reload()
        assert "approved" in boss.inner_text("#my-requests")
        assert "olga" in boss.inner_text("#my-requests")
        ivy = signed_in("ivy2")  # the account exists now
        assert ivy.url.endswith("/settings")
        browser.close()
    print(f"screenshots: {shots}")
