"""Scenario test: layoff_cloud_upload catches the simulated C5 insider and little else."""

from __future__ import annotations

import datetime as dt
from typing import Any

from detect_helpers import (
    caught,
    insiders,
    outbound_table,
    run,
    synthetic_window,
    with_dates,
)
from molehunt.detectors.layoff_cloud_upload import LayoffCloudUpload


def test_catches_c5_insider_among_the_top(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(LayoffCloudUpload(), workspace)
    wanted = [i for i in insiders(org) if i["scenario"] == "C5"]
    assert wanted, "the test organisation has a C5 insider"
    for insider in wanted:
        assert caught(found, insider, top=2), f"{insider['user']} not in the day's top 2"


def test_rarely_scores_high_for_others(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(LayoffCloudUpload(), workspace)
    involved = {i["user"] for i in insiders(org)}
    others = found[~found.user_id.isin(involved)]
    people = others[others.score >= 0.8].user_id.nunique()
    assert people <= 3, f"{people} people without a scenario score 0.8 or more"


def _after_layoff(per_day: int) -> float:
    """Best score of a person who uploaded one item on every 15th day for 150 days, then
    uploads ``per_day`` items on 6 of 15 days within weeks of a layoff in the department."""
    start = dt.date(2024, 1, 1)
    days = [{"user_id": "c", "day": start + dt.timedelta(days=n),
             "uploads_cloud_storage_1d": 1 if n % 15 == 0 else 0,
             "days_since_layoff_in_group_1d": None} for n in range(165)]
    for n in range(150, 165):
        days[n]["days_since_layoff_in_group_1d"] = n - 145
        days[n]["uploads_cloud_storage_1d"] = per_day if n % 5 in (0, 2) else 0
    window = synthetic_window(days, columns=LayoffCloudUpload.requires)
    window.tables["outbound"] = outbound_table()
    found = LayoffCloudUpload().fit(window).score(window).to_pandas()
    return float(found.score.max()) if len(found) else 0.0


def test_lookalike_habitual_uploader_in_a_busy_spell_after_a_layoff_scores_less() -> None:
    # single uploads, as this person always did, only more often: a reduced score that
    # adds up to a lead only if it goes on; more items a day than ever before is the scenario
    routine, more = _after_layoff(per_day=1), _after_layoff(per_day=3)
    assert routine < 0.45
    assert more >= 0.7


def test_lookalike_occasional_uploader_after_a_layoff_is_not_new_to_uploads() -> None:
    # one upload months ago and one a fortnight before the layoff, then single uploads on
    # three days within a fortnight after it: a rare habit, not someone new to cloud storage
    start = dt.date(2024, 1, 1)
    uploads = {30, 130, 150, 154, 161}
    days = [{"user_id": "o", "day": start + dt.timedelta(days=n),
             "uploads_cloud_storage_1d": 1 if n in uploads else 0,
             "days_since_layoff_in_group_1d": n - 140 if n >= 140 else None}
            for n in range(170)]
    window = synthetic_window(days, columns=LayoffCloudUpload.requires)
    window.tables["outbound"] = outbound_table()
    found = with_dates(LayoffCloudUpload().fit(window).score(window).to_pandas())
    after = found[found.day >= start + dt.timedelta(days=140)]
    assert after.empty, after[["day", "score"]]


def _first_upload_after_layoff(outbound: list[dict[str, object]], uploads: int = 1,
                               layoff: bool = True) -> float:
    """Score of a first-ever day of ``uploads`` to cloud storage three weeks after a layoff
    (or with none), on a day whose items leaving the company are ``outbound``."""
    start = dt.date(2024, 1, 1)
    day = start + dt.timedelta(days=140)
    days = [{"user_id": "n", "day": start + dt.timedelta(days=n),
             "uploads_cloud_storage_1d": uploads if n == 140 else 0,
             # the day's feature counts every channel, as the feature store does
             "events_out_sensitive_1d": len(outbound) if n == 140 else 0,
             "days_since_layoff_in_group_1d": n - 119 if n >= 119 and layoff else None}
            for n in range(141)]
    window = synthetic_window(days, columns=LayoffCloudUpload.requires)
    window.tables["outbound"] = outbound_table([r | {"user_id": "n", "day": day}
                                                for r in outbound])
    found = LayoffCloudUpload().fit(window).score(window).to_pandas()
    return float(found.score.max())


def test_lookalike_confidential_prints_are_not_confidential_uploads() -> None:
    # a survivor's first upload of an internal document, on a day they also printed
    # confidential papers: what was uploaded is the evidence, not what else left that day
    printed = [{"channel": "printer", "sensitivity": 2, "doc_id": f"p{k}"} for k in range(3)]
    uploaded = [{"channel": "cloud_storage", "sensitivity": 2, "doc_id": f"u{k}"}
                for k in range(3)]
    plain = _first_upload_after_layoff([])
    assert _first_upload_after_layoff(printed) == plain
    assert _first_upload_after_layoff(uploaded) > plain + 0.05


def _new_service(days_used: int) -> float:
    """Best score of a habitual Dropbox uploader (one upload every other day for 150 days) who
    after a layoff uploads as usual to Dropbox and also to Box, a service new to them, on
    ``days_used`` days."""
    start = dt.date(2024, 1, 1)
    days: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def upload(n: int, domain: str) -> None:
        day = start + dt.timedelta(days=n)
        events.append({"event_id": f"{domain}{n}", "ts": dt.datetime.combine(day, dt.time(10)),
                       "day": day, "user_id": "h", "host": "PC-H", "action": "web_upload",
                       "channel": "web", "domain": domain})

    for n in range(170):
        days.append({"user_id": "h", "day": start + dt.timedelta(days=n),
                     "uploads_cloud_storage_1d": 1 if n % 2 == 0 else 0,
                     "days_since_layoff_in_group_1d": n - 150 if n >= 150 else None})
        if n % 2 == 0:
            upload(n, "dropbox.com")
    for n in range(151, 151 + 2 * days_used, 2):
        days[n]["uploads_cloud_storage_1d"] = 1
        upload(n, "box.com")
    window = synthetic_window(days, events, columns=LayoffCloudUpload.requires)
    window.tables["outbound"] = outbound_table()
    found = LayoffCloudUpload().fit(window).score(window).to_pandas()
    return float(found.score.max()) if len(found) else 0.0


def test_a_cloud_service_new_to_a_habitual_uploader_after_a_layoff() -> None:
    # moving files to an account of one's own shows as a service new to the person, used
    # again and again, even for someone who uploads to another service every other day
    assert _new_service(days_used=4) >= 0.5
    # a link someone sent, opened once or twice, is not a new service of theirs: what is left
    # is a habitual uploader's busier spell (see above)
    assert _new_service(days_used=2) < 0.45


def test_several_first_uploads_after_a_layoff_are_the_whole_story() -> None:
    # one upload with a layoff behind it may be a shared link; several to a service new to
    # the person after the layoff is the scenario itself and scores as a lead from day one
    single, several = _first_upload_after_layoff([]), _first_upload_after_layoff([], uploads=3)
    assert single < 0.6 <= several - 0.1
    # the same day with no layoff is half the scenario: it stays below a single-upload lead
    assert _first_upload_after_layoff([], uploads=3, layoff=False) < single


def _first_uploads_among(colleague_heavy_days: int) -> float:
    """Best score of a person whose first-ever upload day (4 items, no layoff seen) comes in
    an organisation of 40 people over 100 days where colleagues had ``colleague_heavy_days``
    days of 5 uploads (the rest upload single items now and then)."""
    start = dt.date(2024, 1, 1)
    days = []
    for person in range(40):
        for n in range(100):
            uploads = 1 if (n + person) % 9 == 0 and person else 0
            if person and (person * 100 + n) % (4000 // max(colleague_heavy_days, 1)) == 0 \
                    and colleague_heavy_days:
                uploads = 5
            if person == 0 and n == 95:
                uploads = 4
            days.append({"user_id": f"p{person:02d}", "day": start + dt.timedelta(days=n),
                         "uploads_cloud_storage_1d": uploads,
                         "days_since_layoff_in_group_1d": None})
    window = synthetic_window(days, columns=LayoffCloudUpload.requires)
    window.tables["outbound"] = outbound_table()
    found = LayoffCloudUpload().fit(window).score(window).to_pandas()
    mine = found[found.user_id == "p00"]
    return float(mine.score.max()) if len(mine) else 0.0


def test_a_volume_rare_in_the_organisation_counts_without_a_layoff() -> None:
    # without HR records a layoff shows only days after the survivors' first uploads: a day's
    # volume that almost no person-day of the organisation reaches is not halved for lacking
    # one; where colleagues often upload as much, the same day is ordinary and stays halved
    rare, ordinary = _first_uploads_among(0), _first_uploads_among(80)
    assert rare >= 0.65
    assert ordinary <= 0.35
