"""Whose computer it is: the main-user rule of the hosts family, and its incremental state."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from molehunt.features.families.hosts import host_usage, main_users

DAY0 = dt.date(2024, 1, 1)


def _day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def _used() -> list[dict[str, object]]:
    """Person-days on three computers."""
    rows: list[tuple[str, str, int]] = []
    # dana's own machine; eve used it twice, fay comes by on day 11
    rows += [("dana", "PC-D", n) for n in range(1, 11)]
    rows += [("eve", "PC-D", 3), ("eve", "PC-D", 6), ("fay", "PC-D", 11)]
    # a hot desk four people use alike
    rows += [(f"u{n % 4}", "DESK", n) for n in range(1, 13)]
    # two people sharing a machine equally
    rows += [(who, "PAIR", n) for n in range(1, 8) for who in ("gus", "hal")]
    # a machine too new to have a main user, and its visitor
    rows += [("ivy", "NEW", 10), ("ivy", "NEW", 11), ("jon", "NEW", 12)]
    return [{"user_id": u, "host": h, "day": _day(n)} for u, h, n in rows]


def _owners(rows: list[dict[str, object]], start: dt.date, split: bool
            ) -> dict[tuple[str, str, int], str | None]:
    con = ibis.duckdb.connect()
    try:
        used = ibis.memtable(rows)
        earlier = None
        if split:
            earlier = host_usage(used.filter(used.day < start))
            used = used.filter(used.day >= start)
        found = con.to_pyarrow(main_users(used, earlier, start)).to_pylist()
    finally:
        con.disconnect()
    first = (start - dt.date(1970, 1, 1)).days
    return {(r["m_user"], r["m_host"], r["m_t"] - first): r["owner"] for r in found}


@pytest.fixture(scope="module")
def owners() -> dict[tuple[str, str, int], str | None]:
    """Every person-day's owner, computed from the first day."""
    return _owners(_used(), _day(0), split=False)


def test_main_user_owns_the_machine_others_visit(owners: dict) -> None:
    assert owners[("fay", "PC-D", 11)] == "dana"
    assert owners[("eve", "PC-D", 6)] == "dana"
    assert owners[("dana", "PC-D", 10)] == "dana"  # on her own machine


def test_no_owner_before_five_person_days(owners: dict) -> None:
    assert owners[("eve", "PC-D", 3)] is None  # two person-days before
    assert owners[("jon", "NEW", 12)] is None  # ivy's two days are too few


def test_shared_machines_belong_to_nobody(owners: dict) -> None:
    assert all(owners[(f"u{n % 4}", "DESK", n)] is None for n in range(1, 13))
    assert all(owners[(who, "PAIR", n)] is None for n in range(1, 8) for who in ("gus", "hal"))


@pytest.mark.parametrize("start", [2, 6, 11])
def test_starting_from_the_state_equals_the_whole_history(owners: dict, start: int) -> None:
    later = _owners(_used(), _day(start), split=True)
    assert later == {(u, h, n - start): o for (u, h, n), o in owners.items() if n >= start}
