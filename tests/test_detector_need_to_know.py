"""Scenario test: need_to_know finds the S3 job hopper's reach, not project teams or managers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from detect_helpers import caught, insiders, run, with_dates
from detect_helpers import lookalikes as lookalike_users
from molehunt.detectors.base import Window
from molehunt.detectors.need_to_know import NeedToKnow


def test_catches_the_s3_job_hopper(slow_org: Any) -> None:
    workspace, org = slow_org
    found = with_dates(run(NeedToKnow(), workspace))
    hoppers = [i for i in insiders(org) if i["scenario"] == "S3"]
    assert hoppers, "the test organisation has an S3 insider"
    for hopper in hoppers:
        assert caught(found, hopper, top=2), f"{hopper['user']} not in the day's top 2"
        mine = found[found.user_id == hopper["user"]]
        first = min(mine.day)
        assert (first - hopper["start"]).days <= 60, f"{hopper['user']} found on {first}"
        assert mine.score.max() >= 0.7
        texts = [r["text"] for rs in mine.reasons for r in rs]
        assert any("other departments" in t for t in texts)
        assert all(len(e) > 0 for e in mine.evidence), "the reads and meetings are evidence"


def test_no_benign_lookalike_and_few_others(slow_org: Any) -> None:
    workspace, org = slow_org
    found = run(NeedToKnow(), workspace)
    lookalikes = lookalike_users(org)
    involved = {i["user"] for i in insiders(org)}
    flagged = set(found[found.score >= 0.5].user_id)
    assert not flagged & (lookalikes - involved), "a benign look-alike was flagged"
    assert len(flagged - involved) <= 1, f"people without a scenario: {flagged - involved}"


START = dt.date(2011, 1, 3)
DAYS = 300


def _person(user: str, role: str, team: str, days: int, docs: int = 0, meetings: int = 0,
            hired: float | None = None, every: int = 1, since: int = 0) -> list[dict[str, Any]]:
    """Working days of one person reaching ``docs`` documents (and ``meetings``) of another
    department every ``every``-th day from day ``since`` on."""
    rows = []
    for offset in range(days):
        day = START + dt.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        reach = offset % every == 0 and offset >= since
        rows.append({"user_id": user, "day": day, "role": role, "team": team,
                     "department": team.split()[0],
                     "days_since_hire_1d": None if hired is None else hired + offset,
                     "documents_read_other_unit_sensitive_1d": docs if reach else 0,
                     "meetings_closed_other_unit_1d": meetings if reach else 0})
    return rows


def _window(rows: list[dict[str, Any]]) -> Window:
    frame = pd.DataFrame(rows)
    frame["days_since_hire_1d"] = frame.days_since_hire_1d.astype("float64")
    user_day = ibis.memtable(frame)
    empty = ibis.memtable(pd.DataFrame({"user_id": pd.Series([], dtype="object")}))
    text = pa.array([], pa.string())
    events = ibis.memtable(pa.table({
        "event_id": text, "user_id": text, "day": pa.array([], pa.date32()), "action": text,
        "attrs": text, "doc_id": text, "object": text}))
    documents = ibis.memtable(pa.table({"doc_id": text, "path": text, "department": text,
                                        "sensitivity": pa.array([], pa.int8())}))
    return Window(start=START, end=max(r["day"] for r in rows), user_day=user_day,
                  events=events, directory=empty, hr_events=empty,
                  tables={"documents": documents})


def _org(extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Four departments of two teams of engineers and a manager each: people read their own
    department's documents (nothing of other units); managers sit in the unit's weekly
    leadership meeting, held by the Cells department (closed; another unit for most)."""
    rows: list[dict[str, Any]] = []
    for department in ("Cells", "Power", "Motors", "Grid"):
        for team in (f"{department} A", f"{department} B"):
            for number in range(6):
                rows += _person(f"{team[0]}{team[-1]}{number}", "Engineer", team, DAYS)
            rows += _person(f"M{team[0]}{team[-1]}", "Manager", f"{team} Office", DAYS,
                            meetings=0 if department == "Cells" else 1, every=7)
    return rows + extra


def test_a_project_team_reading_another_departments_documents_is_not_flagged() -> None:
    """The look-alike: a whole team works on another department's project (reads its
    confidential documents every day); managers whose role spans units meet weekly."""
    team = [r for n in range(6)
            for r in _person(f"X{n}", "Engineer", "Cells B", DAYS, docs=2, since=150)]
    rows = [r for r in _org([]) if not (r["team"] == "Cells B" and r["role"] == "Engineer")]
    found = NeedToKnow().fit(_window(rows + team)).score(_window(rows + team)).to_pandas()
    assert found.empty or found.score.max() < 0.4, found.groupby("user_id").score.max()


def test_one_person_reaching_alone_is_flagged() -> None:
    """The same reading by one engineer whose team does not share it (starting months into
    the data, after a history without it), and a new joiner who sits in other units'
    closed-door meetings, stand out."""
    lone = _person("LONE", "Engineer", "Power A", DAYS, docs=2, since=150)
    joiner = _person("NEW", "Engineer", "Cells A", 100, meetings=1, every=3, hired=0.0)
    joiner = [{**r, "day": r["day"] + dt.timedelta(days=196)} for r in joiner]
    rows = _org(lone + joiner)
    found = NeedToKnow().fit(_window(rows)).score(_window(rows)).to_pandas()
    best = found.groupby("user_id").score.max()
    assert best.get("LONE", 0) >= 0.7
    assert best.get("NEW", 0) >= 0.5
    assert set(best[best >= 0.4].index) <= {"LONE", "NEW"}, best


def test_a_post_that_always_sat_in_another_units_meetings_is_not_flagged() -> None:
    """The look-alike: the one manager whose post belongs to another department's leadership
    meeting has sat in it every week as far back as the data goes; reach did not grow."""
    rows = [r for r in _org([]) if r["role"] != "Manager" or r["user_id"] == "MPA"]
    rows += [r for team in ("Cells A", "Grid B", "Motors A")
             for r in _person(f"M{team[0]}{team[-1]}", "Manager", f"{team} Office", DAYS)]
    found = NeedToKnow().fit(_window(rows)).score(_window(rows)).to_pandas()
    assert found.empty or found.score.max() < 0.4, found.groupby("user_id").score.max()
