"""TEST FIXTURE, not product code: a small simulated workspace with fake detection results.

The detection core (issue 5) will write ``results/``; until then this writes tables of the
agreed shape so the console can be built and tested: ``risk/day=…`` for every person and day,
``findings/day=…`` citing real event ids, and ``alerts.parquet``. Scores are arbitrary but
deterministic. :data:`PLANTED` are hostile strings planted in file names, URLs and subjects
of one person's events (the XSS test).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from conftest import ingest_cert, ingest_jsonl
from molehunt.store.workspace import Workspace

PLANTED = (
    '<script>window.__xss = 1</script>',
    '"><img src=x onerror="window.__xss = 2">',
    "'><svg onload=window.__xss=3>",
)
REASON = pa.struct([("feature", pa.string()), ("observed", pa.float64()),
                    ("expected", pa.float64()), ("weight", pa.float64()),
                    ("text", pa.string())])


@dataclass(frozen=True)
class ConsoleWorkspace:
    """What the fixture made: the workspace, the person with planted strings, the directory."""

    root: Path
    target: str
    alert_ids: list[str]
    names: list[str]
    emails: list[str]
    user_ids: list[str]


def _score(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _band(risk: float) -> str:
    return ("critical" if risk >= 90 else "high" if risk >= 70 else "medium" if risk >= 50
            else "low" if risk >= 25 else "none")


def write_results(workspace: Workspace, con: duckdb.DuckDBPyConnection, target: str,
                  planted_day: dt.date, ids: list[str], text: str) -> list[str]:
    """Write stand-in ``results/`` (risk of everyone and every day, three findings, alerts).

    ``target`` rises to critical risk and gets a finding on ``planted_day`` citing ``ids``;
    two other people get group findings naming the target. Returns the alert ids.
    """
    events = f"read_parquet('{workspace.events_dir}/*/*.parquet', hive_partitioning=true)"
    last_day = con.execute(f"SELECT max(day) FROM {events}").fetchone()[0]
    people = con.execute(f"SELECT DISTINCT user_id FROM {events} ORDER BY 1").fetchall()
    user_ids = [p[0] for p in people]
    results = workspace.root / "results"
    first_day = con.execute(f"SELECT min(day) FROM {events}").fetchone()[0]
    day = first_day
    while day <= last_day:
        risk = [round(100 * _score(u, day) ** 3, 1) if u != target else
                min(99.0, 40.0 + 2.5 * (day - first_day).days) for u in user_ids]
        folder = results / "risk" / f"day={day.isoformat()}"
        folder.mkdir(parents=True)
        reasons = [[{"feature": "bytes_removable_1d", "observed": r, "expected": 10.0,
                     "weight": 0.6, "text": f"copied {r:.0f} MB to removable media"}]
                   for r in risk]
        pq.write_table(pa.table({"user_id": user_ids, "day": [day] * len(user_ids),
                                 "risk": risk, "band": [_band(r) for r in risk],
                                 "reasons": pa.array(reasons, pa.list_(REASON))}),
                       folder / "part-0.parquet")
        day += dt.timedelta(days=1)
    # findings: the target on the planted day cites the planted events; two others get one
    others = sorted(user_ids, key=lambda u: -_score(u, "f"))[:2]
    rows = []
    rows.append((target, planted_day, "removable_spike", ids, others, text))
    for other in others:
        some = [r[0] for r in con.execute(
            f"SELECT event_id FROM {events} WHERE user_id = ? AND day = ? LIMIT 3",
            [other, planted_day]).fetchall()]
        rows.append((other, planted_day, "group_forwarding", some, [target],
                     "forwarded sensitive documents to a colleague in another team"))
    folder = results / "findings" / f"day={planted_day.isoformat()}"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({
        "user_id": [r[0] for r in rows], "day": [r[1] for r in rows],
        "detector": [r[2] for r in rows], "detector_version": [1] * len(rows),
        "score": [0.93, 0.55, 0.51][:len(rows)],
        "reasons": pa.array([[{"feature": "bytes_removable_1d", "observed": 900.0,
                               "expected": 12.0, "weight": 1.0, "text": r[5]}] for r in rows],
                            pa.list_(REASON)),
        "evidence": [r[3] for r in rows], "related_users": [r[4] for r in rows],
    }), folder / "part-0.parquet")
    alert_rows = [(f"A-{r[0]}-{planted_day}", r[0]) for r in rows]
    pq.write_table(pa.table({
        "alert_id": [a[0] for a in alert_rows], "user_id": [a[1] for a in alert_rows],
        "opened_day": [planted_day - dt.timedelta(days=3)] * len(alert_rows),
        "last_day": [planted_day] * len(alert_rows),
        "peak_risk": [95.0, 72.0, 71.0][:len(alert_rows)],
        "band": ["critical", "high", "high"][:len(alert_rows)],
        "reasons": pa.array([[{"feature": "bytes_removable_1d", "observed": 900.0,
                               "expected": 12.0, "weight": 1.0, "text": r[5]}] for r in rows],
                            pa.list_(REASON)),
        "detectors": [[r[2]] for r in rows], "status": ["open"] * len(alert_rows),
    }), results / "alerts.parquet")
    return [a[0] for a in alert_rows]


def write_results_into(root: Path) -> None:
    """Stand-in results for an existing workspace (the console benchmark's big workspace).

    The most active person on the day two days before the last is the target, citing three of
    their events of that day.
    """
    workspace = Workspace(root)
    con = duckdb.connect()
    events = f"read_parquet('{workspace.events_dir}/*/*.parquet', hive_partitioning=true)"
    planted_day = con.execute(f"SELECT max(day) FROM {events}").fetchone()[0] - dt.timedelta(
        days=2)
    target, = con.execute(f"SELECT user_id FROM {events} WHERE day = ? GROUP BY user_id"
                          " ORDER BY count(*) DESC, user_id LIMIT 1", [planted_day]).fetchone()
    ids = [r[0] for r in con.execute(f"SELECT event_id FROM {events} WHERE day = ? AND"
                                     " user_id = ? ORDER BY ts LIMIT 3",
                                     [planted_day, target]).fetchall()]
    shutil.rmtree(workspace.root / "results", ignore_errors=True)
    write_results(workspace, con, target, planted_day, ids,
                  "copied design documents to removable media")
    con.close()


def build(root: Path, users: int = 40, days: int = 30) -> ConsoleWorkspace:
    """Simulate, ingest, plant hostile strings, and write fake results under ``root``."""
    org = root / "org"
    subprocess.run([sys.executable, "-m", "molehunt.cli", "simulate", "--out", str(org),
                    "--users", str(users), "--days", str(days), "--seed", "11",
                    "--start", "2024-01-01"], check=True, capture_output=True)
    workspace = Workspace(root / "ws")
    ingest_cert(workspace, org)
    con = duckdb.connect()
    events = f"read_parquet('{workspace.events_dir}/*/*.parquet', hive_partitioning=true)"
    target = con.execute(f"SELECT user_id FROM {events} GROUP BY user_id"
                         " ORDER BY count(*) DESC, user_id LIMIT 1").fetchone()[0]
    last_day = con.execute(f"SELECT max(day) FROM {events}").fetchone()[0]
    planted_day = last_day - dt.timedelta(days=2)
    lines = []
    for i, text in enumerate(PLANTED):
        ts = f"{planted_day.isoformat()}T10:0{i}:00"
        lines += [
            {"event_id": f"xss-file-{i}", "ts": ts, "user_id": target, "host": "PC-X",
             "action": "file_copy", "channel": "removable_media",
             "object": f"C:\\secret\\{text}.docx", "target": "E:\\"},
            {"event_id": f"xss-web-{i}", "ts": ts, "user_id": target, "host": "PC-X",
             "action": "web_upload", "channel": "cloud_storage",
             "object": f"https://drop.example/{text}", "domain": "drop.example"},
            {"event_id": f"xss-mail-{i}", "ts": ts, "user_id": target, "host": "PC-X",
             "action": "email_send", "channel": "email_external", "object": "me@corp",
             "target": "x@rival.example", "domain": "rival.example",
             "content": f"Subject: {text}"},
        ]
    planted = root / "planted.jsonl"
    planted.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    ingest_jsonl(workspace, [planted])
    ids = [f"xss-{kind}-{i}" for kind in ("file", "web", "mail") for i in range(len(PLANTED))]
    alert_ids = write_results(workspace, con, target, planted_day, ids,
                              f"copied files named {PLANTED[0]} and mailed {PLANTED[1]}")
    directory = con.execute(
        f"SELECT user_id, name, email FROM read_parquet('{workspace.directory_file}')").fetchall()
    con.close()
    return ConsoleWorkspace(workspace.root, target, alert_ids,
                            [d[1] for d in directory if d[1]], [d[2] for d in directory if d[2]],
                            [d[0] for d in directory])


if __name__ == "__main__":
    write_results_into(Path(sys.argv[1]))
