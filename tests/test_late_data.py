"""Late data is rescored: a history of runs over split ingests equals one full run.

A small simulated organisation (40 people, 90 days, one C1 insider) is ingested whole and run
once; the same files are then ingested in two parts with a run after each: once with the
e-mail of the first 60 days arriving only with the last 30 days of everything (a late
source), once split cleanly at day 60. Findings, risk and alerts must equal the full run's.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import ibis
import pyarrow.parquet as pq
import pytest

from conftest import ingest_cert
from molehunt.pipeline import (
    RunSummary,
    context_start,
    read_results,
    results_dir,
    run_detection,
)
from molehunt.simulate import SimulationConfig, simulate
from molehunt.store.workspace import Workspace

ORG = {"users": 40, "days": 90, "seed": 3, "scenarios": ("C1",)}
#: The first day of the second part.
SPLIT_DAY = 60
#: The date columns of the CERT files (``MM/DD/YYYY hh:mm:ss``).
CERT_DATE = "%m/%d/%Y"

Results = dict[str, list[dict[str, Any]]]


def _workspace(root: Path, org: Path) -> Workspace:
    workspace = Workspace(root)
    root.mkdir(parents=True)
    company = json.loads((org / "company.json").read_text("utf-8"))
    # no alert budget: 40 people get a share of a person in band high a day otherwise
    (root / "molehunt.toml").write_text(
        "competitors = " + json.dumps(company["competitors"]) + "\nalert_budget_per_1000 = 0\n",
        "utf-8")
    return workspace


def _run(workspace: Workspace) -> RunSummary:
    with workspace.locked():
        return run_detection(workspace)


def _results(workspace: Workspace) -> Results:
    """Findings, risk and alerts of a workspace, in a fixed order."""
    folder = results_dir(workspace)
    tables = {"findings": (read_results(folder / "findings"), ("user_id", "day", "detector")),
              "risk": (read_results(folder / "risk"), ("user_id", "day")),
              "alerts": (pq.read_table(folder / "alerts.parquet"), ("user_id", "opened_day"))}
    return {name: sorted(table.to_pylist() if table is not None else [],
                         key=lambda row, key=key: tuple(str(row[k]) for k in key))
            for name, (table, key) in tables.items()}


def _split(org: Path, early: Path, late: Path, first_late_day: dt.date,
           held_back: tuple[str, ...]) -> None:
    """The organisation's files in two folders: the days before ``first_late_day`` in
    ``early`` and the rest in ``late``; the event files named in ``held_back`` (e.g.
    ``email``) go whole into ``late``, as a source that arrives late."""
    early.mkdir()
    late.mkdir()
    for path in sorted(org.iterdir()):
        if path.is_dir():
            if path.name == "LDAP":
                shutil.copytree(path, early / "LDAP")
            continue
        if path.suffix == ".csv" and path.name != "psychometric.csv":
            with path.open(newline="", encoding="utf-8") as handle:
                header, *rows = list(csv.reader(handle))
            column = header.index("date")
            is_early = [dt.datetime.strptime(r[column][:10], CERT_DATE).date() < first_late_day
                        for r in rows]
            before = [r for r, e in zip(rows, is_early, strict=True) if e]
            after = [r for r, e in zip(rows, is_early, strict=True) if not e]
            parts = ({late: rows} if path.stem in held_back else {early: before, late: after})
            for folder, part in parts.items():
                with (folder / path.name).open("w", newline="", encoding="utf-8") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(header)
                    writer.writerows(part)
        elif path.name in ("events.jsonl", "hr_events.jsonl"):
            lines = path.read_text("utf-8").splitlines()
            day = [dt.date.fromisoformat(json.loads(line)["ts"][:10]) for line in lines]
            (early / path.name).write_text(
                "".join(f"{x}\n" for x, d in zip(lines, day, strict=True) if d < first_late_day),
                "utf-8")
            (late / path.name).write_text(
                "".join(f"{x}\n" for x, d in zip(lines, day, strict=True)
                        if d >= first_late_day), "utf-8")
        else:  # company.json, documents.jsonl, psychometric.csv
            shutil.copy(path, early / path.name)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Results]:
    """The simulated organisation and the results of one run over all of it."""
    root = tmp_path_factory.mktemp("late")
    config = SimulationConfig(out=root / "org", **ORG)  # type: ignore[arg-type]
    simulate(config)
    workspace = _workspace(root / "full", root / "org")
    ingest_cert(workspace, root / "org")
    _run(workspace)
    results = _results(workspace)
    assert results["alerts"], "the C1 insider should raise an alert: nothing to compare"
    return root / "org", results


def _split_history(org: Path, root: Path, held_back: tuple[str, ...]
                   ) -> tuple[Workspace, RunSummary, Path]:
    """A workspace with the first part ingested and run, and the folder of the second."""
    start = json.loads((org / "company.json").read_text("utf-8"))["start"]
    first_late_day = dt.date.fromisoformat(start) + dt.timedelta(days=SPLIT_DAY)
    _split(org, root / "early", root / "late", first_late_day, held_back)
    workspace = _workspace(root / "ws", org)
    ingest_cert(workspace, root / "early")
    return workspace, _run(workspace), root / "late"


KEYS = {"findings": ("user_id", "day", "detector"), "risk": ("user_id", "day"),
        "alerts": ("user_id", "opened_day")}


def _differences(got: Results, want: Results) -> list[str]:
    """Per table, how many rows the split history lacks, has extra, or has otherwise."""
    said = []
    for name, key in KEYS.items():
        mine = {tuple(row[k] for k in key): row for row in got[name]}
        theirs = {tuple(row[k] for k in key): row for row in want[name]}
        missing = len(theirs.keys() - mine.keys())
        extra = len(mine.keys() - theirs.keys())
        changed = sum(mine[k] != theirs[k] for k in mine.keys() & theirs.keys())
        if missing or extra or changed:
            said.append(f"{name}: {missing} missing, {extra} extra, {changed} differ"
                        f" (of {len(theirs)})")
    return said


def test_a_late_source_is_rescored_to_equal_a_full_run(
        full_run: tuple[Path, Results], tmp_path: Path) -> None:
    org, want = full_run
    workspace, first, late = _split_history(org, tmp_path, held_back=("email",))
    ingest_cert(workspace, late)
    with workspace.locked():  # the late batches' features are not computed: they stay late
        run_detection(workspace, features=False)
    env = {**os.environ, "COLUMNS": "300"}
    shown = subprocess.run([sys.executable, "-m", "molehunt.cli", "--workspace",
                            str(workspace.root), "run"], capture_output=True, text=True,
                           env=env, timeout=900, check=True).stderr.splitlines()
    differences = _differences(_results(workspace), want)
    assert not differences, "; ".join(differences)
    start = dt.date.fromisoformat(json.loads((org / "company.json").read_text())["start"])
    assert first.rescored is None
    # the late e-mail reaches back to the first day: every day is scored again, in one line
    assert any(line.startswith(f"scored {start} to ") for line in shown), shown
    said = [line for line in shown if line.startswith("rescored days")]
    assert len(said) == 1, shown
    assert said[0].startswith(f"rescored days {start}..")
    assert "because late data arrived for" in said[0] and "(email.csv)" in said[0]
    again = _run(workspace)  # nothing new: nothing scored again
    assert again.start is None and again.rescored is None
    differences = _differences(_results(workspace), want)
    assert not differences, "; ".join(differences)


def test_a_clean_split_equals_a_full_run(full_run: tuple[Path, Results],
                                         tmp_path: Path) -> None:
    org, want = full_run
    workspace, _, late = _split_history(org, tmp_path, held_back=())
    ingest_cert(workspace, late)
    second = _run(workspace)
    differences = _differences(_results(workspace), want)
    assert not differences, "; ".join(differences)
    # nothing late: the second part's days are new, but peer_anomaly learned its tails from
    # a longer history, so it scores its earlier days again
    assert second.rescored is not None and "late data" not in second.rescored
    assert second.rescored.startswith("peer_anomaly rescored days")


def test_the_context_of_a_rescored_range_holds_every_persons_lookback_in_active_days() -> None:
    first = dt.date(2010, 1, 1)
    daily = [("daily", first + dt.timedelta(days=i)) for i in range(400)]
    weekly = [("weekly", first + dt.timedelta(days=7 * i)) for i in range(57)]
    gone = [("gone", first)]  # not active in the scored range: needs no context
    user_day = ibis.memtable({"user_id": [u for u, _ in daily + weekly + gone],
                              "day": [d for _, d in daily + weekly + gone]})
    start = dt.date(2011, 1, 1)
    # the weekly person's tenth latest day before the start (their last is 2010-12-31), far
    # beyond the calendar margin of 2 x 10 + 7 days
    assert context_start(user_day, start, 10) == first + dt.timedelta(days=7 * 43)
    # more look-back than the weekly person has days: all of them
    assert context_start(user_day, start, 100) == first
    # the calendar margin when everyone is active daily
    only_daily = user_day.filter(user_day.user_id == "daily")
    assert context_start(only_daily, start, 10) == start - dt.timedelta(days=27)
    assert context_start(only_daily, start, 0) == start
