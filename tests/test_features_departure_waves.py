"""Layoffs from the directory alone, where there is no HR feed (telemetry of the public CERT
releases): a wave of leavers in one department at one snapshot, or two in a row."""

from __future__ import annotations

import datetime as dt

import ibis

from molehunt.features.families.hr import departure_waves

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
