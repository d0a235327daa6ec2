"""Benchmark `molehunt ingest gworkspace` against a bare DuckDB read of the same NDJSON.

Writes N Google Workspace Reports API activities as NDJSON (the fixture activities of
tests/fixtures/gworkspace/activities.ndjson repeated with new ids, times and people), then in
one run times

* ``molehunt ingest gworkspace FILE`` into a fresh workspace (a separate process), and
* ``COPY (SELECT * FROM read_json(FILE)) TO 'x.parquet'`` in a bare DuckDB process with the
  same thread count (it stores the activities as they are, events unflattened: the floor of
  reading the same JSON),

and prints JSON: activities, events, seconds, events/s, peak RSS of each, and the ratio.

    python benchmarks/ingest_gworkspace.py --activities 100000 --data /tmp/bench-gw
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from ingest import _timed_child  # type: ignore[import-not-found]

FIXTURE = Path(__file__).parents[1] / "tests" / "fixtures" / "gworkspace" / "activities.ndjson"

BARE_READ = """
import sys, duckdb
con = duckdb.connect()
con.execute(f"SET threads={int(sys.argv[3])}")
con.execute(f"COPY (SELECT * FROM read_json('{sys.argv[1]}', format='newline_delimited',"
            " maximum_object_size=16777216)) TO '" + sys.argv[2] + "/x.parquet' (FORMAT parquet)")
"""


def write_activities(path: Path, count: int) -> int:
    """Write ``count`` activities; return how many events they hold."""
    base = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    start = datetime(2024, 3, 4)
    events = 0
    with path.open("w") as out:
        for number in range(count):
            activity = json.loads(json.dumps(base[number % len(base)]))
            activity["id"]["uniqueQualifier"] = str(number)
            activity["id"]["time"] = (start + timedelta(seconds=7 * number)).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z")
            email = activity["actor"].get("email", "")
            if email.endswith("@corp.example"):
                activity["actor"]["email"] = f"user{number % 500}@corp.example"
            events += len(activity["events"])
            out.write(json.dumps(activity) + "\n")
    return events


def main() -> None:
    """Write (or reuse) the NDJSON, run both, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data", type=Path, default=None, help="keep the NDJSON here")
    args = parser.parse_args()
    folder = args.data or Path(tempfile.mkdtemp(prefix="bench-gw-"))
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"activities-{args.activities}.ndjson"
    meta = source.with_suffix(".events")
    if not source.exists() or not meta.exists():
        meta.write_text(str(write_activities(source, args.activities)))
    events = int(meta.read_text())
    workspace = Path(tempfile.mkdtemp(prefix="bench-gw-ws-"))
    out = Path(tempfile.mkdtemp(prefix="bench-gw-bare-"))
    try:
        (workspace / "molehunt.toml").write_text(
            f'threads = {args.threads}\ncompany_domains = ["corp.example"]\n')
        molehunt_s, molehunt_rss = _timed_child(
            [sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace), "ingest",
             "gworkspace", str(source)], env={**os.environ})
        bare_s, bare_rss = _timed_child(
            [sys.executable, "-c", BARE_READ, str(source), str(out), str(args.threads)])
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
    print(json.dumps({
        "activities": args.activities, "events": events, "bytes": source.stat().st_size,
        "threads": args.threads,
        "molehunt": {"seconds": round(molehunt_s, 2), "events_per_s": round(events / molehunt_s),
                     "peak_rss_mb": round(molehunt_rss / 2**20)},
        "bare_duckdb_read_json": {"seconds": round(bare_s, 2),
                                  "events_per_s": round(events / bare_s),
                                  "peak_rss_mb": round(bare_rss / 2**20)},
        "slowdown": round(molehunt_s / bare_s, 1),
    }, indent=1))


if __name__ == "__main__":
    main()
