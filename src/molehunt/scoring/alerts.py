"""Alerts: a person entering band high or above opens one alert per episode.

An episode is a run of days at band high or above whose gaps are at most ``gap_days``; the
alert carries the peak risk, the top reasons of the peak day and the detectors behind it.
The id is a hash of the person and the opening day, so re-running gives the same ids.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from molehunt.scoring.risk import BANDS

#: Bands that open an alert.
ALERT_BANDS = ("high", "critical")


def alert_id(user_id: str, opened: dt.date) -> str:
    """A stable alert id.

    >>> alert_id("u1", dt.date(2024, 1, 2))
    'A-ae668c2be5bc48ce'
    """
    digest = hashlib.sha256(f"{user_id}|{opened.isoformat()}".encode()).hexdigest()
    return "A-" + digest[:16]


def open_alerts(risk: Iterable[Mapping[str, Any]], gap_days: int = 14
                ) -> list[dict[str, Any]]:
    """Alert rows from risk rows (see the module docstring)."""
    threshold = dict(BANDS)["high"]
    by_user: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in risk:
        if row["risk"] >= threshold:
            by_user[row["user_id"]].append(row)
    alerts = []
    for user in sorted(by_user):
        rows = sorted(by_user[user], key=lambda r: r["day"])
        episode: list[Mapping[str, Any]] = []
        for row in rows:
            if episode and (row["day"] - episode[-1]["day"]).days > gap_days:
                alerts.append(_alert(user, episode))
                episode = []
            episode.append(row)
        if episode:
            alerts.append(_alert(user, episode))
    return alerts


def _alert(user: str, episode: list[Mapping[str, Any]]) -> dict[str, Any]:
    peak = max(episode, key=lambda r: (r["risk"], r["day"]))
    detectors = sorted({r["text"][1:].split(" ", 1)[0] for row in episode
                        for r in row["reasons"] if r["text"].startswith("[")})
    return {"alert_id": alert_id(user, episode[0]["day"]), "user_id": user,
            "opened_day": episode[0]["day"], "last_day": episode[-1]["day"],
            "peak_risk": peak["risk"], "band": peak["band"], "reasons": peak["reasons"],
            "detectors": detectors, "status": "open"}
