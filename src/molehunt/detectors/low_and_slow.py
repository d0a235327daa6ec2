"""S1 paid consultant: many small leaks of labelled content, each harmless, adding up."""

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

#: Channels that put content in an outside person's hands (not one's own storage or media).
OUTSIDE_CHANNELS = ("email_external", "webmail", "paste_leak")


@dataclass(kw_only=True)
class LowAndSlow(Detector):
    """Labelled content reaching outside people on far more days than the role's rate explains.

    Scenario: a paid consultant (S1) or someone in undeclared outside work (S4) sends, for
    months or years, small excerpts of internal documents to expert-network contacts and
    personal addresses; every message stays below any per-event or per-day threshold (the
    same number of mails, the same sizes), only the accumulation gives it away.

    Signals: the ``outbound`` table (what left, per person, day, channel and document, with
    its sensitivity from labels, markings and matches against the protected corpus): days on
    which content of sensitivity ``min_sensitivity`` or more went to an outside address
    (external mail, personal webmail, paste sites). Over the person's last ``horizon_days``
    active days the count ``k`` of such days is tested against what the role's rate predicts
    for the person's days of outside mail (``emails_external_sent_1d``,
    ``emails_personal_sent_1d``): the role's leak days per day of outside mail over the same
    trailing span, the person left out:
    a Poisson rate test whose signed likelihood-ratio statistic is the ``z`` reported); with
    at least ``min_days`` days and ``z >= min_z`` each leak day is a finding, scored higher
    the further above the rate, the more days and the more sensitive what left (mean level
    over the span). The person's own earlier rate is reported beside it (a change point:
    someone who always did this at this rate is a reason to look at the role, not at them).

    False positives: roles whose work sends labelled material out (sales sending internal
    price lists to customers) have a high role rate, so their people are not singled out; a
    single person in a role with that duty (a lone partner manager) is, and belongs on an
    allowlist; labelled content quoted back in replies to partners counts as leaving.
    """

    name: ClassVar[str] = "low_and_slow"
    kind: ClassVar[str] = "baseline"
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "outbound", "role", "emails_external_sent_1d", "emails_personal_sent_1d"})
    long_horizon: ClassVar[bool] = True
    #: The trailing span the rate is tested over (in active days: about a year).
    lookback_days: ClassVar[int] = 250

    #: Trailing span, in the person's active days.
    horizon_days: int = 250
    #: Content of at least this sensitivity counts (1 internal, 2 confidential).
    min_sensitivity: int = 1
    #: At least this many leak days in the span before anything is said.
    min_days: int = 3
    #: Signed likelihood-ratio statistic above which the count is unusual for the role.
    min_z: float = 3.0
    #: Leak days per day of outside mail assumed at the least (a role where nobody did it).
    min_rate: float = 0.003

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a stricter, shorter test."""
        return [{}, {"horizon_days": 120, "min_sensitivity": 2, "min_days": 5, "min_z": 4.0}]

    def score(self, window: Window) -> ibis.Table:
        """A finding on each leak day once the count over the span is unusual for the role."""
        o = window.table("outbound")
        o = o.filter(o.channel.isin(OUTSIDE_CHANNELS),
                     o.sensitivity.cast("int64") >= self.min_sensitivity)
        leaks = o.group_by(l_user=o.user_id, l_day=o.day).aggregate(
            l_documents=o.doc_id.nunique(), l_events=o.events.sum(),
            l_sensitivity=o.sensitivity.cast("float64").mean())
        u = window.user_day
        # the opportunity: days on which the person wrote to anyone outside at all
        writes = ((u.emails_external_sent_1d.fill_null(0) + u.emails_personal_sent_1d.fill_null(0))
                  > 0)
        u = u.select("user_id", "day", "role", writes=writes.cast("int64"))
        u = u.left_join(leaks, [u.user_id == leaks.l_user, u.day == leaks.l_day])
        u = u.select("user_id", "day", "role",
                     leak=(u.l_events.fill_null(0) > 0).cast("int64"),
                     writes=ibis.greatest(u.writes, (u.l_events.fill_null(0) > 0).cast("int64")),
                     documents=u.l_documents.fill_null(0),
                     sensitivity=u.l_sensitivity)
        span = ibis.window(group_by=u.user_id, order_by=u.day,
                           preceding=self.horizon_days - 1, following=0)
        u = u.mutate(k=u.leak.sum().over(span), a=u.writes.sum().over(span),
                     level=(u.sensitivity * u.leak).sum().over(span),
                     recent=u.leak.sum().over(ibis.window(
                         group_by=u.user_id, order_by=u.day,
                         preceding=self.horizon_days // 2 - 1, following=0)))
        # the role's rate over the same trailing span (in the role's active days)
        r = u.group_by(r_role=u.role, r_day=u.day).aggregate(r_leaks=u.leak.sum(),
                                                             r_active=u.writes.sum())
        role_span = ibis.window(group_by=r.r_role, order_by=r.r_day,
                                preceding=self.horizon_days - 1, following=0)
        r = r.mutate(r_k=r.r_leaks.sum().over(role_span), r_a=r.r_active.sum().over(role_span))
        t = u.filter(u.leak > 0)
        t = t.left_join(r, [t.role.identical_to(r.r_role), t.day == r.r_day])
        others_k = (t.r_k.fill_null(0) - t.k).cast("float64")
        others_a = (t.r_a.fill_null(0) - t.a).cast("float64")
        rate = ibis.greatest(ibis.ifelse(others_a > 0, others_k / others_a, 0.0), self.min_rate)
        mu = rate * t.a.cast("float64")
        k = t.k.cast("float64")
        # signed sqrt of the Poisson log-likelihood ratio: about a z-score, any size of k
        g = 2.0 * (k * (k / mu).ln() - (k - mu))
        z = ibis.ifelse(k > mu, ibis.greatest(g, 0.0).sqrt(), 0.0)
        t = t.mutate(_z=z, _mu=mu, _mean_level=t.level / t.k.cast("float64"),
                     _earlier=t.k - t.recent)
        unusual = (t.k >= self.min_days) & (t._z >= self.min_z)
        rate_s = ibis.ifelse(unusual, 0.45 + 0.4 * saturate(t._z - self.min_z, 3.0), 0.0)
        days_s = ibis.ifelse(unusual, 0.25 * saturate(t.k - self.min_days, 6.0), 0.0)
        level_s = ibis.ifelse(unusual, 0.3 * (bounded(t._mean_level - 1.0, 0.0, 3.0) / 3.0),
                              0.0)
        # a count that only began recently (a change point) is what an approach looks like
        onset_s = ibis.ifelse(unusual & (t._earlier * 4 <= t.k), 0.15, 0.0)
        score = noisy_or(rate_s, days_s, level_s, onset_s)
        horizon = ibis.literal(str(self.horizon_days))
        reasons = [
            reason("labelled_out_to_outside_days", t.k, t._mu, rate_s,
                   number_text(t.k).concat(
                       " days with labelled content sent to outside addresses in the last ",
                       horizon, " active days; the role's rate predicts ",
                       number_text(t._mu, 1), " (z ", number_text(t._z, 1), ")")),
            reason("labelled_out_to_outside_documents", t.documents, 0.0, days_s,
                   number_text(t.documents).concat(" labelled document(s) left today")),
            reason("sensitivity_out_mean", t._mean_level, 1.0, level_s,
                   ibis.literal("mean sensitivity of what left over the span: ").concat(
                       number_text(t._mean_level, 1), " of 4")),
            reason("labelled_out_to_outside_onset", t._earlier, t.k, onset_s,
                   number_text(t._earlier).concat(
                       " of them in the first half of the span: a recent start")),
        ]
        found = findings(t, detector=self, score=exact_round(score), reasons=reasons)
        return with_evidence(found, window.events, lambda e: (
            e.channel.isin(OUTSIDE_CHANNELS) & e.action.isin(("email_send", "web_upload"))
            & (e.content.notnull() | e.doc_id.notnull())))
