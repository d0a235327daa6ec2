"""Scenario test: the unsupervised baseline ranks an insider's unusual days at the top."""

from __future__ import annotations

from typing import Any

import pytest

from detect_helpers import caught, insiders, run
from molehunt.detectors.peer_anomaly import PeerAnomaly, _average_path


def test_an_insider_is_the_most_unusual_person_of_a_day(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(PeerAnomaly(), workspace)
    public = [i for i in insiders(org) if i["scenario"].startswith("C")]
    assert any(caught(found, i, top=1) for i in public)


def test_findings_are_rare_and_explained(detect_org: Any) -> None:
    workspace, _ = detect_org
    found = run(PeerAnomaly(), workspace)
    from detect_helpers import window

    store, full = window(workspace)
    try:
        person_days = int(full.user_day.count().execute())
    finally:
        store.close()
    # scores are tail levels of everyone's days: a finding is a day in the top ~5 %, a
    # strong one in the top ~0.2 % ("a baseline that flags everyone explains nothing")
    assert len(found) <= 0.06 * person_days
    assert (found.score >= 0.9).sum() <= 0.005 * person_days
    measures = {r["feature"] for reasons in found.reasons for r in reasons}
    assert measures - {"isolation_forest", "unusual_days_recent", "unusual_day_overall"}, (
        "reasons name the measures that deviate")


def test_forest_is_compiled_into_the_query(detect_org: Any) -> None:
    workspace, _ = detect_org
    from detect_helpers import slice_of, window

    store, full = window(workspace)
    try:
        detector = PeerAnomaly(trees=3).fit(slice_of(full, 60))
        assert len(detector.forest_) == 3
        assert detector.samples_ > 0
        assert _average_path(2) == 1.0 and _average_path(1) == 0.0
    finally:
        store.close()


def _history(order: int = 1) -> Any:
    """A synthetic window: 12 people with quiet days, one with a burst on the last days."""
    import datetime as dt

    from detect_helpers import synthetic_window

    rows = []
    start = dt.date(2010, 1, 4)
    for person in range(12):
        for offset in range(70):
            burst = person == 0 and offset >= 67
            rows.append({"user_id": f"U{person:02d}", "day": start + dt.timedelta(days=offset),
                         "events_out_1d": 3 + (offset + person) % 4,
                         "device_connects_1d": 9 if burst else (offset * person) % 2,
                         "visits_job_board_1d": 12 if burst else 0,
                         "hosts_1d": 1})
    return synthetic_window(rows[::order])


def test_the_same_rows_in_any_order_give_the_same_findings() -> None:
    # issue 20: the model must not depend on the order the engine returns rows in
    def rows(order: int) -> list[tuple[Any, ...]]:
        window = _history(order)
        found = PeerAnomaly(min_score=0.1, trees=3).fit(window).score(window).to_pandas()
        return sorted((r.user_id, str(r.day), r.score, str(r.reasons))
                      for r in found.itertuples())

    first = rows(1)
    assert first, "the burst is found"
    assert first == rows(-1)


def test_a_burst_scores_and_names_its_measures() -> None:
    window = _history()
    found = PeerAnomaly(min_score=0.1).fit(window).score(window).to_pandas()
    best = found.sort_values("score").iloc[-1]
    assert best.user_id == "U00"
    named = {r["feature"] for r in best.reasons}
    assert {"device_connects_1d", "visits_job_board_1d"} <= named


def _one_fact_or_three(last: dict[str, int]) -> Any:
    """12 people with varied quiet days; on the last day U00 has ``last`` as its counts."""
    import datetime as dt

    from detect_helpers import synthetic_window

    measures = ("hosts_1d", "hosts_other_user_1d", "logons_other_user_host_1d",
                "events_other_user_host_1d", "device_connects_1d", "visits_job_board_1d",
                "emails_personal_sent_1d")
    rows = []
    start = dt.date(2010, 1, 4)
    for person in range(12):
        for offset in range(70):
            row: dict[str, Any] = {"user_id": f"U{person:02d}",
                                   "day": start + dt.timedelta(days=offset)}
            for index, m in enumerate(measures):
                row[m] = (offset * (person + 1) + index) % 3 // 2
            if person == 0 and offset == 69:
                row.update(last)
            rows.append(row)
    return synthetic_window(rows)


def test_one_behaviour_measured_several_ways_counts_once() -> None:
    # a day at other people's machines is a host, a host of another user, logons and events
    # there: four measures of one fact. Three different behaviours at once (media, job
    # boards, personal mail) are what breadth means, and must outrank it.
    def last_day_score(last: dict[str, int]) -> float:
        window = _one_fact_or_three(last)
        found = PeerAnomaly(min_score=0.0).fit(window).score(window).to_pandas()
        mine = found[(found.user_id == "U00") & (found.day == found.day.max())]
        return float(mine.score.iloc[0]) if len(mine) else 0.0

    one_fact = last_day_score({"hosts_1d": 2, "hosts_other_user_1d": 2,
                               "logons_other_user_host_1d": 2,
                               "events_other_user_host_1d": 2})
    three = last_day_score({"device_connects_1d": 2, "visits_job_board_1d": 2,
                            "emails_personal_sent_1d": 2})
    assert three > one_fact + 0.2
    alone = last_day_score({"hosts_other_user_1d": 2})
    assert one_fact == pytest.approx(alone, abs=0.05), "the other three add nothing new"


def test_measures_the_deployment_cannot_see_are_left_out() -> None:
    window = _history()
    window.observations = frozenset({"logon", "web_visit", "email_sent"})
    detector = PeerAnomaly(min_score=0.1).fit(window)
    assert "device_connects" not in detector.knots_
    found = detector.score(window).to_pandas()
    named = {r["feature"] for reasons in found.reasons for r in reasons}
    assert "device_connects_1d" not in named
    assert "visits_job_board_1d" in named


@pytest.mark.spark
def test_spark_and_duckdb_agree_where_it_finds_something(detect_org: Any) -> None:
    # the conformance suite's one-week slice leaves no person enough history to be judged
    pytest.importorskip("pyspark")
    import copy

    from detect_helpers import slice_of, window

    workspace, _ = detect_org
    duck_store, duck = window(workspace)
    spark_store, spark = window(workspace, "spark")
    try:
        params = {"history_days": 10, "min_history": 5, "min_score": 0.3,
                  "measures": ("events_out", "hosts", "emails_external_sent",
                               "visits_job_board", "events_after_hours")}
        detector = PeerAnomaly(**params).fit(slice_of(duck, 21))
        twin = copy.deepcopy(detector)
        found = _rows(detector.score(slice_of(duck, 21)))
        assert found, "the slice has findings to compare"
        assert found == _rows(twin.score(slice_of(spark, 21)))
    finally:
        duck_store.close()
        spark_store.close()


def _rows(table: Any) -> list[tuple[Any, ...]]:
    frame = table.to_pandas()
    return sorted((r.user_id, str(r.day)[:10], round(r.score, 6),
                   tuple(sorted((x["feature"], round(x["weight"], 6), x["text"])
                                for x in r.reasons))) for r in frame.itertuples())
