"""Hosts: which computers the person used, and whether they belong to someone else.

A computer *belongs* to its main user as of each day: the person active on it on more than
``MAIN_USER_SHARE`` of its person-days before that day, once the computer has been used on at
least ``MIN_PERSON_DAYS`` person-days. A computer without a main user (hot desks, labs,
servers many people use alike, two people sharing a desk) is nobody's. Whoever else works on
a computer that has a main user is on someone else's machine — even when many colleagues
occasionally do the same.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis

from molehunt.features.catalogue import Family, Feature

#: Share of a computer's earlier person-days its main user must exceed.
MAIN_USER_SHARE = 0.5
#: Person-days a computer needs before anyone is its main user.
MIN_PERSON_DAYS = 5
#: Actions that happen on a computer (meetings and badge swipes happen in rooms and doors).
NOT_ON_A_COMPUTER = ("meeting", "badge")
_EPOCH = dt.date(1970, 1, 1)


def host_days(enriched: Any) -> Any:
    """One row per person, day and computer used, with logons and events there.

    ``enriched`` rows stand for ``n`` events each (see :mod:`molehunt.features.enrich`).
    """
    e = enriched.filter(enriched.host.notnull(), ~enriched.action.isin(NOT_ON_A_COMPUTER))
    return e.group_by(e.user_id, e.day, e.host).aggregate(
        logons=e.n.sum(where=e.action == "logon").fill_null(0), events=e.n.sum())


def host_usage(used: Any) -> Any:
    """``host, user_id, days``: on how many days each person used each computer.

    ``used`` holds :func:`host_days` rows; the result is the state a later run starts from.
    """
    return used.group_by(used.host, used.user_id).aggregate(days=used.count().cast("int64"))


def day_number(day: Any) -> Any:
    """A date as a whole number of days (a frame "until the day before" needs numbers)."""
    return day.delta(ibis.date(_EPOCH), unit="day").cast("int64")


def main_users(used: Any, earlier: Any | None, start: dt.date) -> Any:
    """``m_user, m_host, m_t, owner``: each row of ``used`` with its computer's main user.

    ``used`` holds :func:`host_days` rows from ``start`` on; ``earlier`` the
    :func:`host_usage` of the days before ``start`` (``None`` when there were none). The
    owner is null when the computer has no main user that day.
    """
    rows = used.select(used.host, used.user_id, t=day_number(used.day),
                       weight=ibis.literal(1, "int64"))
    if earlier is not None:
        # what happened before ``start`` stands as one row per person and computer, dated the
        # day before, weighing as many days as it stands for
        before = (start - _EPOCH).days - 1
        rows = earlier.select(earlier.host, earlier.user_id, t=ibis.literal(before, "int64"),
                              weight=earlier.days.cast("int64")).union(rows)
    own = ibis.window(group_by=[rows.host, rows.user_id], order_by=rows.t, preceding=None,
                      following=0)
    order = ibis.window(group_by=rows.host, order_by=rows.user_id)
    rows = rows.mutate(days=rows.weight.sum().over(own), rank=ibis.dense_rank().over(order))
    # the leader among the days before: most days, ties to the alphabetically first person
    before_today = ibis.window(group_by=rows.host, order_by=rows.t, range=(None, -1))
    key = rows.days * 1_000_000 - rows.rank
    rows = rows.mutate(leader=rows.user_id.argmax(key).over(before_today),
                       leader_days=rows.days.max().over(before_today),
                       person_days=rows.weight.sum().over(before_today))
    owned = (rows.person_days >= MIN_PERSON_DAYS) & (
        rows.leader_days.cast("float64") > MAIN_USER_SHARE * rows.person_days.cast("float64"))
    rows = rows.filter(rows.t >= (start - _EPOCH).days)
    return rows.select(m_user=rows.user_id, m_host=rows.host, m_t=rows.t,
                       owner=ibis.cases((owned, rows.leader), else_=ibis.null("string")))


def _derive(inputs: Any) -> Any:
    used = inputs.host_days
    owners = main_users(used, inputs.host_usage, inputs.start)
    used = used.mutate(t=day_number(used.day))
    rows = used.left_join(owners, [used.user_id == owners.m_user, used.host == owners.m_host,
                                   used.t == owners.m_t])
    other = rows.owner.notnull() & (rows.owner != rows.user_id)
    return rows.group_by(rows.user_id, rows.day).aggregate(
        hosts_1d=rows.count(),
        hosts_other_user_1d=rows.count(where=other),
        logons_other_user_host_1d=rows.logons.sum(where=other).fill_null(0),
        events_other_user_host_1d=rows.events.sum(where=other).fill_null(0),
    )


FAMILY = Family(
    name="hosts",
    title="Computers used",
    order=30,
    features=(
        Feature("hosts_1d", "hosts", "hosts", "Distinct computers the person used.",
                baseline=True),
        Feature("hosts_other_user_1d", "hosts", "hosts",
                "Distinct computers used that belong to another person: someone else was "
                "active on the computer on more than half of its earlier person-days (once it "
                "had five)."),
        Feature("logons_other_user_host_1d", "hosts", "events",
                "Logons to computers that belong to another person.", observes=("logon",)),
        Feature("events_other_user_host_1d", "hosts", "events",
                "Events of any kind on computers that belong to another person."),
    ),
    derive=_derive,
)
