"""The Ibis connection factory gives the same store on DuckDB and on Spark."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, ingest_cert, ingest_jsonl
from molehunt.schema import DOCUMENT_COLUMNS
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
    for version, lines in enumerate([
        [{"doc_id": "D1", "path": "/a", "title": "old", "sensitivity": 2,
          "created": "2009-12-01", "text": "x", "extra": 1},
         {"doc_id": "D2", "path": "/b", "title": "kept", "marking": "商业秘密"}],
        [{"doc_id": "D1", "path": "/a", "title": "new", "sensitivity": 4},
         {"doc_id": "D3", "path": "/c"}],
    ]):
        documents = root / f"documents_{version}.jsonl"
        documents.write_text("".join(json.dumps(line) + "\n" for line in lines))
        ingest_jsonl(workspace, [documents], table="documents")
    return workspace


def _rows(table: object, key: str = "event_id") -> list[tuple[object, ...]]:
    arrow = table.order_by([key]).to_pyarrow()  # type: ignore[attr-defined]
    return [tuple(row.values()) for row in arrow.to_pylist()]


def test_duckdb_store_has_schema_order_and_types(filled: Workspace) -> None:
    store = connect(filled)
    try:
        assert store.events.columns[:4] == ("event_id", "ts", "day", "user_id")
        assert str(store.events.schema()["day"]) == "date"
        assert store.events.count().execute() == 19
        assert store.hr_events.count().execute() == 1
        assert store.documents.columns == tuple(DOCUMENT_COLUMNS)
        assert [(r[0], r[2], r[8]) for r in _rows(store.documents, "doc_id")] == [
            ("D1", "new", 4), ("D2", "kept", None), ("D3", None, None)]  # the latest batch wins
    finally:
        store.close()


def test_empty_workspace_has_empty_tables(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    workspace.create()
    store = connect(workspace)
    try:
        assert store.events.count().execute() == 0
        assert store.directory.count().execute() == 0
        assert store.documents.count().execute() == 0
        assert store.documents.columns == tuple(DOCUMENT_COLUMNS)
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
        assert _rows(spark.documents, "doc_id") == _rows(duck.documents, "doc_id")
        assert spark.documents.schema() == duck.documents.schema()
    finally:
        duck.close()
        spark.close()
    spark_status, duck_status = store_status(filled, "spark"), store_status(filled, "duckdb")
    for key in ("events_by_source", "documents"):
        assert spark_status[key] == duck_status[key]
