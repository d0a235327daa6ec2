"""Detection across telemetry profiles × organisation styles × seeds (issue 17): one JSON.

Each cell runs exactly what a user runs, through the installed ``molehunt`` command:

    molehunt simulate --out ORG --users U --days D --seed N --telemetry P --style S
                      --insiders-per-scenario K
    (a workspace with molehunt.toml: ``competitors`` from ORG/company.json with --competitors)
    molehunt --workspace WS ingest cert ORG
    molehunt --workspace WS protect import --min-sensitivity 1      (when ORG has documents)
    molehunt --workspace WS protect scan --from 2000-01-01 --to 2099-12-31
    molehunt --workspace WS run
    molehunt --workspace WS evaluate --truth ORG --json evaluation.json

and keeps, for molehunt, the Isolation Forest baseline and ``peer_anomaly`` alone: C1-C5 and
S1-S4 recall at a 1 % daily budget, recall per scenario, user ROC AUC, median and worst days to
detect, benign people in band high per 1,000 per day, alert load, and the scenarios that left
no trace in the profile's logs. A cell passes issue 17's targets when molehunt has C1-C5
recall at 1 % ≥ 0.9, ROC AUC ≥ 0.95, median days to detect ≤ 3 and ≤ 0.5 benign people in
band high per 1,000 per day, each at least as good as the forest's (the median over the
insiders both catch), on every profile (on sparse over the scenarios that leave a trace).
Every cell is labelled development or held-out
(``--dev-seeds``, ``--dev-styles``): a figure counts only on held-out cells. Each cell says
what organisation it ran on (``organisation``: the style of ``company.json`` and, for ``auto``
and ``random``, the knobs the seed drew).

A cell whose evaluation JSON exists is not run again (an interrupted matrix resumes); the
simulated organisation and the workspace are deleted once evaluated unless ``--keep``; their
small parts stay (``answers/`` and each variant's ``results-*/``: findings, risk and alerts, a
few MB), so a failing cell can be read insider by insider without simulating it again.

    python benchmarks/detection_matrix.py --profiles full,cert-r4.2 --styles baseline,auto \\
        --seeds 101,102 --users 1000 --days 500 --out results.json

Prints the JSON document on stdout (and writes it to ``--out``) and a table on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Profiles judged against the targets. On ``sparse`` the same targets hold over the scenarios
#: that leave a trace in its logs (issue 17): ``evaluate`` leaves the untraceable ones (C2
#: there) out of every figure and says so per scenario.
JUDGED_PROFILES = ("full", "cert-r6.2", "cert-r4.2", "sparse")
#: Profiles whose speed counts from each insider's first logged trace of the harm, not from
#: the scenario's first day: those that cannot log the first acts (``sparse`` has no endpoint
#: agent: a C1's first nights with a drive leave only late logons, its first trace is the
#: upload). Elsewhere the first acts are logged and the clock starts at the scenario's start.
TRACE_CLOCK_PROFILES = ("sparse",)
#: Issue 17's targets for C1-C5 (molehunt, on a judged profile).
TARGETS = {"recall_at_1pct": 0.9, "roc_auc": 0.95, "median_days_to_detect": 3.0,
           "benign_high_per_1000_per_day": 0.5}
SCENARIOS = ("C1", "C2", "C3", "C4", "C5", "S1", "S2", "S3", "S4")
#: Evaluation systems kept per cell (keys of ``molehunt evaluate --json``).
SYSTEMS = ("molehunt", "baseline_isolation_forest", "peer_anomaly_alone")
#: Seeds already looked at while developing (docs/detection.md, tests, demo, and every seed
#: of issue 17's held-out rounds once its round was reported): never held out again.
DEV_SEEDS = ("5,7,11,12,13,21,31,32,51,91,92,93,94,95,96,97,98,201,202,301,302,401,402,"
             "501,502,601,603,604,605,606,607,608,609,610,611,612,613,614,615,616")
#: The organisation styles detection was developed on (a seen style on a new seed is still a
#: new organisation: the summary counts those cells as `held_out_seed`).
DEV_STYLES = "baseline,night_shift,consultancy,startup,random"


@dataclass(frozen=True)
class Simulation:
    """One simulated organisation: a profile, a style and a seed at one size."""

    profile: str
    style: str
    seed: int
    users: int
    days: int
    insiders_per_scenario: int
    scenarios: str = "all"

    @property
    def key(self) -> str:
        """The folder name of the organisation under ``--work`` (every parameter in it)."""
        chosen = "" if self.scenarios == "all" else "_" + self.scenarios.replace(",", "")
        return (f"{self.profile}_{self.style}_seed{self.seed}_u{self.users}_d{self.days}"
                f"_k{self.insiders_per_scenario}{chosen}")


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _molehunt_command(given: str | None) -> str:
    """The installed ``molehunt`` next to this Python, else the one on PATH."""
    if given:
        return given
    beside = Path(sys.executable).parent / "molehunt"
    if beside.exists():
        return str(beside)
    found = shutil.which("molehunt")
    if found is None:
        raise SystemExit("no molehunt command: install the package (pip install -e .)")
    return found


def _call(command: list[str], log: Path) -> None:
    """Run one CLI step, appending its output to the cell's log; raise on failure."""
    # plain output in the log: no colours, no live progress bars redrawn by the line
    env = dict(os.environ, NO_COLOR="1", TERM="dumb", COLUMNS="120")
    with log.open("a", encoding="utf-8") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        status = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                check=False).returncode
    if status != 0:
        raise RuntimeError(f"exit {status}: {' '.join(command)}")


