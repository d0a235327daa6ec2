"""Findings → per-person daily risk 0-100, bands and the reasons behind every point.

Each day, a person's findings give a day score ``D`` (1 - Π(1 - weight × score) over
detectors, each detector counted once, by its best finding). Evidence accumulates on a
log scale with decay: ``E(d) = min(E_MAX, E(prev) × 2^(-gap / half_life) + g(D))`` with
``g(D) = -ln(1 - D) × σ((D - 0.5) / 0.1)``, so one strong day is enough, weak days count
little and add up only when they repeat, and everything fades. Risk is
``100 × (1 - exp(-E))``; the cap keeps a long episode from pinning risk at 100 for weeks.
Allowlists scale a finding down before it counts and say so in the reasons. Findings are
few compared with events, so this runs in Python.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from molehunt.config import Settings

#: Band → lowest risk in it, highest first.
BANDS: tuple[tuple[str, int], ...] = (
    ("critical", 85), ("high", 65), ("medium", 40), ("low", 15), ("none", 0))
#: Risk rows stop this far below "low" once nothing new is found (the tail of the decay).
TAIL_RISK = 5.0
#: Cap on accumulated evidence (risk 97): a long episode fades within a few weeks.
E_MAX = 3.5
#: Features whose findings IT's expected removable-media use explains.
REMOVABLE_FEATURES = ("device", "removable")
#: Features whose findings a declared outside engagement explains.
ENGAGEMENT_FEATURES = ("expert_network",)


def gain(day_score: float) -> float:
    """Evidence a day adds: weak days little, strong days about their log-odds.

    >>> [round(gain(d), 2) for d in (0.2, 0.5, 0.7, 0.9)]
    [0.01, 0.35, 1.06, 2.26]
    """
    score = min(max(day_score, 0.0), 0.999)
    return -math.log(1.0 - score) / (1.0 + math.exp(-(score - 0.5) / 0.1))


def band(risk: float) -> str:
    """The band of a risk value.

    >>> band(90), band(65), band(10)
    ('critical', 'high', 'none')
    """
    for name, low in BANDS:
        if risk >= low:
            return name
    return "none"


@dataclass
class ScoringParams:
    """How findings add up; every value has a default that suits most deployments."""

    half_life_days: float = 4.0
    #: Band high holds at most this many people per 1,000 per day, averaged over the last
    #: ``budget_days`` (:func:`calibrate`; 0 turns the budget off).
    budget_per_1000: float = 0.5
    budget_days: int = 90
    #: Detector name → multiplier (1 by default); the unsupervised baseline counts less
    #: because it explains less.
    detector_weights: Mapping[str, float] = field(default_factory=lambda: {
        "peer_anomaly": 0.6, "sequence": 0.9})
    #: Allowlisted findings are multiplied by this.
    allow_factor: float = 0.3
    trusted_domains: tuple[str, ...] = ()
    removable_media_roles: tuple[str, ...] = ()
    removable_media_users: tuple[str, ...] = ()
    top_reasons: int = 5
    #: Findings in a person's first ``warmup_days`` count ``warmup_factor``: their baselines
    #: are still empty, so everything looks new.
    warmup_days: int = 30
    warmup_factor: float = 0.5
    #: Analysts' allowlists from the console (see :mod:`molehunt.scoring.tuning`): person
    #: (user id) → reason, and (kind, value, reason) entries about evidence events.
    allowed_people: Mapping[str, str] = field(default_factory=dict)
    allowed_evidence: tuple[tuple[str, str, str], ...] = ()
    #: Detector → why its weight is not the default (said in the reasons).
    weight_notes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> ScoringParams:
        """Parameters from the workspace settings."""
        return cls(half_life_days=settings.risk_half_life_days,
                   budget_per_1000=settings.alert_budget_per_1000,
                   budget_days=settings.alert_budget_days,
                   trusted_domains=settings.trusted_domains,
                   removable_media_roles=settings.removable_media_roles,
                   removable_media_users=settings.removable_media_users)


@dataclass
class Context:
    """What the allowlists need to know about people and evidence."""

    roles: Mapping[str, str] = field(default_factory=dict)
    #: The first day each person is in the feature tables (for the warm-up discount).
    first_seen: Mapping[str, dt.date] = field(default_factory=dict)
    declared: Mapping[str, dt.date] = field(default_factory=dict)
    evidence_domains: Mapping[str, str] = field(default_factory=dict)
    #: Evidence event id → its ``host``, ``target``, ``object`` and ``domain`` (for the
    #: console's allowlists).
    evidence_events: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    #: Detectors whose findings rest on no baseline (e.g. a foreign marking on arrival):
    #: the warm-up discount does not apply to them.
    baseline_free: frozenset[str] = frozenset()
    #: People active on each day (the monitored population the alert budget is a share of);
    #: empty: no calibration.
    population: Mapping[dt.date, int] = field(default_factory=dict)


def _matches(kind: str, value: str, event: Mapping[str, str | None]) -> bool:
    """Whether an evidence event is what an allowlist entry names."""
    wanted = value.lower()
    if kind == "domain":
        domain = (event.get("domain") or "").lower()
        return bool(domain) and (domain == wanted or domain.endswith("." + wanted))
    if kind == "host":
        return (event.get("host") or "").lower() == wanted
    if kind == "recipient":
        target = (event.get("target") or "").replace(",", ";").lower()
        return wanted in {t.strip() for t in target.split(";")}
    if kind == "device":
        return wanted in {(event.get("object") or "").lower(), (event.get("host") or "").lower()}
    return False


def _allowlist(finding: Mapping[str, Any], params: ScoringParams, context: Context
               ) -> tuple[float, str | None]:
    """(factor, why) for one finding; factor 1 and no text when nothing applies."""
    reasons = finding["reasons"] or []
    total = sum(r["weight"] or 0.0 for r in reasons) or 1.0

    def share(markers: tuple[str, ...]) -> float:
        return sum(r["weight"] or 0.0 for r in reasons
                   if any(m in (r["feature"] or "") for m in markers)) / total

    user = finding["user_id"]
    first = context.first_seen.get(user)
    if (first is not None and (finding["day"] - first).days < params.warmup_days
            and finding.get("detector") not in context.baseline_free):
        return params.warmup_factor, (f"little history: first seen {first}, baselines are"
                                      " still being learned")
    if (user in params.removable_media_users
            or context.roles.get(user) in params.removable_media_roles) and share(
                REMOVABLE_FEATURES) >= 0.5:
        return params.allow_factor, "allowlisted: this person's removable-media use is expected"
    since = context.declared.get(user)
    if since is not None and since <= finding["day"] and share(ENGAGEMENT_FEATURES) >= 0.5:
        return params.allow_factor, "allowlisted: outside engagement declared on " + str(since)
    evidence = finding["evidence"] or []
    domains = {context.evidence_domains.get(e) for e in evidence} - {None}
    if domains and params.trusted_domains and all(
            any(d == t or d.endswith("." + t) for t in params.trusted_domains)
            for d in domains if d):
        return params.allow_factor, "allowlisted: evidence goes only to trusted domains"
    if user in params.allowed_people:
        return params.allow_factor, ("allowlisted by an analyst: "
                                     + params.allowed_people[user])
    if evidence and params.allowed_evidence:
        used: dict[tuple[str, str], str] = {}
        for event_id in evidence:
            event = context.evidence_events.get(event_id)
            hit = next(((k, v, why) for k, v, why in params.allowed_evidence
                        if event is not None and _matches(k, v, event)), None)
            if hit is None:
                break
            used[(hit[0], hit[1])] = hit[2]
        else:
            named = "; ".join(f"{k} {v} ({why})" for (k, v), why in sorted(used.items()))
            return params.allow_factor, ("allowlisted by an analyst: the evidence is only "
                                         + named)
    return 1.0, None


def score_risk(findings: Iterable[Mapping[str, Any]], params: ScoringParams,
               context: Context | None = None, last_day: dt.date | None = None
               ) -> list[dict[str, Any]]:
    """Risk rows (user_id, day, risk, band, reasons) from findings rows.

    A row is written for every day from a person's first finding until their risk has
    decayed below :data:`TAIL_RISK` (or ``last_day``), so any day's ranking is complete.

    >>> f = {"user_id": "u", "day": dt.date(2024, 1, 1), "detector": "x", "score": 0.9,
    ...      "reasons": [{"feature": "a", "observed": 1.0, "expected": 0.0, "weight": 1.0,
    ...                   "text": "a happened"}], "evidence": ["e1"]}
    >>> rows = score_risk([f], ScoringParams(), last_day=dt.date(2024, 1, 3))
    >>> [(r["day"].day, r["risk"], r["band"]) for r in rows]
    [(1, 89.6, 'critical'), (2, 85.1, 'critical'), (3, 79.8, 'high')]
    """
    context = context or Context()
    by_user: dict[str, dict[dt.date, list[Mapping[str, Any]]]] = defaultdict(
        lambda: defaultdict(list))
    for finding in findings:
        by_user[finding["user_id"]][finding["day"]].append(finding)
    out: list[dict[str, Any]] = []
    #: evidence without the cap, per row: orders risks that the cap (or rounding) made equal
    strengths: list[float] = []
    decay_per_day = 0.5 ** (1.0 / params.half_life_days)
    for user in sorted(by_user):
        days = by_user[user]
        evidence = strength = 0.0
        carried: list[tuple[float, dict[str, Any]]] = []
        day = min(days)
        end = last_day or max(days)
        while day <= end:
            evidence *= decay_per_day
            strength *= decay_per_day
            carried = [(w * decay_per_day, r) for w, r in carried]
            todays = days.get(day)
            if todays:
                day_score, reasons = _day(todays, params, context)
                evidence = min(E_MAX, evidence + gain(day_score))
                strength += gain(day_score)
                carried = sorted(reasons + carried, key=lambda p: -p[0])[:params.top_reasons]
            risk = 100.0 * (1.0 - math.exp(-evidence))
            if evidence >= E_MAX and strength > E_MAX:
                # past the cap, stronger evidence still ranks higher (97.0 up to 99.9), so
                # that people at the cap are not all tied in a day's ranking
                risk += (99.9 - 100.0 * (1.0 - math.exp(-E_MAX))) * (
                    1.0 - math.exp(-(strength - E_MAX)))
            if risk < TAIL_RISK and not todays:
                if day >= max(days):
                    break
                day += dt.timedelta(days=1)
                continue
            rounded = round(risk, 1)
            out.append({"user_id": user, "day": day, "risk": rounded, "band": band(rounded),
                        "reasons": [dict(r, weight=round(w, 4)) for w, r in carried]})
            strengths.append(strength)
            day += dt.timedelta(days=1)
    if context.population and params.budget_per_1000 > 0:
        calibrate(out, context.population, params.budget_per_1000, params.budget_days,
                  strengths)
    return out


#: Person-days of budget a window must hold (when it is not yet full) before band high's
#: line is placed: the line is the window's N-th highest risk, and an order statistic of
#: fewer than about ten values moves by a third from one window to the next.
MIN_LINE_VALUES = 10


def calibrate(rows: list[dict[str, Any]], population: Mapping[dt.date, int],
              budget_per_1000: float, budget_days: int,
              strengths: list[float] | None = None) -> None:
    """Hold band high to the population's highest risks, in place.

    A fixed line (risk 65) puts as many people in band high as the detectors happen to push
    over it, which depends on what the deployment can see: where observations are missing the
    same line can hand analysts ten benign people a day per thousand. So each day, of all
    risk values of the last ``budget_days`` days, only the top ``budget_per_1000`` per 1,000
    person-days (the monitored population itself is the yardstick) may stand at band high or
    above, and never more than that over any ``budget_days`` days; a risk over the line but
    outside the budget is held at the top of band medium
    (64.9 to 65, in the order of the risks), with a reason saying so. Ranking is kept. No
    one is at band high before the line can be placed: until the window is full or its
    budget reaches :data:`MIN_LINE_VALUES` person-days, the top of a few weeks is not the
    top of the population (in a deployment's first weeks the first strong risks would take
    the budget whatever came after them). Equal risks are
    ordered by ``strengths`` (the evidence before its cap, one per row) when given, then by
    user id, so that many people pinned at the cap cannot all pass.

    >>> day = dt.date(2024, 1, 1)
    >>> rows = [{"user_id": u, "day": day, "risk": r, "band": band(r), "reasons": []}
    ...         for u, r in (("a", 90), ("b", 70), ("c", 30))]
    >>> calibrate(rows, {day: 1000}, 1.0, 1)
    >>> [(r["user_id"], r["risk"], r["band"]) for r in rows]
    [('a', 90, 'critical'), ('b', 64.914271, 'medium'), ('c', 30, 'low')]
    """
    line = dict(BANDS)["high"]
    # equal evidence is rare but possible: the user id breaks the tie, so the budget holds
    keys = [(float(row["risk"]), strengths[i] if strengths else 0.0, row["user_id"])
            for i, row in enumerate(rows)]
    over: dict[dt.date, list[tuple[float, float, str]]] = defaultdict(list)
    for row, key in zip(rows, keys, strict=True):
        if row["risk"] >= line:
            over[row["day"]].append(key)
    if not over:
        return
    days = sorted(population)
    cut: dict[dt.date, tuple[float, float, str]] = {}
    never = (math.inf, math.inf, "")
    passed: dict[dt.date, int] = {}
    for index, day in enumerate(days):
        if day not in over:
            continue
        first = day - dt.timedelta(days=budget_days - 1)
        window = [d for d in days[max(0, index - budget_days + 1):index + 1] if d >= first]
        allowed = int(budget_per_1000 * sum(population[d] for d in window) / 1000.0)
        if allowed < MIN_LINE_VALUES and (day - days[0]).days < budget_days - 1:
            allowed = 0
        # the strongest of the window may pass, and no more than the window's budget leaves
        # after the days before it: at most ``allowed`` in any ``budget_days`` days
        slots = allowed - sum(passed.get(d, 0) for d in window if d != day)
        values = sorted((v for d in window for v in over.get(d, ())), reverse=True)
        today = sorted(over[day], reverse=True)
        strongest = [] if allowed < 1 else [
            v for v in today if v >= values[min(allowed, len(values)) - 1]]
        chosen = strongest[:max(0, slots)]
        passed[day] = len(chosen)
        cut[day] = chosen[-1] if chosen else never
    for row, key in zip(rows, keys, strict=True):
        if row["risk"] >= line and key < cut.get(row["day"], (-math.inf, 0.0, "")):
            original = row["risk"]
            # held just below the line, in the order the risks had: the ranking of the day
            # (what analysts read by budget) stays what the evidence says
            row["risk"] = round(line - 0.1 + 0.0999 * (original - line) / (100.0 - line), 6)
            row["band"] = band(row["risk"])
            row["reasons"].append({
                "feature": "alert_budget", "observed": float(original), "expected": None,
                "weight": 0.0,
                "text": f"risk {original:g} held below {line}: above the band-high line but"
                        f" outside the alert budget ({budget_per_1000:g} per 1,000 people per"
                        f" day over {budget_days} days)"})


def _day(todays: list[Mapping[str, Any]], params: ScoringParams, context: Context
         ) -> tuple[float, list[tuple[float, dict[str, Any]]]]:
    """The day score and the weighted reasons of one person's findings on one day.

    Detectors are combined as independent evidence, so the same evidence is counted once:
    taking findings from the strongest down, the share of a finding's reason weight on
    measures (reason features) a stronger finding of the day already gave is dropped (e.g.
    the baseline's "after-hours activity unusual" when the after-hours rule said so).
    """
    best: dict[str, tuple[float, Mapping[str, Any], str | None]] = {}
    for finding in todays:
        factor, why = _allowlist(finding, params, context)
        weighted = float(finding["score"]) * factor * params.detector_weights.get(
            finding["detector"], 1.0)
        if finding["detector"] not in best or weighted > best[finding["detector"]][0]:
            best[finding["detector"]] = (min(weighted, 1.0), finding, why)
    product = 1.0
    reasons: list[tuple[float, dict[str, Any]]] = []
    seen: dict[str, str] = {}
    for name, (weighted, finding, why) in sorted(best.items(), key=lambda p: (-p[1][0], p[0])):
        if weighted <= 0.0:  # a detector weighted 0 (turned off in the console) says nothing
            continue
        total = sum(r["weight"] or 0.0 for r in finding["reasons"]) or 1.0
        tag = f"[{name} {finding['day']}] "
        repeated = [r for r in finding["reasons"] if (r["feature"] or "") in seen]
        overlap = sum(r["weight"] or 0.0 for r in repeated) / total
        kept = weighted * (1.0 - overlap)
        product *= 1.0 - kept
        for r in finding["reasons"]:
            if (r["feature"] or "") in seen:
                continue
            share = weighted * (r["weight"] or 0.0) / total
            reasons.append((share, {"feature": r["feature"], "observed": r["observed"],
                                    "expected": r["expected"], "text": tag + r["text"]}))
        if repeated:
            others = sorted({seen[r["feature"] or ""] for r in repeated})
            reasons.append((kept * 0.01, {
                "feature": "same_evidence", "observed": round(overlap, 4), "expected": None,
                "text": tag + f"{overlap:.0%} of this finding is evidence {', '.join(others)}"
                " already counted"}))
        if why:
            reasons.append((kept * 0.01, {"feature": "allowlist", "observed": None,
                                          "expected": None, "text": tag + why}))
        if name in params.weight_notes:
            reasons.append((kept * 0.01, {"feature": "detector_weight", "observed": None,
                                          "expected": None,
                                          "text": tag + params.weight_notes[name]}))
        for r in finding["reasons"]:
            seen.setdefault(r["feature"] or "", name)
    return 1.0 - product, reasons
