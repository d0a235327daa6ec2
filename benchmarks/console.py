"""p95 latency of the console's overview and person endpoints under concurrent API clients.

    # a workspace of 1,000 people over 120 days (simulate, ingest, features, stand-in results)
    molehunt simulate --users 1000 --days 120 --seed 5 --out /work/data/console-org
    molehunt --workspace /work/data/console-ws ingest cert /work/data/console-org
    molehunt --workspace /work/data/console-ws features
    python tests/console_fixture.py /work/data/console-ws
    python benchmarks/console.py --workspace /work/data/console-ws --clients 50 --requests 20

Without ``--workspace`` it builds a small simulated workspace (``--users``, ``--days``) with
the test fixture's stand-in results (tests/console_fixture). The console is served by
uvicorn with a fresh SQLite store in a temporary folder; the activity index is brought up to
date first (its build time is reported). The server runs in a process of its own, as
``molehunt serve`` does (``--server thread`` runs it in the benchmark's own process, where
the clients' threads share its interpreter lock: slower than a deployment). ``--clients``
threads each make ``--requests`` calls, alternating ``/api/v1/overview`` and
``/api/v1/people/<pseudonym>`` over the 20 highest-risk people and 80 others drawn at random
(seeded); before that, one client looks once at each of 30 other people (first looks,
nothing cached for them). The concurrent run is repeated ``--rounds`` times (later rounds
revisit the same people), after a reference round in which the same clients call
``/api/v1/me`` (the HTTP stack alone); p95s are also given as ratios to the reference's p95.
Every person call is audited (a write), so this also measures the audit chain's group
commit. Then the last round is run again while ``--flood-threads`` threads post wrong
passwords to ``/api/v1/login`` from loopback, at most ``--flood-rate`` attempts a second in
all (a bounded guessing attack: each attempt is hashed, audited and counted towards the
address's lockout); its p95s are given as ratios to the same round without the flood
(``flood_over_quiet``: 1.0 is no slower).
The machine is shared, so wall latency alone says little: each round also gives the CPU
seconds the server process used (user + system, all its threads, by psutil) per request, and
the load average before and after it.
Prints JSON.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from molehunt.cases.accounts import create_account, create_token
from molehunt.web.app import create_app


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"p50": _p(values, 0.5), "p95": _p(values, 0.95), "max": _p(values, 1.0),
            "mean": round(statistics.mean(values) * 1000, 1)}


#: The console as ``molehunt serve`` runs it: one uvicorn process.
_SERVER = """
import sys
import uvicorn
from molehunt.web.app import create_app
uvicorn.run(create_app(sys.argv[1], sys.argv[2]), host="127.0.0.1", port=int(sys.argv[3]),
            log_level="warning")
