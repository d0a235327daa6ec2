"""Scenario test: the sequence detector sees staged insider cases complete in order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pytest

from detect_helpers import caught, insiders, run, window
from molehunt.detectors.sequence import Sequence
from molehunt.errors import DetectorError


def test_catches_the_staged_c2_and_c3_insiders(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(Sequence(), workspace)
    staged = [i for i in insiders(org) if i["scenario"] in ("C2", "C3")]
    assert staged
    for insider in staged:
        assert caught(found, insider, top=2), insider


def test_a_sequence_completes_once_and_only_in_order(detect_org: Any) -> None:
    workspace, _ = detect_org
    store, full = window(workspace)
    try:
        u = full.user_day
        one = u.filter(u.user_id == u.user_id.min().as_scalar())
        days = sorted(r["day"] for r in one.select("day").to_pyarrow().to_pylist())[:40]
        a_day, b_day = days[5], days[10]

        def step(day: dt.date) -> Any:
            return ibis.ifelse(one.day == day, 1, 0)

        forward = full.cut(days[0], days[-1])
        forward.user_day = one.mutate(a_col=step(a_day), b_col=step(b_day))
        detector = Sequence(within_days=30, sequences={"ab": [0.5, ["a_col", "b_col"]]})
        rows = detector.score(forward).to_pandas()
        assert [d.date() if hasattr(d, "date") else d for d in rows.day] == [b_day]
        # both steps are new, but the person has no earlier history to be new against:
        # the score is the weight's floor share (0.2)
        assert rows.score.iloc[0] == pytest.approx(0.1)
        backward = full.cut(days[0], days[-1])
        backward.user_day = one.mutate(a_col=step(b_day), b_col=step(a_day))
        assert detector.score(backward).count().execute() == 0
    finally:
        store.close()


def test_bad_sequences_are_one_clear_error() -> None:
    with pytest.raises(DetectorError, match="expected"):
        Sequence(sequences={"x": [0.5, ["only_one_step"]]})
