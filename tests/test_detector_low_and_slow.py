"""Scenario test: low_and_slow catches the S1 consultant early and no benign look-alike."""

from __future__ import annotations

from typing import Any

from detect_helpers import caught, insiders, run, with_dates
from detect_helpers import lookalikes as lookalike_users
from molehunt.detectors.low_and_slow import LowAndSlow


def test_catches_s1_within_two_months(slow_org: Any) -> None:
    workspace, org = slow_org
    found = with_dates(run(LowAndSlow(), workspace))
    wanted = [i for i in insiders(org) if i["scenario"] == "S1"]
    assert wanted, "the test organisation has an S1 insider"
    for insider in wanted:
        assert caught(found, insider, top=2), f"{insider['user']} not in the day's top 2"
        mine = found[found.user_id == insider["user"]]
        first = min(mine.day)
        assert (first - insider["start"]).days <= 60, f"{insider['user']} found on {first}"
        assert all(len(e) > 0 for e in mine.evidence), "the mails that left are the evidence"


def test_no_benign_lookalike_and_few_others(slow_org: Any) -> None:
    workspace, org = slow_org
    found = run(LowAndSlow(), workspace)
    lookalikes = lookalike_users(org)
    involved = {i["user"] for i in insiders(org)}
    flagged = set(found[found.score >= 0.5].user_id)
    assert not flagged & (lookalikes - involved), "a benign look-alike was flagged"
    assert len(flagged - involved) <= 1, f"people without a scenario: {flagged - involved}"
