"""E-mail: who the person writes to outside the company and what goes with it."""

from __future__ import annotations

from typing import Any

from molehunt.features.catalogue import Family, Feature
from molehunt.features.enrich import count, total


def _aggregates(e: Any) -> dict[str, Any]:
    sent = e.action == "email_send"
    external = sent & (e.channel == "email_external")
    personal = sent & (e.channel == "webmail")
    outside = external | personal
    return {
        "emails_external_sent_1d": count(e, where=external),
        "emails_personal_sent_1d": count(e, where=personal),
        "attachments_out_email_1d": total(e.n_attachments, outside),
        "bytes_out_email_1d": total(e.bytes, outside),
        "emails_to_competitor_1d": count(e, where=sent & (e.category == "competitor")),
        "emails_to_expert_network_1d": count(e, where=sent & (e.category == "expert_network")),
        "emails_viewed_external_1d": e.count(
            where=(e.action == "email_view") & e.channel.isin(("email_external", "webmail"))),
    }


FAMILY = Family(
    name="email",
    title="E-mail",
    order=50,
    notes="`webmail` mail goes to or comes from personal webmail addresses (Gmail, QQ Mail, "
          "…); `email_external` to any other domain outside the company. First-seen "
          "recipients and domains are in the novelty family.",
    features=(
        Feature("emails_external_sent_1d", "email", "events",
                "E-mails sent to at least one address outside the company that is not a "
                "personal webmail address.", baseline=True, observes=("email_sent",)),
        Feature("emails_personal_sent_1d", "email", "events",
                "E-mails sent to at least one personal webmail address (which may be the "
                "person's own).", baseline=True, observes=("email_sent",)),
        Feature("attachments_out_email_1d", "email", "events",
                "Attachments on e-mails sent outside the company or to personal addresses.",
                observes=("email_sent",)),
        Feature("bytes_out_email_1d", "email", "bytes",
                "Bytes of e-mails (with attachments) sent outside or to personal addresses.",
                observes=("email_sent",)),
        Feature("emails_to_competitor_1d", "email", "events",
                "E-mails sent to a competitor's domain (configured per company).",
                observes=("email_sent",)),
        Feature("emails_to_expert_network_1d", "email", "events",
                "E-mails sent to expert networks and consulting intermediaries.",
                observes=("email_sent",)),
        Feature("emails_viewed_external_1d", "email", "events",
                "E-mails received from outside the company or from personal addresses.",
                observes=("email_received",)),
    ),
    aggregates=_aggregates,
)
