"""Scenario test: outside_work catches S4 and S1's intermediaries, not market staff or declared
consultants."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any

import ibis
import pandas as pd
import pytest

from detect_helpers import (
    caught,
    insiders,
    outbound_table,
    run,
    synthetic_window,
    with_dates,
)
from molehunt.detectors.base import Window
from molehunt.detectors.outside_work import OutsideWork

START = dt.date(2011, 1, 3)  # a Monday



def test_catches_s4_and_s1_on_theirwith_dates(slow_org: Any) -> None:
    workspace, org = slow_org
    found = with_dates(run(OutsideWork(), workspace))
    wanted = [i for i in insiders(org) if i["scenario"] in {"S1", "S4"}]
    assert {i["scenario"] for i in wanted} == {"S1", "S4"}
    for insider in wanted:
        assert caught(found, insider, top=2), f"{insider['user']} not in the day's top 2"
        mine = found[found.user_id == insider["user"]]
        strong = mine[mine.score >= 0.5]
        assert (min(strong.day) - insider["start"]).days <= 75, f"{insider['user']} found late"
        assert mine.score.max() >= 0.7
        assert all(len(e) > 0 for e in mine.evidence), "the contacts are the evidence"


def test_no_benign_lookalike_reaches_the_insiders(slow_org: Any) -> None:
    workspace, org = slow_org
    found = run(OutsideWork(), workspace)
    with (org / "answers" / "lookalikes.csv").open(newline="") as handle:
        kinds: dict[str, set[str]] = {}
        for r in csv.DictReader(handle):
            kinds.setdefault(r["user"], set()).add(r["kind"])
    involved = {i["user"] for i in insiders(org)}
    flagged = set(found[found.score >= 0.5].user_id)
    assert not flagged - involved, f"flagged without a scenario: {flagged - involved}"
    market = {u for u, k in kinds.items() if "heavy_external_email" in k} - involved
    assert market & set(found.user_id), "market staff browse expert networks (a real test)"
    declared = {u for u, k in kinds.items() if "declared_consultant" in k} - involved
    for user in declared & set(found.user_id):
        mine = found[found.user_id == user]
        texts = [r["text"] for rs in mine.reasons for r in rs]
        assert any("declared" in t for t in texts), "the declaration is named"


def _contacts(user: str, *, weeks: int, mails_from: int, declared: bool = False,
              trip_before: int | None = None, role: str = "Engineer") -> list[dict[str, Any]]:
    """Weekdays over ``weeks`` weeks: a mail to an intermediary every Tuesday from week
    ``mails_from``; a business trip ending ``trip_before`` days before the first mail."""
    rows = []
    first_mail = START + dt.timedelta(weeks=mails_from, days=1)
    for index in range(weeks * 7):
        day = START + dt.timedelta(days=index)
        if day.weekday() >= 5:
            continue
        mail = index // 7 >= mails_from and day.weekday() == 1
        trip = None
        if trip_before is not None and day >= first_mail - dt.timedelta(days=trip_before):
            trip = (day - (first_mail - dt.timedelta(days=trip_before))).days
        rows.append({"user_id": user, "day": day, "emails_to_expert_network_1d": int(mail),
                     "outside_engagement_declared_1d": int(declared),
                     "days_since_travel_1d": trip, "r": role})
    return rows


def _window(rows: list[dict[str, Any]]) -> Window:
    roles = {r["user_id"]: r.pop("r") for r in rows}
    w = synthetic_window(rows, columns=OutsideWork.requires)
    mapping = ibis.literal(None, "string")
    for user, role in roles.items():
        mapping = ibis.ifelse(w.user_day.user_id == user, role, mapping)
    w.user_day = w.user_day.mutate(role=mapping)
    w.events = w.events.mutate(content=ibis.literal(None, "string"))
    w.tables["outbound"] = outbound_table()
    return w


def _peers() -> list[dict[str, Any]]:
    return [r for k in range(8) for r in _contacts(f"P{k}", weeks=40, mails_from=99)]


def _best(rows: list[dict[str, Any]]) -> pd.Series:
    w = _window([*_peers(), *rows])
    found = OutsideWork().fit(w).score(w).to_pandas()
    return found.groupby("user_id").score.max()


def test_regular_contact_is_found_and_a_single_one_is_not() -> None:
    once = [r | {"emails_to_expert_network_1d": int(r["day"] == START + dt.timedelta(days=8))}
            for r in _contacts("ONCE", weeks=40, mails_from=99)]
    best = _best([*_contacts("HABIT", weeks=40, mails_from=20), *once])
    assert best["HABIT"] >= 0.6
    assert "ONCE" not in best


def test_a_declared_engagement_scores_the_contact_down() -> None:
    best = _best([*_contacts("UNDECLARED", weeks=40, mails_from=20),
                  *_contacts("DECLARED", weeks=40, mails_from=20, declared=True)])
    assert best["DECLARED"] < 0.35 < best["UNDECLARED"]


def test_a_role_that_writes_to_intermediaries_is_not_singled_out() -> None:
    # analysts' desks: everyone in the role mails an intermediary every week
    desk = [r for k in range(6)
            for r in _contacts(f"A{k}", weeks=40, mails_from=0, role="Analyst")]
    best = _best([*desk, *_contacts("HABIT", weeks=40, mails_from=20)])
    assert not any(u.startswith("A") for u in best.index)
    assert best["HABIT"] >= 0.6


def test_contact_that_began_after_a_trip_counts_more() -> None:
    best = _best([*_contacts("TRIP", weeks=40, mails_from=20, trip_before=10),
                  *_contacts("HOME", weeks=40, mails_from=20)])
    assert best["TRIP"] > best["HOME"]


@pytest.mark.spark
def test_spark_finds_the_same_contact() -> None:
    pytest.importorskip("pyspark")
    from detect_helpers import on_spark

    rows = [*[r for k in range(3) for r in _contacts(f"P{k}", weeks=30, mails_from=99)],
            *_contacts("TRIP", weeks=30, mails_from=12, trip_before=10),
            *_contacts("DECLARED", weeks=30, mails_from=12, declared=True)]
    w = _window(rows)
    # a Tuesday mail of the traveller to an expert network's subdomain: the evidence
    sent = START + dt.timedelta(weeks=20, days=1)
    w.events = ibis.memtable(pd.DataFrame({
        "event_id": ["e1"], "ts": [pd.Timestamp(sent)], "day": [sent], "user_id": ["TRIP"],
        "host": ["PC1"], "action": ["email_send"], "channel": ["email_external"],
        "target": ["j.reed@mail.glgroup.com"], "domain": ["mail.glgroup.com"],
        "content": [None]}), schema={
        "event_id": "string", "ts": "timestamp", "day": "date", "user_id": "string",
        "host": "string", "action": "string", "channel": "string", "target": "string",
        "domain": "string", "content": "string"})
    duck = OutsideWork().score(w).to_pandas()
    spark = OutsideWork().score(on_spark(w)).to_pandas()
    assert set(duck.user_id) == {"TRIP", "DECLARED"}

    def rows_of(found: pd.DataFrame) -> list[Any]:
        return sorted((u, str(d), s, tuple((r["feature"], round(r["weight"], 6), r["text"])
                                           for r in rs), tuple(e))
                      for u, d, s, rs, e in zip(found.user_id, found.day, found.score,
                                                found.reasons, found.evidence, strict=True))

    assert rows_of(duck) == rows_of(spark)
    assert ["e1"] in [list(e) for e in duck.evidence]


def _reads(user: str, from_week: int) -> list[dict[str, Any]]:
    """Expert-network sites read every Tuesday from week ``from_week`` (no mail)."""
    return [r | {"visits_expert_network_1d": int(r["day"].weekday() == 1
                                                 and (r["day"] - START).days // 7 >= from_week)}
            for r in _contacts(user, weeks=40, mails_from=99)]


def test_lookalike_a_standing_reading_habit_adds_little_day_after_day() -> None:
    # someone who has read expert networks' sites every week for the whole span: each day's
    # finding would otherwise add the same weak score to whatever else the day brings
    w = _window([*_peers(), *_reads("READER", from_week=0)])
    found = with_dates(OutsideWork().fit(w).score(w).to_pandas())
    last = found[found.user_id == "READER"].sort_values("day").iloc[-1]
    assert last.score < 0.15
    assert any("reading habit" in r["text"] for r in last.reasons)