def _keep_small(source: Path, target: Path) -> None:
    """Copy ``source`` (a cell's answers or results) to ``target`` before its folder goes."""
    if source.is_dir():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


def _tail(log: Path, lines: int = 15) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text("utf-8", "replace").splitlines()[-lines:])


def _split(seed: int, style: str, dev_seeds: set[str], dev_styles: set[str]
           ) -> dict[str, str]:
    seed_split = "development" if str(seed) in dev_seeds else "held_out"
    style_split = "development" if style in dev_styles else "held_out"
    both = "held_out" if seed_split == style_split == "held_out" else "development"
    return {"seed": seed_split, "style": style_split, "cell": both}


def system_figures(figures: dict[str, Any], system: str) -> dict[str, Any] | None:
    """The matrix's figures of one system out of an evaluation JSON (None when absent)."""
    entry = figures.get(system)
    if entry is None:
        return None
    groups = entry.get("groups", {})

    def at_1pct(group: str) -> dict[str, Any]:
        found = groups.get(group)
        if not found:
            return {"insiders": 0, "recall_at_1pct": None, "median_days_to_detect": None,
                    "median_days_from_trace": None,
                    "worst_days_to_detect": None, "roc_auc": None}
        recall = found["recall"]["1.0%"]
        return {"insiders": found["insiders"], "recall_at_1pct": recall["recall"],
                "median_days_to_detect": recall["median_days_to_detect"],
                "worst_days_to_detect": recall["worst_days_to_detect"],
                "roc_auc": found["roc_auc"],
                "days_to_detect": {row["user_id"]: row["days_to_detect"]
                                   for row in recall.get("insiders", [])},
                # from the first logged trace of the harm (judged on TRACE_CLOCK_PROFILES)
                "median_days_from_trace": recall.get("median_days_from_trace"),
                "days_from_trace": {row["user_id"]: row.get("days_from_trace")
                                    for row in recall.get("insiders", [])},
                # with only benign people competing for the day's places (not judged)
                "recall_alone": recall.get("recall_alone"),
                "median_days_to_detect_alone": recall.get("median_days_to_detect_alone")}

    return {"C1-C5": at_1pct("C1-C5"), "S1-S4": at_1pct("S1-S4"),
            "roc_auc_all": (groups.get("all") or {}).get("roc_auc"),
            "recall_at_1pct_by_scenario": {
                code: (groups[code]["recall"]["1.0%"]["recall"] if code in groups else None)
                for code in SCENARIOS},
            "benign_high_per_1000_per_day": entry.get("benign_high_per_1000_per_day"),
            "alert_load": entry.get("alert_load"),
            "alert_recall_c1_c5": entry.get("alert_recall_c1_c5")}


