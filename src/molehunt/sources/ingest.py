"""Ingestion: read files of a known layout into the store, quarantining what cannot be stored.

Every file goes through the same steps, each streaming so that a file of tens of GB never sits
in Python memory:

1. Recognise its layout from the first line (header names, or the shape of a first data row).
2. Hash it; a file whose content was already ingested is skipped.
3. One DuckDB pass reads it (explicit column types, rejects recorded with line numbers) and
   writes day-partitioned Parquet into the batch's staging folder; rows failing a layout check
   land in a separate partition.
4. Event ids already in the store, or repeated within the file, are removed (reported as
   duplicates).
5. Rejected and failing rows go to the quarantine with file, line, reason and raw text.
6. The batch is committed (see :mod:`molehunt.store.workspace`).

Logs of JSON records (:class:`~molehunt.sources.base.RecordLayout`, e.g. the Microsoft 365
audit log) differ only in step 3: the layout's Python ``records`` step flattens the records
into Parquet chunks first, and the same SQL mapping, checks and duplicate removal run over
those. Their records can also go to ``service_events`` (system and service accounts) and
``hr_events``. ``ingest auto`` recognises every file of a folder by its content or header,
whatever its family.
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
import hashlib
import json
import os
import re
import shutil
import stat
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from molehunt.config import Settings
from molehunt.domains import DomainCategories, load_domain_categories
from molehunt.errors import SourceError, describe_os_error
from molehunt.schema import (
    DOCUMENT_COLUMNS,
    EVENT_COLUMNS,
    HR_EVENT_COLUMNS,
    QUARANTINE_COLUMNS,
)
from molehunt.sources._files import base_name, decode_head, is_gzip, open_binary
from molehunt.sources._lines import (
    GZIP_ERRORS,
    LineScan,
    count_lines,
    declared_copy_reason,
    decompress_counted,
    normalise,
    utf8_lines,
)
from molehunt.sources._lines import Counter as LineCounter
from molehunt.sources._locate import BadRow, locate
from molehunt.sources.base import (
    CERT_TIMESTAMP_FORMAT,
    DirectoryEntry,
    FileLayout,
    People,
    RecordLayout,
    Skipped,
    SqlContext,
    Unreadable,
    check_case,
    event_select,
    layouts_of_family,
    record_layouts,
    table_select,
    time_checks,
)
from molehunt.sources.jsonl import JSONL_TABLES, ParquetChunks, arrow_schema, stage_jsonl
from molehunt.sql import quote_identifier, sql_list, sql_path, sql_paths, sql_string
from molehunt.store.directory import (
    directory_is_stale,
    infer_company_domains,
    rebuild_directory,
)
from molehunt.store.workspace import Batch, FileRecord, Workspace, _fault_point

#: Callback for long work: a description and the fraction done (None when unknown).
ProgressFn = Callable[[str, float | None], None]

_BAD_PARTITION = "day=__HIVE_DEFAULT_PARTITION__"
#: Options of every day-partitioned write. String dictionaries rarely pay off for free text
#: and cost time on every page.
_PARTITIONED_PARQUET = (
    "FORMAT parquet, PARTITION_BY (day), COMPRESSION zstd, STRING_DICTIONARY_PAGE_SIZE_LIMIT 1"
)
_MAX_LINE_BYTES = 4 * 1024 * 1024
_HASH_CHUNK = 8 * 1024 * 1024
_SNAPSHOT_NAME = re.compile(r"^(\d{4})-(\d{2})$")
#: Files ``ingest cert`` looks at, and the further ones ``ingest auto`` and record layouts do.
_CERT_PATTERNS = ("*.csv", "*.csv.gz", "*.jsonl", "*.jsonl.gz")
#: Proxy logs (Squid's access.log, ELFF) are plain text lines, named .log as proxies write them.
_PROXY_PATTERNS = ("*.log", "*.log.gz")
_RECORD_PATTERNS = (*_CERT_PATTERNS, "*.json", "*.json.gz", "*.ndjson", "*.ndjson.gz", "*.xml",
                    "*.xml.gz", "*.evtx", *_PROXY_PATTERNS)
_RECORD_CHUNK_ROWS = 50_000
_SNIFF_BYTES = 256 * 1024


#: JSONL tables ``ingest cert`` reads (known by the start of the file name), each with its
#: place in the reading order of :attr:`FileLayout.order`: directory rows with the LDAP
#: snapshots, HR events and documents next, events among the CERT event files.
#: ``hr_events`` comes before ``events`` so that a name is matched by the longer prefix.
_JSONL_ORDER = {"hr_events": 4, "events": 50, "documents": 5, "directory": 1}


def _no_progress(description: str, fraction: float | None) -> None:
    return None


def jsonl_table_of(path: Path) -> str | None:
    """The canonical table a JSONL file of ``ingest cert`` fills, known by its name.

    The name (without ``.jsonl`` / ``.gz``) is the table's, or starts with it and ``_`` or
    ``-``; anything else is None.

    >>> [jsonl_table_of(Path(n)) for n in ("hr_events.jsonl", "events_2010.jsonl.gz",
    ...                                     "documents-a.jsonl", "directory.jsonl", "x.jsonl")]
    ['hr_events', 'events', 'documents', 'directory', None]
    """
    name = base_name(path).lower()
    for table in _JSONL_ORDER:
        if name == table or name.startswith((table + "_", table + "-")):
            return table
    return None


@dataclass
class FileResult:
    """What happened to one input file."""

    path: str
    layout: str
    status: str  # "ingested" | "skipped" | "failed"
    rows_read: int = 0
    rows_stored: int = 0
    rows_duplicate: int = 0
    quarantined_by_reason: Counter[str] = field(default_factory=Counter)
    note: str = ""
    #: Repeated event ids whose content differs from the row kept (see ``note``).
    rows_conflicting: int = 0
    #: Records read and deliberately not stored (record layouts), by reason.
    skipped_by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def rows_quarantined(self) -> int:
        """Rows of this file that went to the quarantine."""
        return sum(self.quarantined_by_reason.values())

    @property
    def rows_skipped(self) -> int:
        """Records of this file read and deliberately not stored, each with a reason."""
        return sum(self.skipped_by_reason.values())


@dataclass
class IngestSummary:
    """What one ``ingest`` call did, file by file."""

    files: list[FileResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Input files and folders not read, each with its reason (also in ``notes``).
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rows_quarantined(self) -> int:
        """Quarantined rows over all files."""
        return sum(f.rows_quarantined for f in self.files)

    def skip(self, path: Path, reason: str) -> None:
        """Name an input file or folder that is not read, and why (``--strict`` fails)."""
        self.skipped.append((str(path), reason))
        self.notes.append(f"skipped {path}: {reason}")

    @property
    def failed(self) -> list[FileResult]:
        """Files of which nothing was stored because their records did not add up."""
        return [f for f in self.files if f.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form of the summary."""
        return {
            "files": [
                {
                    "path": f.path,
                    "layout": f.layout,
                    "status": f.status,
                    "rows_read": f.rows_read,
                    "rows_stored": f.rows_stored,
                    "rows_duplicate": f.rows_duplicate,
                    "rows_quarantined": f.rows_quarantined,
                    "rows_conflicting": f.rows_conflicting,
                    "quarantined_by_reason": dict(f.quarantined_by_reason),
                    "rows_skipped": f.rows_skipped,
                    "skipped_by_reason": dict(f.skipped_by_reason),
                    "note": f.note,
                }
                for f in self.files
            ],
            "rows_quarantined": self.rows_quarantined,
            "notes": self.notes,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }


