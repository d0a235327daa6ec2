"""The suite-time benchmark's bookkeeping (benchmarks/suite_time.py), on records of its own."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any


def _benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "suite_time.py"
    spec = importlib.util.spec_from_file_location("suite_time_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(worker: str, test: str, event: str, wall: float, cpu: float) -> dict[str, Any]:
    return {"worker": worker, "test": test, "event": event, "wall": wall, "cpu": cpu}


def test_worker_records_are_totalled_by_file_and_the_controllers_repeats_left_out() -> None:
    rows = [_row("gw0", "tests/a.py::one", "start", 100.0, 1.0),
            _row("main", "tests/a.py::one", "start", 100.1, 0.0),  # xdist's controller
            _row("gw1", "tests/b.py::two", "start", 100.0, 5.0),
            _row("gw0", "tests/a.py::one", "end", 110.0, 4.0),
            _row("main", "tests/a.py::one", "end", 110.1, 0.0),
            _row("gw0", "tests/a.py::three", "start", 110.0, 4.0),
            _row("gw0", "tests/a.py::three", "end", 112.0, 5.0),
            _row("gw1", "tests/b.py::two", "end", 130.0, 25.0)]
    summary = _benchmark().summarise(rows, top=1)
    assert (summary["tests"], summary["worker_wall_seconds"], summary["worker_cpu_seconds"]) == (
        3, 42.0, 24.0)
    assert summary["first_to_last_seconds"] == 30.0
    assert summary["files"] == [{"name": "tests/b.py", "wall": 30.0, "cpu": 20.0, "tests": 1}]
    assert summary["slowest_tests"] == [{"name": "tests/b.py::two", "wall": 30.0, "cpu": 20.0}]
    alone = _benchmark().summarise([r for r in rows if r["worker"] == "gw0"], top=5)
    assert alone["tests"] == 2 and alone["files"][0]["tests"] == 2
