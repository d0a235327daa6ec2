"""Pieces shared by the CERT Insider Threat Test Dataset layouts (releases r4.x–r6.x)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from molehunt.sources.base import Check
from molehunt.sql import sql_string

#: Columns every CERT event file starts with.
COMMON_COLUMNS: Mapping[str, str] = {
    "id": "VARCHAR",
    "date": "TIMESTAMP",
    "user": "VARCHAR",
    "pc": "VARCHAR",
}

#: Event columns with no CERT counterpart.
EMPTY_COLUMNS: Mapping[str, str] = {
    "doc_id": "NULL",
    "sensitivity": "NULL",
}


def common_mapping(source: str) -> dict[str, str]:
    """Mapping of the columns every CERT event file has."""
    return {
        "event_id": "trim(id)",
        "ts": "date",
        "day": "CAST(date AS DATE)",
        "user_id": 'trim("user")',
        "host": "trim(pc)",
        "source": sql_string(source),
        **EMPTY_COLUMNS,
    }


def common_checks() -> list[Check]:
    """Checks every CERT event row must pass."""
    return [
        Check("coalesce(trim(id), '') = ''", "empty event id"),
        Check("date IS NULL", "missing date"),
        Check("coalesce(trim(\"user\"), '') = ''", "empty user id"),
    ]


def activity_check(column: str, allowed: Sequence[str]) -> Check:
    """Quarantine rows whose activity is not one of ``allowed`` (compared case-insensitively)."""
    lowered = [a.lower() for a in allowed]
    return Check(
        f"lower(trim({column})) NOT IN ({', '.join(sql_string(a) for a in lowered)})"
        f" OR {column} IS NULL",
        "unknown activity",
        f"'activity ' || coalesce('\"' || {column} || '\"', 'missing') || ', expected one of "
        f"{', '.join(allowed)}'",
    )


def boolean_text(column: str) -> str:
    """SQL turning CERT's True/False text into a boolean (NULL when neither)."""
    return (
        f"CASE lower(trim({column})) WHEN 'true' THEN true WHEN 'false' THEN false END"
    )


def boolean_check(column: str) -> Check:
    """Quarantine rows whose True/False column holds anything else."""
    return Check(
        f"{column} IS NOT NULL AND {boolean_text(column)} IS NULL",
        f"unparseable {column}",
        f"'{column} is \"' || {column} || '\", expected True or False'",
    )