# -- finding files --------------------------------------------------------------------------
def walk_inputs(folder: Path, patterns: Sequence[str], ignored: list[Path] | None = None
                ) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The regular files under ``folder`` whose names match ``patterns``, in path order, and
    every folder or matching file that is not read, with the reason. Files whose names match
    no pattern are added to ``ignored``, when given.

    ``Path.rglob`` passes over an unreadable folder without a word and does not follow a
    linked one (Python 3.11), and it lists a FIFO named ``logon.csv``, whose reading would
    hang; here each of them is named instead.
    """
    found: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            skipped.append((current, f"cannot read folder: {error.strerror or error}"))
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                    continue
                if entry.is_symlink() and entry.is_dir():
                    skipped.append((path, "linked folder, not followed (ingest the folder it"
                                          " links to by its own path)"))
                    continue
                if not any(fnmatch.fnmatchcase(entry.name, p) for p in patterns):
                    if ignored is not None:
                        ignored.append(path)
                    continue
                mode = entry.stat().st_mode
            except OSError as error:
                skipped.append((path, f"cannot read: {error.strerror or error}"))
                continue
            if not stat.S_ISREG(mode):
                skipped.append((path, f"not a regular file ({_file_kind(mode)}); refused"
                                      " without reading"))
                continue
            found.append(path)
    found.sort()
    skipped.sort()
    return found, skipped


def _file_kind(mode: int) -> str:
    """What a non-regular file is, in words.

    >>> _file_kind(stat.S_IFIFO)
    'a FIFO'
    """
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((name for test, name in kinds if test(mode)), "not a file")


def has_content(path: Path) -> bool:
    """Whether any line of a file holds something other than white space."""
    check_readable(path)
    return any(line.strip() for line in _text_lines(path))


# -- recognising files ----------------------------------------------------------------------
def check_readable(path: Path) -> bytes:
    """The first line of a file as bytes; one clear error when it cannot be read.

    A FIFO, socket or device is refused before it is opened: reading a FIFO waits for a
    writer that may never come.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SourceError("no such file", where=str(path)) from None
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror or error}", where=str(path)) from None
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise SourceError(f"not a regular file ({_file_kind(mode)}); refused without reading",
                          where=str(path))
    try:
        with open_binary(path) as handle:
            try:
                return handle.readline(_MAX_LINE_BYTES)
            except GZIP_ERRORS:
                # a torn .gz: its lines are read as far as they go, and the tail quarantined
                return b""
    except FileNotFoundError:
        raise SourceError("no such file", where=str(path)) from None
    except IsADirectoryError:
        raise SourceError("is a folder, not a file", where=str(path)) from None
    except (OSError, EOFError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise SourceError(f"cannot read: {reason}", where=str(path)) from None


def read_first_line(path: Path) -> str:
    """The first line of a file, decoded, without its line break (which may be CRLF, LF or a
    lone CR; a UTF-16 file is read as such)."""
    check_readable(path)
    first = next(_text_lines(path), b"")
    try:
        return first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError("first line is not UTF-8 text", where=f"{path}:1") from None


def _text_lines(path: Path) -> Iterator[bytes]:
    """The file's lines as UTF-8 bytes, split as the independent reader splits them."""
    torn: list[BaseException] = []
    for line, _, undecodable in utf8_lines(path, "utf-8", torn):
        yield line if undecodable is None else b""


def _fields(text: str) -> list[str]:
    """A line split into CSV fields; a line the CSV module refuses has none."""
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return []


def recognise(path: Path, family: str = "cert") -> tuple[type[FileLayout], bool]:
    """The layout of a file and whether it has a header line.

    Several layouts can share a header (CERT's logon.csv and r4 device.csv both read
    ``id,date,user,pc,activity``; r5 and r6 email.csv differ only in the word for received
    mail) or claim the same header-less first row; the data rows then decide (see
    :func:`_choose`). Raises :class:`SourceError` for an empty file or one no layout of
    ``family`` matches.
    """
    first = read_first_line(path)
    if not first.strip():
        raise SourceError("empty file or blank first line; no layout to recognise",
                          where=str(path))
    header = [f.strip().lower() for f in _fields(first)]
    layouts = layouts_of_family(family)
    by_header = [layout for layout in layouts if layout.matches_header(header)]
    if len(by_header) == 1:
        return by_header[0], True
    has_header = bool(by_header)
    sample = _sample_rows(path, skip_first=has_header)
    candidates = by_header or [layout for layout in layouts
                               if sample and layout.matches_row(sample[0])]
    if not candidates:
        shown = first if len(first) <= 120 else first[:117] + "..."
        raise SourceError(f"unknown layout; first line is {shown!r}", where=str(path))
    return _choose(candidates, path, sample, has_header), has_header


def recognise_records(path: Path, family: str | None = None, ctx: SqlContext | None = None
                      ) -> type[RecordLayout] | None:
    """The record layout (of ``family``, or of any) whose content a file's start shows
    (``ctx``: the settings that describe configured layouts, such as ``[hr_csv]``)."""
    check_readable(path)
    try:
        with open_binary(path) as handle:
            head = decode_head(handle.read(_SNIFF_BYTES))
    except (OSError, EOFError) as error:
        raise SourceError(f"cannot read: {error}", where=str(path)) from None
    found = [layout for layout in record_layouts(family)
             if (layout.sniff_configured(head, ctx) if ctx is not None else layout.sniff(head))]
    return found[0] if found else None


def _choose(candidates: Sequence[type[FileLayout]], path: Path, sample: Sequence[list[str]],
            has_header: bool) -> type[FileLayout]:
    """The one of several fitting layouts that the file's rows show.

    The layout most of the first rows resemble wins. On a tie the rest of the file is read
    until one row resembles only one of the tied layouts (a release's first ``Receive`` after
    thousands of ``Send`` rows); this reads the whole file only when no row tells them apart.
    Then every row means the same under each of them, and the usual file name, else the last
    name, decides, so that the choice is the same on every run (for e-mail with sent mail only,
    r6's layout, which read such files before r5 had one).
    """
    if len(candidates) == 1:
        return candidates[0]
    scores = sorted(((sum(map(layout.resembles_row, sample)), layout.name, layout)
                     for layout in candidates), key=lambda item: (-item[0], item[1]))
    tied = [layout for score, _, layout in scores if score == scores[0][0]]
    if len(tied) == 1:
        return tied[0]
    for fields in _rows_after(path, skip=len(sample) + int(has_header)):
        resembling = [layout for layout in tied if layout.resembles_row(fields)]
        if len(resembling) == 1:
            return resembling[0]
    by_name = [layout for layout in tied if layout.usual_stem == base_name(path).lower()]
    return max(by_name or tied, key=lambda layout: layout.name)


def _rows_after(path: Path, skip: int) -> Iterator[list[str]]:
    """The file's rows after its first ``skip`` lines, split into fields."""
    for number, line in enumerate(_text_lines(path)):
        if number >= skip:
            yield _fields(line.decode("utf-8", "replace"))


def _sample_rows(path: Path, skip_first: bool, limit: int = 200) -> list[list[str]]:
    """The first data rows of a file, split into fields (undecodable bytes replaced)."""
    rows: list[list[str]] = []
    for number, line in enumerate(_text_lines(path)):
        if number == 0 and skip_first:
            continue
        rows.append(_fields(line.decode("utf-8", "replace")))
        if len(rows) >= limit:
            break
    return rows


def file_digest(path: Path, progress: ProgressFn | None = None,
                counter: LineCounter | None = None) -> tuple[int, str]:
    """Size and SHA-256 of a file, read in chunks; ``counter`` counts its records on the way
    (the file must not be compressed)."""
    digest = hashlib.sha256()
    try:
        size = path.stat().st_size
        done = 0
        with open(path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
                if counter is not None:
                    counter.feed(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(f"hashing {path.name}", done / size if size else 1.0)
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror}", where=str(path)) from None
    return size, digest.hexdigest()


class _Digest:
    """SHA-256 of a file and the independent count of its records (see
    :mod:`molehunt.sources._lines`), computed in the calling thread or in a background thread.

    A plain file is counted from the chunks that are hashed, so the count costs no extra
    read; a compressed one is decompressed once more after hashing.
    """

    def __init__(self, path: Path, has_header: bool) -> None:
        self.path = path
        self.has_header = has_header
        self._thread: threading.Thread | None = None
        self._value: str | None = None
        self._scan: LineScan | None = None
        self._error: SourceError | None = None

    def run(self) -> None:
        """Hash and count now, in this thread."""
        try:
            if is_gzip(self.path):
                # counted where it is decompressed (see Ingestor.ingest_csv)
                self._value = file_digest(self.path)[1]
                self._scan = LineScan(needs_copy="counted where it is decompressed")
            else:
                counter = LineCounter(self.has_header)
                self._value = file_digest(self.path, counter=counter)[1]
                self._scan = counter.finish()
        except SourceError as error:
            self._error = error
        except OSError as error:
            self._error = SourceError(f"cannot read: {error.strerror or error}",
                                      where=str(self.path))

    def start(self) -> None:
        """Hash in a background thread."""
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()

    def result(self) -> str:
        """The hex digest (waits for the background thread)."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        if self._value is None:
            self.run()
            if self._error is not None:
                raise self._error
        assert self._value is not None
        return self._value

    def scan(self) -> LineScan:
        """The independent count (waits for the background thread)."""
        self.result()
        assert self._scan is not None
        return self._scan


def _unterminated_tail(path: Path) -> str | None:
    """The file's last line when the file does not end with a line break."""
    if is_gzip(path):
        last = b""
        with open_binary(path) as handle:
            for line in handle:
                last = line
        return None if not last or last.endswith(b"\n") else _raw_text(last)
    size = path.stat().st_size
    if size == 0:
        return None
    with open(path, "rb") as handle:
        handle.seek(max(0, size - _MAX_LINE_BYTES))
        tail = handle.read()
    if tail.endswith(b"\n"):
        return None
    return _raw_text(tail[tail.rfind(b"\n") + 1:])


def _mark_truncated_last_line(path: Path, rows: list[BadRow]) -> None:
    """Say so when a bad row is the last line of a file that lacks its final line break."""
    tail = _unterminated_tail(path)
    if tail is None:
        return
    last_line = max(row.line or 0 for row in rows)
    for row in rows:
        if row.line == last_line and row.raw == tail:
            row.reason = f"truncated last line ({row.reason})"


def _raw_text(line: bytes) -> str:
    """A raw line as text; bytes that are not UTF-8 stay visible as ``\\xNN`` escapes."""
    return line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")


# -- the DuckDB session of one batch --------------------------------------------------------
class _Session:
    """A DuckDB connection set up with the macros and tables layouts may use."""

    def __init__(self, workspace: Workspace, staging: Path, ctx: SqlContext,
                 categories: DomainCategories) -> None:
        settings = workspace.settings()
        self.con = duckdb.connect(config={"allow_unsigned_extensions": False})
        temp = staging / "tmp"
        temp.mkdir(exist_ok=True)
        self.con.execute(f"SET memory_limit={sql_string(settings.memory_limit)}")
        self.con.execute(f"SET threads={int(settings.threads)}")
        self.con.execute(f"SET temp_directory={sql_string(str(temp))}")
        self.con.execute("SET preserve_insertion_order=false")
        # A day holds far fewer rows than DuckDB's default flush threshold, so without this
        # every day's rows would wait in memory until the end of the file.
        self.con.execute("SET partitioned_write_flush_threshold=8192")
        self.con.execute("SET enable_progress_bar=true")
        self.con.execute("SET enable_progress_bar_print=false")
        rows = sorted(categories.by_domain.items())
        self.con.execute("CREATE TABLE domain_categories (domain VARCHAR PRIMARY KEY,"
                         " category VARCHAR NOT NULL)")
        if rows:
            values = ", ".join(f"({sql_string(d)}, {sql_string(c)})" for d, c in rows)
            self.con.execute(f"INSERT INTO domain_categories VALUES {values}")
        company = sql_list(list(ctx.company_domains))
        webmail = sql_list(categories.domains("webmail"))
        # string functions rather than regular expressions: this runs on every web event
        self.con.execute(
            "CREATE MACRO mh_host_part(url) AS lower(trim(split_part(split_part(split_part("
            "split_part(split_part(CASE WHEN contains(url, '://') THEN split_part(url, '://', 2)"
            " ELSE url END, '/', 1), '?', 1), '#', 1), '@', -1), ':', 1)))"
        )
        self.con.execute(
            "CREATE MACRO mh_clean_host(part) AS CASE WHEN contains(part, '.') AND NOT"
            " contains(part, ' ') AND NOT contains(part, chr(9)) THEN CASE WHEN"
            " starts_with(part, 'www.') THEN part[5:] ELSE part END ELSE '' END"
        )
        self.con.execute("CREATE MACRO mh_parent(d, labels) AS CASE WHEN labels = 3 THEN"
                         " split_part(d, '.', -3) || '.' || split_part(d, '.', -2) || '.' ||"
                         " split_part(d, '.', -1) ELSE split_part(d, '.', -2) || '.' ||"
                         " split_part(d, '.', -1) END")
        self.con.execute("CREATE MACRO mh_email_domain(a) AS"
                         " lower(trim(split_part(trim(a), '@', 2)))")
        self.con.execute("CREATE MACRO mh_suffixes(d) AS [d, mh_parent(d, 3), mh_parent(d, 2)]")
        self.con.execute(f"CREATE MACRO mh_is_company(d) AS d = '' OR"
                         f" list_has_any(mh_suffixes(d), {company})")
        self.con.execute(f"CREATE MACRO mh_is_webmail(d) AS"
                         f" list_has_any(mh_suffixes(d), {webmail})")

    def read_file(self, sql: str, label: str, progress: ProgressFn) -> None:
        """Run a statement that reads an input file through the layout's SQL.

        Its joins are always the big file against a small lookup table, and the CSV reader's
        row estimate is tiny, so the optimiser would build its hash table on the file; for
        this statement only, joins keep the order they are written in.
        """
        self.con.execute("SET disabled_optimizers='join_order,build_side_probe_side'")
        try:
            self.run(sql, label, progress)
        finally:
            self.con.execute("RESET disabled_optimizers")

    def run(self, sql: str, label: str, progress: ProgressFn) -> None:
        """Execute ``sql``, reporting DuckDB's own progress while it runs."""
        failure: list[BaseException] = []

        def work() -> None:
            try:
                self.con.execute(sql)
            except BaseException as error:  # re-raised in the calling thread
                failure.append(error)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.25)
                try:
                    fraction = self.con.query_progress()
                except duckdb.Error:
                    fraction = -1
                progress(label, fraction / 100 if fraction >= 0 else None)
        except KeyboardInterrupt:
            self.con.interrupt()
            worker.join()
            raise
        if failure:
            raise failure[0]

    def close(self) -> None:
        """Close the connection."""
        self.con.close()


def _read_csv_sql(path: Path, layout: type[FileLayout], has_header: bool) -> str:
    columns = ", ".join(f"{sql_string(c)}: {sql_string(t)}" for c, t in layout.columns.items())
    return (
        f"read_csv({sql_path(path)}, header={'true' if has_header else 'false'},"
        f" compression={sql_string('gzip' if is_gzip(path) else 'none')},"
        f" auto_detect=false, columns={{{columns}}}, delim=',', quote='\"', escape='\"',"
        f" timestampformat={sql_string(CERT_TIMESTAMP_FORMAT)}, strict_mode=true,"
        f" max_line_size={_MAX_LINE_BYTES}, store_rejects=true,"
        " rejects_table='csv_rejects', rejects_scan='csv_scans', null_padding=false)"
    )


_REJECT_REASONS = {
    "MISSING COLUMNS": "wrong field count",
    "TOO MANY COLUMNS": "wrong field count",
    "INVALID ENCODING": "invalid UTF-8",
    "INVALID UNICODE": "invalid UTF-8",
    "UNQUOTED VALUE": "malformed quoting",
    "LINE SIZE OVER MAXIMUM": "line too long",
}


@dataclass
class _Rejected:
    """One record DuckDB's CSV reader rejected."""

    offset: int
    physical_lines: int
    reason: str
    detail: str


def _rejected_rows(con: duckdb.DuckDBPyConnection, path: Path) -> list[BadRow]:
    """Rows DuckDB's CSV reader rejected, one quarantine row per record.

    Line numbers and raw text are taken from the file itself, found by the record's byte
    offset: the reader counts records, not lines, and replaces bytes that are not UTF-8. A
    record spanning several lines (a quoted field with line breaks; a quote that never closes
    was cut off before DuckDB read the file, see :mod:`molehunt.sources._lines`) is named by
    its first line and keeps the text of all of them.
    """
    records = []
    for offset, types, columns, copy, message in con.execute(
        "SELECT min(line_byte_position), list(error_type ORDER BY column_idx),"
        " list(column_name ORDER BY column_idx), any_value(csv_line),"
        " string_agg(error_message, '; ') FROM csv_rejects GROUP BY line ORDER BY line"
    ).fetchall():
        error_type = str(types[0])
        if error_type == "CAST":
            reason = f"unparseable {columns[0]}"
        else:
            reason = _REJECT_REASONS.get(error_type, error_type.lower())
        lines = str(copy or "").strip("\r\n").count("\n") + 1
        records.append(_Rejected(int(offset or 0), lines, reason, str(message)))
    if not records:
        return []
    result: list[BadRow] = []
    pending = iter(sorted(records, key=lambda r: r.offset))
    current = next(pending, None)
    first_line = 0
    taking: _Rejected | None = None
    position = 0
    terminator = -2
    with open_binary(path) as handle:
        for number, line in enumerate(handle, start=1):
            end = position + len(line)
            if taking is not None and number - first_line < taking.physical_lines:
                result[-1].raw = f"{result[-1].raw}\n{_raw_text(line)}"
            else:
                taking = None
            # DuckDB reports two bytes past the start of the previous line's terminator: the
            # line's start after "\r\n", one byte into the line after "\n"; after an empty
            # line (which holds no record) the start of the line itself
            while current is not None and line.rstrip(b"\r\n") and (
                    current.offset < end or current.offset == terminator + 2):
                if taking is None:
                    taking, first_line = current, number
                    result.append(BadRow(key="", reason=current.reason, detail=current.detail,
                                         line=number, raw=_raw_text(line)))
                current = next(pending, None)
            position = end
            terminator = end - (2 if line.endswith(b"\r\n") else 1)
            if current is None and taking is None:
                break
    return result


def _write_quarantine(path: Path, batch_id: str, file: str, layout: str,
                      rows: Sequence[BadRow]) -> None:
    table = pa.table(
        {
            "batch_id": pa.array([batch_id] * len(rows), pa.string()),
            "file": pa.array([file] * len(rows), pa.string()),
            "line": pa.array([r.line for r in rows], pa.int64()),
            "layout": pa.array([layout] * len(rows), pa.string()),
            "reason": pa.array([r.reason for r in rows], pa.string()),
            "detail": pa.array([r.detail for r in rows], pa.string()),
            "raw": pa.array([r.raw for r in rows], pa.string()),
        }
    )
    assert table.column_names == list(QUARANTINE_COLUMNS)
    pq.write_table(table, path, compression="zstd")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def plausible_window(settings: Settings, now: dt.datetime | None = None) -> tuple[str, str]:
    """The times an event may plausibly have: from ``earliest_event`` to
    ``latest_event_days_ahead`` days after now (the ingest), as SQL timestamp text.

    >>> plausible_window(Settings(), dt.datetime(2026, 1, 2, 3, 4, 5))
    ('1990-01-01 00:00:00', '2026-01-03 03:04:05')
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    try:
        latest = now + dt.timedelta(days=settings.latest_event_days_ahead)
    except OverflowError:
        latest = dt.datetime(9999, 12, 31, 23, 59, 59)
    return (f"{settings.earliest_event.isoformat()} 00:00:00",
            latest.isoformat(sep=" "))


def _gap(read: int, result: _Staged, quarantined: int, skipped: int = 0) -> str:
    """The one line that says a file's records do not add up."""
    accounted = result.stored + result.duplicates + quarantined + skipped
    kept_out = f", skipped {skipped:,}" if skipped else ""
    return (f"{read:,} records read but {accounted:,} accounted for (stored {result.stored:,},"
            f" duplicates {result.duplicates:,}, quarantined {quarantined:,}{kept_out}):"
            f" {read - accounted:+,} unaccounted; nothing of this file was stored")


def _adds_up(read: int, result: _Staged, quarantined: int) -> bool:
    """Whether every record counted (``read``) is stored, a duplicate or quarantined."""
    return result.stored + result.duplicates + quarantined == read


#: File names only record layouts read, and what is said when none of them recognises one.
_UNRECOGNISED_RECORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    ((".json", ".json.gz", ".ndjson", ".ndjson.gz"),
     "unknown layout: no record layout recognises this JSON"),
    ((".xml", ".xml.gz", ".evtx"),
     "unknown layout: not Windows events (Event XML or EVTX), nor any other record layout"),
    ((".log", ".log.gz"),
     "unknown layout: not a web proxy log (Squid native, Zscaler NSS JSON, Blue Coat ELFF),"
     " nor any other record layout"),
)


