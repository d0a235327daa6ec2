"""`molehunt run`, `export` and `evaluate` end to end on the shared simulated organisation."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import only_detectors
from molehunt.pipeline import (
    ALERTS_ARROW,
    FINDINGS_ARROW,
    RISK_ARROW,
    read_results,
    results_dir,
    run_detection,
)
from molehunt.store.workspace import Workspace


def _molehunt(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "molehunt.cli", "--workspace",
                           str(workspace), *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_results_follow_the_contract(detect_org: Any) -> None:
    workspace, _ = detect_org
    results = results_dir(workspace)
    findings = read_results(results / "findings")
    risk = read_results(results / "risk")
    alerts = pq.read_table(results / "alerts.parquet")
    assert findings is not None and risk is not None
    assert findings.schema.equals(FINDINGS_ARROW)
    assert risk.schema.equals(RISK_ARROW)
    assert alerts.schema.equals(ALERTS_ARROW)
    day_folders = sorted(p.name for p in (results / "findings").iterdir())
    assert day_folders and all(name.startswith("day=") for name in day_folders)
    assert all(0 <= r <= 100 for r in risk.column("risk").to_pylist())
    assert len(set(alerts.column("alert_id").to_pylist())) == alerts.num_rows
    # every point of risk traces back to a finding of that person
    finders = {(r["user_id"], r["detector"]) for r in
               findings.select(["user_id", "detector"]).to_pylist()}
    for row in risk.slice(0, 200).to_pylist():
        for reason in row["reasons"]:
            detector = reason["text"][1:].split(" ", 1)[0]
            assert (row["user_id"], detector) in finders


def test_daily_runs_equal_one_full_run(detect_org: Any, tmp_path: Path) -> None:
    workspace, _ = detect_org
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(workspace.root, copy.root)
    results = results_dir(copy)
    full = read_results(results / "findings")
    state = json.loads((results / "state.json").read_text())
    last = dt.date.fromisoformat(state["scored_until"])
    cut = last - dt.timedelta(days=20)
    for folder in (results / "findings").iterdir():
        if dt.date.fromisoformat(folder.name[4:]) > cut:
            shutil.rmtree(folder)
    state["scored_until"] = cut.isoformat()
    (results / "state.json").write_text(json.dumps(state))
    with copy.locked():
        summary = run_detection(copy, features=False)
    assert summary.start == cut + dt.timedelta(days=1)
    again = read_results(results / "findings")
    assert again is not None and full is not None
    key = ["user_id", "day", "detector"]
    assert again.sort_by([(k, "ascending") for k in key]).to_pylist() == full.sort_by(
        [(k, "ascending") for k in key]).to_pylist()
    with copy.locked():
        nothing = run_detection(copy, features=False)
    assert nothing.start is None and nothing.findings == {}


def test_features_of_a_new_meaning_rescore_every_day(detect_org: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A new molehunt whose features changed meaning (STATE_VERSION: they are rebuilt) makes
    every finding stale: the next run scores every day again, not only new ones (before, it
    said "no new days to score" and kept findings of the old features)."""
    workspace, _ = detect_org
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(workspace.root, copy.root)
    # a run's mechanics: one detector will do (switching the others off rescores once)
    only_detectors(copy.root, "admin_sabotage")
    with copy.locked():
        run_detection(copy, features=False)
        unchanged = run_detection(copy, features=False)
    assert unchanged.start is None
    import molehunt.features.build as build

    monkeypatch.setattr(build, "STATE_VERSION", build.STATE_VERSION + 1)
    with copy.locked():
        again = run_detection(copy, features=False)
    state = json.loads((results_dir(copy) / "state.json").read_text())
    assert again.start is not None and again.start.isoformat() < state["scored_until"]
    assert sum(again.findings.values()) > 0


def test_run_applies_the_consoles_allowlists_and_weights(detect_org: Any, tmp_path: Path
                                                         ) -> None:
    workspace, _ = detect_org
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(workspace.root, copy.root)
    risk = read_results(results_dir(copy) / "risk")
    assert risk is not None
    top = max(risk.to_pylist(), key=lambda r: r["risk"])
    console = copy.root / "console"
    console.mkdir(exist_ok=True)
    (console / "allowlists.json").write_text(json.dumps([
        {"kind": "person", "value": top["user_id"], "reason": "reviewed: approved transfer"}]))
    (console / "detector_weights.json").write_text(json.dumps({"peer_anomaly": 0}))
    with copy.locked():
        run_detection(copy, features=False)
    after = read_results(results_dir(copy) / "risk")
    assert after is not None
    mine = [r for r in after.to_pylist() if r["user_id"] == top["user_id"]]
    assert max(r["risk"] for r in mine) < top["risk"]
    assert any("approved transfer" in x["text"] for r in mine for x in r["reasons"])
    assert not any(x["text"].startswith("[peer_anomaly") and x["feature"] != "detector_weight"
                   and x["weight"] > 0 for r in after.to_pylist() for x in r["reasons"])


def test_export_csv_and_parquet(detect_org: Any, tmp_path: Path) -> None:
    workspace, _ = detect_org
    done = _molehunt(workspace.root, "export", "risk", "--out", str(tmp_path / "risk.csv"))
    assert done.returncode == 0, done.stderr
    rows = pacsv.read_csv(tmp_path / "risk.csv")
    assert rows.column_names == ["user_id", "day", "risk", "band", "reasons"]
    assert json.loads(rows.column("reasons")[0].as_py())[0]["text"]
    done = _molehunt(workspace.root, "export", "alerts", "--out",
                     str(tmp_path / "alerts.parquet"))
    assert done.returncode == 0, done.stderr
    assert pq.read_table(tmp_path / "alerts.parquet").column_names[0] == "alert_id"
    bad = _molehunt(workspace.root, "export", "risk", "--out", str(tmp_path / "risk.xlsx"))
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and ".csv or .parquet" in bad.stderr


@pytest.mark.slow
def test_evaluate_writes_figures_and_a_report(detect_org: Any, tmp_path: Path) -> None:
    workspace, org = detect_org
    done = _molehunt(workspace.root, "evaluate", "--truth", str(org), "--json",
                     str(tmp_path / "eval.json"), "--html", str(tmp_path / "eval.html"))
    assert done.returncode == 0, done.stderr
    figures = json.loads((tmp_path / "eval.json").read_text())
    for system in ("molehunt", "baseline_isolation_forest", "peer_anomaly_alone"):
        group = figures[system]["groups"]["C1-C5"]
        assert set(group["recall"]) == {"0.5%", "1.0%", "2.0%"}
        assert 0.0 <= group["roc_auc"] <= 1.0
        assert figures[system]["alert_load"] >= 0
        assert figures[system]["benign_high_per_1000_per_day"] >= 0
    assert figures["done_when_c1_c5"]["molehunt"]["recall_at_1pct"] is not None
    # every act is logged in the default telemetry: every insider counts
    assert figures["untraceable"] == {} and figures["insiders"] == figures["insiders_in_truth"]
    html = (tmp_path / "eval.html").read_text()
    assert html.count("<img") >= 4 and "Isolation Forest" in html
    missing = _molehunt(workspace.root, "evaluate", "--truth", str(tmp_path))
    assert missing.returncode == 1 and "insiders.csv" in missing.stderr
