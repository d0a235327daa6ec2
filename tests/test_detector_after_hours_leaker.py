"""Scenario test: after_hours_leaker catches the simulated C1 insider and little else."""

from __future__ import annotations

from typing import Any

from detect_helpers import caught, insiders, run
from molehunt.detectors.after_hours_leaker import AfterHoursLeaker


def test_catches_c1_insider_among_the_top(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(AfterHoursLeaker(), workspace)
    wanted = [i for i in insiders(org) if i["scenario"] == "C1"]
    assert wanted, "the test organisation has a C1 insider"
    for insider in wanted:
        assert caught(found, insider, top=2), f"{insider['user']} not in the day's top 2"


def test_rarely_scores_high_for_others(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(AfterHoursLeaker(), workspace)
    involved = {i["user"] for i in insiders(org)}
    others = found[~found.user_id.isin(involved)]
    people = others[others.score >= 0.8].user_id.nunique()
    assert people <= 3, f"{people} people without a scenario score 0.8 or more"
