"""Workspace layout, the ingest manifest and the crash-safe commit of a batch.

Layout of a workspace::

    molehunt.toml               settings (optional)
    manifest.sqlite             ingested files and their batches
    events/day=YYYY-MM-DD/<batch>_<n>.parquet
    quarantine/<batch>.parquet  rows that could not be stored, with file, line and reason
                                (a later batch of the same file supersedes a batch's rows)
    ldap/<batch>.parquet        monthly directory snapshots as read
    directory_rows/<batch>.parquet  directory rows given directly (JSONL)
    hr_events/<batch>.parquet
    service_events/<batch>.parquet  events of system and service accounts (never a person;
                                read by no detector), in the events table's columns
    documents/<batch>.parquet   documents with labels and text (the latest batch wins per doc_id)
    psychometric/<batch>.parquet    stored, never used unless enabled
    decoys/<batch>.parquet
    content_matches/<batch>.parquet   outbound events × protected documents they contain
    foreign_markings/<batch>.parquet  inbound events bearing another company's marking
    content/                    the protected corpus and its fingerprint index
                                (see molehunt.content.index)
    directory.parquet           the directory history derived from the two above
    staging/<batch>/            a batch being written; invisible to readers

A batch becomes visible in three steps: its files are complete under ``staging/``; the
manifest records it as ``committing``; its files are renamed into place and the manifest marks
it ``committed``. A crash before the second step leaves only staging debris, which the next run
removes; a crash after it is rolled forward by the next run. Renames are atomic within one
file system, so readers never see half a file and a file is never stored twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from molehunt.config import Settings
from molehunt.errors import StoreError
from molehunt.sqlite import transaction

MANIFEST_VERSION = 1

#: Tables stored as one Parquet file per batch (name → folder).
BATCH_TABLES: tuple[str, ...] = (
    "quarantine",
    "ldap",
    "directory_rows",
    "hr_events",
    "service_events",
    "documents",
    "psychometric",
    "decoys",
    "content_matches",
    "foreign_markings",
)

_MANIFEST_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    layout TEXT NOT NULL,
    target TEXT NOT NULL,
    rows_read INTEGER NOT NULL,
    rows_stored INTEGER NOT NULL,
    rows_quarantined INTEGER NOT NULL,
    rows_duplicate INTEGER NOT NULL,
    min_day TEXT,
    max_day TEXT,
    state TEXT NOT NULL CHECK (state IN ('committing', 'committed')),
    started_at REAL NOT NULL,
    committed_at REAL
);
CREATE INDEX IF NOT EXISTS batches_by_content ON batches (sha256, size);
"""


@dataclass(frozen=True)
class FileRecord:
    """What the manifest knows about one ingested file."""

    batch_id: str
    path: str
    size: int
    sha256: str
    layout: str
    target: str
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    rows_duplicate: int
    min_day: str | None
    max_day: str | None
    state: str


@dataclass
class Batch:
    """One file's worth of staged output, on its way into the store."""

    batch_id: str
    staging: Path
    record: FileRecord


