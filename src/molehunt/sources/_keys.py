"""Reading records whose field names come in any case.

A vendor writes its field names in one case (Okta's ``eventType``, Microsoft's
``CreationTime``), but the same records reach a security team in others once a data lake or
SIEM has copied them: Panther, Athena/Glue and Snowflake lower-case every column name
(``eventtype``, ``creationtime``), and Microsoft's own exports mix ``UserId`` and ``userId``.
The record layouts therefore look their fields up by lower-cased name, each object's keys
lower-cased by :func:`lower_keys` as it is read.
"""

from __future__ import annotations

from typing import Any


def lower_keys(value: object) -> dict[str, Any]:
    """An object's entries with lower-cased keys (one level: nested objects are lowered when
    they are read); an empty mapping for anything that is not an object.

    When two keys differ only in case, the later one wins, as it would in a JSON parser that
    reads keys case-insensitively.

    >>> lower_keys({"eventType": "user.session.start", "Actor": {"alternateId": "al"}})
    {'eventtype': 'user.session.start', 'actor': {'alternateId': 'al'}}
    >>> lower_keys(["not", "an", "object"]), lower_keys(None)
    ({}, {})
    """
    if not isinstance(value, dict):
        return {}
    return {str(key).lower(): item for key, item in value.items()}


__all__ = ["lower_keys"]
