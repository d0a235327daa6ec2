"""The append-only, hash-chained audit log.

Every entry's ``hash`` is SHA-256 over the previous entry's hash and the entry's own fields in
canonical JSON, so changing, removing or reordering any entry breaks every hash after it:
:func:`verify` (``molehunt audit verify``) walks the chain and names the first bad entry.
The database itself refuses UPDATE and DELETE on the table (triggers from migration 0001);
the chain also catches what a database administrator does with the triggers dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from molehunt.cases.models import AuditEntry, utcnow
from molehunt.cases.store import CaseStore

GENESIS = "0" * 64
#: PostgreSQL advisory lock key that serialises appends (an arbitrary constant: "MOLE").
_ADVISORY_KEY = 0x4D4F4C45


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The chained hash of one entry.

    >>> entry_hash(GENESIS, {"seq": 1})[:16]
    '0a00898550374c41'
    """
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "at": entry.at, "actor": entry.actor, "role": entry.role,
            "action": entry.action, "target": entry.target, "reason": entry.reason,
            "details": entry.details}


def record(session: Session, *, actor: str, role: str, action: str, target: str = "",
           reason: str | None = None, details: dict[str, Any] | None = None) -> AuditEntry:
    """Append an entry in ``session``'s transaction (committed or rolled back with it).

    Call inside :meth:`CaseStore.transaction`, which serialises writers of one process;
    on PostgreSQL an advisory transaction lock serialises the processes as well.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})
    head = session.execute(
        sa.select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    entry = AuditEntry(seq=seq, at=utcnow().isoformat(timespec="microseconds"), actor=actor,
                       role=role, action=action, target=target[:256], reason=reason,
                       details=json.dumps(details or {}, sort_keys=True, ensure_ascii=False,
                                          default=str), prev_hash=prev, hash="")
    entry.hash = entry_hash(prev, _fields(entry))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain."""

    ok: bool
    entries: int
    head: str
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"ok": self.ok, "entries": self.entries, "head": self.head,
                "problem": self.problem}


def verify(store: CaseStore, batch: int = 5000) -> Verification:
    """Walk the whole chain; report the first entry whose link or hash does not hold."""
    prev, expected_seq, count = GENESIS, 1, 0
    with store.sessions() as session:
        last = 0
        while True:
            rows = session.scalars(sa.select(AuditEntry).where(AuditEntry.seq > last)
                                   .order_by(AuditEntry.seq).limit(batch)).all()
            if not rows:
                break
            for entry in rows:
                if entry.seq != expected_seq:
                    return Verification(False, count, prev,
                                        f"entry {expected_seq} is missing (next is {entry.seq})")
                if entry.prev_hash != prev:
                    return Verification(False, count, prev,
                                        f"entry {entry.seq} does not link to entry"
                                        f" {entry.seq - 1}")
                if entry_hash(prev, _fields(entry)) != entry.hash:
                    return Verification(False, count, prev,
                                        f"entry {entry.seq} was altered (hash mismatch)")
                prev, expected_seq, count = entry.hash, expected_seq + 1, count + 1
            last = rows[-1].seq
    return Verification(True, count, prev)


def head(store: CaseStore) -> tuple[int, str]:
    """The newest entry's sequence number and hash (``0`` and the genesis hash when empty)."""
    with store.sessions() as session:
        row = session.execute(sa.select(AuditEntry.seq, AuditEntry.hash)
                              .order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)
