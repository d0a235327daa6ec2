"""S3 job hopper: a short tenure, reach far beyond the role, and a last haul before leaving."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    Detector,
    Window,
    bounded,
    exact_round,
    findings,
    noisy_or,
    number_text,
    reason,
    saturate,
    with_evidence,
)

#: Channels of ``outbound`` by which a person can take documents with them.
TAKE_CHANNELS = ("removable_media", "webmail", "cloud_storage", "email_external", "paste_leak",
                 "web", "printer")


@dataclass(kw_only=True)
class TenureHoarding(Detector):
    """A large last haul of sensitive documents, read over a short tenure reaching far.

    Scenario: a job hopper (S3) joins, reads well beyond the role's need-to-know (other
    departments' confidential documents, their closed-door meetings) for one or two years,
    and in the weeks before leaving takes a last large haul — copies to removable media,
    mail to personal addresses, uploads — then moves on to do the same elsewhere.

    Signals: over the person's whole tenure in the window (no 30- or 90-day cut-off): the
    ``outbound`` table's documents of sensitivity ``min_sensitivity`` or more that left by
    a channel a person can take them with (removable media, personal mail, cloud storage,
    printing, …); the *haul* is their number over the last ``haul_days`` active days, tested
    against the person's own rate over everything before (``haul_ratio`` times as many, at
    least ``min_haul``, with ``min_history`` active days before it). Each haul day is a
    finding, scored by the haul and its context: a known departure
    (``days_to_departure_1d``: a resignation or a termination; more as it nears), a short
    tenure (``days_since_hire_1d`` below ``short_tenure_days``), and reach:
    other departments' sensitive documents read and their closed-door meetings attended
    per active day over the whole tenure (``documents_read_other_unit_sensitive_1d``,
    ``meetings_closed_other_unit_1d``) against the rate of the role's other people over the
    same days. Days of a known departure after a haul are findings too, so the risk stays up
    until the person has left.

    False positives: people who resign and take nothing, or only their own unlabelled
    files home (nothing of ``min_sensitivity`` leaves: no finding); long-tenured people with
    wide legitimate reach (no haul: no finding; a haul of theirs has no short-tenure part);
    people whose work sends sensitive documents out every day (the haul is measured against
    their own rate). A haul with no known departure counts ``no_departure_factor``: it may
    be a project hand-over (and is also what ``departure_exfiltration`` looks at).
    """

    name: ClassVar[str] = "tenure_hoarding"
    kind: ClassVar[str] = "baseline"
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "events", "outbound", "role", "days_since_hire_1d",
        "days_to_departure_1d", "documents_read_other_unit_sensitive_1d",
        "meetings_closed_other_unit_1d"})
    long_horizon: ClassVar[bool] = True
    #: Whole tenure: about three years of active days.
    lookback_days: ClassVar[int] = 750

    #: Documents of at least this sensitivity count (2 confidential).
    min_sensitivity: int = 2
    #: The haul is what left over the last this many active days.
    haul_days: int = 10
    #: At least this many sensitive documents in the haul ...
    min_haul: int = 15
    #: ... and this many times what the person's own earlier rate predicts.
    haul_ratio: float = 5.0
    #: Active days of history before the haul that its rate is measured against.
    min_history: int = 20
    #: A tenure below this many days is short (a job hopper's one or two years).
    short_tenure_days: int = 730
    #: Multiplier when no departure is known.
    no_departure_factor: float = 0.6

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a stricter haul."""
        return [{}, {"min_sensitivity": 3, "haul_days": 5, "min_haul": 25, "haul_ratio": 10.0}]

    def score(self, window: Window) -> ibis.Table:
        """Findings on haul days and on the days to a known departure after one."""
        o = window.table("outbound")
        o = o.filter(o.channel.isin(TAKE_CHANNELS),
                     o.sensitivity.cast("int64") >= self.min_sensitivity)
        taken = o.group_by(h_user=o.user_id, h_day=o.day).aggregate(
            h_documents=o.doc_id.nunique(), h_events=o.events.sum(),
            h_media=o.doc_id.nunique(where=o.channel == "removable_media"))
        u = window.user_day
        u = u.select(
            "user_id", "day", "role", tenure=u.days_since_hire_1d,
            leaving=u.days_to_departure_1d,
            reach=(u.documents_read_other_unit_sensitive_1d.fill_null(0)
                   + u.meetings_closed_other_unit_1d.fill_null(0)).cast("float64"))
        u = u.left_join(taken, [u.user_id == taken.h_user, u.day == taken.h_day])
        u = u.select("user_id", "day", "role", "tenure", "leaving", "reach",
                     documents=u.h_documents.fill_null(0).cast("float64"),
                     media=u.h_media.fill_null(0))
        whole = ibis.window(group_by=u.user_id, order_by=u.day, preceding=None, following=0)
        recent = ibis.window(group_by=u.user_id, order_by=u.day,
                             preceding=self.haul_days - 1, following=0)
        u = u.mutate(
            days=ibis.row_number().over(whole) + 1,
            total=u.documents.sum().over(whole), reach_total=u.reach.sum().over(whole),
            haul=u.documents.sum().over(recent), haul_media=u.media.sum().over(recent))
        # the role's reach over the same days, the person left out (no hindsight)
        r = u.group_by(r_role=u.role, r_day=u.day).aggregate(
            r_reach=u.reach.sum(), r_days=u.count())
        role_whole = ibis.window(group_by=r.r_role, order_by=r.r_day, preceding=None,
                                 following=0)
        r = r.mutate(r_reach=r.r_reach.sum().over(role_whole),
                     r_days=r.r_days.sum().over(role_whole))
        u = u.left_join(r, [u.role.identical_to(r.r_role), u.day == r.r_day])
        earlier_days = ibis.greatest(u.days - self.haul_days, 0).cast("float64")
        earlier_rate = ibis.ifelse(earlier_days > 0, (u.total - u.haul) / earlier_days, 0.0)
        expected = earlier_rate * float(self.haul_days)
        others_days = (u.r_days.fill_null(0) - u.days).cast("float64")
        others_rate = ibis.ifelse(others_days > 0,
                                  (u.r_reach.fill_null(0.0) - u.reach_total) / others_days,
                                  0.0)
        own_rate = u.reach_total / u.days.cast("float64")
        u = u.mutate(_expected=expected, _own_reach=own_rate, _role_reach=others_rate)
        # a haul needs a history to stand out from: in the window's (or a newcomer's) first
        # weeks nothing is known of the person's usual
        big = ((u.haul >= self.min_haul) & (earlier_days >= self.min_history)
               & (u.haul >= self.haul_ratio * ibis.greatest(u._expected, 1.0)))
        hauling_today = big & (u.documents > 0)
        # after a haul, the days up to a known departure: the risk must not fade before
        # the person leaves
        nearing = big & u.leaving.notnull()
        t = u.filter(hauling_today | nearing)
        short = t.tenure.notnull() & (t.tenure < self.short_tenure_days)
        ratio = t._own_reach / ibis.greatest(t._role_reach, 0.05)
        # each part is a column, not an inlined copy: a smaller plan for Spark's analyser
        t = t.mutate(
            _haul_s=0.4 + 0.3 * saturate(t.haul - self.min_haul, 30.0),
            _leaving_s=ibis.ifelse(
                t.leaving.notnull(),
                0.35 + 0.2 * (1.0 - bounded(t.leaving, 0, 30).cast("float64") / 30.0), 0.0),
            _tenure_s=ibis.ifelse(
                short, 0.3 * (1.0 - t.tenure.cast("float64") / self.short_tenure_days), 0.0),
            _reach_s=ibis.ifelse(ratio > 2.0, 0.4 * saturate(ratio - 2.0, 4.0), 0.0))
        t = t.mutate(_combined=noisy_or(t._haul_s, t._leaving_s, t._tenure_s, t._reach_s))
        t = t.mutate(_score=exact_round(ibis.ifelse(
            t.leaving.notnull(), t._combined, t._combined * self.no_departure_factor)))
        haul_s, leaving_s, tenure_s, reach_s = t._haul_s, t._leaving_s, t._tenure_s, t._reach_s
        score = t._score
        haul_text = ibis.literal(str(self.haul_days))
        reasons = [
            reason("sensitive_documents_taken_recent", t.haul, t._expected, haul_s,
                   number_text(t.haul).concat(
                       " confidential or higher documents left (", number_text(t.haul_media),
                       " to removable media) in the last ", haul_text,
                       " active days; the person's own rate before predicts ",
                       number_text(t._expected, 1))),
            reason("days_to_departure_1d", t.leaving, None, leaving_s,
                   ibis.literal("leaving in ").concat(number_text(t.leaving.fill_null(0)),
                                                      " days")),
            reason("days_since_hire_1d", t.tenure, float(self.short_tenure_days), tenure_s,
                   ibis.literal("joined ").concat(number_text(t.tenure.fill_null(0)),
                                                  " days ago: a short tenure")),
            reason("reach_other_units_sensitive_tenure", t._own_reach, t._role_reach, reach_s,
                   ibis.literal("over the whole tenure ").concat(
                       number_text(t._own_reach, 1),
                       " sensitive documents and closed meetings of other departments per"
                       " active day; the role's others ", number_text(t._role_reach, 1))),
        ]
        found = findings(t, detector=self, score=score, reasons=reasons)
        # the events store does not label every event (``outbound`` does, after matching):
        # the evidence is the day's copies to media, personal mail, uploads and prints
        return with_evidence(found, window.events, lambda e: (
            ((e.channel == "removable_media") & e.action.isin(("file_copy", "file_write")))
            | ((e.channel == "webmail") & (e.action == "email_send"))
            | e.action.isin(("web_upload", "print"))))
