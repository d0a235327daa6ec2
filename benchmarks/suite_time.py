"""Where the test suite's time goes: per file and per test, wall and worker CPU, as JSON.

Runs pytest (``-n`` workers, as ``make test`` does) with this file loaded as a plugin that
records, for every test, its worker, wall seconds and the worker process's CPU seconds (all
its threads, DuckDB's included; not subprocesses, not Spark's JVM). Prints the totals, the
``--top`` files and tests, and a reference: a fixed pure-Python workload timed before and
after the suite. The machine's speed varies between runs (the same tests' worker CPU seen
to differ by a fifth), so compare two runs by ``suite_over_reference``, not by minutes.

    python benchmarks/suite_time.py                      # the whole suite, two workers
    python benchmarks/suite_time.py --workers 1 -- tests/test_content.py
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Environment variable naming the file the plugin appends its records to.
RECORDS = "MOLEHUNT_SUITE_TIME_RECORDS"


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """pytest hook: a test (setup, call and teardown) starts on this worker."""
    _record(nodeid, "start")


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    """pytest hook: the test's teardown is done."""
    _record(nodeid, "end")


def _record(nodeid: str, event: str) -> None:
    target = os.environ.get(RECORDS)
    if not target:
        return
    row = {"worker": os.environ.get("PYTEST_XDIST_WORKER", "main"), "test": nodeid,
           "event": event, "wall": time.time(), "cpu": time.process_time()}
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def reference_seconds() -> float:
    """Seconds of a fixed pure-Python workload (integer arithmetic and dictionaries)."""
    started = time.perf_counter()
    table: dict[int, int] = {}
    value = 1
    for step in range(3_000_000):
        value = (value * 1_103_515_245 + 12_345) % 2_147_483_648
        table[value % 4096] = step
    assert len(table) == 4096
    return time.perf_counter() - started


def summarise(rows: list[dict[str, Any]], top: int) -> dict[str, Any]:
    """Per-test wall and CPU from the plugin's start/end records, totalled by file."""
    started: dict[tuple[str, str], dict[str, Any]] = {}
    tests: dict[str, dict[str, float]] = {}
    # with xdist the controller's hooks repeat its workers' tests: count the workers' only
    workers = {row["worker"] for row in rows} - {"main"}
    for row in rows:
        if workers and row["worker"] == "main":
            continue
        key = (row["worker"], row["test"])
        if row["event"] == "start":
            started[key] = row
        elif key in started:
            first = started.pop(key)
            tests[row["test"]] = {"wall": row["wall"] - first["wall"],
                                  "cpu": row["cpu"] - first["cpu"]}
    files: dict[str, dict[str, float]] = collections.defaultdict(
        lambda: {"wall": 0.0, "cpu": 0.0, "tests": 0})
    for name, spent in tests.items():
        entry = files[name.split("::")[0]]
        entry["wall"] += spent["wall"]
        entry["cpu"] += spent["cpu"]
        entry["tests"] += 1

    def rounded(entries: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
        ordered = sorted(entries.items(), key=lambda item: -item[1]["wall"])[:top]
        return [{"name": name, **{k: round(v, 1) for k, v in spent.items()}}
                for name, spent in ordered]

    walls = [row["wall"] for row in rows]
    return {"tests": len(tests),
            "worker_wall_seconds": round(sum(t["wall"] for t in tests.values()), 1),
            "worker_cpu_seconds": round(sum(t["cpu"] for t in tests.values()), 1),
            "first_to_last_seconds": round(max(walls) - min(walls), 1) if walls else 0.0,
            "files": rounded(files), "slowest_tests": rounded(tests)}


def main() -> None:
    """Run the suite with the recording plugin and print the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (0: none)")
    parser.add_argument("--top", type=int, default=25, help="files and tests to list")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed on to pytest")
    args = parser.parse_args()
    here = Path(__file__).resolve().parent
    before = reference_seconds()
    with tempfile.TemporaryDirectory() as folder:
        records = Path(folder) / "records.jsonl"
        records.touch()
        env = {**os.environ, RECORDS: str(records),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(here),
                                                           os.environ.get("PYTHONPATH")]))}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "suite_time",
                   *(["-n", str(args.workers)] if args.workers else []), *args.pytest_args]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=here.parent, env=env, capture_output=True, text=True)
        suite = time.perf_counter() - started
        rows = [json.loads(line) for line in records.read_text("utf-8").splitlines()]
    after = reference_seconds()
    reference = (before + after) / 2
    outcome = next((line for line in reversed(done.stdout.splitlines())
                    if " passed" in line or " failed" in line or " error" in line), "")
    print(json.dumps({
        "benchmark": "suite_time", "command": " ".join(["python", *command[1:]]),
        "pytest_exit_code": done.returncode, "pytest_outcome": outcome.strip("= "),
        "suite_seconds": round(suite, 1),
        "reference_seconds": {"before": round(before, 2), "after": round(after, 2)},
        "suite_over_reference": round(suite / reference, 1),
        "cores": os.cpu_count(), **summarise(rows, args.top)}, indent=2))


if __name__ == "__main__":
    main()
