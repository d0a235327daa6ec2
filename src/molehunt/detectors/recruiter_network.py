"""S2 recruiter hub: colleagues feed one person files, who passes them to personal addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    EVIDENCE_LIMIT,
    FINDINGS_SCHEMA,
    Detector,
    Window,
    exact_round,
    findings,
    noisy_or,
    number_text,
    reason,
    saturate,
)


def attachments(sends: ibis.Table) -> ibis.Table:
    """One row per sent mail and attached file: ``event_id, user_id, day, channel, target,
    file`` (the attachment's path as the log gives it, without its size).

    The CERT e-mail log lists attachments in ``attrs`` as ``"attachments":["path(size)", …]``.
    """
    listed = sends.attrs.re_extract(r'"attachments":\[([^\]]*)\]', 1)
    rows = sends.select("event_id", "user_id", "day", "channel", "target",
                        file=listed.split('","')).unnest("file")
    clean = rows.file.re_replace(r'^"|"$', "").re_replace(r"\(\d+\)$", "")
    rows = rows.mutate(file=clean)
    return rows.filter(rows.file.notnull(), rows.file != "")


def directory_spans(directory: ibis.Table) -> ibis.Table:
    """Each directory row with the days it holds: ``d_user, address, team, unit, since,
    until`` (``since`` null for a person's first row, so mail from before the first snapshot
    is read with it; ``until`` null for the current row, exclusive otherwise).
    """
    d = directory
    order = ibis.window(group_by=d.user_id, order_by=d.valid_from)
    first = ibis.row_number().over(order) == 0
    return d.select(d_user=d.user_id, address=d.email.lower(), team=d.team,
                    unit=d.department,
                    since=ibis.ifelse(first, ibis.null("date"), d.valid_from),
                    until=d.valid_from.lead().over(order))


def valid_on(spans: ibis.Table, day: Any) -> Any:
    """Whether a row of :func:`directory_spans` holds on ``day``."""
    return ((spans.since.isnull() | (spans.since <= day))
            & (spans.until.isnull() | (day < spans.until)))


@dataclass(kw_only=True)
class RecruiterNetwork(Detector):
    """Documents forwarded inside the company converge on one person, who sends them out.

    Scenario: a recruiter hub (S2): colleagues in other teams forward sensitive documents to
    one person now and then, who passes them on to relatives' personal addresses; some
    colleagues write to those addresses directly. Each alone looks only mildly odd (an
    internal forward is everyday work); the group is the signal.

    Signals: a graph built from sent mail with attachments (the same file, by its path):
    *relay* edges — A mails a file to B, who works in another department, or in another team
    of the department when the file is sensitive (``min_sensitivity``, from the documents
    table by path; teams from each one's directory row valid on the day of the mail, so a
    transfer counts from its day on), and B sends that same file to a personal webmail
    address within ``relay_days`` — and *shared personal recipients* — a personal
    address that receives attachments from several employees. A *hub* has relays from at
    least ``min_feeders`` different colleagues (or one feeder and shared recipients);
    each finding counts what is known up to its day: relayed files, distinct feeders,
    personal recipients. The hub's findings list the feeders in ``related_users``, and each
    feeder has findings (on the days their files are passed on, and on their own mail to the
    group's personal addresses) naming the hub.

    False positives: a person forwarding a colleague's file to their own personal address to
    work from home is one relay with no second feeder and no shared recipient (a weak
    finding only); project teams sharing documents among themselves, and people who mail
    their own team's files home, are not relays (feeding must cross teams); two
    colleagues writing to the same personal address without attachments (a shared friend)
    are not counted; a colleague whose one file a hub passed on scores low (a feeder's
    score grows with the files passed so far). The feeder's findings fall on the days the
    hub passes their files on (the day the group's evidence grows), not the day they sent.
    """

    name: ClassVar[str] = "recruiter_network"
    kind: ClassVar[str] = "graph"
    #: 2: teams and departments as of the day of the mail (1 used the latest directory row)
    version: ClassVar[int] = 2
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "events", "directory", "documents", "emails_personal_sent_1d"})
    long_horizon: ClassVar[bool] = True
    lookback_days: ClassVar[int] = 250

    #: A file mailed inside and then out within this many days is relayed.
    relay_days: int = 30
    #: Distinct feeders that make a hub.
    min_feeders: int = 2
    #: Files of at least this sensitivity count when fed across teams of one department.
    min_sensitivity: int = 2

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a stricter hub."""
        return [{}, {"relay_days": 10, "min_feeders": 3}]

    def score(self, window: Window) -> ibis.Table:
        """Findings for hubs and their feeders, with ``related_users`` filled."""
        u = window.user_day
        active = u.filter(u.emails_personal_sent_1d > 0).select(a_user=u.user_id).distinct()
        e = window.events
        sends = e.filter(e.action == "email_send", e.n_attachments > 0,
                         e.channel.isin(("email_internal", "webmail")))
        # who owns an internal address, in which team and department, on the day of the mail
        spans = directory_spans(window.directory)
        files = attachments(sends)
        files = files.mutate(recipient=files.target.lower().split(";")).unnest("recipient")
        files = files.filter(files.recipient != "")
        inside = files.filter(files.channel == "email_internal")
        inside = inside.join(spans, [inside.recipient == spans.address,
                                     valid_on(spans, inside.day)])
        inside = inside.select(feeder=inside.user_id, hub=inside.d_user, hub_team=inside.team,
                               hub_unit=inside.unit, f_file=inside.file, fed_day=inside.day,
                               fed_event=inside.event_id)
        units = spans.select(f_user=spans.d_user, feeder_team=spans.team,
                             feeder_unit=spans.unit, since=spans.since, until=spans.until)
        inside = inside.join(units, [inside.feeder == units.f_user,
                                     valid_on(units, inside.fed_day)])
        inside = inside.drop("since", "until")
        # the file's sensitivity, from the documents table by path (the log escapes "\\")
        docs = window.table("documents")
        docs = docs.group_by(path=docs.path).aggregate(level=docs.sensitivity.max())
        inside = inside.left_join(docs, inside.f_file.replace("\\\\", "\\") == docs.path)
        other_team = inside.feeder_team != inside.hub_team
        other_unit = inside.feeder_unit != inside.hub_unit
        sensitive = inside.level.fill_null(0) >= self.min_sensitivity
        # a team shares its own documents among itself: feeding must cross the team, and
        # within a department it counts only for sensitive files
        inside = inside.filter(inside.feeder != inside.hub,
                               other_unit | (other_team & sensitive))
        outside = files.filter(files.channel == "webmail")
        outside = outside.join(active, outside.user_id == active.a_user)
        out = outside.select(o_user=outside.user_id, o_file=outside.file, out_day=outside.day,
                             out_event=outside.event_id, personal=outside.recipient)
        relays = inside.join(out, [inside.hub == out.o_user, inside.f_file == out.o_file,
                                   out.out_day >= inside.fed_day])
        relays = relays.filter(
            relays.out_day.delta(relays.fed_day, unit="day") <= self.relay_days)
        relays = relays.select("feeder", "hub", "fed_day", "out_day", "fed_event",
                               "out_event", "personal", file=relays.f_file)
        # the copy sent on is the one received last: a colleague who mailed the same file
        # weeks before a feeder did is not the source
        last = ibis.window(group_by=[relays.out_event, relays.file],
                           order_by=ibis.desc(relays.fed_day))
        relays = relays.filter(ibis.rank().over(last) == 0)
        # personal addresses that receive attachments from more than one employee
        shared = out.group_by(s_personal=out.personal).aggregate(
            senders=out.o_user.nunique())
        shared = shared.filter(shared.senders > 1)
        return self._hub_and_feeders(relays, out, shared)

    def _hub_and_feeders(self, relays: ibis.Table, out: ibis.Table,
                         shared: ibis.Table) -> ibis.Table:
        # each hub's state on each day something relayed left: what is known so far
        days = relays.select(h_hub=relays.hub, h_day=relays.out_day).distinct()
        so_far = days.join(relays, [relays.hub == days.h_hub, relays.out_day <= days.h_day])
        hub_days = so_far.group_by(user_id=so_far.h_hub, day=so_far.h_day).aggregate(
            relayed=so_far.file.nunique(), feeders=so_far.feeder.nunique(),
            recipients=so_far.personal.nunique(),
            related=so_far.feeder.collect().unique().sort(),
            ids=so_far.out_event.collect().unique().sort())
        hub_shared = out.join(shared, out.personal == shared.s_personal)
        hub_shared = hub_shared.group_by(x_user=hub_shared.o_user).aggregate(
            shared_first=hub_shared.out_day.min(), shared_n=hub_shared.personal.nunique())
        h = hub_days.left_join(hub_shared, [hub_days.user_id == hub_shared.x_user,
                                            hub_shared.shared_first <= hub_days.day])
        h = h.mutate(shared_n=h.shared_n.fill_null(0))
        is_hub = (h.feeders >= self.min_feeders) | ((h.feeders >= 1) & (h.shared_n > 0))
        relay_s = 0.3 + 0.25 * saturate(h.relayed - 1, 3.0)
        feeders_s = ibis.ifelse(is_hub, 0.45 + 0.3 * saturate(h.feeders - 1, 2.0), 0.0)
        shared_s = ibis.ifelse(h.shared_n > 0, 0.35, 0.0)
        hub_score = ibis.ifelse(is_hub, noisy_or(relay_s, feeders_s, shared_s),
                                relay_s * 0.5)
        hub_found = findings(h, detector=self, score=exact_round(hub_score), reasons=[
            reason("relayed_files_out", h.relayed, 0.0, relay_s,
                   number_text(h.relayed).concat(
                       " file(s) colleagues mailed in were sent on to ",
                       number_text(h.recipients), " personal address(es)")),
            reason("relay_feeders", h.feeders, 1.0, feeders_s,
                   number_text(h.feeders).concat(" colleague(s) feed this person")),
            reason("shared_personal_recipients", h.shared_n, 0.0, shared_s,
                   number_text(h.shared_n).concat(
                       " personal address(es) also receive files from other employees")),
        ], evidence=h.ids[:EVIDENCE_LIMIT], related_users=h.related)
        # feeders: on the days their files leave through a hub
        # the unrounded hub score: engines may round a value at a half differently
        hubs = h.mutate(k_score=hub_score).filter(hub_score > 0)
        hubs = hubs.select(k_hub=hubs.user_id, k_day=hubs.day, k_score=hubs.k_score)
        f = relays.join(hubs, [relays.hub == hubs.k_hub, relays.out_day == hubs.k_day])
        f = f.group_by(user_id=f.feeder, day=f.out_day).aggregate(
            passed=f.file.nunique(), hub_score=f.k_score.max(),
            related=f.hub.collect().unique().sort(),
            ids=f.fed_event.collect().unique().sort())
        # what the feeder has passed through hubs so far: one file is an incident, a habit
        # of feeding is membership
        earlier = relays.select(e_feeder=relays.feeder, e_day=relays.out_day,
                                e_file=relays.file)
        so_far_f = f.join(earlier, [f.user_id == earlier.e_feeder, earlier.e_day <= f.day])
        so_far_f = so_far_f.group_by(c_user=so_far_f.user_id, c_day=so_far_f.day).aggregate(
            total=so_far_f.e_file.nunique())
        f = f.join(so_far_f, [f.user_id == so_far_f.c_user, f.day == so_far_f.c_day])
        direct = out.join(shared, out.personal == shared.s_personal)
        direct = direct.group_by(d_user=direct.o_user, d_day=direct.out_day).aggregate(
            direct_n=direct.out_event.nunique())
        f = f.left_join(direct, [f.user_id == direct.d_user, f.day == direct.d_day])
        f = f.mutate(direct_n=f.direct_n.fill_null(0))
        # the hub's standing is the group's: a member is as suspect as what they feed
        fed_s = f.hub_score * (0.45 + 0.45 * saturate(f.total - 1, 2.0))
        direct_s = ibis.ifelse(f.direct_n > 0, 0.3, 0.0)
        feeder_score = exact_round(noisy_or(fed_s, direct_s))
        feeder_found = findings(f, detector=self, score=feeder_score, reasons=[
            reason("files_relayed_by_hub", f.total, 0.0, fed_s,
                   number_text(f.total).concat(
                       " file(s) this person mailed inside have left through a colleague to"
                       " personal addresses so far, ", number_text(f.passed), " today")),
            reason("shared_personal_recipients", f.direct_n, 0.0, direct_s,
                   number_text(f.direct_n).concat(
                       " mail(s) with files to the same personal addresses")),
        ], evidence=f.ids[:EVIDENCE_LIMIT], related_users=f.related)
        both = hub_found.select(*FINDINGS_SCHEMA.names).union(
            feeder_found.select(*FINDINGS_SCHEMA.names))
        # one finding per person and day: the stronger role (hub or feeder) of the day
        best = ibis.window(group_by=[both.user_id, both.day],
                           order_by=[ibis.desc(both.score), both.reasons.length(),
                                     both.evidence.length()])
        return both.filter(ibis.row_number().over(best) == 0).select(*FINDINGS_SCHEMA.names)
