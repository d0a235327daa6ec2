"""The protected corpus of a workspace: register documents, match texts and events against it.

* :func:`protect_add` reads files (text, Markdown, source, PDF, DOCX), classifies them
  (:func:`~molehunt.content.markings.classify_text` with the workspace's rules) and adds their
  fingerprints to the :class:`~molehunt.content.index.ContainmentIndex` under
  ``<workspace>/content/``;
* :func:`match_texts` answers, for outbound texts ``(event_id, text)``, which protected
  documents each contains and what fraction of each;
* :func:`match_events` does that for every outbound event with content in a day range of the
  event store, and :func:`scan_foreign_markings` looks for other companies' markings in
  inbound events; both write their table as one committed batch of the workspace
  (``content_matches``, ``foreign_markings``), read back by :func:`read_batch_table`.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from molehunt.config import Settings
from molehunt.content.extract import SUPPORTED_EXTENSIONS, extract_text
from molehunt.content.fingerprint import fingerprints
from molehunt.content.foreign import find_foreign_markings
from molehunt.content.index import ContainmentIndex, MatchParams, ProtectedDocument
from molehunt.content.markings import ClassificationRules, classify_text
from molehunt.errors import ContentError, MolehuntError
from molehunt.schema import SENSITIVITY_LEVELS
from molehunt.sql import sql_list, sql_paths, sql_string
from molehunt.store.people import resolved_events_sql
from molehunt.store.workspace import Batch, FileRecord, Workspace

#: Actions whose content leaves the person's hands (the channel tells where it went); copies
#: and writes count only onto removable media (see :func:`match_events`).
OUTBOUND_ACTIONS = ("email_send", "web_upload", "print")
_TO_MEDIA = ("(action IN ('file_copy', 'file_write') AND channel = 'removable_media'"
             " AND coalesce(json_extract_string(attrs, '$.from_removable_media'), '') <> 'true')")
_FROM_MEDIA = ("(action IN ('file_copy', 'file_write', 'file_open')"
               " AND coalesce(json_extract_string(attrs, '$.from_removable_media'), '') = 'true')")
#: Actions whose content comes in from outside.
INBOUND_ACTIONS = ("email_view", "web_download")

CONTENT_MATCH_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("day", pa.date32()), ("user_id", pa.string()),
    ("action", pa.string()), ("channel", pa.string()), ("doc_id", pa.string()),
    ("matched_fraction", pa.float64()), ("hits", pa.int32()), ("sensitivity", pa.int8()),
    ("batch_id", pa.string()),
])
FOREIGN_MARKING_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("day", pa.date32()), ("user_id", pa.string()),
    ("action", pa.string()), ("channel", pa.string()), ("owner", pa.string()),
    ("marking", pa.string()), ("sensitivity", pa.int8()), ("known_company", pa.bool_()),
    ("batch_id", pa.string()),
])

ProgressFn = Callable[[str, float | None], None]


def _no_progress(description: str, fraction: float | None) -> None:
    """Progress sink used when the caller shows none."""


def content_root(workspace: Workspace) -> Path:
    """Folder of the protected corpus of a workspace."""
    return workspace.root / "content"


def open_index(workspace: Workspace) -> ContainmentIndex:
    """The workspace's containment index, loaded."""
    return ContainmentIndex(content_root(workspace)).load()


def classification_rules(settings: Settings) -> ClassificationRules:
    """The workspace's classification rules, from its settings."""
    return ClassificationRules(codenames=settings.content_codenames,
                               patterns=settings.content_patterns,
                               source_code_sensitivity=settings.content_source_code_sensitivity)


def parse_sensitivity(label: str) -> int:
    """A sensitivity from a number, a level name or a marking (``secret``, ``3``, ``机密``).

    >>> parse_sensitivity("crown_jewel"), parse_sensitivity("2"), parse_sensitivity("绝密")
    (4, 2, 4)
    """
    text = label.strip()
    if text.isdigit() and 0 <= int(text) <= 4:
        return int(text)
    names = {name: level for level, name in SENSITIVITY_LEVELS.items()}
    names.update({"top_secret": 4, "core_technology": 4, "trade_secret": 3})
    key = text.lower().replace("-", "_").replace(" ", "_")
    if key in names:
        return names[key]
    found = classify_text(text.upper()).sensitivity
    if found is None:
        raise ContentError(f"--label {label!r} is not a sensitivity: use 0-4, "
                           + ", ".join(SENSITIVITY_LEVELS.values()) + " or a marking")
    return found