class Workspace:
    """A molehunt workspace on disk (see the module docstring for its layout)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock_file: IO[str] | None = None
        #: the manifest as of one committed state (see :meth:`snapshot`), else None
        self._frozen: bytes | None = None

    # -- paths ---------------------------------------------------------------------------
    @property
    def events_dir(self) -> Path:
        """Folder of the day-partitioned events table."""
        return self.root / "events"

    @property
    def staging_dir(self) -> Path:
        """Folder of batches being written."""
        return self.root / "staging"

    @property
    def directory_file(self) -> Path:
        """The derived directory history."""
        return self.root / "directory.parquet"

    @property
    def aliases_file(self) -> Path:
        """The people's other names (UPNs, account names) derived with the directory
        (:mod:`molehunt.store.people`)."""
        return self.root / "people_aliases.parquet"

    @property
    def manifest_path(self) -> Path:
        """The SQLite manifest of ingested files."""
        return self.root / "manifest.sqlite"

    def table_dir(self, table: str) -> Path:
        """Folder of a per-batch table such as ``quarantine`` or ``hr_events``."""
        if table not in BATCH_TABLES:
            raise StoreError(f"unknown table {table!r}")
        return self.root / table

    def settings(self) -> Settings:
        """The workspace's settings."""
        return Settings.load(self.root)

    def event_files(self) -> list[Path]:
        """Event files of committed batches (a batch being moved into place is not visible)."""
        if not self.events_dir.exists():
            return []
        committed = self.committed_batches()
        return [
            part
            for day_dir in sorted(self.events_dir.iterdir())
            for part in sorted(day_dir.glob("*.parquet"))
            if part.name.split("_", 1)[0] in committed
        ]

    def table_files(self, table: str, include_superseded: bool = False) -> list[Path]:
        """Files of a per-batch table that belong to committed batches.

        For ``quarantine``, the files of batches superseded by a later batch of the same file
        (see :meth:`superseded_batches`) are left out unless ``include_superseded``.
        """
        folder = self.table_dir(table)
        if not folder.exists():
            return []
        committed = self.committed_batches()
        if table == "quarantine" and not include_superseded:
            committed -= self.superseded_batches()
        return [p for p in sorted(folder.glob("*.parquet")) if p.stem in committed]

    def superseded_batches(self) -> set[str]:
        """Committed batches of a file that a later committed batch of the same file replaces.

        "The same file" is the same resolved path (``FileRecord.path``: absolute, links
        resolved) read by the same layout (``FileRecord.layout``, which for an LDAP snapshot
        includes its month). A file re-ingested there after a fix (other content: the same
        content is skipped and makes no batch) is read whole again, so its new batch's
        quarantine replaces the earlier one; the rows it stored stay stored.
        """
        if not self.exists():
            return set()
        with self.manifest(write=False) as db:
            rows = db.execute(
                "SELECT b.batch_id FROM batches b WHERE b.state='committed' AND EXISTS ("
                " SELECT 1 FROM batches n WHERE n.state='committed' AND n.path=b.path"
                " AND n.layout=b.layout AND (n.committed_at, n.started_at, n.batch_id)"
                " > (b.committed_at, b.started_at, b.batch_id))").fetchall()
        return {str(r[0]) for r in rows}

    def table_files_by_commit(self, table: str) -> list[Path]:
        """Files of a per-batch table that belong to committed batches, oldest commit first."""
        folder = self.table_dir(table)
        if not folder.exists() or not self.exists():
            return []
        with self.manifest(write=False) as db:
            rows = db.execute("SELECT batch_id FROM batches WHERE state='committed'"
                              " ORDER BY committed_at, started_at, batch_id").fetchall()
        files = [folder / f"{r[0]}.parquet" for r in rows]
        return [p for p in files if p.exists()]

    def committed_batches(self) -> set[str]:
        """Ids of the batches whose files are all in place."""
        if not self.exists():
            return set()
        with self.manifest(write=False) as db:
            rows = db.execute("SELECT batch_id FROM batches WHERE state='committed'").fetchall()
        return {str(r[0]) for r in rows}

    # -- opening and locking -------------------------------------------------------------
    def create(self) -> None:
        """Create the workspace folders and manifest if they do not exist yet."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.events_dir.mkdir(exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create workspace: {error.strerror}",
                             where=str(self.root)) from None
        try:
            db = sqlite3.connect(self.manifest_path, timeout=60)
            try:
                db.executescript(_MANIFEST_SCHEMA)
                db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('version', ?)", (str(MANIFEST_VERSION),)
                )
                db.commit()
            finally:
                db.close()
        except sqlite3.Error as error:
            raise StoreError(f"cannot open manifest: {error}",
                             where=str(self.manifest_path)) from None

    def exists(self) -> bool:
        """Whether a workspace has been created here."""
        return self.manifest_path.exists()

    def snapshot(self) -> Workspace:
        """This workspace as of one committed state of its manifest, read without writing
        anything: no lock, journal or temporary file, so also on a read-only copy.

        Every manifest query of the snapshot answers from that one state, so a report made of
        several queries (``status``) holds together while an ingest commits batches; files
        of batches committed after it are not read. The snapshot cannot write.
        """
        if self._frozen is not None:
            return self
        view = Workspace(self.root)
        if self.exists():
            view._frozen = _committed_manifest(self.manifest_path)
        return view

    @contextlib.contextmanager
    def manifest(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """A transaction on the manifest: committed on success, rolled back on error.

        Reading transactions take no write lock, so that readers never wait for or block a
        writer.
        """
        if self._frozen is not None:
            if write:
                raise StoreError("a snapshot of the workspace cannot be written",
                                 where=str(self.root))
            frozen = sqlite3.connect(":memory:", isolation_level=None)
            if self._frozen:
                frozen.deserialize(self._frozen)
            # a manifest being created may not hold its tables yet (in this copy only)
            frozen.executescript(_MANIFEST_SCHEMA)
            with transaction(frozen, write=False) as active:
                yield active
            return
        try:
            db = sqlite3.connect(self.manifest_path, timeout=60, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open manifest: {error}",
                             where=str(self.manifest_path)) from None
        with transaction(db, write, durable=True) as active:
            yield active

    @contextlib.contextmanager
    def locked(self, wait: float = 0.0) -> Iterator[Workspace]:
        """Hold the workspace's writer lock, recovering any interrupted ingest first.

        When another process holds it, try again for up to ``wait`` seconds (0: refuse at
        once), then refuse with a :class:`StoreError`.
        """
        self.create()
        handle = open(self.root / ".lock", "w")  # noqa: SIM115 - held for the whole block
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    handle.close()
                    waited = f" (waited {wait:g} s)" if wait > 0 else ""
                    raise StoreError(f"another molehunt process is writing this workspace"
                                     f"{waited}", where=str(self.root)) from None
                time.sleep(min(0.2, left))
        self._lock_file = handle
        try:
            self.recover()
            yield self
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
            self._lock_file = None

    # -- manifest queries ----------------------------------------------------------------
    def previous_batch(self, batch_id: str) -> FileRecord | None:
        """The newest committed batch of the same file (path and layout) committed before
        ``batch_id``: the one whose quarantine ``batch_id`` supersedes (see
        :meth:`superseded_batches`), if any."""
        with self.manifest(write=False) as db:
            row = db.execute(
                "SELECT p.* FROM batches b JOIN batches p ON p.path=b.path AND p.layout=b.layout"
                " AND p.state='committed' AND p.batch_id<>b.batch_id"
                " AND (p.committed_at, p.started_at, p.batch_id)"
                " < (b.committed_at, b.started_at, b.batch_id)"
                " WHERE b.batch_id=? ORDER BY p.committed_at DESC, p.started_at DESC,"
                " p.batch_id DESC LIMIT 1", (batch_id,)).fetchone()
        return _record(row) if row else None

    def find_ingested(self, sha256: str, size: int, layout: str) -> FileRecord | None:
        """The latest committed batch that already holds a file with this content, if any."""
        return self._committed_file("sha256", sha256, size, layout)

    def seen_before(self, path: str, size: int, layout: str) -> bool:
        """Whether a committed batch came from a file at this path with this size."""
        return self._committed_file("path", path, size, layout) is not None

    def _committed_file(self, column: str, value: str, size: int, layout: str
                        ) -> FileRecord | None:
        assert column in {"sha256", "path"}
        with self.manifest(write=False) as db:
            row = db.execute(
                f"SELECT * FROM batches WHERE {column}=? AND size=? AND layout=?"
                " AND state='committed' ORDER BY committed_at DESC, started_at DESC LIMIT 1",
                (value, size, layout),
            ).fetchone()
        return _record(row) if row else None

    def records(self) -> list[FileRecord]:
        """Every batch in the manifest, oldest first."""
        if not self.exists():
            return []
        with self.manifest(write=False) as db:
            rows = db.execute("SELECT * FROM batches ORDER BY started_at").fetchall()
        return [_record(r) for r in rows]

    def get_meta(self, key: str) -> str | None:
        """A value stored in the manifest's key-value table."""
        if not self.exists():
            return None
        with self.manifest(write=False) as db:
            row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the manifest's key-value table."""
        with self.manifest() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- commit protocol -----------------------------------------------------------------
    def new_staging(self, batch_id: str) -> Path:
        """An empty staging folder for a batch."""
        folder = self.staging_dir / batch_id
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def commit(self, batch: Batch) -> None:
        """Make a fully staged batch visible, atomically with respect to crashes."""
        record = batch.record
        _fsync_tree(batch.staging)  # durable before the manifest says it is complete
        with self.manifest() as db:
            db.execute(
                "INSERT INTO batches VALUES (?,?,?,?,?,?,?,?,?,?,?,?,'committing',?,NULL)",
                (
                    record.batch_id, record.path, record.size, record.sha256, record.layout,
                    record.target, record.rows_read, record.rows_stored, record.rows_quarantined,
                    record.rows_duplicate, record.min_day, record.max_day, time.time(),
                ),
            )
        _fault_point("after_manifest")
        self._roll_forward(batch.batch_id)

    def _roll_forward(self, batch_id: str) -> None:
        staging = self.staging_dir / batch_id
        if staging.exists():
            events = staging / "events"
            if events.exists():
                for day_dir in sorted(events.iterdir()):
                    target = self.events_dir / day_dir.name
                    target.mkdir(parents=True, exist_ok=True)
                    for part in sorted(day_dir.iterdir()):
                        os.replace(part, target / part.name)
                        _fault_point("mid_move")
            for table in BATCH_TABLES:
                staged = staging / f"{table}.parquet"
                if staged.exists():
                    folder = self.table_dir(table)
                    folder.mkdir(exist_ok=True)
                    os.replace(staged, folder / f"{batch_id}.parquet")
            _fsync_dir(self.events_dir)
        with self.manifest() as db:
            db.execute(
                "UPDATE batches SET state='committed', committed_at=? WHERE batch_id=?",
                (time.time(), batch_id),
            )
        shutil.rmtree(staging, ignore_errors=True)

    def recover(self) -> list[str]:
        """Finish or undo whatever an interrupted run left; return what was done."""
        actions: list[str] = []
        with self.manifest() as db:
            states = dict(db.execute("SELECT batch_id, state FROM batches").fetchall())
        for batch_id, state in states.items():
            if state == "committing":
                self._roll_forward(batch_id)
                actions.append(f"completed interrupted commit of batch {batch_id}")
        if self.staging_dir.exists():
            for folder in self.staging_dir.iterdir():
                if states.get(folder.name) != "committing":
                    shutil.rmtree(folder, ignore_errors=True)
                    actions.append(f"removed unfinished staging of batch {folder.name}")
        # Files whose batch the manifest does not know can only come from outside tampering
        # or a bug; they are moved aside rather than read as events.
        day_dirs = sorted(self.events_dir.iterdir()) if self.events_dir.exists() else []
        for path in [part for day_dir in day_dirs for part in sorted(day_dir.glob("*.parquet"))]:
            if path.name.split("_", 1)[0] not in states:
                aside = self.root / "orphans" / path.parent.name
                aside.mkdir(parents=True, exist_ok=True)
                os.replace(path, aside / path.name)
                actions.append(f"moved unknown file {path} to orphans/")
        return actions


