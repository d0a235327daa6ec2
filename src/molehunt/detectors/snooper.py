"""C4 snooper: logons to other people's machines, their files mailed to a personal address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    Detector,
    Window,
    findings,
    noisy_or,
    number_text,
    reason,
    saturate,
    with_evidence,
)


@dataclass(kw_only=True)
class Snooper(Detector):
    """Repeated use of other people's machines together with mail to personal addresses.

    Scenario: someone logs onto colleagues' machines, opens their files and mails them to a
    personal address, more and more often over about three months.

    Signals: logons to and events on computers that belong to someone else
    (``logons_other_user_host_1d``); how many of the last ``recent_days`` active days had
    such use compared with the ``recent_days`` before (rising); e-mail to personal webmail
    addresses with attachments within the last few active days.

    False positives: support staff and people who use colleagues' machines routinely (their
    use does not rise and they do not mail files home); personal mail without other machines.
    """

    name: ClassVar[str] = "snooper"
    kind: ClassVar[str] = "rule"
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "logons_other_user_host_1d", "events_other_user_host_1d",
        "hosts_other_user_1d", "emails_personal_sent_1d", "attachments_out_email_1d"})
    lookback_days: ClassVar[int] = 60

    #: Active days in the "recent" period compared with the one before it.
    recent_days: int = 20
    #: Active days around a snooping day in which personal mail counts.
    mail_days: int = 3

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a shorter comparison period."""
        return [{}, {"recent_days": 10, "mail_days": 1}]

    def score(self, window: Window) -> ibis.Table:
        """Findings on days the person used someone else's machine."""
        u = window.user_day
        other = (u.hosts_other_user_1d > 0).cast("int32")
        recent = ibis.window(group_by=u.user_id, order_by=u.day,
                             preceding=self.recent_days - 1, following=0)
        earlier = ibis.window(group_by=u.user_id, order_by=u.day,
                              rows=(-(2 * self.recent_days - 1), -self.recent_days))
        mail = ibis.window(group_by=u.user_id, order_by=u.day, preceding=self.mail_days,
                           following=0)
        personal = ibis.ifelse(u.attachments_out_email_1d > 0, u.emails_personal_sent_1d, 0)
        t = u.mutate(_recent=other.sum().over(recent),
                     _earlier=other.sum().over(earlier).fill_null(0),
                     _mail=personal.sum().over(mail))
        t = t.filter(t.hosts_other_user_1d > 0)
        other_s = 0.25 + 0.15 * saturate(t.events_other_user_host_1d, 10.0)
        rising = t._recent - t._earlier
        rise_s = ibis.ifelse(rising > 1, 0.45 * saturate(rising - 1, 3.0), 0.0)
        mail_s = ibis.ifelse(t._mail > 0, 0.45 + 0.2 * saturate(t._mail, 3.0), 0.0)
        score = noisy_or(other_s, rise_s, mail_s)
        reasons = [
            reason("hosts_other_user_1d", t.hosts_other_user_1d, 0.0, other_s,
                   number_text(t.hosts_other_user_1d).concat(
                       " computers of other people used (", number_text(
                           t.events_other_user_host_1d), " events there)")),
            reason("hosts_other_user_days_recent", t._recent, t._earlier, rise_s,
                   ibis.literal("such days: ").concat(
                       number_text(t._recent), " of the last ", ibis.literal(
                           str(self.recent_days)), " active days, ", number_text(t._earlier),
                       " in the ", ibis.literal(str(self.recent_days)), " before")),
            reason("emails_personal_sent_1d", t._mail, 0.0, mail_s,
                   number_text(t._mail).concat(
                       " e-mails with attachments to personal addresses around that day")),
        ]
        found = findings(t, detector=self, score=score, reasons=reasons)
        return with_evidence(found, window.events, lambda e: (
            (e.action == "logon") | (e.channel == "webmail")))