@dataclass
class AddResult:
    """What :func:`protect_add` did, file by file."""

    added: list[ProtectedDocument] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if (child.is_file() and child.suffix.lower() in SUPPORTED_EXTENSIONS
                        and not any(part.startswith(".") for part in child.parts)):
                    yield child
        else:
            yield path


def doc_id_for(path: Path) -> str:
    """The stable id of the protected document at ``path`` (the same path, the same id)."""
    return "P" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:15]


def protect_add(workspace: Workspace, paths: Sequence[Path], label: str | None = None,
                project: str | None = None, progress: ProgressFn = _no_progress) -> AddResult:
    """Register files (and the supported files under folders) in the protected corpus.

    A file that cannot be read is one line in ``errors``; the others are still added. A path
    added before is replaced when its content changed and left alone when it did not.
    """
    settings = workspace.settings()
    rules = classification_rules(settings)
    forced = parse_sensitivity(label) if label is not None else None
    index = ContainmentIndex(content_root(workspace))
    index.cleanup()  # left-overs of an interrupted add (the caller holds the writer lock)
    index.load()
    known = {d.doc_id: d for d in index.documents()}
    result = AddResult()
    entries = []
    files = list(_files(paths))
    for number, path in enumerate(files):
        progress("reading documents", number / max(1, len(files)))
        try:
            extracted = extract_text(path)
        except MolehuntError as error:
            result.errors.append(str(error))
            continue
        doc_id = doc_id_for(path)
        digest = hashlib.sha256(extracted.text.encode("utf-8", "replace")).hexdigest()
        previous = known.get(doc_id)
        if (previous is not None and previous.sha256 == digest
                and (forced is None or previous.sensitivity == forced)):
            result.unchanged.append(str(path))
            continue
        found = classify_text(extracted.text, rules, path.name)
        sensitivity = forced if forced is not None else (
            found.sensitivity if found.sensitivity is not None
            else settings.content_default_sensitivity)
        title = next((line.strip() for line in extracted.text.splitlines()
                      if line.strip() and not classify_text(line).markings), path.name)
        document = ProtectedDocument(
            doc_id=doc_id, sensitivity=sensitivity, path=str(path.resolve()), title=title[:200],
            label=label, project=project or (found.projects[0] if found.projects else None),
            marking=found.marking, language=found.language, kind=extracted.kind,
            chars=len(extracted.text), sha256=digest)
        entries.append((document, fingerprints(extracted.text)))
        if previous is not None:
            result.replaced.append(doc_id)
    progress("reading documents", 1.0)
    if entries:
        result.added = index.add(entries)
    return result


def protect_from_store(workspace: Workspace, min_sensitivity: int = 2,
                       progress: ProgressFn = _no_progress) -> AddResult:
    """Protect the documents of the workspace's ``documents`` table (e.g. a simulator's corpus).

    Documents keep their ``doc_id`` and ``sensitivity`` (so matches join to file events);
    those with a text and a sensitivity of at least ``min_sensitivity`` are added, documents
    already protected with the same text are left alone.
    """
    from molehunt.store.connect import connect

    store = connect(workspace)
    try:
        table = store.documents
        rows = table.filter((table.sensitivity >= min_sensitivity) & table.text.notnull()
                            ).to_pyarrow().to_pylist()
    finally:
        store.close()
    index = ContainmentIndex(content_root(workspace))
    index.cleanup()
    index.load()
    known = {d.doc_id: d.sha256 for d in index.documents()}
    result = AddResult()
    entries = []
    for number, row in enumerate(rows):
        if number % 500 == 0:
            progress("fingerprinting documents", number / max(1, len(rows)))
        text = str(row["text"])
        digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
        doc_id = str(row["doc_id"])
        if known.get(doc_id) == digest:
            result.unchanged.append(doc_id)
            continue
        if doc_id in known:
            result.replaced.append(doc_id)
        entries.append((ProtectedDocument(
            doc_id=doc_id, sensitivity=int(row["sensitivity"]), path=row["path"],
            title=row["title"], project=row["project"], marking=row["marking"],
            language=row["language"], kind="store", chars=len(text), sha256=digest),
            fingerprints(text)))
    progress("fingerprinting documents", 1.0)
    if entries:
        result.added = index.add(entries)
    return result


def protect_remove(workspace: Workspace, ids_or_paths: Sequence[str]) -> list[str]:
    """Remove documents by id or by path; return the ids removed."""
    index = ContainmentIndex(content_root(workspace)).load()
    by_path = {d.path: d.doc_id for d in index.documents()}
    wanted = []
    for item in ids_or_paths:
        resolved = str(Path(item).resolve()) if os.sep in item or Path(item).exists() else item
        wanted.append(by_path.get(resolved, item))
    return index.remove(wanted)


