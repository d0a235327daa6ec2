"""CERT ``LDAP/YYYY-MM.csv``: monthly snapshots of the organisation.

``employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor``;
r5.x and later add ``projects`` after ``role``. ``supervisor`` is the supervisor's *name*; the
directory history maps it to a user id within the same snapshot. The month a snapshot
describes comes from its file name (``2010-05.csv``), the only place CERT records it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from molehunt.sources.base import Check, FileLayout, SqlContext
from molehunt.sql import sql_string

_COMMON = {
    "employee_name": "VARCHAR",
    "user_id": "VARCHAR",
    "email": "VARCHAR",
    "role": "VARCHAR",
}
_UNITS = {
    "business_unit": "VARCHAR",
    "functional_unit": "VARCHAR",
    "department": "VARCHAR",
    "team": "VARCHAR",
    "supervisor": "VARCHAR",
}


class CertLdapR4(FileLayout):
    """A CERT LDAP snapshot without projects (r4.x)."""

    name = "cert.ldap.r4"
    observes = frozenset({"directory"})
    target = "ldap"
    columns: ClassVar[Mapping[str, str]] = {**_COMMON, **_UNITS}
    order = 1

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Snapshot rows as they are, trimmed, with the snapshot month."""
        snapshot = f"CAST({sql_string(ctx.snapshot)} AS DATE)" if ctx.snapshot else "NULL"
        trimmed = {c: f"nullif(trim({c}), '')" for c in self.columns}
        return {
            "snapshot": snapshot,
            **trimmed,
            "user_id": "trim(user_id)",
            "email": "lower(trim(email))",
            "projects": trimmed.get("projects", "NULL"),
        }

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """A user id is required."""
        return [Check("coalesce(trim(user_id), '') = ''", "empty user id")]


class CertLdapR5(CertLdapR4):
    """A CERT LDAP snapshot with projects (r5.x, r6.x)."""

    name = "cert.ldap.r5"
    columns: ClassVar[Mapping[str, str]] = {**_COMMON, "projects": "VARCHAR", **_UNITS}
