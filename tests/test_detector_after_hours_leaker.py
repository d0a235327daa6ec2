"""Scenario test: after_hours_leaker catches the simulated C1 insider and little else."""

from __future__ import annotations

import datetime as dt
from typing import Any

from detect_helpers import caught, insiders, run, synthetic_window
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


def _late_night(files: int, history: int = 80, plugged_in_at_night: bool = True,
                late_worker: bool = False, first_drive_ever: bool = True) -> float:
    """Score of a late night (after-hours activity 7 SDs above usual, or for a
    ``late_worker`` who logs on off hours every day, nothing unusual) on which a device new
    to the person is plugged in (off hours, or by day), with ``files`` copied to it, after
    ``history`` ordinary days; the device is the person's ``first_drive_ever`` or one used
    before the history shown (new only in that it was unused for months)."""
    start = dt.date(2024, 1, 1)
    days = [{"user_id": "t", "day": start + dt.timedelta(days=n), "days_observed_1d": n + 1,
             "days_since_travel_1d": None, "logons_off_hours_1d": 1 if late_worker else 0}
            for n in range(history)]
    days[-1].update(logons_off_hours_1d=2, events_after_hours_1d=30,
                    events_after_hours_z_self_90d=0.5 if late_worker else 7.0,
                    device_first_use_1d=1 if first_drive_ever else 0,
                    device_connects_1d=1,
                    device_connects_off_hours_1d=1 if plugged_in_at_night else 0,
                    files_to_removable_1d=files)
    window = synthetic_window(days, columns=AfterHoursLeaker.requires)
    found = AfterHoursLeaker().fit(window).score(window).to_pandas()
    return float(found.score.max()) if len(found) else 0.0


def test_lookalike_late_night_with_a_device_but_nothing_copied_stays_low() -> None:
    # a traveller or late worker plugging in a device not used for months without copying
    # anything: one weak signal and a late night are not the scenario's conjunction
    assert _late_night(files=0, first_drive_ever=False) < 0.2
    assert _late_night(files=6, first_drive_ever=False) >= 0.7


def test_a_first_drive_ever_on_an_unusual_night_is_the_conjunction_without_a_file_row() -> None:
    # file logs miss copies to drives (none of CERT r4.2's scenario-1 drives has a file row,
    # though the release has a file log): the person's first drive ever, plugged in on a
    # night unusual for them, is the night's second signal with or without a row
    assert _late_night(files=0) >= 0.5
    # ... but a late worker's ordinary night with it stays one weak signal
    assert _late_night(files=0, late_worker=True) < 0.2


def test_lookalike_a_first_device_in_the_first_weeks_is_not_yet_new() -> None:
    # six weeks into a person's history every device is a first: a late night with files
    # copied is one signal then; the same night after months of history is the scenario
    assert _late_night(files=4, history=40) < 0.2
    assert _late_night(files=4, history=80) >= 0.7


def test_lookalike_a_first_device_used_by_day_is_not_the_nights_second_signal() -> None:
    # someone with an evening session who, the same day, plugged a new drive in at the office
    # and copied a few files: two separate habits, not the night's work on a new drive
    assert _late_night(files=4, plugged_in_at_night=False) < 0.2
    assert _late_night(files=4, plugged_in_at_night=True) >= 0.7


def test_a_late_workers_night_is_unusual_by_what_went_to_a_new_drive() -> None:
    # someone who works late every day copies files to a drive they never used, off hours:
    # their after-hours volume is ordinary, the night's work is not
    assert _late_night(files=6, late_worker=True) >= 0.7
    # their usual late night with a new device and nothing copied, or a drive used by day
    assert _late_night(files=0, late_worker=True) < 0.2
    assert _late_night(files=6, late_worker=True, plugged_in_at_night=False) < 0.2


