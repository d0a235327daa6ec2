"""One SQLite transaction pattern for molehunt's small catalogs (manifest, content index)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator


@contextlib.contextmanager
def transaction(db: sqlite3.Connection, write: bool, durable: bool = False
                ) -> Iterator[sqlite3.Connection]:
    """Run a block in one transaction on ``db`` (autocommit mode), then close ``db``.

    Writers use WAL and ``BEGIN IMMEDIATE`` so that they queue instead of failing half-way;
    readers take no write lock. ``durable`` also syncs every commit to disk. The block's
    work is committed on success and rolled back on any error.
    """
    try:
        if write:
            db.execute("PRAGMA journal_mode=WAL")
            if durable:
                db.execute("PRAGMA synchronous=FULL")
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        yield db
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()
