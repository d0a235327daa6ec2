"""DuckDB and Spark agree on sensitivity_escalation and need_to_know where they find something.

The conformance suite's one-week slice is too short for either to find anything, so this runs
them, with short spans, on a few months of a handful of hand-made people (small for Spark).
"""

from __future__ import annotations

from typing import Any

import pytest

import test_detector_need_to_know as reach
import test_detector_sensitivity_escalation as escalation
from molehunt.detectors.base import Detector, Window
from molehunt.detectors.need_to_know import NeedToKnow
from molehunt.detectors.sensitivity_escalation import SensitivityEscalation


def _rows(frame: Any) -> list[tuple[Any, ...]]:
    return sorted((r.user_id, str(r.day)[:10], round(r.score, 6),
                   tuple(sorted((x["feature"], round(x["weight"], 6), x["text"])
                                for x in r.reasons)), tuple(r.evidence))
                  for r in frame.itertuples(index=False))


def _agree(detector: Detector, window: Window) -> list[tuple[Any, ...]]:
    pytest.importorskip("pyspark")
    import ibis

    from molehunt.store.connect import spark_session

    expression = detector.fit(window).score(window)
    duck = _rows(expression.to_pandas())
    spark = _rows(ibis.pyspark.connect(spark_session()).to_pandas(expression))
    assert duck == spark
    return duck


@pytest.mark.spark
def test_spark_agrees_on_need_to_know() -> None:
    rows = []
    for team in ("Cells A", "Cells B", "Power A"):
        for number in range(3):
            rows += reach._person(f"{team[0]}{team[-1]}{number}", "Engineer", team, 80,
                                  hired=900.0)
    # every hire day known: Ibis hands Spark a memtable through pandas, where a missing one
    # is NaN rather than null (a workspace's Parquet has real nulls)
    rows += reach._person("LONE", "Engineer", "Power A", 80, docs=2, meetings=1, since=40,
                          hired=900.0)
    detector = NeedToKnow(span_days=30, history_days=30, min_history_days=10,
                          min_peer_days=20, quiet_days=10)
    found = _agree(detector, reach._window(rows))
    assert {r[0] for r in found} == {"LONE"}


@pytest.mark.spark
def test_spark_agrees_on_sensitivity_escalation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(escalation, "DAYS", 90)
    people = [escalation._person(f"E{n}", "Team A", 1, 1, every=4) for n in range(3)]
    people += [escalation._person("LONE", "Team A", 1, 3, every=2)]
    detector = SensitivityEscalation(horizon_days=90, recent_days=30, min_sends=5,
                                     quiet_days=10)
    found = _agree(detector, escalation._window(people))
    assert {r[0] for r in found} == {"LONE"}
