"""The console on what `molehunt run` really writes (not the stand-in results of the fixture)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from molehunt.cases.accounts import create_account, create_token
from molehunt.store.connect import connect
from molehunt.store.workspace import Workspace
from molehunt.web.app import create_app

PASSWORD = "a long test password"


def test_the_console_shows_real_detection_results(detect_org: Any, tmp_path: Path) -> None:
    shared, _ = detect_org
    workspace = Workspace(tmp_path / "ws")  # the console writes its key and index into it
    shutil.copytree(shared.root, workspace.root)
    app = create_app(workspace.root, f"sqlite:///{tmp_path / 'console.sqlite'}")
    try:
        with app.state.console.store.transaction() as session:
            token = create_token(session, create_account(session, "analyst", PASSWORD,
                                                         "analyst"), "tests")
        client = TestClient(app)
        headers = {"Authorization": f"Bearer {token}"}
        overview = client.get("/api/v1/overview", headers=headers)
        assert overview.status_code == 200
        assert overview.json()["top"], "no one has risk: the console did not read the results"
        alerts = client.get("/api/v1/alerts", headers=headers).json()["alerts"]
        assert alerts, "the run opened alerts; the console must list them"
        alert_id = alerts[0]["alert_id"]
        detail = client.get(f"/api/v1/alerts/{alert_id}", headers=headers)
        assert detail.status_code == 200
        person = detail.json()["person"]
        texts = {}
        for url in ("/", "/alerts", f"/alerts/{alert_id}", f"/people/{person}",
                    f"/api/v1/people/{person}", f"/api/v1/alerts/{alert_id}"):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            texts[url] = response.text
        # the whole-history ledger per content family, as the feature build wrote it
        families = pq.read_table(workspace.root / "features" / "ledger_families.parquet")
        leaker = max(families.to_pylist(), key=lambda r: (r["sensitivity_max"], r["documents"]))
        alias = app.state.console.pseudonyms.of(leaker["user_id"])
        shown = client.get(f"/api/v1/people/{alias}", headers=headers).json()["ledger_families"]
        stored = [r for r in families.to_pylist() if r["user_id"] == leaker["user_id"]]
        assert sorted((r["family"], r["documents"], r["events"]) for r in shown) == sorted(
            (r["family"], r["documents"], r["events"]) for r in stored)
        page_text = client.get(f"/people/{alias}", headers=headers).text
        assert 'id="families"' in page_text and leaker["family"] in page_text
        # what the deployment cannot see is said on the person's page (the simulation logs
        # no badges), as `molehunt run` found it
        cannot_see = client.get(f"/api/v1/people/{alias}", headers=headers).json()["cannot_see"]
        assert "physical" in cannot_see and "web_direction" not in cannot_see
        assert 'id="cannot-see"' in page_text and cannot_see["physical"] in page_text
        texts[f"/people/{alias}"] = page_text
    finally:
        app.state.console.store.close()
    store = connect(workspace)
    try:
        people = store.con.to_pyarrow(store.directory.select("user_id", "name", "email")
                                      .distinct()).to_pylist()
    finally:
        store.close()
    secrets = {v for p in people for v in (p["user_id"], p["name"], p["email"]) if v}
    leaks = [(url, s) for url, text in texts.items() for s in secrets if s in text]
    assert leaks == []