class UnaccountedRowsError(SourceError):
    """A file's records do not add up: the independent count differs from what was stored,
    found duplicate and quarantined. Nothing of the file is stored."""


# -- the ingestor ---------------------------------------------------------------------------
class Ingestor:
    """Ingests files into one workspace; hold the workspace lock while using it."""

    def __init__(self, workspace: Workspace, progress: ProgressFn = _no_progress,
                 strict: bool = False) -> None:
        self.workspace = workspace
        self.progress = progress
        #: quarantine repeated event ids with other content instead of counting duplicates
        self.strict = strict
        settings = workspace.settings()
        self.settings = settings
        self.categories = load_domain_categories(settings.domain_category_files,
                                                 settings.competitors)
        self.time_window = plausible_window(settings)
        #: what recognising a configured record layout needs (``[hr_csv]``)
        self.sniff_ctx = SqlContext(company_domains=(), hr_columns=settings.hr_csv,
                                    hr_kinds=settings.hr_csv_kinds,
                                    proxy_zscaler=settings.proxy_zscaler)
        if directory_is_stale(workspace):
            rebuild_directory(workspace)

    # company domains decide internal vs external mail
    def company_domains(self) -> tuple[str, ...]:
        """Configured company domains, else those inferred earlier, else from the directory."""
        configured = self.workspace.settings().company_domains
        if configured:
            return configured
        stored = self.workspace.get_meta("company_domains")
        if stored:
            return tuple(stored.split(","))
        inferred = infer_company_domains(self.workspace)
        if inferred:
            self.workspace.set_meta("company_domains", ",".join(inferred))
        return inferred

    @contextmanager
    def _session(self, staging: Path, ctx: SqlContext, path: Path, step: str
                 ) -> Iterator[_Session]:
        """A staging session for one file; a DuckDB error drops the staging and says, in one
        line, that nothing of the file was stored (``step``: ``reading`` or ``writing``)."""
        session: _Session | None = None
        try:
            session = _Session(self.workspace, staging, ctx, self.categories)
            yield session
        except duckdb.Error as error:
            shutil.rmtree(staging, ignore_errors=True)
            classified = describe_os_error(error)  # a full disk is not the input's fault
            if classified is not None:
                raise SourceError(f"{classified}; nothing of this file was stored",
                                  where=str(path)) from error
            raise SourceError(f"{step} failed ({type(error).__name__}: {_first_line(error)});"
                              " nothing of this file was stored", where=str(path)) from error
        finally:
            if session is not None:
                session.close()

    def ingest_cert(self, folder: Path, skip_unknown: bool = False) -> IngestSummary:
        """Ingest a folder: every CERT-layout CSV file and every canonical JSONL file under it.

        JSONL files are routed by name (see :func:`jsonl_table_of`); folders named ``answers``
        (ground truth) are never read. Directory files come first, then HR events and
        documents, then event files, smallest first.
        """
        return self._ingest_folder(folder, skip_unknown, records=False)

    def ingest_auto(self, folder: Path, skip_unknown: bool = False) -> IngestSummary:
        """Ingest a folder whatever its sources: each file's layout is recognised on its own.

        As :meth:`ingest_cert`, and files of every record layout (e.g. the Microsoft 365 audit
        log as JSON, NDJSON or CSV) are recognised by their content first.
        """
        return self._ingest_folder(folder, skip_unknown, records=True)

    def _ingest_folder(self, folder: Path, skip_unknown: bool, records: bool) -> IngestSummary:
        if not folder.exists():
            raise SourceError("no such folder", where=str(folder))
        if not folder.is_dir():
            raise SourceError("not a folder; use `ingest jsonl` for single files",
                              where=str(folder))
        summary = IngestSummary()
        plan: list[_Planned] = []
        patterns = _RECORD_PATTERNS if records else _CERT_PATTERNS
        others: list[Path] = []
        candidates, not_read = walk_inputs(folder, patterns, others)
        answers: set[Path] = set()
        for path, reason in not_read:
            if _answers_folder(folder, path) is None:
                summary.skip(path, reason)
        others = sorted(p for p in others if _answers_folder(folder, p) is None)
        if others:
            # named, but no skip: a readme or company.json next to the logs is no input
            shown = ", ".join(p.relative_to(folder).as_posix() for p in others[:5])
            more = f" and {len(others) - 5:,} more" if len(others) > 5 else ""
            files = "file that is" if len(others) == 1 else "files that are"
            summary.notes.append(f"ignored {len(others):,} {files} not {'/'.join(patterns)}:"
                                 f" {shown}{more}")
        for path in candidates:
            truth = _answers_folder(folder, path)
            if truth is not None:
                answers.add(truth)
                continue
            if _simulation_description(path):
                summary.notes.append(f"skipped {path}: a simulated organisation's description"
                                     " (beside its answers/), not a log")
                continue
            if not has_content(path):
                summary.skip(path, "empty file (no line holds anything)")
                continue
            found = recognise_records(path, ctx=self.sniff_ctx) if records else None
            if found is not None:
                plan.append(_Planned(path, found.target, found.order, found))
                continue
            unread = next((m for ends, m in _UNRECOGNISED_RECORDS if path.name.endswith(ends)),
                          None)
            if unread is not None:
                if skip_unknown:
                    summary.skip(path, unread)
                    continue
                raise SourceError(unread, where=str(path))
            if path.name.endswith((".jsonl", ".jsonl.gz")):
                table = jsonl_table_of(path)
                if table is None:
                    message = ("unknown layout: a JSONL file's name must be events, hr_events,"
                               " documents or directory, optionally followed by _ or - and more")
                    if skip_unknown:
                        summary.skip(path, message)
                        continue
                    raise SourceError(message, where=str(path))
                check_readable(path)
                plan.append(_Planned(path, table, _JSONL_ORDER[table]))
                continue
            try:
                layout, has_header = recognise(path, "cert")
            except SourceError as error:
                if skip_unknown and "unknown layout" in error.message:
                    summary.skip(path, error.message)
                    continue
                raise
            plan.append(_Planned(path, layout.target, layout.order, layout, has_header))
        for truth in sorted(answers):
            summary.notes.append(f"skipped {truth}: ground truth is never ingested")
        if not plan:
            raise SourceError("no CERT-layout CSV files found (nor canonical JSONL files)"
                              if not records else "no file of a known layout found",
                              where=str(folder))
        # small event files first: the duplicate check then reads the fewest stored ids
        plan.sort(key=lambda item: (item.order, item.path.stat().st_size
                                    if item.target == "events" else 0, str(item.path)))
        directory_changed = False
        for item in plan:
            if item.layout is not None and issubclass(item.layout, RecordLayout):
                if directory_changed:
                    rebuild_directory(self.workspace)
                    directory_changed = False
                summary.files.append(self._record_file_or_failure(item.path, item.layout))
                continue
            if item.layout is None:
                try:
                    result = self._ingest_jsonl_file(item.path, item.target, "jsonl")
                except UnaccountedRowsError as error:
                    result = FileResult(str(item.path), f"jsonl.{item.target}", "failed",
                                        note=error.message)
                summary.files.append(result)
                directory_changed |= item.target == "directory" and result.status == "ingested"
                continue
            if item.target == "events" and not self.workspace.settings().company_domains:
                if directory_changed:
                    rebuild_directory(self.workspace)
                    directory_changed = False
                if not self.company_domains():
                    summary.notes.append(
                        "company domains unknown (no directory, no company_domains setting):"
                        " every e-mail counts as external"
                    )
            try:
                result = self.ingest_csv(item.path, item.layout, item.has_header)
            except UnaccountedRowsError as error:
                # one file that does not add up does not stop the rest of the folder
                result = FileResult(str(item.path), item.layout.name, "failed",
                                    note=error.message)
            summary.files.append(result)
            directory_changed |= item.target == "ldap" and result.status == "ingested"
        if directory_changed or not self.workspace.directory_file.exists():
            rebuild_directory(self.workspace)
        return summary

    def ingest_records(self, paths: Sequence[Path], family: str,
                       skip_unknown: bool = False) -> IngestSummary:
        """Ingest files (or every file under folders) of one family of record layouts.

        A file given by name must be of the family; a file found in a folder that is not is
        an error too, unless ``skip_unknown`` (then a note says so).
        """
        if not record_layouts(family):
            raise SourceError(f"no record layouts of family {family!r}")
        summary = IngestSummary()
        plan: list[tuple[Path, type[RecordLayout]]] = []
        for given in paths:
            if given.is_dir():
                found, not_read = walk_inputs(given, _RECORD_PATTERNS)
                files = [p for p in found if _answers_folder(given, p) is None]
                for path, reason in not_read:
                    if _answers_folder(given, path) is None:
                        summary.skip(path, reason)
                if not files:
                    raise SourceError("no .json, .ndjson, .jsonl, .csv, .xml, .evtx or .log"
                                      " files", where=str(given))
            else:
                files = [given]
            for path in files:
                layout = recognise_records(path, family, self.sniff_ctx)
                if layout is None:
                    message = f"unknown layout: not a {family} file this version can read"
                    if skip_unknown and path != given:
                        summary.skip(path, message)
                        continue
                    raise SourceError(message, where=str(path))
                plan.append((path, layout))
        for path, layout in plan:
            summary.files.append(self._record_file_or_failure(path, layout))
        return summary

    def _record_file_or_failure(self, path: Path, layout: type[RecordLayout]) -> FileResult:
        """:meth:`ingest_record_file`, where a file that does not add up is a failed result
        and the rest of the files go on."""
        try:
            return self.ingest_record_file(path, layout)
        except UnaccountedRowsError as error:
            return FileResult(str(path), layout.name, "failed", note=error.message)

    def _directory_changed_since(self, done: FileRecord) -> bool:
        """Whether the directory was rebuilt after a batch quarantined rows: a layout that
        resolves people then reads the same file again (its people may be known now)."""
        if not done.rows_quarantined or not self.workspace.directory_file.exists():
            return False
        quarantine = self.workspace.table_dir("quarantine") / f"{done.batch_id}.parquet"
        return (not quarantine.exists() or self.workspace.directory_file.stat().st_mtime_ns
                > quarantine.stat().st_mtime_ns)

    def ingest_record_file(self, path: Path, layout_cls: type[RecordLayout]) -> FileResult:
        """Ingest one file of a record layout (see :class:`~molehunt.sources.base.RecordLayout`).

        Every record is stored (in ``events``, ``service_events`` or ``hr_events``), a
        duplicate, quarantined with its line, its record number and a reason, or skipped with
        a reason. Where the layout counts a file's records on its own
        (:meth:`~molehunt.sources.base.RecordLayout.count_records`), the file is stored only
        when that count is accounted for; else :class:`UnaccountedRowsError`.
        """
        layout = layout_cls()
        size, sha = file_digest(path, self.progress)
        done = self.workspace.find_ingested(sha, size, layout.name)
        if done is not None and not (layout.resolves_people
                                     and self._directory_changed_since(done)):
            return FileResult(str(path), layout.name, "skipped",
                              note=f"already ingested as batch {done.batch_id}")
        settings = self.settings
        ctx = SqlContext(company_domains=self.company_domains(),
                         sensitivity_labels=settings.sensitivity_labels,
                         time_window=self.time_window,
                         people=load_people(self.workspace) if layout.resolves_people else None,
                         hr_columns=settings.hr_csv, hr_kinds=settings.hr_csv_kinds,
                         proxy_zscaler=settings.proxy_zscaler)
        batch_id = uuid.uuid4().hex[:16]
        staging = self.workspace.new_staging(batch_id)
        chunks, bad, skipped = self._flatten_records(path, layout, ctx, staging / "chunks")
        result = _Staged(stored=0)
        kept_apart = hr_rows = 0
        hr_first: str | None = None
        shapes: list[tuple[str, int]] = []
        hr_last: str | None = None
        if chunks:
            with self._session(staging, ctx, path, "reading") as session:
                flat = f"read_parquet({sql_paths(chunks)})"
                if layout.target == "events":
                    result = self._stage_events(
                        session, layout, ctx, f"(SELECT * FROM {flat} WHERE _dest = 'events')",
                        staging, batch_id, path.name)
                    kept_apart, duplicates, service_bad = _stage_service_events(
                        session.con, self.workspace, layout, ctx, flat,
                        staging / "service_events.parquet")
                    result.duplicates += duplicates
                    result.checked.extend(service_bad)
                hr = _stage_record_hr_events(session.con, self.workspace, layout, ctx, flat,
                                             staging / "hr_events.parquet")
                hr_rows, hr_first, hr_last = hr.stored, hr.first, hr.last
                result.duplicates += hr.duplicates
                result.checked.extend(hr.bad)
                shapes = [(str(shape), int(n)) for shape, n in session.con.execute(
                    f"SELECT shape, count(*) FROM {flat} GROUP BY shape ORDER BY shape"
                ).fetchall()]
        shutil.rmtree(staging / "chunks", ignore_errors=True)
        shutil.rmtree(staging / "tmp", ignore_errors=True)
        bad.extend(_located(row) for row in result.checked)
        conflicts = self._settle_conflicts(result, bad)
        bad.sort(key=lambda r: (r.line or 0, r.detail))
        stored = result.stored + kept_apart + hr_rows
        accounted = stored + result.duplicates + len(bad) + skipped.total()
        # counted apart from the parser: while reading (independent_count) or after it
        counted = layout.independent_count
        if counted is None:
            counted = layout.count_records(path)
        if counted is not None and counted != accounted:
            shutil.rmtree(staging, ignore_errors=True)
            raise UnaccountedRowsError(_gap(counted, _Staged(stored, result.duplicates),
                                            len(bad), skipped.total()), where=str(path))
        read = accounted if counted is None else counted
        if bad:
            _write_quarantine(staging / "quarantine.parquet", batch_id, str(path.resolve()),
                              layout.name, bad)
        record = FileRecord(
            batch_id=batch_id, path=str(path.resolve()), size=size, sha256=sha,
            layout=layout.name, target=layout.target,
            rows_read=read, rows_stored=stored,
            rows_quarantined=len(bad), rows_duplicate=result.duplicates,
            # the first day the batch can change, HR rows included: the features recompute
            # from a batch's min_day, and a notice may predate the file's first event
            min_day=min(d for d in (result.min_day, hr_first) if d is not None)
            if result.min_day or hr_first else None,
            # an HR feed's last day too: its declared observations cover its days
            max_day=max(d for d in (result.max_day, hr_last) if d is not None)
            if result.max_day or hr_last else None, state="committing",
        )
        superseding = self._commit(Batch(batch_id, staging, record))
        notes = [", ".join(f"{shape}: {n}" for shape, n in shapes)] if shapes else []
        if kept_apart:
            notes.append(f"{kept_apart} by system or service accounts, kept apart in"
                         " service_events")
        if hr_rows:
            notes.append(f"{hr_rows} HR records in hr_events")
        if skipped:
            notes.append(f"{skipped.total():,} skipped ({format_reasons(skipped)})")
        return FileResult(str(path), layout.name, "ingested", record.rows_read, stored,
                          result.duplicates, Counter(r.reason for r in bad),
                          note="; ".join([*notes, *conflicts, *superseding]),
                          rows_conflicting=len(result.conflicts), skipped_by_reason=skipped)

    def _flatten_records(self, path: Path, layout: RecordLayout, ctx: SqlContext,
                         folder: Path) -> tuple[list[Path], list[BadRow], Counter[str]]:
        """Write the file's flattened records as Parquet chunks; return them, the records
        that could not be flattened and the reasons of those skipped."""
        folder.mkdir()
        layout.scratch = folder.parent
        chunks = ParquetChunks(folder, arrow_schema(layout.staged_columns()), _RECORD_CHUNK_ROWS)
        bad: list[BadRow] = []
        skipped: Counter[str] = Counter()
        try:
            for item in layout.records(path, ctx):
                if isinstance(item, Skipped):
                    skipped[item.reason] += 1
                    continue
                if isinstance(item, Unreadable):
                    bad.append(BadRow(key="", reason=item.reason,
                                      detail=f"record {item.record}: {item.detail}",
                                      line=item.line, raw=item.raw))
                    continue
                if chunks.add(item):
                    self.progress(f"reading {path.name}", None)
        except (OSError, EOFError) as error:
            shutil.rmtree(folder.parent, ignore_errors=True)
            raise SourceError(f"cannot read: {error}; nothing of this file was stored",
                              where=str(path)) from None
        chunks.flush()
        return chunks.paths, bad, skipped

    def ingest_csv(self, path: Path, layout_cls: type[FileLayout],
                   has_header: bool) -> FileResult:
        """Ingest one CSV file of a known layout."""
        layout = layout_cls()
        snapshot = None
        layout_key = layout.name
        if layout.target == "ldap":
            match = _SNAPSHOT_NAME.match(base_name(path))
            if not match:
                raise SourceError("LDAP snapshot files must be named YYYY-MM.csv",
                                  where=str(path))
            snapshot = f"{match.group(1)}-{match.group(2)}-01"
            # identical snapshots of different months are different facts
            layout_key = f"{layout.name}@{snapshot[:7]}"
        try:
            size = path.stat().st_size
        except OSError as error:
            raise SourceError(f"cannot read: {error.strerror}", where=str(path)) from None
        digest = _Digest(path, has_header)
        if self.workspace.seen_before(str(path.resolve()), size, layout_key):
            # probably a re-run: hash first, so that a file already stored costs one read
            digest.run()
            done = self.workspace.find_ingested(digest.result(), size, layout_key)
            if done is not None:
                return FileResult(str(path), layout_key, "skipped",
                                  note=f"already ingested as batch {done.batch_id}")
        else:
            digest.start()  # in parallel with reading: hashing releases the GIL
        ctx = SqlContext(company_domains=self.company_domains(), snapshot=snapshot,
                         time_window=self.time_window)
        encoding = self.workspace.settings().encoding_for(path, layout.name)
        try:
            needs_copy = declared_copy_reason(path, encoding)
        except OSError as error:
            raise SourceError(f"cannot read: {error.strerror or error}", where=str(path)) from None
        batch_id = uuid.uuid4().hex[:16]
        staging = self.workspace.new_staging(batch_id)
        staged: tuple[_Staged, list[BadRow]] | None = None
        scan: LineScan | None = None
        source = path
        if needs_copy is None and is_gzip(path):
            # decompressed once, here, and counted on the way: counting the .gz apart would
            # decompress it twice, and DuckDB reads a plain file in parallel, a .gz not
            source = staging / "decompressed.csv"
            self.progress(f"decompressing {path.name}", None)
            scan = decompress_counted(path, source, has_header)
            needs_copy = scan.needs_copy
        if needs_copy is None:
            # the usual case: DuckDB reads the file as it is while it is hashed and counted
            try:
                staged = self._read_csv(path, source, layout, ctx, staging, batch_id,
                                        has_header)
            except SourceError:
                # DuckDB refuses what the careful reader can read (it is stricter about line
                # ends than the quick count can afford to check); that one has the last word
                scan = digest.scan() if source == path else scan
                staging = self.workspace.new_staging(batch_id)
            else:
                scan = digest.scan() if source == path else scan
                assert scan is not None
                if scan.needs_copy is not None or not _adds_up(scan.records, staged[0],
                                                                len(staged[1])):
                    # an empty line or a quoted line break, which the quick count takes for
                    # records, or rows lost: the careful reader decides which
                    staged = None
                    staging = self.workspace.new_staging(batch_id)
        if staged is None:
            copy = staging / "normalised.csv"
            self.progress(f"normalising {path.name}", None)
            scan = normalise(path, copy, has_header, len(layout.columns), encoding)
            staged = self._read_csv(path, copy, layout, ctx, staging, batch_id, has_header)
            copy.unlink()
        (staging / "decompressed.csv").unlink(missing_ok=True)
        assert scan is not None
        result, bad_rows = staged
        bad_rows.extend(scan.bad)
        conflicts = self._settle_conflicts(result, bad_rows)
        sha = digest.result()
        done = self.workspace.find_ingested(sha, size, layout_key)
        if done is not None:  # the same content under another name
            shutil.rmtree(staging, ignore_errors=True)
            return FileResult(str(path), layout_key, "skipped",
                              note=f"same content as batch {done.batch_id}")
        if not _adds_up(scan.records, result, len(bad_rows)):
            shutil.rmtree(staging, ignore_errors=True)
            raise UnaccountedRowsError(_gap(scan.records, result, len(bad_rows)),
                                       where=str(path))
        bad_rows.sort(key=lambda r: (r.line is None, r.line or 0))
        if bad_rows:
            _write_quarantine(staging / "quarantine.parquet", batch_id, str(path.resolve()),
                              layout.name, bad_rows)
        shutil.rmtree(staging / "tmp", ignore_errors=True)
        by_reason = Counter(r.reason for r in bad_rows)
        record = FileRecord(
            batch_id=batch_id, path=str(path.resolve()), size=size, sha256=sha,
            layout=layout_key, target=layout.target, rows_read=scan.records,
            rows_stored=result.stored, rows_quarantined=len(bad_rows),
            rows_duplicate=result.duplicates, min_day=result.min_day, max_day=result.max_day,
            state="committing",
        )
        _fault_point("before_commit")
        superseding = self._commit(Batch(batch_id, staging, record))
        return FileResult(str(path), layout_key, "ingested", record.rows_read, result.stored,
                          result.duplicates, by_reason,
                          note="; ".join([*scan.notes, *conflicts, *superseding]),
                          rows_conflicting=len(result.conflicts))

    def _commit(self, batch: Batch) -> list[str]:
        """Commit a staged batch; return the note to show when it supersedes the quarantine
        of an earlier ingest of the same file (see :meth:`Workspace.superseded_batches`)."""
        self.workspace.commit(batch)
        previous = self.workspace.previous_batch(batch.batch_id)
        if previous is None or not previous.rows_quarantined:
            return []
        return [f"supersedes the quarantine of this file's earlier ingest"
                f" ({previous.rows_quarantined:,} rows, batch {previous.batch_id})"]

    def _settle_conflicts(self, result: _Staged, bad: list[BadRow]) -> list[str]:
        """Report duplicates whose content differs from the row kept; under ``strict`` they
        move from the duplicates to the quarantine. Returns the note to show (or none)."""
        if not result.conflicts:
            return []
        count = len(result.conflicts)
        if self.strict:
            result.duplicates -= count
            bad.extend(result.conflicts)
            return [f"{count:,} repeated event ids with other content than the row kept:"
                    " quarantined (--strict)"]
        return [f"{count:,} repeated event ids with other content than the row kept (the"
                " first is kept; --strict quarantines them)"]

    def _read_csv(self, path: Path, source: Path, layout: FileLayout, ctx: SqlContext,
                  staging: Path, batch_id: str, has_header: bool
                  ) -> tuple[_Staged, list[BadRow]]:
        """Stage the rows of ``source`` (``path`` itself, or its normalised copy, whose line
        numbers are the original's); return what was staged and the rows to quarantine."""
        with self._session(staging, ctx, path, "reading") as session:
            raw = _read_csv_sql(source, type(layout), has_header)
            if layout.target == "events":
                result = self._stage_events(session, layout, ctx, raw, staging, batch_id,
                                            path.name)
            else:
                result = self._stage_table(session, layout, ctx, raw, staging)
            bad_rows = _rejected_rows(session.con, source)
        if result.checked:
            self.progress(f"locating {len(result.checked)} bad rows in {path.name}", None)
            rejected = {r.line + extra for r in bad_rows if r.line is not None
                        for extra in range((r.raw or "").count("\n") + 1)}
            locate(source, result.checked, type(layout).typed_positions(), has_header,
                   rejected)
            bad_rows.extend(result.checked)
        if bad_rows:
            _mark_truncated_last_line(source, bad_rows)
        return result, bad_rows

    def ingest_jsonl(self, paths: Sequence[Path], table: str = "events",
                     source: str = "jsonl") -> IngestSummary:
        """Ingest JSONL files of one canonical table (one of :data:`JSONL_TABLES`)."""
        if table not in JSONL_TABLES:
            raise SourceError(f"unknown table {table!r}; expected one of {', '.join(JSONL_TABLES)}")
        for path in paths:
            check_readable(path)
        summary = IngestSummary()
        for path in paths:
            summary.files.append(self._ingest_jsonl_file(path, table, source))
        if table == "directory" and any(f.status == "ingested" for f in summary.files):
            rebuild_directory(self.workspace)
        return summary

    def _ingest_jsonl_file(self, path: Path, table: str, source: str) -> FileResult:
        layout = f"jsonl.{table}"
        size, sha = file_digest(path, self.progress)
        done = self.workspace.find_ingested(sha, size, layout)
        if done is not None:
            return FileResult(str(path), layout, "skipped",
                              note=f"already ingested as batch {done.batch_id}")
        batch_id = uuid.uuid4().hex[:16]
        staging = self.workspace.new_staging(batch_id)
        chunks_dir = staging / "chunks"
        chunks_dir.mkdir()
        staged = stage_jsonl(path, table, source, chunks_dir,
                             lambda f: self.progress(f"reading {path.name}", f),
                             time_window=self.time_window if table == "events" else None)
        result = _Staged(stored=staged.rows)
        if staged.chunks:
            chunks = f"read_parquet({sql_paths(staged.chunks)})"
            ctx = SqlContext(company_domains=())
            with self._session(staging, ctx, path, "writing") as session:
                if table == "events":
                    target = staging / "events"
                    columns = ", ".join(quote_identifier(c) for c in EVENT_COLUMNS)
                    session.run(
                        f"COPY (SELECT {columns} FROM {chunks}) TO {sql_string(str(target))}"
                        f" ({_PARTITIONED_PARQUET}, FILENAME_PATTERN '{batch_id}_{{i}}')",
                        f"writing {path.name}", self.progress,
                    )
                    result = _publish_events(session.con, self.workspace, target, batch_id,
                                             self.progress, path.name)
                elif table == "documents":
                    result = _stage_documents(session.con, staged.chunks,
                                              staging / "documents.parquet")
                else:
                    name = "hr_events" if table == "hr_events" else "directory_rows"
                    session.con.execute(
                        f"COPY (SELECT * FROM {chunks}) TO"
                        f" {sql_string(str(staging / (name + '.parquet')))}"
                        " (FORMAT parquet, COMPRESSION zstd)"
                    )
        shutil.rmtree(chunks_dir, ignore_errors=True)
        shutil.rmtree(staging / "tmp", ignore_errors=True)
        bad = list(staged.bad)
        conflicts = self._settle_conflicts(result, bad)
        bad.sort(key=lambda r: (r.line is None, r.line or 0))
        # every line is a row or quarantined (a blank line too): count them apart
        read = count_lines(path)
        if not _adds_up(read, result, len(bad)):
            shutil.rmtree(staging, ignore_errors=True)
            raise UnaccountedRowsError(_gap(read, result, len(bad)), where=str(path))
        if bad:
            _write_quarantine(staging / "quarantine.parquet", batch_id, str(path.resolve()), layout,
                              bad)
        record = FileRecord(
            batch_id=batch_id, path=str(path.resolve()), size=size, sha256=sha, layout=layout,
            target=table, rows_read=read,
            rows_stored=result.stored, rows_quarantined=len(bad),
            rows_duplicate=result.duplicates, min_day=result.min_day, max_day=result.max_day,
            state="committing",
        )
        superseding = self._commit(Batch(batch_id, staging, record))
        return FileResult(str(path), layout, "ingested", record.rows_read, result.stored,
                          result.duplicates, Counter(r.reason for r in bad),
                          note="; ".join([*conflicts, *superseding]),
                          rows_conflicting=len(result.conflicts))

    def _stage_events(self, session: _Session, layout: FileLayout, ctx: SqlContext,
                      raw: str, staging: Path, batch_id: str, label: str) -> _Staged:
        target = staging / "events"
        select = event_select(layout, ctx, raw)
        session.read_file(
            f"COPY ({select}) TO {sql_string(str(target))} ({_PARTITIONED_PARQUET},"
            f" FILENAME_PATTERN '{batch_id}_{{i}}')",
            f"reading {label}",
            self.progress,
        )
        _fault_point("after_stage")
        checked: list[BadRow] = []
        bad_dir = target / _BAD_PARTITION
        if bad_dir.exists():
            bad = session.con.execute(
                f"SELECT content, json_extract_string(attrs, '$.reason'),"
                f" json_extract_string(attrs, '$.detail')"
                f" FROM read_parquet({sql_path(bad_dir, '/*.parquet')})"
            ).fetchall()
            checked = [BadRow(key=k or "", reason=r or "invalid row", detail=d or "")
                       for k, r, d in bad]
            shutil.rmtree(bad_dir)
        staged = _publish_events(session.con, self.workspace, target, batch_id, self.progress,
                                 label)
        staged.checked = checked
        return staged

    def _stage_table(self, session: _Session, layout: FileLayout, ctx: SqlContext, raw: str,
                     staging: Path) -> _Staged:
        everything = staging / "all.parquet"
        session.read_file(
            f"COPY ({table_select(layout, ctx, raw)}) TO {sql_string(str(everything))}"
            " (FORMAT parquet)",
            f"reading {layout.name}",
            self.progress,
        )
        source = f"read_parquet({sql_path(everything)})"
        good = staging / f"{layout.target}.parquet"
        session.con.execute(
            f"COPY (SELECT * EXCLUDE (_reason, _detail, _key) FROM {source}"
            f" WHERE _reason IS NULL) TO {sql_string(str(good))} (FORMAT parquet,"
            " COMPRESSION zstd)"
        )
        stored = session.con.execute(f"SELECT count(*) FROM {source} WHERE _reason IS NULL"
                                     ).fetchone()
        bad = session.con.execute(
            f"SELECT _key, _reason, coalesce(_detail, '') FROM {source}"
            " WHERE _reason IS NOT NULL"
        ).fetchall()
        everything.unlink()
        return _Staged(stored=int(stored[0]) if stored else 0,
                       checked=[BadRow(key=k, reason=r, detail=d) for k, r, d in bad])


