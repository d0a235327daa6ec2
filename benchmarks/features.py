"""Benchmark `molehunt features`: a full build against a bare DuckDB scan, and a one-day update.

Runs, in the same run and each in its own process (peak RSS is the child's ``ru_maxrss``):

* the reference: one bare DuckDB scan of the event store
  (``SELECT user_id, day, count(*), sum(bytes) … GROUP BY ALL``);
* a full build of every feature table (``molehunt features --rebuild``) on a copy of the
  workspace without its last day;
* the daily update: the last day's events ingested, then ``molehunt features`` again.

Prints JSON with the times, peak RSS, the ratios and whether the targets hold
(full build <= 10x the scan, peak RSS <= 4 GiB, one-day update <= 5 % of the full build).

    python benchmarks/features.py --workspace /path/to/simulated-workspace
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"build_vs_scan_max": 10.0, "peak_rss_gib_max": 4.0, "update_vs_build_max": 0.05}


def _child(code: str, *args: str) -> tuple[float, int, str, float]:
    """Run Python code in a child process; return (seconds, peak RSS bytes, stdout, CPU seconds).

    CPU seconds (user + system, all threads) say how much work a step did; wall seconds also
    say how busy the machine was.
    """
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=output,
                                 stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(text)
        raise SystemExit("benchmark step failed")
    return seconds, usage.ru_maxrss * 1024, text, usage.ru_utime + usage.ru_stime


_SCAN = """
import sys, duckdb
con = duckdb.connect(); con.execute("SET threads = 2")
con.execute("SELECT user_id, day, count(*), sum(bytes) FROM read_parquet(?, hive_partitioning"
            "=true) GROUP BY ALL", [sys.argv[1] + "/events/*/*.parquet"]).fetchall()
"""
_BUILD = """
import sys, json
from pathlib import Path
from molehunt.store.workspace import Workspace
from molehunt.features.build import build_features
with Workspace(Path(sys.argv[1])).locked() as ws:
    print(json.dumps(build_features(ws, rebuild=sys.argv[2] == "rebuild").to_json()))
"""
_SPLIT = """
import sys, os, shutil
from pathlib import Path
# move the last day's partition aside and forget its batches' features state
events = Path(sys.argv[1]) / "events"
last = sorted(events.glob("day=*"))[-1]
shutil.move(str(last), sys.argv[2])
print(last.name)
"""


def main() -> None:
    """Measure and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True,
                        help="An ingested workspace (e.g. a simulated 1,000 x 500 one).")
    parser.add_argument("--scratch", type=Path,
                        default=Path(tempfile.gettempdir()) / "bench-features")
    args = parser.parse_args()
    shutil.rmtree(args.scratch, ignore_errors=True)
    args.scratch.mkdir(parents=True)
    work = args.scratch / "ws"
    shutil.copytree(args.workspace, work, ignore=shutil.ignore_patterns("features"))
    held = args.scratch / "held-back-day"
    _, _, day, _ = _child(_SPLIT, str(work), str(held))
    load_before = os.getloadavg()[0]

    scans = [_child(_SCAN, str(work)) for _ in range(2)]
    scan_seconds, scan_rss = min(s[0] for s in scans), max(s[1] for s in scans)
    scan_cpu = min(s[3] for s in scans)
    build_seconds, build_rss, build_out, build_cpu = _child(_BUILD, str(work), "rebuild")
    # the held-back day arrives as a new batch: put it back and record it in the manifest
    shutil.move(str(held), str(work / "events" / day.strip()))
    import sqlite3

    with sqlite3.connect(work / "manifest.sqlite") as db:
        db.execute("INSERT INTO batches SELECT 'bench-day', path, size, sha256, layout, target,"
                   " 0, 0, 0, 0, ?, ?, 'committed', started_at, committed_at FROM batches"
                   " WHERE target = 'events' LIMIT 1", (day.strip()[4:], day.strip()[4:]))
    update_seconds, update_rss, update_out, update_cpu = _child(_BUILD, str(work), "update")
    result = {
        "benchmark": "features",
        "workspace": str(args.workspace),
        "load_average_1min": {"before": round(load_before, 2),
                              "after": round(os.getloadavg()[0], 2)},
        "bare_duckdb_scan": {"seconds": round(scan_seconds, 2),
                             "cpu_seconds": round(scan_cpu, 2),
                             "peak_rss_gib": round(scan_rss / 2**30, 3)},
        "full_build": {"seconds": round(build_seconds, 2),
                       "cpu_seconds": round(build_cpu, 2),
                       "peak_rss_gib": round(build_rss / 2**30, 3),
                       "summary": json.loads(build_out.strip().splitlines()[-1])},
        "one_day_update": {"seconds": round(update_seconds, 2),
                           "cpu_seconds": round(update_cpu, 2),
                           "peak_rss_gib": round(update_rss / 2**30, 3),
                           "summary": json.loads(update_out.strip().splitlines()[-1])},
        "build_vs_scan": round(build_seconds / scan_seconds, 2),
        "update_vs_build": round(update_seconds / build_seconds, 4),
        "cpu": {"build_vs_scan": round(build_cpu / scan_cpu, 2),
                "update_vs_build": round(update_cpu / build_cpu, 4)},
        "targets": TARGETS,
    }
    result["meets_targets"] = (result["build_vs_scan"] <= TARGETS["build_vs_scan_max"]
                               and build_rss / 2**30 <= TARGETS["peak_rss_gib_max"]
                               and result["update_vs_build"] <= TARGETS["update_vs_build_max"])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
