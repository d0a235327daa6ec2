"""Opening the analyst store: engine, migrations, transactions.

The default database is ``<workspace>/console/console.sqlite``; ``MOLEHUNT_DATABASE_URL`` or
``--database-url`` name another (e.g. ``postgresql+psycopg://molehunt@db/molehunt``).
Opening a store always brings its schema up to the newest Alembic revision.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session, sessionmaker

from molehunt.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from molehunt.cases.auditkey import AuditKey

CONSOLE_DIR = "console"


def default_database_url(workspace: Path) -> str:
    """The store's URL for a workspace: ``MOLEHUNT_DATABASE_URL`` or the workspace's SQLite.

    >>> default_database_url(Path("/ws")) if "MOLEHUNT_DATABASE_URL" not in os.environ else ""
    'sqlite:////ws/console/console.sqlite'
    """
    explicit = os.environ.get("MOLEHUNT_DATABASE_URL")
    if explicit:
        return explicit
    return f"sqlite:///{(workspace / CONSOLE_DIR / 'console.sqlite').absolute()}"


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


class CaseStore:
    """The analyst store: an engine plus a session factory, schema at the newest revision."""

    def __init__(self, engine: sa.Engine, read_engine: sa.Engine | None = None) -> None:
        self.engine = engine
        self.read_engine = read_engine or engine
        #: sessions for reading only (on SQLite they take no write lock, so a read inside a
        #: write transaction of the same thread cannot deadlock)
        self.sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self._writers = sessionmaker(engine, expire_on_commit=False)
        #: SQLite serialises writers anyway; one lock per process keeps the audit chain's
        #: "read the head, append after it" step from racing between threads.
        self.write_lock = threading.RLock()
        #: the key of the audit chain (:mod:`molehunt.cases.auditkey`); writing an audit entry
        #: needs it (:func:`molehunt.cases.audit.open_chain` sets it)
        self.audit_key: AuditKey | None = None

    def use_audit_key(self, key: AuditKey) -> None:
        """Key the audit entries written through this store (every write session carries it
        in ``session.info["audit_key"]``, where :func:`molehunt.cases.audit.record` finds it)."""
        self.audit_key = key
        self._writers.configure(info={"audit_key": key})

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creates it in an empty database)."""
        with self.engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")

    def revision(self) -> str | None:
        """The schema revision the database is at (``None`` when empty)."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        """The newest revision this version of molehunt knows."""
        with self.engine.connect() as connection:
            return ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self.write_lock, self._writers() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        """Release the connection pools."""
        self.engine.dispose()
        self.read_engine.dispose()


def _sqlite_connection(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")


def _sqlite_immediate(engine: sa.Engine) -> None:
    """Make every SQLite transaction ``BEGIN IMMEDIATE`` (the SQLAlchemy-documented recipe).

    pysqlite otherwise starts transactions lazily, so two writers can both read the audit
    chain's head before either takes the write lock.
    """

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def open_store(url: str, *, migrate: bool = True) -> CaseStore:
    """Connect to the analyst store at ``url`` and bring its schema up to date.

    >>> store = open_store("sqlite://")
    >>> store.revision() == store.head_revision()
    True
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database {parsed.get_backend_name()!r}:"
                          " use sqlite or postgresql")
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                engine = sa.create_engine(parsed, connect_args={"timeout": 30,
                                                                "check_same_thread": False})
            else:  # one shared in-memory database for every thread (tests, doctests)
                engine = sa.create_engine(parsed, connect_args={"check_same_thread": False},
                                          poolclass=sa.pool.StaticPool)
            _sqlite_immediate(engine)
        else:
            engine = sa.create_engine(parsed, pool_size=10, max_overflow=20, pool_pre_ping=True)
        reader = None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "",
                                                                              ":memory:"):
            reader = sa.create_engine(parsed, connect_args={"timeout": 30,
                                                            "check_same_thread": False})
            _sqlite_connection(reader)
        store = CaseStore(engine, reader)
        if migrate:
            store.migrate()
    except sa.exc.OperationalError as error:
        raise StoreError(f"cannot open the analyst store: {error.orig}",
                         where=parsed.render_as_string(hide_password=True)) from None
    return store
