"""The console's hardening (issue 19): bidi controls in pages, request-body limits, the
client address behind a spoofed X-Forwarded-For, incremental audit verification, token
expiry/scopes/revocation, audited failed logins, a lockout an attacker cannot turn against
the admin, normalised user names and the password policy."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import sqlalchemy as sa
from alembic import command
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from conftest import ingest_jsonl
from console_fixture import ConsoleWorkspace, build
from molehunt.cases import audit
from molehunt.cases.accounts import (
    InputError,
    Principal,
    create_account,
    create_token,
    login,
    principal_from_token,
    set_password,
)
from molehunt.cases.models import ROLES, Account, ApiToken, AuditEntry, LoginFailure, utcnow
from molehunt.cases.service import Console
from molehunt.cases.store import _alembic_config, open_store
from molehunt.safe_text import BIDI_CONTROLS
from molehunt.store.workspace import Workspace
from molehunt.web.app import create_app

PASSWORD = "a long test password"
#: a file name that displays as "invoice_exe.docx" when its U+202E is obeyed
BIDI_NAME = "invoice_\u202excod.exe"
BIDI_ALL = "".join(sorted(BIDI_CONTROLS))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> ConsoleWorkspace:
    """The console fixture's workspace plus events whose strings carry bidi controls."""
    made = build(tmp_path_factory.mktemp("hardening"))
    day = made.alert_ids[0][-10:]
    lines = [{"event_id": "bidi-file", "ts": f"{day}T11:00:00", "user_id": made.target,
              "host": "PC-X", "action": "file_copy", "channel": "removable_media",
              "object": f"C:\\secret\\{BIDI_NAME}", "target": "E:\\"},
             {"event_id": "bidi-mail", "ts": f"{day}T11:01:00", "user_id": made.target,
              "host": "PC-X", "action": "email_send", "channel": "email_external",
              "object": f"me {BIDI_ALL}@corp", "target": "x@rival.example",
              "domain": "rival.example", "content": f"Subject: all of them {BIDI_ALL} here"}]
    planted = made.root.parent / "bidi.jsonl"
    planted.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    ingest_jsonl(Workspace(made.root), [planted])
    return made


