"""Scenario test: departure_exfiltration catches the simulated C2 insider and little else."""

from __future__ import annotations

import datetime as dt
from typing import Any

from detect_helpers import caught, insiders, run, synthetic_window
from molehunt.detectors.departure_exfiltration import DepartureExfiltration


def test_catches_c2_insider_among_the_top(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(DepartureExfiltration(), workspace)
    wanted = [i for i in insiders(org) if i["scenario"] == "C2"]
    assert wanted, "the test organisation has a C2 insider"
    for insider in wanted:
        assert caught(found, insider, top=2), f"{insider['user']} not in the day's top 2"


def test_rarely_scores_high_for_others(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(DepartureExfiltration(), workspace)
    involved = {i["user"] for i in insiders(org)}
    others = found[~found.user_id.isin(involved)]
    people = others[others.score >= 0.8].user_id.nunique()
    assert people <= 3, f"{people} people without a scenario score 0.8 or more"


def test_without_competitors_configured_a_strong_surge_after_a_job_search_counts() -> None:
    # contact with a competitor cannot be seen without the competitors' domains: C2 must
    # still be found from the rest of its story, an honest leaver's modest surge must not
    assert _leaver(competitor_mail=False, surge_z=9.0, sensitive=0) >= 0.65
    assert _leaver(competitor_mail=False, surge_z=4.0, sensitive=0) < 0.55
    # surges day after day are a campaign, not an honest leaver's one take-home
    assert _leaver(competitor_mail=False, surge_z=4.0, sensitive=0, surge_days=4) >= 0.65


def test_visits_to_a_competitors_site_during_the_search_are_contact_for_a_surge() -> None:
    # where no mail to a competitor is logged, their careers pages visited during the job
    # search are the contact; alone, without a surge, they are what market staff do
    assert _leaver(competitor_mail=False, competitor_visits=True) >= 0.75
    assert _leaver(competitor_mail=False, competitor_visits=True, surge_z=0.0) == 0.0


def _leaver(competitor_mail: bool, surge_z: float = 4.0, sensitive: int = 2,
            surge_days: int = 1, competitor_visits: bool = False) -> float:
    """Score of the day a person who has resigned (leaving in 10 days) and browsed job boards
    copies 8 files to removable media (4 SDs above their usual of 1 a day, 2 of them
    confidential); with ``competitor_mail`` they wrote to a competitor a week before."""
    start = dt.date(2024, 1, 1)
    days = [{"user_id": "r", "day": start + dt.timedelta(days=n), "files_to_removable_1d": 1,
             "files_to_removable_median_self_90d": 1, "visits_job_board_1d": 3,
             "days_to_departure_1d": None} for n in range(60)]
    days[-8]["emails_to_competitor_1d"] = 1 if competitor_mail else 0
    days[-6]["visits_competitor_1d"] = 4 if competitor_visits else 0
    for n in range(1, 12):
        days[-n]["days_to_departure_1d"] = 10 + n
    for n in range(1, surge_days + 1):
        days[-n].update(files_to_removable_1d=8, files_to_removable_z_self_90d=surge_z,
                        files_to_removable_sensitive_1d=sensitive)
    window = synthetic_window(days, columns=DepartureExfiltration.requires)
    found = DepartureExfiltration().fit(window).score(window).to_pandas()
    found = found[found.day == found.day.max()]
    return float(found.score.max()) if len(found) else 0.0


def test_lookalike_honest_leaver_taking_a_few_files_stays_below_medium() -> None:
    # a departure and a job search are what honest leavers have; without contact with a
    # competitor a modest surge stays a low-band finding
    assert _leaver(competitor_mail=False) < 0.55
    assert _leaver(competitor_mail=True) >= 0.75


def _taker(job_search: bool, drive_days: int) -> dict[str, float]:
    """Reason weights and score of the last day for someone who used a drive once a month for
    five months and then on ``drive_days`` of the last 12 active days, 2 files each time
    (never a daily surge), with or without job-board visits in the weeks before."""
    start = dt.date(2024, 1, 1)
    days = [{"user_id": "t", "day": start + dt.timedelta(days=n), "files_to_removable_1d": 0,
             "device_connects_1d": 0, "files_to_removable_median_self_90d": 0,
             "visits_job_board_1d": 3 if job_search and n >= 130 else 0}
            for n in range(160)]
    for n in range(0, 148, 30):
        days[n].update(files_to_removable_1d=2, device_connects_1d=1)
    for n in range(1, 13, 12 // drive_days):
        days[-n].update(files_to_removable_1d=2, device_connects_1d=1,
                        files_to_removable_z_self_90d=2.2)
    window = synthetic_window(days, columns=DepartureExfiltration.requires)
    found = DepartureExfiltration().fit(window).score(window).to_pandas()
    found = found[found.day.dt.date == days[-1]["day"]]
    if not len(found):
        return {"score": 0.0}
    row = found.iloc[0]
    return {"score": float(row.score),
            **{r["feature"]: float(r["weight"]) for r in row.reasons}}


def test_a_drive_used_on_far_more_days_than_usual_after_a_job_search_is_a_surge() -> None:
    # taking that goes on for weeks, a few files at a time: no day is a surge by itself
    taken = _taker(job_search=True, drive_days=4)
    assert taken["removable_days_recent"] > 0 and taken["score"] >= 0.55
    # the same rate with no job search behind it is a new habit, not the scenario
    assert _taker(job_search=False, drive_days=4)["score"] < 0.4
    # two drive days in a fortnight for a monthly user is not a change of rate
    assert _taker(job_search=True, drive_days=2)["score"] == 0.0


def _searcher(before: int, during: int, search_days: int = 3) -> list[tuple[Any, float, str]]:
    """(day, score, reason features) of every finding for someone with ``before`` job-board
    visits on every fourth of 80 active days, then ``during`` a day for ``search_days``
    days and nothing else: no drive, no competitor, no departure."""
    start = dt.date(2024, 1, 1)
    days = [{"user_id": "s", "day": start + dt.timedelta(days=n), "files_to_removable_1d": 0,
             "device_connects_1d": 0, "files_to_removable_median_self_90d": 0,
             "visits_job_board_1d": before if n % 4 == 0 else 0} for n in range(80)]
    days += [{"user_id": "s", "day": start + dt.timedelta(days=80 + n),
              "files_to_removable_1d": 0, "device_connects_1d": 0,
              "files_to_removable_median_self_90d": 0, "visits_job_board_1d": during}
             for n in range(search_days)]
    window = synthetic_window(days, columns=DepartureExfiltration.requires)
    found = DepartureExfiltration().fit(window).score(window).to_pandas()
    return [(row.day, float(row.score), ",".join(r["feature"] for r in row.reasons))
            for row in found.sort_values("day").itertuples()]


def test_a_job_search_new_to_the_person_is_a_lead_on_its_first_days_only() -> None:
    # the first stage where no competitor contact can be seen: a lead to read, never alone
    # an alert, and only on the search's first days (then it is known)
    found = _searcher(before=0, during=6, search_days=5)
    assert [d.date() for d, _, _ in found] == [dt.date(2024, 3, 22), dt.date(2024, 3, 23)]
    assert all(0.3 <= score < 0.55 and "job_search_onset" in features
               for _, score, features in found)
    # a habitual browser's search is an onset only when far beyond their usual ...
    assert _searcher(before=2, during=3) == []
    assert len(_searcher(before=2, during=10)) == 2
    # ... and one day of job boards is a link someone sent
    assert _searcher(before=0, during=9, search_days=1) == []
