"""DuckDB and Spark agree on the long-horizon detectors, on days where they find something."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from detect_helpers import window
from molehunt.detectors import registry


def _rows(table: Any) -> list[tuple[Any, ...]]:
    frame = table.to_pandas()
    rows = []
    for r in frame.itertuples(index=False):
        reasons = tuple(sorted((x["feature"], round(x["weight"], 6), x["text"])
                               for x in r.reasons))
        rows.append((r.user_id, str(r.day)[:10], round(r.score, 6), reasons,
                     tuple(r.evidence), tuple(r.related_users)))
    return sorted(rows)


@pytest.mark.parametrize("name", ["inbound_contamination", "low_and_slow", "recruiter_network"])
def test_spark_and_duckdb_agree_on_slow_schemes(slow_org: Any, name: str) -> None:
    pytest.importorskip("pyspark")
    workspace, _ = slow_org
    duck_store, duck = window(workspace)
    spark_store, spark = window(workspace, "spark")
    try:
        # five months: the S3 arrival, the S1 consultant's first months, the S2 group's start
        end = duck.start + dt.timedelta(days=150)
        detector = registry()[name]()
        found = _rows(detector.score(duck.cut(duck.start, end)))
        assert found, f"{name} finds nothing in the first five months"
        assert found == _rows(detector.score(spark.cut(spark.start, end)))
    finally:
        duck_store.close()
        spark_store.close()
