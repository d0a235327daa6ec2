"""C3 disgruntled administrator: hacking tools, another person's machine, a mass mail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    EVIDENCE_LIMIT,
    FINDINGS_SCHEMA,
    Detector,
    Window,
    empty_strings,
    findings,
    machine_owners,
    noisy_or,
    number_text,
    reason,
    saturate,
    with_evidence,
)


@dataclass(kw_only=True)
class AdminSabotage(Detector):
    """Hacking-tool downloads carried on removable media to another person's machine, mass mail.

    Scenario: an administrator with a grievance downloads a keylogger, carries it on removable
    media to the supervisor's machine, logs in as the supervisor the next evening and sends an
    alarming message to many people, and leaves.

    Signals: downloads from hacking-tool sites (``downloads_hacking_tools_1d``), weighed by
    whether the person has downloaded such tools in the last ``history_rows`` active days;
    the same day, removable media connected on a computer whose main user is someone else
    (the tool *carried* there; main users are learned from the events), weighed by whether
    the person has done that before; removable media and other people's or new computers,
    each weighed by how habitual they are for the person; a recent performance concern (a
    known departure counts less); and, on any account, an off-hours e-mail to at least
    ``min_recipients`` people (the masquerade), from the events. The scenario is the
    conjunction: without the tool being carried to another machine (media plugged into
    someone else's computer, or media and another computer both new for the person), a
    download scores at most ``uncarried_cap`` whatever else the day holds.

    False positives: security staff who research tools (no carrying, no grievance: low; a
    routine download that stays on their machine stays low after a performance concern too);
    IT staff who use removable media and colleagues' machines every day and happen to
    download a tool after a performance concern (their media and machine use are habitual,
    and the media stays on their own machine: capped); announcements to large lists in
    working hours (not scored).
    """

    name: ClassVar[str] = "admin_sabotage"
    version: ClassVar[int] = 5
    kind: ClassVar[str] = "rule"
    lookback_days: ClassVar[int] = 120
    observes: ClassVar[frozenset[str]] = frozenset({
        "web_direction", "removable_connect", "hr_performance", "email_sent", "logon"})
    fallbacks: ClassVar[Mapping[str, str]] = {
        "web_direction": "visits to hacking-tool sites",
        "hr_performance": "no discount for a missing grievance when a new tool is carried",
        "removable_connect": "another computer new to the person; the off-hours mass mail"
                             " from another account on a computer the person logged on to",
    }
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "events", "downloads_hacking_tools_1d", "visits_hacking_tools_1d",
        "device_connects_1d",
        "hosts_other_user_1d", "hosts_first_seen_1d", "days_since_performance_concern_1d",
        "days_to_departure_1d"})

    #: An off-hours e-mail to at least this many recipients is a mass mail.
    min_recipients: int = 25
    #: A performance concern this recent (days) is a grievance.
    grievance_days: int = 90
    #: Active days looked back on for earlier tool downloads and removable media.
    history_rows: int = 120
    #: A person with at most this many earlier tool-download days is not a routine user.
    max_prior_tool_days: int = 2
    #: Multiplier for a new tool download by someone without a grievance.
    no_motive_factor: float = 0.6
    #: Multiplier for a routine tool download (not new to the person, no grievance).
    routine_factor: float = 0.35
    #: A person with at least this many earlier days of removable media (or of other
    #: people's computers) uses them habitually.
    habitual_days: int = 3
    #: Highest score of a tool download that was not carried to another machine.
    uncarried_cap: float = 0.45
    #: Share of a computer's active days its main user must have for it to be personal.
    min_owner_share: float = 0.5
    #: Days between plugging media into a computer and a mass mail from another account on
    #: it that tie the two together.
    masquerade_days: int = 3
    #: Working hours (UTC); a mass mail outside them scores.
    workday_start: int = 7
    workday_end: int = 19

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a larger mass-mail threshold."""
        return [{}, {"min_recipients": 50, "grievance_days": 30}]

    def _off_hours_mass_mails(self, window: Window) -> ibis.Table:
        """Mails sent off hours to at least ``min_recipients`` people (``a_n`` of them)."""
        e = window.events
        hour = e.ts.hour()
        mail = e.filter(e.action == "email_send", e.target.notnull(),
                        (hour < self.workday_start) | (hour >= self.workday_end))
        mail = mail.mutate(_n=mail.target.replace(",", ";").split(";").length())
        return mail.filter(mail._n >= self.min_recipients).select(
            a_user=mail.user_id, a_day=mail.day, a_host=mail.host, a_n=mail._n,
            a_id=mail.event_id)

    def _mass_mail(self, window: Window) -> ibis.Table:
        mail = self._off_hours_mass_mails(window)
        return mail.group_by(m_user=mail.a_user, m_day=mail.a_day).aggregate(
            m_recipients=mail.a_n.max())

    def _masquerade(self, window: Window) -> ibis.Table:
        """Per person and day: an off-hours mass mail sent from *another* account on a
        computer where this person connected removable media (where media cannot be seen:
        logged on) in the ``masquerade_days`` before (the planted keylogger's harvest, used
        the next evening)."""
        e = window.events
        mail = self._off_hours_mass_mails(window)
        mail = mail.filter(mail.a_host.notnull())
        # where removable media cannot be seen, a logon at that computer is what is left of
        # the visit that planted the tool
        planted = ("device_connect",) if window.sees("removable_connect") else ("logon",)
        media = e.filter(e.action.isin(planted), e.host.notnull()).select(
            p_user=e.user_id, p_day=e.day, p_host=e.host, p_id=e.event_id)
        both = mail.join(media, [mail.a_host == media.p_host, mail.a_user != media.p_user,
                                 media.p_day <= mail.a_day,
                                 media.p_day >= mail.a_day - ibis.interval(
                                     days=self.masquerade_days)])
        # the evidence: the mail and the visits that planted it (on the mail's day the
        # planter may have no event of their own)
        return both.group_by(q_user=both.p_user, q_day=both.a_day).aggregate(
            q_recipients=both.a_n.max(), q_accounts=both.a_user.collect(distinct=True).sort(),
            q_ids=both.a_id.collect(distinct=True).concat(both.p_id.collect(distinct=True)))

    def _carried(self, window: Window) -> ibis.Table:
        """Per person and day: other people's computers on which they connected media."""
        e = window.events
        owners = machine_owners(e, self.min_owner_share)
        media = e.filter(e.action == "device_connect", e.host.notnull())
        media = media.join(owners, media.host == owners.w_host).filter(
            lambda t: t.w_owner != t.user_id)
        return media.group_by(c_user=media.user_id, c_day=media.day).aggregate(
            c_hosts=media.host.nunique())

    def score(self, window: Window) -> ibis.Table:
        """Findings on tool-download days and on off-hours mass-mail days."""
        u = window.user_day
        carried_to = self._carried(window)
        u = u.left_join(carried_to, [u.user_id == carried_to.c_user,
                                     u.day == carried_to.c_day])
        # fallbacks: a web log without upload/download (CERT r4.2) shows the download as a
        # visit to the tool's site; without HR's performance records the motive is unknown,
        # so carrying a new tool to someone else's machine is not discounted for lacking one
        blind_downloads = not window.sees("web_direction")
        blind_motive = not window.sees("hr_performance")
        tools = u.visits_hacking_tools_1d if blind_downloads else u.downloads_hacking_tools_1d
        u = u.mutate(_carried=u.c_hosts.fill_null(0), _tools=tools.fill_null(0))
        prior = ibis.window(group_by=u.user_id, order_by=u.day, rows=(-self.history_rows, -1))
        other_host = (u.hosts_other_user_1d > 0) | (u.hosts_first_seen_1d > 0)
        u = u.mutate(
            _prior_tools=(u._tools > 0).cast("int32").sum().over(prior),
            _prior_media=(u.device_connects_1d > 0).cast("int32").sum().over(prior),
            _prior_other=other_host.cast("int32").sum().over(prior),
            _prior_carried=(u._carried > 0).cast("int32").sum().over(prior))
        masquerade = self._masquerade(window)
        # the planter need not be active the evening the harvested account mails (the
        # scenario ends with them gone): that day is theirs too, with no activity of its own
        absent = masquerade.anti_join(u, [masquerade.q_user == u.user_id,
                                          masquerade.q_day == u.day])
        keys = u.select(k_user=u.user_id, k_day=u.day).union(
            absent.select(k_user=absent.q_user, k_day=absent.q_day))
        u = keys.left_join(u, [keys.k_user == u.user_id, keys.k_day == u.day])
        u = u.mutate(user_id=u.k_user, day=u.k_day).drop("k_user", "k_day")
        mass = self._mass_mail(window)
        t = u.left_join(mass, [u.user_id == mass.m_user, u.day == mass.m_day])
        t = t.mutate(_recipients=t.m_recipients.fill_null(0))
        t = t.left_join(masquerade, [t.user_id == masquerade.q_user, t.day == masquerade.q_day])
        t = t.mutate(_masq=t.q_recipients.fill_null(0))
        tool = t._tools > 0
        t = t.filter(tool | (t._recipients > 0) | (t._masq > 0))
        grievance = (t.days_since_performance_concern_1d.notnull()
                     & (t.days_since_performance_concern_1d <= self.grievance_days))
        # someone who researches tools routinely (security staff) is not new to them
        prior_tools = t._prior_tools.fill_null(0)
        novel = prior_tools <= self.max_prior_tool_days
        tool_s = ibis.ifelse(tool, ibis.ifelse(prior_tools == 0, 0.45,
                                               ibis.ifelse(novel, 0.3, 0.1)), 0.0)
        habitual_media = t._prior_media.fill_null(0) >= self.habitual_days
        media_s = ibis.ifelse(tool & (t.device_connects_1d > 0),
                              ibis.ifelse(habitual_media, 0.15, 0.35), 0.0)
        other_host = (t.hosts_other_user_1d > 0) | (t.hosts_first_seen_1d > 0)
        habitual_other = t._prior_other.fill_null(0) >= self.habitual_days
        host_s = ibis.ifelse(tool & other_host, ibis.ifelse(habitual_other, 0.1, 0.3), 0.0)
        # the tool leaves the person's own machine: media plugged into someone else's
        # computer (rarely done before), or media and another computer both new to them
        carried_media = t._carried > 0
        habitual_carry = t._prior_carried.fill_null(0) >= self.habitual_days
        carry_s = ibis.ifelse(tool & carried_media, ibis.ifelse(habitual_carry, 0.2, 0.5), 0.0)
        # media unseen (null): a computer new to the person alone is the carry (the fallback)
        media_used = (t.device_connects_1d > 0).fill_null(True)
        carried = (carried_media & ~habitual_carry) | (
            media_used & ~habitual_media & other_host & ~habitual_other)
        grievance_s = ibis.ifelse(tool & grievance, 0.45, 0.0)
        # leaving is a weaker motive: most leavers are honest
        leaving_s = ibis.ifelse(tool & t.days_to_departure_1d.notnull(), 0.2, 0.0)
        mass_s = ibis.ifelse(t._recipients > 0,
                             0.45 + 0.3 * saturate(t._recipients - self.min_recipients, 30.0),
                             0.0)
        aggrieved = grievance
        # the heart of the scenario: a tool download by someone with a grievance, carried
        motive_s = ibis.ifelse(tool & aggrieved & carried, 0.4, 0.0)
        # the mass mail went out from another account on a machine this person had just
        # plugged media into: the scenario's end, whatever the rest of the day
        masq_s = ibis.ifelse(t._masq > 0,
                             0.75 + 0.2 * saturate(t._masq - self.min_recipients, 30.0), 0.0)
        # kept as columns: nested in the expressions below, the SQL grew to tens of MB
        t = t.mutate(_combined=noisy_or(tool_s, media_s, host_s, carry_s, grievance_s,
                                        leaving_s, mass_s, motive_s), _masq_s=masq_s)
        combined, masq_s = t._combined, t._masq_s
        # a tool that stays on the person's own machine is not the scenario, however many
        # of its other parts the day has
        capped = ibis.ifelse(tool & ~carried & (t._recipients == 0),
                             ibis.least(combined, self.uncarried_cap), combined)
        # without a grievance a tool download is research (security staff's day job): less,
        # and much less when the person does it routinely; a grievance does not make a
        # routine download that stays on the person's own machine any less routine
        quiet = tool & (t._recipients == 0)
        # a visit is no download: with downloads unseen, routine visits to tool sites do not
        # make a first carry to someone else's machine routine
        unknown_motive = ibis.literal(blind_motive) & carried & (
            novel | ibis.literal(blind_downloads))
        score = ibis.ifelse(
            quiet & ~aggrieved & ~unknown_motive,
            capped * ibis.ifelse(novel, self.no_motive_factor, self.routine_factor),
            ibis.ifelse(quiet & ~novel & ~carried, capped * self.routine_factor, capped))
        t = t.mutate(_score=noisy_or(score, masq_s))
        score = t._score
        reasons = [
            reason("visits_hacking_tools_1d" if blind_downloads else "downloads_hacking_tools_1d",
                   t._tools, 0.0, tool_s, number_text(t._tools).concat(
                       " visits to hacking-tool or keylogger sites (downloads cannot be seen"
                       " here)" if blind_downloads
                       else " downloads from hacking-tool or keylogger sites")),
            reason("device_connects_1d", t.device_connects_1d, None, media_s,
                   ibis.literal("removable media used the same day")),
            reason("hosts_other_user_1d", t.hosts_other_user_1d + t.hosts_first_seen_1d,
                   t._prior_other, host_s,
                   ibis.literal("used another person's or a new computer the same day (")
                   .concat(number_text(t._prior_other.fill_null(0)), " such days before)")),
            reason("media_on_other_user_host", t._carried, t._prior_carried, carry_s,
                   ibis.literal("removable media connected on ").concat(
                       number_text(t._carried), " computers that are other people's (",
                       number_text(t._prior_carried.fill_null(0)), " such days before)")),
            reason("days_since_performance_concern_1d", t.days_since_performance_concern_1d,
                   None, grievance_s, ibis.literal("performance concern ").concat(
                       number_text(t.days_since_performance_concern_1d.fill_null(0)),
                       " days ago")),
            reason("days_to_departure_1d", t.days_to_departure_1d, None, leaving_s,
                   ibis.literal("leaving in ").concat(
                       number_text(t.days_to_departure_1d.fill_null(0)), " days")),
            reason("performance_concerns_unseen", unknown_motive.cast("float64"), None,
                   ibis.ifelse(unknown_motive & quiet, 0.01, 0.0),
                   "HR performance concerns cannot be seen here: a new tool carried to another"
                   " person's machine is not discounted for lacking a known grievance"),
            reason("downloads_hacking_tools_with_grievance", t._tools, 0.0,
                   motive_s, ibis.literal("a hacking-tool download by someone with a grievance,"
                                          " carried on removable media or to another machine")),
            reason("masquerade_mass_mail", t._masq, None, masq_s,
                   ibis.literal("an off-hours e-mail to ").concat(
                       number_text(t._masq), " recipients was sent from another account on a"
                       " computer this person had " + ("connected removable media to"
                       if window.sees("removable_connect") else "logged on to") + " in the ",
                       ibis.literal(str(self.masquerade_days)), " days before")),
            reason("email_recipients_off_hours", t._recipients, None, mass_s,
                   ibis.literal("off-hours e-mail to ").concat(number_text(t._recipients),
                                                               " recipients")),
        ]
        found = findings(t, detector=self, score=score, reasons=reasons,
                         related_users=ibis.coalesce(t.q_accounts, empty_strings()))
        found = with_evidence(found, window.events, lambda e: (
            (e.action == "web_download") | (e.channel == "removable_media")
            | (e.action == "logon") | (e.action == "email_send")))
        ids = masquerade.select(i_user=masquerade.q_user, i_day=masquerade.q_day,
                                i_ids=masquerade.q_ids)
        found = found.left_join(ids, [found.user_id == ids.i_user, found.day == ids.i_day])
        merged = ibis.ifelse(found.i_ids.isnull(), found.evidence,
                             found.i_ids.concat(found.evidence).unique().sort()[:EVIDENCE_LIMIT])
        return found.mutate(evidence=merged).select(*FINDINGS_SCHEMA.names)