@pytest.fixture(scope="module")
def app_and_tokens(made: ConsoleWorkspace, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app on a fresh SQLite store, one account and API token per role."""
    db = tmp_path_factory.mktemp("db") / "console.sqlite"
    app = create_app(made.root, f"sqlite:///{db}", index_activity=False)
    tokens = {}
    with app.state.console.store.transaction() as session:
        for role in ROLES:
            account = create_account(session, role, PASSWORD, role)
            tokens[role] = create_token(session, account, "tests")
    yield app, tokens
    app.state.console.store.close()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- item 7: bidi controls ----------------------------------------------------------------------
def test_bidi_controls_in_log_strings_are_shown_not_obeyed(
        app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    headers = _bearer(tokens["analyst"])
    first = client.get("/api/v1/alerts", headers=headers).json()["alerts"][0]
    person = first["person"]
    day = made.alert_ids[0][-10:]
    pages = {}
    for channel in ("removable_media", "email_external"):
        url = f"/people/{person}?from={day}&to={day}&channel={channel}"
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        pages[channel] = response.text
    # the planted strings reached the pages, each control character as a visible mark
    assert "invoice_[U+202E]xcod.exe" in pages["removable_media"]
    assert all(f"[U+{ord(c):04X}]" in pages["email_external"] for c in BIDI_CONTROLS)
    # the mail's body is withheld by default; an investigator reading it sees marks too
    csrf_headers = _bearer(tokens["investigator"])
    text = client.post(f"/api/v1/people/{person}/event-text", headers=csrf_headers,
                       json={"event_id": "bidi-mail", "day": day,
                             "reason": "reading the mail of the alert"})
    assert text.status_code == 200, text.text
    assert text.json()["content"].startswith("Subject: all of them")
    for html in pages.values():
        assert not any(c in html for c in BIDI_CONTROLS)


# -- item 6: availability against the real server -------------------------------------------------
@dataclass
class Served:
    """``molehunt serve`` in a child process: its URL, port, database and admin password."""

    url: str
    port: int
    database_url: str
    admin_password: str
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def served(made: ConsoleWorkspace, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:
    """The console exactly as `molehunt serve` runs it (uvicorn, default options)."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('served') / 'console.sqlite'}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items()
           if key not in ("FORWARDED_ALLOW_IPS", "MOLEHUNT_FORWARDED_ALLOW_IPS")}
    process = subprocess.Popen(
        [sys.executable, "-m", "molehunt.cli", "--workspace", str(made.root), "serve",
         "--port", str(port), "--database-url", database_url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    password = ""
    assert process.stdout is not None
    for line in process.stdout:  # the child prints the URL, then the admin password
        if line.startswith("admin password:"):
            password = line.split()[2]
            break
    assert password, "molehunt serve printed no admin password"
    for _ in range(600):  # wait until it listens (not a timing assertion)
        with socket.socket() as attempt:
            if attempt.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield Served(f"http://127.0.0.1:{port}", port, database_url, password, process)
    process.terminate()
    process.wait(timeout=30)


def _read_response(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a refused body's
    connection cannot carry another request, so the server closes it)."""
    data = b""
    while True:
        try:
            chunk = connection.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_a_250_mb_content_length_is_refused_before_the_body(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as connection:
        connection.settimeout(60)  # a safety net for the old behaviour (waiting for 250 MB)
        connection.sendall(b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\n"
                           b"Content-Length: 262144000\r\n\r\n" + b"{" + b" " * 65535)
        answer = _read_response(connection)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"at most 1,048,576 bytes" in answer


def test_a_streamed_250_mb_body_is_cut_off_without_being_read(served: Served) -> None:
    server = psutil.Process(served.process.pid)
    before = server.memory_info().rss
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", served.port)) as connection:
        connection.sendall(b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            while sent < 250 * 2**20:
                readable, _, _ = select.select([connection], [], [], 0)
                if readable:  # the server answered before the body ended
                    break
                connection.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        connection.settimeout(60)
        answer = _read_response(connection)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"at most 1,048,576 bytes" in answer
    assert sent < 64 * 2**20, f"the server read {sent:,} bytes before answering"
    assert server.memory_info().rss - before < 64 * 2**20


def test_x_forwarded_for_from_loopback_is_not_believed(served: Served) -> None:
    spoofed = "203.0.113.77"
    with httpx.Client(base_url=served.url, timeout=60) as client:
        response = client.post("/api/v1/login", json={"username": "admin",
                                                      "password": "not the password"},
                               headers={"X-Forwarded-For": spoofed})
    assert response.status_code == 401
    store = open_store(served.database_url)
    with store.sessions() as session:
        keys = set(session.scalars(sa.select(LoginFailure.key)).all())
    store.close()
    assert not any(spoofed in key for key in keys), keys
    assert any("127.0.0.1" in key for key in keys), keys


def test_a_request_body_over_1_mb_is_one_line_413(app_and_tokens: tuple[Any, dict[str, str]]
                                                   ) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    big = client.post("/api/v1/cases/1/notes", json={"body": "x" * (2 * 2**20)},
                      headers=_bearer(tokens["analyst"]))
    assert big.status_code == 413
    assert big.json() == {"error": "request body too large: at most 1,048,576 bytes here"}
    small = client.post("/api/v1/login", json={"username": "nobody", "password": "x" * 20})
    assert small.status_code == 401


def test_the_audit_page_verifies_from_its_last_checkpoint(
        made: ConsoleWorkspace, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    console = Console(made.root, store)
    auditor = Principal(1, "aud", "auditor")
    for i in range(50):
        with store.transaction() as session:
            audit.record(session, actor="ana", role="analyst", action="person.view",
                         target=f"P-{i}")
    first = console.audit_log(auditor)["verification"]
    assert first["ok"] and first["entries"] == 50 and first["checked"] == 50
    for i in range(3):
        with store.transaction() as session:
            audit.record(session, actor="ana", role="analyst", action="person.view",
                         target=f"Q-{i}")
    second = console.audit_log(auditor)["verification"]
    assert second["ok"] and second["entries"] == 53 and second["checked"] == 3
    # what was appended since the checkpoint is still checked, and a cut below it is seen
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        connection.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
    with store.transaction() as session:
        audit.record(session, actor="ana", role="analyst", action="person.view", target="R")
    with store.engine.begin() as connection:
        connection.execute(sa.update(AuditEntry).where(AuditEntry.seq == 54)
                           .values(actor="mallory"))
    assert console.audit_log(auditor)["verification"]["problem"] == (
        "entry 54 was altered (hash mismatch)")
    with store.engine.begin() as connection:
        connection.execute(sa.delete(AuditEntry).where(AuditEntry.seq >= 40))
    assert console.audit_log(auditor)["verification"]["problem"] == (
        "entry 53 is missing (the log was cut below the last verified entry)")
    console.close()


# -- item 5: sessions and accounts ---------------------------------------------------------------
def _account_with_token(app: Any, name: str) -> str:
    with app.state.console.store.transaction() as session:
        account = create_account(session, name, PASSWORD, "analyst")
        return create_token(session, account, "script")


def test_a_token_is_refused_after_a_password_reset(app_and_tokens: tuple[Any, dict[str, str]]
                                                   ) -> None:
    app, _ = app_and_tokens
    token = _account_with_token(app, "resetme")
    client = TestClient(app)
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    store = app.state.console.store
    with store.transaction() as session:
        account = session.scalar(sa.select(Account).where(Account.username == "resetme"))
        set_password(session, account, "an entirely new pass phrase")
    app.state.console.principals.clear()
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401
    # the console's own reset (and `molehunt accounts reset-password`) does the same
    again = _account_with_token(app, "resetme2")
    assert client.get("/api/v1/me", headers=_bearer(again)).status_code == 200
    admin = Principal(0, "admin", "admin")
    app.state.console.reset_password(admin, "resetme2")
    assert client.get("/api/v1/me", headers=_bearer(again)).status_code == 401


def test_a_token_is_refused_after_deactivation_even_once_reactivated(
        app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, _ = app_and_tokens
    token = _account_with_token(app, "leaver")
    client = TestClient(app)
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    admin = Principal(0, "admin", "admin")
    app.state.console.update_account(admin, "leaver", None, False)
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401
    app.state.console.update_account(admin, "leaver", None, True)
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_tokens_cannot_mint_tokens_and_carry_scope_and_expiry(
        app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    minted = client.post("/api/v1/tokens", json={"name": "child"},
                         headers=_bearer(tokens["analyst"]))
    assert minted.status_code == 403 and "sign in" in minted.json()["error"]
    store = app.state.console.store
    with store.transaction() as session:
        account = session.scalar(sa.select(Account).where(Account.username == "analyst"))
        reader = create_token(session, account, "reader", ["read"])
        short = create_token(session, account, "short", days=1)
    assert client.get("/api/v1/alerts", headers=_bearer(reader)).status_code == 200
    change = client.post("/api/v1/alerts/import", headers=_bearer(reader))
    assert change.status_code == 403 and "may only read" in change.json()["error"]
    assert client.get("/api/v1/me", headers=_bearer(short)).status_code == 200
    with store.transaction() as session:
        session.execute(sa.update(ApiToken).where(ApiToken.name == "short").values(
            expires_at=utcnow() - dt.timedelta(seconds=1)))
    app.state.console.principals.clear()
    assert client.get("/api/v1/me", headers=_bearer(short)).status_code == 401
    listed = {t["name"]: t for t in client.get("/api/v1/tokens",
                                               headers=_bearer(tokens["analyst"])).json()}
    assert listed["reader"]["scopes"] == ["read"] and listed["short"]["expired"]


def test_homoglyph_and_case_variants_are_one_account(app_and_tokens: tuple[Any, dict[str, str]]
                                                     ) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    refused = {}
    for name in ("Admin", "ADMIN", "\u0430dmin", "\uff41dmin"):  # Cyrillic а, full-width a
        response = client.post("/api/v1/accounts", json={
            "username": name, "password": "yet another long secret", "role": "analyst"},
            headers=_bearer(tokens["admin"]))
        refused[name] = (response.status_code, response.json()["error"])
    assert refused == {"Admin": (400, "user name 'admin' is taken"),
                       "ADMIN": (400, "user name 'admin' is taken"),
                       "\u0430dmin": (400, "user name 'аdmin' mixes scripts (cyrillic, latin)"),
                       "\uff41dmin": (400, "user name 'admin' is taken")}
    signed_in = client.post("/api/v1/login", json={"username": "ADMIN", "password": PASSWORD})
    assert signed_in.status_code == 200 and signed_in.json()["username"] == "admin"


def test_common_and_decorated_passwords_are_refused(app_and_tokens: tuple[Any, dict[str, str]]
                                                    ) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    for password in ("Password123!", "P@ssw0rd2024!", "qwertyuiop123", "Summer2025!!",
                     "newcomer-rules-ok"):
        response = client.post("/api/v1/accounts", json={
            "username": "newcomer", "password": password, "role": "analyst"},
            headers=_bearer(tokens["admin"]))
        assert response.status_code == 400, password
        assert "password" in response.json()["error"], password
    good = client.post("/api/v1/accounts", json={
        "username": "newcomer", "password": "violet tram under the bridge", "role": "analyst"},
        headers=_bearer(tokens["admin"]))
    assert good.status_code == 200, good.text


def _audit_rows(app: Any, action: str) -> list[AuditEntry]:
    with app.state.console.store.sessions() as session:
        return list(session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.seq)).all())


def test_an_attacker_cannot_lock_the_admin_out(app_and_tokens: tuple[Any, dict[str, str]]
                                               ) -> None:
    app, _ = app_and_tokens
    attacker = TestClient(app, client=("198.51.100.99", 40000))
    for _ in range(6):
        attacker.post("/api/v1/login", json={"username": "admin", "password": "x" * 16})
    admin = TestClient(app, client=("192.0.2.11", 40001))
    signed_in = admin.post("/api/v1/login", json={"username": "admin", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text


def test_failed_logins_and_lockouts_are_audited(app_and_tokens: tuple[Any, dict[str, str]]
                                                ) -> None:
    app, _ = app_and_tokens
    attacker = TestClient(app, client=("198.51.100.66", 40000))
    for _ in range(5):
        wrong = attacker.post("/api/v1/login", json={"username": "Auditor",
                                                     "password": "guess guess guess"})
        assert wrong.status_code == 401
    assert attacker.post("/api/v1/login", json={"username": "auditor", "password": PASSWORD}
                         ).status_code == 429  # this address is locked out of this account
    failed = [r for r in _audit_rows(app, "login.failed")
              if json.loads(r.details)["client"] == "198.51.100.66"]
    assert len(failed) == 5
    assert all(r.target == "auditor" and json.loads(r.details)["account_exists"] for r in failed)
    lockouts = [json.loads(r.details) for r in _audit_rows(app, "login.lockout")]
    assert {"client": "198.51.100.66", "scope": "account+address"} in [
        {k: d[k] for k in ("client", "scope")} for d in lockouts]
    # the account's owner, from their own address, still gets in
    owner = TestClient(app, client=("192.0.2.10", 40001))
    signed_in = owner.post("/api/v1/login", json={"username": "auditor", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text


def test_accounts_made_before_normalisation_keep_working(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = open_store(url, migrate=False)
    with old.engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0001")
        hasher = PasswordHasher()
        for name, password in (("Admin", "first admin password"),
                               ("admin", "second admin password"),
                               ("JSmith", "smith's own password")):
            connection.execute(sa.text(
                "INSERT INTO accounts (username, password_hash, role, active, created_at)"
                " VALUES (:n, :h, 'analyst', 1, '2024-01-01 00:00:00')"),
                {"n": name, "h": hasher.hash(password)})
        connection.execute(sa.text(
            "INSERT INTO api_tokens (token_hash, account_id, name, created_at, revoked)"
            " VALUES (:h, 3, 'old', '2024-01-01 00:00:00', 0)"),
            {"h": hashlib.sha256(b"mh_old_token").hexdigest()})
    old.close()
    store = open_store(url)  # migrates
    assert store.revision() == store.head_revision()
    assert login(store, "Admin", "first admin password", "10.0.0.1")[0].username == "Admin"
    assert login(store, "admin", "second admin password", "10.0.0.1")[0].username == "admin"
    assert login(store, "jsmith", "smith's own password", "10.0.0.1")[0].username == "JSmith"
    with store.sessions() as session:
        principal = principal_from_token(session, "mh_old_token")
    assert principal is not None and principal.scopes == {"read", "write"}
    with store.transaction() as session, pytest.raises(InputError, match="taken"):
        create_account(session, "JSMITH", "a fresh long password", "analyst")
    store.close()
