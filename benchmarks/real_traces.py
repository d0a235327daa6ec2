"""Real CERT attack traces in a simulated organisation (issue 17): input we did not write.

The public CERT insider-threat releases ship, beside the logs, an ``answers`` folder: per
malicious insider one CSV of the exact log rows of the attack (``r4.2-1/r4.2-1-AAM0658.csv``:
``logon,{id},date,user,pc,activity``, ``http,…``) and ``insiders.csv`` listing them. Those
rows were written by the release's authors, not by us, and are the nearest thing to real
attacks in real telemetry a public benchmark has. This script puts them into an organisation
whose background is ``molehunt simulate`` — as an independent evaluation does — and runs what a
user runs:

1. a directory of ``--users`` people (the simulator's) in which as many people as the traces
   name take the traces' user ids (an r4.2 scenario-3 administrator gets an IT
   administrator's place, the colleague whose account he abuses becomes his supervisor) and the
   names and addresses the traces' mail shows; each insider leaves after the attack (the
   releases' insiders all do);
2. ``molehunt simulate --directory … --telemetry cert-r4.2 --scenarios none``: everyone's
   ordinary behaviour, insiders included, in exactly the release's files and columns;
3. with ``--map-pcs`` (default) each trace person's usual computer in the background is given
   the name their trace uses (the names of the two computers are swapped in every file), so the
   attack happens at the person's own desk as in the release; ``--no-map-pcs`` appends the
   traces as they are;
4. the trace rows appended to the files they came from, ``answers/insiders.csv`` and
   ``answers/labels.csv`` written in molehunt's truth layout (scenario n of the release is
   C<n> of our catalogue);
5. ``ingest cert``, ``run`` and ``evaluate --json``, once with the release's competitor domains
   configured in ``molehunt.toml`` and once without (``--competitors``).

The attack files are not part of molehunt (CERT's licence forbids redistributing them): point
``--answers`` at your own copy of the release's ``answers`` folder. Insiders are split in two
halves by a hash of their user id (``split``): whoever develops detectors on what this script
shows should look only at the ``development`` half and quote the ``held_out`` half.

    python benchmarks/real_traces.py --answers ~/cert/answers --release r4.2 \\
        --work /work/data/real --out real-r4.2.json

Prints one JSON document (and writes it to ``--out``); the organisation and workspaces stay
under ``--work`` (outside the repository; the traces are in them).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Each release's period (its first log day and length), scenarios and competitor domains
#: (the companies its scenario-2 insiders solicit, as a deployment would configure them).
RELEASES: dict[str, dict[str, Any]] = {
    "r4.2": {"start": "2010-01-02", "days": 502, "users": 1000, "telemetry": "cert-r4.2",
             "scenarios": {"1": "C1", "2": "C2", "3": "C3"},
             "competitors": ["boeing.com", "harris.com", "hp.com", "lockheedmartin.com",
                             "northropgrumman.com", "raytheon.com"]},
}
#: Trace row kind → the log file it belongs to (CERT layout).
FILES = {"logon": "logon.csv", "device": "device.csv", "http": "http.csv",
         "email": "email.csv", "file": "file.csv"}
SYSTEMS = ("molehunt", "baseline_isolation_forest", "peer_anomaly_alone")


@dataclass
class Insider:
    """One malicious insider of the release and the rows of the attack."""

    user: str
    scenario: str
    start: str
    end: str
    rows: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def last_day(self) -> dt.date:
        """The day of the last row of the attack."""
        return dt.datetime.strptime(self.end.split()[0], "%m/%d/%Y").date()

    @property
    def split(self) -> str:
        """``development`` or ``held_out``, by a hash of the user id (stable, unbiased)."""
        digest = int(hashlib.sha256(self.user.encode()).hexdigest()[:8], 16)
        return "development" if digest % 2 == 0 else "held_out"


def load_insiders(answers: Path, release: str) -> list[Insider]:
    """The release's insiders and their attack rows, from its ``answers`` folder."""
    spec = RELEASES[release]
    number = release.removeprefix("r")
    insiders: list[Insider] = []
    with (answers / "insiders.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["dataset"].strip() != number or row["scenario"] not in spec["scenarios"]:
                continue
            insider = Insider(row["user"], spec["scenarios"][row["scenario"]], row["start"],
                              row["end"])
            path = answers / f"{release}-{row['scenario']}" / row["details"]
            with path.open(newline="", encoding="utf-8", errors="replace") as trace:
                for fields in csv.reader(trace):
                    if fields and fields[0] in FILES:
                        insider.rows.append((fields[0], fields[1:]))
            insiders.append(insider)
    if not insiders:
        raise SystemExit(f"no {release} insiders in {answers / 'insiders.csv'}")
    return insiders


def _read_ldap(folder: Path) -> dict[str, list[dict[str, str]]]:
    months: dict[str, list[dict[str, str]]] = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            months[path.name] = list(csv.DictReader(handle))
    return months


def _write_ldap(folder: Path, months: dict[str, list[dict[str, str]]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in months.items():
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


def trace_people(insiders: list[Insider]) -> tuple[dict[str, str], dict[str, str]]:
    """Every user id the traces name → its e-mail address (where mail shows it), and each
    other person → the insider whose trace names them (a scenario-3 supervisor)."""
    addresses: dict[str, str] = {}
    others: dict[str, str] = {}
    for insider in insiders:
        for kind, fields in insider.rows:
            user = fields[2]
            if kind == "email" and len(fields) > 7 and fields[7]:
                addresses.setdefault(user, fields[7].strip())
            if user != insider.user:
                others.setdefault(user, insider.user)
            addresses.setdefault(user, "")
    return addresses, others


def build_directory(ldap: Path, out: Path, insiders: list[Insider], seed: int) -> dict[str, str]:
    """Monthly LDAP files in which the simulator's people take the traces' identities.

    Returns the trace user id → the simulated user id whose place it took.
    """
    months = _read_ldap(ldap)
    names = list(months)
    present = Counter(row["user_id"] for rows in months.values() for row in rows)
    bosses = {row["supervisor"] for rows in months.values() for row in rows}
    last = {row["user_id"]: row for row in months[names[-1]]}
    stable = sorted(u for u, n in present.items() if n == len(names) and u in last
                    and last[u]["employee_name"] not in bosses)
    rng = random.Random(f"real-traces/{seed}")
    rng.shuffle(stable)
    addresses, others = trace_people(insiders)
    scenario = {i.user: i.scenario for i in insiders}
    taken: dict[str, str] = {}

    def place(user: str, admin: bool) -> None:
        pool = [u for u in stable if u not in taken.values()
                and (not admin or "admin" in last[u]["role"].lower())]
        if not pool:
            pool = [u for u in stable if u not in taken.values()]
        taken[user] = pool[0]

    # administrators first: there are few IT administrator places
    for user in sorted(addresses, key=lambda u: (scenario.get(u) != "C3", u)):
        if user in present and user not in taken:
            raise SystemExit(f"trace user {user} is also a simulated person: use another seed")
        place(user, scenario.get(user) == "C3")
    renamed_name: dict[str, str] = {}
    for user, simulated in taken.items():
        old = last[simulated]
        address = addresses[user]
        if address:
            local = address.split("@")[0]
            renamed_name[old["employee_name"]] = " ".join(local.split("."))
    by_insider = {i.user: i for i in insiders}
    # the person a scenario-3 administrator abuses is his supervisor (as in the release)
    supervisor_of = {insider: user for user, insider in others.items()
                     if by_insider[insider].scenario == "C3"}
    leaves = {user: by_insider[user].last_day for user in by_insider}
    trace_user = {simulated: user for user, simulated in taken.items()}
    for name in names:
        month = dt.date(int(name[:4]), int(name[5:7]), 1)
        kept = []
        for row in months[name]:
            placed = trace_user.get(row["user_id"])
            if placed is not None:
                if placed in leaves and month > leaves[placed].replace(day=1):
                    continue  # left after the attack
                row = dict(row, user_id=placed)
                if row["employee_name"] in renamed_name:
                    row["employee_name"] = renamed_name[row["employee_name"]]
                    row["email"] = addresses[placed]
            if row["supervisor"] in renamed_name:
                row["supervisor"] = renamed_name[row["supervisor"]]
            kept.append(row)
        months[name] = kept
    for name in names:
        boss_names = {r["user_id"]: r["employee_name"] for r in months[name]}
        for row in months[name]:
            victim = supervisor_of.get(row["user_id"])
            if victim and victim in boss_names:
                row["supervisor"] = boss_names[victim]
    _write_ldap(out, months)
    return taken


def _dominant_pcs(org: Path, users: set[str]) -> dict[str, str]:
    counts: dict[str, Counter[str]] = {u: Counter() for u in users}
    with (org / "logon.csv").open(newline="", encoding="utf-8") as handle:
        for fields in csv.reader(handle):
            if len(fields) > 3 and fields[2] in counts:
                counts[fields[2]][fields[3]] += 1
    return {u: c.most_common(1)[0][0] for u, c in counts.items() if c}


def map_pcs(org: Path, insiders: list[Insider]) -> int:
    """Give each trace person's usual background computer the name their trace uses.

    Returns how many computers were renamed (each swaps names with another).
    """
    own: dict[str, Counter[str]] = {}
    for insider in insiders:
        for _, fields in insider.rows:
            own.setdefault(fields[2], Counter())[fields[3]] += 1
    real = {user: c.most_common(1)[0][0] for user, c in own.items()}
    simulated = _dominant_pcs(org, set(real))
    swap: dict[str, str] = {}
    for user, pc in sorted(real.items()):
        background = simulated.get(user)
        if not background or background == pc or background in swap or pc in swap:
            continue
        swap[background], swap[pc] = pc, background
    for name in FILES.values():
        path = org / name
        tmp = path.with_suffix(".tmp")
        with path.open(newline="", encoding="utf-8") as src, \
                tmp.open("w", newline="", encoding="utf-8") as dst:
            writer = csv.writer(dst, lineterminator="\n")
            for fields in csv.reader(src):
                if len(fields) > 3 and fields[3] in swap:
                    fields[3] = swap[fields[3]]
                writer.writerow(fields)
        tmp.replace(path)
    return len(swap) // 2


def add_traces(org: Path, insiders: list[Insider], release: str) -> int:
    """Append the attack rows to their files; write the truth in molehunt's layout."""
    writers = {}
    handles = []
    for kind, name in FILES.items():
        handle = (org / name).open("a", newline="", encoding="utf-8")
        handles.append(handle)
        writers[kind] = csv.writer(handle, lineterminator="\n")
    added = 0
    try:
        for insider in insiders:
            for kind, fields in insider.rows:
                writers[kind].writerow(fields)
                added += 1
    finally:
        for handle in handles:
            handle.close()
    answers = org / "answers"
    with (answers / "insiders.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["dataset", "scenario", "details", "user", "start", "end"])
        for number, insider in enumerate(insiders, start=1):
            writer.writerow([f"cert-{release}", insider.scenario,
                             f"{insider.scenario}-{number}:insider", insider.user,
                             insider.start, insider.end])
    with (answers / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["event_id", "scenario", "user", "role", "instance", "file"])
        for number, insider in enumerate(insiders, start=1):
            for kind, fields in insider.rows:
                role = "insider" if fields[2] == insider.user else "masquerade"
                writer.writerow([fields[0], insider.scenario, insider.user, role,
                                 f"{insider.scenario}-{number}", FILES[kind]])
    return added


def _molehunt(*args: str, log: Path) -> None:
    beside = Path(sys.executable).with_name("molehunt")
    default = str(beside) if beside.exists() else shutil.which("molehunt") or "molehunt"
    command = [os.environ.get("MOLEHUNT", default), *args]
    with log.open("a", encoding="utf-8") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(command[:3])} failed (exit {done.returncode}); see {log}")


def _peaks(workspace: Path) -> dict[str, float]:
    import duckdb

    con = duckdb.connect()
    rows = con.sql(f"select user_id, max(risk) from read_parquet("
                   f"'{workspace}/results/risk/**/*.parquet') group by 1").fetchall()
    return {user: float(risk) for user, risk in rows}


def _people(org: Path) -> set[str]:
    people: set[str] = set()
    for path in (org / "LDAP").glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            people.update(row["user_id"] for row in csv.DictReader(handle))
    return people


def summarise(evaluation: dict[str, Any], insiders: list[Insider],
              peaks: dict[str, float], people: set[str], others: set[str]) -> dict[str, Any]:
    """Per system: recall at 1 % per scenario, AUC, median days, band high; per split too."""
    summary: dict[str, Any] = {"insiders": evaluation.get("insiders"),
                               "untraceable": evaluation.get("untraceable", {})}
    traced = {i.user for i in insiders} - {
        u for v in evaluation.get("untraceable", {}).values() for u in v.get("users", [])}
    for system in SYSTEMS:
        figures = evaluation.get(system) or {}
        groups = figures.get("groups", {})
        detected: dict[str, bool] = {}
        per: dict[str, Any] = {}
        for code in ("C1", "C2", "C3"):
            group = groups.get(code)
            if not group:
                continue
            at = group["recall"]["1.0%"]
            per[code] = {"recall_at_1pct": at["recall"], "insiders": group.get("insiders"),
                         "median_days_to_detect": at.get("median_days_to_detect"),
                         "roc_auc": group.get("roc_auc")}
            for row in at.get("insiders", []):
                detected[row["user_id"]] = row.get("detected") is not None
        all_group = groups.get("all", {})
        summary[system] = {
            "recall_at_1pct": all_group.get("recall", {}).get("1.0%", {}).get("recall"),
            "median_days_to_detect": all_group.get("recall", {}).get("1.0%", {}).get(
                "median_days_to_detect"),
            "roc_auc": all_group.get("roc_auc"),
            "benign_high_per_1000_per_day": figures.get("benign_high_per_1000_per_day"),
            "alert_load": figures.get("alert_load"),
            "by_scenario": per,
            "split": {},
        }
        for half in ("development", "held_out"):
            users = [i for i in insiders if i.split == half and i.user in traced]
            caught = [i for i in users if detected.get(i.user)]
            entry: dict[str, Any] = {
                "insiders": len(users),
                "recall_at_1pct": round(len(caught) / len(users), 4) if users else None,
                "caught_by_scenario": {c: f"{sum(1 for i in caught if i.scenario == c)}/"
                                          f"{sum(1 for i in users if i.scenario == c)}"
                                       for c in ("C1", "C2", "C3")}}
            if system == "molehunt":
                from molehunt.evaluate.metrics import roc_pr_auc

                negatives = people - {i.user for i in insiders} - others
                entry["roc_auc"] = roc_pr_auc(peaks, {i.user for i in users}, negatives)[0]
            summary[system]["split"][half] = entry
    return summary


def main(argv: list[str] | None = None) -> int:
    """Build the organisation, run molehunt on it, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--answers", type=Path, required=True,
                        help="the release's answers folder (insiders.csv, r4.2-1/, ...)")
    parser.add_argument("--release", default="r4.2", choices=sorted(RELEASES))
    parser.add_argument("--work", type=Path, default=Path("/work/data/real-traces"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--style", default="baseline", help="background organisation style")
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--competitors", choices=("off", "on", "both"), default="both")
    parser.add_argument("--map-pcs", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    spec = RELEASES[args.release]
    insiders = load_insiders(args.answers.expanduser(), args.release)
    _, others = trace_people(insiders)
    work = args.work / f"{args.release}_{args.style}_seed{args.seed}" \
        f"{'' if args.map_pcs else '_unmapped'}"
    org, log = work / "org", work / "log.txt"
    started = time.monotonic()
    document: dict[str, Any] = {
        "benchmark": "real_traces", "release": args.release, "seed": args.seed,
        "style": args.style, "map_pcs": args.map_pcs, "insiders": len(insiders),
        "by_scenario": dict(sorted(Counter(i.scenario for i in insiders).items())),
        "split": dict(sorted(Counter(i.split for i in insiders).items())),
        "trace_rows": sum(len(i.rows) for i in insiders)}
    if not (org / ".complete").exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        from molehunt.simulate.organisation import build_organisation
        from molehunt.simulate.output import write_ldap
        from molehunt.simulate.styles import resolve_style

        start = dt.date.fromisoformat(spec["start"])
        users = args.users or spec["users"]
        base = build_organisation(users, spec["days"], start, args.seed,
                                  style=resolve_style(args.style, args.seed))
        write_ldap(work / "base", base, args.release)
        taken = build_directory(work / "base" / "LDAP", work / "directory", insiders, args.seed)
        document["places"] = len(taken)
        _molehunt("simulate", "--out", str(org), "--directory", str(work / "directory"),
                  "--days", str(spec["days"]), "--start", spec["start"], "--seed",
                  str(args.seed), "--style", args.style, "--telemetry", spec["telemetry"],
                  "--scenarios", "none", log=log)
        if args.map_pcs:
            document["computers_renamed"] = map_pcs(org, insiders)
        document["rows_added"] = add_traces(org, insiders, args.release)
        (org / ".complete").write_text("")
    runs = {"off": [False], "on": [True], "both": [False, True]}[args.competitors]
    document["runs"] = {}
    for competitors in runs:
        tag = "competitors" if competitors else "no-competitors"
        workspace = work / f"ws-{tag}"
        result = work / f"evaluation-{tag}.json"
        if not result.exists():
            shutil.rmtree(workspace, ignore_errors=True)
            workspace.mkdir(parents=True)
            if competitors:
                (workspace / "molehunt.toml").write_text(
                    f"competitors = {json.dumps(spec['competitors'])}\n", encoding="utf-8")
            _molehunt("--workspace", str(workspace), "ingest", "cert", str(org), log=log)
            _molehunt("--workspace", str(workspace), "run", log=log)
            _molehunt("--workspace", str(workspace), "evaluate", "--truth", str(org),
                      "--json", str(result), log=log)
        evaluation = json.loads(result.read_text(encoding="utf-8"))
        document["runs"][tag] = summarise(evaluation, insiders, _peaks(workspace),
                                          _people(org), set(others))
    document["seconds"] = round(time.monotonic() - started, 1)
    text = json.dumps(document, indent=2, sort_keys=True)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
