"""The person page's risk chart: the person's risk against their peers', the days findings
and alerts fell on, and what left the company, cumulatively, by channel and destination.

A risk line alone does not say whether 60 is high for this role, what happened on the day it
jumped, or whether anything left. So the chart carries, over the same days:

- the **peer band**: the 25th to 75th percentile (and the 50th and 90th) of the risk of the
  person's peers. Peers are the group the console already shows for the person under the
  k-anonymity rule: their role where it is shown, else their department, else everyone. A
  hidden role is never used, so the band cannot hint at it;
- **markers**: a dot on each day a detector fired (its detectors and score in the tooltip) and
  a flag with a shaded span for each alert;
- **cumulative data leaving** per channel from the feature build's outbound table (the whole
  history counts: a line starts at what had left before the chart's first day), and the
  largest destinations from the events of a window of days: the person page's activity window
  (14 days unless the analyst widens it), else the last :data:`DESTINATION_DAYS` days. Events
  are read for this, at the cost of the activity timeline's own read (about 50 ms for two weeks
  of a person at 1,000 people, 0.3 s for 90 days), so the window stays the analyst's choice.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from molehunt.cases.accounts import InputError, Principal
from molehunt.cases.models import Alert

if TYPE_CHECKING:
    from molehunt.cases.results import WorkspaceResults
    from molehunt.cases.service import Console

#: the days the chart spans, ending on the person's newest day of risk
CHART_DAYS = 365
#: the days whose events name the destinations when no window is given (events are read, so
#: far fewer than the chart's days)
DESTINATION_DAYS = 30


def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


@functools.lru_cache(maxsize=64)
def _quantiles(results: WorkspaceResults, versions: tuple[int, ...],
               users: tuple[str, ...] | None, first: dt.date, last: dt.date
               ) -> tuple[dict[str, Any], ...]:
    """The peer band, remembered per read-model version (``versions`` is only the key: the
    risk model is rebuilt when ``molehunt run`` writes new results, and so is the band)."""
    del versions
    return tuple(results.risk_quantiles(users, first, last))


#: the largest peer group whose cumulative leaving is drawn (each peer's history is walked)
MAX_LEAVING_PEERS = 5000


def running_total(rows: list[dict[str, Any]], days: list[dt.date], measure: str) -> list[int]:
    """What had left by the end of each of ``days`` (all channels), from per-day rows.

    >>> rows = [{"day": dt.date(2024, 1, 1), "bytes": 5}, {"day": dt.date(2024, 1, 3), "bytes": 2}]
    >>> running_total(rows, [dt.date(2024, 1, 2), dt.date(2024, 1, 3)], "bytes")
    [5, 7]
    """
    ordered = sorted(rows, key=lambda r: _day(r["day"]))
    totals, total, i = [], 0, 0
    for day in days:
        while i < len(ordered) and _day(ordered[i]["day"]) <= day:
            total += int(ordered[i][measure] or 0)
            i += 1
        totals.append(total)
    return totals


@functools.lru_cache(maxsize=64)
def _peer_leaving(results: WorkspaceResults, versions: tuple[int, ...],
                  users: tuple[str, ...], days: tuple[dt.date, ...], measure: str
                  ) -> tuple[dict[str, Any], ...]:
    """Per day, the median and 90th percentile over ``users`` of what each had let leave by
    then (a peer with nothing counts as 0), remembered per read-model version."""
    del versions
    if not users or not days:
        return ()
    table = np.array([running_total(results.outbound_by_day(u), list(days), measure)
                      for u in users], dtype=float)
    p50, p90 = np.percentile(table, [50, 90], axis=0)
    return tuple({"day": d.isoformat(), "p50": round(float(a), 1), "p90": round(float(b), 1)}
                 for d, a, b in zip(days, p50, p90, strict=True))


def cumulative(rows: list[dict[str, Any]], first: dt.date) -> list[dict[str, Any]]:
    """Per channel, running totals of events and bytes per day from ``first`` on; what left
    before ``first`` is the starting point (one point on ``first``).

    >>> rows = [{"day": dt.date(2024, 1, 1), "channel": "web", "events": 2, "bytes": 10},
    ...         {"day": dt.date(2024, 1, 5), "channel": "web", "events": 1, "bytes": 5}]
    >>> [(p["day"], p["bytes"]) for p in cumulative(rows, dt.date(2024, 1, 3))[0]["points"]]
    [('2024-01-03', 10), ('2024-01-05', 15)]
    """
    per_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in sorted(rows, key=lambda r: (_day(r["day"]), str(r["channel"]))):
        channel, day = str(row["channel"]), _day(row["day"])
        total = totals[channel]
        total[0] += int(row["events"] or 0)
        total[1] += int(row["bytes"] or 0)
        points = per_channel[channel]
        if day < first:
            continue
        if not points and total != [int(row["events"] or 0), int(row["bytes"] or 0)]:
            before = (total[0] - int(row["events"] or 0), total[1] - int(row["bytes"] or 0))
            points.append({"day": first.isoformat(), "events": before[0], "bytes": before[1]})
        points.append({"day": day.isoformat(), "events": total[0], "bytes": total[1]})
    for channel, total in totals.items():
        if not per_channel[channel]:  # everything left before the chart's days
            per_channel[channel].append({"day": first.isoformat(), "events": total[0],
                                         "bytes": total[1]})
    return [{"channel": c, "events": totals[c][0], "bytes": totals[c][1],
             "points": per_channel[c]}
            for c in sorted(totals, key=lambda c: (-totals[c][1], -totals[c][0], c))]


def _peers(console: Console, user_id: str) -> tuple[str, tuple[str, ...] | None]:
    """Who the person is compared with, named as the page names them."""
    person = console.pseudonyms.people.get(user_id)
    shown = console._context(person)
    everyone = console.pseudonyms.people.values()
    if shown["role"] is not None:
        return (f"role {shown['role']}",
                tuple(sorted(p.user_id for p in everyone if (p.role or None) == shown["role"])))
    if shown["department"] is not None:
        return (f"department {shown['department']}",
                tuple(sorted(p.user_id for p in everyone
                             if (p.department or None) == shown["department"])))
    return "everyone", None


def _build(console: Console, user_id: str, window: tuple[dt.date, dt.date] | None
           ) -> dict[str, Any]:
    results = console.results
    risk = results.person_risk(user_id)
    empty: dict[str, Any] = {"days": [], "peers": None, "peer_band": [], "findings": [],
                             "alerts": [], "leaving": [], "leaving_measure": "bytes",
                             "peer_leaving": [], "leaving_total": [], "destinations": [],
                             "destinations_from": None, "destinations_to": None}
    if not risk:
        return empty
    last = _day(risk[-1]["day"])
    first = max(_day(risk[0]["day"]), last - dt.timedelta(days=CHART_DAYS - 1))
    days = [{"day": _day(r["day"]).isoformat(), "risk": round(float(r["risk"]), 1),
             "band": r["band"]} for r in risk if _day(r["day"]) >= first]
    label, users = _peers(console, user_id)
    band = _quantiles(results, results.versions(), users, first, last)
    fired: dict[str, dict[str, Any]] = {}
    for finding in results.findings(user_id, first, last):
        day = _day(finding["day"]).isoformat()
        marker = fired.setdefault(day, {"day": day, "detectors": [], "score": 0.0})
        if finding["detector"] not in marker["detectors"]:
            marker["detectors"].append(str(finding["detector"]))
        marker["score"] = round(max(marker["score"], float(finding["score"])), 2)
    with console.store.sessions() as session:
        alerts = session.scalars(sa.select(Alert).where(Alert.user_id == user_id)
                                 .order_by(Alert.opened_day)).all()
        flags = [{"alert_id": a.public_id, "opened": a.opened_day.isoformat(),
                  "last": a.last_day.isoformat(), "band": a.band, "state": a.state}
                 for a in alerts if a.last_day >= first]
    own = results.outbound_by_day(user_id)
    leaving = cumulative(own, first)
    measure = "bytes" if any(c["bytes"] for c in leaving) else "events"
    chart_days = [_day(d["day"]) for d in days]
    # the person's own total over all channels: what the peers' band is comparable with
    total = [{"day": d.isoformat(), measure: t}
             for d, t in zip(chart_days, running_total(own, chart_days, measure), strict=True)]
    # the peers' band of what left: everyone when the group is "everyone" and small enough
    peers = users if users is not None else tuple(sorted(console.pseudonyms.people))
    peer_leaving = list(_peer_leaving(
        results, results.versions(), peers, tuple(chart_days), measure
    )) if leaving and len(peers) <= MAX_LEAVING_PEERS else []
    start, end = window or (last - dt.timedelta(days=DESTINATION_DAYS - 1), last)
    destinations = results.outbound_destinations(user_id, start, end)
    # a host or device can name the person: destinations go through the redactor
    console.pseudonyms.add_hosts([str(d["destination"]) for d in destinations
                                  if d["channel"] == "printer"])
    return {**empty, "days": days, "destinations_from": start.isoformat(),
            "destinations_to": end.isoformat(),
            "peers": {"label": label, "size": len(users) if users is not None else None},
            "peer_band": [{**q, "day": _day(q["day"]).isoformat()} for q in band],
            "findings": sorted(fired.values(), key=lambda m: str(m["day"])), "alerts": flags,
            "leaving": leaving, "leaving_measure": measure, "peer_leaving": peer_leaving,
            "leaving_total": total if leaving else [],
            "destinations": [{"channel": d["channel"],
                              "destination": console._redact(d["destination"]) or "",
                              "events": int(d["events"]), "bytes": int(d["bytes"])}
                             for d in destinations]}


def person_chart(console: Console, principal: Principal, alias: str, audited: bool = True,
                 window: tuple[dt.date, dt.date] | None = None) -> dict[str, Any]:
    """The chart's data for one person (by pseudonym), destinations from the days of
    ``window`` (both included; at most 366 days); the look is audited unless the caller
    audited it already (the person page, which audits ``person.view``)."""
    console.require(principal, "view")
    user_id = console.person_of(alias)
    if window is not None and not 0 <= (window[1] - window[0]).days <= 366:
        raise InputError("the destinations window is 1 to 367 days, from before to")
    shown = console._view(("person-chart", user_id, window),
                          lambda: _build(console, user_id, window))
    if audited:
        console.record(principal, "person.chart", alias)
    return shown
