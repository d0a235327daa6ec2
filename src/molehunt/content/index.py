"""The containment index: which protected documents a text contains, and how much of each.

Each protected document is stored as its winnowed fingerprints
(:func:`molehunt.content.fingerprint.fingerprints`). The index is an inverted index from
fingerprint to document, kept as *segments*: a segment is two numpy arrays on disk, the
fingerprints sorted and the document key of each, so a lookup is a binary search
(``numpy.searchsorted``) for every shingle of the text. A document's *matched fraction* is the
share of its fingerprints found in the text, which estimates the share of its text that the
text contains (containment, not similarity: a 300-character excerpt of a 30 KB specification
pasted into a long e-mail is still found).

Incremental by construction, in the manner of a log-structured merge tree:

* ``add`` writes one new segment for the batch and never rewrites an existing one;
* ``remove`` only marks the document dead in the catalog; lookups skip dead keys;
* ``replace`` (adding a ``doc_id`` that exists) is a remove and an add, under a new key;
* when there are more than :data:`MAX_SEGMENTS` segments, the small ones are merged into one
  (the big base segment is merged only when a quarter of it is dead), dropping dead postings.

Layout under ``<workspace>/content/``::

    catalog.sqlite                      documents (alive or dead) and segments
    segments/<name>.hashes.npy          uint64 fingerprints, sorted
    segments/<name>.keys.npy            uint32 document key of each fingerprint

Crash safety: segment files are complete (written to a temporary name, fsynced, renamed) before
one SQLite transaction makes them and their documents visible; files no committed segment names
are left-overs of an interrupted run and are deleted by the next writer.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt

from molehunt.content.fingerprint import U64, distinct_shingles_of_many
from molehunt.errors import ContentError
from molehunt.sqlite import transaction

#: Merge small segments once there are more than this many.
MAX_SEGMENTS = 8
#: Merge the base segment too once this share of its postings belongs to dead documents.
DEAD_SHARE_TO_MERGE = 0.25

_CATALOG = """
CREATE TABLE IF NOT EXISTS documents (
    key INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    path TEXT,
    title TEXT,
    label TEXT,
    project TEXT,
    sensitivity INTEGER NOT NULL,
    marking TEXT,
    language TEXT,
    kind TEXT,
    chars INTEGER NOT NULL,
    fingerprints INTEGER NOT NULL,
    sha256 TEXT,
    added_at REAL NOT NULL,
    segment TEXT NOT NULL,
    alive INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS alive_doc_id ON documents (doc_id) WHERE alive = 1;
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, postings INTEGER NOT NULL,
                                     created REAL NOT NULL);
