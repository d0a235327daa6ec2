"""S3 inbound contamination: another company's confidential documents arrive, by a private way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import (
    EVIDENCE_LIMIT,
    Detector,
    Window,
    bounded,
    exact_round,
    findings,
    noisy_or,
    number_text,
    reason,
    saturate,
)

#: Channels by which a person brings documents in privately (not a business counterpart's mail).
PRIVATE_CHANNELS = ("removable_media", "webmail", "cloud_storage", "web")


@dataclass(kw_only=True)
class InboundContamination(Detector):
    """Documents marked confidential by another company arrive, flagged on the day they arrive.

    Scenario: a job hopper joins carrying a former employer's secrets (S3) — copied in from a
    USB stick, mailed from their own personal address — a legal risk to the new employer
    whether or not the documents are ever used, and often the first sign of someone who
    collects wherever they work.

    Signals: the content module's ``foreign_markings`` (inbound mail read, downloads and
    copies from removable media whose text carries a marking of level 2 or more by an owner
    that is not the company: "Helios Cells SECRET", "维尔特拉出行 机密"); how they arrived
    (removable media, personal webmail and file-sharing sites are private ways; mail from an
    outside business address is the normal way for a partner's documents under an NDA); how
    many documents and how sensitive; and whether the person joined recently
    (``days_since_hire_1d``), when former employers' documents are most likely.

    False positives: partner and customer documents legitimately shared under an NDA arrive
    by business mail (scored at ``business_factor``, below the level analysts read unless
    many and very sensitive); a marking quoted in a news article or a public filing that was
    downloaded (one document, web: a weak finding); a company's own new subsidiary not yet
    listed in ``company_names`` (add it to the settings).
    """

    name: ClassVar[str] = "inbound_contamination"
    kind: ClassVar[str] = "content"
    requires: ClassVar[frozenset[str]] = frozenset({
        "user_day", "foreign_markings", "days_since_hire_1d"})
    long_horizon: ClassVar[bool] = True
    uses_baselines: ClassVar[bool] = False

    #: Someone hired at most this many days ago is a new joiner.
    joiner_days: int = 90
    #: Multiplier when every marked document came by business mail (a partner, an NDA).
    business_factor: float = 0.35

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a stricter reading of business mail."""
        return [{}, {"joiner_days": 30, "business_factor": 0.1}]

    def score(self, window: Window) -> ibis.Table:
        """One finding per person and day on which marked documents arrived."""
        m = window.table("foreign_markings")
        private = m.channel.isin(PRIVATE_CHANNELS)
        per_day = m.group_by(m.user_id, m.day).aggregate(
            documents=m.event_id.nunique(),
            private_documents=m.event_id.nunique(where=private),
            media=(m.channel == "removable_media").cast("int64").max(),
            webmail=(m.channel == "webmail").cast("int64").max(),
            sharing=m.channel.isin(("cloud_storage", "web")).cast("int64").max(),
            top_sensitivity=m.sensitivity.cast("int64").max(),
            owners=m.owner.nunique(), an_owner=m.owner.min(),
            ids=m.event_id.collect())
        u = window.user_day.select(u_user=window.user_day.user_id, u_day=window.user_day.day,
                                   hired=window.user_day.days_since_hire_1d)
        t = per_day.left_join(u, [per_day.user_id == u.u_user, per_day.day == u.u_day])
        is_private = t.private_documents > 0
        arrival_s = ibis.ifelse(
            is_private, 0.6 + 0.2 * saturate(t.private_documents - 1, 3.0),
            0.25 * saturate(t.documents, 3.0))
        sensitive_s = 0.3 * (bounded(t.top_sensitivity - 2, 0, 2) / 2.0)
        joiner = t.hired.notnull() & (t.hired <= self.joiner_days)
        joiner_s = ibis.ifelse(joiner, 0.35, 0.0)
        combined = noisy_or(arrival_s, sensitive_s, joiner_s)
        score = ibis.ifelse(is_private, combined, combined * self.business_factor)
        ways = (ibis.ifelse(t.media > 0, "removable media, ", "")
                .concat(ibis.ifelse(t.webmail > 0, "personal webmail, ", ""),
                        ibis.ifelse(t.sharing > 0, "web or file sharing, ", ""),
                        ibis.ifelse(t.private_documents < t.documents, "business mail, ", "")))
        ways = ways.substr(0, ways.length() - 2)
        owners = ibis.ifelse(t.owners > 1, ibis.literal(" and ").concat(
            number_text(t.owners - 1), " other owner(s)"), "")
        reasons = [
            reason("foreign_marked_documents_in", t.documents, 0.0,
                   ibis.greatest(arrival_s, 0.01),
                   number_text(t.documents).concat(
                       " document(s) marked confidential by ", t.an_owner, owners,
                       " arrived by ", ways)),
            reason("foreign_marking_sensitivity", t.top_sensitivity, 2.0, sensitive_s,
                   ibis.literal("the strongest marking is level ").concat(
                       number_text(t.top_sensitivity), " of 4")),
            reason("days_since_hire_1d", t.hired, None, joiner_s,
                   ibis.literal("joined ").concat(number_text(t.hired.fill_null(0)),
                                                  " days ago")),
        ]
        return findings(t, detector=self, score=exact_round(score), reasons=reasons,
                        evidence=t.ids.sort()[:EVIDENCE_LIMIT])
