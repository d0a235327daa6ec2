"""C5 layoff survivor: uploads to cloud storage after layoffs hit the group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    Detector,
    Window,
    domain_pattern,
    findings,
    noisy_or,
    number_text,
    reason,
    saturate,
    with_evidence,
)

#: Sensitivity level from which an uploaded item counts as sensitive (2: confidential).
CONFIDENTIAL = 2


@dataclass(kw_only=True)
class LayoffCloudUpload(Detector):
    """Uploads to cloud storage, unusual for the person, in the months after a layoff.

    Scenario: after a layoff wave hits the person's group, they upload documents to cloud
    storage or file-sharing services.

    Signals: ``uploads_cloud_storage_1d`` by someone who had at most ``max_older_days``
    upload days in the ``history_rows`` active days before the last ``episode_rows``, or who
    uploaded on at least ``min_excess_days`` more (and ``min_rate_ratio`` times as many) of the
    last ``recent_rows`` active days than their earlier rate predicts; several uploads in a
    day weigh more; within ``window_days`` of a layoff in the department
    (``days_since_layoff_in_group_1d``; more with ``story_uploads`` or more uploads that day,
    the whole story rather than one upload with a layoff behind it); confidential or higher
    items among the day's uploads to cloud storage (``outbound``; what else left that day,
    e.g. printed, is not what this scenario moves). Without a layoff the score is halved;
    for someone who uploaded before, a day with no more uploads than their earlier busiest
    day counts ``routine_volume_factor``.
    A cloud-storage service new to the person (first used within ``new_service_days``, after
    ``min_history_rows`` active days of history) and used on at least ``new_service_uses``
    days counts as new to uploads even for a habitual user of another service: moving files
    to an account of one's own shows as a new service, not as more of the usual one.
    A day's uploads that few of the organisation's person-days reached in the last
    ``population_days`` (a share of at most ``rare_share`` of the active person-days, counted
    on the monitored population itself) are the volume of the scenario whether or not a
    layoff can be seen: such a day is not halved. Without HR records a layoff shows in the
    logs only once its people have been gone for days, after the survivors' first uploads;
    the threshold follows the organisation (where many people upload a lot, more is needed).

    False positives: habitual and occasional cloud-storage users (their rate does not jump,
    and when it does by chance their days hold the usual single upload: a reduced score that
    adds up only if it goes on); layoff survivors who upload nothing.
    """

    name: ClassVar[str] = "layoff_cloud_upload"
    version: ClassVar[int] = 9
    kind: ClassVar[str] = "rule"
    lookback_days: ClassVar[int] = 150
    observes: ClassVar[frozenset[str]] = frozenset({"web_direction", "hr_layoff"})
    fallbacks: ClassVar[Mapping[str, str]] = {
        "web_direction": "days with requests to cloud-storage sites, new to the person or far"
                         " more frequent than their earlier rate",
        "hr_layoff": "no layoff context: the score counts half, as for uploads with no layoff,"
                     " unless the day's volume is rare in the whole organisation",
    }
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "events", "outbound", "uploads_cloud_storage_1d", "visits_cloud_storage_1d",
        "days_since_layoff_in_group_1d"})

    #: Days after a layoff during which uploads count.
    window_days: int = 60
    #: A person with at most this many upload days before the episode is new to uploads. One
    #: earlier upload day already makes an (occasional) habit: for such a person a chance
    #: cluster of single uploads after a layoff looked exactly like the scenario's onset, so
    #: whether the recent period is unusual is left to the rate test.
    max_older_days: int = 0
    #: Active days of the recent period whose upload days are compared with the earlier rate.
    recent_rows: int = 15
    #: Upload days above what the earlier rate predicts that make the recent period unusual.
    min_excess_days: float = 3.0
    #: ... and at least this many times the earlier rate.
    min_rate_ratio: float = 3.0
    #: Active days an episode may last (uploads within them are not "before").
    episode_rows: int = 25
    #: Active days looked back on for earlier uploads.
    history_rows: int = 150
    #: Where uploads cannot be seen (requests to the sites stand in), active days of history
    #: a person needs before requests count as new to them.
    min_history_rows: int = 60
    #: Multiplier for a habitual uploader whose day holds no more uploads than their
    #: earlier busiest day (only the rate of upload days rose).
    routine_volume_factor: float = 0.5
    #: Uploads in a day (requests where uploads cannot be seen) after a layoff that make the
    #: whole story: the layoff then weighs more than as context for a single upload.
    story_uploads: int = 2
    #: Days after its first use during which a cloud-storage service is new to the person ...
    new_service_days: int = 45
    #: ... once used on at least this many days (one visit is a link someone sent).
    new_service_uses: int = 3
    #: Days of the organisation's person-days a day's upload volume is compared with ...
    population_days: int = 90
    #: ... the share of active person-days that may reach it for the volume to be rare ...
    rare_share: float = 0.001
    #: ... once the window holds this many active person-days (a new deployment's first
    #: days are no population to compare with).
    min_population_days: int = 3000

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a shorter period after the layoff."""
        return [{}, {"window_days": 30, "max_older_days": 1, "episode_rows": 10}]

    def score(self, window: Window) -> ibis.Table:
        """Findings on upload days that are new or far more frequent for the person."""
        u = window.user_day
        # a web log without upload/download (CERT r4.2) shows an upload as a request to the
        # site: the same novelty and rate tests then run on those days
        blind = not window.sees("web_direction")
        u = u.mutate(uploads_cloud_storage_1d=(
            u.visits_cloud_storage_1d if blind else u.uploads_cloud_storage_1d).fill_null(0))
        # the population's volumes come from here, not from ``u`` after its window columns:
        # an engine would compute those again for each use
        population = u.select("user_id", "day", "uploads_cloud_storage_1d")
        uploaded = (u.uploads_cloud_storage_1d > 0).cast("int32")
        older = ibis.window(group_by=u.user_id, order_by=u.day,
                            rows=(-self.history_rows, -self.episode_rows))
        recent = ibis.window(group_by=u.user_id, order_by=u.day,
                             preceding=self.recent_rows - 1, following=0)
        u = u.mutate(_older=uploaded.sum().over(older).fill_null(0),
                     _older_rows=u.day.count().over(older).fill_null(0),
                     _older_max=u.uploads_cloud_storage_1d.max().over(older).fill_null(0),
                     _recent=uploaded.sum().over(recent))
        # what the person's own earlier rate predicts for the recent period
        expected = u._older * self.recent_rows / ibis.greatest(u._older_rows, 1)
        # a jump, not chance: clearly more days, and several times the usual rate; a rate
        # needs a period to be measured over (in a person's first weeks it "predicts 0")
        measured = u._older_rows >= (self.min_history_rows if blind else self.recent_rows)
        u = u.mutate(_expected=expected, _excess=ibis.ifelse(
            measured & (u._recent >= self.min_rate_ratio * expected), u._recent - expected,
            0.0))
        # new to cloud uploads, or uploading on far more days than the person used to
        # requests to a site are common, uploads are not: "never before" needs a history
        novel = u._older <= self.max_older_days
        if blind:
            novel = novel & (u._older_rows >= self.min_history_rows)
        services = self._new_services(window, blind)
        u = u.left_join(services, [u.user_id == services.n_user, u.day == services.n_day])
        history = ibis.window(group_by=u.user_id, order_by=u.day)
        u = u.mutate(_new_service=u.n_domain.notnull()
                     & (ibis.row_number().over(history) >= self.min_history_rows))
        t = u.filter((u.uploads_cloud_storage_1d > 0)
                     & (novel | u._new_service | (u._excess >= self.min_excess_days)))
        o = window.table("outbound")
        o = o.filter((o.channel == "cloud_storage")
                     & (o.sensitivity.cast("int64") >= CONFIDENTIAL))
        sensitive = o.group_by(s_user=o.user_id, s_day=o.day).aggregate(
            s_events=o.events.sum())
        t = t.left_join(sensitive, [t.user_id == sensitive.s_user, t.day == sensitive.s_day])
        t = t.mutate(_sensitive=t.s_events.fill_null(0))
        t = self._population_share(t, population)
        t = t.mutate(_after=ibis.ifelse(
            t.days_since_layoff_in_group_1d.notnull()
            & (t.days_since_layoff_in_group_1d <= self.window_days), 1, 0))
        # one upload may be a shared link; several in a day is moving documents out
        upload_s = 0.3 + 0.4 * saturate(t.uploads_cloud_storage_1d - 1, 3.0)
        rate_s = ibis.ifelse(t._excess >= self.min_excess_days,
                             0.25 + 0.25 * saturate(t._excess - self.min_excess_days, 2.0), 0.0)
        # several uploads in a day to a service new to the person (or far beyond their rate)
        # after the layoff is the scenario itself, not one of its parts
        layoff_s = ibis.cases(
            ((t._after > 0) & (t.uploads_cloud_storage_1d >= self.story_uploads), 0.55),
            (t._after > 0, 0.35), else_=0.0)
        sensitive_s = 0.3 * saturate(t._sensitive, 3.0)
        # a volume few person-days of the organisation reach is the story's own, layoff or not
        rare = t._share <= self.rare_share
        rare_s = ibis.ifelse(rare, 0.4, 0.0)
        score = ibis.ifelse(
            t._after > 0, noisy_or(upload_s, rate_s, layoff_s, sensitive_s, rare_s),
            ibis.ifelse(rare, noisy_or(upload_s, rate_s, sensitive_s, rare_s),
                        0.5 * noisy_or(upload_s, rate_s, sensitive_s)))
        # someone who uploaded before, uploading no more in a day than they used to: a busier
        # period of their own routine, unless the days keep coming (risk accumulates)
        habitual = (t._older > self.max_older_days) & ~t._new_service
        routine_volume = habitual & (t.uploads_cloud_storage_1d <= t._older_max)
        score = ibis.ifelse(routine_volume, score * self.routine_volume_factor, score)
        reasons = [
            reason("uploads_cloud_storage_1d", t.uploads_cloud_storage_1d, t._older, upload_s,
                   number_text(t.uploads_cloud_storage_1d).concat(
                       " requests to cloud-storage sites (uploads cannot be seen here); "
                       if blind else " uploads to cloud storage; ", number_text(t._older),
                       " such days in the months before (at most ",
                       number_text(t._older_max), " in a day)")),
            reason("cloud_service_new", t._new_service.cast("int64"), 0.0,
                   ibis.ifelse(t._new_service & (t._older > self.max_older_days), upload_s,
                               0.0),
                   ibis.literal("a cloud-storage service new to the person: ").concat(
                       t.n_domain.fill_null(""), ", first used ",
                       number_text(t.n_age.fill_null(0)), " days before")),
            reason("upload_days_recent", t._recent, t._expected, rate_s,
                   number_text(t._recent).concat(
                       " upload days in the last ", ibis.literal(str(self.recent_rows)),
                       " active days; the person's earlier rate predicts ",
                       number_text(t._expected, 1))),
            reason("days_since_layoff_in_group_1d", t.days_since_layoff_in_group_1d, None,
                   layoff_s, ibis.literal("layoff in the department ").concat(
                       number_text(t.days_since_layoff_in_group_1d.fill_null(0)),
                       " days ago")),
            reason("uploads_cloud_storage_rare", t._share, self.rare_share, rare_s,
                   ibis.literal("as many in a day on ").concat(
                       number_text(t._share * 1000, 2), " of every 1,000 person-days of the"
                       f" organisation in the last {self.population_days} days")),
            reason("uploads_cloud_storage_sensitive", t._sensitive, 0.0, sensitive_s,
                   number_text(t._sensitive).concat(
                       " confidential or higher items among the uploads")),
        ]
        found = findings(t, detector=self, score=score, reasons=reasons)
        pattern = domain_pattern(window, "cloud_storage")
        actions = ("web_upload", "web_visit") if blind else ("web_upload",)
        return with_evidence(found, window.events, lambda e: e.action.isin(actions) & (
            e.domain.notnull()) & e.domain.re_search(pattern))

    def _population_share(self, t: ibis.Table, u: ibis.Table) -> ibis.Table:
        """``t`` with ``_share``: of the active person-days of everyone in the
        ``population_days`` up to the day, the share with at least as many uploads as the
        row's (1 where the window holds too few person-days to tell)."""
        volume = u.filter(u.uploads_cloud_storage_1d > 0)
        volume = volume.group_by(v_day=volume.day, v_count=volume.uploads_cloud_storage_1d
                                 ).aggregate(v_n=volume.count())
        active = u.group_by(a_day=u.day).aggregate(a_n=u.count())
        rows = t.select(r_user=t.user_id, r_day=t.day, r_count=t.uploads_cloud_storage_1d)
        since = rows.r_day - ibis.interval(days=self.population_days - 1)
        reached = rows.join(volume, (volume.v_day >= since) & (volume.v_day <= rows.r_day)
                            & (volume.v_count >= rows.r_count)).group_by(
            "r_user", "r_day").aggregate(_reached=lambda x: x.v_n.sum())
        people = rows.join(active, (active.a_day >= since) & (active.a_day <= rows.r_day)
                           ).group_by("r_user", "r_day").aggregate(
            _person_days=lambda x: x.a_n.sum())
        t = t.left_join(reached, [t.user_id == reached.r_user, t.day == reached.r_day])
        t = t.drop("r_user", "r_day").left_join(
            people, [t.user_id == people.r_user, t.day == people.r_day]).drop("r_user", "r_day")
        person_days = t._person_days.fill_null(0)
        return t.mutate(_share=ibis.ifelse(
            person_days >= self.min_population_days,
            t._reached.fill_null(0).cast("float64") / ibis.greatest(person_days, 1), 1.0))

    def _new_services(self, window: Window, blind: bool) -> ibis.Table:
        """Per person and day: a cloud-storage service the person first used lately
        (``n_domain``, ``n_age`` days since its first use) and has used on enough days."""
        e = window.events
        actions = ("web_upload", "web_visit") if blind else ("web_upload",)
        e = e.filter(e.action.isin(actions), e.domain.notnull(),
                     e.domain.re_search(domain_pattern(window, "cloud_storage")))
        days = e.group_by(d_user=e.user_id, d_domain=e.domain, d_day=e.day).aggregate()
        # the window starts the person's history: a service used on its first day is not new
        start = window.events.group_by(f_user=window.events.user_id).aggregate(
            f_first=window.events.day.min())
        first = days.group_by(s_user=days.d_user, s_domain=days.d_domain).aggregate(
            s_first=days.d_day.min())
        first = first.join(start, first.s_user == start.f_user).filter(
            lambda t: t.s_first > t.f_first)
        used = days.join(first, [days.d_user == first.s_user, days.d_domain == first.s_domain])
        used = used.mutate(n_age=used.d_day.delta(used.s_first, unit="day"))
        used = used.filter(used.n_age <= self.new_service_days)
        order = ibis.window(group_by=[used.d_user, used.d_domain], order_by=used.d_day)
        used = used.mutate(n_uses=ibis.row_number().over(order) + 1)
        used = used.filter(used.n_uses >= self.new_service_uses)
        return used.group_by(n_user=used.d_user, n_day=used.d_day).aggregate(
            n_domain=used.d_domain.min(), n_age=used.n_age.max())