def _located(row: BadRow) -> BadRow:
    """A flattened record that failed a check, with the location its key carries."""
    if row.line is not None:
        return row
    try:
        line, number, raw = json.loads(row.key)
        row.line, row.raw = (None if line is None else int(line)), str(raw)
        row.detail = f"record {number}: {row.detail}" if row.detail else f"record {number}"
    except (ValueError, TypeError):
        row.raw = row.key
    return row


def _stage_service_events(con: duckdb.DuckDBPyConnection, workspace: Workspace,
                          layout: FileLayout, ctx: SqlContext, flat: str,
                          target: Path) -> tuple[int, int, list[BadRow]]:
    """Write the events of system and service accounts apart; return stored, duplicates and
    the rows that failed a check.

    An event id repeated in the file or already stored keeps its first row, as for people.
    """
    select = event_select(layout, ctx, f"(SELECT * FROM {flat} WHERE _dest = 'service_events')")
    con.execute(f"CREATE TEMP TABLE service_rows AS {select}")
    bad = [BadRow(key=k or "", reason=r or "invalid row", detail=d or "")
           for k, r, d in con.execute(
               "SELECT content, json_extract_string(attrs, '$.reason'),"
               " json_extract_string(attrs, '$.detail') FROM service_rows"
               " WHERE action = '_quarantined'").fetchall()]
    good = con.execute("SELECT count(*) FROM service_rows WHERE action <> '_quarantined'"
                       ).fetchone()
    if not good or not good[0]:
        return 0, 0, bad
    stored_files = workspace.table_files("service_events")
    not_stored = (f"AND event_id NOT IN (SELECT event_id FROM read_parquet("
                  f"{sql_paths(stored_files)}))" if stored_files else "")
    columns = ", ".join(quote_identifier(c) for c in EVENT_COLUMNS)
    con.execute(
        f"COPY (SELECT {columns} FROM service_rows WHERE action <> '_quarantined' {not_stored}"
        " QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts, hash(attrs)) = 1"
        f" ORDER BY ts, event_id) TO {sql_string(str(target))} (FORMAT parquet,"
        " COMPRESSION zstd)")
    kept = con.execute(f"SELECT count(*) FROM read_parquet({sql_path(target)})").fetchone()
    stored = int(kept[0]) if kept else 0
    return stored, int(good[0]) - stored, bad


