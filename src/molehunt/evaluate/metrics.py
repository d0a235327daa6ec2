"""The shared metrics of DESIGN.md §7, on plain Python rows (scores are small tables).

Inputs are a per-day score table ``{day: {user_id: score}}`` (users absent on a day score 0),
the population per day, and the ground truth (insiders with their first and last malicious
day, and their malicious days).
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: Days after the last malicious event during which a detection still counts.
GRACE_DAYS = 7


@dataclass
class Insider:
    """One insider of the ground truth."""

    user_id: str
    scenario: str
    first: dt.date
    last: dt.date
    malicious_days: frozenset[dt.date] = field(default_factory=frozenset)
    #: False when the truth lists the logged malicious events (``labels.csv``) and none of
    #: this insider's is in the store: these logs hold no trace of the scenario to catch
    traced: bool = True
    #: The first day an event of the scenario's harm is in the store (``None``: the truth
    #: lists no logged events): a profile that cannot see the first acts (a drive on a night
    #: with no endpoint agent) shows the harm only later, and no detector can be faster.
    first_trace: dt.date | None = None


Scores = Mapping[dt.date, Mapping[str, float]]


def top_users(day_scores: Mapping[str, float], budget: int, floor: float = 0.0) -> set[str]:
    """The ``budget`` highest-scoring users of a day (score above ``floor``; ties by id).

    >>> sorted(top_users({"a": 3.0, "b": 5.0, "c": 0.0, "d": 3.0}, 2))
    ['a', 'b']
    >>> sorted(top_users({"a": 3.0, "b": 5.0}, 2, floor=4.0))
    ['b']
    """
    ranked = sorted(((s, u) for u, s in day_scores.items() if s > 0 and s >= floor),
                    key=lambda p: (-p[0], p[1]))
    return {u for _, u in ranked[:budget]}


def detection_day(insider: Insider, scores: Scores, population: Mapping[dt.date, int],
                  fraction: float, floor: float = 0.0) -> dt.date | None:
    """The first day the insider is in the daily top ``fraction`` of the population."""
    day = insider.first
    while day <= insider.last + dt.timedelta(days=GRACE_DAYS):
        budget = max(1, round(fraction * population.get(day, 0)))
        if population.get(day) and insider.user_id in top_users(scores.get(day, {}), budget,
                                                                 floor):
            return day
        day += dt.timedelta(days=1)
    return None


#: Per day, the scores of the people in no scenario, highest first: ``(-score, user_id)``.
BenignRanking = Mapping[dt.date, Sequence[tuple[float, str]]]


def benign_ranking(scores: Scores, involved: set[str] | frozenset[str]) -> BenignRanking:
    """Each day's scores of everyone not in ``involved``, ranked as :func:`top_users` ranks.

    >>> benign_ranking({dt.date(2024, 1, 1): {"a": 1.0, "b": 3.0, "bad": 9.0}}, {"bad"})
    {datetime.date(2024, 1, 1): [(-3.0, 'b'), (-1.0, 'a')]}
    """
    return {day: sorted((-s, u) for u, s in people.items() if u not in involved and s > 0)
            for day, people in scores.items()}


def detection_day_alone(insider: Insider, scores: Scores, benign: BenignRanking,
                        population: Mapping[dt.date, int], fraction: float,
                        floor: float = 0.0) -> dt.date | None:
    """:func:`detection_day` with only benign people competing for the day's places.

    >>> day = dt.date(2024, 1, 1)
    >>> bad = Insider("bad", "C1", day, day)
    >>> scores = {day: {"other": 9.0, "bad": 5.0, "a": 1.0}}
    >>> detection_day(bad, scores, {day: 100}, 0.01) is None
    True
    >>> detection_day_alone(bad, scores, benign_ranking(scores, {"bad", "other"}),
    ...                     {day: 100}, 0.01) == day
    True
    """
    day = insider.first
    while day <= insider.last + dt.timedelta(days=GRACE_DAYS):
        own = scores.get(day, {}).get(insider.user_id, 0.0)
        if population.get(day) and own > 0 and own >= floor:
            budget = max(1, round(fraction * population[day]))
            above = bisect.bisect_left(benign.get(day, ()), (-own, insider.user_id))
            if above < budget:
                return day
        day += dt.timedelta(days=1)
    return None


def recall_at_budget(insiders: Sequence[Insider], scores: Scores,
                     population: Mapping[dt.date, int], fraction: float, floor: float = 0.0,
                     benign: BenignRanking | None = None) -> dict[str, object]:
    """Recall at a daily budget, with each insider's detection day and time to detect.

    Time to detect counts from the scenario's first day (``days_to_detect``) and from the
    first logged trace of its harm (``days_from_trace``; see :attr:`Insider.first_trace`).

    With ``benign`` (:func:`benign_ranking`), each insider's time to detect is also given
    with only benign people competing (``days_to_detect_alone``). A test organisation holds
    far more insiders than a real one: where the two differ, other insiders held the day's
    places, not benign people.
    """
    rows = []
    for insider in insiders:
        day = detection_day(insider, scores, population, fraction, floor)
        row: dict[str, object] = {
            "user_id": insider.user_id, "scenario": insider.scenario,
            "first": insider.first.isoformat(), "detected": day.isoformat() if day else None,
            "days_to_detect": (day - insider.first).days if day else None}
        # from the first logged trace of the harm; a detection before it (from context) is 0
        start = insider.first_trace or insider.first
        row["days_from_trace"] = max(0, (day - start).days) if day else None
        if benign is not None:
            alone = detection_day_alone(insider, scores, benign, population, fraction, floor)
            row["days_to_detect_alone"] = (alone - insider.first).days if alone else None
        rows.append(row)
    caught = [int(str(r["days_to_detect"])) for r in rows if r["days_to_detect"] is not None]
    result: dict[str, object] = {
        "budget": fraction, "recall": len(caught) / len(rows) if rows else None,
        "median_days_to_detect": _median(caught),
        "worst_days_to_detect": max(caught) if caught else None,
        "median_days_from_trace": _median([int(str(r["days_from_trace"])) for r in rows
                                           if r["days_from_trace"] is not None]),
        "insiders": rows}
    if benign is not None:
        alone_days = [int(str(r["days_to_detect_alone"])) for r in rows
                      if r["days_to_detect_alone"] is not None]
        result["recall_alone"] = len(alone_days) / len(rows) if rows else None
        result["median_days_to_detect_alone"] = _median(alone_days)
    return result


def _median(values: Sequence[int]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1]
                                                            + ordered[middle]) / 2


def cumulative_recall(insiders: Sequence[Insider], scores: Scores, k: int, step: int = 25
                      ) -> float | None:
    """CR-k (Tuor et al. 2017): Σ over b = step, 2·step, …, k of the share of malicious
    user-days ranked within the top b of their day."""
    malicious = [(i.user_id, d) for i in insiders for d in sorted(i.malicious_days)]
    if not malicious:
        return None
    ranks = []
    for user, day in malicious:
        day_scores = scores.get(day, {})
        mine = day_scores.get(user, 0.0)
        if mine <= 0:
            ranks.append(math.inf)
            continue
        ranks.append(1 + sum(1 for u, s in day_scores.items() if s > mine or (
            s == mine and u < user)))
    total = 0.0
    for budget in range(step, k + 1, step):
        total += sum(1 for r in ranks if r <= budget) / len(ranks)
    return round(total, 4)


def roc_pr_auc(user_scores: Mapping[str, float], positives: set[str],
               negatives: set[str]) -> tuple[float | None, float | None]:
    """User-level ROC AUC and PR AUC (average precision); ties count half in the ROC.

    >>> roc_pr_auc({"a": 0.9, "b": 0.1, "c": 0.5}, {"a"}, {"b", "c"})
    (1.0, 1.0)
    """
    pos = [user_scores.get(u, 0.0) for u in positives]
    neg = [user_scores.get(u, 0.0) for u in negatives]
    if not pos or not neg:
        return None, None
    neg_sorted = sorted(neg)
    import bisect

    wins = 0.0
    for p in pos:
        below = bisect.bisect_left(neg_sorted, p)
        ties = bisect.bisect_right(neg_sorted, p) - below
        wins += below + 0.5 * ties
    roc = wins / (len(pos) * len(neg))
    ranked = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg], key=lambda p: -p[0])
    hits, precision_sum = 0, 0.0
    for index, (_, label) in enumerate(ranked, start=1):
        if label:
            hits += 1
            precision_sum += hits / index
    return round(roc, 4), round(precision_sum / len(pos), 4)


def alert_load(alert_days: Sequence[tuple[str, dt.date]], benign: set[str], days: int
               ) -> float:
    """Alerts opened for benign users per 1,000 benign users per day."""
    if not benign or days <= 0:
        return 0.0
    count = sum(1 for user, _ in alert_days if user in benign)
    return round(1000.0 * count / len(benign) / days, 4)


def high_days_per_1000(scores: Scores, benign: set[str], days: int, threshold: float
                       ) -> float:
    """Benign person-days scored at ``threshold`` or above per 1,000 benign people per day.

    With molehunt's risk and the threshold of band high, the share of benign people an
    analyst sees in band high or critical on an average day (per 1,000).

    >>> day = dt.date(2024, 1, 1)
    >>> high_days_per_1000({day: {"x": 70.0, "y": 20.0, "bad": 99.0}}, {"x", "y"}, 1, 65)
    500.0
    """
    if not benign or days <= 0:
        return 0.0
    count = sum(1 for day_scores in scores.values() for user, value in day_scores.items()
                if value >= threshold and user in benign)
    return round(1000.0 * count / len(benign) / days, 4)


def lookalike_days_in_top(lookalikes: Mapping[str, set[str]], scores: Scores,
                          population: Mapping[dt.date, int], fraction: float,
                          floor: float = 0.0) -> dict[str, int]:
    """Per benign look-alike, the number of days they were in the daily top ``fraction``."""
    counts = dict.fromkeys(lookalikes, 0)
    for day, day_scores in scores.items():
        budget = max(1, round(fraction * population.get(day, 0)))
        for user in top_users(day_scores, budget, floor) & counts.keys():
            counts[user] += 1
    return counts
