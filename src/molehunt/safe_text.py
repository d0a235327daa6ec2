"""Log strings made safe for the places people open them: spreadsheet cells and web pages.

Every string molehunt writes out came, in the end, from a log an insider may have shaped.

- **Spreadsheets.** A CSV cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return is taken for a formula by Excel, LibreOffice and Google Sheets (``=cmd|' /C calc'!A0``,
  ``=HYPERLINK(...)``). Every CSV writer of molehunt passes text cells through
  :func:`formula_safe` (or :func:`formula_safe_column` for Arrow columns), which puts a single
  quote in front, as OWASP recommends: the cell then shows the text, quote hidden, and never
  evaluates. Numbers are written as numbers (a negative number is not text and is left alone).
- **Pages.** Bidirectional control characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F)
  reorder what follows them on screen, so ``invoice_\\u202excod.exe`` reads as
  ``invoice_exe.docx``. :func:`bidi_safe` shows each as a visible ``[U+202E]`` mark instead; the
  console applies it to every value a template renders.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

#: What a spreadsheet may take for the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = "^[=+\\-@\t\r]"
#: Characters that change the display order of the text after them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_BIDI_TABLE = {ord(ch): f"[U+{ord(ch):04X}]" for ch in BIDI_CONTROLS}


def formula_safe(value: str) -> str:
    """``value`` with ``'`` in front when a spreadsheet could take it for a formula.

    >>> [formula_safe(v) for v in ("=HYPERLINK(1)", "-2", "@x", "\\tx", "plain", "")]
    ["'=HYPERLINK(1)", "'-2", "'@x", "'\\tx", 'plain', '']
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def formula_safe_column(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """An Arrow column with :func:`formula_safe` applied to every text cell (vectorised);
    columns of any other type are returned unchanged.

    >>> formula_safe_column(pa.array(["=1+1", "ok", None])).to_pylist()
    ["'=1+1", 'ok', None]
    >>> formula_safe_column(pa.array([-1.5])).to_pylist()
    [-1.5]
    """
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    risky = pc.match_substring_regex(column, _FORMULA_PATTERN)
    quoted = pc.binary_join_element_wise("'", column, "")
    return pc.if_else(risky, quoted, column)


def bidi_safe(text: str) -> str:
    """``text`` with every bidirectional control character shown as ``[U+XXXX]``.

    >>> bidi_safe("report_\\u202efdp.exe")
    'report_[U+202E]fdp.exe'
    """
    return text.translate(_BIDI_TABLE)


__all__ = ["BIDI_CONTROLS", "FORMULA_STARTS", "bidi_safe", "formula_safe",
           "formula_safe_column"]