def _at_least(mine: float | None, theirs: float | None, lower_is_better: bool) -> bool:
    """Whether molehunt's figure is at least as good as the forest's (None = never/none)."""
    if mine is None:
        return theirs is None
    if theirs is None:
        return True
    return mine <= theirs if lower_is_better else mine >= theirs


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def paired_medians(ours: dict[str, Any], theirs: dict[str, Any], clock: str = "days_to_detect"
                   ) -> tuple[float | None, float | None, int]:
    """Median days to detect of each system over the insiders both catch, and how many.

    Each system's own median is over the insiders it catches: a baseline that catches only
    the easy insiders on their first day has the lower median. Comparing speed is comparing
    the same insiders (decided before round 5 of issue 17's held-out evaluation).
    """
    mine, other = ours.get(clock) or {}, theirs.get(clock) or {}
    both = [user for user, days in mine.items()
            if days is not None and other.get(user) is not None]
    return (_median([mine[u] for u in both]), _median([other[u] for u in both]), len(both))


def judge(profile: str, systems: dict[str, Any], untraceable_c1_c5: int = 0
          ) -> dict[str, Any]:
    """Pass/fail of issue 17's targets for one cell (``None``: not judged, or no insider)."""
    if profile not in JUDGED_PROFILES:
        return {"passed": None, "why": f"profile {profile} is measured, not judged"}
    mine, forest = systems.get("molehunt"), systems.get("baseline_isolation_forest")
    if mine is None or forest is None or not mine["C1-C5"]["insiders"]:
        return {"passed": None, "why": "no C1-C5 insider left a trace in these logs"
                if untraceable_c1_c5 else "no C1-C5 insider in this organisation"}
    ours, theirs = mine["C1-C5"], forest["C1-C5"]
    # where the profile cannot log a scenario's first acts, speed counts from its first trace
    by_trace = profile in TRACE_CLOCK_PROFILES and (
        ours.get("median_days_from_trace") is not None or ours["median_days_to_detect"] is None)
    median = "median_days_from_trace" if by_trace else "median_days_to_detect"
    values = {"recall_at_1pct": (ours["recall_at_1pct"], theirs["recall_at_1pct"]),
              "roc_auc": (ours["roc_auc"], theirs["roc_auc"]),
              "median_days_to_detect": (ours[median], theirs[median]),
              "benign_high_per_1000_per_day": (mine["benign_high_per_1000_per_day"],
                                               forest["benign_high_per_1000_per_day"])}
    checks: dict[str, Any] = {}
    for name, (value, baseline) in values.items():
        lower = name in ("median_days_to_detect", "benign_high_per_1000_per_day")
        target = TARGETS[name]
        meets = value is not None and (value <= target if lower else value >= target)
        checks[name] = {"value": value, "target": target, "meets_target": meets,
                        "forest": baseline,
                        "at_least_forest": _at_least(value, baseline, lower)}
    # speed against the forest: over the insiders both catch (None when they share none)
    mine_paired, forest_paired, shared = paired_medians(
        ours, theirs, "days_from_trace" if by_trace else "days_to_detect")
    checks["median_days_to_detect"].update(
        clock="first trace" if by_trace else "scenario start",
        paired_value=mine_paired, paired_forest=forest_paired, paired_insiders=shared,
        at_least_forest=mine_paired is None or forest_paired is None
        or mine_paired <= forest_paired)
    passed = all(c["meets_target"] and c["at_least_forest"] for c in checks.values())
    return {"passed": passed, "checks": checks}


def cell_result(simulation: Simulation, competitors: bool, figures: dict[str, Any],
                split: dict[str, str]) -> dict[str, Any]:
    """One cell of the matrix from its evaluation JSON."""
    systems = {name: system_figures(figures, name) for name in SYSTEMS}
    return {"profile": simulation.profile, "style": simulation.style, "seed": simulation.seed,
            "competitors": competitors, "split": split,
            "population": figures.get("population"), "days": figures.get("days"),
            "insiders": figures.get("insiders"),
            "insiders_in_truth": figures.get("insiders_in_truth"),
            "untraceable": figures.get("untraceable", {}),
            "systems": systems, "targets": judge(simulation.profile, systems, sum(
                entry["insiders"] for code, entry in figures.get("untraceable", {}).items()
                if code.startswith("C")))}


