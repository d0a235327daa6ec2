"""Benchmark `molehunt simulate`: events per second and peak memory, with a reference.

Runs, each in its own process and in the same run:

* ``molehunt simulate --users U --days D`` (the behavioural simulator, every scenario), and
* the quick generator (``molehunt.simulate.quick``: one DuckDB ``COPY`` per file, no behaviour)
  for the same people and days, as the reference for what writing that many CERT rows costs;

and prints JSON: events, seconds, events/s and peak RSS (the child's ``ru_maxrss``) of both,
the ratio of their speeds, the bytes written and whether the 4 GiB memory target holds.

    python benchmarks/simulate.py --users 1000 --days 500 --out /tmp/bench-sim
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

TARGET_PEAK_RSS = 4 * 2**30


def _timed_child(command: list[str]) -> tuple[float, int, str]:
    """Run a child process; return (seconds, its peak RSS in bytes, its output)."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
        if os.waitstatus_to_exitcode(status) != 0:
            sys.stderr.write(text)
            raise SystemExit(f"command failed: {' '.join(command)}")
    return seconds, usage.ru_maxrss * 1024, text


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    """Run both generators and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--layout", default="r4.2", choices=["r4.2", "r6.2"])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench-sim")
    parser.add_argument("--keep", action="store_true", help="Keep the simulated folder.")
    args = parser.parse_args()
    simulated, quick = args.out / "simulated", args.out / "quick"
    shutil.rmtree(args.out, ignore_errors=True)
    seconds, peak, _ = _timed_child([
        sys.executable, "-m", "molehunt.cli", "simulate", "--out", str(simulated),
        "--users", str(args.users), "--days", str(args.days), "--seed", str(args.seed),
        "--layout", args.layout])
    company = json.loads((simulated / "company.json").read_text())
    events = sum(n for name, n in company["files"].items() if name != "hr_events.jsonl")
    written = _size(simulated)
    reference_seconds, reference_peak, _ = _timed_child([
        sys.executable, "-m", "molehunt.simulate.quick", "--out", str(quick),
        "--users", str(args.users), "--days", str(args.days), "--layout", args.layout])
    reference_rows = sum(
        sum(1 for _ in path.open("rb")) - 1 for path in quick.glob("*.csv")
        if path.stem in {"logon", "device", "file", "email", "http"})
    result = {
        "benchmark": "simulate",
        "users": args.users, "days": args.days, "layout": args.layout, "seed": args.seed,
        "cpus": os.cpu_count(),
        "simulate": {
            "events": events, "seconds": round(seconds, 2),
            "events_per_s": round(events / seconds), "peak_rss_bytes": peak,
            "peak_rss_gib": round(peak / 2**30, 3), "bytes_written": written,
            "files": company["files"],
        },
        "reference_quick_generator": {
            "events": reference_rows, "seconds": round(reference_seconds, 2),
            "events_per_s": round(reference_rows / reference_seconds),
            "peak_rss_gib": round(reference_peak / 2**30, 3),
        },
        "speed_ratio_simulate_vs_reference": round(
            (events / seconds) / (reference_rows / reference_seconds), 3),
        "target_peak_rss_gib": TARGET_PEAK_RSS / 2**30,
        "meets_memory_target": peak <= TARGET_PEAK_RSS,
    }
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
