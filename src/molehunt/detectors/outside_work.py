"""S4 undeclared outside work (and S1's intermediaries): regular contact with expert networks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    Detector,
    Window,
    bounded,
    domain_pattern,
    exact_round,
    findings,
    noisy_or,
    number_text,
    reason,
    saturate,
    with_evidence,
)

#: Channels of ``outbound`` that put content in an outside person's hands by mail.
MAIL_OUT_CHANNELS = ("email_external", "webmail")


def _signed_lr(k: Any, n: Any, p: Any) -> Any:
    """Signed root of the binomial log-likelihood ratio: ``k`` of ``n`` against rate ``p``.

    About a z-score for any size of ``k`` (0 when ``k`` is at or below what ``p`` predicts).
    """
    k = k.cast("float64")
    n = n.cast("float64")
    mu = p * n
    first = ibis.ifelse(k > 0, k * (k / mu).ln(), 0.0)
    second = ibis.ifelse(n - k > 0, (n - k) * ((n - k) / ibis.greatest(n - mu, 1e-9)).ln(),
                         0.0)
    g = 2.0 * (first + second)
    return ibis.ifelse(k > mu, ibis.greatest(g, 0.0).sqrt(), 0.0)


@dataclass(kw_only=True)
class OutsideWork(Detector):
    """Regular contact with expert networks and intermediaries, beyond the role, undeclared.

    Scenario: undeclared outside work (S4): a profile on an expert network, then paid calls
    and mails to consulting intermediaries, more and more often, and what is sent grows more
    sensitive with it; the paid consultant (S1) after an approach around a business trip
    keeps regular contact with intermediaries for months. A single contact is nothing: the
    signals are regularity over months, a rising frequency and an onset after travel.

    Signals: contact with intermediaries from the features (``emails_to_expert_network_1d`` for
    mail, ``visits_expert_network_1d`` for their sites, profiles and uploads). Over the person's
    last ``span_days`` active days the number of *weeks* with contact (so a burst in one week
    counts once) is tested against the rate of the role's other people who declared no
    engagement, over the same trailing span (a binomial likelihood-ratio ``z``, mail and web
    each on their own: sales people browse expert networks as part of their market work, nobody
    in the role mails them). With at least ``min_weeks`` weeks and ``z >= min_z`` every contact
    day is a finding, scored higher the more regular, when the contact rose in the second half
    of the span (``rising``), when it began within ``travel_days`` of the end of a business trip
    (``days_since_travel_1d`` at the first mail after ``quiet_days`` without any; then one week
    fewer and a ``z`` lower by ``trip_z_discount`` suffice: an approach), and by what went out
    on contact days: labelled content to outside addresses (``outbound``, mean sensitivity over
    the span) and attachments (``attachments_out_email_1d``).

    False positives: declared consultants (``outside_engagement_declared_1d``): contact is
    what they declared, so the contact part counts ``declared_factor`` and the reason says
    so; labelled content leaving on their contact days is not covered by a declaration and
    still counts. Sales and market staff who browse expert networks and analysts weekly are
    compared with their role, which does the same; someone who has read the sites in nearly
    every week of the span, no more lately and not since a trip, has a reading habit (the
    contact counts ``web_habit_factor``). A role whose duty is the contact (an
    investor-relations desk) has a high role rate; a lone person with that duty belongs on
    an allowlist. The content measure is by day, not by message: labelled mail to a partner
    on a day with an intermediary contact counts as sent on a contact day.
    """

    name: ClassVar[str] = "outside_work"
    version: ClassVar[int] = 3
    kind: ClassVar[str] = "baseline"
    observes: ClassVar[frozenset[str]] = frozenset({
        "email_sent", "web_visit", "hr_declarations", "hr_travel"})
    fallbacks: ClassVar[Mapping[str, str]] = {
        "hr_declarations": "steady contact counts like declared contact; rising contact and"
                           " what was sent count in full",
        "hr_travel": "the onset after a trip is not used; regularity and rise remain",
    }
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "events", "outbound", "role", "emails_to_expert_network_1d",
        "visits_expert_network_1d", "attachments_out_email_1d", "days_since_travel_1d",
        "outside_engagement_declared_1d"})
    long_horizon: ClassVar[bool] = True
    #: The trailing span plus the quiet spell an onset needs.
    lookback_days: ClassVar[int] = 200

    #: Trailing span, in the person's active days (about half a year).
    span_days: int = 130
    #: At least this many weeks with contact in the span before anything is said.
    min_weeks: int = 3
    #: Likelihood-ratio statistic above which the weeks with contact are unusual for the role.
    min_z: float = 2.5
    #: Share of weeks with contact assumed at the least (a role where nobody has any).
    min_rate: float = 0.01
    #: A mail after this many active days without any starts a new spell (an onset).
    quiet_days: int = 40
    #: An onset this many days after the end of a business trip follows the trip.
    travel_days: int = 30
    #: How much lower the ``z`` bar is (and one week fewer) when mail began after a trip.
    trip_z_discount: float = 0.5
    #: Multiplier of the contact part when only the sites, not mail, are unusual.
    web_only_factor: float = 0.5
    #: Further multiplier for site visits in at least ``habit_share`` of the span's weeks,
    #: not rising and not begun after a trip: a long-standing reading habit.
    web_habit_factor: float = 0.5
    #: Share of the span's weeks with contact that makes browsing a standing habit.
    habit_share: float = 0.75
    #: Multiplier of the contact part for people who declared an outside engagement.
    declared_factor: float = 0.3

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a shorter, stricter test."""
        return [{}, {"span_days": 60, "min_weeks": 6, "min_z": 4.0, "declared_factor": 0.0}]

    def score(self, window: Window) -> ibis.Table:
        """A finding on each contact day once the weeks with contact are unusual."""
        u = window.user_day
        o = window.table("outbound")
        o = o.filter(o.channel.isin(MAIL_OUT_CHANNELS), o.sensitivity.cast("int64") >= 1)
        labelled = o.group_by(l_user=o.user_id, l_day=o.day).aggregate(
            l_documents=o.doc_id.nunique(),
            l_level=o.sensitivity.cast("float64").max())
        mail = u.emails_to_expert_network_1d.fill_null(0) > 0
        web = u.visits_expert_network_1d.fill_null(0) > 0
        u = u.select("user_id", "day", "role",
                     week=(u.day.epoch_days() / 7).floor().cast("int64"),
                     mail=mail.cast("int64"), web=web.cast("int64"),
                     mails=u.emails_to_expert_network_1d.fill_null(0),
                     visits=u.visits_expert_network_1d.fill_null(0),
                     attachments=u.attachments_out_email_1d.fill_null(0),
                     trip=u.days_since_travel_1d,
                     declared=u.outside_engagement_declared_1d.fill_null(0))
        u = u.left_join(labelled, [u.user_id == labelled.l_user, u.day == labelled.l_day])
        contact = (u.mail + u.web) > 0
        u = u.select(
            "user_id", "day", "role", "week", "mail", "web", "mails", "visits", "trip",
            "declared", contact=contact.cast("int64"),
            attachments=ibis.ifelse(contact, u.attachments, 0),
            level=ibis.ifelse(contact & u.l_level.notnull(), u.l_level, ibis.null("float64")),
            labelled=ibis.ifelse(contact & u.l_level.notnull(), 1, 0))
        # a week counts once: its first active day, its first day with each kind of contact
        in_week = ibis.window(group_by=[u.user_id, u.week], order_by=u.day,
                              preceding=None, following=0)
        u = u.mutate(
            first_active=(ibis.row_number().over(in_week) == 0).cast("int64"),
            first_mail=((u.mail > 0) & (u.mail.sum().over(in_week) == 1)).cast("int64"),
            first_web=((u.web > 0) & (u.web.sum().over(in_week) == 1)).cast("int64"))
        span = ibis.window(group_by=u.user_id, order_by=u.day,
                           preceding=self.span_days - 1, following=0)
        half = ibis.window(group_by=u.user_id, order_by=u.day,
                           preceding=self.span_days // 2 - 1, following=0)
        quiet = ibis.window(group_by=u.user_id, order_by=u.day,
                            preceding=self.quiet_days, following=0)
        u = u.mutate(
            n=u.first_active.sum().over(span), n_recent=u.first_active.sum().over(half),
            k_mail=u.first_mail.sum().over(span), k_web=u.first_web.sum().over(span),
            recent_mail=u.first_mail.sum().over(half), recent_web=u.first_web.sum().over(half),
            mails_quiet=u.mail.sum().over(quiet),
            span_attachments=u.attachments.sum().over(span),
            span_labelled=u.labelled.sum().over(span),
            span_level=u.level.mean().over(span))
        # an onset: the first mail to an intermediary after a quiet spell; did it follow a
        # business trip? (browsing their sites is many people's habit, writing is not)
        onset = (u.mail > 0) & (u.mails_quiet == 1)
        after_trip = onset & u.trip.notnull() & (u.trip <= self.travel_days)
        u = u.mutate(onset_trip=ibis.ifelse(after_trip, u.trip, ibis.null("int64")))
        u = u.mutate(trip_onset=u.onset_trip.min().over(span))
        # the role's rate of weeks with contact over the same trailing span, the person left
        # out: what contact is normal in this job
        # declared consultants' contact is explained: it must not make contact look normal
        # for everyone else in their role
        undeclared = (u.declared == 0).cast("int64")
        r = u.group_by(r_role=u.role, r_day=u.day).aggregate(
            r_n=(u.first_active * undeclared).sum(), r_mail=(u.first_mail * undeclared).sum(),
            r_web=(u.first_web * undeclared).sum())
        role_span = ibis.window(group_by=r.r_role, order_by=r.r_day,
                                preceding=self.span_days - 1, following=0)
        r = r.mutate(r_n=r.r_n.sum().over(role_span), r_mail=r.r_mail.sum().over(role_span),
                     r_web=r.r_web.sum().over(role_span))
        t = u.filter(u.contact > 0)
        t = t.left_join(r, [t.role.identical_to(r.r_role), t.day == r.r_day])
        # a span that starts mid-week can hold a week's first contact but not its first day
        t = t.mutate(n=ibis.greatest(t.n, t.k_mail, t.k_web))
        # the person is left out of the role's counts (when they are in them: undeclared)
        own = (t.declared == 0).cast("int64")
        others_n = (t.r_n.fill_null(0) - t.n * own).cast("float64")

        def rate(others_k: Any) -> Any:
            share = ibis.ifelse(others_n > 0, others_k.cast("float64") / others_n, 0.0)
            return bounded(share, self.min_rate, 0.95)

        # each step is its own projection: an expression used in several places is then a
        # column, not a copy (inlined copies make a plan too large for Spark's analyser)
        t = t.mutate(_p_mail=rate(t.r_mail.fill_null(0) - t.k_mail * own),
                     _p_web=rate(t.r_web.fill_null(0) - t.k_web * own))
        t = t.mutate(_z_mail=_signed_lr(t.k_mail, t.n, t._p_mail),
                     _z_web=_signed_lr(t.k_web, t.n, t._p_web),
                     _mu_mail=t._p_mail * t.n.cast("float64"),
                     _mu_web=t._p_web * t.n.cast("float64"))
        # contact that began just after a business trip is what an approach looks like: one
        # week fewer and a lower bar then
        after_trip = t.trip_onset.notnull()
        t = t.mutate(
            _after_trip=after_trip,
            _mail_unusual=((t.k_mail >= self.min_weeks) & (t._z_mail >= self.min_z)) | (
                after_trip & (t.k_mail >= self.min_weeks - 1)
                & (t._z_mail >= self.min_z - self.trip_z_discount)),
            _web_unusual=(t.k_web >= self.min_weeks) & (t._z_web >= self.min_z))
        t = t.filter(t._mail_unusual | t._web_unusual)
        t = t.mutate(
            _mail_s=ibis.ifelse(t._mail_unusual,
                                0.45 + 0.35 * saturate(t._z_mail - self.min_z, 3.0), 0.0),
            _web_s=ibis.ifelse(t._web_unusual,
                               0.2 + 0.15 * saturate(t._z_web - self.min_z, 3.0), 0.0),
            _k=ibis.ifelse(t._mail_unusual, t.k_mail, t.k_web),
            _recent=ibis.ifelse(t._mail_unusual, t.recent_mail, t.recent_web))
        # frequency rising: most of the span's contact weeks fall in its second half, and
        # the first half was observed (not the start of the person's data)
        rising = (t._recent * 4 >= t._k * 3) & ((t.n - t.n_recent) * 3 >= t.n_recent)
        t = t.mutate(
            _regular_s=0.25 * saturate(t._k - self.min_weeks, 6.0),
            _rising_s=ibis.ifelse(rising, 0.15, 0.0),
            _trip_s=ibis.ifelse(t._after_trip, 0.2, 0.0),
            # what went out on contact days is not covered by any declaration
            _level_s=ibis.ifelse(
                t.span_labelled > 0,
                0.3 * (bounded(t.span_level.fill_null(1.0) - 1.0, 0.0, 3.0) / 3.0)
                + 0.1 * saturate(t.span_labelled - 1, 4.0), 0.0),
            _attach_s=0.1 * saturate(t.span_attachments, 5.0))
        # browsing alone is weaker than writing: reading and a profile, no exchange seen;
        # many people in market roles read expert networks' sites as part of their work, and
        # someone who has read them nearly every week for the whole span, no more lately,
        # has a habit: day after day it would otherwise add the same weak finding to
        # whatever else the day brings
        web_habit = (~t._mail_unusual & ~rising & ~t._after_trip
                     & (t._k.cast("float64") >= self.habit_share * t.n.cast("float64")))
        t = t.mutate(_web_habit=web_habit)
        t = t.mutate(_contact_s=noisy_or(t._mail_s, t._web_s, t._regular_s, t._rising_s,
                                         t._trip_s)
                     * ibis.ifelse(t._mail_unusual, 1.0, self.web_only_factor)
                     * ibis.ifelse(t._web_habit, self.web_habit_factor, 1.0))
        declared = t.declared > 0
        # where HR declarations cannot be seen, steady contact (not rising, not after a trip)
        # is what a declared consultant has: it counts like one, and the reason says why
        blind = not window.sees("hr_declarations")
        steady = ~rising & ~t._after_trip if blind else ibis.literal(False)
        t = t.mutate(_steady_unknown=steady)
        t = t.mutate(_contact_part=ibis.cases(
            (declared, t._contact_s * self.declared_factor),
            (t._steady_unknown, t._contact_s * self.declared_factor),
            else_=t._contact_s))
        t = t.mutate(_score=exact_round(noisy_or(t._contact_part, t._level_s, t._attach_s)))
        declared = t.declared > 0
        mail_s, web_s, k, recent = t._mail_s, t._web_s, t._k, t._recent
        regular_s, rising_s, trip_s = t._regular_s, t._rising_s, t._trip_s
        level_s, attach_s, score = t._level_s, t._attach_s, t._score
        weeks_text = ibis.literal(" weeks of the last ").concat(number_text(t.n), " active weeks")
        reasons = [
            reason("expert_network_mail_weeks", t.k_mail, t._mu_mail, mail_s,
                   ibis.literal("mail to expert networks or intermediaries in ").concat(
                       number_text(t.k_mail), weeks_text, "; the role's rate predicts ",
                       number_text(t._mu_mail, 1), " (z ", number_text(t._z_mail, 1), ")")),
            reason("expert_network_web_weeks", t.k_web, t._mu_web, web_s,
                   ibis.literal("expert-network sites visited in ").concat(
                       number_text(t.k_web), weeks_text, "; the role's rate predicts ",
                       number_text(t._mu_web, 1), " (z ", number_text(t._z_web, 1), ")")),
            reason("expert_network_contact_regular", k, self.min_weeks, regular_s,
                   number_text(k).concat(" weeks with contact: a habit, not an incident")),
            reason("expert_network_contact_rising", recent, k - recent, rising_s,
                   number_text(recent).concat(" of those weeks in the last half of the span, ",
                                              number_text(k - recent), " before: rising")),
            reason("expert_network_contact_after_travel", t.trip_onset, self.travel_days,
                   trip_s, ibis.literal("contact began ").concat(
                       number_text(t.trip_onset.fill_null(0)),
                       " days after a business trip ended")),
            reason("expert_network_web_habit", t._k, t.n, ibis.ifelse(t._web_habit, 0.01, 0.0),
                   ibis.literal("sites read in most weeks of the span, no more lately: a "
                                "reading habit, the contact counts ").concat(
                       number_text(ibis.literal(self.web_habit_factor * 100.0)), "%")),
            reason("expert_network_declarations_unseen", t._steady_unknown.cast("float64"), None,
                   ibis.ifelse(t._steady_unknown, 0.01, 0.0),
                   ibis.literal("no HR declarations can be seen here; steady contact, not"
                                " rising and not after a trip, counts ").concat(
                       number_text(ibis.literal(self.declared_factor * 100.0)), "%")),
            reason("expert_network_engagement_declared", t.declared, 0.0,
                   ibis.ifelse(declared, 0.01, 0.0),
                   ibis.literal("an outside engagement is declared: contact counts ").concat(
                       number_text(ibis.literal(self.declared_factor * 100.0)),
                       "%, what was sent counts in full")),
            reason("sensitivity_out_contact_days", t.span_level, 1.0, level_s,
                   number_text(t.span_labelled).concat(
                       " contact day(s) with labelled content sent outside, mean sensitivity ",
                       number_text(t.span_level.fill_null(0.0), 1), " of 4")),
            reason("attachments_out_contact_days", t.span_attachments, 0.0, attach_s,
                   number_text(t.span_attachments).concat(
                       " attachment(s) sent outside on contact days in the span")),
        ]
        found = findings(t, detector=self, score=score, reasons=reasons)
        intermediaries = domain_pattern(window, "expert_network")
        return with_evidence(found, window.events, lambda e: (
            e.action.isin(("email_send", "web_visit", "web_upload", "web_download"))
            & e.domain.notnull() & e.domain.re_search(intermediaries)))

