"""C4 snooper: logons to other people's machines, their files mailed to a personal address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    Detector,
    Window,
    findings,
    machine_owners,
    noisy_or,
    number_text,
    reason,
    saturate,
    with_evidence,
)

#: Actions that show someone at a computer (not meetings, badges or received mail).
AT_A_COMPUTER = ("logon", "file_open", "file_write", "file_copy", "file_delete", "web_visit",
                 "email_send", "device_connect", "print")


@dataclass(kw_only=True)
class Snooper(Detector):
    """Repeated use of other people's personal machines together with mail to personal addresses.

    Scenario: someone logs onto colleagues' machines, opens their files and mails them to a
    personal address, more and more often over about three months.

    Signals: from the events, each computer's main user (the person active on it on most
    days, if at least ``min_owner_share`` of its days) makes it someone's personal machine;
    days on which a person opens files on another person's machine; how many of the last
    ``recent_days`` active days had that, against the ``recent_days`` before (rising: only
    once the person has that much history, since no history is not "none before"); mail with
    attachments to personal webmail addresses that day (where file opens cannot be seen, a
    mail counts three quarters with a rise or on the first such day after ``2 × recent_days``
    active days without one, half otherwise; a finding on the day of the mail too,
    when a snooping day came in the ``mail_days`` active days before). Each mail counts on
    its own day only: the story runs from the colleague's machine to the mail, and one mail
    counted on every snooping day after it would add up to a case on its own.
    Where file opens are seen, files opened on another person's machine and mailed home is
    the whole story in one day and scores high from its first day.

    False positives: support staff and people who use colleagues' machines routinely (their
    use does not rise and they do not mail files home); shared machines (no main user);
    personal mail without other machines (not scored).
    """

    name: ClassVar[str] = "snooper"
    version: ClassVar[int] = 5
    kind: ClassVar[str] = "rule"
    observes: ClassVar[frozenset[str]] = frozenset({"file_access", "logon"})
    fallbacks: ClassVar[Mapping[str, str]] = {
        "file_access": "days at another person's personal machine (logons and other work)"
                       " stand for days of files opened there",
    }
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "events", "emails_personal_sent_1d", "attachments_out_email_1d"})
    lookback_days: ClassVar[int] = 90

    #: Active days in the "recent" period compared with the one before it.
    recent_days: int = 20
    #: Active days before a mail day in which a snooping day counts: only days already
    #: seen, so a daily run scores a day as a full run does.
    mail_days: int = 3
    #: Share of a computer's active days its main user must have for it to be personal.
    min_owner_share: float = 0.5

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a shorter comparison period."""
        return [{}, {"recent_days": 10, "mail_days": 1, "min_owner_share": 0.7}]

    def _other_hosts(self, window: Window) -> ibis.Table:
        """Per person and day: other people's personal machines used, files opened there."""
        e = window.events
        e = e.filter(e.host.notnull(), e.action.isin(AT_A_COMPUTER))
        used = e.group_by(h_user=e.user_id, h_day=e.day, h_host=e.host).aggregate(
            h_opens=e.count(where=e.action == "file_open"))
        owners = machine_owners(window.events, self.min_owner_share)
        other = used.join(owners, used.h_host == owners.w_host).filter(
            lambda t: t.w_owner != t.h_user)
        return other.group_by(s_user=other.h_user, s_day=other.h_day).aggregate(
            s_hosts=other.count(), s_opens=other.h_opens.sum())

    def score(self, window: Window) -> ibis.Table:
        """Findings on days the person opened files on someone else's machine."""
        self.check(window)
        u = window.user_day
        snoops = self._other_hosts(window)
        u = u.left_join(snoops, [u.user_id == snoops.s_user, u.day == snoops.s_day])
        u = u.mutate(_hosts=u.s_hosts.fill_null(0), _opens=u.s_opens.fill_null(0))
        # where file opens cannot be seen (CERT r4.2), being at someone else's personal
        # machine is the snooping day; rising use and mail home still decide
        blind = not window.sees("file_access")
        opened = (u._opens > 0) | ibis.literal(blind)
        snooped = ((u._hosts > 0) & opened).cast("int32")
        recent = ibis.window(group_by=u.user_id, order_by=u.day,
                             preceding=self.recent_days - 1, following=0)
        earlier = ibis.window(group_by=u.user_id, order_by=u.day,
                              rows=(-(2 * self.recent_days - 1), -self.recent_days))
        mail = ibis.window(group_by=u.user_id, order_by=u.day, preceding=self.mail_days,
                           following=0)
        personal = ibis.ifelse(u.attachments_out_email_1d > 0, u.emails_personal_sent_1d, 0)
        t = u.mutate(_recent=snooped.sum().over(recent),
                     _earlier=snooped.sum().over(earlier).fill_null(0),
                     _history=snooped.count().over(earlier),
                     _snooped_lately=snooped.sum().over(mail), _snooped=snooped,
                     _mail=personal)
        t = t.filter((t._snooped > 0) | ((t._mail > 0) & (t._snooped_lately > 0)))
        other_s = 0.2 + 0.15 * saturate(t._hosts if blind else t._opens, 5.0)
        # a rise needs a whole earlier period: in a person's first weeks every habit "rises"
        rising = ibis.ifelse(t._history >= self.recent_days, t._recent - t._earlier, 0)
        if blind:
            # days at other machines are routine for support staff (far more of them than
            # days with files opened): only a doubling counts as a rise
            rising = ibis.ifelse(t._recent >= 2 * t._earlier, rising, 0)
        rise_s = ibis.ifelse(rising > 1, 0.45 * saturate(rising - 1, 3.0), 0.0)
        # being at other people's machines is routine where only that can be seen, and so is
        # an occasional mail home: there the rising use makes the story, and a mail without
        # it counts half; files opened there and mailed home is the scenario itself
        mail_s = ibis.ifelse(t._mail > 0, 0.6 + 0.2 * saturate(t._mail, 3.0), 0.0)
        # the first day at another person's machine after a whole history without one is a
        # rise from nothing: with the mail home it is the story's first day (support staff
        # have such days all along, so never "after none")
        first = (t._history >= self.recent_days) & (t._earlier == 0) & (
            t._recent == t._snooped) & (t._snooped > 0)
        if blind:
            mail_s = ibis.ifelse((rise_s > 0) | first, 0.75 * mail_s, 0.5 * mail_s)
        score = ibis.ifelse(t._mail > 0, noisy_or(other_s, rise_s, mail_s),
                            0.5 * noisy_or(other_s, rise_s))
        reasons = [
            reason("files_opened_other_user_host", t._opens, 0.0, other_s, ibis.ifelse(
                t._snooped > 0,
                ibis.literal("worked on ").concat(
                    number_text(t._hosts), " computers that are other people's (files"
                    " opened there cannot be seen here)") if blind
                else number_text(t._opens).concat(" files opened on ", number_text(t._hosts),
                                                  " computers that are other people's"),
                ibis.literal("at other people's computers on ").concat(
                    number_text(t._snooped_lately), " of the ",
                    ibis.literal(str(self.mail_days)), " active days before"))),
            reason("other_user_host_days_recent", t._recent, t._earlier, rise_s,
                   ibis.literal("such days: ").concat(
                       number_text(t._recent), " of the last ", ibis.literal(
                           str(self.recent_days)), " active days, ", number_text(t._earlier),
                       " in the ", ibis.literal(str(self.recent_days)), " before")),
            reason("emails_personal_sent_1d", t._mail, 0.0, mail_s,
                   number_text(t._mail).concat(
                       " e-mails with attachments to personal addresses that day",
                       ibis.cases((rise_s > 0, ""),
                                  (first, "; the first day at another person's machine in"
                                          " the last " + str(2 * self.recent_days)
                                          + " active days"),
                                  else_="; without rising use of other machines it counts"
                                        " half (files opened there cannot be seen)")
                       if blind else ibis.literal(""))),
        ]
        found = findings(t, detector=self, score=score, reasons=reasons)
        return with_evidence(found, window.events, lambda e: (
            (e.action.isin(("logon", "file_open"))) | (e.channel == "webmail")))
