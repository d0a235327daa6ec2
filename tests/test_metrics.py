"""The §7 metrics on hand-made scores whose answers are worked out by hand."""

from __future__ import annotations

import datetime as dt

from molehunt.evaluate.metrics import (
    Insider,
    alert_load,
    benign_ranking,
    cumulative_recall,
    detection_day,
    detection_day_alone,
    lookalike_days_in_top,
    recall_at_budget,
    roc_pr_auc,
)

D = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(20)]
POPULATION = dict.fromkeys(D, 100)  # 1 % = one person a day


def test_detection_needs_the_top_of_the_day_within_the_grace_period() -> None:
    insider = Insider("bad", "C1", D[2], D[4], frozenset({D[2], D[3]}))
    scores = {D[2]: {"bad": 5.0, "x": 9.0}, D[3]: {"bad": 9.0, "x": 5.0}}
    assert detection_day(insider, scores, POPULATION, 0.01) == D[3]
    assert detection_day(insider, scores, POPULATION, 0.02) == D[2]
    late = {D[11]: {"bad": 9.0}}
    assert detection_day(insider, late, POPULATION, 0.01) == D[11]  # last day + 7
    assert detection_day(insider, {D[12]: {"bad": 9.0}}, POPULATION, 0.01) is None
    assert detection_day(insider, {D[2]: {"bad": 9.0}}, POPULATION, 0.01, floor=10) is None
    result = recall_at_budget([insider], scores, POPULATION, 0.01)
    assert result["recall"] == 1.0 and result["median_days_to_detect"] == 1.0


def test_cumulative_recall() -> None:
    insider = Insider("bad", "C1", D[0], D[1], frozenset({D[0], D[1]}))
    # day 0: rank 1; day 1: rank 30 (29 people above)
    scores = {D[0]: {"bad": 9.0}, D[1]: {"bad": 1.0, **{f"u{i}": 2.0 for i in range(29)}}}
    # b=25: 1/2, b=50: 2/2 → 1.5
    assert cumulative_recall([insider], scores, 50) == 1.5


def test_auc_alert_load_and_lookalikes() -> None:
    assert roc_pr_auc({"a": 1.0, "b": 1.0}, {"a"}, {"b"}) == (0.5, 1.0)
    assert alert_load([("x", D[0]), ("bad", D[0])], {"x", "y"}, 10) == 50.0
    scores = {D[0]: {"look": 9.0, "x": 1.0}, D[1]: {"look": 9.0}, D[2]: {"x": 9.0}}
    assert lookalike_days_in_top({"look": {"late_worker"}}, scores, POPULATION, 0.01) == {
        "look": 2}


def test_time_to_detect_alone_leaves_other_insiders_out_of_the_ranking() -> None:
    """Two insiders on one day with one place: the second is caught only among benign
    people, and benign people still hold places against it."""
    first = Insider("first", "C1", D[2], D[3])
    second = Insider("second", "C5", D[2], D[3])
    scores = {D[2]: {"first": 9.0, "second": 8.0, "x": 1.0},
              D[3]: {"first": 9.0, "second": 8.0, "x": 8.5}}
    involved = {"first", "second"}
    result = recall_at_budget([first, second], scores, POPULATION, 0.01,
                              benign=benign_ranking(scores, involved))
    rows = {r["user_id"]: r for r in result["insiders"]}  # type: ignore[attr-defined]
    assert rows["second"]["days_to_detect"] is None
    assert rows["second"]["days_to_detect_alone"] == 0
    assert result["recall"] == 0.5 and result["recall_alone"] == 1.0
    # on day 3 a benign person outranks it: that place is not given back
    later = Insider("second", "C5", D[3], D[3])
    assert detection_day_alone(later, scores, benign_ranking(scores, involved), POPULATION,
                               0.01) is None


def test_time_to_detect_also_counts_from_the_first_logged_trace() -> None:
    """A profile that cannot log a scenario's first acts shows its harm later: the second
    clock starts at that trace, and a detection before it (from context) counts 0."""
    late_trace = Insider("bad", "C1", D[2], D[9], first_trace=D[5])
    early = Insider("early", "C1", D[2], D[9], first_trace=D[5])
    unknown = Insider("plain", "C1", D[2], D[9])  # no labels: the scenario's start
    scores = {D[6]: {"bad": 9.0}, D[3]: {"early": 9.0}, D[4]: {"plain": 9.0}}
    result = recall_at_budget([late_trace, early, unknown], scores, POPULATION, 0.01)
    rows = {r["user_id"]: r for r in result["insiders"]}  # type: ignore[union-attr]
    assert (rows["bad"]["days_to_detect"], rows["bad"]["days_from_trace"]) == (4, 1)
    assert (rows["early"]["days_to_detect"], rows["early"]["days_from_trace"]) == (1, 0)
    assert (rows["plain"]["days_to_detect"], rows["plain"]["days_from_trace"]) == (2, 2)
    assert result["median_days_to_detect"] == 2.0 and result["median_days_from_trace"] == 1.0
