"""JSONL in molehunt's canonical schemas: the format for every source without a reader of its own.

One JSON object per line. For ``events`` the keys are the event schema's columns
(DESIGN.md §4); ``user_id``, ``ts`` and ``action`` are required, ``day`` is derived from ``ts``,
``event_id`` defaults to a hash of the source and the raw line, and keys outside the schema are
kept in ``attrs``. ``hr_events``, ``directory`` and ``documents`` lines carry those tables'
columns (a ``documents`` line needs ``doc_id`` and ``path``; other keys go to ``attrs``).

Timestamps are ISO 8601; those with an offset are converted to naive UTC.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from molehunt.schema import (
    CHANNELS,
    DIRECTORY_COLUMNS,
    DOCUMENT_COLUMNS,
    EVENT_COLUMNS,
    HR_EVENT_COLUMNS,
    HR_EVENT_KINDS,
)
from molehunt.sources._files import open_binary
from molehunt.sources._locate import BadRow

#: Tables a JSONL file can fill.
JSONL_TABLES = ("events", "hr_events", "directory", "documents")

_ACTION = re.compile(r"^[a-z][a-z0-9_]*$")
_CHUNK_ROWS = 50_000
_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "TINYINT": pa.int8(),
}


class RowError(ValueError):
    """A line that cannot become a row: ``reason`` is short and stable, the message explains."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def arrow_schema(columns: dict[str, str]) -> pa.Schema:
    """The Arrow schema of a table given as column → SQL type."""
    return pa.schema([(name, _ARROW_TYPES[sql]) for name, sql in columns.items()])