def protect_list(workspace: Workspace) -> list[ProtectedDocument]:
    """The documents of the protected corpus."""
    return ContainmentIndex(content_root(workspace)).documents()


@dataclass(frozen=True)
class ContentMatch:
    """One protected document found in one outbound text."""

    event_id: str
    doc_id: str
    matched_fraction: float
    sensitivity: int
    hits: int


def match_texts(index: ContainmentIndex, items: Iterable[tuple[str, str]],
                params: MatchParams | None = None) -> list[ContentMatch]:
    """For each ``(event_id, text)``, the protected documents the text contains.

    ``matched_fraction`` is the share of the document's fingerprints found in the text, an
    estimate of the share of the document that left.
    """
    rows: list[ContentMatch] = []
    for chunk in _chunks(((e, t) for e, t in items if t), _MATCH_CHUNK):
        for (event_id, _), matches in zip(chunk, index.match_many([t for _, t in chunk], params),
                                          strict=True):
            rows.extend(ContentMatch(event_id, m.doc_id, m.matched_fraction, m.sensitivity,
                                     m.hits) for m in matches)
    return rows


#: Texts matched in one pass (bounded memory; large enough that numpy's per-call cost vanishes).
_MATCH_CHUNK = 5000

_T = TypeVar("_T")


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _event_rows(workspace: Workspace, first: date, last: date, actions: Sequence[str],
                media: str) -> Iterator[tuple[str, date, str, str, str, str]]:
    """Events with content in the day range with one of ``actions`` or meeting ``media``."""
    import duckdb

    files = workspace.event_files()
    if not files:
        return
    con = duckdb.connect()
    # the person as the store names them (a UPN or account name resolved to the directory's
    # user id): the matches' user_id is read beside the features'
    events = resolved_events_sql(f"read_parquet({sql_paths(files)}, hive_partitioning=true,"
                                 " union_by_name=true)", workspace.aliases_file, files)
    try:
        sql = (f"SELECT event_id, day, user_id, action, channel, content FROM {events}"
               f" WHERE day BETWEEN {sql_string(first.isoformat())}::DATE"
               f" AND {sql_string(last.isoformat())}::DATE"
               f" AND content IS NOT NULL AND length(content) > 0"
               f" AND (action IN {sql_list(list(actions))} OR {media})"
               f" ORDER BY day, event_id")
        reader = con.sql(sql).to_arrow_reader(5000)
        for batch in reader or ():
            columns = batch.to_pydict()
            yield from zip(columns["event_id"], columns["day"], columns["user_id"],
                           columns["action"], columns["channel"], columns["content"],
                           strict=True)
    finally:
        con.close()


@dataclass(frozen=True)
class ScanResult:
    """What one pass over the event store found."""

    table: str
    batch_id: str
    events_scanned: int
    rows: int


def _commit_table(workspace: Workspace, table: str, rows: pa.Table, first: date, last: date,
                  scanned: int, fingerprint: str) -> str:
    batch_id = uuid.uuid4().hex[:16]
    staging = workspace.new_staging(batch_id)
    pq.write_table(rows.append_column("batch_id", pa.array([batch_id] * rows.num_rows,
                                                          pa.string())),
                   staging / f"{table}.parquet", compression="zstd")
    record = FileRecord(
        batch_id=batch_id, path=f"{table} {first.isoformat()}..{last.isoformat()}", size=0,
        sha256=fingerprint, layout=f"content.{table}", target=table, rows_read=scanned,
        rows_stored=rows.num_rows, rows_quarantined=0, rows_duplicate=0,
        min_day=first.isoformat(), max_day=last.isoformat(), state="committing")
    workspace.commit(Batch(batch_id, staging, record))
    return batch_id


