"""The append-only, keyed and anchored audit log.

Every entry's ``hash`` is HMAC-SHA256, under the audit key, of the previous entry's hash and
the entry's own fields in canonical JSON (:func:`entry_hash`), so changing, removing or
reordering any entry breaks every hash after it, and recomputing the hashes needs the key,
which is kept outside the database (:mod:`molehunt.cases.auditkey`). Entries written before
the switch-over (``audit_keyed_from``, recorded by migration 0003) keep the older unkeyed rule,
SHA-256 of the same text. The database itself refuses UPDATE and DELETE on the table (triggers
from migration 0001): :func:`open_chain` refuses to run the console when they are missing.

Signed checkpoints anchor the chain outside the database: each is ``(seq, head, keyed_from,
at)`` signed with the audit key's Ed25519 key, appended as one JSON line to
``<workspace>/console/audit-checkpoints.jsonl`` (opened for appending only, fsynced) and, when
configured, sent to the SIEM. :func:`verify` (``molehunt audit verify``) walks the chain, names
the first bad entry, and fails when a checkpoint's entry is missing (the newest entries were
deleted) or differs from what was signed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from molehunt.cases.auditkey import AuditKey, load_or_create_key, signature_holds
from molehunt.cases.models import AuditEntry, ConsoleSetting, utcnow
from molehunt.cases.store import CaseStore
from molehunt.errors import StoreError

GENESIS = "0" * 64
#: PostgreSQL advisory lock key that serialises appends (an arbitrary constant: "MOLE").
_ADVISORY_KEY = 0x4D4F4C45
#: the console setting holding the first keyed entry's sequence number (migration 0003)
KEYED_FROM = "audit_keyed_from"
CHECKPOINT_FILE = "audit-checkpoints.jsonl"
#: the console writes a checkpoint once this many entries were appended since the last one
CHECKPOINT_EVERY = 100
#: the append-only triggers of migration 0001, by dialect
APPEND_ONLY_TRIGGERS = {"sqlite": ("audit_log_no_update", "audit_log_no_delete"),
                        "postgresql": ("audit_log_append_only", "audit_log_no_truncate")}
_log = logging.getLogger(__name__)


def _canonical(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, fields: dict[str, Any], key: AuditKey | None = None) -> str:
    """The chained hash of one entry: HMAC-SHA256 under ``key``'s chain key, or with no key
    the unkeyed rule of entries before the switch-over, SHA-256.

    >>> entry_hash(GENESIS, {"seq": 1})[:16]
    '0a00898550374c41'
    >>> entry_hash(GENESIS, {"seq": 1}, AuditKey(b"k" * 32))[:16]
    '70f1d04a2768d136'
    """
    message = (prev_hash + _canonical(fields)).encode("utf-8")
    return key.chain_hash(message) if key is not None else hashlib.sha256(message).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "at": entry.at, "actor": entry.actor, "role": entry.role,
            "action": entry.action, "target": entry.target, "reason": entry.reason,
            "details": entry.details}


def record(session: Session, *, actor: str, role: str, action: str, target: str = "",
           reason: str | None = None, details: dict[str, Any] | None = None) -> AuditEntry:
    """Append an entry in ``session``'s transaction (committed or rolled back with it).

    Call inside :meth:`CaseStore.transaction`, which serialises writers of one process;
    on PostgreSQL an advisory transaction lock serialises the processes as well. The entry is
    keyed with the store's audit key (:func:`open_chain`); without one nothing is written.
    """
    key = session.info.get("audit_key")
    if not isinstance(key, AuditKey):
        raise StoreError("the audit key is not loaded: audit entries cannot be written"
                         " (molehunt.cases.audit.open_chain)")
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
    entry.hash = entry_hash(prev, _fields(entry), key)
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
    serialised with the entries written inside changes. Every :data:`CHECKPOINT_EVERY` entries
    it appends, and when it is closed, it writes a signed checkpoint (:func:`write_checkpoint`).
    """

    def __init__(self, store: CaseStore, max_batch: int = 500) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._since_checkpoint = 0

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
            if error is None:
                self._since_checkpoint += len(batch)
                if self._since_checkpoint >= CHECKPOINT_EVERY:
                    self._checkpoint()

    def _checkpoint(self) -> None:
        # the entries are committed and their callers answered: a checkpoint that cannot be
        # written is logged, and tried again after the next batch
        try:
            write_checkpoint(self.store)
            self._since_checkpoint = 0
        except (OSError, StoreError, sa.exc.SQLAlchemyError) as error:
            _log.error("audit checkpoint not written: %s", error)

    def close(self) -> None:
        """Write what is queued and a checkpoint of it, then stop the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            if self._since_checkpoint and self.store.audit_key is not None:
                self._checkpoint()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the chain ``first``..``seq`` ended in ``head`` at time ``at``.

    ``first`` (the hash of entry 1) tells which chain a checkpoint belongs to, so one workspace
    can hold checkpoints of several stores; ``keyed_from`` is the switch-over to keyed hashes.
    """

    seq: int
    head: str
    first: str
    keyed_from: int
    at: str
    signature: str = ""

    def payload(self) -> bytes:
        """The signed bytes: canonical JSON of every field but the signature."""
        return _canonical({"seq": self.seq, "head": self.head, "first": self.first,
                           "keyed_from": self.keyed_from, "at": self.at}).encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        """One line of the checkpoint file (and what the SIEM receives)."""
        return {"seq": self.seq, "head": self.head, "first": self.first,
                "keyed_from": self.keyed_from, "at": self.at, "algorithm": "Ed25519",
                "signature": self.signature}


