"""p95 latency of the console's overview and person endpoints under 50 concurrent API clients.

    python benchmarks/console.py --users 1000 --days 60 --clients 50 --requests 20

Builds a simulated workspace with the test fixture's stand-in results (tests/console_fixture),
serves the console with uvicorn, and has ``--clients`` threads each make ``--requests`` calls
to ``/api/v1/overview`` and to ``/api/v1/people/<pseudonym>`` of the highest-risk people.
Every person call is audited (a write), so this also measures the audit chain's serialisation.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from console_fixture import build
from molehunt.cases.accounts import create_account, create_token
from molehunt.web.app import create_app


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        made = build(Path(folder), users=args.users, days=args.days)
        app = create_app(made.root, f"sqlite:///{made.root / 'console.sqlite'}")
        with app.state.console.store.transaction() as session:
            token = create_token(session, create_account(session, "bench", "benchmark password",
                                                         "analyst"), "bench")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
        people = [p["person"] for p in httpx.get(f"{base}/api/v1/overview", headers=headers,
                                                 timeout=60).json()["top"]]
        timings: dict[str, list[float]] = {"overview": [], "person": []}
        errors: list[int] = []
        lock = threading.Lock()

        def client(index: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                for i in range(args.requests):
                    kind = "overview" if i % 2 == 0 else "person"
                    url = ("/api/v1/overview" if kind == "overview" else
                           f"/api/v1/people/{people[(index + i) % len(people)]}")
                    started = time.perf_counter()
                    response = http.get(url)
                    elapsed = time.perf_counter() - started
                    with lock:
                        timings[kind].append(elapsed)
                        if response.status_code != 200:
                            errors.append(response.status_code)

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        server.should_exit = True
        print(json.dumps({
            "users": args.users, "days": args.days, "clients": args.clients,
            "requests": sum(len(v) for v in timings.values()), "errors": len(errors),
            "seconds": round(wall, 1),
            "requests_per_second": round(sum(len(v) for v in timings.values()) / wall, 1),
            **{f"{k}_ms": {"p50": _p(v, 0.5), "p95": _p(v, 0.95),
                           "mean": round(statistics.mean(v) * 1000, 1)}
               for k, v in timings.items()},
        }, indent=2))


if __name__ == "__main__":
    main()
