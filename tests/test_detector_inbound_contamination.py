"""Scenario test: inbound_contamination flags the S3 job hopper's arrival, not an NDA partner."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pyarrow as pa

from detect_helpers import insiders, run, window
from molehunt.detectors.inbound_contamination import InboundContamination


def _date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value  # type: ignore[no-any-return]


def test_flags_s3_on_the_arrival_day(slow_org: Any) -> None:
    workspace, org = slow_org
    found = run(InboundContamination(), workspace)
    hoppers = [i for i in insiders(org) if i["scenario"] == "S3"]
    assert hoppers, "the test organisation has an S3 insider"
    for hopper in hoppers:
        mine = found[found.user_id == hopper["user"]]
        days = {_date(d) for d in mine.day}
        assert hopper["start"] in days, f"{hopper['user']} not flagged on arrival"
        first = mine[mine.day == mine.day.min()].iloc[0]
        assert first.score >= 0.7
        assert len(first.evidence) >= 3, "the marked documents are the evidence"
        assert "marked confidential by" in first.reasons[0]["text"]


def test_nobody_else_is_flagged(slow_org: Any) -> None:
    workspace, org = slow_org
    found = run(InboundContamination(), workspace)
    hoppers = {i["user"] for i in insiders(org) if i["scenario"] == "S3"}
    assert set(found.user_id) <= hoppers


def _marking(user: str, day: dt.date, channel: str, action: str, n: int) -> dict[str, Any]:
    return {"event_id": [f"{user}-{channel}-{k}" for k in range(n)], "day": [day] * n,
            "user_id": [user] * n, "action": [action] * n, "channel": [channel] * n,
            "owner": ["Partner Corp"] * n, "marking": ["CONFIDENTIAL"] * n,
            "sensitivity": pa.array([2] * n, pa.int8()), "known_company": [False] * n}


def test_a_partners_documents_by_business_mail_stay_low(slow_org: Any) -> None:
    """The benign look-alike: a long-serving salesperson receives an NDA partner's documents."""
    workspace, _ = slow_org
    store, full = window(workspace)
    try:
        people = full.user_day.filter(full.user_day.days_since_hire_1d.isnull()
                                      | (full.user_day.days_since_hire_1d > 200))
        row = people.select("user_id", "day").order_by(["user_id", "day"]).limit(1).execute()
        user, day = row.user_id.iloc[0], row.day.iloc[0]
        day = _date(day)
        rows = {k: list(v) for k, v in _marking(user, day, "email_external", "email_view",
                                                 4).items()}
        partner = pa.table({k: v for k, v in rows.items()})
        hopper = pa.table(_marking(user, day + dt.timedelta(days=1), "removable_media",
                                   "file_copy", 4))
        full.tables["foreign_markings"] = ibis.memtable(pa.concat_tables([partner, hopper]))
        found = InboundContamination().fit(full).score(full).to_pandas()
    finally:
        store.close()
    by_day = {_date(d): s for d, s in zip(found.day, found.score, strict=True)}
    assert by_day[day] < 0.3, "an NDA partner's mail is not contamination to read today"
    assert by_day[day + dt.timedelta(days=1)] >= 0.6, "the same documents from a USB stick are"
