"""CERT ``http.csv``: web activity.

r4.x and r5.x: ``id,date,user,pc,url,content`` (some releases ship this file without a header
line; the layout is then recognised from the first row): every request is a visit, whether it
uploaded or downloaded anything is not logged. r6.x adds ``activity`` (``WWW Visit``,
``WWW Upload``, ``WWW Download``) before ``content``.

``domain`` is the URL's host without ``www.``; the channel is ``cloud_storage`` or ``webmail``
when the host is in that category of the domain list, else ``web``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from molehunt.sources._cert import COMMON_COLUMNS, activity_check, common_checks, common_mapping
from molehunt.sources.base import Check, FileLayout, SqlContext, looks_like_cert_event

_ACTIVITIES = ["WWW Visit", "WWW Upload", "WWW Download"]


def _is_url(value: str) -> bool:
    return "://" in value or value.lower().startswith("www.")


class CertHttpR4(FileLayout):
    """CERT http.csv of r4.x and r5.x (visits only)."""

    name = "cert.http.r4"
    #: r4/r5 have no activity column: an upload or a download is a visit like any other
    observes = frozenset({"web_visit"})
    target = "events"
    source = "cert.http"
    columns: ClassVar[Mapping[str, str]] = {
        **COMMON_COLUMNS,
        "url": "VARCHAR",
        "content": "VARCHAR",
    }
    order = 60
    usual_stem = "http"

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less r4 http row: six fields, the fifth a URL."""
        return len(fields) == 6 and looks_like_cert_event(fields) and _is_url(fields[4])

    def relation(self, raw: str, ctx: SqlContext) -> str:
        """Add the host and its category (most specific of host and its two parents)."""
        return (
            "(SELECT r.*, coalesce(c1.category, c2.category, c3.category) AS _category"
            " FROM (SELECT *, mh_clean_host(_host_part) AS _host FROM"
            f" (SELECT *, mh_host_part(url) AS _host_part FROM {raw})) r"
            " LEFT JOIN domain_categories c1 ON c1.domain = r._host"
            " LEFT JOIN domain_categories c2 ON c2.domain = mh_parent(r._host, 3)"
            " LEFT JOIN domain_categories c3 ON c3.domain = mh_parent(r._host, 2))"
        )

    def action(self) -> str:
        """SQL for the action."""
        return "'web_visit'"

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """URL host → domain; category → channel."""
        return {
            **common_mapping(self.source),
            "action": self.action(),
            "channel": "CASE _category WHEN 'cloud_storage' THEN 'cloud_storage'"
            " WHEN 'webmail' THEN 'webmail' ELSE 'web' END",
            "object": "url",
            "target": "NULL",
            "domain": "nullif(_host, '')",
            "bytes": "NULL",
            "n_attachments": "NULL",
            "content": "content",
            "attrs": "NULL",
        }

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """Common checks plus a URL with a host."""
        return [
            *common_checks(),
            Check("coalesce(_host, '') = ''", "URL without host",
                  "'url ' || coalesce('\"' || url || '\"', 'missing')"),
        ]


class CertHttpR6(CertHttpR4):
    """CERT http.csv of r6.x (visits, uploads and downloads)."""

    name = "cert.http.r6"
    observes = frozenset({"web_visit", "web_direction"})
    columns: ClassVar[Mapping[str, str]] = {
        **COMMON_COLUMNS,
        "url": "VARCHAR",
        "activity": "VARCHAR",
        "content": "VARCHAR",
    }

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less r6 http row: seven fields with a ``WWW …`` activity."""
        return (
            len(fields) == 7
            and looks_like_cert_event(fields)
            and fields[5].strip().lower().startswith("www ")
        )

    def action(self) -> str:
        """``WWW Upload`` → ``web_upload`` and so on."""
        return "'web_' || lower(trim(split_part(trim(activity), ' ', 2)))"

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """r4 checks plus a known activity."""
        return [*super().checks(ctx), activity_check("activity", _ACTIVITIES)]
