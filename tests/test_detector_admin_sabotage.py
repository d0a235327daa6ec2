"""Scenario test: admin_sabotage catches the simulated C3 insider and little else."""

from __future__ import annotations

import datetime as dt
from typing import Any

from detect_helpers import caught, insiders, run, synthetic_window
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


def _admin_days(carry: bool, routine_tools: bool = False
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """An administrator (``adm``) who uses removable media on their own computer and logs on
    to one of five colleagues' computers every day, has a performance concern, and downloads
    a hacking tool on the last day (with ``routine_tools`` every tenth day too, as security
    staff do); with ``carry`` the media goes into a colleague's computer."""
    start = dt.date(2024, 1, 1)
    days, events = [], []
    for n in range(60):
        day = start + dt.timedelta(days=n)
        last = n == 59
        days.append({"user_id": "adm", "day": day, "device_connects_1d": 1,
                     "hosts_other_user_1d": 1, "hosts_first_seen_1d": 0,
                     "downloads_hacking_tools_1d": 1 if last or (
                         routine_tools and n % 10 == 0) else 0,
                     "days_since_performance_concern_1d": float(n) if n >= 30 else None,
                     "days_to_departure_1d": None})
        ts = dt.datetime.combine(day, dt.time(10))
        for k in range(5):
            days.append({"user_id": f"col{k}", "day": day})
            events += [{"event_id": f"c{k}-{n}", "ts": ts, "day": day, "user_id": f"col{k}",
                        "host": f"PC-COL{k}", "action": action}
                       for action in ("logon", "file_open")]
        events += [
            {"event_id": f"a{n}", "ts": ts, "day": day, "user_id": "adm", "host": "PC-ADM",
             "action": "logon"},
            {"event_id": f"d{n}", "ts": ts, "day": day, "user_id": "adm",
             "host": f"PC-COL{n % 5}" if carry and last else "PC-ADM",
             "action": "device_connect", "channel": "removable_media"},
            {"event_id": f"o{n}", "ts": ts, "day": day, "user_id": "adm",
             "host": f"PC-COL{n % 5}", "action": "logon"}]
    return days, events


def _last_day_score(carry: bool, routine_tools: bool = False) -> float:
    days, events = _admin_days(carry, routine_tools)
    window = synthetic_window(days, events, columns=AdminSabotage.requires)
    found = AdminSabotage().fit(window).score(window).to_pandas()
    found = found[(found.user_id == "adm") & (found.day == found.day.max())]
    return float(found.score.max()) if len(found) else 0.0


def test_lookalike_it_admin_with_habitual_media_is_not_flagged() -> None:
    # daily removable media and colleagues' machines are this person's routine; the tool
    # stays on their own machine: a tool download after a performance concern stays low
    assert _last_day_score(carry=False) <= AdminSabotage().uncarried_cap
    # someone who downloads tools routinely: a grievance does not make that suspicious
    assert _last_day_score(carry=False, routine_tools=True) < 0.2


def test_tool_carried_to_a_colleagues_machine_scores_high() -> None:
    assert _last_day_score(carry=True) >= 0.8


#: What a deployment with logons, a web proxy (uploads and downloads told apart) and the mail
#: gateway sees (telemetry `sparse`): no endpoint agent, no removable media, no HR feed.
_SPARSE = frozenset({"logon", "email_sent", "email_received", "web_visit", "web_direction",
                     "directory"})


def _tool_to_a_new_computer(observations: frozenset[str]) -> Any:
    """60 quiet days, then a hacking-tool download on a day at a computer new to the person;
    removable media cannot be seen (device column null), HR performance records only when
    ``observations`` has them (a concern 10 days before)."""
    start = dt.date(2024, 1, 1)
    hr = "hr_performance" in observations
    days = [{"user_id": "adm", "day": start + dt.timedelta(days=n), "device_connects_1d": None,
             "downloads_hacking_tools_1d": 1 if n == 59 else 0,
             "hosts_first_seen_1d": 1 if n == 59 else 0,
             "days_since_performance_concern_1d": float(n - 49) if hr and n >= 49 else None,
             "days_to_departure_1d": None} for n in range(60)]
    window = synthetic_window(days, columns=AdminSabotage.requires)
    window.observations = observations
    found = AdminSabotage().fit(window).score(window).to_pandas()
    return found[found.day == found.day.max()].iloc[0]


def test_without_a_removable_media_log_a_new_computer_stands_in_for_the_carry() -> None:
    # sparse: the device column is null (cannot be seen); the tool carried to a computer new
    # to the person is the carry, and the finding says the grievance cannot be seen
    row = _tool_to_a_new_computer(_SPARSE)
    assert "performance_concerns_unseen" in {r["feature"] for r in row.reasons}
    # the same deployment with an HR feed: the grievance behind the carried tool counts
    row = _tool_to_a_new_computer(_SPARSE | {"hr_performance"})
    assert "downloads_hacking_tools_with_grievance" in {r["feature"] for r in row.reasons}
    assert float(row.score) >= 0.85


def test_the_masquerade_counts_for_the_planter_on_a_day_they_are_not_active() -> None:
    """The administrator logs on to the supervisor's computer one morning (the planted tool)
    and is gone the next evening, when the supervisor's account mails 60 people off hours
    from that computer: the day belongs to the planter although they have no activity then
    (sparse: no removable media, so the logon at that computer is what is left of it)."""
    start = dt.date(2024, 1, 1)
    days = [{"user_id": user, "day": start + dt.timedelta(days=n), "device_connects_1d": None}
            for n in range(30) for user in ("adm", "boss") if not (user == "adm" and n == 29)]
    events = []
    for n in range(30):
        day = start + dt.timedelta(days=n)
        events.append({"event_id": f"b{n}", "ts": dt.datetime.combine(day, dt.time(9)),
                       "day": day, "user_id": "boss", "host": "PC-BOSS", "action": "logon"})
        if n < 29:
            events.append({"event_id": f"a{n}", "ts": dt.datetime.combine(day, dt.time(9)),
                           "day": day, "user_id": "adm", "host": "PC-ADM", "action": "logon"})
    planted, mailed = start + dt.timedelta(days=28), start + dt.timedelta(days=29)
    events += [
        {"event_id": "plant", "ts": dt.datetime.combine(planted, dt.time(11)), "day": planted,
         "user_id": "adm", "host": "PC-BOSS", "action": "logon"},
        {"event_id": "mass", "ts": dt.datetime.combine(mailed, dt.time(21)), "day": mailed,
         "user_id": "boss", "host": "PC-BOSS", "action": "email_send",
         "target": ";".join(f"p{k}@corp.example" for k in range(60))}]
    window = synthetic_window(days, events, columns=AdminSabotage.requires)
    window.observations = _SPARSE
    found = AdminSabotage().fit(window).score(window).to_pandas()
    mine = found[(found.user_id == "adm") & (found.day.astype(str) == str(mailed))]
    assert len(mine) == 1 and float(mine.score.iloc[0]) >= 0.8
    # the evidence is the mail and the visit that planted the tool, not the planter's day
    assert set(mine.evidence.iloc[0]) == {"mass", "plant"}
    assert list(mine.related_users.iloc[0]) == ["boss"]