@dataclass
class _StagedHr:
    """What :func:`_stage_record_hr_events` did with a file's HR records."""

    stored: int = 0
    duplicates: int = 0
    bad: list[BadRow] = field(default_factory=list)
    first: str | None = None  # the first and last day the stored rows concern
    last: str | None = None


def _stage_record_hr_events(con: duckdb.DuckDBPyConnection, workspace: Workspace,
                            layout: FileLayout, ctx: SqlContext, flat: str,
                            target: Path) -> _StagedHr:
    """Write the HR records of a flattened file as ``hr_events`` rows; return how many were
    stored, how many were duplicates, those quarantined and the days they concern.

    ``hr_events`` has no id column: a record layout puts a key derived from the event's
    content in ``record_id`` (and ``attrs.key``), and a key repeated in the file or already
    stored keeps its first row, so that the same input gives the same stored state however
    often, and in however many shapes, it is read. An HR time fails the same checks as an
    event's (:func:`~molehunt.sources.base.time_checks`): a notice dated 2099 or in year 10
    is quarantined, not stored.
    """
    count = con.execute(f"SELECT count(*) FROM {flat} WHERE _dest = 'hr_events'").fetchone()
    if not count or not count[0]:
        return _StagedHr()
    checks = time_checks("hr_ts", ctx)
    con.execute(f"CREATE TEMP TABLE hr_rows AS SELECT *, {check_case(checks, 'reason')} AS"
                f" _reason, {check_case(checks, 'detail')} AS _detail FROM {flat}"
                " WHERE _dest = 'hr_events'")
    bad = [BadRow(key=k or "", reason=r, detail=d or "") for k, r, d in con.execute(
        f"SELECT {layout.key_expression()}, _reason, _detail FROM hr_rows"
        " WHERE _reason IS NOT NULL ORDER BY _record").fetchall()]
    flat = "(SELECT * FROM hr_rows WHERE _reason IS NULL)"
    good = int(count[0]) - len(bad)
    if not good:
        return _StagedHr(bad=bad)
    stored_files = workspace.table_files("hr_events")
    # HR rows of other sources have no key: NOT IN over a NULL would hide every new row
    stored_keys = (f"SELECT key FROM (SELECT CASE WHEN json_valid(attrs) THEN"
                   f" json_extract_string(attrs, '$.key') END AS key FROM"
                   f" read_parquet({sql_paths(stored_files)})) WHERE key IS NOT NULL")
    not_stored = f" AND record_id NOT IN ({stored_keys})" if stored_files else ""
    columns = ", ".join(f"CAST({expr} AS {HR_EVENT_COLUMNS[name]}) AS {quote_identifier(name)}"
                        for name, expr in (("user_id", "user_id"), ("ts", "hr_ts"),
                                           ("kind", "hr_kind"), ("attrs", "hr_attrs")))
    con.execute(f"COPY (SELECT {columns} FROM {flat} WHERE _dest = 'hr_events'{not_stored}"
                " QUALIFY row_number() OVER (PARTITION BY record_id ORDER BY _record) = 1"
                f" ORDER BY _record) TO {sql_string(str(target))} (FORMAT parquet,"
                " COMPRESSION zstd)")
    kept = con.execute(f"SELECT count(*), CAST(min(ts) AS DATE), CAST(max(ts) AS DATE) FROM"
                       f" read_parquet({sql_path(target)})").fetchone()
    stored = int(kept[0]) if kept else 0
    if not stored:
        target.unlink()
    first = kept[1].isoformat() if kept and kept[1] is not None else None
    last = kept[2].isoformat() if kept and kept[2] is not None else None
    return _StagedHr(stored, good - stored, bad, first, last)


