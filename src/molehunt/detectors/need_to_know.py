"""S3 reach: other units' sensitive documents and closed-door meetings far beyond one's peers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    EVIDENCE_LIMIT,
    FINDINGS_SCHEMA,
    Detector,
    Window,
    damp_repeats,
    empty_strings,
    exact_round,
    findings,
    noisy_or,
    number_text,
    reason,
    saturate,
)

#: Day numbers count from here (calendar spans are ranges of day numbers).
_ORIGIN = dt.date(2000, 1, 1)

#: What is counted: (per-day feature column, short name).
_MEASURES = (("documents_read_other_unit_sensitive_1d", "docs"),
             ("meetings_closed_other_unit_1d", "meetings"))


def poisson_z(k: Any, mu: Any) -> Any:
    """Signed square root of the Poisson log-likelihood ratio of ``k`` against ``mu``.

    About a z-score for any size of ``k``; 0 when ``k`` is not above ``mu``.
    """
    kf = k.cast("float64")
    g = 2.0 * (kf * (ibis.greatest(kf, 1e-9) / mu).ln() - (kf - mu))
    return ibis.ifelse(kf > mu, ibis.greatest(g, 0.0).sqrt(), 0.0)



@dataclass(kw_only=True)
class NeedToKnow(Detector):
    """Reading other units' sensitive documents and sitting in their closed-door meetings
    far more than the role, the team, and the person before (or, for a new joiner, other
    newcomers) did.

    Scenario: a job hopper (S3) reaches far beyond the role's need-to-know from the first
    weeks: opens confidential and secret documents of other departments, attends their
    closed-door meetings, collecting for the next employer; a new joiner whose reach grows
    unusually fast is the early form of it.

    Signals: per person, over the last ``span_days`` calendar days (for a new joiner that is
    their whole tenure while it is shorter), the days' sums of
    ``documents_read_other_unit_sensitive_1d`` (document-days: a document read on two days
    counts twice) and ``meetings_closed_other_unit_1d``. Each is tested against what the
    person's active days predict at the rate of the rest of the role, of the rest of the
    team and, for someone hired at most ``joiner_days`` ago (``days_since_hire_1d``), of
    the other newcomers in the same days, and for everyone else of the person's own rate
    in the ``history_days`` before the span (a Poisson likelihood-ratio z per comparison;
    the smallest counts, so the person must stand out from every peer group that has enough
    days to say, and reach must have grown; someone not new with less than
    ``min_history_days`` active days before the span is not judged yet). A measure counts
    with at least ``min_count`` and ``z >= min_z``; findings fall on the days the person
    reached out, scored higher the larger ``z``, with both measures, and for a new joiner;
    a day whose largest z is not ``growth`` times the strongest of the last ``quiet_days``
    repeats what was found and counts ``repeat_factor`` of its score.

    False positives: staff whose role spans units (managers in a unit's leadership meetings,
    assistants, IT) share the role's high rate, or their own earlier one when the post is
    the only one of its kind that does; a project team that reads another
    department's documents together shares the team's rate; a lone person who legitimately
    moved into cross-unit work (a new programme office) stands out until peers follow, and
    belongs on an allowlist; a transfer reads the old department's documents for a while.
    """

    name: ClassVar[str] = "need_to_know"
    kind: ClassVar[str] = "baseline"
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "events", "documents", "role", "team", "department", "days_since_hire_1d",
        "documents_read_other_unit_sensitive_1d", "meetings_closed_other_unit_1d"})
    long_horizon: ClassVar[bool] = True
    #: The calendar span and the history before it (``span_days + history_days``) in
    #: active days, with room.
    lookback_days: ClassVar[int] = 250

    #: Calendar days the reach is counted over.
    span_days: int = 120
    #: Someone hired at most this many days ago is compared with the other newcomers too.
    joiner_days: int = 365
    #: At least this many document-days or meetings before a measure counts.
    min_count: int = 5
    #: Poisson z (against every peer group) above which the reach is unusual.
    min_z: float = 3.0
    #: Document-days or meetings per active day assumed at the least for a peer group.
    min_rate: float = 0.02
    #: Peer groups with fewer active days (the person left out) in the span say nothing.
    min_peer_days: int = 60
    #: A finding no stronger than ``growth`` times the strongest of the person's last
    #: ``quiet_days`` counts ``repeat_factor`` of its score (the lead is already known:
    #: at 0.3 a daily repeat of even a strong finding keeps risk at band low).
    quiet_days: int = 60
    growth: float = 1.5
    repeat_factor: float = 0.3
    #: Calendar days before the span that give the person's own earlier rate.
    history_days: int = 240
    #: Someone not new with fewer active days than this before the span is not judged yet.
    min_history_days: int = 40

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a shorter, stricter test."""
        return [{}, {"span_days": 60, "joiner_days": 90, "min_count": 8, "min_z": 4.0,
                     "history_days": 120}]

    def score(self, window: Window) -> ibis.Table:
        """A finding on each day of reach once the span's reach is unusual for every peer."""
        u = window.user_day
        hired = u.days_since_hire_1d
        joiner = hired.notnull() & (hired <= self.joiner_days)
        d = u.select("user_id", "day", "role", "team", "department",
                     x=u.day.delta(ibis.date(_ORIGIN), unit="day").cast("int64"),
                     hired=hired, cohort=ibis.ifelse(joiner, "joiner", ibis.null("string")),
                     active=ibis.literal(1, "int64"),
                     **{short: u[column].fill_null(0).cast("int64")
                        for column, short in _MEASURES})
        counted = ("active", *[short for _, short in _MEASURES])
        span = (-(self.span_days - 1), 0)
        person = ibis.window(group_by="user_id", order_by="x", range=span)
        earlier = ibis.window(group_by="user_id", order_by="x",
                              range=(-(self.span_days + self.history_days - 1),
                                     -self.span_days))
        t = d.mutate(**{f"{c}_span": d[c].sum().over(person) for c in counted},
                     **{f"{c}_before": d[c].sum().over(earlier) for c in counted})
        today = ibis.literal(False)
        for _, short in _MEASURES:
            today = today | (t[short] > 0)
        t = t.filter(today)
        for group in ("role", "team", "cohort"):
            rows = d.filter(d[group].notnull())
            g = rows.group_by(rows[group], rows.x).aggregate(
                **{c: rows[c].sum() for c in counted})
            w = ibis.window(group_by=group, order_by="x", range=span)
            g = g.select(**{f"{group}_key": g[group], f"{group}_x": g.x},
                         **{f"{group}_{c}": g[c].sum().over(w) for c in counted})
            t = t.left_join(g, [t[group].identical_to(g[f"{group}_key"]),
                                t.x == g[f"{group}_x"]])
            t = t.drop(f"{group}_key", f"{group}_x")
        return self._evidence(self._findings(t), t, window)

    def _findings(self, t: ibis.Table) -> ibis.Table:
        """Per measure the smallest z over the peer groups with enough days; scores."""
        parts: dict[str, dict[str, Any]] = {}
        for _, short in _MEASURES:
            k = t[f"{short}_span"]
            a = t.active_span.cast("float64")
            zs, rates = [], []
            for group in ("role", "team", "cohort"):
                others_a = t[f"{group}_active"].fill_null(0) - t.active_span
                others_k = t[f"{group}_{short}"].fill_null(0) - k
                known = others_a >= self.min_peer_days
                rate = ibis.greatest(others_k.cast("float64") / ibis.greatest(
                    others_a, 1).cast("float64"), self.min_rate)
                z_group = poisson_z(k, rate * a)
                if group == "cohort":
                    # newcomers are few: too few of them say nothing either way
                    z_group = ibis.ifelse(known & t.cohort.notnull(), z_group,
                                          ibis.null("float64"))
                else:
                    # a role or team with members but too few of their days yet (the first
                    # days of the data) cannot vouch for the person: nothing is said
                    z_group = ibis.ifelse(known, z_group, ibis.ifelse(
                        others_a > 0, 0.0, ibis.null("float64")))
                zs.append(z_group)
                rates.append(ibis.ifelse(known, rate, ibis.null("float64")))
            # the person's own earlier habit: reach that has always been this wide (a post
            # that sits in another unit's meetings) did not grow; a newcomer has no habit yet
            # (the newcomers stand in), and too short a history says nothing
            own_a = t.active_before.fill_null(0)
            own_rate = ibis.greatest(t[f"{short}_before"].fill_null(0).cast("float64")
                                     / ibis.greatest(own_a, 1).cast("float64"),
                                     self.min_rate)
            zs.append(ibis.ifelse(t.cohort.notnull(), ibis.null("float64"), ibis.ifelse(
                own_a >= self.min_history_days, poisson_z(k, own_rate * a), 0.0)))
            # the least unusual comparison decides: unusual for the role, the team and the
            # newcomers alike; with no peer group at all nothing is said
            z = ibis.least(*[ibis.coalesce(v, 1e9) for v in zs])
            z = ibis.ifelse(z >= 1e9, 0.0, z)
            expected = ibis.greatest(*[ibis.coalesce(r, 0.0) for r in rates]) * a
            unusual = (k >= self.min_count) & (z >= self.min_z)
            parts[short] = {"k": k, "z": z, "mu": expected, "unusual": unusual}
        docs, meetings = parts["docs"], parts["meetings"]
        any_unusual = docs["unusual"] | meetings["unusual"]
        docs_s = ibis.ifelse(docs["unusual"],
                             0.45 + 0.4 * saturate(docs["z"] - self.min_z, 4.0), 0.0)
        meetings_s = ibis.ifelse(meetings["unusual"],
                                 0.4 + 0.35 * saturate(meetings["z"] - self.min_z, 4.0), 0.0)
        joiner_s = ibis.ifelse(any_unusual & t.cohort.notnull(), 0.2, 0.0)
        strength = ibis.greatest(ibis.ifelse(docs["unusual"], docs["z"], 0.0),
                                 ibis.ifelse(meetings["unusual"], meetings["z"], 0.0))
        t = t.mutate(_dk=docs["k"], _dz=docs["z"], _dmu=docs["mu"], _mk=meetings["k"],
                     _mz=meetings["z"], _mmu=meetings["mu"], _docs_s=docs_s,
                     _meetings_s=meetings_s, _joiner_s=joiner_s)
        t, fresh, damping = damp_repeats(t, strength, self.quiet_days, self.growth,
                                          self.repeat_factor)
        score = noisy_or(t._docs_s, t._meetings_s, t._joiner_s) * damping
        docs_s, meetings_s, joiner_s = (t._docs_s * damping, t._meetings_s * damping,
                                        t._joiner_s * damping)
        span = ibis.literal(str(self.span_days))
        reasons = [
            reason("documents_read_other_unit_sensitive_span", t._dk, t._dmu, docs_s,
                   number_text(t._dk).concat(
                       " document-days of other departments' confidential or secret documents"
                       " in the last ", span, " days; peers' rate predicts ",
                       number_text(t._dmu, 1), " (z ", number_text(t._dz, 1), "); ",
                       number_text(t.docs), " today")),
            reason("meetings_closed_other_unit_span", t._mk, t._mmu, meetings_s,
                   number_text(t._mk).concat(
                       " closed-door meetings of other departments in the last ", span,
                       " days; peers' rate predicts ", number_text(t._mmu, 1), " (z ",
                       number_text(t._mz, 1), ")")),
            reason("reach_repeat", t._strength, t._before,
                   ibis.ifelse(fresh, 0.0, 0.01),
                   ibis.literal("no stronger than in the last ").concat(
                       str(self.quiet_days), " days (z ", number_text(t._before, 1),
                       "), already found: counts ", str(self.repeat_factor))),
            reason("days_since_hire_1d", t.hired, None, joiner_s,
                   ibis.literal("joined ").concat(number_text(t.hired.fill_null(0)),
                                                  " days ago, beyond other newcomers too")),
        ]
        return findings(t, detector=self, score=exact_round(score), reasons=reasons)

    def _evidence(self, found: ibis.Table, t: ibis.Table, window: Window) -> ibis.Table:
        """``found`` with the day's reads of other departments' confidential documents and
        their closed-door meetings as evidence."""
        keys = t.select(k_user=t.user_id, k_day=t.day, k_home=t.department).distinct()
        e = window.events
        e = e.filter(e.action.isin(("file_open", "file_write", "print", "meeting")))
        e = e.join(keys, [e.user_id == keys.k_user, e.day == keys.k_day])
        attrs = e.attrs.fill_null("")
        held_by = attrs.re_extract('"department":\\s*"([^"]*)"', 1).nullif("")
        meetings = e.filter(e.action == "meeting", attrs.re_search('"closed_door":\\s*true'),
                            held_by.notnull(), ~held_by.identical_to(e.k_home))
        docs = window.table("documents")
        # a file event names its document by id or by path (as the features look it up)
        by_key = docs.select(d_key=docs.doc_id, d_unit=docs.department,
                             d_level=docs.sensitivity).union(
            docs.filter(docs.path.notnull()).select(
                d_key=docs.path, d_unit=docs.department, d_level=docs.sensitivity))
        by_key = by_key.group_by("d_key").aggregate(d_unit=by_key.d_unit.min(),
                                                    d_level=by_key.d_level.max())
        reads = e.filter(e.action != "meeting")
        reads = reads.join(by_key, ibis.coalesce(reads.doc_id, reads.object) == by_key.d_key)
        reads = reads.filter(reads.d_level.cast("int64") >= 2, reads.d_unit.notnull(),
                             ~reads.d_unit.identical_to(reads.k_home))
        chosen = meetings.select("event_id", "user_id", "day").union(
            reads.select("event_id", "user_id", "day"))
        ids = chosen.group_by(e_user=chosen.user_id, e_day=chosen.day).aggregate(
            ids=chosen.event_id.collect())
        joined = found.left_join(ids, [found.user_id == ids.e_user, found.day == ids.e_day])
        evidence = ibis.coalesce(joined.ids.sort()[:EVIDENCE_LIMIT], empty_strings())
        return joined.select(*[c for c in FINDINGS_SCHEMA.names if c != "evidence"],
                             evidence=evidence).select(*FINDINGS_SCHEMA.names)