def _night_leak(pasted_before: bool) -> float:
    """Score of a late worker's ordinary night (off-hours logons every day) on which
    something went out off hours to a paste or leak site; ``pasted_before``: they used such
    sites now and then in the months before."""
    start = dt.date(2024, 1, 1)
    days = [{"user_id": "w", "day": start + dt.timedelta(days=n), "days_observed_1d": n + 1,
             "days_since_travel_1d": None, "logons_off_hours_1d": 1,
             "uploads_paste_leak_1d": 1 if pasted_before and n % 20 == 5 else 0}
            for n in range(100)]
    days[-1].update(logons_off_hours_1d=2, events_after_hours_z_self_90d=0.5,
                    uploads_paste_leak_1d=1, events_out_off_hours_1d=1)
    window = synthetic_window(days, columns=AfterHoursLeaker.requires)
    window.observations = frozenset({"web_direction", "removable_files", "removable_connect",
                                     "logon"})
    found = AfterHoursLeaker().fit(window).score(window).to_pandas()
    found = found[found.day == found.day.max()]
    return float(found.score.max()) if len(found) else 0.0


def test_a_late_workers_night_is_unusual_when_something_goes_to_a_new_leak_site() -> None:
    assert _night_leak(pasted_before=False) >= 0.7
    # a developer who pastes now and then, late as usual: one signal
    assert _night_leak(pasted_before=True) < 0.2


def _late_workers_pair_night(drive: bool, leak_site: bool) -> float:
    """Score of a late worker's ordinary night where uploads are not logged but copies are
    (CERT r4.2): a drive new to them connected off hours with nothing copied to it and/or a
    first visit to a leak site in that session."""
    start = dt.date(2024, 1, 1)
    days = [{"user_id": "w", "day": start + dt.timedelta(days=n), "days_observed_1d": n + 1,
             "days_since_travel_1d": None, "logons_off_hours_1d": 1}
            for n in range(100)]
    days[-1].update(logons_off_hours_1d=2, events_after_hours_z_self_90d=0.5)
    if drive:
        days[-1].update(device_first_use_1d=1, device_connects_1d=1,
                        device_connects_off_hours_1d=1)
    if leak_site:
        days[-1].update(visits_paste_leak_1d=2, leak_sites_first_seen_1d=1)
    window = synthetic_window(days, columns=AfterHoursLeaker.requires)
    window.observations = frozenset({"removable_connect", "removable_files", "logon"})
    found = AfterHoursLeaker().fit(window).score(window).to_pandas()
    found = found[found.day == found.day.max()]
    return float(found.score.max()) if len(found) else 0.0


def test_a_late_workers_night_with_a_new_drive_and_a_new_leak_site_is_unusual() -> None:
    # CERT r4.2's own scenario-1 nights: a first drive with no file row and a first visit
    # to a leak site, in an off-hours session of someone who often works late
    assert _late_workers_pair_night(drive=True, leak_site=True) >= 0.7
    # either act alone, on a late worker's usual night, is one signal
    assert _late_workers_pair_night(drive=True, leak_site=False) < 0.2
    assert _late_workers_pair_night(drive=False, leak_site=True) < 0.3


def test_without_a_removable_media_log_a_first_night_with_a_leak_is_two_signals() -> None:
    # a deployment with logons, a proxy and mail only (telemetry `sparse`): the device
    # columns are null (cannot be seen); the night and the leak are still two signals
    start = dt.date(2024, 1, 1)
    unseen = {"device_first_use_1d": None, "device_connects_1d": None,
              "device_connects_off_hours_1d": None, "files_to_removable_1d": None}
    days = [{"user_id": "n", "day": start + dt.timedelta(days=n), "days_observed_1d": n + 1,
             "days_since_travel_1d": None, **unseen} for n in range(100)]
    days[-1].update(logons_off_hours_1d=1, events_after_hours_z_self_90d=2.8,
                    uploads_paste_leak_1d=1, events_out_off_hours_1d=1,
                    leak_sites_first_seen_1d=1)
    window = synthetic_window(days, columns=AfterHoursLeaker.requires)
    window.observations = frozenset({"web_direction", "logon"})
    found = AfterHoursLeaker().fit(window).score(window).to_pandas()
    assert float(found[found.day == found.day.max()].score.max()) >= 0.7