def _organisation(folder: Path) -> dict[str, Any] | None:
    """The style a cell ran on and, for ``auto`` and ``random``, what the seed drew."""
    company = folder / "company.json"
    if not company.exists():  # simulated before company.json was kept
        return None
    figures = json.loads(company.read_text("utf-8"))
    return {"style": figures.get("style"), "style_knobs": figures.get("style_knobs")}


class Matrix:
    """Runs the cells of one simulation (with and/or without competitors) and collects them."""

    def __init__(self, args: argparse.Namespace, molehunt: str,
                 note: Callable[[str], None]) -> None:
        self.args = args
        self.molehunt = molehunt
        self.note = note
        self.dev_seeds = set(_list(args.dev_seeds))
        self.dev_styles = set(_list(args.dev_styles))
        self.variants = {"off": [False], "on": [True], "both": [False, True]}[args.competitors]

    def run(self, simulation: Simulation) -> list[dict[str, Any]]:
        """Every competitors variant of one simulation; evaluations already there are reused."""
        folder = Path(self.args.work) / simulation.key
        org = folder / "org"
        split = _split(simulation.seed, simulation.style, self.dev_seeds, self.dev_styles)
        results = []
        for competitors in self.variants:
            variant = "competitors" if competitors else "no-competitors"
            evaluation = folder / f"evaluation-{variant}.json"
            log = folder / f"log-{variant}.txt"
            started = time.perf_counter()
            reused = evaluation.exists()
            try:
                if not reused:
                    self._evaluate(simulation, folder, org, folder / f"ws-{variant}",
                                   competitors, evaluation, log)
                figures = json.loads(evaluation.read_text("utf-8"))
            except (RuntimeError, OSError, ValueError) as error:
                self.note(f"{simulation.key} {variant}: {error}")
                results.append({"profile": simulation.profile, "style": simulation.style,
                                "seed": simulation.seed, "competitors": competitors,
                                "split": split, "error": str(error), "log": str(log),
                                "log_tail": _tail(log)})
                continue
            result = cell_result(simulation, competitors, figures, split)
            result["organisation"] = _organisation(folder)
            result["seconds"] = None if reused else round(time.perf_counter() - started, 1)
            result["reused"] = reused
            result["evaluation"] = str(evaluation)
            results.append(result)
            if not self.args.keep:
                _keep_small(folder / f"ws-{variant}" / "results", folder / f"results-{variant}")
                shutil.rmtree(folder / f"ws-{variant}", ignore_errors=True)
        if not self.args.keep and all("error" not in r for r in results):
            _keep_small(org / "answers", folder / "answers")
            shutil.rmtree(org, ignore_errors=True)
            shutil.rmtree(folder / "org.partial", ignore_errors=True)
        return results

    def _simulate(self, simulation: Simulation, org: Path, log: Path) -> None:
        if (org / "company.json").exists():
            return
        # a stopped simulation leaves a half-written folder: simulate afresh beside it
        partial = org.parent / "org.partial"
        shutil.rmtree(partial, ignore_errors=True)
        self.note(f"{simulation.key}: simulate")
        _call([self.molehunt, "simulate", "--out", str(partial),
               "--users", str(simulation.users), "--days", str(simulation.days),
               "--seed", str(simulation.seed), "--telemetry", simulation.profile,
               "--style", simulation.style,
               "--insiders-per-scenario", str(simulation.insiders_per_scenario),
               "--scenarios", simulation.scenarios], log)
        partial.rename(org)
        # kept beside the evaluations: the organisation itself is deleted once evaluated
        shutil.copyfile(org / "company.json", org.parent / "company.json")

    def _evaluate(self, simulation: Simulation, folder: Path, org: Path, workspace: Path,
                  competitors: bool, evaluation: Path, log: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)
        self._simulate(simulation, org, log)
        # a workspace left by a stopped cell may hold half the events: start it again
        shutil.rmtree(workspace, ignore_errors=True)
        workspace.mkdir(parents=True)
        settings = ""
        if competitors:
            company = json.loads((org / "company.json").read_text("utf-8"))
            settings = "competitors = " + json.dumps(company.get("competitors", [])) + "\n"
        (workspace / "molehunt.toml").write_text(settings, "utf-8")
        cli = [self.molehunt, "--workspace", str(workspace)]
        variant = "with" if competitors else "without"
        self.note(f"{simulation.key}: ingest, run, evaluate ({variant} competitors)")
        _call([*cli, "ingest", "cert", str(org)], log)
        if (org / "documents.jsonl").exists():
            _call([*cli, "protect", "import", "--min-sensitivity", "1"], log)
            _call([*cli, "protect", "scan", "--from", "2000-01-01", "--to", "2099-12-31"], log)
        _call([*cli, "run"], log)
        partial = evaluation.with_suffix(".json.partial")
        _call([*cli, "evaluate", "--truth", str(org), "--json", str(partial)], log)
        # only a complete evaluation marks the cell as done (what a resumed matrix reuses)
        partial.rename(evaluation)


