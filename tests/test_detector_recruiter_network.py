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


def _transfer_window() -> Any:
    """Ana mails Ben a file twice; Ben passes each on to a personal address the next day.
    Ben is in Ana's team until the 10th, then moves to another department."""
    import dataclasses
    import datetime as dt

    import ibis
    import pandas as pd

    from detect_helpers import synthetic_window

    day = dt.date(2024, 3, 1)

    def on(n: int) -> dt.date:
        return day + dt.timedelta(days=n)

    def mail(n: int, sender: str, channel: str, to: str, file: str) -> dict[str, Any]:
        return {"event_id": f"e{n}{sender}", "ts": pd.Timestamp(on(n)), "day": on(n),
                "user_id": sender, "action": "email_send", "channel": channel, "target": to,
                "n_attachments": 1, "attrs": f'{{"attachments":["{file}(2048)"]}}'}

    events = [mail(5, "ANA", "email_internal", "ben@corp.example", r"C:\\plans\\a.docx"),
              mail(6, "BEN", "webmail", "kin@mail.example", r"C:\\plans\\a.docx"),
              mail(15, "ANA", "email_internal", "ben@corp.example", r"C:\\plans\\b.docx"),
              mail(16, "BEN", "webmail", "kin@mail.example", r"C:\\plans\\b.docx")]
    base = synthetic_window([{"user_id": "ANA", "day": on(0)},
                             {"user_id": "BEN", "day": on(6), "emails_personal_sent_1d": 1},
                             {"user_id": "BEN", "day": on(16), "emails_personal_sent_1d": 1},
                             {"user_id": "BEN", "day": on(20)}])
    directory = pd.DataFrame([
        {"user_id": "ANA", "email": "ana@corp.example", "team": "t1", "department": "d1",
         "valid_from": on(0)},
        {"user_id": "BEN", "email": "ben@corp.example", "team": "t1", "department": "d1",
         "valid_from": on(0)},
        {"user_id": "BEN", "email": "ben@corp.example", "team": "t9", "department": "d9",
         "valid_from": on(10)}])
    documents = pd.DataFrame({"path": [r"C:\plans\a.docx", r"C:\plans\b.docx"],
                              "sensitivity": [2, 2]})
    return dataclasses.replace(base, events=ibis.memtable(pd.DataFrame(events)),
                               directory=ibis.memtable(directory),
                               tables={"documents": ibis.memtable(documents)})


def test_a_transfer_counts_from_its_day() -> None:
    found = RecruiterNetwork().score(_transfer_window()).to_pandas()
    days = sorted(str(d)[:10] for d in found[found.user_id == "BEN"].day)
    # the first file came from Ben's own team (everyday sharing), the second across departments
    assert days == ["2024-03-17"], days
    assert set(found.user_id) == {"ANA", "BEN"}
