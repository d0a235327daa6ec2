"""The same input gives the same output, byte for byte (issue 20, item 5).

Two workspaces ingest the same simulated organisation and ``run`` it, each in its own process
with its own hash seed (Python's string hashing, and so the order of its sets, differs from
one process to the next). Features, findings, risk and alerts must be the same files; the
ingest store must hold the same rows (its files are named by random batch ids, and a day's
events are written by several threads at once, see docs/sources.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

#: Small enough for two ingests and two runs in about a minute; every detector has days to
#: score and, with a generous alert budget, risk reaches band high.
ORG = {"users": 40, "days": 90, "seed": 5}
#: Bookkeeping, not results: the batches a feature build or a run covered (random ids) and
#: when; the rest of the run's state is compared on its own below.
BOOKKEEPING = {"features/state.json", "results/state.json"}


def _molehunt(workspace: Path, *args: str, hash_seed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "COLUMNS": "200"}
    env.pop("MOLEHUNT_FAULT_POINT", None)
    done = subprocess.run([sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace),
                           *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _outputs(workspace: Path) -> dict[str, str]:
    """Every file of the features and the published results, by path, as a digest."""
    found = {f"features/{k}": v for k, v in _digests(workspace / "features").items()}
    found |= {f"results/{k}": v for k, v in _digests((workspace / "results").resolve()).items()}
    return {k: v for k, v in found.items() if k not in BOOKKEEPING}


def _rows(folder: Path) -> list[str]:
    """Every row of a store table as JSON text, sorted (files and row order aside; the
    random batch id a quarantined row names left out)."""
    rows = [{k: v for k, v in row.items() if k != "batch_id"}
            for path in sorted(folder.rglob("*.parquet"))
            for row in pq.read_table(path).to_pylist()]
    return sorted(json.dumps(r, default=str, sort_keys=True) for r in rows)


@pytest.fixture(scope="module")
def twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same organisation ingested and run in two workspaces."""
    from molehunt.simulate import SimulationConfig, simulate

    root = tmp_path_factory.mktemp("deterministic")
    simulate(SimulationConfig(out=root / "org", scenarios=("C1", "C2", "C3", "C4", "C5"),
                              **ORG))
    company = json.loads((root / "org" / "company.json").read_text("utf-8"))
    workspaces = []
    for name, hash_seed in (("a", "1"), ("b", "2")):
        workspace = root / name
        workspace.mkdir()
        (workspace / "molehunt.toml").write_text(
            "competitors = " + json.dumps(company["competitors"])
            + "\nalert_budget_per_1000 = 50\n", "utf-8")
        _molehunt(workspace, "ingest", "cert", str(root / "org"), hash_seed=hash_seed)
        _molehunt(workspace, "run", hash_seed=hash_seed)
        workspaces.append(workspace)
    return workspaces[0], workspaces[1]


def test_two_runs_on_the_same_input_write_the_same_bytes(twice: tuple[Path, Path]) -> None:
    first, second = (_outputs(w) for w in twice)
    assert sorted(first) == sorted(second)
    differing = sorted(name for name in first if first[name] != second[name])
    assert differing == []
    # the comparison is about something: every kind of output is there
    assert any(name.startswith("results/findings/") for name in first)
    assert any(name.startswith("results/risk/") for name in first)
    assert any(name.startswith("features/user_day/") for name in first)
    alerts = pq.read_table(twice[0] / "results" / "alerts.parquet")
    assert alerts.num_rows > 0
    # what each detector learned (its fingerprint decides late rescoring) is the same too
    states = [json.loads((w / "results" / "state.json").read_text("utf-8")) for w in twice]
    for state in states:
        state.pop("batches")
    assert states[0] == states[1] and states[0]["learned"]


@pytest.mark.parametrize("table", ["events", "documents", "hr_events", "ldap", "quarantine"])
def test_two_ingests_of_the_same_input_store_the_same_rows(twice: tuple[Path, Path],
                                                           table: str) -> None:
    first, second = (w / table for w in twice)
    if not first.exists():
        assert not second.exists()
        return
    assert _rows(first) == _rows(second)
    assert (twice[0] / "directory.parquet").read_bytes() == (
        twice[1] / "directory.parquet").read_bytes()