def summary(cells: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pass counts over the judged cells, held-out and development apart.

    ``held_out_seed`` counts the cells whose seed is held out whatever their style: a seen
    style on a new seed is a new organisation of that culture (``random`` draws every knob
    from the seed).
    """
    out: dict[str, Any] = {"cells": len(cells), "errors": sum(1 for c in cells if "error" in c)}
    groups = {"held_out": ("cell", "held_out"), "development": ("cell", "development"),
              "held_out_seed": ("seed", "held_out")}
    for split, (level, label) in groups.items():
        judged = [c for c in cells if "error" not in c and c["split"][level] == label
                  and c["targets"]["passed"] is not None]
        out[split] = {"judged": len(judged),
                      "passed": sum(1 for c in judged if c["targets"]["passed"]),
                      "failed": [f"{c['profile']}/{c['style']}/{c['seed']}"
                                 f"{'/competitors' if c['competitors'] else ''}"
                                 for c in judged if not c["targets"]["passed"]]}
    return out


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(cells: Sequence[dict[str, Any]]) -> str:
    """A compact text table of the cells (molehunt / forest / peer_anomaly alone)."""
    header = (f"{'profile':<10} {'style':<12} {'seed':>5} {'cmp':<3} {'split':<8} "
              f"{'C1-5 r@1%':>15} {'AUC':>15} {'med d [both]':>21} {'worst':>5} "
              f"{'hi/1k/d':>13} {'load':>6} {'S1-4 r@1%':>9} {'untraced':<12} pass")
    lines = [header, "-" * len(header)]
    for c in cells:
        start = (f"{c['profile']:<10} {c['style']:<12} {c['seed']:>5} "
                 f"{'yes' if c['competitors'] else 'no':<3} ")
        if "error" in c:
            lines.append(start + f"{'':<8} error: {c['error'][:80]}")
            continue
        s = c["systems"]
        ours, forest, alone = (s.get(n) or {} for n in SYSTEMS)

        def trio(field: str, digits: int = 2, ours: Any = ours, forest: Any = forest,
                 alone: Any = alone) -> str:
            return "/".join(_number((x.get("C1-C5") or {}).get(field), digits)
                            for x in (ours, forest, alone))

        untraced = ",".join(f"{code}:{e['insiders']}" for code, e in c["untraceable"].items())
        passed = c["targets"]["passed"]
        paired = (c["targets"].get("checks") or {}).get("median_days_to_detect") or {}
        clock = ("median_days_from_trace" if paired.get("clock") == "first trace"
                 else "median_days_to_detect")
        median = (("t " if clock != "median_days_to_detect" else "")
                  + _number(ours["C1-C5"][clock], 1) + "/"
                  + _number(forest["C1-C5"][clock], 1)
                  + (f" [{_number(paired['paired_value'], 1)}/"
                     f"{_number(paired['paired_forest'], 1)}]" if paired else ""))
        high = (_number(ours["benign_high_per_1000_per_day"], 3) + "/"
                + _number(forest["benign_high_per_1000_per_day"], 1))
        split = "held-out" if c["split"]["cell"] == "held_out" else "dev"
        lines.append(
            start + f"{split:<8} {trio('recall_at_1pct'):>15} {trio('roc_auc'):>15} "
            f"{median:>21} {_number(ours['C1-C5']['worst_days_to_detect']):>5} {high:>13} "
            f"{_number(ours['alert_load'], 3):>6} "
            f"{_number(ours['S1-S4']['recall_at_1pct']):>9} {untraced or '-':<12} "
            f"{'-' if passed is None else 'PASS' if passed else 'FAIL'}")
    lines.append("columns: molehunt/forest/peer_anomaly alone (C1-C5 recall at 1 %, AUC);"
                 " molehunt/forest (median days [over insiders both catch]; 't': from the first"
                 " logged trace, benign in band high per 1,000 per day)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the matrix; print the JSON document and the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default="full,cert-r6.2,cert-r4.2,sparse",
                        help="Comma-separated telemetry profiles (simulate --telemetry).")
    parser.add_argument("--styles", default="baseline",
                        help="Comma-separated organisation styles (simulate --style).")
    parser.add_argument("--seeds", default="101", help="Comma-separated seeds.")
    parser.add_argument("--dev-seeds", default=DEV_SEEDS,
                        help="Seeds used while developing (their cells are not held out).")
    parser.add_argument("--dev-styles", default=DEV_STYLES,
                        help="Styles used while developing (their cells are not held out).")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--insiders-per-scenario", type=int, default=1)
    parser.add_argument("--scenarios", default="all",
                        help="Scenarios to simulate (simulate --scenarios), e.g. C1,C2,C3,C4,C5:"
                             " with many insiders in a small organisation the slow schemes'"
                             " long episodes compete with C1-C5 for the daily budget.")
    parser.add_argument("--competitors", nargs="?", const="on", default="off",
                        choices=["off", "on", "both"],
                        help="Configure the simulated competitors (on), not (off, default), or"
                             " run every cell both ways (both).")
    parser.add_argument("--work", type=Path, default=Path("/work/data/matrix"),
                        help="Where the organisations, workspaces and evaluations go.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the JSON here.")
    parser.add_argument("--keep", action="store_true",
                        help="Keep each cell's organisation and workspace.")
    parser.add_argument("--jobs", type=int, default=1, help="Cells run at once.")
    parser.add_argument("--molehunt", default=None,
                        help="The molehunt command (default: the one beside this Python).")
    args = parser.parse_args(argv)

    def note(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    matrix = Matrix(args, _molehunt_command(args.molehunt), note)
    simulations = [Simulation(profile, style, int(seed), args.users, args.days,
                              args.insiders_per_scenario, args.scenarios)
                   for seed in _list(args.seeds) for style in _list(args.styles)
                   for profile in _list(args.profiles)]
    args.work.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        cells = [cell for results in pool.map(matrix.run, simulations) for cell in results]
    totals = summary(cells)
    document: dict[str, Any] = {
        "benchmark": "detection_matrix",
        "arguments": {"profiles": _list(args.profiles), "styles": _list(args.styles),
                      "seeds": [int(s) for s in _list(args.seeds)], "users": args.users,
                      "days": args.days, "insiders_per_scenario": args.insiders_per_scenario,
                      "scenarios": args.scenarios,
                      "competitors": args.competitors,
                      "dev_seeds": [int(s) for s in _list(args.dev_seeds)],
                      "dev_styles": _list(args.dev_styles)},
        "targets": {"profiles": list(JUDGED_PROFILES), "c1_c5": TARGETS,
                    "at_least_as_good_as": "baseline_isolation_forest"},
        "summary": totals,
        "cells": cells,
    }
    text = json.dumps(document, indent=1, default=str)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", "utf-8")
    print(table(cells), file=sys.stderr)
    print(text)
    return 1 if totals["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
