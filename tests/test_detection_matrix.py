"""The detection matrix's judgement of one cell (benchmarks/detection_matrix.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture(scope="module")
def matrix() -> ModuleType:
    """The benchmark script, imported as a module."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "detection_matrix.py"
    spec = importlib.util.spec_from_file_location("detection_matrix", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _system(days: dict[str, int | None], auc: float = 0.99, high: float = 0.0
            ) -> dict[str, Any]:
    caught = sorted(d for d in days.values() if d is not None)
    middle = len(caught) // 2
    median = (None if not caught else float(caught[middle]) if len(caught) % 2
              else (caught[middle - 1] + caught[middle]) / 2)
    return {"C1-C5": {"insiders": len(days), "recall_at_1pct": len(caught) / len(days),
                      "median_days_to_detect": median,
                      "worst_days_to_detect": max(caught) if caught else None,
                      "roc_auc": auc, "days_to_detect": days},
            "benign_high_per_1000_per_day": high}


def test_speed_is_compared_on_the_insiders_both_systems_catch(matrix: ModuleType) -> None:
    """A forest that catches only the easy insiders on day 0 has the lower median of its
    own; on those same insiders molehunt is as fast, so the cell passes."""
    ours = _system({"a": 0, "b": 0, "c": 2, "d": 3, "e": 5})
    forest = _system({"a": 0, "b": 0, "c": None, "d": None, "e": None}, auc=0.7, high=2.0)
    verdict = matrix.judge("full", {"molehunt": ours, "baseline_isolation_forest": forest})
    median = verdict["checks"]["median_days_to_detect"]
    assert (median["value"], median["forest"]) == (2.0, 0.0)
    assert (median["paired_value"], median["paired_forest"], median["paired_insiders"]) == (
        0.0, 0.0, 2)
    assert median["at_least_forest"] and verdict["passed"]


def test_a_forest_faster_on_the_same_insiders_fails_the_cell(matrix: ModuleType) -> None:
    """Slower than the forest on the insiders both catch: the cell fails on speed."""
    ours = _system({"a": 2, "b": 3, "c": 1, "d": 0})
    forest = _system({"a": 0, "b": 1, "c": None, "d": None}, auc=0.7, high=2.0)
    verdict = matrix.judge("cert-r4.2", {"molehunt": ours,
                                         "baseline_isolation_forest": forest})
    median = verdict["checks"]["median_days_to_detect"]
    assert median["meets_target"] and not median["at_least_forest"]
    assert verdict["passed"] is False


def test_sparse_is_judged_over_the_scenarios_it_can_see(matrix: ModuleType) -> None:
    """sparse has the same targets (evaluate leaves its untraceable scenarios out); a profile
    the issue does not name is measured without a verdict."""
    ours = _system({"a": 0, "b": 9})
    forest = _system({"a": None, "b": None}, auc=0.7, high=2.0)
    systems = {"molehunt": ours, "baseline_isolation_forest": forest}
    assert matrix.judge("sparse", systems)["passed"] is False  # median 4.5 > 3
    assert matrix.judge("enterprise", systems)["passed"] is None


def test_a_deleted_cell_keeps_its_answers_and_results(matrix: ModuleType, tmp_path: Path
                                                      ) -> None:
    """What a failing held-out cell needs to be read again (a few MB) outlives the
    organisation and workspace (GBs) the matrix deletes."""
    results = tmp_path / "ws-competitors" / "results" / "risk"
    results.mkdir(parents=True)
    (results / "part-0.parquet").write_bytes(b"risk rows")
    matrix._keep_small(tmp_path / "ws-competitors" / "results", tmp_path / "results-competitors")
    matrix._keep_small(tmp_path / "org" / "answers", tmp_path / "answers")
    kept = tmp_path / "results-competitors" / "risk" / "part-0.parquet"
    assert kept.read_bytes() == b"risk rows"
    assert not (tmp_path / "answers").exists()


def test_sparse_speed_counts_from_the_first_logged_trace(matrix: ModuleType) -> None:
    """sparse cannot log a C1's first nights with a drive: its speed counts from the first
    trace of the harm in its logs; a profile that logs the first acts keeps the start."""
    ours = _system({"a": 0, "b": 9, "c": 10})
    ours["C1-C5"].update(days_from_trace={"a": 0, "b": 1, "c": 0},
                         median_days_from_trace=0.0)
    forest = _system({"a": None, "b": 9, "c": None}, auc=0.7, high=2.0)
    forest["C1-C5"].update(days_from_trace={"a": None, "b": 1, "c": None},
                           median_days_from_trace=1.0)
    systems = {"molehunt": ours, "baseline_isolation_forest": forest}
    sparse = matrix.judge("sparse", systems)
    median = sparse["checks"]["median_days_to_detect"]
    assert (median["value"], median["clock"], median["paired_value"]) == (0.0, "first trace", 1.0)
    assert sparse["passed"]
    full = matrix.judge("full", systems)["checks"]["median_days_to_detect"]
    assert (full["value"], full["clock"], full["meets_target"]) == (9.0, "scenario start", False)