def load_people(workspace: Workspace) -> People:
    """The directory's addresses and ids, for the layouts that resolve people
    (:class:`~molehunt.sources.base.People`); empty when no directory is loaded."""
    if not workspace.directory_file.exists():
        return People({}, {})
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT user_id, lower(trim(email)), valid_from, valid_to FROM read_parquet("
            f"{sql_path(workspace.directory_file)}) WHERE user_id IS NOT NULL"
            " ORDER BY user_id, valid_from").fetchall()
    finally:
        con.close()
    by_email: dict[str, list[DirectoryEntry]] = {}
    by_id: dict[str, str] = {}
    for user_id, email, valid_from, valid_to in rows:
        by_id.setdefault(str(user_id).lower(), str(user_id))
        if email:
            by_email.setdefault(str(email), []).append(
                DirectoryEntry(str(user_id), valid_from, valid_to))
    return People({k: tuple(v) for k, v in by_email.items()}, by_id)


def _answers_folder(folder: Path, path: Path) -> Path | None:
    """The folder named ``answers`` (ground truth, never ingested) that ``path`` is in, if any.

    >>> _answers_folder(Path("/d"), Path("/d/answers/r4.2/insiders.csv"))
    PosixPath('/d/answers')
    """
    parents = path.relative_to(folder).parts[:-1]
    for index, part in enumerate(parents):
        if part.lower() == "answers":
            return folder.joinpath(*parents[:index + 1])
    return None


