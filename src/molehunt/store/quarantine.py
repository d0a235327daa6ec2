"""Reading the quarantine: counts per file and reason, the rows themselves, exports.

The quarantine is one Parquet file per committed batch under ``<workspace>/quarantine/``
(columns :data:`molehunt.schema.QUARANTINE_COLUMNS`). A batch's rows are superseded when the
same file is ingested again later (see :meth:`Workspace.superseded_batches`); they are then
left out unless asked for.

Exports to CSV are safe to open in a spreadsheet: a text cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is prefixed with ``'``
(:func:`molehunt.safe_text.formula_safe`, shared by every CSV writer), so that a hostile log
line cannot become a formula.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from molehunt.errors import ConfigError, StoreError
from molehunt.safe_text import formula_safe
from molehunt.schema import QUARANTINE_COLUMNS
from molehunt.sql import empty_select, sql_path, sql_string
from molehunt.store.workspace import Workspace

#: Columns in the order they are shown and exported.
EXPORT_COLUMNS: tuple[str, ...] = ("file", "line", "layout", "reason", "detail", "raw",
                                   "batch_id")
#: Export formats by file extension.
EXPORT_FORMATS: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FETCH_ROWS = 10_000


def printable(text: str) -> str:
    """``text`` with control characters (escape sequences of a hostile log line, line
    breaks) shown as ``\\xNN`` or ``\\uNNNN``, so it is safe to print on a terminal.

    >>> printable("ok\\x1b[31m red\\n")
    'ok\\\\x1b[31m red\\\\x0a'
    """
    return "".join(
        ch if ch.isprintable() or ch == " " else
        (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        for ch in text
    )


@dataclass(frozen=True)
class QuarantineFilter:
    """Which quarantine rows to read.

    ``file``: the file's path as stored (absolute), the same path given relative to the current
    folder, or its last components (``logon.csv``, ``r42/logon.csv``). ``reason``: a reason or
    the start of one, any case (``truncated last line`` matches each of its variants).
    ``include_superseded``: also the rows of batches a later batch of the same file replaced.
    """

    file: str | None = None
    reason: str | None = None
    include_superseded: bool = False

    def where(self) -> str:
        """The SQL condition (values quoted as literals), or "" when all rows are wanted."""
        conditions: list[str] = []
        if self.file:
            given = self.file.rstrip("/")
            conditions.append(
                f"(file = {sql_string(given)} OR file = {sql_string(str(Path(given).resolve()))}"
                f" OR ends_with(file, {sql_string('/' + given.lstrip('/'))}))")
        if self.reason:
            conditions.append(f"starts_with(lower(reason), {sql_string(self.reason.lower())})")
        return (" WHERE " + " AND ".join(conditions)) if conditions else ""


@dataclass(frozen=True)
class QuarantineCount:
    """Quarantined rows of one file for one reason."""

    file: str
    reason: str
    rows: int


class QuarantineReader:
    """Queries over a workspace's quarantine (DuckDB over its Parquet files)."""

    def __init__(self, workspace: Workspace, selection: QuarantineFilter) -> None:
        if not workspace.exists():
            raise StoreError("no workspace here; run `molehunt ingest` first",
                             where=str(workspace.root))
        self.selection = selection
        files = workspace.table_files("quarantine", selection.include_superseded)
        self.con = duckdb.connect()
        if files:
            listing = "[" + ", ".join(sql_path(p) for p in files) + "]"
            columns = ", ".join(QUARANTINE_COLUMNS)
            source = f"SELECT {columns} FROM read_parquet({listing}, union_by_name=true)"
        else:
            source = empty_select(dict(QUARANTINE_COLUMNS))
        self.con.execute(f"CREATE TEMP VIEW q AS SELECT * FROM ({source}){selection.where()}")

    def __enter__(self) -> QuarantineReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.con.close()

    def total(self) -> int:
        """Rows selected."""
        row = self.con.execute("SELECT count(*) FROM q").fetchone()
        return int(row[0]) if row else 0

    def counts(self) -> list[QuarantineCount]:
        """Rows per file and reason, by file then reason."""
        rows = self.con.execute("SELECT file, reason, count(*) FROM q GROUP BY ALL"
                                " ORDER BY file, reason").fetchall()
        return [QuarantineCount(str(f), str(r), int(n)) for f, r, n in rows]

    def rows(self, limit: int | None = None, offset: int = 0) -> Iterator[dict[str, Any]]:
        """The rows (columns :data:`EXPORT_COLUMNS`) by file and line, streamed."""
        sql = (f"SELECT {', '.join(EXPORT_COLUMNS)} FROM q ORDER BY file, line NULLS LAST,"
               " reason, detail, raw, batch_id")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if offset:
            sql += f" OFFSET {int(offset)}"
        cursor = self.con.execute(sql)
        while chunk := cursor.fetchmany(_FETCH_ROWS):
            for values in chunk:
                yield dict(zip(EXPORT_COLUMNS, values, strict=True))


def export_format(out: Path, fmt: str | None) -> str:
    """The export format: ``fmt`` (csv or jsonl) else the file's extension."""
    if fmt is not None:
        if fmt.lower() not in ("csv", "jsonl"):
            raise ConfigError(f"--format {fmt!r}: expected csv or jsonl")
        return fmt.lower()
    found = EXPORT_FORMATS.get(out.suffix.lower())
    if found is None:
        raise ConfigError(f"cannot tell the format of {out.name!r}: name it .csv or .jsonl,"
                          " or give --format")
    return found


def export_quarantine(reader: QuarantineReader, out: Path, fmt: str) -> int:
    """Write the selected rows to ``out`` as CSV (formula-safe, with a header) or JSONL;
    return how many. The file appears complete or not at all (written aside, then renamed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    written = 0
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            if fmt == "csv":
                writer = csv.writer(handle)
                writer.writerow(EXPORT_COLUMNS)
                for row in reader.rows():
                    writer.writerow([formula_safe(v) if isinstance(v, str) else
                                     ("" if v is None else v) for v in row.values()])
                    written += 1
            else:
                for row in reader.rows():
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                    written += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


__all__ = [
    "EXPORT_COLUMNS",
    "QuarantineCount",
    "QuarantineFilter",
    "QuarantineReader",
    "export_format",
    "export_quarantine",
    "formula_safe",
    "printable",
]
