"""Scenario test: snooper catches the simulated C4 insider and little else."""

from __future__ import annotations

import datetime as dt
from typing import Any

from detect_helpers import caught, insiders, run, synthetic_window
from molehunt.detectors.snooper import Snooper


def test_catches_c4_insider_among_the_top(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(Snooper(), workspace)
    wanted = [i for i in insiders(org) if i["scenario"] == "C4"]
    assert wanted, "the test organisation has a C4 insider"
    for insider in wanted:
        assert caught(found, insider, top=2), f"{insider['user']} not in the day's top 2"


def test_rarely_scores_high_for_others(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(Snooper(), workspace)
    involved = {i["user"] for i in insiders(org)}
    others = found[~found.user_id.isin(involved)]
    people = others[others.score >= 0.8].user_id.nunique()
    assert people <= 3, f"{people} people without a scenario score 0.8 or more"


def _colleagues_at_their_desks(start: dt.date, count: int
                               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Events and person-days of ``s`` and ``o`` each logging on to their own computer
    (PC-S, PC-O) every day for ``count`` days."""
    events: list[dict[str, Any]] = []
    days: list[dict[str, Any]] = []
    for n in range(count):
        day = start + dt.timedelta(days=n)
        for user, host in (("s", "PC-S"), ("o", "PC-O")):
            events.append({"event_id": f"{user}{n}", "ts": dt.datetime.combine(
                day, dt.time(9)), "day": day, "user_id": user, "host": host,
                "action": "logon", "channel": "logon"})
            days.append({"user_id": user, "day": day})
    return events, days


def _snooping_then_mail() -> dict[dt.date, float]:
    """Scores by day for someone who opens three files on a colleague's computer on day 20
    and mails attachments to a personal address the day after."""
    start = dt.date(2024, 3, 1)
    events, days = _colleagues_at_their_desks(start, 30)
    snoop = start + dt.timedelta(days=20)
    for k in range(3):
        events.append({"event_id": f"x{k}", "ts": dt.datetime.combine(snoop, dt.time(13, k)),
                       "day": snoop, "user_id": "s", "host": "PC-O", "action": "file_open",
                       "channel": "file"})
    mail = next(d for d in days if d["user_id"] == "s" and d["day"] == snoop
                + dt.timedelta(days=1))
    mail.update(emails_personal_sent_1d=1, attachments_out_email_1d=1)
    window = synthetic_window(days, events, columns=Snooper.requires)
    window.observations = frozenset({"file_access", "logon"})
    found = Snooper().fit(window).score(window).to_pandas()
    found = found[found.user_id == "s"]
    return {d.date(): float(s) for d, s in zip(found.day, found.score, strict=True)}


def test_files_from_a_colleagues_computer_mailed_home_the_next_day() -> None:
    scores = _snooping_then_mail()
    snoop, mail = dt.date(2024, 3, 21), dt.date(2024, 3, 22)
    # the snooping day is scored with what was known that day: the mail came later
    assert scores[snoop] < 0.3
    # the mail day completes the story: files opened on a colleague's machine, mailed home
    assert scores[mail] >= 0.6


def _blind_first_day(history_days: int, earlier_visits: int) -> float:
    """Score of a day on which ``s`` works on colleague ``o``'s computer and mails an
    attachment to a personal address, where file opens are not logged (CERT r4.2), after
    ``history_days`` days with ``earlier_visits`` earlier days at ``o``'s computer."""
    start = dt.date(2024, 3, 1)
    events, days = _colleagues_at_their_desks(start, history_days + 1)
    visits = set(range(5, 5 + 3 * earlier_visits, 3)) | {history_days}
    for n in sorted(visits):
        day = start + dt.timedelta(days=n)
        events.append({"event_id": f"v{n}", "ts": dt.datetime.combine(day, dt.time(14)),
                       "day": day, "user_id": "s", "host": "PC-O", "action": "logon",
                       "channel": "logon"})
    last = next(d for d in days if d["user_id"] == "s" and d["day"] == start
                + dt.timedelta(days=history_days))
    last.update(emails_personal_sent_1d=1, attachments_out_email_1d=1)
    window = synthetic_window(days, events, columns=Snooper.requires)
    window.observations = frozenset({"logon"})
    found = Snooper().fit(window).score(window).to_pandas()
    found = found[(found.user_id == "s") & (found.day == found.day.max())]
    return float(found.score.max()) if len(found) else 0.0


def test_blind_first_day_at_a_colleagues_machine_with_mail_home_counts_more() -> None:
    # after 60 days never at another person's machine, the first such day with a mail home
    # is the story's first day; the same day for someone at that machine every few days,
    # or for someone whose history is too short to know "never", counts the mail half
    first = _blind_first_day(history_days=60, earlier_visits=0)
    routine = _blind_first_day(history_days=60, earlier_visits=12)
    unknown = _blind_first_day(history_days=15, earlier_visits=0)
    assert first >= 0.55
    assert routine < first - 0.05 and unknown < first - 0.05