class CheckpointFile:
    """The append-only file of signed checkpoints beside the audit key.

    Lines are appended with ``O_APPEND`` and fsynced; the file is never rewritten. Reading
    checks each line's signature once per process and remembers how far it got, so the audit
    page's incremental check reads only new lines; a file that shrank is reported.
    """

    def __init__(self, path: Path, key: AuditKey) -> None:
        self.path = path
        self.key = key
        #: called with each checkpoint written (the SIEM; see :func:`configure_forwarding`)
        self.forward: Callable[[Checkpoint], None] | None = None
        self.write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._checkpoints: list[Checkpoint] = []
        self._offset = 0

    def read(self) -> tuple[list[Checkpoint], str | None]:
        """Every checkpoint in the file, and the first problem with it (``None`` when sound)."""
        with self._read_lock:
            try:
                with open(self.path, "rb") as handle:
                    size = os.fstat(handle.fileno()).st_size
                    if size < self._offset:
                        return list(self._checkpoints), (
                            f"{self.path.name} shrank from {self._offset:,} to {size:,} bytes"
                            " (checkpoints were removed)")
                    handle.seek(self._offset)
                    data = handle.read()
            except FileNotFoundError:
                if self._offset:
                    return list(self._checkpoints), f"{self.path.name} was removed"
                return [], None
            # a line still being appended by another process is read next time
            complete = data[:data.rfind(b"\n") + 1]
            offset = self._offset
            for raw in complete.splitlines(keepends=True):
                number = len(self._checkpoints) + 1
                checkpoint = _parse_checkpoint(raw)
                if checkpoint is None:
                    return list(self._checkpoints), (
                        f"{self.path.name} line {number}: not a checkpoint")
                if not signature_holds(self.key.public, checkpoint.payload(),
                                       checkpoint.signature):
                    return list(self._checkpoints), (
                        f"{self.path.name} line {number}: the signature does not hold")
                self._checkpoints.append(checkpoint)
                offset += len(raw)
                self._offset = offset
            return list(self._checkpoints), None

    def append(self, checkpoint: Checkpoint) -> None:
        """Append one signed checkpoint (durable when this returns), then forward it."""
        line = (json.dumps(checkpoint.to_json(), sort_keys=True) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        forward = self.forward
        if forward is not None:
            # a slow or unreachable SIEM must not hold up the audit writer
            threading.Thread(target=_forward, args=(forward, checkpoint), daemon=True,
                             name="molehunt-audit-checkpoint").start()


def _forward(forward: Callable[[Checkpoint], None], checkpoint: Checkpoint) -> None:
    try:
        forward(checkpoint)
    except Exception as error:  # the file holds the checkpoint; the SIEM copy is best effort
        _log.error("audit checkpoint %s not sent to the SIEM: %s", checkpoint.seq, error)


def _parse_checkpoint(raw: bytes) -> Checkpoint | None:
    try:
        value = json.loads(raw)
        return Checkpoint(int(value["seq"]), str(value["head"]), str(value["first"]),
                          int(value["keyed_from"]), str(value["at"]), str(value["signature"]))
    except (ValueError, KeyError, TypeError):
        return None


_FILES: dict[Path, CheckpointFile] = {}
_FILES_LOCK = threading.Lock()


def checkpoint_file(key: AuditKey) -> CheckpointFile:
    """The checkpoint file beside ``key`` (one object per file and process, so that writers
    share its lock and readers its progress)."""
    if key.folder is None:
        raise StoreError("the audit key has no folder to keep checkpoints in")
    path = (key.folder / CHECKPOINT_FILE).absolute()
    with _FILES_LOCK:
        found = _FILES.get(path)
        if found is None or found.key.public != key.public:
            found = _FILES[path] = CheckpointFile(path, key)
        return found


def keyed_from(store: CaseStore) -> int:
    """The first entry hashed with the key, as the database records it (1 when the record is
    gone: then every entry must be keyed, and a removed record shows as unkeyed entries)."""
    with store.sessions() as session:
        setting = session.get(ConsoleSetting, KEYED_FROM)
    try:
        return int(setting.value) if setting is not None else 1
    except ValueError:
        return 1


def _first_hash(store: CaseStore) -> str:
    with store.sessions() as session:
        first = session.scalar(sa.select(AuditEntry.hash).where(AuditEntry.seq == 1))
    return first or GENESIS


def write_checkpoint(store: CaseStore) -> Checkpoint:
    """Sign the chain's current head and append it to the checkpoint file (and the SIEM).

    The switch-over sequence signed is the one earlier checkpoints of this chain signed, so a
    later edit of the database's record is not blessed by the next checkpoint.
    """
    key = store.audit_key
    if key is None:
        raise StoreError("the audit key is not loaded: no checkpoint can be signed")
    anchor = checkpoint_file(key)
    with anchor.write_lock:
        seq, newest = head(store)
        first = _first_hash(store)
        signed, _ = anchor.read()
        earlier = [c.keyed_from for c in signed if c.first == first and c.seq > 0]
        checkpoint = Checkpoint(seq, newest, first,
                                earlier[0] if earlier else keyed_from(store),
                                utcnow().isoformat(timespec="microseconds"))
        checkpoint = dataclasses.replace(checkpoint, signature=key.sign(checkpoint.payload()))
        anchor.append(checkpoint)
    return checkpoint


def missing_append_only_triggers(store: CaseStore) -> list[str]:
    """The append-only triggers of migration 0001 that are missing or disabled."""
    with store.engine.connect() as connection:
        if store.dialect == "postgresql":
            rows = connection.execute(sa.text(
                "SELECT t.tgname, t.tgenabled, p.prosrc FROM pg_trigger t"
                " JOIN pg_proc p ON p.oid = t.tgfoid"
                " WHERE t.tgrelid = 'audit_log'::regclass AND NOT t.tgisinternal")).all()
            # 'D' is disabled, 'R' fires only on replicas: neither protects this database
            working = {str(name) for name, enabled, source in rows
                       if str(enabled) in ("O", "A") and "RAISE EXCEPTION" in str(source)}
        else:
            rows = connection.execute(sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                " AND tbl_name = 'audit_log'")).all()
            working = {str(name) for name, source in rows if "RAISE(ABORT" in str(source)}
    return [name for name in APPEND_ONLY_TRIGGERS.get(store.dialect, ()) if name not in working]


