"""Shared helpers for the test suite."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from molehunt.sources.ingest import Ingestor, IngestSummary
from molehunt.sql import sql_path, sql_paths
from molehunt.store.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"

# one JVM serves a whole run (or a whole xdist worker) and keeps memory across Spark sessions
# (2 GB still in use after a full GC at the end of a run): a 2 GB driver ran out of heap in the
# Spark tests that came after the long-horizon detectors' large plans. Two workers each run
# about half of the Spark tests; two 8 GB heaps would not leave room on a 24 GB machine.
os.environ.setdefault("MOLEHUNT_SPARK_DRIVER_MEMORY", "6g")


#: Session fixtures that simulate and analyse a whole organisation (minutes each).
SHARED_ORGANISATIONS = ("slow_org", "detect_org")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start with the tests of the shared organisations, alternating between them.

    Each organisation is built once (see :func:`built_once`) by the first worker that needs
    it. xdist's load scheduler first sends each worker a chunk of consecutive tests, so the
    first worker usually builds both while the second runs the rest; starting with them
    still builds them early, before the tests that wait for them. (Only the speed depends on
    this order.)
    """
    queues: list[list[pytest.Item]] = [[] for _ in SHARED_ORGANISATIONS]
    rest: list[pytest.Item] = []
    for item in items:
        used = [rank for rank, name in enumerate(SHARED_ORGANISATIONS)
                if name in getattr(item, "fixturenames", ())]
        (queues[used[0]] if used else rest).append(item)
    ordered: list[pytest.Item] = []
    while any(queues):
        ordered.extend(queue.pop(0) for queue in queues if queue)
    items[:] = ordered + rest


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str,
               build: Callable[[Path], None]) -> Path:
    """A folder ``build`` fills once per test run, shared by every pytest-xdist worker.

    The first worker to ask builds it under a file lock; the others wait for it and then read
    it. Tests must treat it as read-only (copy it to change it).
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        root = tmp_path_factory.mktemp(name)
        build(root)
        return root
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, above each worker's
    root = shared / f"shared-{name}"
    with _exclusive(shared / f"shared-{name}.lock"):
        if not (root / ".built").exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            build(root)
            (root / ".built").touch()
    return root


@pytest.fixture(autouse=True, scope="module")
def fresh_spark_per_module() -> Any:
    """Stop the shared Spark session after each module that started one.

    One local session for the whole run let the Spark modules' views, cached plans and
    driver memory pile up: a later parity test failed after earlier ones that passes alone.
    """
    yield
    if "pyspark.sql" not in sys.modules:  # this module never used Spark
        return
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """An empty workspace in a temporary folder."""
    return Workspace(tmp_path / "workspace")


def only_detectors(root: Path, *keep: str) -> None:
    """Write ``root/molehunt.toml`` switching every detector off but ``keep``.

    For tests of a run's mechanics (publishing, day ranges, kills), not of what detectors
    find: a run's fixed cost is mostly compiling each detector's SQL, about 20 s for all of
    them on any organisation however small.
    """
    from molehunt.detectors import registry

    unknown = set(keep) - set(registry())
    assert not unknown, f"no such detectors: {sorted(unknown)}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "molehunt.toml").write_text("".join(
        f"[detectors.{name}]\nenabled = false\n" for name in sorted(registry())
        if name not in keep), "utf-8")


def ingest_cert(workspace: Workspace, folder: Path) -> IngestSummary:
    """Ingest a CERT folder with the writer lock held."""
    with workspace.locked():
        return Ingestor(workspace).ingest_cert(folder)


def ingest_jsonl(workspace: Workspace, files: list[Path], table: str = "events",
                 source: str = "jsonl") -> IngestSummary:
    """Ingest JSONL files with the writer lock held."""
    with workspace.locked():
        return Ingestor(workspace).ingest_jsonl(files, table, source)


def query(sql: str) -> list[dict[str, Any]]:
    """Rows of a DuckDB query as dictionaries."""
    con = duckdb.connect()
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def events(workspace: Workspace) -> list[dict[str, Any]]:
    """All stored events, ordered by event id."""
    if not workspace.event_files():
        return []
    return query(
        f"SELECT * FROM read_parquet({sql_path(workspace.events_dir, '/*/*.parquet')},"
        " hive_partitioning=true, hive_types={'day': DATE}) ORDER BY event_id, source"
    )


def quarantine(workspace: Workspace) -> list[dict[str, Any]]:
    """All quarantined rows, ordered by file and line."""
    files = workspace.table_files("quarantine")
    if not files:
        return []
    return query(f"SELECT * FROM read_parquet({sql_paths(files)}) ORDER BY file, line")


def lower_keys(value: Any) -> Any:
    """A value with the keys of every object in it lower-cased, as a data lake copies them."""
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def copy_fixture(name: str, target: Path) -> Path:
    """A private copy of a fixture folder (tests may modify it)."""
    destination = target / name
    shutil.copytree(FIXTURES / name, destination)
    return destination


@pytest.fixture(scope="session")
def postgres_url() -> Any:
    """A running throw-away PostgreSQL server's URL (skipped loudly when not installed)."""
    from postgres_server import postgres_server, server_binaries

    if server_binaries() is None:
        pytest.skip("PostgreSQL server binaries are not installed: run `make test`, which"
                    " installs them (apt-get install postgresql)")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty analyst store on SQLite and on PostgreSQL (a fresh database each time)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'console.sqlite'}"
    import uuid

    import sqlalchemy as sa

    server = request.getfixturevalue("postgres_url")
    name = "t" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return str(server).replace("/postgres?", f"/{name}?")


