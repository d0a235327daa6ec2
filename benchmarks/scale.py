"""Benchmark the whole job at scale: CSV → ranked leads, and the daily increment.

Simulates an organisation once (``molehunt simulate --telemetry cert-r4.2``, the files and
columns of the public r4.2 release; kept in ``--data``, outside the repository), splits the
last weekday off as "tomorrow", then in one run, each step in its own process (peak RSS is
the child's ``ru_maxrss``):

* the reference: a bare DuckDB CSV → Parquet copy of the history's event files;
* ``molehunt ingest cert`` of the history, then ``molehunt run`` (features, detectors,
  scoring: ranked leads);
* the daily increment: ``molehunt ingest cert`` of tomorrow's rows, then ``molehunt run``.

Prints JSON: events, seconds and peak RSS per stage, end-to-end against the bare copy, the
increment in seconds (and per 1,000 people), and whether the targets of issue 22 hold. With
``--baseline`` (the JSON of an earlier run at another size) it adds how each stage grew
against how the data grew.

    python benchmarks/scale.py --users 10000 --days 180 --data /work/data/scale-10000x180
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from ingest import BARE_COPY, _timed_child

#: The r4.2 release's event files (the directory and psychometric files are not events).
EVENT_FILES = ("logon", "device", "file", "email", "http")
#: First simulated day (a Monday), as ``molehunt simulate`` defaults to.
START = dt.date(2010, 1, 4)
GIB = 2**30


def _targets(users: int, days: int) -> dict[str, float]:
    """Issue 22's targets for this size: 10,000 x 180 and 1,000 x 500 are named; other sizes
    are held to the larger one's."""
    if users <= 1000:
        return {"peak_rss_gib_max": 8.0, "end_to_end_vs_bare_max": 3.0, "increment_s_max": 5.0}
    return {"peak_rss_gib_max": 8.0, "end_to_end_vs_bare_max": 5.0, "increment_s_max": 30.0}


def _simulated_days(days: int) -> int:
    """Days to simulate so that the day after ``days`` of history is a weekday."""
    total = days + 1
    while (START + dt.timedelta(days=total - 1)).weekday() >= 5:
        total += 1
    return total


def _split(org: Path, history: Path, increment: Path, last: dt.date) -> dict[str, int]:
    """Copy the event files' rows before ``last`` to ``history`` and those of ``last`` to
    ``increment``, byte for byte (the date is the second field of every r4.2 event file and
    never quoted); the directory files go with the history. Returns the rows per part."""
    stamp = last.strftime("%m/%d/%Y").encode()
    counts = {"history": 0, "increment": 0}
    for folder in (history, increment):
        folder.mkdir(parents=True)
    for name in EVENT_FILES:
        source = org / f"{name}.csv"
        with source.open("rb") as rows, (history / source.name).open("wb") as old, \
                (increment / source.name).open("wb") as new:
            header = rows.readline()
            old.write(header)
            new.write(header)
            for line in rows:
                if line.split(b",", 2)[1].startswith(stamp):
                    new.write(line)
                    counts["increment"] += 1
                else:
                    old.write(line)
                    counts["history"] += 1
    for extra in org.iterdir():
        if extra.name not in {f"{n}.csv" for n in EVENT_FILES} and extra.name != "answers":
            target = history / extra.name
            if extra.is_dir():
                shutil.copytree(extra, target)
            else:
                shutil.copy2(extra, target)
    return counts


def _prepare(args: argparse.Namespace) -> tuple[Path, Path, dict[str, Any]]:
    """The cached history and increment folders (simulated and split on first use)."""
    data: Path = args.data
    marker = data / "complete.json"
    if marker.exists():
        return data / "history", data / "increment", json.loads(marker.read_text())
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    total = _simulated_days(args.days)
    seconds, rss = _timed_child([
        sys.executable, "-m", "molehunt.cli", "simulate", "--out", str(data / "org"),
        "--users", str(args.users), "--days", str(total), "--seed", str(args.seed),
        "--telemetry", "cert-r4.2", "--style", args.style, "--scenarios", "C1,C2,C3,C4,C5"])
    last = START + dt.timedelta(days=total - 1)
    counts = _split(data / "org", data / "history", data / "increment", last)
    meta = {
        "users": args.users, "history_days": total - 1, "increment_day": last.isoformat(),
        "seed": args.seed, "style": args.style, "rows": counts,
        "simulate": {"seconds": round(seconds, 1), "peak_rss_gib": round(rss / GIB, 3)}}
    for name in EVENT_FILES:
        (data / "org" / f"{name}.csv").unlink()
    marker.write_text(json.dumps(meta, indent=2) + "\n")
    return data / "history", data / "increment", meta


