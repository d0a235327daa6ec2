"""S1/S4 escalation: what a person sends out climbs in sensitivity over months."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    Detector,
    Window,
    bounded,
    damp_repeats,
    exact_round,
    findings,
    noisy_or,
    number_text,
    reason,
    saturate,
    unit_interval,
    with_evidence,
)

#: Channels that put content in an outside person's hands (not one's own storage or media).
OUTSIDE_CHANNELS = ("email_external", "webmail", "paste_leak")

#: Day numbers count from here; any fixed origin gives the same slopes (integer arithmetic).
_ORIGIN = dt.date(2000, 1, 1)

#: Sums of a least-squares fit of level on day number, over the days something left.
_FIT_SUMS = ("n", "sx", "sy", "sxx", "sxy", "syy")


def _fit(sums: list[Any], min_variance: float) -> tuple[Any, Any]:
    """Slope (levels per day) and its standard error from the sums of a least-squares fit.

    ``sums`` are, in the order of :data:`_FIT_SUMS`, the count of points and the sums of
    x, y, x², xy and y² (int64 expressions).

    The centred sums are formed in int64 (``n·Σxx - (Σx)²`` …), exactly, before any
    division: day numbers are large and floating-point cancellation would make the engines
    disagree. The residual variance is floored at ``min_variance`` because levels are whole
    numbers: a person whose every send had the same level would otherwise have no spread.
    """
    n, sx, sy, sxx, sxy, syy = sums
    nsxx = n * sxx - sx * sx
    nsxy = n * sxy - sx * sy
    nsyy = n * syy - sy * sy
    usable = (n >= 3) & (nsxx > 0)
    fsxx = ibis.ifelse(usable, nsxx, 1).cast("float64")
    fsxy = nsxy.cast("float64")
    slope = ibis.ifelse(usable, fsxy / fsxx, 0.0)
    # residual sum of squares = (n·Σyy - (Σy)² - (n·Σxy - ΣxΣy)² / (n·Σxx - (Σx)²)) / n
    rss = (nsyy.cast("float64") - fsxy * fsxy / fsxx) / ibis.greatest(n, 1).cast("float64")
    variance = ibis.greatest(rss / ibis.greatest(n - 2, 1).cast("float64"), min_variance)
    error = (variance * n.cast("float64") / fsxx).sqrt()
    return slope, ibis.ifelse(usable, error, ibis.null("float64"))



@dataclass(kw_only=True)
class SensitivityEscalation(Detector):
    """What a person sends outside climbs in sensitivity for months, unlike their team.

    Scenario: a paid consultant (S1) starts with internal material and over months sends
    confidential, then core-technology excerpts to intermediaries and personal addresses; in
    undeclared outside work (S4) contact with expert networks rises together with the
    sensitivity of what is sent. Each message is small; the drift is the signal.

    Signals: from the ``outbound`` table, the highest sensitivity (labels, markings, matches
    against the protected corpus) of what went to outside addresses (external mail, personal
    webmail, paste sites) on each day something labelled left. Over the last
    ``horizon_days`` calendar days, a least-squares trend of that level against time: the
    slope, its t statistic and the climb it implies over the span. It fires on a day on which
    something of level ``min_level`` or more left, when there are ``min_sends`` days or more,
    the climb is at least ``min_climb`` levels and the t statistic of the slope *above the
    team's* (the rest of the team's trend over the same days, when they sent enough to have
    one) is at least ``min_t``; the fitted level now must be at least ``min_level`` and above
    the mean level that the rest of the role sends out. Scored higher the steeper, the larger
    the climb and the more sensitive today's; a rising share of secret reads
    (``documents_read_secret_1d`` of ``documents_read_1d``, recent ``recent_days`` against
    the earlier part of the span, more than the team's) and rising contact with expert
    networks (``emails_to_expert_network_1d``, ``visits_expert_network_1d``) add to it.
    A day whose t statistic is not ``growth`` times the strongest of the last ``quiet_days``
    repeats what was found and counts ``repeat_factor`` of its score.

    False positives: a role that routinely sends sensitive material out has no trend and a
    high role level, so it is not flagged; a new project that raises the level of the whole
    team raises the team's trend too, which is subtracted; one unusual send does not make a
    trend (``min_sends``, the t statistic). A person who changes into a job that legitimately
    sends more sensitive material out (a new partner programme) climbs alone and is flagged
    until the team's level follows; an analyst can allowlist them.
    """

    name: ClassVar[str] = "sensitivity_escalation"
    kind: ClassVar[str] = "baseline"
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "outbound", "role", "team", "documents_read_1d",
        "documents_read_secret_1d", "emails_to_expert_network_1d", "visits_expert_network_1d"})
    long_horizon: ClassVar[bool] = True
    #: The calendar span of the trend (``horizon_days``) in active days, with room.
    lookback_days: ClassVar[int] = 250

    #: Calendar days the trend is fitted over.
    horizon_days: int = 365
    #: The recent part of the span whose share of secret reads and contact rate are compared.
    recent_days: int = 90
    #: Days with labelled content sent outside needed before a trend is believed.
    min_sends: int = 8
    #: t statistic of the slope (above the team's) that counts as a rise.
    min_t: float = 3.0
    #: Levels the fitted trend must climb over the span (1 = internal to confidential).
    min_climb: float = 1.0
    #: What leaves must reach this level (2 confidential) for a rise to matter.
    min_level: int = 2
    #: A finding whose t statistic is no more than ``growth`` times the strongest of the
    #: person's last ``quiet_days`` counts ``repeat_factor`` of its score (already known:
    #: at 0.3 a daily repeat of even a strong finding keeps risk at band low).
    quiet_days: int = 60
    growth: float = 1.5
    repeat_factor: float = 0.3

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a shorter, stricter test."""
        return [{}, {"horizon_days": 180, "recent_days": 45, "min_sends": 5, "min_t": 4.0}]

    def score(self, window: Window) -> ibis.Table:
        """A finding on each day something sensitive left while the trend is a rise."""
        d = self._days(window)
        span = dict(order_by="x", range=(-(self.horizon_days - 1), 0))
        recent = dict(order_by="x", range=(-(self.recent_days - 1), 0))
        person = ibis.window(group_by="user_id", **span)
        person_recent = ibis.window(group_by="user_id", **recent)
        p = d.mutate(**_sums(d, person, person_recent),
                     first_x=ibis.ifelse(d.n > 0, d.x, ibis.null("int64")).min().over(person))
        t = p.filter(p.level.notnull(), p.level >= self.min_level, p.n_span >= self.min_sends)
        for group in ("team", "role"):
            g = d.group_by(group, "x").aggregate(
                **{c: d[c].sum() for c in _DAY_SUMS})
            w = ibis.window(group_by=group, **span)
            w_recent = ibis.window(group_by=group, **recent)
            g = g.select(group, "x", **_sums(g, w, w_recent))
            g = g.rename(**{f"{group}_key": group, f"{group}_x": "x",
                            **{f"{group}_{c}": c for c in _SPAN_SUMS}})
            t = t.left_join(g, [t[group].identical_to(g[f"{group}_key"]),
                                t.x == g[f"{group}_x"]])
            t = t.drop(f"{group}_key", f"{group}_x")
        return self._findings(t, window)

    def _days(self, window: Window) -> ibis.Table:
        """Per person and active day: the level sent outside and the day's sums."""
        o = window.table("outbound")
        o = o.filter(o.channel.isin(OUTSIDE_CHANNELS), o.sensitivity.cast("int64") >= 1)
        sent = o.group_by(s_user=o.user_id, s_day=o.day).aggregate(
            s_level=o.sensitivity.cast("int64").max(), s_documents=o.doc_id.nunique())
        u = window.user_day
        contact = (u.emails_to_expert_network_1d.fill_null(0)
                   + u.visits_expert_network_1d.fill_null(0)) > 0
        u = u.select("user_id", "day", "role", "team",
                     x=u.day.delta(ibis.date(_ORIGIN), unit="day").cast("int64"),
                     reads=u.documents_read_1d.fill_null(0).cast("int64"),
                     secret=u.documents_read_secret_1d.fill_null(0).cast("int64"),
                     contact=contact.cast("int64"))
        u = u.left_join(sent, [u.user_id == sent.s_user, u.day == sent.s_day])
        s = u.s_level.notnull().cast("int64")
        y = u.s_level.fill_null(0).cast("int64")
        return u.select("user_id", "day", "role", "team", "x", "reads", "secret", "contact",
                        level=u.s_level, documents=u.s_documents.fill_null(0),
                        n=s, sx=s * u.x, sy=y, sxx=s * u.x * u.x, sxy=u.x * y, syy=y * y,
                        active=ibis.literal(1, "int64"))

    def _findings(self, t: ibis.Table, window: Window) -> ibis.Table:
        """Trend tests, the team's trend subtracted and the role's level compared; scores."""
        slope, error = _fit([t[f"{c}_span"] for c in _FIT_SUMS], self.MIN_VARIANCE)
        # the rest of the team over the same days: the person's sums taken out of the team's
        others = {c: t[f"team_{c}_span"].fill_null(0) - t[f"{c}_span"] for c in _FIT_SUMS}
        team_slope, _ = _fit([others[c] for c in _FIT_SUMS], self.MIN_VARIANCE)
        team_known = others["n"] >= self.min_sends
        team_slope = ibis.ifelse(team_known, ibis.greatest(team_slope, 0.0), 0.0)
        excess = slope - team_slope
        t_stat = ibis.ifelse(error > 0, excess / error, 0.0)
        spread = (t.x - t.first_x).cast("float64")
        climb = excess * spread
        n = t.n_span.cast("float64")
        now = t.sy_span.cast("float64") / n + slope * (
            t.x.cast("float64") - t.sx_span.cast("float64") / n)
        role_n = t.role_n_span.fill_null(0) - t.n_span
        role_level = ibis.ifelse(
            role_n >= self.min_sends,
            (t.role_sy_span.fill_null(0) - t.sy_span).cast("float64")
            / ibis.greatest(role_n, 1).cast("float64"), ibis.null("float64"))
        above_role = role_level.isnull() | (now >= role_level + 0.5)
        rising = ((t_stat >= self.min_t) & (climb >= self.min_climb)
                  & (now >= self.min_level) & above_role)
        # secret reads: the recent share against the earlier part of the span, beyond the team
        share_now = _share(t.secret_recent, t.reads_recent)
        share_before = _share(t.secret_span - t.secret_recent, t.reads_span - t.reads_recent)
        team_now = _share(t.team_secret_recent.fill_null(0) - t.secret_recent,
                          t.team_reads_recent.fill_null(0) - t.reads_recent)
        team_before = _share(
            (t.team_secret_span.fill_null(0) - t.team_secret_recent.fill_null(0))
            - (t.secret_span - t.secret_recent),
            (t.team_reads_span.fill_null(0) - t.team_reads_recent.fill_null(0))
            - (t.reads_span - t.reads_recent))
        read_rise = share_now - share_before
        team_rise = ibis.greatest(team_now - team_before, 0.0)
        reads_up = ((t.reads_recent >= 10) & (share_now >= 1.5 * share_before + 0.02)
                    & (read_rise >= 2.0 * team_rise))
        # contact with intermediaries: the recent rate of contact days against the earlier one
        contact_before = (t.contact_span - t.contact_recent).cast("float64")
        days_before = ibis.greatest(t.active_span - t.active_recent, 1).cast("float64")
        contact_now = t.contact_recent.cast("float64") / ibis.greatest(
            t.active_recent, 1).cast("float64")
        contact_up = ((t.contact_recent >= 3)
                      & (contact_now >= 2.0 * contact_before / days_before + 0.02))
        trend_s = ibis.ifelse(rising, 0.45 + 0.35 * saturate(t_stat - self.min_t, 3.0), 0.0)
        climb_s = ibis.ifelse(rising, 0.25 * unit_interval((climb - self.min_climb) / 2.0),
                              0.0)
        level_s = ibis.ifelse(rising, 0.1 * bounded(t.level - self.min_level, 0, 2), 0.0)
        reads_s = ibis.ifelse(rising & reads_up, 0.2, 0.0)
        contact_s = ibis.ifelse(rising & contact_up, 0.2, 0.0)
        t = t.mutate(_trend_s=trend_s, _climb_s=climb_s, _level_s=level_s, _reads_s=reads_s,
                     _contact_s=contact_s, _t_stat=t_stat, _climb_v=climb, _now_v=now,
                     _team_v=team_slope * spread, _role_v=role_level, _share_now_v=share_now,
                     _share_before_v=share_before, _contact_now_v=contact_now,
                     _contact_before_v=contact_before / days_before)
        t, fresh, damping = damp_repeats(t, ibis.ifelse(rising, t_stat, 0.0),
                                          self.quiet_days, self.growth, self.repeat_factor)
        score = noisy_or(t._trend_s, t._climb_s, t._level_s, t._reads_s,
                         t._contact_s) * damping
        trend_s, climb_s, level_s, reads_s, contact_s = (
            t._trend_s * damping, t._climb_s * damping, t._level_s * damping,
            t._reads_s * damping, t._contact_s * damping)
        t_stat, climb, now, team_v, role_level = (t._t_stat, t._climb_v, t._now_v, t._team_v,
                                                  t._role_v)
        share_now, share_before = t._share_now_v, t._share_before_v
        contact_now, contact_rate_before = t._contact_now_v, t._contact_before_v
        t = t.mutate(_now=now, _t=t_stat, _climb=climb, _team=team_v,
                     _role=role_level, _share_now=share_now, _share_before=share_before,
                     _contact_now=contact_now * 100.0,
                     _contact_before=contact_rate_before * 100.0)
        horizon = ibis.literal(str(self.horizon_days))
        reasons = [
            reason("sensitivity_out_outside_trend", t._climb, 0.0, trend_s,
                   ibis.literal("what left for outside addresses climbed ").concat(
                       number_text(t._climb, 1), " sensitivity level(s) over ",
                       number_text(t.n_span), " days with labelled sends in the last ",
                       horizon, " days (t ", number_text(t._t, 1), "; the rest of the team ",
                       number_text(t._team, 1), ")")),
            reason("sensitivity_out_outside_level", t._now, t._role, climb_s,
                   ibis.literal("the trend stands at level ").concat(
                       number_text(t._now, 1), " of 4 now; the role sends ",
                       ibis.coalesce(number_text(t._role, 1), "little"), " on average")),
            reason("sensitivity_out_trend_repeat", t._strength, t._before,
                   ibis.ifelse(fresh, 0.0, 0.01),
                   ibis.literal("the trend is no stronger than in the last ").concat(
                       str(self.quiet_days), " days (t ", number_text(t._before, 1),
                       "), already found: counts ", str(self.repeat_factor))),
            reason("sensitivity_out_max_1d", t.level, self.min_level, level_s,
                   ibis.literal("level ").concat(number_text(t.level), " left today in ",
                                                 number_text(t.documents), " document(s)")),
            reason("documents_read_secret_share", t._share_now, t._share_before, reads_s,
                   ibis.literal("share of secret documents among reads rose from ").concat(
                       number_text(t._share_before * 100.0), " % to ",
                       number_text(t._share_now * 100.0), " %, more than the team's")),
            reason("expert_network_contact_days", t._contact_now, t._contact_before,
                   contact_s,
                   ibis.literal("contact with expert networks on ").concat(
                       number_text(t._contact_now), " % of recent days, ",
                       number_text(t._contact_before), " % before")),
        ]
        found = findings(t, detector=self, score=exact_round(score), reasons=reasons)
        # the event's own label is often missing (an excerpt is known by its content match),
        # so the evidence is the day's outside mail and uploads that carried content
        return with_evidence(found, window.events, lambda e: (
            e.channel.isin(OUTSIDE_CHANNELS) & e.action.isin(("email_send", "web_upload"))
            & (e.content.notnull() | e.doc_id.notnull())))

    #: Floor of the residual variance of levels around the trend (whole-number levels).
    MIN_VARIANCE: ClassVar[float] = 0.25


#: Per-day columns summed over the spans.
_DAY_SUMS = ("n", "sx", "sy", "sxx", "sxy", "syy", "reads", "secret", "contact", "active")
#: Columns also summed over the recent part of the span.
_RECENT_SUMS = ("reads", "secret", "contact", "active")
#: The summed columns' names: ``<c>_span`` and ``<c>_recent``.
_SPAN_SUMS = tuple(f"{c}_span" for c in _DAY_SUMS) + tuple(f"{c}_recent" for c in _RECENT_SUMS)


def _sums(t: ibis.Table, span: Any, recent: Any) -> dict[str, Any]:
    """Rolling sums of the day columns over the span and its recent part."""
    return {**{f"{c}_span": t[c].sum().over(span) for c in _DAY_SUMS},
            **{f"{c}_recent": t[c].sum().over(recent) for c in _RECENT_SUMS}}


def _share(part: Any, whole: Any) -> Any:
    """``part / whole`` as a double, 0 when ``whole`` is 0."""
    return ibis.ifelse(whole > 0, part.cast("float64") / ibis.greatest(whole, 1).cast(
        "float64"), 0.0)
