"""Building SQL text safely: literals, identifiers and exact file paths for DuckDB."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence


def quote_identifier(name: str) -> str:
    """Quote a SQL identifier.

    >>> quote_identifier('to')
    '"to"'
    """
    return '"' + name.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    """A SQL string literal.

    >>> sql_string("O'Brien")
    "'O''Brien'"
    """
    return "'" + value.replace("'", "''") + "'"


def sql_path(path: object, pattern: str = "") -> str:
    """A file path as a SQL literal that DuckDB reads as that exact path, not as a pattern.

    ``pattern`` (e.g. ``*/*.parquet``) is appended unescaped.

    >>> sql_path("/data/logon?.csv")
    "'/data/logon[?].csv'"
    """
    literal = re.sub(r"([*?\[])", r"[\1]", str(path))
    return sql_string(literal + pattern)


def sql_paths(paths: Iterable[object]) -> str:
    """A SQL list of exact file paths (see :func:`sql_path`)."""
    return "[" + ", ".join(sql_path(p) for p in paths) + "]"


def sql_list(values: Sequence[str]) -> str:
    """A SQL list literal of strings (typed even when empty).

    >>> sql_list(["a", "b"])
    "['a', 'b']::VARCHAR[]"
    """
    return "[" + ", ".join(sql_string(v) for v in values) + "]::VARCHAR[]"


def empty_select(columns: Mapping[str, str]) -> str:
    """A SELECT of no rows with the given columns and SQL types.

    >>> empty_select({"user_id": "VARCHAR"})
    'SELECT CAST(NULL AS VARCHAR) AS "user_id" WHERE false'
    """
    typed = ", ".join(f"CAST(NULL AS {t}) AS {quote_identifier(c)}" for c, t in columns.items())
    return f"SELECT {typed} WHERE false"
