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
import queue
import threading
from dataclasses import dataclass, field
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


@dataclass
class _Pending:
    """One entry waiting for the group commit, and how its writer learns the outcome."""

    fields: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class AuditWriter:
    """Group commit for entries that accompany no change of their own (views, logins, exports).

    Every look at a person is audited, so under load the log is written far more often than
    anything else. Committing each entry alone means one fsync per page view, in series (the
    chain needs one writer at a time). Here callers hand their entry to one writer thread and
    wait; the thread appends everything that arrived meanwhile in one transaction, one fsync,
    chaining the entries in arrival order, and only then releases the callers. So a response
    is still never sent before its audit entry is durable, and the chain stays exactly as
    :func:`record` would have made it. The writer takes :meth:`CaseStore.transaction`, so it is
    serialised with the entries written inside changes.
    """

    def __init__(self, store: CaseStore, max_batch: int = 500) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def write(self, *, actor: str, role: str, action: str, target: str = "",
              reason: str | None = None, details: dict[str, Any] | None = None) -> None:
        """Append one entry; returns once it is committed (raises what the commit raised)."""
        if self._closed:
            raise RuntimeError("the audit writer is closed")
        self._ensure_thread()
        pending = _Pending({"actor": actor, "role": role, "action": action, "target": target,
                            "reason": reason, "details": details})
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="molehunt-audit-writer")
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:  # close() asked; finish this batch, then stop
                    self._queue.put(None)
                    break
                batch.append(more)
            error: BaseException | None = None
            try:
                with self.store.transaction() as session:
                    for pending in batch:
                        record(session, **pending.fields)
            except BaseException as failure:  # every waiting caller must hear about it
                error = failure
            for pending in batch:
                pending.error = error
                pending.done.set()

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain (``checked``: entries hashed by this walk)."""

    ok: bool
    entries: int
    head: str
    problem: str | None = None
    checked: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"ok": self.ok, "entries": self.entries, "head": self.head,
                "problem": self.problem, "checked": self.checked}


def verify(store: CaseStore, batch: int = 5000, *, since: tuple[int, str] | None = None
           ) -> Verification:
    """Walk the chain; report the first entry whose link or hash does not hold.

    ``since`` is a checkpoint ``(seq, hash)`` of an earlier walk that ended well: the walk
    then starts after it, after checking that entry ``seq`` is still there with that hash (a
    log cut below the checkpoint, or a rewritten checkpoint entry, fails). Entries before the
    checkpoint are not walked again; ``molehunt audit verify`` always walks everything.
    """
    prev, expected_seq, count, checked = GENESIS, 1, 0, 0
    with store.sessions() as session:
        last = 0
        if since is not None and since[0] > 0:
            seq, known = since
            entry = session.get(AuditEntry, seq)
            if entry is None:
                return Verification(False, 0, known, f"entry {seq} is missing (the log was cut"
                                                     " below the last verified entry)")
            if entry.hash != known:
                return Verification(False, 0, known, f"entry {seq} changed after it was"
                                                     " verified")
            prev, expected_seq, count, last = known, seq + 1, seq, seq
        while True:
            rows = session.scalars(sa.select(AuditEntry).where(AuditEntry.seq > last)
                                   .order_by(AuditEntry.seq).limit(batch)).all()
            if not rows:
                break
            for entry in rows:
                if entry.seq != expected_seq:
                    return Verification(False, count, prev,
                                        f"entry {expected_seq} is missing (next is {entry.seq})",
                                        checked)
                if entry.prev_hash != prev:
                    return Verification(False, count, prev,
                                        f"entry {entry.seq} does not link to entry"
                                        f" {entry.seq - 1}", checked)
                if entry_hash(prev, _fields(entry)) != entry.hash:
                    return Verification(False, count, prev,
                                        f"entry {entry.seq} was altered (hash mismatch)",
                                        checked)
                prev, expected_seq, count = entry.hash, expected_seq + 1, count + 1
                checked += 1
            last = rows[-1].seq
    return Verification(True, count, prev, checked=checked)


class IncrementalVerifier:
    """Verifies the chain from the last checkpoint that verified (kept in memory).

    The audit page shows whether the chain holds on every load; walking half a million
    entries each time took 15 s. The first call walks everything; later calls walk only what
    was appended since, plus a look at the checkpoint entry itself. A failed walk keeps the
    old checkpoint, so the failure shows again on every load until it is dealt with.
    """

    def __init__(self, store: CaseStore) -> None:
        self.store = store
        self.checkpoint: tuple[int, str] | None = None
        self._lock = threading.Lock()

    def verify(self) -> Verification:
        """Verify what was appended since the checkpoint; move the checkpoint on success."""
        with self._lock:  # one walk at a time; the others then start from its checkpoint
            result = verify(self.store, since=self.checkpoint)
            if result.ok:
                self.checkpoint = (result.entries, result.head)
            return result


def head(store: CaseStore) -> tuple[int, str]:
    """The newest entry's sequence number and hash (``0`` and the genesis hash when empty)."""
    with store.sessions() as session:
        row = session.execute(sa.select(AuditEntry.seq, AuditEntry.hash)
                              .order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)