"""


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _serve(app: Any, root: Path, database: str, port: int, how: str
           ) -> tuple[Any, psutil.Process]:
    """Start the console on ``port``; returns what stops it once it answers, and the process
    serving it (the benchmark's own with ``thread``: its CPU then includes the clients')."""
    if how == "thread":
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)

        def stop_thread() -> None:
            server.should_exit = True
        return stop_thread, psutil.Process()
    child = subprocess.Popen([sys.executable, "-c", _SERVER, str(root), database, str(port)])
    atexit.register(child.terminate)  # no server left behind when the benchmark fails
    deadline = time.perf_counter() + 120
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
            break
        except httpx.TransportError:
            if child.poll() is not None or time.perf_counter() > deadline:
                raise SystemExit("the console did not start") from None
            time.sleep(0.1)

    def stop_process() -> None:
        child.terminate()
        child.wait(timeout=60)
    return stop_process, psutil.Process(child.pid)


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", type=Path, help="an existing workspace with results")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--flood-rate", type=float, default=20.0,
                        help="wrong-password logins a second during the flood round (0: none)")
    parser.add_argument("--flood-threads", type=int, default=4)
    parser.add_argument("--server", choices=("process", "thread"), default="process",
                        help="serve from a process of its own (as deployed) or from a thread")
    parser.add_argument("--rounds", type=int, default=2,
                        help="repeat the concurrent run: the first looks at the 100 people for"
                             " the first time, the next ones come back to them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.workspace is None:
            from console_fixture import build
            root = build(Path(folder), users=args.users, days=args.days).root
        else:
            root = args.workspace
        database = f"sqlite:///{Path(folder) / 'console.sqlite'}"
        app = create_app(root, database)
        console = app.state.console
        started = time.perf_counter()
        indexed_days = console.results.activity.build()
        index_seconds = time.perf_counter() - started
        with console.store.transaction() as session:
            bench = create_account(session, "bench", "load test pass phrase 7", "analyst")
            token = create_token(session, bench, "bench")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
        stop, server = _serve(app, root, database, port, args.server)
        started, cpu = time.perf_counter(), _cpu_seconds(server)
        overview = httpx.get(f"{base}/api/v1/overview", headers=headers, timeout=120)
        first_overview = time.perf_counter() - started  # builds the read models
        first_overview_cpu = _cpu_seconds(server) - cpu
        people = [p["person"] for p in overview.json()["top"]]
        others = sorted(console.pseudonyms.of(r["user_id"]) for r in console.results.directory())
        people += random.Random(5).sample(sorted(set(others) - set(people)),
                                          min(80, len(set(others) - set(people))))
        # first looks, one at a time, at people nobody has opened (nothing cached for them)
        unseen = sorted(set(others) - set(people))[:30]
        first_looks = []
        cpu = _cpu_seconds(server)
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            for alias in unseen:
                started = time.perf_counter()
                http.get(f"/api/v1/people/{alias}").raise_for_status()
                first_looks.append(time.perf_counter() - started)
        first_looks_cpu = _cpu_seconds(server) - cpu
        errors: list[int] = []
        lock = threading.Lock()

        def client(index: int, timings: dict[str, list[float]]) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                for i in range(args.requests):
                    kind = "me" if "me" in timings else (
                        "overview" if i % 2 == 0 else "person")
                    url = ("/api/v1/me" if kind == "me" else "/api/v1/overview"
                           if kind == "overview" else
                           f"/api/v1/people/{people[(index * 7 + i) % len(people)]}")
                    started = time.perf_counter()
                    response = http.get(url)
                    elapsed = time.perf_counter() - started
                    with lock:
                        timings[kind].append(elapsed)
                        if response.status_code != 200:
                            errors.append(response.status_code)

        flood_done = threading.Event()
        #: (when it was answered, seconds it took, status) of every flood attempt
        flood: list[tuple[float, float, int]] = []

        def flooder(index: int) -> None:
            # each thread keeps its share of the rate; an attempt that takes longer than its
            # slot (delayed answers, hashing) is not made up for: the flood stays bounded
            interval = args.flood_threads / args.flood_rate
            with httpx.Client(base_url=base, timeout=120) as http:
                while not flood_done.is_set():
                    started = time.perf_counter()
                    response = http.post("/api/v1/login", json={
                        "username": f"guess{index % 2}", "password": f"wrong {started}"})
                    elapsed = time.perf_counter() - started
                    with lock:
                        flood.append((time.perf_counter(), elapsed, response.status_code))
                    flood_done.wait(max(0.0, interval - elapsed))

        rounds: list[dict[str, Any]] = []
        # the reference, measured in the same run: the same clients asking only who they are
        # (authentication, routing, JSON: the cost of the HTTP stack itself)
        plan: list[tuple[str, ...]] = [("me",)] + [("overview", "person")] * args.rounds
        if args.flood_rate > 0:
            plan.append(("overview", "person", "flood"))
        for planned in plan:
            flooding = "flood" in planned
            flood_done.clear()
            kinds = tuple(k for k in planned if k != "flood")
            flooders = [threading.Thread(target=flooder, args=(i,), daemon=True)
                        for i in range(args.flood_threads)] if flooding else []
            for thread in flooders:
                thread.start()
            warmed = time.perf_counter() + 10
            while flooders and len(flood) < args.flood_threads and time.perf_counter() < warmed:
                time.sleep(0.05)  # the flood is under way before the clients start
            timings: dict[str, list[float]] = {kind: [] for kind in kinds}
            load_before = os.getloadavg()[0]
            started, cpu = time.perf_counter(), _cpu_seconds(server)
            threads = [threading.Thread(target=client, args=(i, timings))
                       for i in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            ended, cpu = time.perf_counter(), _cpu_seconds(server) - cpu
            wall = ended - started
            during = [f for f in flood if started <= f[0] <= ended]
            flood_done.set()  # (set before any flood: a flood round is the last)
            for thread in flooders:
                thread.join()
            count = sum(len(v) for v in timings.values())
            rounds.append({"round": "reference" if kinds == ("me",) else
                           "flood" if flooding else len(rounds),
                           "requests": count, "seconds": round(wall, 1),
                           "requests_per_second": round(count / wall, 1),
                           "server_cpu_seconds": round(cpu, 2),
                           "server_cpu_ms_per_request": round(cpu * 1000 / count, 2),
                           "server_cores_busy": round(cpu / wall, 2),
                           "load_average_1m": [round(load_before, 2),
                                               round(os.getloadavg()[0], 2)],
                           **{f"{k}_ms": _summary(v) for k, v in timings.items()}})
        events = console.results.query(
            "SELECT count(*) AS n FROM read_parquet(?, hive_partitioning=true)",
            [str(root / "events" / "*" / "*.parquet")])[0]["n"]
        stop()
        print(json.dumps({
            "benchmark": "console",
            "command": "python benchmarks/console.py " + " ".join(sys.argv[1:]),
            "workspace": {"people": len(console.results.directory()),
                          "days": len(console.results.activity.days()), "events": events},
            "machine": {"cores": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
            "server": args.server,
            "activity_index": {"weeks_written": indexed_days,
                               "seconds": round(index_seconds, 1)},
            "first_overview_ms": round(first_overview * 1000, 1),
            "first_overview_server_cpu_ms": round(first_overview_cpu * 1000, 1),
            "person_first_look_one_client_ms": _summary(first_looks),
            "person_first_look_server_cpu_ms_mean": round(
                first_looks_cpu * 1000 / len(first_looks), 1) if first_looks else None,
            "clients": args.clients, "requests_per_client": args.requests,
            "distinct_people": len(people), "errors": len(errors), "rounds": rounds,
            "flood": {"rate_limit_per_second": args.flood_rate,
                      "threads": args.flood_threads,
                      "answered_during_round": len(during) if flooding else None,
                      "answered_per_second_during_round": round(len(during) / wall, 1)
                      if flooding else None,
                      "attempts": len(flood),
                      "status": {str(code): sum(1 for f in flood if f[2] == code)
                                 for code in sorted({f[2] for f in flood})},
                      "login_ms": _summary([f[1] for f in flood])},
            "flood_over_quiet": {k: round(rounds[-1][f"{k}_ms"]["p95"]
                                          / rounds[-2][f"{k}_ms"]["p95"], 2)
                                 for k in ("overview", "person")} if flooding else None,
            "p95_over_reference": [
                {"round": r["round"], **{k: round(r[f"{k}_ms"]["p95"] / rounds[0]["me_ms"]["p95"],
                                                  1) for k in ("overview", "person")}}
                for r in rounds[1:]],
        }, indent=2))


if __name__ == "__main__":
    main()
