"""`molehunt export … .csv` never writes a live spreadsheet formula: log strings that reach
the results (user ids, reason texts, detector names, event ids) are quoted in every table."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from test_cli import _molehunt

#: what an insider can put into a file name, subject or id
FORMULAS = ("=cmd|' /C calc'!A0", "+SUM(1,1)", "-2+3", "@SUM(A1)", "\tHYPERLINK(1)",
            "\r=1")
REASON = pa.struct([("feature", pa.string()), ("observed", pa.float64()),
                    ("expected", pa.float64()), ("weight", pa.float64()),
                    ("text", pa.string())])
DAY = dt.date(2024, 3, 1)


def _reasons(text: str) -> list[dict[str, object]]:
    return [{"feature": "bytes_removable_1d", "observed": 9.0, "expected": -1.5,
             "weight": -0.25, "text": text}]


def _write_results(root: Path) -> None:
    results = root / "results"
    n = len(FORMULAS)
    (results / "risk" / f"day={DAY}").mkdir(parents=True)
    pq.write_table(pa.table({
        "user_id": list(FORMULAS), "day": [DAY] * n, "risk": [-1.0, *[50.0] * (n - 1)],
        "band": list(FORMULAS),
        "reasons": pa.array([_reasons(f) for f in FORMULAS], pa.list_(REASON)),
    }), results / "risk" / f"day={DAY}" / "part-0.parquet")
    (results / "findings" / f"day={DAY}").mkdir(parents=True)
    pq.write_table(pa.table({
        "user_id": list(FORMULAS), "day": [DAY] * n, "detector": list(FORMULAS),
        "detector_version": [1] * n, "score": [-0.5] * n,
        "reasons": pa.array([_reasons(f) for f in FORMULAS], pa.list_(REASON)),
        "evidence": [[f] for f in FORMULAS], "related_users": [[f] for f in FORMULAS],
    }), results / "findings" / f"day={DAY}" / "part-0.parquet")
    pq.write_table(pa.table({
        "alert_id": [f"A{f}" for f in FORMULAS], "user_id": list(FORMULAS),
        "opened_day": [DAY] * n, "last_day": [DAY] * n, "peak_risk": [-3.0] * n,
        "band": ["high"] * n,
        "reasons": pa.array([_reasons(f) for f in FORMULAS], pa.list_(REASON)),
        "detectors": [[f] for f in FORMULAS], "status": list(FORMULAS),
    }), results / "alerts.parquet")
    pq.write_table(pa.table({
        "user_id": list(FORMULAS), "peer_id": list(reversed(FORMULAS)),
        "first_day": [DAY] * n, "kind": list(FORMULAS), "weight": [-1.0] * n,
    }), results / "graph.parquet")


@pytest.mark.parametrize("table", ["risk", "findings", "alerts", "graph"])
def test_no_csv_cell_is_a_formula(tmp_path: Path, table: str) -> None:
    _write_results(tmp_path / "ws")
    out = tmp_path / f"{table}.csv"
    done = _molehunt("export", table, "--out", str(out), workspace=tmp_path / "ws")
    assert done.returncode == 0, done.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    cells = [cell for row in rows[1:] for cell in row]
    live = []
    for cell in cells:
        if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
            try:
                float(cell)  # a number is a number, not a formula
            except ValueError:
                live.append(cell)
    assert live == []
    # the text is still there, quoted the OWASP way
    assert "'=cmd|' /C calc'!A0" in cells
    assert "'\tHYPERLINK(1)" in cells
    # numbers stay numbers
    assert any(cell.startswith("-") and cell[1:].replace(".", "").isdigit() for cell in cells)
