"""DuckDB and Spark agree on the long-horizon detectors, on days where they find something."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from detect_helpers import run, window
from molehunt.detectors import registry
from molehunt.store.connect import Store

pytestmark = pytest.mark.spark

#: Days of history before a detector's first finding that the compared slice keeps: enough
#: for the findings to appear in the slice alone, short enough to keep Spark quick.
SLICE_DAYS = 60


def _rows(table: Any) -> list[tuple[Any, ...]]:
    frame = table.to_pandas()
    rows = []
    for r in frame.itertuples(index=False):
        reasons = tuple(sorted((x["feature"], round(x["weight"], 6), x["text"])
                               for x in r.reasons))
        rows.append((r.user_id, str(r.day)[:10], round(r.score, 6), reasons,
                     tuple(r.evidence), tuple(r.related_users)))
    return sorted(rows)


@pytest.fixture(scope="module")
def stores(slow_org: Any) -> Any:
    """DuckDB and Spark windows over the slow-scheme organisation (opened once)."""
    pytest.importorskip("pyspark")
    workspace, _ = slow_org
    opened: list[Store] = []
    try:
        duck_store, duck = window(workspace)
        opened.append(duck_store)
        spark_store, spark = window(workspace, "spark")
        opened.append(spark_store)
        yield workspace, duck, spark
    finally:
        for store in opened:
            store.close()


@pytest.mark.parametrize("name", ["inbound_contamination", "low_and_slow", "recruiter_network"])
def test_spark_and_duckdb_agree_on_slow_schemes(stores: Any, name: str) -> None:
    workspace, duck, spark = stores
    detector = registry()[name]()
    # the slice ends a week after the detector's first finding on the whole history
    first = min(run(detector, workspace).day)
    first = first.date() if isinstance(first, dt.datetime) else first
    end = first + dt.timedelta(days=7)
    start = max(duck.start, end - dt.timedelta(days=SLICE_DAYS))
    found = _rows(detector.score(duck.cut(start, end)))
    assert found, f"{name} finds nothing in {start} .. {end}"
    assert found == _rows(detector.score(spark.cut(start, end)))
