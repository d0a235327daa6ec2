"""CERT ``device.csv``: removable media connected to and disconnected from a PC.

r4.x: ``id,date,user,pc,activity``; r5.x and r6.x add ``file_tree`` (the ``;``-separated paths
on the device) before ``activity``. Activity is ``Connect`` or ``Disconnect`` in every release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from molehunt.sources._cert import COMMON_COLUMNS, activity_check, common_checks, common_mapping
from molehunt.sources.base import Check, FileLayout, SqlContext, looks_like_cert_event

_ACTIVITIES = ["Connect", "Disconnect"]
_ACTION = (
    "CASE lower(trim(activity)) WHEN 'connect' THEN 'device_connect'"
    " WHEN 'disconnect' THEN 'device_disconnect' END"
)


class CertDeviceR4(FileLayout):
    """CERT device.csv without file trees (r4.x)."""

    name = "cert.device.r4"
    observes = frozenset({"removable_connect"})
    target = "events"
    source = "cert.device"
    columns: ClassVar[Mapping[str, str]] = {**COMMON_COLUMNS, "activity": "VARCHAR"}
    order = 20
    usual_stem = "device"

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less device file starts with a Connect/Disconnect row."""
        return (
            len(fields) == 5
            and looks_like_cert_event(fields)
            and fields[4].strip().lower() in {"connect", "disconnect"}
        )

    @classmethod
    def resembles_row(cls, fields: Sequence[str]) -> bool:
        """Any five-field row whose activity is Connect/Disconnect."""
        return len(fields) == 5 and fields[4].strip().lower() in {"connect", "disconnect"}

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Connect/Disconnect on the ``removable_media`` channel."""
        return {
            **common_mapping(self.source),
            "action": _ACTION,
            "channel": "'removable_media'",
            "object": "NULL",
            "target": "NULL",
            "domain": "NULL",
            "bytes": "NULL",
            "n_attachments": "NULL",
            "content": "NULL",
            "attrs": "NULL",
        }

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """Common checks plus a known activity."""
        return [*common_checks(), activity_check("activity", _ACTIVITIES)]


class CertDeviceR6(CertDeviceR4):
    """CERT device.csv with the device's file tree (r5.x and r6.x)."""

    # named after r6, where it was first read; the name is kept because stored workspaces
    # record it, and r5.x has the same columns and vocabulary
    name = "cert.device.r6"
    columns: ClassVar[Mapping[str, str]] = {
        **COMMON_COLUMNS,
        "file_tree": "VARCHAR",
        "activity": "VARCHAR",
    }

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less r6 device file has six fields ending in Connect/Disconnect."""
        return (
            len(fields) == 6
            and looks_like_cert_event(fields)
            and fields[5].strip().lower() in {"connect", "disconnect"}
        )

    @classmethod
    def resembles_row(cls, fields: Sequence[str]) -> bool:
        """Any six-field row whose activity is Connect/Disconnect."""
        return len(fields) == 6 and fields[5].strip().lower() in {"connect", "disconnect"}

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """As r4, with the file tree kept in ``attrs``."""
        return {
            **super().mapping(ctx),
            "attrs": "CASE WHEN nullif(trim(file_tree), '') IS NOT NULL THEN json_object("
            "'file_tree', list_filter(string_split(file_tree, ';'), lambda x: x <> '')) END",
        }
