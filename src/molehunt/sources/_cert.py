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


#: The public CERT Insider Threat Test Dataset releases molehunt reads as their documentation
#: describes them (r4.1 and r4.2 share one layout per file, and so on).
PUBLIC_RELEASES = ("r4.1", "r4.2", "r5.1", "r5.2", "r6.1", "r6.2")

#: The layout of each file of a release family, by file stem (``LDAP`` for the snapshots),
#: from the releases' readme files: r5 brought device file trees, file activities with their
#: removable-media direction, LDAP projects and e-mail ``Send``/``Receive``; r6 web
#: ``WWW Visit``/``Upload``/``Download``, e-mail ``Send``/``View`` and the decoy list.
RELEASE_LAYOUTS: Mapping[str, Mapping[str, str]] = {
    "r4": {"LDAP": "cert.ldap.r4", "psychometric": "cert.psychometric", "logon": "cert.logon",
           "device": "cert.device.r4", "file": "cert.file.r4", "email": "cert.email.r4",
           "http": "cert.http.r4"},
    "r5": {"LDAP": "cert.ldap.r5", "psychometric": "cert.psychometric", "logon": "cert.logon",
           "device": "cert.device.r6", "file": "cert.file.r6", "email": "cert.email.r5",
           "http": "cert.http.r4"},
    "r6": {"LDAP": "cert.ldap.r5", "psychometric": "cert.psychometric", "logon": "cert.logon",
           "device": "cert.device.r6", "file": "cert.file.r6", "email": "cert.email.r6",
           "http": "cert.http.r6", "decoy_file": "cert.decoy"},
}


def release_family(release: str) -> str:
    """The family of a release, whose layouts it has.

    >>> release_family("r5.2")
    'r5'
    """
    family = release.split(".", 1)[0]
    if family not in RELEASE_LAYOUTS:
        raise ValueError(f"unknown CERT release {release!r}; expected one of"
                         f" {', '.join(PUBLIC_RELEASES)}")
    return family


def release_observations(release: str) -> frozenset[str]:
    """What a deployment with every file of a release can see (the layouts' ``observes``)."""
    from molehunt.sources.base import load_sources

    registry = load_sources()
    return frozenset().union(*(registry[name].observes
                               for name in RELEASE_LAYOUTS[release_family(release)].values()))