def _simulation_description(path: Path) -> bool:
    """Whether ``path`` is ``molehunt simulate``'s ``company.json``, which sits beside the
    simulation's ``answers/`` and is no input (a JSON file ``ingest auto`` would otherwise
    try to read as a log).

    >>> _simulation_description(Path("/nowhere/company.json"))
    False
    """
    return path.name == "company.json" and (path.parent / "answers").is_dir()


@dataclass
class _Planned:
    """A file ``ingest cert`` will read: a CSV of a CERT layout, or JSONL of ``target``."""

    path: Path
    target: str
    order: int
    layout: type[FileLayout] | None = None
    has_header: bool = False


@dataclass
class _Staged:
    stored: int
    duplicates: int = 0
    min_day: str | None = None
    max_day: str | None = None
    checked: list[BadRow] = field(default_factory=list)
    #: Duplicates (counted in ``duplicates``) whose content differs from the row kept.
    conflicts: list[BadRow] = field(default_factory=list)


def _publish_events(con: duckdb.DuckDBPyConnection, workspace: Workspace, target: Path,
                    batch_id: str, progress: ProgressFn, label: str) -> _Staged:
    """Remove staged events whose ids are repeated or already stored; count what is left.

    ``target`` holds the batch's day partitions. Ids are checked against the whole store (the
    same event can come back with another timestamp); only the id column is read, and the
    optimiser may build its hash table on whichever side is smaller.
    """
    if not target.exists() or not any(target.iterdir()):
        return _Staged(stored=0)
    staged_glob = sql_path(target, "/*/*.parquet")
    staged = f"read_parquet({staged_glob}, hive_partitioning=true, hive_types={{'day': DATE}})"
    existing_files = workspace.event_files()
    progress(f"checking {label} for duplicate event ids", None)
    duplicate_sql = f"SELECT event_id FROM {staged} GROUP BY event_id HAVING count(*) > 1"
    if existing_files:
        existing = f"read_parquet({sql_paths(existing_files)})"
        duplicate_sql += (
            f" UNION SELECT event_id FROM {staged} WHERE event_id IN"
            f" (SELECT event_id FROM {existing})"
        )
    con.execute(f"CREATE TEMP TABLE duplicate_ids AS {duplicate_sql}")
    duplicates = 0
    conflicts: list[BadRow] = []
    dup_count = con.execute("SELECT count(*) FROM duplicate_ids").fetchone()
    if dup_count and dup_count[0]:
        # the rows of repeated ids, kept before the repeats are removed: which carry other
        # content is told after
        staged_rows = "staged_duplicates"
        con.execute(f"CREATE TEMP TABLE {staged_rows} AS SELECT * FROM {staged}"
                    " WHERE event_id IN (SELECT event_id FROM duplicate_ids)")
        affected = [
            str(r[0]) for r in con.execute(
                f"SELECT DISTINCT CAST(day AS VARCHAR) FROM {staged}"
                " WHERE event_id IN (SELECT event_id FROM duplicate_ids)"
            ).fetchall()
        ]
        before = con.execute(
            f"SELECT count(*) FROM {staged} WHERE CAST(day AS VARCHAR) IN"
            f" ({', '.join(sql_string(d) for d in affected)})"
        ).fetchone()
        affected_files = [p for d in affected for p in (target / f"day={d}").glob("*.parquet")]
        rewritten = target.parent / "events_dedup"
        keep_first = (
            "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY day, ts, hash(content),"
            " hash(attrs)) = 1"
        )
        not_stored = ""
        if existing_files:
            not_stored = (
                f"WHERE event_id NOT IN (SELECT event_id FROM read_parquet("
                f"{sql_paths(existing_files)}))"
            )
        columns = ", ".join(quote_identifier(c) for c in EVENT_COLUMNS)
        con.execute(
            f"COPY (SELECT {columns} FROM read_parquet({sql_paths(affected_files)},"
            f" hive_partitioning=true, hive_types={{'day': DATE}}) {not_stored} {keep_first})"
            f" TO {sql_string(str(rewritten))} ({_PARTITIONED_PARQUET},"
            f" FILENAME_PATTERN '{batch_id}_d{{i}}')"
        )
        for day in affected:
            shutil.rmtree(target / f"day={day}")
        if rewritten.exists():
            for day_dir in rewritten.iterdir():
                day_dir.rename(target / day_dir.name)
            shutil.rmtree(rewritten)
        kept_files = _day_files(target, affected)
        after = con.execute(
            f"SELECT count(*) FROM read_parquet({sql_paths(kept_files)})"
        ).fetchone() if kept_files else (0,)
        duplicates = int(before[0] if before else 0) - int(after[0] if after else 0)
        conflicts = _conflicting_duplicates(con, staged_rows, existing_files)
    stats = con.execute(
        f"SELECT count(*), CAST(min(day) AS VARCHAR), CAST(max(day) AS VARCHAR) FROM {staged}"
    ).fetchone() if any(target.iterdir()) else (0, None, None)
    assert stats is not None
    return _Staged(stored=int(stats[0]), duplicates=duplicates, min_day=stats[1],
                   max_day=stats[2], conflicts=conflicts)