def parse_timestamp(value: object, field: str = "ts") -> datetime:
    """An ISO 8601 timestamp as naive UTC.

    >>> parse_timestamp("2010-01-02T06:55:16+02:00")
    datetime.datetime(2010, 1, 2, 4, 55, 16)
    """
    if not isinstance(value, str):
        raise RowError(f"invalid {field}", f"{field} must be an ISO 8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RowError(f"unparseable {field}", f"{field} {value!r} is not ISO 8601") from None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except (OverflowError, ValueError):
            raise RowError(f"unparseable {field}", f"{field} {value!r} is out of range") from None
    return parsed


def _parse_date(value: object, field: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(f"invalid {field}", f"{field} must be a YYYY-MM-DD string")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise RowError(f"unparseable {field}", f"{field} {value!r} is not a date") from None


def _text(record: dict[str, Any], field: str, required: bool = False) -> str | None:
    value = record.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"empty {field.replace('_', ' ')}", f"{field} is required")
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    if not isinstance(value, str):
        raise RowError(f"invalid {field}", f"{field} must be a string, got {value!r}")
    return value


def _integer(record: dict[str, Any], field: str, low: int, high: int | None = None) -> int | None:
    value = record.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(f"invalid {field}", f"{field} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise RowError(f"invalid {field}", f"{field} must be {bound}, got {value}")
    return value


def _attrs(record: dict[str, Any], known: set[str]) -> str | None:
    attrs = record.get("attrs")
    extra = {k: v for k, v in record.items() if k not in known}
    if attrs is None and not extra:
        return None
    if isinstance(attrs, str):
        if extra:
            extra["attrs"] = attrs
            return orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode()
        return attrs
    if attrs is not None and not isinstance(attrs, dict):
        raise RowError("invalid attrs", "attrs must be an object or a string")
    merged = {**extra, **(attrs or {})}
    return orjson.dumps(merged, option=orjson.OPT_SORT_KEYS).decode()


def event_row(record: dict[str, Any], raw: bytes, default_source: str) -> dict[str, Any]:
    """Validate one decoded JSON object as an event; return its stored columns.

    >>> row = event_row({"user_id": "u1", "ts": "2010-01-02T03:04:05", "action": "print",
    ...                  "channel": "printer", "bytes": 10}, b"{}", "badge")
    >>> row["day"], row["source"], row["channel"], len(row["event_id"])
    (datetime.date(2010, 1, 2), 'badge', 'printer', 32)
    """
    ts = parse_timestamp(record.get("ts"))
    user_id = _text(record, "user_id", required=True)
    action = _text(record, "action", required=True)
    assert action is not None
    if not _ACTION.match(action):
        raise RowError("invalid action", f"action {action!r} is not snake_case")
    channel = _text(record, "channel")
    if channel is not None and channel not in CHANNELS:
        raise RowError("unknown channel", f"channel {channel!r}, expected one of "
                       f"{', '.join(sorted(CHANNELS))}")
    source = _text(record, "source") or default_source
    event_id = _text(record, "event_id")
    if event_id is None:
        event_id = hashlib.sha256(source.encode() + b"\x00" + raw.rstrip(b"\r\n")).hexdigest()[:32]
    domain = _text(record, "domain")
    return {
        "event_id": event_id,
        "ts": ts,
        "day": ts.date(),
        "user_id": user_id,
        "host": _text(record, "host"),
        "source": source,
        "action": action,
        "channel": channel,
        "object": _text(record, "object"),
        "target": _text(record, "target"),
        "domain": domain.strip().lower() if domain else None,
        "bytes": _integer(record, "bytes", 0, 2**63 - 1),
        "n_attachments": _integer(record, "n_attachments", 0, 2**31 - 1),
        "content": _text(record, "content"),
        "doc_id": _text(record, "doc_id"),
        "sensitivity": _integer(record, "sensitivity", 0, 4),
        "attrs": _attrs(record, set(EVENT_COLUMNS)),
    }


def hr_event_row(record: dict[str, Any], raw: bytes, default_source: str) -> dict[str, Any]:
    """Validate one decoded JSON object as an HR event."""
    kind = _text(record, "kind", required=True)
    if kind not in HR_EVENT_KINDS:
        raise RowError("unknown kind", f"kind {kind!r}, expected one of "
                       f"{', '.join(sorted(HR_EVENT_KINDS))}")
    return {
        "user_id": _text(record, "user_id", required=True),
        "ts": parse_timestamp(record.get("ts")),
        "kind": kind,
        "attrs": _attrs(record, set(HR_EVENT_COLUMNS)),
    }


def directory_row(record: dict[str, Any], raw: bytes, default_source: str) -> dict[str, Any]:
    """Validate one decoded JSON object as a directory row."""
    row: dict[str, Any] = {
        c: _text(record, c) for c, t in DIRECTORY_COLUMNS.items() if t == "VARCHAR"
    }
    if not row["user_id"]:
        raise RowError("empty user id", "user_id is required")
    row["valid_from"] = _parse_date(record.get("valid_from"), "valid_from")
    row["valid_to"] = _parse_date(record.get("valid_to"), "valid_to")
    if row["valid_from"] is None:
        raise RowError("invalid valid_from", "valid_from is required")
    if row["valid_to"] is not None and row["valid_to"] <= row["valid_from"]:
        raise RowError("invalid valid_to", "valid_to must be after valid_from")
    return row


def document_row(record: dict[str, Any], raw: bytes, default_source: str) -> dict[str, Any]:
    """Validate one decoded JSON object as a document; return its stored columns.

    >>> row = document_row({"doc_id": "D1", "path": "/p/a.docx", "sensitivity": 3,
    ...                     "created": "2010-01-04", "text": "plan", "reviewer": "u2"}, b"", "")
    >>> row["sensitivity"], row["created"], row["attrs"]
    (3, datetime.date(2010, 1, 4), '{"reviewer":"u2"}')
    """
    row: dict[str, Any] = {
        c: _text(record, c, required=c in ("doc_id", "path"))
        for c, t in DOCUMENT_COLUMNS.items() if t == "VARCHAR" and c not in ("text", "attrs")
    }
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise RowError("invalid text", f"text must be a string, got {type(text).__name__}")
    row["text"] = text
    row["sensitivity"] = _integer(record, "sensitivity", 0, 4)
    row["created"] = _parse_date(record.get("created"), "created")
    row["attrs"] = _attrs(record, set(DOCUMENT_COLUMNS))
    return {c: row[c] for c in DOCUMENT_COLUMNS}


ROW_PARSERS: dict[str, Callable[[dict[str, Any], bytes, str], dict[str, Any]]] = {
    "events": event_row,
    "hr_events": hr_event_row,
    "directory": directory_row,
    "documents": document_row,
}
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "events": dict(EVENT_COLUMNS),
    "hr_events": dict(HR_EVENT_COLUMNS),
    "directory": dict(DIRECTORY_COLUMNS),
    "documents": dict(DOCUMENT_COLUMNS),
}


@dataclass
class JsonlStaged:
    """Chunks of valid rows written to staging, and the lines that were quarantined."""

    chunks: list[Path]
    rows: int
    bad: list[BadRow]


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, raw bytes, is last and unterminated) for each line of the file."""
    with open_binary(path) as handle:
        number = 0
        for number, line in enumerate(handle, start=1):
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]  # a UTF-8 byte-order mark is not part of the first object
            yield number, line, not line.endswith(b"\n")


class ParquetChunks:
    """Rows of one schema, buffered and written as numbered Parquet chunks under a folder
    (``paths``), so a file of any size is staged in bounded memory."""

    def __init__(self, folder: Path, schema: pa.Schema, rows_per_chunk: int) -> None:
        self.folder, self.schema, self.rows_per_chunk = folder, schema, rows_per_chunk
        self.paths: list[Path] = []
        self._buffer: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> bool:
        """Buffer one row; True when that filled a chunk and it was written."""
        self._buffer.append(row)
        if len(self._buffer) < self.rows_per_chunk:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        """Write what is buffered as the next chunk (nothing when the buffer is empty)."""
        if self._buffer:
            chunk = self.folder / f"chunk_{len(self.paths):05d}.parquet"
            pq.write_table(pa.Table.from_pylist(self._buffer, schema=self.schema), chunk,
                           compression="zstd", compression_level=1)
            self.paths.append(chunk)
            self._buffer.clear()


def stage_jsonl(path: Path, table: str, default_source: str, staging: Path,
                progress: Callable[[float], None],
                time_window: tuple[str, str] | None = None) -> JsonlStaged:
    """Parse a JSONL file line by line into Parquet chunks under ``staging``.

    Rows whose ``ts`` falls outside ``time_window`` (``YYYY-MM-DD HH:MM:SS`` text, as
    :class:`~molehunt.sources.base.SqlContext` carries it) are quarantined as implausible.
    """
    parse_row = ROW_PARSERS[table]
    earliest, latest = ((datetime.fromisoformat(t) for t in time_window) if time_window
                        else (datetime.min, datetime.max))
    chunks = ParquetChunks(staging, arrow_schema(TABLE_COLUMNS[table]), _CHUNK_ROWS)
    size = path.stat().st_size or 1
    bad: list[BadRow] = []
    rows = 0
    done = 0
    for number, raw, unterminated in _lines(path):
        done += len(raw)
        try:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise RowError("invalid UTF-8", f"byte {error.start}: {error.reason}") from None
            if not text.strip():
                raise RowError("blank line", "a line must hold one JSON object")
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                raise RowError("invalid JSON", str(error)) from None
            if not isinstance(record, dict):
                raise RowError("not a JSON object", f"got {type(record).__name__}")
            row = parse_row(record, raw, default_source)
            if time_window is not None and not earliest <= row["ts"] <= latest:
                raise RowError("implausible time", f"time {row['ts']} is outside the plausible"
                               f" window {earliest} to {latest}")
            if chunks.add(row):
                progress(done / size)
            rows += 1
        except RowError as error:
            reason = f"truncated last line ({error.reason})" if unterminated else error.reason
            bad.append(BadRow(key="", reason=reason, detail=str(error), line=number,
                              raw=raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")))
    chunks.flush()
    progress(1.0)
    return JsonlStaged(chunks=chunks.paths, rows=rows, bad=bad)