def _record(row: tuple[Any, ...]) -> FileRecord:
    return FileRecord(*row[:13])


def _committed_manifest(path: Path) -> bytes:
    """The manifest's content as of one committed state, read without creating, locking or
    writing anything beside it (see :meth:`Workspace.snapshot`).

    While a writer is active its journal (``-wal``) and index (``-shm``) exist, and SQLite
    reads committed transactions through them, read-only. Otherwise the file alone holds the
    last committed state and is read as unchanging (SQLite's ``immutable``: no ``-shm`` is
    created); a writer that began meanwhile can change it only by a checkpoint, so the read
    is repeated if the file changed under it.
    """
    journal = path.with_name(path.name + "-wal")
    uri = path.resolve().as_uri()
    for _ in range(50):
        if journal.exists():
            try:
                return _image(f"{uri}?mode=ro")
            except StoreError:  # a read-only copy without the index: no writer is at work
                return _image(f"{uri}?immutable=1")
        before = _identity(path)
        image = _image(f"{uri}?immutable=1")
        # a checkpoint (the only write to the file) runs while a journal exists
        if not journal.exists() and _identity(path) == before:
            return image
        time.sleep(0.05)
    raise StoreError("the manifest kept changing while being read", where=str(path))


def _image(uri: str) -> bytes:
    """The database at ``uri`` serialised in one read transaction, as a rollback-journal
    database (an in-memory copy cannot be opened in WAL mode)."""
    try:
        db = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
        try:
            db.execute("BEGIN")
            pages = db.execute("PRAGMA page_count").fetchone()
            image = db.serialize() if pages and pages[0] else b""  # a file just created
            db.execute("COMMIT")
        finally:
            db.close()
    except sqlite3.Error as error:
        raise StoreError(f"cannot read manifest: {error}", where=uri) from None
    # bytes 18 and 19 of the header: 2 (WAL) to 1 (rollback journal)
    return image[:18] + b"\x01\x01" + image[20:] if len(image) >= 100 else image


def _identity(path: Path) -> tuple[int, int, int, int]:
    stat = path.stat()
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        _fsync_dir(path) if path.is_dir() else _fsync_file(path)
    _fsync_dir(folder)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fault_point(name: str) -> None:
    """Let the crash tests kill the process at a named point of the commit protocol."""
    if os.environ.get("MOLEHUNT_FAULT_POINT") == name:
        os.kill(os.getpid(), 9)