"""


@dataclass(frozen=True)
class ProtectedDocument:
    """A protected document as the catalog knows it (its text is not kept, only fingerprints)."""

    doc_id: str
    sensitivity: int
    path: str | None = None
    title: str | None = None
    label: str | None = None
    project: str | None = None
    marking: str | None = None
    language: str | None = None
    kind: str | None = None
    chars: int = 0
    sha256: str | None = None
    fingerprints: int = 0
    added_at: float = 0.0


@dataclass(frozen=True)
class Match:
    """One protected document found in a text."""

    doc_id: str
    matched_fraction: float
    hits: int
    sensitivity: int


@dataclass(frozen=True)
class MatchParams:
    """When a document counts as found.

    ``min_hits`` distinct fingerprints of the document must be in the text; a fingerprint
    shared by more than ``max_postings`` documents is boilerplate (a standard disclaimer, a
    licence) and is ignored, like a stop word.
    """

    min_hits: int = 2
    max_postings: int = 64


@dataclass
class _Segment:
    name: str
    hashes: U64
    keys: npt.NDArray[np.uint32]


@dataclass
class _Catalog:
    doc_ids: list[str | None] = field(default_factory=list)
    alive: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    fingerprints: npt.NDArray[np.int32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int32))
    sensitivity: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, dtype=np.int8))


class ContainmentIndex:
    """The protected corpus of one workspace and its fingerprint index (see the module doc)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._segments: list[_Segment] = []
        self._catalog = _Catalog()
        self._loaded_version: int | None = None

    # -- paths and catalog ---------------------------------------------------------------
    @property
    def segments_dir(self) -> Path:
        """Folder of the segment files."""
        return self.root / "segments"

    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog of documents and segments."""
        return self.root / "catalog.sqlite"

    @contextlib.contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.segments_dir.mkdir(exist_ok=True)
            db = sqlite3.connect(self.catalog_path, timeout=60, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise ContentError(f"cannot open the protected corpus: {error}",
                               where=str(self.root)) from None
        try:
            db.executescript(_CATALOG)
        except BaseException:
            db.close()
            raise
        with transaction(db, write) as active:
            yield active

    def load(self) -> ContainmentIndex:
        """Read the catalog and map the segments (cheap: the arrays are memory-mapped)."""
        if not self.catalog_path.exists():  # reading must not create a corpus
            self._catalog, self._segments = _Catalog(), []
            return self
        with self._db() as db:
            names = [r[0] for r in db.execute("SELECT name FROM segments ORDER BY created, name")]
            rows = db.execute(
                "SELECT key, doc_id, alive, fingerprints, sensitivity FROM documents").fetchall()
        size = max((r[0] for r in rows), default=-1) + 1
        catalog = _Catalog(
            doc_ids=[None] * size, alive=np.zeros(size, dtype=bool),
            fingerprints=np.zeros(size, dtype=np.int32), sensitivity=np.zeros(size, dtype=np.int8))
        for key, doc_id, alive, count, sensitivity in rows:
            catalog.doc_ids[key] = doc_id
            catalog.alive[key] = bool(alive)
            catalog.fingerprints[key] = count
            catalog.sensitivity[key] = sensitivity
        self._catalog = catalog
        self._segments = [self._open_segment(name) for name in names]
        return self

    def _open_segment(self, name: str) -> _Segment:
        try:
            hashes = np.load(self.segments_dir / f"{name}.hashes.npy", mmap_mode="r")
            keys = np.load(self.segments_dir / f"{name}.keys.npy", mmap_mode="r")
        except (OSError, ValueError) as error:
            raise ContentError(f"segment {name} is unreadable: {error}",
                               where=str(self.segments_dir)) from None
        return _Segment(name, hashes, keys)

    # -- reading -------------------------------------------------------------------------
    def documents(self, include_removed: bool = False) -> list[ProtectedDocument]:
        """The protected documents, in the order they were added."""
        wanted = [f.name for f in fields(ProtectedDocument)]
        if not self.catalog_path.exists():
            return []
        with self._db() as db:
            rows = db.execute(
                f"SELECT {', '.join(wanted)} FROM documents"
                + ("" if include_removed else " WHERE alive = 1") + " ORDER BY key").fetchall()
        return [ProtectedDocument(*row) for row in rows]

    def __len__(self) -> int:
        return int(self._catalog.alive.sum())

    def segment_names(self) -> list[str]:
        """Names of the live segments, oldest first."""
        return [s.name for s in self._segments]

    def memory_bytes(self) -> int:
        """Bytes of the index arrays (postings and per-document arrays)."""
        postings = sum(s.hashes.nbytes + s.keys.nbytes for s in self._segments)
        per_doc = (self._catalog.alive.nbytes + self._catalog.fingerprints.nbytes
                   + self._catalog.sensitivity.nbytes)
        return int(postings + per_doc)

    def postings(self) -> int:
        """Number of (fingerprint, document) pairs stored, dead ones included."""
        return sum(len(s.hashes) for s in self._segments)

    def match_text(self, text: str, params: MatchParams | None = None) -> list[Match]:
        """Protected documents that ``text`` contains a part of, largest fraction first."""
        return self.match_many([text], params)[0]

    def match_many(self, texts: Sequence[str], params: MatchParams | None = None
                   ) -> list[list[Match]]:
        """:meth:`match_text` of each of ``texts``, computed in one pass over all of them."""
        params = params or MatchParams()
        found: list[list[Match]] = [[] for _ in texts]
        if not len(self):  # nothing protected: no text needs hashing
            return found
        hashes, owners = distinct_shingles_of_many(texts)
        if len(hashes) == 0:
            return found
        bounds = [(np.searchsorted(s.hashes, hashes, "left"),
                   np.searchsorted(s.hashes, hashes, "right")) for s in self._segments]
        common = sum(right - left for left, right in bounds) > params.max_postings
        texts_hit: list[npt.NDArray[np.int64]] = []
        keys_hit: list[npt.NDArray[np.uint32]] = []
        for segment, (left, right) in zip(self._segments, bounds, strict=True):
            lengths = np.where(common, 0, right - left)
            hit = lengths > 0
            if not hit.any():
                continue
            starts, lengths = left[hit], lengths[hit]
            offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
            keys_hit.append(segment.keys[offsets + np.arange(int(lengths.sum()))])
            texts_hit.append(np.repeat(owners[hit], lengths))
        if not keys_hit:
            return found
        keys, text_of = np.concatenate(keys_hit), np.concatenate(texts_hit)
        catalog = self._catalog
        known = keys < len(catalog.alive)
        keys, text_of = keys[known], text_of[known]
        alive = catalog.alive[keys]
        keys, text_of = keys[alive].astype(np.int64), text_of[alive]
        # hits per (text, document): the text's distinct shingle hashes among the document's
        width = int(keys.max(initial=0)) + 1
        pairs, counts = np.unique(text_of * width + keys, return_counts=True)
        for pair, count in zip(pairs.tolist(), counts.tolist(), strict=True):
            if count < params.min_hits:
                continue
            text, key = divmod(pair, width)
            doc_id = catalog.doc_ids[key]
            assert doc_id is not None
            found[text].append(Match(doc_id, min(1.0, count / max(1, int(
                catalog.fingerprints[key]))), count, int(catalog.sensitivity[key])))
        for matches in found:
            matches.sort(key=lambda m: (-m.matched_fraction, m.doc_id))
        return found

    # -- writing -------------------------------------------------------------------------
    def add(self, entries: Sequence[tuple[ProtectedDocument, U64]]) -> list[ProtectedDocument]:
        """Add documents with their fingerprints as one new segment; return what was stored.

        A ``doc_id`` already in the corpus is replaced (its old fingerprints stop counting at
        once, and leave the disk at the next merge). Existing segments are never rewritten here,
        except by the merge policy (see the module docstring).
        """
        if not entries:
            return []
        ids = [doc.doc_id for doc, _ in entries]
        if len(set(ids)) != len(ids):
            raise ContentError("the same doc_id is given twice in one batch")
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        stored: list[ProtectedDocument] = []
        with self._db(write=True) as db:
            next_key = (db.execute("SELECT max(key) FROM documents").fetchone()[0] or 0) + 1
            keys = np.arange(next_key, next_key + len(entries), dtype=np.uint32)
            hashes = np.concatenate([h for _, h in entries]) if entries else np.zeros(0, np.uint64)
            owners = np.repeat(keys, [len(h) for _, h in entries])
            self._write_segment(name, hashes.astype(np.uint64), owners)
            db.execute("INSERT INTO segments VALUES (?, ?, ?)", (name, len(hashes), time.time()))
            db.executemany("UPDATE documents SET alive = 0 WHERE doc_id = ? AND alive = 1",
                           [(i,) for i in ids])
            now = time.time()
            for key, (doc, fps) in zip(keys.tolist(), entries, strict=True):
                doc = _replace(doc, fingerprints=len(fps), added_at=now)
                db.execute("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)", (
                    key, doc.doc_id, doc.path, doc.title, doc.label, doc.project,
                    doc.sensitivity, doc.marking, doc.language, doc.kind, doc.chars,
                    doc.fingerprints, doc.sha256, doc.added_at, name))
                stored.append(doc)
        self._maybe_merge()
        self.load()
        return stored

    def remove(self, doc_ids: Sequence[str]) -> list[str]:
        """Mark documents removed; return the ids that were in the corpus."""
        removed: list[str] = []
        with self._db(write=True) as db:
            for doc_id in doc_ids:
                cursor = db.execute("UPDATE documents SET alive = 0 WHERE doc_id = ? AND alive = 1",
                                    (doc_id,))
                if cursor.rowcount:
                    removed.append(doc_id)
        self._maybe_merge()
        self.load()
        return removed

    def compact(self) -> None:
        """Merge every segment into one, dropping the postings of removed documents."""
        names = self._committed_segments()
        if len(names) > 1 or self._dead_postings(names):
            self._merge(names)
        self.load()

    def cleanup(self) -> list[Path]:
        """Delete segment files that no committed segment names (an interrupted run's)."""
        names = set(self._committed_segments())
        removed: list[Path] = []
        if not self.segments_dir.exists():
            return removed
        for path in sorted(self.segments_dir.glob("*")):
            if path.name.split(".", 1)[0] not in names:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def _committed_segments(self) -> list[str]:
        if not self.catalog_path.exists():
            return []
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT name FROM segments ORDER BY created, name")]

    def _dead_postings(self, names: list[str]) -> dict[str, tuple[int, int]]:
        """Segment → (dead postings, all postings), for segments with dead documents."""
        with self._db() as db:
            rows = db.execute(
                "SELECT s.name, s.postings, coalesce(sum(d.fingerprints), 0) FROM segments s"
                " LEFT JOIN documents d ON d.segment = s.name AND d.alive = 0"
                " GROUP BY s.name, s.postings").fetchall()
        return {name: (int(dead), int(total)) for name, total, dead in rows
                if name in names and dead}

    def _maybe_merge(self) -> None:
        names = self._committed_segments()
        dead = self._dead_postings(names)
        with self._db() as db:
            sizes = dict(db.execute("SELECT name, postings FROM segments").fetchall())
        base = max(names, key=lambda n: sizes[n]) if names else None
        base_dead, base_total = dead.get(base, (0, 1)) if base else (0, 1)
        if base is not None and base_dead > DEAD_SHARE_TO_MERGE * base_total:
            self._merge(names)
        elif len(names) > MAX_SEGMENTS:
            self._merge([n for n in names if n != base])

    def _merge(self, names: list[str]) -> None:
        segments = [self._open_segment(n) for n in names]
        with self._db() as db:
            alive_keys = np.array([r[0] for r in db.execute(
                "SELECT key FROM documents WHERE alive = 1")], dtype=np.int64)
        hashes = np.concatenate([np.asarray(s.hashes) for s in segments])
        keys = np.concatenate([np.asarray(s.keys) for s in segments])
        keep = np.isin(keys, alive_keys)
        hashes, keys = hashes[keep], keys[keep]
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        self._write_segment(name, hashes, keys)
        marks = ",".join("?" * len(names))
        with self._db(write=True) as db:
            created = db.execute(f"SELECT min(created) FROM segments WHERE name IN ({marks})",
                                 names).fetchone()[0]
            db.execute(f"DELETE FROM segments WHERE name IN ({marks})", names)
            db.execute("INSERT INTO segments VALUES (?, ?, ?)", (name, len(hashes), created))
            db.execute(f"UPDATE documents SET segment = ? WHERE segment IN ({marks})",
                       [name, *names])
        for old in names:
            for suffix in (".hashes.npy", ".keys.npy"):
                (self.segments_dir / f"{old}{suffix}").unlink(missing_ok=True)

    def _write_segment(self, name: str, hashes: U64, keys: npt.NDArray[np.uint32]) -> None:
        order = np.argsort(hashes, kind="stable")
        self.segments_dir.mkdir(parents=True, exist_ok=True)
        for suffix, array in ((".hashes.npy", hashes[order]),
                              (".keys.npy", keys[order].astype(np.uint32))):
            final = self.segments_dir / f"{name}{suffix}"
            temporary = final.with_name(final.name + ".tmp")
            try:
                with open(temporary, "wb") as handle:
                    np.save(handle, array)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, final)
            except OSError as error:
                raise ContentError(f"cannot write segment: {error.strerror}",
                                   where=str(final)) from None


def _replace(doc: ProtectedDocument, **changes: object) -> ProtectedDocument:
    from dataclasses import replace

    return replace(doc, **changes)  # type: ignore[arg-type]
