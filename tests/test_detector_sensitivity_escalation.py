"""Scenario test: sensitivity_escalation finds the climbing S1/S4 insiders, not a team's project."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from detect_helpers import caught, insiders, outbound_table, run, with_dates
from detect_helpers import lookalikes as lookalike_users
from molehunt.detectors.base import Window
from molehunt.detectors.sensitivity_escalation import SensitivityEscalation


def test_catches_an_escalating_insider(slow_org: Any) -> None:
    workspace, org = slow_org
    found = with_dates(run(SensitivityEscalation(), workspace))
    wanted = [i for i in insiders(org) if i["scenario"] in {"S1", "S4"}]
    assert wanted, "the test organisation has S1 and S4 insiders"
    hits = [i for i in wanted if caught(found, i, top=2)]
    assert hits, "no S1/S4 insider in the day's top 2"
    for insider in hits:
        mine = found[found.user_id == insider["user"]]
        assert all(len(e) > 0 for e in mine.evidence), "what left is the evidence"
        assert "climbed" in mine.reasons.iloc[-1][0]["text"]


def test_no_benign_lookalike_and_few_others(slow_org: Any) -> None:
    workspace, org = slow_org
    found = run(SensitivityEscalation(), workspace)
    lookalikes = lookalike_users(org)
    involved = {i["user"] for i in insiders(org)}
    flagged = set(found[found.score >= 0.5].user_id)
    assert not flagged & (lookalikes - involved), "a benign look-alike was flagged"
    assert len(flagged - involved) <= 1, f"people without a scenario: {flagged - involved}"


START = dt.date(2011, 1, 3)
DAYS = 330


def _person(user: str, team: str, low: int, high: int, role: str = "Engineer",
            every: int = 3) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Working days of one person (user_day rows) and what they sent outside (outbound
    rows): every ``every``-th working day, a document whose level goes from ``low`` to
    ``high`` in equal steps over the period."""
    days, sent = [], []
    for offset in range(DAYS):
        day = START + dt.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        days.append({"user_id": user, "day": day, "role": role, "team": team,
                     "documents_read_1d": 10, "documents_read_secret_1d": 1,
                     "emails_to_expert_network_1d": 0, "visits_expert_network_1d": 0})
        if len(days) % every == 0:
            level = low + int((high - low + 1) * offset / DAYS)
            sent.append({"user_id": user, "day": day, "channel": "email_external",
                         "sensitivity": min(level, high), "doc_id": f"{user}-{offset}",
                         "events": 1})
    return days, sent


def _window(people: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> Window:
    user_day = ibis.memtable(pd.DataFrame([r for days, _ in people for r in days]))
    events = ibis.memtable(pa.table({
        "event_id": pa.array([], pa.string()), "user_id": pa.array([], pa.string()),
        "day": pa.array([], pa.date32()), "channel": pa.array([], pa.string()),
        "action": pa.array([], pa.string()), "content": pa.array([], pa.string()),
        "doc_id": pa.array([], pa.string())}))
    empty = ibis.memtable(pd.DataFrame({"user_id": pd.Series([], dtype="object")}))
    return Window(start=START, end=START + dt.timedelta(days=DAYS - 1), user_day=user_day,
                  events=events, directory=empty, hr_events=empty,
                  tables={"outbound": outbound_table([r for _, sent in people for r in sent])})


def _org() -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Engineers who send internal material out now and then, and a sales team that sends
    confidential material to customers every week, level steady."""
    people = [_person(f"E{team}{n}", f"Team {team}", 1, 1, every=9)
              for team in "ABC" for n in range(5)]
    people += [_person(f"S{n}", "Sales", 2, 3, role="Sales", every=2) for n in range(4)]
    # the sales level is steady: every send at 2 or 3 alternating, no trend
    for _, sent in people[-4:]:
        for number, row in enumerate(sent):
            row["sensitivity"] = 2 + number % 2
    return people


def test_a_team_whose_new_project_raises_the_level_is_not_flagged() -> None:
    """The look-alike: a whole team starts a partner project and what it sends out climbs
    from internal to secret together; a role that always sends confidential material."""
    people = _org() + [_person(f"P{n}", "Team P", 1, 3) for n in range(5)]
    window = _window(people)
    found = SensitivityEscalation().fit(window).score(window).to_pandas()
    assert found.empty or found.score.max() < 0.4, found.groupby("user_id").score.max()


def test_one_person_climbing_alone_is_flagged() -> None:
    """The same climb by one person of a team that does not share it stands out."""
    people = [*_org(), _person("LONE", "Team A", 1, 3)]
    window = _window(people)
    found = SensitivityEscalation().fit(window).score(window).to_pandas()
    best = found.groupby("user_id").score.max()
    assert best.get("LONE", 0) >= 0.6, best
    assert set(best[best >= 0.4].index) <= {"LONE"}, best
