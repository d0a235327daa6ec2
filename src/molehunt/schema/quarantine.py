"""The quarantine: every input row that could not become a stored row, and why.

Nothing is dropped silently: a row is either stored or lands here with its file, line number
(1-based, physical line, the header being line 1) and raw text.
"""

from __future__ import annotations

from types import MappingProxyType

QUARANTINE_COLUMNS: MappingProxyType[str, str] = MappingProxyType(
    {
        "batch_id": "VARCHAR",
        "file": "VARCHAR",
        "line": "BIGINT",
        "layout": "VARCHAR",
        "reason": "VARCHAR",
        "detail": "VARCHAR",
        "raw": "VARCHAR",
    }
)
