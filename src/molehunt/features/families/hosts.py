"""Hosts: which computers the person used, and whether they belong to someone else.

A computer *belongs* to the first person ever seen using it, as of each day; it counts as
someone else's machine for another person only while at most ``SHARED_AFTER`` people have
used it (a machine many people use is shared, not anyone's).
"""

from __future__ import annotations

from typing import Any

import ibis

from molehunt.features.catalogue import Family, Feature

#: A computer used by more people than this is shared and belongs to no one.
SHARED_AFTER = 3
#: Actions that happen on a computer (meetings and badge swipes happen in rooms and doors).
NOT_ON_A_COMPUTER = ("meeting", "badge")


def host_days(enriched: Any) -> Any:
    """One row per person, day and computer used, with logons and events there.

    ``enriched`` rows stand for ``n`` events each (see :mod:`molehunt.features.enrich`).
    """
    e = enriched.filter(enriched.host.notnull(), ~enriched.action.isin(NOT_ON_A_COMPUTER))
    return e.group_by(e.user_id, e.day, e.host).aggregate(
        logons=e.n.sum(where=e.action == "logon").fill_null(0), events=e.n.sum())


def _derive(inputs: Any) -> Any:
    used = inputs.host_days
    pairs = inputs.first_seen.filter(inputs.first_seen.kind == "host")
    first = ibis.window(group_by=pairs.value,
                        order_by=[pairs.first_day, pairs.user_id])
    owners = pairs.filter(ibis.row_number().over(first) == 0).select(
        o_host=pairs.value, owner=pairs.user_id, owned_from=pairs.first_day)
    arrivals = pairs.group_by(a_host=pairs.value, since=pairs.first_day).aggregate(
        arrived=pairs.count())
    running = ibis.window(group_by=arrivals.a_host, order_by=arrivals.since,
                          preceding=None, following=0)
    users_so_far = arrivals.select(arrivals.a_host, arrivals.since,
                                   users=arrivals.arrived.sum().over(running))
    crowd = used.join(users_so_far, [used.host == users_so_far.a_host,
                                     users_so_far.since <= used.day])
    crowd = crowd.group_by(c_user=crowd.user_id, c_day=crowd.day, c_host=crowd.host).aggregate(
        users=crowd.users.max())
    rows = used.left_join(owners, used.host == owners.o_host).left_join(
        crowd, [used.user_id == crowd.c_user, used.day == crowd.c_day,
                used.host == crowd.c_host])
    other = (rows.owner.notnull() & (rows.owner != rows.user_id)
             & (rows.owned_from <= rows.day) & (rows.users.fill_null(0) <= SHARED_AFTER))
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
                "Distinct computers used that belong to another person (first used by "
                "someone else, and not shared by more than three people)."),
        Feature("logons_other_user_host_1d", "hosts", "events",
                "Logons to computers that belong to another person."),
        Feature("events_other_user_host_1d", "hosts", "events",
                "Events of any kind on computers that belong to another person."),
    ),
    derive=_derive,
)
