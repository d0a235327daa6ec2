"""The command line: one clear line on errors, exit codes, status JSON, --strict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, copy_fixture


def _molehunt(*args: str, workspace: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "molehunt.cli"]
    if workspace is not None:
        command += ["--workspace", str(workspace)]
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_ingest_then_status_json(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    ingested = _molehunt("ingest", "cert", str(copy_fixture("cert_r4", tmp_path)),
                         workspace=workspace)
    assert ingested.returncode == 0, ingested.stderr
    assert "rows quarantined" in ingested.stderr  # a warning, not a failure
    status = _molehunt("status", "--json", workspace=workspace)
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["events_total"] == 19
    assert report["events_by_source"] == {"cert.device": 3, "cert.email": 5, "cert.file": 2,
                                          "cert.http": 5, "cert.logon": 4}
    assert report["users"] == 4
    assert report["departures"] == 1
    assert report["quarantined_total"] == 13
    assert report["quarantined_by_reason"]["wrong field count"] == 2
    assert any(path.endswith("logon.csv") for path in report["quarantined_by_file"])
    table = _molehunt("status", workspace=workspace)
    assert table.returncode == 0 and "cert.http" in table.stdout


def test_strict_exits_non_zero_when_rows_are_quarantined(tmp_path: Path) -> None:
    result = _molehunt("ingest", "cert", "--strict", str(copy_fixture("cert_r6", tmp_path)),
                       workspace=tmp_path / "ws")
    assert result.returncode == 3


def test_missing_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = _molehunt("ingest", "jsonl", str(tmp_path / "nope.jsonl"), workspace=tmp_path / "w")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nope.jsonl'}: no such file"]
    result = _molehunt("ingest", "cert", str(tmp_path / "nope"), workspace=tmp_path / "w")
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_unknown_layout_is_one_line_and_debug_shows_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "answers.csv").write_text("dataset,scenario,details,user,start,end\n")
    result = _molehunt("ingest", "cert", str(folder), workspace=tmp_path / "w")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "unknown layout" in result.stderr
    debug = _molehunt("--debug", "ingest", "cert", str(folder), workspace=tmp_path / "w")
    assert "Traceback" in debug.stderr
    skipped = _molehunt("ingest", "cert", "--skip-unknown", str(folder),
                        workspace=tmp_path / "w")
    assert skipped.returncode == 1 and "no CERT-layout CSV files" in skipped.stderr


def test_status_without_workspace_is_a_clear_error(tmp_path: Path) -> None:
    result = _molehunt("status", workspace=tmp_path / "empty")
    assert result.returncode == 1
    assert "no workspace here" in result.stderr


def test_workspace_from_environment(tmp_path: Path) -> None:
    env = {**os.environ, "MOLEHUNT_WORKSPACE": str(tmp_path / "env-ws")}
    result = subprocess.run([sys.executable, "-m", "molehunt.cli", "ingest", "cert",
                             str(FIXTURES / "cert_r6")], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env-ws" / "manifest.sqlite").exists()


def test_engine_failure_is_one_line_and_stores_nothing(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "molehunt.toml").write_text('memory_limit = "1MB"\nthreads = 1\n')
    result = _molehunt("ingest", "cert", str(copy_fixture("cert_r6", tmp_path)),
                       workspace=workspace)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nothing of this file was stored" in result.stderr
    assert not list((workspace / "events").rglob("*.parquet"))


def test_simulate_command_and_its_errors(tmp_path: Path) -> None:
    out = tmp_path / "org"
    done = _molehunt("simulate", "--out", str(out), "--users", "40", "--days", "40",
                     "--seed", "5", "--scenarios", "C4,S1", "--intensity", "C4.volume=2",
                     "--layout", "r4.2")
    assert done.returncode == 0, done.stderr
    assert "events of 40 people over 40 days" in done.stdout
    header = (out / "http.csv").read_text().split("\n", 1)[0]
    assert header == "id,date,user,pc,url,content"  # r4.2 columns
    scenarios = json.loads((out / "answers" / "scenarios.json").read_text())
    assert {i["scenario"] for i in scenarios["instances"]} | {
        n.split("-")[0] for n in scenarios["notes"]} == {"C4", "S1"}
    for args, message in (
        (["--scenarios", "C9"], "unknown scenario C9"),
        (["--intensity", "C4.volume"], "expected CODE.parameter=number"),
        (["--layout", "r3.2"], "unknown layout"),  # r4.2, r5.2 and r6.2 are written
        (["--telemetry", "cert-r5.2", "--layout", "r6.2"], "contradicts it"),
        (["--start", "yesterday"], "is not a YYYY-MM-DD date"),
        (["--directory", str(tmp_path / "nowhere")], "no monthly LDAP files"),
    ):
        failed = _molehunt("simulate", "--out", str(tmp_path / "bad"), "--users", "40",
                           "--days", "40", *args)
        assert failed.returncode == 1, (args, failed.stderr)
        assert message in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
