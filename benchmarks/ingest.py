"""Benchmark `molehunt ingest cert` against a bare DuckDB CSV → Parquet copy of the same files.

Generates a CERT-layout dataset (the quick generator; r4.2 scale is 1,000 users x 516 days,
about 30 M rows), then in one run times

* ``molehunt ingest cert DIR`` into a fresh workspace (a separate process), and
* for every event file, ``COPY (SELECT * FROM read_csv(file)) TO 'file.parquet'`` in a bare
  DuckDB process with the same thread count,

and prints JSON: rows, seconds, rows/s, peak RSS of each, and the ratios. Peak RSS is the
child's ``ru_maxrss``. The dataset is kept (``--data``) so later runs skip generation.

    python benchmarks/ingest.py --users 1000 --days 516 --data /tmp/bench-r42
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

BARE_COPY = """
import sys, duckdb
con = duckdb.connect()
con.execute(f"SET threads={int(sys.argv[3])}")
for src in sys.argv[1].split(","):
    name = src.rsplit("/", 1)[-1].removesuffix(".csv")
    con.execute(f"COPY (SELECT * FROM read_csv('{src}', timestampformat='%m/%d/%Y %H:%M:%S'))"
                f" TO '{sys.argv[2]}/{name}.parquet'"
                " (FORMAT parquet)")
"""


def _timed_child(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run a child process; return (seconds, the child's own peak RSS in bytes)."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            output.seek(0)
            sys.stderr.write(output.read().decode("utf-8", "replace"))
            raise SystemExit(f"command failed: {' '.join(command)}")
    return seconds, usage.ru_maxrss * 1024


def main() -> None:
    """Generate (or reuse) the dataset, run both, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=516)
    parser.add_argument("--layout", default="r4.2", choices=["r4.2", "r6.2"])
    parser.add_argument("--data", type=Path, default=None, help="dataset folder (kept)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    from molehunt.simulate.quick import generate_cert

    data = args.data or Path(tempfile.gettempdir()) / (
        f"molehunt-bench-{args.layout}-{args.users}u-{args.days}d"
    )
    marker = data / ".complete"
    if not marker.exists():
        shutil.rmtree(data, ignore_errors=True)
        started = time.perf_counter()
        generate_cert(data, users=args.users, days=args.days, layout=args.layout)
        marker.write_text(f"generated in {time.perf_counter() - started:.1f} s\n")
    event_files = [data / f"{n}.csv" for n in ("logon", "device", "file", "email", "http")]
    input_bytes = sum(p.stat().st_size for p in data.rglob("*.csv"))

    work = Path(tempfile.mkdtemp(prefix="molehunt-bench-"))
    try:
        bare_out = work / "bare"
        bare_out.mkdir()
        bare_seconds, bare_rss = _timed_child(
            [sys.executable, "-c", BARE_COPY, ",".join(map(str, event_files)), str(bare_out),
             str(args.threads)]
        )
        workspace = work / "workspace"
        workspace.mkdir()
        (workspace / "molehunt.toml").write_text(f"threads = {args.threads}\n")
        env = {**os.environ, "COLUMNS": "200"}
        ingest_seconds, ingest_rss = _timed_child(
            [sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace), "ingest",
             "cert", str(data)],
            env,
        )
        status = subprocess.run(
            [sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace), "status",
             "--json"],
            capture_output=True, text=True, check=True,
        )
        report = json.loads(status.stdout)
        rows = int(report["events_total"])
        store_bytes = sum(p.stat().st_size for p in (workspace / "events").rglob("*.parquet"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "benchmark": "ingest_cert",
        "layout": args.layout,
        "users": args.users,
        "days": args.days,
        "threads": args.threads,
        "input_bytes": input_bytes,
        "rows": rows,
        "quarantined": report["quarantined_total"],
        "molehunt": {
            "seconds": round(ingest_seconds, 2),
            "rows_per_second": round(rows / ingest_seconds),
            "peak_rss_bytes": ingest_rss,
            "peak_rss_gib": round(ingest_rss / 2**30, 3),
            "store_bytes": store_bytes,
        },
        "bare_duckdb_copy": {
            "seconds": round(bare_seconds, 2),
            "rows_per_second": round(rows / bare_seconds),
            "peak_rss_bytes": bare_rss,
        },
        "time_ratio_vs_bare_copy": round(ingest_seconds / bare_seconds, 3),
        "targets": {"peak_rss_gib_max": 3.0, "time_ratio_max": 3.0},
    }
    result["meets_targets"] = (
        result["molehunt"]["peak_rss_gib"] < 3.0 and result["time_ratio_vs_bare_copy"] <= 3.0
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
