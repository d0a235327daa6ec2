"""First-seen novelty: things the person had never done or used before that day.

Each counts values whose first appearance in the person's whole history in the store is that
day: a new computer, e-mail recipient, recipient domain, web site, paste or leak site; the
first removable device ever. The first days of a person's history are new by definition;
``days_observed_1d`` tells how much history there is, so a detector can ignore the warm-up.
"""

from __future__ import annotations

from typing import Any

from molehunt.features.catalogue import Family, Feature

#: Feature name → kind of first-seen value (see :func:`molehunt.features.build.first_seen`).
KINDS = {
    "hosts_first_seen_1d": "host",
    "recipients_first_seen_1d": "recipient",
    "recipient_domains_first_seen_1d": "mail_domain",
    "web_domains_first_seen_1d": "web_domain",
    "leak_sites_first_seen_1d": "leak_domain",
    "device_first_use_1d": "device",
}


def _derive(inputs: Any) -> Any:
    seen = inputs.first_seen
    new = seen.filter(seen.first_day.between(inputs.start, inputs.end), seen.kind != "presence")
    counts = new.group_by(new.user_id, day=new.first_day).aggregate(
        **{name: new.count(where=new.kind == kind) for name, kind in KINDS.items()})
    presence = seen.filter(seen.kind == "presence").select(
        p_user=seen.user_id, first_active=seen.first_day)
    keys = inputs.user_days
    observed = keys.left_join(presence, keys.user_id == presence.p_user).select(
        keys.user_id, keys.day,
        days_observed_1d=keys.day.delta(presence.first_active, unit="day").cast("int64"))
    joined = observed.left_join(counts, [observed.user_id == counts.user_id,
                                         observed.day == counts.day])
    return joined.select(
        observed.user_id, observed.day, observed.days_observed_1d,
        **{name: joined[name].fill_null(0).cast("int64") for name in KINDS})


FAMILY = Family(
    name="novelty",
    title="First-seen novelty",
    order=35,
    features=(
        Feature("hosts_first_seen_1d", "novelty", "hosts",
                "Computers the person used for the first time.", baseline=True),
        Feature("recipients_first_seen_1d", "novelty", "values",
                "E-mail addresses the person wrote to for the first time.",
                observes=("email_sent",)),
        Feature("recipient_domains_first_seen_1d", "novelty", "values",
                "E-mail domains the person wrote to for the first time.",
                observes=("email_sent",)),
        Feature("web_domains_first_seen_1d", "novelty", "values",
                "Web sites (domains) the person visited for the first time.",
                observes=("web_visit",)),
        Feature("leak_sites_first_seen_1d", "novelty", "values",
                "Paste or leak sites (domains) the person visited for the first time: a "
                "first visit to a leak site by someone who reads paste sites every day.",
                observes=("web_visit",)),
        Feature("device_first_use_1d", "novelty", "flag",
                "1 on the day the person connected a removable device for the first time "
                "ever.", weekly="max", observes=("removable_connect",)),
        Feature("days_observed_1d", "novelty", "days",
                "Days since the person's first event in the store (0 on that day): how much "
                "history the other first-seen counts rest on.", weekly="last"),
    ),
    derive=_derive,
)
