"""Layoffs from the directory alone, where there is no HR feed (telemetry of the public CERT
releases): a wave of leavers in one department at one snapshot, or two in a row."""

from __future__ import annotations

import datetime as dt

import ibis

from molehunt.features.families.hr import activity_waves, departure_waves

APRIL, MAY, JUNE = dt.date(2010, 4, 1), dt.date(2010, 5, 1), dt.date(2010, 6, 1)


def _directory(leaving: dict[str, dt.date | None], department: str) -> list[dict[str, object]]:
    return [{"user_id": user, "department": department, "valid_from": dt.date(2010, 1, 1),
             "valid_to": left} for user, left in leaving.items()]


def test_a_wave_is_several_leavers_and_a_share_of_the_department() -> None:
    finance = _directory({f"f{i}": (MAY if i < 4 else None) for i in range(20)}, "Finance")
    # the usual attrition: one leaver a month in a large department is no wave
    sales = _directory({f"s{i}": (MAY if i == 0 else JUNE if i == 1 else None)
                        for i in range(30)}, "Sales")
    # three leavers of a department of 60 (5 %) is not a wave either
    rd = _directory({f"r{i}": (JUNE if i < 3 else None) for i in range(60)}, "R&D")
    # a layoff whose last days straddle a snapshot: one leaver in May, two in June
    legal = _directory({f"l{i}": (MAY if i == 0 else JUNE if i < 3 else None)
                        for i in range(12)}, "Legal")
    # the same three leavers spread over three snapshots is attrition, not a wave
    quality = _directory({f"q{i}": ([APRIL, MAY, JUNE][i] if i < 3 else None)
                          for i in range(12)}, "Quality")
    # someone who moved to another department has not left
    moved = [{"user_id": "m", "department": "R&D", "valid_from": dt.date(2010, 1, 1),
              "valid_to": MAY},
             {"user_id": "m", "department": "Finance", "valid_from": MAY, "valid_to": None}]
    table = ibis.memtable(finance + sales + rd + legal + quality + moved, schema={
        "user_id": "string", "department": "string", "valid_from": "date",
        "valid_to": "date"})
    waves = departure_waves(table).to_pyarrow().to_pylist()
    epoch = dt.date(1970, 1, 1)
    assert sorted(waves, key=lambda w: str(w["l_group"])) == [
        {"l_group": "Finance", "l_at": (MAY - epoch).days},
        {"l_group": "Legal", "l_at": (JUNE - epoch).days}]


def _activity(days_by_user: dict[str, list[dt.date]]) -> ibis.Table:
    return ibis.memtable([{"user_id": user, "day": day} for user, days in days_by_user.items()
                          for day in days], schema={"user_id": "string", "day": "date"})


def _workdays(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)
            if (first + dt.timedelta(days=i)).weekday() < 5]


def test_a_wave_shows_in_the_logs_when_regular_workers_stop_appearing() -> None:
    """Four of twenty regular workers of Finance stop on the same days: a wave a week later,
    weeks before the next snapshot; one of twenty on holiday, or someone who comes back
    within the week, is not. Only what the day could know counts: a person who returns later
    was gone as far as the days before their return could tell."""
    start, end = dt.date(2010, 3, 1), dt.date(2010, 4, 30)
    stop = dt.date(2010, 4, 2)  # a Friday: their last day
    finance = {f"f{i}": _workdays(start, stop if i < 4 else end) for i in range(20)}
    # on holiday for two weeks: alone, no wave
    finance["f19"] = [d for d in _workdays(start, end)
                      if not dt.date(2010, 4, 5) <= d <= dt.date(2010, 4, 16)]
    sales = {f"s{i}": _workdays(start, stop if i < 1 else end) for i in range(20)}
    directory = ibis.memtable(
        _directory(dict.fromkeys(finance), "Finance") + _directory(dict.fromkeys(sales),
                                                                   "Sales"),
        schema={"user_id": "string", "department": "string", "valid_from": "date",
                "valid_to": "date"})
    days = ibis.memtable({"day": [start + dt.timedelta(days=i)
                                  for i in range((end - start).days + 1)]})
    waves = activity_waves(_activity({**finance, **sales}), directory, days)
    epoch = dt.date(1970, 1, 1)
    seen = sorted((w["l_group"], epoch + dt.timedelta(days=w["l_at"]))
                  for w in waves.to_pyarrow().to_pylist())
    # five gone (four leavers and the holiday) of 20 from a week after the last day until
    # the holiday ends; four of 20 (20 %) after that, until three weeks after the last day
    assert seen == [("Finance", stop + dt.timedelta(days=i)) for i in range(7, 22)]
    # computed one day at a time, as a daily run does, with only the logs up to that day
    for day in (stop + dt.timedelta(days=6), stop + dt.timedelta(days=7)):
        known = {u: [d for d in ds if d <= day] for u, ds in {**finance, **sales}.items()}
        one = activity_waves(_activity(known), directory, ibis.memtable({"day": [day]}))
        assert bool(one.to_pyarrow().num_rows) == (day >= stop + dt.timedelta(days=7))