def _conflicting_duplicates(con: duckdb.DuckDBPyConnection, staged_rows: str,
                            existing_files: Sequence[Path]) -> list[BadRow]:
    """The repeats of an event id (in ``staged_rows``) that tell of another event than the row
    kept (the stored one, else the file's first by the order duplicates are removed in).

    The same event read twice is a duplicate; an id reused for another event is a conflict
    the operator must hear of (the first row wins either way, or the rows are quarantined
    under ``--strict``). Another event is another time, person, action or object: the rest
    may differ for one event read through two shapes of a log (an audit record from the API
    and from a portal export carries other detail in ``attrs``).
    """
    content = ", ".join(quote_identifier(c) for c in _EVENT_IDENTITY)
    stored = "SELECT NULL::VARCHAR AS event_id, NULL::UBIGINT AS h WHERE false"
    if existing_files:
        stored = (f"SELECT event_id, min(hash({content})) AS h FROM read_parquet("
                  f"{sql_paths(existing_files)}) WHERE event_id IN (SELECT event_id FROM"
                  f" {staged_rows}) GROUP BY event_id")
    rows = con.execute(
        f"WITH s AS (SELECT *, hash({content}) AS _h, row_number() OVER (PARTITION BY event_id"
        f" ORDER BY day, ts, hash(content), hash(attrs)) AS _k FROM {staged_rows}),"
        f" e AS ({stored}),"
        " r AS (SELECT s.*, e.h IS NOT NULL AS _was_stored, coalesce(e.h, first_value(s._h)"
        " OVER (PARTITION BY s.event_id ORDER BY s._k)) AS _ref FROM s LEFT JOIN e"
        " ON s.event_id = e.event_id)"
        " SELECT event_id, _was_stored, CAST(to_json(struct_pack("
        + ", ".join(f"{quote_identifier(c)} := {quote_identifier(c)}" for c in EVENT_COLUMNS)
        + ")) AS VARCHAR) FROM r WHERE (_was_stored OR _k > 1) AND _h <> _ref"
        " ORDER BY event_id, _k"
    ).fetchall()
    return [BadRow(key="", reason="conflicting duplicate event id",
                   detail=f"event id {event_id} is {_KEPT[bool(was_stored)]} with other content",
                   raw=str(raw)) for event_id, was_stored, raw in rows]


_KEPT = {True: "stored", False: "earlier in this file"}
#: The columns that say which event a row tells of (see :func:`_conflicting_duplicates`).
_EVENT_IDENTITY = ("ts", "user_id", "action", "object")


def _stage_documents(con: duckdb.DuckDBPyConnection, chunks: Sequence[Path],
                     target: Path) -> _Staged:
    """Write a file's documents, one row per ``doc_id``: a later line replaces an earlier one.

    The lines replaced are counted as duplicates. Across batches the store keeps the latest
    batch's row (see :mod:`molehunt.store.connect`).
    """
    columns = ", ".join(quote_identifier(c) for c in DOCUMENT_COLUMNS)
    # chunk files are named in line order, and rows keep their order within a chunk
    con.execute(
        f"COPY (SELECT {columns} FROM read_parquet({sql_paths(chunks)}, filename=true,"
        " file_row_number=true) QUALIFY row_number() OVER (PARTITION BY doc_id"
        " ORDER BY filename DESC, file_row_number DESC) = 1 ORDER BY doc_id)"
        f" TO {sql_string(str(target))} (FORMAT parquet, COMPRESSION zstd)"
    )
    read = con.execute(f"SELECT count(*) FROM read_parquet({sql_paths(chunks)})").fetchone()
    kept = con.execute(f"SELECT count(*) FROM read_parquet({sql_path(target)})").fetchone()
    stored = int(kept[0]) if kept else 0
    return _Staged(stored=stored, duplicates=(int(read[0]) if read else 0) - stored)


def _day_files(target: Path, days: Iterable[str]) -> list[Path]:
    return [p for d in days for p in (target / f"day={d}").glob("*.parquet")]


def summary_table_rows(summary: IngestSummary) -> list[tuple[str, str, str, int, int, int, int]]:
    """Rows (file, layout, status, read, stored, duplicates, quarantined) for display."""
    return [
        (Path(f.path).name, f.layout, f.status, f.rows_read, f.rows_stored, f.rows_duplicate,
         f.rows_quarantined)
        for f in summary.files
    ]


def format_reasons(counter: Counter[str]) -> str:
    """``reason: n`` pairs, most common first.

    >>> format_reasons(Counter({"empty user id": 2, "invalid UTF-8": 5}))
    'invalid UTF-8: 5, empty user id: 2'
    """
    return ", ".join(f"{reason}: {n}" for reason, n in counter.most_common())
