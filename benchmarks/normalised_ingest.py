"""Benchmark `molehunt ingest ocsf` and `ingest ecs` against a bare DuckDB read of the same files.

Writes NDJSON files of ``--records`` documents each, made from the hand-written fixtures
(tests/fixtures/normalised/: every stored kind of document, with fresh ids, people and times),
then in one run times, per schema,

* ``molehunt ingest ocsf|ecs FILE`` into a fresh workspace (a separate process), and
* ``COPY (SELECT * FROM read_json(FILE)) TO 'x.parquet'`` in a bare DuckDB process with the
  same thread count (DuckDB's reader: no flattening, mapping, checks or quarantine),

and prints JSON: records, seconds and records per second of each, and the ratio.

    python benchmarks/normalised_ingest.py --records 200000 --data /tmp/bench-normalised
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "normalised"
BARE_COPY = """
import sys, duckdb
con = duckdb.connect()
con.execute(f"SET threads={int(sys.argv[3])}")
con.execute(f"COPY (SELECT * FROM read_json('{sys.argv[1]}', format='newline_delimited',"
            f" maximum_object_size=16777216)) TO '{sys.argv[2]}' (FORMAT parquet)")
"""


#: The fixture documents each schema stores (make_normalised_fixtures.py says what each is).
STORED = {"ocsf": {"f-1", "f-2", "f-3", "a-1", "a-2", "a-3", "a-5", "e-1", "e-2", "e-3", "e-4",
                   "w-1", "w-2", "h-1", "h-2"},
          "ecs": {"f-1", "f-2", "f-3", "a-1", "a-2", "a-4", "e-1", "e-2", "e-3", "h-1", "h-2"}}


def _documents(schema: str) -> list[dict[str, object]]:
    """The fixture documents that are stored (skipped and implausible ones left out)."""
    lines = (FIXTURES / f"{schema}_events.ndjson").read_text("utf-8").splitlines()
    kept = []
    for line in lines:
        document = json.loads(line)
        uid = (document.get("metadata") or {}).get("uid") if schema == "ocsf" else (
            document.get("event") or {}).get("id")
        if uid in STORED[schema]:
            kept.append(document)
    return kept


def write_file(schema: str, records: int, path: Path) -> None:
    """``records`` documents: the fixtures' kinds in turn, each with its own id, person, time."""
    templates = _documents(schema)
    with path.open("w", encoding="utf-8") as out:
        for i in range(records):
            document = json.loads(json.dumps(templates[i % len(templates)]))
            person = f"user{i % 997:03d}@corp.example"
            if schema == "ocsf":
                document["metadata"]["uid"] = f"bench-{i}"
                document["time"] = 1709283600000 + i * 1000
                for holder in (document.get("actor") or {}, document):
                    if isinstance(holder.get("user"), dict):
                        holder["user"]["email_addr"] = person
            else:
                document["event"]["id"] = f"bench-{i}"
                document["@timestamp"] = f"2024-03-{1 + i // 86400 % 28:02d}T" \
                                         f"{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
                if isinstance(document.get("user"), dict):
                    document["user"]["email"] = person
            out.write(json.dumps(document) + "\n")


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    """Write (or reuse) the files, run both readers per schema, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="bench-normalised-"))
    data.mkdir(parents=True, exist_ok=True)
    results = {}
    for schema in ("ocsf", "ecs"):
        path = data / f"{schema}-{args.records}.ndjson"
        if not path.exists():
            write_file(schema, args.records, path)
        workspace = Path(tempfile.mkdtemp(prefix=f"ws-{schema}-", dir=data))
        (workspace / "molehunt.toml").write_text('company_domains = ["corp.example"]\n'
                                                 f"threads = {args.threads}\n")
        ingest = _timed([sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace),
                         "ingest", schema, str(path)])
        bare = _timed([sys.executable, "-c", BARE_COPY, str(path),
                       str(data / f"{schema}-bare.parquet"), str(args.threads)])
        results[schema] = {
            "records": args.records, "file_mb": round(path.stat().st_size / 2**20, 1),
            "molehunt_seconds": round(ingest, 2),
            "molehunt_records_per_second": round(args.records / ingest),
            "duckdb_seconds": round(bare, 2),
            "duckdb_records_per_second": round(args.records / bare),
            "molehunt_over_duckdb_time": round(ingest / bare, 1),
        }
    print(json.dumps({"benchmark": "normalised_ingest", "threads": args.threads,
                      "cpus": os.cpu_count(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