# -- detection: one small simulated organisation shared by the detector tests -----------------
#: The organisation the detector tests run on: small enough to build in about a minute, large
#: enough that every public scenario C1-C5 fits (layoff wave, an administrator, departures).
DETECT_ORG = {"users": 150, "days": 240, "seed": 5}


@pytest.fixture(scope="session")
def detect_org(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A simulated organisation (C1-C5), ingested, with features and a full `run`."""
    import json

    from molehunt.pipeline import run_detection
    from molehunt.simulate import SimulationConfig, simulate

    def build(root: Path) -> None:
        simulate(SimulationConfig(out=root / "org", scenarios=("C1", "C2", "C3", "C4", "C5"),
                                  **DETECT_ORG))
        workspace = Workspace(root / "ws")
        workspace.root.mkdir()
        company = json.loads((root / "org" / "company.json").read_text("utf-8"))
        (workspace.root / "molehunt.toml").write_text(
            "competitors = " + json.dumps(company["competitors"]) + "\n", "utf-8")
        ingest_cert(workspace, root / "org")
        with workspace.locked():
            run_detection(workspace)

    root = built_once(tmp_path_factory, "detect", build)
    return Workspace(root / "ws"), root / "org"


#: The organisation the slow-scheme detector tests run on (S1-S4 with their benign
#: look-alikes): long enough for months of low-and-slow contact, small enough to build quickly.
#: CERT r4.2's telemetry only (no HR, no documents, web visits without direction), and no
#: competitors configured: what a deployment on the public release's logs has.
R42_ORG = {"users": 150, "days": 240, "seed": 6, "telemetry": "cert-r4.2"}


@pytest.fixture(scope="session")
def r42_org(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A simulated organisation (C1-C4) logged as CERT r4.2 logs, ingested, with features."""
    from molehunt.features.build import build_features
    from molehunt.simulate import SimulationConfig, simulate

    def build(root: Path) -> None:
        simulate(SimulationConfig(out=root / "org", scenarios=("C1", "C2", "C3", "C4"),
                                  **R42_ORG))
        workspace = Workspace(root / "ws")
        workspace.root.mkdir()
        ingest_cert(workspace, root / "org")
        with workspace.locked():
            build_features(workspace)

    root = built_once(tmp_path_factory, "r42", build)
    return Workspace(root / "ws"), root / "org"


SLOW_ORG = {"users": 150, "days": 330, "seed": 7}


@pytest.fixture(scope="session")
def slow_org(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A simulated organisation (S1-S4), ingested, its corpus protected and matched, and run."""
    import datetime as dt

    from molehunt.content.protect import match_events, protect_from_store
    from molehunt.pipeline import run_detection
    from molehunt.simulate import SimulationConfig, simulate

    def build(root: Path) -> None:
        config = SimulationConfig(out=root / "org", scenarios=("S1", "S2", "S3", "S4"),
                                  **SLOW_ORG)
        simulate(config)
        workspace = Workspace(root / "ws")
        workspace.root.mkdir()
        ingest_cert(workspace, root / "org")
        with workspace.locked():
            protect_from_store(workspace, min_sensitivity=1)
            match_events(workspace, config.start,
                         config.start + dt.timedelta(days=int(SLOW_ORG["days"])))
            run_detection(workspace)

    root = built_once(tmp_path_factory, "slow", build)
    return Workspace(root / "ws"), root / "org"