def match_events(workspace: Workspace, first: date, last: date,
                 progress: ProgressFn = _no_progress) -> ScanResult:
    """Match every outbound event with content of ``first``..``last`` (days, inclusive).

    Outbound: e-mail sent (internal too, so that forwarding inside the company is seen),
    uploads, printing, and copies or writes onto removable media.
    Writes the ``content_matches`` table as one committed batch; a later run over the same
    days supersedes it (see :func:`read_batch_table`). Call inside ``Workspace.locked()``.
    """
    index = open_index(workspace)
    params = MatchParams(min_hits=workspace.settings().content_min_hits)
    columns: dict[str, list[object]] = {name: [] for name in CONTENT_MATCH_SCHEMA.names[:-1]}
    scanned = 0
    for chunk in _chunks(_event_rows(workspace, first, last, OUTBOUND_ACTIONS, _TO_MEDIA),
                         _MATCH_CHUNK):
        scanned += len(chunk)
        progress("matching outbound events", None)
        found = index.match_many([row[-1] for row in chunk], params)
        for (event_id, day, user_id, action, channel, _), matches in zip(chunk, found,
                                                                         strict=True):
            for match in matches:
                for name, value in (("event_id", event_id), ("day", day),
                                    ("user_id", user_id), ("action", action),
                                    ("channel", channel), ("doc_id", match.doc_id),
                                    ("matched_fraction", match.matched_fraction),
                                    ("hits", match.hits), ("sensitivity", match.sensitivity)):
                    columns[name].append(value)
    rows = pa.table(columns, schema=CONTENT_MATCH_SCHEMA.remove(len(CONTENT_MATCH_SCHEMA) - 1))
    state = f"{len(index)}:{','.join(index.segment_names())}"
    batch_id = _commit_table(workspace, "content_matches", rows, first, last, scanned,
                             hashlib.sha256(state.encode()).hexdigest())
    return ScanResult("content_matches", batch_id, scanned, rows.num_rows)


def scan_foreign_markings(workspace: Workspace, first: date, last: date,
                          progress: ProgressFn = _no_progress) -> ScanResult:
    """Find other companies' markings in inbound events (mail read, downloads, copies from media).

    Writes the ``foreign_markings`` table (one row per event and owner, its strongest marking)
    as one committed batch. Call inside ``Workspace.locked()``.
    """
    settings = workspace.settings()
    columns: dict[str, list[object]] = {name: [] for name in FOREIGN_MARKING_SCHEMA.names[:-1]}
    scanned = 0
    for event_id, day, user_id, action, channel, text in _event_rows(
            workspace, first, last, INBOUND_ACTIONS, _FROM_MEDIA):
        scanned += 1
        if scanned % 1000 == 0:
            progress("looking for foreign markings", None)
        strongest: dict[str, tuple[str, int, bool]] = {}
        for found in find_foreign_markings(text, settings.company_names,
                                           settings.foreign_companies):
            if found.owner not in strongest or found.sensitivity > strongest[found.owner][1]:
                strongest[found.owner] = (found.marking, found.sensitivity, found.known_company)
        for owner, (marking, sensitivity, known) in strongest.items():
            for name, value in (("event_id", event_id), ("day", day), ("user_id", user_id),
                                ("action", action), ("channel", channel), ("owner", owner),
                                ("marking", marking), ("sensitivity", sensitivity),
                                ("known_company", known)):
                columns[name].append(value)
    schema = FOREIGN_MARKING_SCHEMA.remove(len(FOREIGN_MARKING_SCHEMA) - 1)
    rows = pa.table(columns, schema=schema)
    batch_id = _commit_table(workspace, "foreign_markings", rows, first, last, scanned,
                             hashlib.sha256(repr(settings.company_names).encode()).hexdigest())
    return ScanResult("foreign_markings", batch_id, scanned, rows.num_rows)


def read_batch_table(workspace: Workspace, table: str) -> pa.Table:
    """``content_matches`` or ``foreign_markings``: for each day, the latest run covering it."""
    import duckdb

    if table not in {"content_matches", "foreign_markings"}:
        raise ContentError(f"unknown content table {table!r}")
    schema = CONTENT_MATCH_SCHEMA if table == "content_matches" else FOREIGN_MARKING_SCHEMA
    records = [r for r in workspace.records() if r.target == table and r.state == "committed"]
    files = {p.stem: p for p in workspace.table_files(table)}
    runs = [(rank, r) for rank, r in enumerate(records) if r.batch_id in files]
    if not runs:
        return schema.empty_table()
    values = ", ".join(
        f"({sql_string(r.batch_id)}, {sql_string(r.min_day or '')}::DATE,"
        f" {sql_string(r.max_day or '')}::DATE, {rank})" for rank, r in runs)
    con = duckdb.connect()
    try:
        return con.sql(
            f"WITH runs(batch_id, first_day, last_day, rank) AS (VALUES {values})"
            f" SELECT t.* FROM read_parquet({sql_paths(files[r.batch_id] for _, r in runs)}) t"
            " JOIN runs USING (batch_id)"
            " WHERE runs.rank = (SELECT max(o.rank) FROM runs o"
            "                    WHERE t.day BETWEEN o.first_day AND o.last_day)"
            " ORDER BY t.day, t.event_id").to_arrow_table()
    finally:
        con.close()
