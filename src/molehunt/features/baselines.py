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
and sensitivity levels as they are. A null value (*cannot see*, DESIGN.md §6b) is skipped: the
quantiles and the count take only the days (or peers) with a value (the engines' aggregates
skip nulls), and a null day has a null score. A score needs at least ``MIN_HISTORY`` earlier
days (or peers) with a value, else it is null. Scores are rounded to 4 decimals (halves
upwards, the same on every engine: :func:`molehunt.portable.rounded`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis

from molehunt.features.catalogue import Feature
from molehunt.portable import rounded

#: Baseline windows: column suffix → number of previous active days.
SELF_WINDOWS: dict[str, int] = {"30d": 21, "90d": 63, "365d": 250}
#: Fewer earlier days (or peers) than this give no score.
MIN_HISTORY = 5
#: Units compared as they are; all others on a log(1 + x) scale.
_LINEAR_UNITS = ("hour", "hours", "level", "days")
#: Smallest scale: a factor of e^0.5 ≈ 1.65 on the log scale, half an hour, half a level.
SCALE_FLOOR = 0.5
_IQR_TO_SD = 1.349
#: The quantiles a robust score needs.
QUARTILES = (0.25, 0.5, 0.75)


def _transformed(feature: Feature, value: Any) -> Any:
    value = value.cast("float64")
    return value if feature.unit in _LINEAR_UNITS else (value + 1.0).ln()


def _z(x: Any, q25: Any, q50: Any, q75: Any, n: Any) -> Any:
    scale = ibis.greatest((q75 - q25) / _IQR_TO_SD, ibis.literal(SCALE_FLOOR))
    score = rounded((x - q50) / scale, 4)
    return ibis.cases((n >= MIN_HISTORY, score), else_=ibis.null("float64"))


def _scores(f: Feature, x: Any, stats: ibis.Table, suffix: str) -> dict[str, Any]:
    """The deviation columns of one feature and window from its quantile list and count."""
    q, n = stats[f"{f.measure}__{suffix}__q"], stats[f"{f.measure}__{suffix}__n"]
    q25, q50, q75 = q[0], q[1], q[2]
    columns = {f"{f.measure}_z_self_{suffix}": _z(x, q25, q50, q75, n)}
    if suffix == "90d":
        usual = q50 if f.unit in _LINEAR_UNITS else q50.exp() - 1.0
        columns[f"{f.measure}_median_self_90d"] = ibis.cases(
            (n >= MIN_HISTORY, rounded(usual, 2)), else_=ibis.null("float64"))
    return columns


def _with_scores(stats: ibis.Table, features: Sequence[Feature]) -> ibis.Table:
    columns: dict[str, Any] = {}
    for f in features:
        x = _transformed(f, stats[f.name])
        for suffix in SELF_WINDOWS:
            columns.update(_scores(f, x, stats, suffix))
    return stats.select(stats.user_id, stats.day, **columns)


def self_deviations(rows: ibis.Table, features: Sequence[Feature]) -> ibis.Table:
    """Per-person deviation columns for every row of ``rows`` (a user-day table).

    ``rows`` must hold each person's earlier days that the windows reach back to; the
    windows are over rows, ordered by day, excluding the day itself. Suited to long ranges:
    every row of ``rows`` gets its windows computed.
    """
    stats: dict[str, Any] = {}
    for f in features:
        x = _transformed(f, rows[f.name])
        for suffix, size in SELF_WINDOWS.items():
            window = ibis.window(group_by=rows.user_id, order_by=rows.day, rows=(-size, -1))
            # one list quantile shares the engine's sorted window between the three quartiles
            stats[f"{f.measure}__{suffix}__q"] = x.quantile(list(QUARTILES)).over(window)
            stats[f"{f.measure}__{suffix}__n"] = x.count().over(window)
    windowed = rows.select(rows.user_id, rows.day, *[rows[f.name] for f in features], **stats)
    return _with_scores(windowed, features)


def self_deviations_of(targets: ibis.Table, rows: ibis.Table, features: Sequence[Feature]
                       ) -> ibis.Table:
    """The same columns as :func:`self_deviations`, for the person-days of ``targets`` only.

    ``rows`` holds the people's earlier days (and may hold the target days themselves); each
    target is joined to its own previous days, so the cost grows with the number of targets
    times the longest window, not with the length of the history. Suited to daily updates.
    """
    longest = max(SELF_WINDOWS.values())
    t = targets.select(t_user=targets.user_id, t_day=targets.day,
                       **{f"t__{f.name}": targets[f.name] for f in features})
    h = rows.select(*[rows[f.name] for f in features], h_user=rows.user_id, h_day=rows.day)
    pairs = t.join(h, [t.t_user == h.h_user, h.h_day < t.t_day])
    recent = ibis.window(group_by=[pairs.t_user, pairs.t_day], order_by=ibis.desc(pairs.h_day))
    pairs = pairs.mutate(back=ibis.row_number().over(recent))
    pairs = pairs.filter(pairs.back < longest)
    stats: dict[str, Any] = {}
    for f in features:
        x = _transformed(f, pairs[f.name])
        for suffix, size in SELF_WINDOWS.items():
            # every pair is inside the longest window; a shorter one keeps its values and
            # nulls out the others, which the aggregates skip (an aggregate FILTER per column
            # costs the engine more)
            inside = x if size == longest else ibis.cases((pairs.back < size, x),
                                                          else_=ibis.null("float64"))
            stats[f"{f.measure}__{suffix}__q"] = inside.quantile(list(QUARTILES))
            stats[f"{f.measure}__{suffix}__n"] = inside.count()
    grouped = pairs.group_by(s_user=pairs.t_user, s_day=pairs.t_day).aggregate(**stats)
    joined = t.left_join(grouped, [t.t_user == grouped.s_user, t.t_day == grouped.s_day])
    windowed = joined.select(user_id=joined.t_user, day=joined.t_day,
                             **{f.name: joined[f"t__{f.name}"] for f in features},
                             **{name: joined[name] for name in stats})
    return _with_scores(windowed, features)


def peer_deviations(rows: ibis.Table, features: Sequence[Feature], group: str
                    ) -> ibis.Table:
    """Deviation of each person-day from everyone active that day in the same ``group``."""
    stats: dict[str, Any] = {}
    for f in features:
        x = _transformed(f, rows[f.name])
        stats[f"{f.name}__q"] = x.quantile(list(QUARTILES))
        stats[f"{f.name}__n"] = x.count()
    keyed = rows.filter(rows[group].notnull())
    peers = keyed.group_by(p_group=keyed[group], p_day=keyed.day).aggregate(**stats)
    joined = rows.left_join(peers, [rows[group] == peers.p_group, rows.day == peers.p_day])
    columns = {
        f"{f.measure}_z_{group}_1d": _z(_transformed(f, joined[f.name]),
                                        joined[f"{f.name}__q"][0], joined[f"{f.name}__q"][1],
                                        joined[f"{f.name}__q"][2], joined[f"{f.name}__n"])
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
