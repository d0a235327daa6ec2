"""CERT ``file.csv``: file activity.

r4.x: ``id,date,user,pc,filename,content``. The CERT documentation of these releases
describes this file as copies of files to removable media, so rows become ``file_copy`` on the
``removable_media`` channel; which way a file went is not logged.

r5.x and r6.x:
``id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content`` with
activity ``File Open|File Write|File Copy|File Delete`` and True/False flags. A file written to
or copied from removable media is on the ``removable_media`` channel, anything else ``local``;
the direction is kept in ``attrs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from molehunt.sources._cert import (
    COMMON_COLUMNS,
    activity_check,
    boolean_check,
    boolean_text,
    common_checks,
    common_mapping,
)
from molehunt.sources.base import Check, FileLayout, SqlContext, looks_like_cert_event

_R6_ACTIVITIES = ["File Open", "File Write", "File Copy", "File Delete"]


class CertFileR4(FileLayout):
    """CERT file.csv of r4.x (copies to removable media, no direction)."""

    name = "cert.file.r4"
    #: r4 file rows are copies to removable media, with no direction or other file work
    observes = frozenset({"removable_files"})
    target = "events"
    source = "cert.file"
    columns: ClassVar[Mapping[str, str]] = {
        **COMMON_COLUMNS,
        "filename": "VARCHAR",
        "content": "VARCHAR",
    }
    order = 30
    usual_stem = "file"

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less r4 file row: six fields, the fifth a path (not a URL)."""
        return (
            len(fields) == 6
            and looks_like_cert_event(fields)
            and "://" not in fields[4]
            and ("\\" in fields[4] or "/" in fields[4])
        )

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Every row is a copy to removable media."""
        return {
            **common_mapping(self.source),
            "action": "'file_copy'",
            "channel": "'removable_media'",
            "object": "filename",
            "target": "NULL",
            "domain": "NULL",
            "bytes": "NULL",
            "n_attachments": "NULL",
            "content": "content",
            "attrs": "NULL",
        }

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """Common checks plus a file name."""
        return [
            *common_checks(),
            Check("coalesce(trim(filename), '') = ''", "empty file name"),
        ]


class CertFileR6(CertFileR4):
    """CERT file.csv of r5.x and r6.x (open, write, copy, delete with removable-media flags)."""

    # named after r6, where it was first read; the name is kept because stored workspaces
    # record it, and r5.x has the same columns and vocabulary
    name = "cert.file.r6"
    observes = frozenset({"removable_files", "file_access"})
    columns: ClassVar[Mapping[str, str]] = {
        **COMMON_COLUMNS,
        "filename": "VARCHAR",
        "activity": "VARCHAR",
        "to_removable_media": "VARCHAR",
        "from_removable_media": "VARCHAR",
        "content": "VARCHAR",
    }

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less r6 file row: nine fields with a ``File …`` activity."""
        return (
            len(fields) == 9
            and looks_like_cert_event(fields)
            and fields[5].strip().lower().startswith("file ")
        )

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Activity to action; removable media flags to the channel and ``attrs``."""
        to_media = boolean_text("to_removable_media")
        from_media = boolean_text("from_removable_media")
        return {
            **super().mapping(ctx),
            "action": "replace(lower(trim(activity)), ' ', '_')",
            "channel": f"CASE WHEN {to_media} OR {from_media} THEN 'removable_media'"
            " ELSE 'local' END",
            "attrs": f"json_object('to_removable_media', {to_media},"
            f" 'from_removable_media', {from_media})",
        }

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """r4 checks plus a known activity and True/False flags."""
        return [
            *super().checks(ctx),
            activity_check("activity", _R6_ACTIVITIES),
            boolean_check("to_removable_media"),
            boolean_check("from_removable_media"),
        ]
