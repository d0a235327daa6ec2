"""Scenario test: recruiter_network finds each S2 hub, links its accomplices, and no one else."""

from __future__ import annotations

import csv
from typing import Any

from detect_helpers import run
from molehunt.detectors.recruiter_network import RecruiterNetwork


def _groups(org: Any) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    with (org / "answers" / "insiders.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["scenario"] != "S2":
                continue
            name, _, role = row["details"].partition(":")
            group = groups.setdefault(name, {"hub": None, "accomplices": set()})
            if role == "hub":
                group["hub"] = row["user"]
            else:
                group["accomplices"].add(row["user"])
    return groups


def test_hub_found_and_accomplices_linked(slow_org: Any) -> None:
    workspace, org = slow_org
    found = run(RecruiterNetwork(), workspace)
    groups = _groups(org)
    assert groups, "the test organisation has an S2 group"
    for group in groups.values():
        hub = found[found.user_id == group["hub"]]
        assert not hub.empty and hub.score.max() >= 0.7, f"hub {group['hub']} not found"
        linked = {u for users in hub.related_users for u in users}
        share = len(linked & group["accomplices"]) / len(group["accomplices"])
        assert share >= 0.7, f"only {share:.0%} of {group['hub']}'s accomplices linked"
        for accomplice in linked & group["accomplices"]:
            mine = found[found.user_id == accomplice]
            assert any(group["hub"] in users for users in mine.related_users)
            assert mine.score.max() >= 0.6


def test_nobody_outside_the_groups_scores_high(slow_org: Any) -> None:
    workspace, org = slow_org
    found = run(RecruiterNetwork(), workspace)
    members = {u for g in _groups(org).values() for u in {g["hub"], *g["accomplices"]}}
    with (org / "answers" / "lookalikes.csv").open(newline="") as handle:
        lookalikes = {r["user"] for r in csv.DictReader(handle)} - members
    high = set(found[found.score >= 0.5].user_id)
    assert not high & lookalikes, f"benign look-alikes flagged: {high & lookalikes}"
    assert len(high - members) <= 1, f"people outside the groups: {high - members}"
