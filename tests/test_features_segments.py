"""The segment layout of day-keyed feature tables: trimming, leftovers, merging."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ibis
import pytest

from molehunt.features import io
from molehunt.store.connect import Store

D0 = dt.date(2024, 3, 1)


def _store() -> Store:
    con = ibis.duckdb.connect()
    empty = ibis.memtable({"x": [1]})

    def no_events(*_: Any) -> ibis.Table:
        raise AssertionError("the segment layer reads no events")

    return Store(backend="duckdb", con=con, open_events=no_events, directory=empty,
                 hr_events=empty, documents=empty, quarantine=empty, events_of=no_events)


def _segment(store: Store, folder: Path, first: int, last: int, tag: str = "old") -> None:
    """Write the days ``D0 + first`` … ``D0 + last`` (one row each) as one segment."""
    days = [D0 + dt.timedelta(days=d) for d in range(first, last + 1)]
    table = ibis.memtable({"day": days, "tag": [tag] * len(days)})
    io.write(store, table, io.segment_path(folder, days[0], days[-1]))


def _rows(store: Store, folder: Path) -> list[tuple[int, str]]:
    table = io.read_days(store, folder)
    assert table is not None
    rows = store.con.to_pyarrow(table.order_by("day")).to_pylist()
    return [((r["day"] - D0).days, r["tag"]) for r in rows]


def test_a_run_from_an_earlier_day_trims_the_segment_it_falls_in(tmp_path: Path) -> None:
    store = _store()
    table, staged = tmp_path / "t", tmp_path / "staging" / "t"
    _segment(store, table, 0, 9)
    _segment(store, table, 10, 10)
    _segment(store, staged, 5, 11, tag="new")
    io.replace_days(store, staged, table, D0 + dt.timedelta(days=5))
    assert _rows(store, table) == [(d, "old") for d in range(5)] + [
        (d, "new") for d in range(5, 12)]
    assert [(s.first - D0).days for s in io.segments(table)] == [0, 5]
    before = io.read_days(store, table, before=D0 + dt.timedelta(days=3))
    assert before is not None and before.count().execute() == 3


def test_a_daily_run_adds_one_segment_and_rewrites_nothing(tmp_path: Path) -> None:
    store = _store()
    table, staged = tmp_path / "t", tmp_path / "staging" / "t"
    _segment(store, table, 0, 9)
    written = io.segments(table)[0].path.stat().st_mtime_ns
    _segment(store, staged, 10, 10, tag="new")
    io.replace_days(store, staged, table, D0 + dt.timedelta(days=10))
    assert io.segments(table)[0].path.stat().st_mtime_ns == written
    assert len(io.segments(table)) == 2 and _rows(store, table)[-1] == (10, "new")


def test_a_leftover_of_an_interrupted_run_is_ignored_then_removed(tmp_path: Path) -> None:
    store = _store()
    table, staged = tmp_path / "t", tmp_path / "staging" / "t"
    _segment(store, table, 0, 9)
    _segment(store, table, 0, 4, tag="trimmed copy")  # the run stopped before the original went
    assert _rows(store, table) == [(d, "old") for d in range(10)]
    _segment(store, staged, 10, 10, tag="new")
    io.replace_days(store, staged, table, D0 + dt.timedelta(days=10))
    assert [(s.first, s.last) for s in io.segments(table)] == [
        (D0, D0 + dt.timedelta(days=9)), (D0 + dt.timedelta(days=10),) * 2]
    assert len(list(table.iterdir())) == 2


def test_many_segments_are_merged_into_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setattr(io, "MAX_SEGMENTS", 3)
    store = _store()
    table = tmp_path / "t"
    for day in range(4):
        staged = tmp_path / f"staging{day}" / "t"
        _segment(store, staged, day, day, tag=str(day))
        io.replace_days(store, staged, table, D0 + dt.timedelta(days=day))
    assert len(io.segments(table)) == 1
    assert _rows(store, table) == [(d, str(d)) for d in range(4)]


def test_a_folder_segment_half_deleted_is_never_read(tmp_path: Path) -> None:
    """Spark's segments are folders, which go in many steps: renamed away first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    store = _store()
    table, staged = tmp_path / "t", tmp_path / "staging" / "t"
    folder = io.segment_path(table, D0, D0 + dt.timedelta(days=1))
    folder.mkdir(parents=True)
    for part, day in enumerate((D0, D0 + dt.timedelta(days=1))):
        pq.write_table(pa.table({"day": [day], "tag": ["spark"]}), folder / f"part-{part}.parquet")
    half_gone = table / ("2024-02-01_2024-02-02.parquet" + ".removing")
    half_gone.mkdir()
    pq.write_table(pa.table({"day": [D0], "tag": ["half-deleted"]}), half_gone / "part-0.parquet")
    assert _rows(store, table) == [(0, "spark"), (1, "spark")]
    _segment(store, staged, 1, 1, tag="new")
    io.replace_days(store, staged, table, D0 + dt.timedelta(days=1))
    assert _rows(store, table) == [(0, "spark"), (1, "new")]
    assert sorted(p.name for p in table.iterdir()) == [
        "2024-03-01_2024-03-01.parquet", "2024-03-02_2024-03-02.parquet"]
