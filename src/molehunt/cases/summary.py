"""The alert summary an analyst reads in thirty seconds.

An alert spans days, and its detectors repeat the same reason on each of them: the page used
to list every finding of every day, open (50,000 px for a month-long alert). The summary says
once what the alert is about: which scenarios fired on how many days, the three strongest
reasons with the days they held on, the risk over the alert's days and the weeks before with
the finding days marked, and what the cited evidence moved, by channel and destination.
Everything here is computed from already-redacted rows, so it holds no identity the page does
not hold already.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Days of risk shown before the alert opened: enough to see whether it came from nowhere.
DAYS_BEFORE = 14
#: How many reasons and destinations the summary shows.
TOP_REASONS = 3
TOP_DESTINATIONS = 5


@functools.cache
def detector_purposes() -> dict[str, str]:
    """Each detector's one-line purpose (the first line of its docstring), by name."""
    from molehunt.detectors import registry

    return {name: (cls.__doc__ or name).strip().splitlines()[0].rstrip(".")
            for name, cls in registry().items()}


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def top_reasons(findings: Iterable[Mapping[str, Any]], limit: int = TOP_REASONS
                ) -> list[dict[str, Any]]:
    """The strongest reasons, each once: per detector and feature, the text of its strongest
    day, how many days it held and the first and last of them.

    >>> rows = [{"day": f"2024-01-0{d}", "detector": "x", "reasons": [
    ...     {"feature": "a", "weight": 0.2 * d, "text": f"a on day {d}"},
    ...     {"feature": "b", "weight": 0.1, "text": "b"}]} for d in (1, 2, 3)]
    >>> [(r["text"], r["days"]) for r in top_reasons(rows, 2)]
    [('a on day 3', 3), ('b', 3)]
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for finding in findings:
        day = _day(finding["day"])
        for item in finding.get("reasons") or []:
            weight = float(item.get("weight") or 0.0)
            if weight <= 0:
                continue
            key = (str(finding["detector"]), str(item.get("feature")))
            group = groups.setdefault(key, {"detector": key[0], "feature": key[1],
                                            "weight": -1.0, "days": set()})
            group["days"].add(day)
            if weight > group["weight"]:
                group.update(weight=weight, text=item.get("text") or key[1])
    ranked = sorted(groups.values(), key=lambda g: (-g["weight"], -len(g["days"]),
                                                    g["detector"], g["feature"]))
    return [{"detector": g["detector"], "feature": g["feature"], "text": g["text"],
             "weight": round(g["weight"], 2), "days": len(g["days"]),
             "first": min(g["days"]).isoformat(), "last": max(g["days"]).isoformat()}
            for g in ranked[:limit]]


def scenarios(findings: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per detector that fired: what it stands for, on how many days, its strongest score."""
    days: dict[str, set[dt.date]] = defaultdict(set)
    best: dict[str, float] = defaultdict(float)
    for finding in findings:
        name = str(finding["detector"])
        days[name].add(_day(finding["day"]))
        best[name] = max(best[name], float(finding["score"]))
    purposes = detector_purposes()
    return [{"detector": name, "purpose": purposes.get(name, name), "days": len(days[name]),
             "score": round(best[name], 2)}
            for name in sorted(days, key=lambda n: (-best[n], n))]


def timeline(risk: Sequence[Mapping[str, Any]], findings: Iterable[Mapping[str, Any]],
             first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """Risk per day from :data:`DAYS_BEFORE` days before the alert to its last day, each day
    marked with the detectors that fired on it and whether it is inside the alert.

    >>> t = timeline([{"day": "2024-01-20", "risk": 70.0, "band": "high"}],
    ...              [{"day": "2024-01-20", "detector": "x"}],
    ...              dt.date(2024, 1, 20), dt.date(2024, 1, 20))
    >>> len(t), t[-1]["risk"], t[-1]["detectors"], t[0]["risk"]
    (15, 70.0, ['x'], 0.0)
    """
    by_day = {_day(r["day"]): r for r in risk}
    fired: dict[dt.date, set[str]] = defaultdict(set)
    for finding in findings:
        fired[_day(finding["day"])].add(str(finding["detector"]))
    out = []
    day = first - dt.timedelta(days=DAYS_BEFORE)
    while day <= last:
        row = by_day.get(day)
        out.append({"day": day.isoformat(),
                    "risk": round(float(row["risk"]), 1) if row else 0.0,
                    "band": row["band"] if row else "none",
                    "detectors": sorted(fired.get(day, ())), "in_alert": day >= first})
        day += dt.timedelta(days=1)
    return out


def movement(events: Iterable[Mapping[str, Any]], limit: int = TOP_DESTINATIONS
             ) -> list[dict[str, Any]]:
    """What the cited evidence moved out, by channel and destination, largest first.

    >>> movement([{"channel": "web", "domain": "d.example", "bytes": 10, "action": "upload"},
    ...           {"channel": "web", "domain": "d.example", "bytes": 5, "action": "upload"},
    ...           {"channel": "local", "domain": None, "bytes": None, "action": "logon"}])
    [{'channel': 'web', 'destination': 'd.example', 'events': 2, 'bytes': 15}]
    """
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for event in events:
        destination = event.get("domain") or event.get("target")
        if not destination or event.get("channel") in (None, "local"):
            continue
        total = totals[(str(event["channel"]), str(destination))]
        total[0] += 1
        total[1] += int(event.get("bytes") or 0)
    ranked = sorted(totals.items(), key=lambda p: (-p[1][1], -p[1][0], p[0]))
    return [{"channel": c, "destination": d, "events": n, "bytes": b}
            for (c, d), (n, b) in ranked[:limit]]


def summary(findings: Sequence[Mapping[str, Any]], evidence: Sequence[Mapping[str, Any]],
            risk: Sequence[Mapping[str, Any]], first: dt.date, last: dt.date
            ) -> dict[str, Any]:
    """The whole summary of one alert (redacted findings and events in, plain data out)."""
    return {"scenarios": scenarios(findings), "top_reasons": top_reasons(findings),
            "timeline": timeline(risk, findings, first, last), "movement": movement(evidence),
            "finding_days": len({_day(f["day"]) for f in findings})}
