"""The Ibis connection factory gives the same store on DuckDB and on Spark."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, ingest_cert, ingest_jsonl
from molehunt.store.connect import connect
from molehunt.store.status import store_status
from molehunt.store.workspace import Workspace


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("backends")
    workspace = Workspace(root / "ws [it's]*")  # both engines must read paths literally
    ingest_cert(workspace, FIXTURES / "cert_r4")
    hr = root / "hr.jsonl"
    hr.write_text('{"user_id": "DKF0004", "ts": "2010-02-01T00:00:00", "kind": "travel"}\n')
    ingest_jsonl(workspace, [hr], table="hr_events")
    return workspace


def _rows(table: object) -> list[tuple[object, ...]]:
    arrow = table.order_by(["event_id"]).to_pyarrow()  # type: ignore[attr-defined]
    return [tuple(row.values()) for row in arrow.to_pylist()]


def test_duckdb_store_has_schema_order_and_types(filled: Workspace) -> None:
    store = connect(filled)
    try:
        assert store.events.columns[:4] == ("event_id", "ts", "day", "user_id")
        assert str(store.events.schema()["day"]) == "date"
        assert store.events.count().execute() == 19
        assert store.hr_events.count().execute() == 1
    finally:
        store.close()


def test_empty_workspace_has_empty_tables(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    workspace.create()
    store = connect(workspace)
    try:
        assert store.events.count().execute() == 0
        assert store.directory.count().execute() == 0
    finally:
        store.close()


@pytest.mark.spark
def test_spark_and_duckdb_agree(filled: Workspace) -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Java is needed for Spark")
    duck = connect(filled, "duckdb")
    spark = connect(filled, "spark")
    try:
        assert _rows(spark.events) == _rows(duck.events)
        assert spark.directory.count().execute() == duck.directory.count().execute()
    finally:
        duck.close()
        spark.close()
    assert store_status(filled, "spark")["events_by_source"] == store_status(
        filled, "duckdb")["events_by_source"]
