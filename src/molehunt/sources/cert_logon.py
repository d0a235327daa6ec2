"""CERT ``logon.csv`` (all releases): logons and logoffs on a PC.

``id,date,user,pc,activity`` with activity ``Logon`` or ``Logoff``. A logon to a PC that is not
the person's own is an important signal later; the store keeps the raw host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from molehunt.sources._cert import COMMON_COLUMNS, activity_check, common_checks, common_mapping
from molehunt.sources.base import Check, FileLayout, SqlContext, looks_like_cert_event


class CertLogon(FileLayout):
    """CERT logon.csv (r4.x–r6.x)."""

    name = "cert.logon"
    observes = frozenset({"logon"})
    target = "events"
    source = "cert.logon"
    columns: ClassVar[Mapping[str, str]] = {**COMMON_COLUMNS, "activity": "VARCHAR"}
    order = 10
    usual_stem = "logon"

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less logon file starts with a Logon/Logoff row."""
        return (
            len(fields) == 5
            and looks_like_cert_event(fields)
            and fields[4].strip().lower() in {"logon", "logoff"}
        )

    @classmethod
    def resembles_row(cls, fields: Sequence[str]) -> bool:
        """Any five-field row whose activity is Logon/Logoff."""
        return len(fields) == 5 and fields[4].strip().lower() in {"logon", "logoff"}

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Logon → ``logon``, Logoff → ``logoff``, on the ``local`` channel."""
        return {
            **common_mapping(self.source),
            "action": "lower(trim(activity))",
            "channel": "'local'",
            "object": "trim(pc)",
            "target": "NULL",
            "domain": "NULL",
            "bytes": "NULL",
            "n_attachments": "NULL",
            "content": "NULL",
            "attrs": "NULL",
        }

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """Common checks plus a known activity."""
        return [*common_checks(), activity_check("activity", ["Logon", "Logoff"])]
