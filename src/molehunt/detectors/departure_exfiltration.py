"""C2 job-seeking thief: job search and competitor contact, then a removable-media surge."""

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


@dataclass(kw_only=True)
class DepartureExfiltration(Detector):
    """Far more copied to removable media than usual, after a job search or before leaving.

    Scenario: someone browses job sites and writes to a competitor, then copies many times
    their usual amount to removable media, resigns and leaves.

    Signals: a job search that is new to the person or far more intense than their usual
    browsing (job-board visits on ``onset_days`` or more of the last ``onset_rows`` active
    days, at least ``onset_ratio`` times and ``onset_excess`` visits above what the person's
    rate over the ``history_rows`` before predicts; scored on the search's first
    ``onset_span`` such days only, as a lead to read, never alone an alert: the first stage,
    seen where no competitor contact is); files copied to removable media well above the
    person's own 90-day usual (``files_to_removable_z_self_90d``) and in absolute numbers,
    or a drive used on far more days than the person's earlier rate predicts (at least
    ``rate_days`` of the last ``campaign_rows`` active days and ``rate_ratio`` times the rate
    of the ``history_rows`` before: the copies of a day can be few when the taking goes on
    for weeks); on days without a surge, e-mail to a competitor during a job search (the
    first stage where competitors are configured); context over the last
    ``context_days`` active days: job-board visits, mail to competitors, a known departure
    (``days_to_departure_1d``); sensitive files among the copies.

    False positives: IT staff with daily removable media (a surge is measured against their
    own usual); honest leavers who copy their own files home (a departure without competitor
    contact is not the scenario's context: their surge counts ``no_context_factor``); people
    who browse job boards and stay (no surge; their search's first days are a lead of
    band medium at most, the same as an insider's, and nothing follows). A habitual job-board
    browser's search has no onset to see.
    """

    name: ClassVar[str] = "departure_exfiltration"
    version: ClassVar[int] = 5
    kind: ClassVar[str] = "rule"
    observes: ClassVar[frozenset[str]] = frozenset({
        "removable_files", "removable_connect", "hr_departure"})
    fallbacks: ClassVar[Mapping[str, str]] = {
        "hr_departure": "the job search and competitor contact before the surge",
        "removable_files": "a surge of drive connections",
        "removable_connect": "a surge of files copied to removable media (a deployment"
                             " with neither sees no theft by removable media at all)",
    }
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "files_to_removable_1d", "files_to_removable_z_self_90d",
        "device_connects_1d", "device_connects_z_self_90d",
        "files_to_removable_median_self_90d", "files_to_removable_sensitive_1d",
        "visits_job_board_1d", "emails_to_competitor_1d", "visits_competitor_1d",
        "days_to_departure_1d"})
    #: Rows (active days) of look-back: the longest rolling window, ``history_rows`` before
    #: the last ``campaign_rows`` (a daily run must see what a full run sees).
    lookback_days: ClassVar[int] = 135

    #: A surge is at least this many robust SDs above the person's usual ...
    min_surge_z: float = 3.0
    #: ... and at least this many files (or, where no file copies are logged for the day,
    #: this many drive connections).
    min_files: int = 5
    min_connects: int = 3
    #: Multiplier when no competitor mail is behind a surge (a departure or a job search
    #: alone is what honest leavers and stayers have).
    no_context_factor: float = 0.6
    #: Active days of context looked back on (job search, competitor mail).
    context_days: int = 40
    #: With no competitors configured (contact with one cannot be seen), a surge at least
    #: this strong after a job search stands for the scenario's context: an honest leaver's
    #: modest take-home does not reach it.
    blind_surge_z: float = 6.0
    #: ... or surges on at least ``campaign_days`` of the last ``campaign_rows`` active days,
    #: or a rate surge: a campaign, where an honest leaver takes their files home once.
    campaign_days: int = 3
    campaign_rows: int = 15
    #: Drive days among the last ``campaign_rows`` active days that make a rate surge ...
    rate_days: int = 4
    #: ... when they are at least this many times what the person's earlier rate predicts
    #: (an earlier rate of under one day in ``campaign_rows`` counts as one half) ...
    rate_ratio: float = 4.0
    #: ... measured over this many active days before the recent ones, of which at least
    #: ``min_history_rows`` must exist (the first weeks of a person's log have no rate).
    history_rows: int = 120
    min_history_rows: int = 40
    #: A job search new to the person or far more intense than their usual browsing: job
    #: boards visited on at least ``onset_days`` of the last ``onset_rows`` active days (one
    #: visit is a link someone sent) ...
    onset_days: int = 2
    onset_rows: int = 10
    #: ... with at least this many times the visits the person's rate over the
    #: ``history_rows`` active days before predicts (at least ``min_history_rows`` of them;
    #: a rate under one visit per period counts as one) ...
    onset_ratio: float = 3.0
    #: ... and at least this many visits above it (a habitual browser's busy fortnight is
    #: not a new search) ...
    onset_excess: float = 8.0
    #: ... on the first ``onset_span`` such days within ``onset_rows``: what follows is known
    onset_span: int = 2
    #: Score of an onset day (more for more visits): below what one day needs for band high
    onset_score: float = 0.35

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a stricter surge."""
        return [{}, {"min_surge_z": 5.0, "min_files": 10, "context_days": 20}]

    def score(self, window: Window) -> ibis.Table:
        """Findings on surge days, scored higher with context."""
        u = window.user_day
        past = ibis.window(group_by=u.user_id, order_by=u.day,
                           preceding=self.context_days, following=0)
        t = u.mutate(
            _jobs=u.visits_job_board_1d.sum().over(past),
            _rival=u.emails_to_competitor_1d.sum().over(past),
            _rival_web=u.visits_competitor_1d.fill_null(0).sum().over(past),
            _z_files=u.files_to_removable_z_self_90d.fill_null(0.0),
            _z_connects=u.device_connects_z_self_90d.fill_null(0.0))
        # taking that goes on for weeks: a few files a day, on days the drive was rarely used
        drive_day = ((t.device_connects_1d.fill_null(0) > 0)
                     | (t.files_to_removable_1d.fill_null(0) > 0)).cast("int32")
        recent = ibis.window(group_by=t.user_id, order_by=t.day,
                             preceding=self.campaign_rows - 1, following=0)
        older = ibis.window(group_by=t.user_id, order_by=t.day,
                            rows=(-self.history_rows - self.campaign_rows,
                                  -self.campaign_rows))
        t = t.mutate(_drive_day=drive_day, _drive_recent=drive_day.sum().over(recent),
                     _drive_older=drive_day.sum().over(older).fill_null(0),
                     _older_rows=t.day.count().over(older).fill_null(0))
        t = t.mutate(_drive_expected=t._drive_older * self.campaign_rows
                     / ibis.greatest(t._older_rows, 1))
        rate_surge = (t._drive_day > 0) & (t._older_rows >= self.min_history_rows) & (
            t._drive_recent >= self.rate_days) & (
            t._drive_recent >= self.rate_ratio * ibis.greatest(t._drive_expected, 0.5))
        # a drive used at markedly higher rates shows in the copies where they are logged,
        # and in the connections where they are not (no file log, or rows missing that day)
        files_surge = (t._z_files >= self.min_surge_z) & (
            t.files_to_removable_1d >= self.min_files)
        connect_surge = (t._z_connects >= self.min_surge_z) & (
            t.device_connects_1d >= self.min_connects) & (t.files_to_removable_1d.fill_null(0)
                                                          < self.min_files)
        t = t.mutate(_z=ibis.ifelse(files_surge, t._z_files,
                                    ibis.ifelse(connect_surge, t._z_connects, t._z_files)),
                     _by_connects=connect_surge & ~files_surge,
                     _by_rate=rate_surge & ~files_surge & ~connect_surge)
        surge = files_surge | connect_surge | rate_surge
        # the first stage: writing to a competitor while searching for a job
        contact = (t.emails_to_competitor_1d > 0) & (t._jobs > 0)
        campaign = ibis.window(group_by=t.user_id, order_by=t.day,
                               preceding=self.campaign_rows - 1, following=0)
        visits = t.visits_job_board_1d.fill_null(0)
        searching = ibis.window(group_by=t.user_id, order_by=t.day,
                                preceding=self.onset_rows - 1, following=0)
        before = ibis.window(group_by=t.user_id, order_by=t.day,
                             rows=(-self.history_rows - self.onset_rows, -self.onset_rows))
        t = t.mutate(_job_recent=(visits > 0).cast("int32").sum().over(searching),
                     _job_visits=visits.sum().over(searching),
                     _job_older=visits.sum().over(before).fill_null(0),
                     _job_older_rows=t.day.count().over(before).fill_null(0))
        t = t.mutate(_job_expected=t._job_older * self.onset_rows
                     / ibis.greatest(t._job_older_rows, 1))
        intense = (visits > 0) & (t._job_older_rows >= self.min_history_rows) & (
            t._job_recent >= self.onset_days) & (
            t._job_visits >= self.onset_ratio * ibis.greatest(t._job_expected, 1.0)) & (
            t._job_visits - t._job_expected >= self.onset_excess)
        t = t.mutate(_intense=intense.cast("int32"))
        t = t.mutate(_intense_days=t._intense.sum().over(searching))
        onset = (t._intense > 0) & (t._intense_days <= self.onset_span)
        t = t.mutate(_surge=surge, _contact=contact, _onset=onset & ~surge & ~contact,
                     _surge_days=surge.cast("int32").sum().over(campaign))
        t = t.filter(t._surge | t._contact | t._onset)
        rate_s = 0.35 + 0.25 * saturate(
            t._drive_recent - self.rate_ratio * ibis.greatest(t._drive_expected, 0.5), 4.0)
        surge_s = ibis.cases(
            (t._by_rate, rate_s),
            (t._surge, 0.35 + 0.25 * saturate(t._z - self.min_surge_z, 4.0)), else_=0.0)
        # many people browse job boards and stay: the search alone is weak context
        jobs_s = ibis.ifelse(t._jobs > 0, 0.2 * saturate(t._jobs, 5.0) + 0.05, 0.0)
        # a competitor's (careers) pages visited during the search: the contact a web log
        # shows where no mail to them is logged; context for a surge, never a finding alone
        # (market staff read competitors' sites every week)
        web_rival = (t._rival_web > 0) & t._surge & (t._jobs > 0)
        rival_s = ibis.cases((t._rival > 0, 0.5), (web_rival, 0.4), else_=0.0)
        leaving_s = ibis.ifelse(t.days_to_departure_1d.notnull(), 0.45, 0.0)
        sensitive_s = 0.4 * saturate(t.files_to_removable_sensitive_1d, 5.0)
        rival_s = ibis.ifelse(t._contact & ~t._surge,
                              0.5 + 0.2 * saturate(t.emails_to_competitor_1d, 2.0), rival_s)
        combined = noisy_or(surge_s, jobs_s, rival_s, leaving_s, sensitive_s)
        # a surge with only a job search behind it is also what stayers do before a project,
        # and one before a known departure is what honest leavers do when they take their own
        # files home: the scenario's context is contact with a competitor
        context = (t._rival > 0) | web_rival
        # with no competitor configured, contact with one cannot be seen: a surge after a job
        # search is then the whole of the story a deployment can see (said in a reason)
        blind_rivals = not window.settings.competitors
        # a rate surge is weeks of taking already, not a one-off take-home
        strong = t._surge & (t._jobs > 0) & (
            (t._z >= self.blind_surge_z) | (t._surge_days >= self.campaign_days) | t._by_rate)
        if blind_rivals:
            context = context | strong
        score = ibis.ifelse(context, combined, combined * self.no_context_factor)
        onset_s = self.onset_score + 0.15 * saturate(
            t._job_visits - t._job_expected - self.onset_excess, 10.0)
        score = ibis.ifelse(t._onset, onset_s, score)
        reasons = [
            reason("files_to_removable_1d", t.files_to_removable_1d,
                   t.files_to_removable_median_self_90d,
                   ibis.ifelse(t._by_connects | t._by_rate, 0.0, surge_s),
                   number_text(t.files_to_removable_1d).concat(
                       " files copied to removable media, ", number_text(t._z, 1),
                       " robust SDs above the person's usual")),
            reason("device_connects_1d", t.device_connects_1d, None,
                   ibis.ifelse(t._by_connects, surge_s, 0.0),
                   number_text(t.device_connects_1d).concat(
                       " drive connections, ", number_text(t._z, 1), " robust SDs above the"
                       " person's usual (files copied that day: ",
                       number_text(t.files_to_removable_1d.fill_null(0)), ")")),
            reason("removable_days_recent", t._drive_recent, t._drive_expected,
                   ibis.ifelse(t._by_rate, surge_s, 0.0),
                   ibis.literal("removable media used on ").concat(
                       number_text(t._drive_recent), " of the last ",
                       ibis.literal(str(self.campaign_rows)), " active days; the person's"
                       " earlier rate predicts ", number_text(t._drive_expected, 1))),
            reason("job_search_onset", t._job_visits, t._job_expected,
                   ibis.ifelse(t._onset, onset_s, 0.0),
                   ibis.literal("a job search new to the person or far beyond their usual: ")
                   .concat(number_text(t._job_visits), " job-board visits on ",
                           number_text(t._job_recent), " of the last ",
                           ibis.literal(str(self.onset_rows)), " active days; the person's"
                           " earlier rate predicts ", number_text(t._job_expected, 1))),
            reason("visits_job_board_1d", t._jobs, 0.0, ibis.ifelse(t._onset, 0.0, jobs_s),
                   number_text(t._jobs).concat(" job-board visits in the last ",
                                               ibis.literal(str(self.context_days)),
                                               " active days")),
            reason("visits_competitor_1d", t._rival_web, 0.0,
                   ibis.ifelse((t._rival > 0) | ~web_rival, 0.0, rival_s),
                   number_text(t._rival_web).concat(
                       " visits to competitors' sites during the job search (last ",
                       ibis.literal(str(self.context_days)), " active days)")),
            reason("emails_to_competitor_1d", t._rival, 0.0,
                   ibis.ifelse(t._rival > 0, rival_s, 0.0),
                   number_text(t._rival).concat(" e-mails to competitors in the last ",
                                                ibis.literal(str(self.context_days)),
                                                " active days")),
            reason("days_to_departure_1d", t.days_to_departure_1d, None, leaving_s,
                   ibis.literal("leaving in ").concat(
                       number_text(t.days_to_departure_1d.fill_null(0)), " days")),
            reason("files_to_removable_sensitive_1d", t.files_to_removable_sensitive_1d, 0.0,
                   sensitive_s, number_text(t.files_to_removable_sensitive_1d).concat(
                       " confidential or higher files among them")),
        ]
        if blind_rivals:
            reasons.append(reason(
                "competitors_unconfigured", t._jobs, None,
                ibis.ifelse(strong, 0.01, 0.0),
                "no competitor domains are configured (molehunt.toml `competitors`): contact"
                " with a competitor cannot be seen, so a strong or repeated surge after a job"
                " search counts in full"))
        found = findings(t, detector=self, score=score, reasons=reasons)
        # an onset day's evidence is the job-board visits; any other day's is what was taken
        by_onset = found.reasons.map(lambda r: r.feature).contains("job_search_onset")
        jobs = domain_pattern(window, "job_board")
        searched = with_evidence(found.filter(by_onset), window.events, lambda e: (
            e.action == "web_visit") & e.domain.notnull() & e.domain.re_search(jobs))
        taken = with_evidence(found.filter(~by_onset), window.events, lambda e: (
            e.channel == "removable_media") & e.action.isin(
                ("file_copy", "file_write", "device_connect")))
        return searched.union(taken)