def _stage(seconds: float, rss: int) -> dict[str, float]:
    """One stage's figures."""
    return {"seconds": round(seconds, 2), "peak_rss_gib": round(rss / GIB, 3)}


def _growth(result: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """How each stage's time grew against how the data grew since ``baseline``."""
    rows = result["events"] / baseline["events"]
    stages: dict[str, Any] = {}
    for name, figures in result["stages"].items():
        before = baseline["stages"].get(name)
        if before and before["seconds"] > 0:
            ratio = figures["seconds"] / before["seconds"]
            stages[name] = {"time_ratio": round(ratio, 2),
                            "faster_than_data": bool(ratio > rows * 1.1)}
    return {"baseline": {"users": baseline["users"], "events": baseline["events"]},
            "data_ratio": round(rows, 2), "stages": stages,
            "nothing_grows_faster_than_data": not any(
                s["faster_than_data"] for s in stages.values())}


def main() -> None:
    """Prepare (or reuse) the data, run every stage, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--days", type=int, default=180, help="days of history")
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--style", default="baseline")
    parser.add_argument("--data", type=Path, required=True,
                        help="folder for the simulated organisation (kept; outside the repo)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--baseline", type=Path, help="JSON of an earlier run at another size")
    args = parser.parse_args()

    history, increment, meta = _prepare(args)
    rows = meta["rows"]
    event_files = [history / f"{n}.csv" for n in EVENT_FILES]
    work = Path(tempfile.mkdtemp(prefix="molehunt-scale-"))
    molehunt = [sys.executable, "-m", "molehunt.cli", "--workspace", str(work / "ws")]
    env = {**os.environ, "COLUMNS": "200"}
    try:
        (work / "bare").mkdir()
        stages = {"bare_copy": _stage(*_timed_child(
            [sys.executable, "-c", BARE_COPY, ",".join(map(str, event_files)),
             str(work / "bare"), str(args.threads)]))}
        shutil.rmtree(work / "bare")
        (work / "ws").mkdir()
        (work / "ws" / "molehunt.toml").write_text(f"threads = {args.threads}\n")
        stages["ingest"] = _stage(*_timed_child([*molehunt, "ingest", "cert", str(history)],
                                                env))
        stages["run"] = _stage(*_timed_child([*molehunt, "run"], env))
        stages["increment_ingest"] = _stage(*_timed_child(
            [*molehunt, "ingest", "cert", str(increment)], env))
        stages["increment_run"] = _stage(*_timed_child([*molehunt, "run"], env))
        store_bytes = sum(p.stat().st_size for p in (work / "ws").rglob("*.parquet"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    end_to_end = stages["ingest"]["seconds"] + stages["run"]["seconds"]
    increment_s = stages["increment_ingest"]["seconds"] + stages["increment_run"]["seconds"]
    peak = max(s["peak_rss_gib"] for n, s in stages.items() if n != "bare_copy")
    targets = _targets(args.users, int(str(meta["history_days"])))
    result: dict[str, Any] = {
        "benchmark": "scale", "users": args.users, "history_days": meta["history_days"],
        "increment_day": meta["increment_day"], "seed": meta["seed"], "style": meta["style"],
        "threads": args.threads, "events": rows["history"],
        "increment_events": rows["increment"],
        "simulate": meta["simulate"], "stages": stages, "store_bytes": store_bytes,
        "end_to_end_seconds": round(end_to_end, 2),
        "end_to_end_vs_bare_copy": round(end_to_end / stages["bare_copy"]["seconds"], 2),
        "increment_seconds": round(increment_s, 2),
        "increment_seconds_per_1000_people": round(increment_s * 1000 / args.users, 2),
        "peak_rss_gib": peak, "targets": targets,
        "meets_targets": bool(
            peak <= targets["peak_rss_gib_max"]
            and end_to_end / stages["bare_copy"]["seconds"] <= targets["end_to_end_vs_bare_max"]
            and increment_s <= targets["increment_s_max"])}
    if args.baseline:
        result["growth"] = _growth(result, json.loads(args.baseline.read_text()))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
