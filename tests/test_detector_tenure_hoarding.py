"""Scenario test: tenure_hoarding flags a job hopper's last haul, not honest or long-serving
people."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pandas as pd
import pytest

from detect_helpers import caught, insiders, run, synthetic_window
from molehunt.detectors.base import Window
from molehunt.detectors.tenure_hoarding import TenureHoarding

START = dt.date(2011, 1, 3)
DAYS = 300


def _date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value  # type: ignore[no-any-return]


def _person(user: str, *, hired: int, reach: float, leaves: int | None,
            haul: int = 0, daily_out: int = 0, every: int = 5,
            haul_levels: tuple[int, ...] = (2, 3, 4)
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A person's days (``hired`` days before the window starts) and what left: ``daily_out``
    sensitive documents every ``every`` days throughout, ``haul`` a day (of sensitivity
    ``haul_levels`` in turn) over the last 8 days before leaving (day index ``leaves``), the
    notice 20 days before it."""
    days, out = [], []
    end = DAYS if leaves is None else leaves
    for index in range(end):
        day = START + dt.timedelta(days=index)
        row: dict[str, Any] = {
            "user_id": user, "day": day,
            "days_since_hire_1d": hired + index,
            # every third day: reach is a steady habit, not a burst
            "documents_read_other_unit_sensitive_1d": reach * 3 if index % 3 == 0 else 0,
            "meetings_closed_other_unit_1d": 0}
        if leaves is not None and index >= leaves - 20:
            row["days_to_departure_1d"] = leaves - index
        days.append(row)
        taken = [2 + k % 3 for k in range(daily_out if index % every == 0 else 0)]
        if leaves is not None and index >= leaves - 8:
            taken += [haul_levels[k % len(haul_levels)] for k in range(haul)]
        for k, level in enumerate(taken):
            out.append({"user_id": user, "day": day, "channel": "removable_media",
                        "sensitivity": level, "doc_id": f"{user}-{index}-{k}", "events": 1})
    return days, out


def _window(people: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> Window:
    days = [d for p, _ in people for d in p]
    out = [o for _, p in people for o in p]
    w = synthetic_window(days, columns=TenureHoarding.requires)
    frame = pd.DataFrame(out, columns=["user_id", "day", "channel", "sensitivity", "doc_id",
                                       "events"])
    w.user_day = w.user_day.mutate(role=ibis.literal("Engineer"))
    w.tables["outbound"] = ibis.memtable(frame, schema={
        "user_id": "string", "day": "date", "channel": "string", "sensitivity": "int8",
        "doc_id": "string", "events": "int64"})
    return w


def _peers() -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    return [_person(f"P{k}", hired=2000 + 100 * k, reach=0.3, leaves=None, daily_out=1)
            for k in range(6)]


def _scores(people: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> pd.DataFrame:
    w = _window([*_peers(), *people])
    return TenureHoarding().fit(w).score(w).to_pandas()


def test_flags_the_haul_of_a_short_tenure_with_wide_reach() -> None:
    found = _scores([_person("HOP", hired=200, reach=3.0, leaves=250, haul=10)])
    mine = found[found.user_id == "HOP"]
    assert not mine.empty
    days = sorted(_date(d) for d in mine.day)
    # found while the haul goes on, before the person has left
    assert days[0] <= START + dt.timedelta(days=250 - 6)
    assert days[-1] < START + dt.timedelta(days=250)
    top = mine.sort_values("score").iloc[-1]
    assert top.score >= 0.85
    features = {r["feature"] for r in top.reasons}
    assert {"sensitive_documents_taken_recent", "days_to_departure_1d", "days_since_hire_1d",
            "reach_other_units_sensitive_tenure"} <= features
    assert set(found.user_id) == {"HOP"}, "the peers' steady trickle is no haul"


def test_honest_leaver_and_long_serving_wide_reader_are_not_flagged() -> None:
    found = _scores([
        # takes home 10 of their own unlabelled or internal files a day before leaving
        _person("CLEAN", hired=300, reach=3.0, leaves=250, haul=10, haul_levels=(0, 1),
                daily_out=1),
        _person("WIDE", hired=5000, reach=4.0, leaves=None, daily_out=2),
        # their work sends sensitive documents out every day, leaving or not
        _person("BUSY", hired=400, reach=3.0, leaves=250, haul=0, daily_out=5, every=1),
    ])
    assert found.empty, found[["user_id", "day", "score"]]


def test_a_long_tenure_and_narrow_reach_lower_the_score() -> None:
    found = _scores([
        _person("HOP", hired=200, reach=3.0, leaves=250, haul=10),
        _person("OLD", hired=4000, reach=0.3, leaves=250, haul=10),
    ])
    best = found.groupby("user_id").score.max()
    assert best["HOP"] > best["OLD"] + 0.05
    assert best["OLD"] >= 0.5, "a haul before leaving still matters"


def test_a_haul_without_a_known_departure_counts_less() -> None:
    hopper = _person("HOP", hired=200, reach=3.0, leaves=250, haul=10)
    unknown = ([{k: v for k, v in d.items() if k != "days_to_departure_1d"} for d in hopper[0]],
               hopper[1])
    with_notice = _scores([hopper]).score.max()
    without = _scores([unknown]).score.max()
    assert without < with_notice


def test_catches_s3_in_the_simulated_organisation(slow_org: Any) -> None:
    workspace, org = slow_org
    found = run(TenureHoarding(), workspace)
    found = found.assign(day=[_date(d) for d in found.day])
    hoppers = [i for i in insiders(org) if i["scenario"] == "S3"]
    if not hoppers:
        pytest.skip("the organisation has no S3 job hopper")
    for hopper in hoppers:
        assert caught(found, hopper, top=2), f"{hopper['user']} not in the day's top 2"
        mine = found[found.user_id == hopper["user"]]
        assert all(len(e) > 0 for e in mine.evidence), "what was taken is the evidence"


@pytest.mark.spark
def test_spark_finds_the_same_haul() -> None:
    pytest.importorskip("pyspark")
    from detect_helpers import on_spark

    people = [*_peers()[:2], _person("HOP", hired=200, reach=3.0, leaves=250, haul=10)]
    w = _window(people)
    w.events = ibis.memtable(pd.DataFrame({
        "event_id": ["e1"], "ts": [pd.Timestamp(START)], "day": [START], "user_id": ["HOP"],
        "host": ["PC1"], "action": ["file_copy"], "channel": ["removable_media"],
        "target": [None], "domain": [None]}), schema={
        "event_id": "string", "ts": "timestamp", "day": "date", "user_id": "string",
        "host": "string", "action": "string", "channel": "string", "target": "string",
        "domain": "string"})
    duck = TenureHoarding().score(w).to_pandas()
    spark = TenureHoarding().score(on_spark(w)).to_pandas()
    assert not duck.empty
    columns = ["user_id", "day", "score"]
    assert duck[columns].sort_values(columns).values.tolist() == spark[columns].sort_values(
        columns).values.tolist()

    def explained(found: pd.DataFrame) -> list[Any]:
        return sorted((u, str(d), tuple((r["feature"], round(r["weight"], 6), r["text"])
                                        for r in rs))
                      for u, d, rs in zip(found.user_id, found.day, found.reasons, strict=True))

    assert explained(duck) == explained(spark)
