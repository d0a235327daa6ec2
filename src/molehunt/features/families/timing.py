"""Timing: when the person worked, compared with the working day and their own habit."""

from __future__ import annotations

from typing import Any

from molehunt.features.catalogue import Family, Feature
from molehunt.features.enrich import count


def _aggregates(e: Any) -> dict[str, Any]:
    return {
        "events_after_hours_1d": count(e, where=e.after_hours),
        "events_weekend_1d": count(e, where=e.weekend),
        "logons_off_hours_1d": count(e, where=(e.action == "logon") & e.off_hours),
        "events_out_off_hours_1d": count(e, where=e.outbound & e.off_hours),
        "first_activity_hour_1d": e.hour_min.min(),
        "last_activity_hour_1d": e.hour_max.max(),
        "active_hours_1d": e.hour_max.max() - e.hour_min.min(),
    }


FAMILY = Family(
    name="timing",
    title="Timing",
    order=20,
    notes="Working hours are 07:00-19:00 UTC unless the workspace sets `workday_hours`. "
          "Whether a time is unusual *for this person* is in the deviation columns "
          "(`first_activity_hour_z_self_90d`, …).",
    features=(
        Feature("events_after_hours_1d", "timing", "events",
                "Events before the working day starts or after it ends (any day of the week).",
                baseline=True),
        Feature("events_weekend_1d", "timing", "events", "Events on a Saturday or Sunday."),
        Feature("logons_off_hours_1d", "timing", "events",
                "Logons after hours or on a weekend.", observes=("logon",)),
        Feature("events_out_off_hours_1d", "timing", "events",
                "Outbound events (see `events_out_1d`) after hours or on a weekend."),
        Feature("first_activity_hour_1d", "timing", "hour",
                "Time of the person's first event of the day.", weekly="min", baseline=True),
        Feature("last_activity_hour_1d", "timing", "hour",
                "Time of the person's last event of the day.", weekly="max", baseline=True),
        Feature("active_hours_1d", "timing", "hours",
                "Hours between the first and the last event of the day.", weekly="mean"),
    ),
    aggregates=_aggregates,
)
