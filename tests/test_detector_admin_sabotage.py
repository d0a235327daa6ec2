"""Scenario test: admin_sabotage catches the simulated C3 insider and little else."""

from __future__ import annotations

from typing import Any

from detect_helpers import caught, insiders, run
from molehunt.detectors.admin_sabotage import AdminSabotage


def test_catches_c3_insider_among_the_top(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(AdminSabotage(), workspace)
    wanted = [i for i in insiders(org) if i["scenario"] == "C3"]
    assert wanted, "the test organisation has a C3 insider"
    for insider in wanted:
        assert caught(found, insider, top=2), f"{insider['user']} not in the day's top 2"


def test_rarely_scores_high_for_others(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(AdminSabotage(), workspace)
    involved = {i["user"] for i in insiders(org)}
    others = found[~found.user_id.isin(involved)]
    people = others[others.score >= 0.8].user_id.nunique()
    assert people <= 3, f"{people} people without a scenario score 0.8 or more"
