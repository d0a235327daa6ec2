"""The console's hardening (issue 19): bidi controls in pages, request-body limits, the
client address behind a spoofed X-Forwarded-For, incremental audit verification, token
expiry/scopes/revocation, audited failed logins, a lockout an attacker cannot turn against
the admin, normalised user names and the password policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import ingest_jsonl
from console_fixture import ConsoleWorkspace, build
from molehunt.cases.accounts import create_account, create_token
from molehunt.cases.models import ROLES
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
              "object": "me@corp", "target": "x@rival.example", "domain": "rival.example",
              "content": f"Subject: all of them {BIDI_ALL} here"}]
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
    for html in pages.values():
        assert not any(c in html for c in BIDI_CONTROLS)