def require_append_only(store: CaseStore) -> None:
    """Refuse (one line) when the audit log's append-only triggers are missing or disabled."""
    missing = missing_append_only_triggers(store)
    if missing:
        raise StoreError(f"the audit log's append-only triggers are missing or disabled"
                         f" ({', '.join(missing)}): the console does not start on a log"
                         " that can be rewritten; recreate them as migration 0001 does and"
                         " run `molehunt audit verify`")


def open_chain(store: CaseStore, folder: Path, *, append_only: bool = True,
               anchor: bool = True) -> AuditKey:
    """Load (or create) the audit key in ``folder`` and key ``store``'s audit entries with it.

    ``append_only`` refuses a store whose append-only triggers are missing
    (:func:`require_append_only`; the console's start). ``anchor`` writes a checkpoint of the
    current head when the file has none for it yet, which also signs the switch-over sequence.
    """
    if append_only:
        require_append_only(store)
    key = load_or_create_key(folder)
    store.use_audit_key(key)
    if anchor:
        configure_forwarding(key)
        seq, newest = head(store)
        signed, _ = checkpoint_file(key).read()
        if seq > 0 and not any(c.seq == seq and c.head == newest for c in signed):
            write_checkpoint(store)
    return key


def configure_forwarding(key: AuditKey, target: str | None = None) -> None:
    """Send each checkpoint written through ``key`` to the SIEM named by ``target`` (default:
    ``MOLEHUNT_AUDIT_SIEM``; forms in :func:`molehunt.cases.siem.checkpoint_sender`)."""
    from molehunt.cases.siem import checkpoint_sender

    target = target if target is not None else os.environ.get("MOLEHUNT_AUDIT_SIEM", "")
    send = checkpoint_sender(target) if target else None
    checkpoint_file(key).forward = (
        None if send is None else lambda checkpoint: send(checkpoint.to_json()))


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain (``checked``: entries hashed by this walk;
    ``anchored``: the newest signed checkpoint it was held against; ``foreign``: checkpoints in
    the file that belong to another chain)."""

    ok: bool
    entries: int
    head: str
    problem: str | None = None
    checked: int = 0
    anchored: int = 0
    foreign: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"ok": self.ok, "entries": self.entries, "head": self.head,
                "problem": self.problem, "checked": self.checked, "anchored": self.anchored,
                "foreign": self.foreign}


def verify(store: CaseStore, batch: int = 5000, *, since: tuple[int, str] | None = None,
           key: AuditKey | None = None) -> Verification:
    """Walk the chain; report the first entry whose link, hash or checkpoint does not hold.

    Entries from the switch-over on must carry their HMAC under ``key`` (default: the store's);
    the signed checkpoints beside the key must hold: their signatures, the switch-over
    sequence, the hash of every checkpointed entry, and no checkpoint beyond the newest entry
    (the newest entries were deleted).

    ``since`` is a checkpoint ``(seq, hash)`` of an earlier walk that ended well: the walk
    then starts after it, after checking that entry ``seq`` is still there with that hash (a
    log cut below the checkpoint, or a rewritten checkpoint entry, fails). Entries before the
    checkpoint are not walked again; ``molehunt audit verify`` always walks everything.
    """
    key = key if key is not None else store.audit_key
    switch = keyed_from(store)
    anchors: dict[int, Checkpoint] = {}
    foreign = 0
    if key is not None and key.folder is not None:
        signed, problem = checkpoint_file(key).read()
        if problem is not None:
            return Verification(False, 0, GENESIS, problem)
        first = _first_hash(store)
        for checkpoint in signed:
            if checkpoint.seq == 0:
                continue
            if checkpoint.first != first:
                foreign += 1
                continue
            if checkpoint.keyed_from != switch:
                return Verification(False, 0, GENESIS, (
                    f"keyed hashes start at entry {switch} by the database but at entry"
                    f" {checkpoint.keyed_from} by the checkpoint signed at {checkpoint.at}"
                    " (the switch-over record was changed)"), foreign=foreign)
            anchors[checkpoint.seq] = checkpoint
    newest_anchor = max(anchors, default=0)

    def failed(count: int, head_hash: str, problem: str, checked: int) -> Verification:
        return Verification(False, count, head_hash, problem, checked, newest_anchor, foreign)

    prev, expected_seq, count, checked = GENESIS, 1, 0, 0
    with store.sessions() as session:
        last = 0
        if since is not None and since[0] > 0:
            seq, known = since
            entry = session.get(AuditEntry, seq)
            if entry is None:
                return failed(0, known, f"entry {seq} is missing (the log was cut below the"
                                        " last verified entry)", 0)
            if entry.hash != known:
                return failed(0, known, f"entry {seq} changed after it was verified", 0)
            prev, expected_seq, count, last = known, seq + 1, seq, seq
        while True:
            rows = session.scalars(sa.select(AuditEntry).where(AuditEntry.seq > last)
                                   .order_by(AuditEntry.seq).limit(batch)).all()
            if not rows:
                break
            for entry in rows:
                if entry.seq != expected_seq:
                    return failed(count, prev, f"entry {expected_seq} is missing (next is"
                                               f" {entry.seq})", checked)
                if entry.prev_hash != prev:
                    return failed(count, prev, f"entry {entry.seq} does not link to entry"
                                               f" {entry.seq - 1}", checked)
                keyed = entry.seq >= switch
                if keyed and key is None:
                    return failed(count, prev, f"entry {entry.seq} is keyed and the audit key"
                                               " is not loaded", checked)
                if entry_hash(prev, _fields(entry), key if keyed else None) != entry.hash:
                    return failed(count, prev, f"entry {entry.seq} was altered (hash"
                                               " mismatch)", checked)
                anchor = anchors.get(entry.seq)
                if anchor is not None and anchor.head != entry.hash:
                    return failed(count, prev, f"entry {entry.seq} differs from the"
                                               f" checkpoint signed at {anchor.at}", checked)
                prev, expected_seq, count = entry.hash, expected_seq + 1, count + 1
                checked += 1
            last = rows[-1].seq
    if newest_anchor > count:
        return failed(count, prev, (
            f"entry {count + 1} is missing: the log ends at entry {count} but the checkpoint"
            f" signed at {anchors[newest_anchor].at} records entry {newest_anchor} (the newest"
            " entries were deleted)"), checked)
    return Verification(True, count, prev, checked=checked, anchored=newest_anchor,
                        foreign=foreign)


class IncrementalVerifier:
    """Verifies the chain from the last checkpoint that verified (kept in memory).

    The audit page shows whether the chain holds on every load; walking half a million
    entries each time took 15 s. The first call walks everything; later calls walk only what
    was appended since, plus a look at the checkpoint entry itself, and hold the log against
    the signed checkpoints (new lines only). A failed walk keeps the old checkpoint, so the
    failure shows again on every load until it is dealt with.
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


def entry_holds(entry: AuditEntry, key: AuditKey, switch: int) -> bool:
    """Whether one entry's hash is right for its fields and link (a single-row check, e.g. of
    the ``case.export`` entry behind an evidence bundle)."""
    rule = key if entry.seq >= switch else None
    return entry_hash(entry.prev_hash, _fields(entry), rule) == entry.hash
