"""Find the line numbers of rows that the SQL checks rejected.

DuckDB's CSV reader reports line numbers only for the rows *it* rejects. Rows that parse but
fail a layout check (an empty user id, an unknown activity) are found again here by one
streaming pass over the file that compares each candidate line's fields with the row's key.
The pass runs only when such rows exist and only parses lines whose first field matches.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from molehunt.sources._files import open_binary
from molehunt.sources.base import TYPED_PRESENT


@dataclass
class BadRow:
    """A row that parsed but failed a check; ``line`` and ``raw`` are filled in by locating."""

    key: str  # the row's fields as a JSON list (see FileLayout.key_expression)
    reason: str
    detail: str
    line: int | None = None
    raw: str | None = None


def locate(path: Path, rows: Sequence[BadRow], typed_positions: set[int],
           has_header: bool, rejected: Collection[int] = ()) -> None:
    """Fill in ``line`` and ``raw`` of ``rows`` by scanning ``path`` once.

    ``typed_positions`` are field indexes parsed as non-text types; their key parts only say
    whether the field is empty, so a line the CSV reader ``rejected`` (an unparseable date) can
    have the key of a row that parsed: such lines hold no row and are never a row's line.
    """
    pending: dict[str, list[tuple[list[str], BadRow]]] = defaultdict(list)
    for row in rows:
        fields = _key_fields(row.key)
        pending[fields[0] if fields else ""].append((fields, row))
    remaining = len(rows)
    with open_binary(path) as handle:
        for number, line in enumerate(handle, start=1):
            if (number == 1 and has_header) or number in rejected:
                continue
            first = line.split(b",", 1)[0].rstrip(b"\r\n")
            if first.startswith(b'"'):
                first = first.strip(b'"').replace(b'""', b'"')
            candidates = pending.get(first.decode("utf-8", "replace"))
            if not candidates:
                continue
            text = line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
            fields = next(csv.reader([text]), [])
            key = [(TYPED_PRESENT if f else "") if i in typed_positions else f
                   for i, f in enumerate(fields)]
            for wanted, row in candidates:
                if row.line is None and wanted == key:
                    row.line, row.raw = number, text
                    remaining -= 1
                    break
            if remaining == 0:
                return
    for row in rows:  # not found again (e.g. a quoted field spanning lines): keep the fields
        if row.raw is None:
            row.raw = ",".join(_key_fields(row.key)).replace(TYPED_PRESENT, "?")


def _key_fields(key: str) -> list[str]:
    try:
        fields = json.loads(key)
    except ValueError:
        return []
    return [str(f) for f in fields] if isinstance(fields, list) else []
