"""Baselines and deviations: how unusual a day is for the person and for their peers.

For every feature marked ``baseline`` in the catalogue:

* ``<measure>_z_self_<w>``: a robust z-score of the day against the person's own previous
  active days — about 30, 90 and 365 calendar days, taken as the last 21, 63 and 250 days on
  which the person was active (so holidays and weekends do not thin the baseline);
* ``<measure>_median_self_90d``: the person's usual value (median of the 90-day baseline), the
  "expected" an explanation quotes;

and for every feature marked ``baseline`` or ``peers``, ``<measure>_z_role_1d`` and
``<measure>_z_department_1d``: the same score against everyone active that day with the same
role, or in the same department.

A robust z-score is ``(x - median) / scale`` with ``scale`` the inter-quartile range / 1.349
(the standard deviation of a normal distribution with that IQR), floored so that a person whose
days are all alike does not turn a small change into a huge score. Counts and bytes are
compared on a ``log(1 + x)`` scale, where "twice as many" is the same step at any size; hours
and sensitivity levels as they are. A score needs at least ``MIN_HISTORY`` earlier days (or
peers), else it is null. Scores are rounded to 4 decimals so that every engine agrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis

from molehunt.features.catalogue import Feature

#: Baseline windows: column suffix → number of previous active days.
SELF_WINDOWS: dict[str, int] = {"30d": 21, "90d": 63, "365d": 250}
#: Fewer earlier days (or peers) than this give no score.
MIN_HISTORY = 5
#: Units compared as they are; all others on a log(1 + x) scale.
_LINEAR_UNITS = ("hour", "hours", "level", "days")
#: Smallest scale: a factor of e^0.5 ≈ 1.65 on the log scale, half an hour, half a level.
SCALE_FLOOR = 0.5
_IQR_TO_SD = 1.349


def _transformed(feature: Feature, value: Any) -> Any:
    value = value.cast("float64")
    return value if feature.unit in _LINEAR_UNITS else (value + 1.0).ln()


def _z(x: Any, q25: Any, q50: Any, q75: Any, n: Any) -> Any:
    scale = ibis.greatest((q75 - q25) / _IQR_TO_SD, ibis.literal(SCALE_FLOOR))
    score = ((x - q50) / scale).round(4)
    return ibis.cases((n >= MIN_HISTORY, score), else_=ibis.null("float64"))


def self_deviations(rows: ibis.Table, features: Sequence[Feature]) -> ibis.Table:
    """Per-person deviation columns for every row of ``rows`` (a user-day table).

    ``rows`` must hold each person's earlier days that the windows reach back to; the
    windows are over rows, ordered by day, excluding the day itself.
    """
    columns: dict[str, Any] = {}
    for f in features:
        x = _transformed(f, rows[f.name])
        for suffix, size in SELF_WINDOWS.items():
            window = ibis.window(group_by=rows.user_id, order_by=rows.day,
                                 rows=(-size, -1))
            q25, q50, q75 = (x.quantile(q).over(window) for q in (0.25, 0.5, 0.75))
            n = x.count().over(window)
            columns[f"{f.measure}_z_self_{suffix}"] = _z(x, q25, q50, q75, n)
            if suffix == "90d":
                usual = q50 if f.unit in _LINEAR_UNITS else q50.exp() - 1.0
                columns[f"{f.measure}_median_self_90d"] = ibis.cases(
                    (n >= MIN_HISTORY, usual.round(2)), else_=ibis.null("float64"))
    return rows.select(rows.user_id, rows.day, **columns)


def peer_deviations(rows: ibis.Table, features: Sequence[Feature], group: str
                    ) -> ibis.Table:
    """Deviation of each person-day from everyone active that day in the same ``group``."""
    stats: dict[str, Any] = {}
    for f in features:
        x = _transformed(f, rows[f.name])
        stats[f"{f.name}__q25"] = x.quantile(0.25)
        stats[f"{f.name}__q50"] = x.quantile(0.5)
        stats[f"{f.name}__q75"] = x.quantile(0.75)
        stats[f"{f.name}__n"] = x.count()
    keyed = rows.filter(rows[group].notnull())
    peers = keyed.group_by(p_group=keyed[group], p_day=keyed.day).aggregate(**stats)
    joined = rows.left_join(peers, [rows[group] == peers.p_group, rows.day == peers.p_day])
    columns = {
        f"{f.measure}_z_{group}_1d": _z(_transformed(f, joined[f.name]),
                                        joined[f"{f.name}__q25"], joined[f"{f.name}__q50"],
                                        joined[f"{f.name}__q75"], joined[f"{f.name}__n"])
        for f in features
    }
    return joined.select(joined.user_id, joined.day, **columns)


def deviation_names(features: Sequence[Feature]) -> list[str]:
    """Names of the deviation columns, in the order :func:`deviations` adds them."""
    names: list[str] = []
    for f in features:
        if not f.baseline:
            continue
        for suffix in SELF_WINDOWS:
            names.append(f"{f.measure}_z_self_{suffix}")
            if suffix == "90d":
                names.append(f"{f.measure}_median_self_90d")
    for group in ("role", "department"):
        names.extend(f"{f.measure}_z_{group}_1d" for f in features if f.baseline or f.peers)
    return names
