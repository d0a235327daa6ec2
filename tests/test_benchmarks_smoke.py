"""The benchmark scripts run end to end on small inputs, so that they cannot rot.

benchmarks/connectors_ingest.py at 200 records per connector: every connector's generated file
is read whole by molehunt (nothing quarantined, nothing a duplicate: each copy of a fixture
record has its own ids) and by the reference reader, and every record layout of the registry
has a case (a new connector without one fails here). Nothing is asserted on the times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from molehunt.sources.base import record_layouts

ROOT = Path(__file__).resolve().parents[1]


def test_connectors_ingest_benchmark_runs_on_every_connector(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # one thread: the machine's cores are shared and 200 records need no more
    finished = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "connectors_ingest.py"), "--records", "200",
         "--threads", "1", "--data", str(tmp_path)],
        capture_output=True, text=True, env=env, check=False, timeout=600)
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    connectors = report["connectors"]
    assert {figures["layout"] for figures in connectors.values()} == {
        layout.name for layout in record_layouts()}
    assert {"m365.purview_csv", "m365.graph_pages", "windows.evtx", "windows.event_xml",
            "okta.api_pages", "proxy.bluecoat"} <= set(connectors)
    for name, figures in connectors.items():
        # Google Workspace activities may hold several events: more records than written
        assert figures["records_read"] >= figures["records_written"] == 200, name
        assert (figures["quarantined"], figures["duplicates"]) == (0, 0), (name, figures)
        assert figures["stored"] > 0, name
        assert figures["stored"] + figures["skipped"] == figures["records_read"], name
        assert figures["bare"]["rows"] == 200, name
        assert figures["molehunt"]["seconds"] > 0 and figures["bare"]["seconds"] > 0
        assert figures["molehunt"]["peak_rss_mb"] > 0
