"""The directory: the history of who is who in the organisation.

A row is valid from ``valid_from`` (inclusive) to ``valid_to`` (exclusive; null while current).
A person whose last row has a ``valid_to`` has left the organisation on that date.
"""

from __future__ import annotations

from types import MappingProxyType

DIRECTORY_COLUMNS: MappingProxyType[str, str] = MappingProxyType(
    {
        "user_id": "VARCHAR",
        "name": "VARCHAR",
        "email": "VARCHAR",
        "role": "VARCHAR",
        "projects": "VARCHAR",
        "business_unit": "VARCHAR",
        "functional_unit": "VARCHAR",
        "department": "VARCHAR",
        "team": "VARCHAR",
        "supervisor_id": "VARCHAR",
        "valid_from": "DATE",
        "valid_to": "DATE",
    }
)

#: One monthly LDAP snapshot row as stored (CERT layout plus the snapshot's month).
LDAP_SNAPSHOT_COLUMNS: MappingProxyType[str, str] = MappingProxyType(
    {
        "snapshot": "DATE",
        "employee_name": "VARCHAR",
        "user_id": "VARCHAR",
        "email": "VARCHAR",
        "role": "VARCHAR",
        "projects": "VARCHAR",
        "business_unit": "VARCHAR",
        "functional_unit": "VARCHAR",
        "department": "VARCHAR",
        "team": "VARCHAR",
        "supervisor": "VARCHAR",
    }
)
