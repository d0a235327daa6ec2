"""CERT ``email.csv``: e-mail sent (and, in r6.x, viewed).

r4.x/r5.x: ``id,date,user,pc,to,cc,bcc,from,size,attachments,content`` (``attachments`` is a
count). r6.x adds ``activity`` (``Send``/``View``) after ``from``, and ``attachments`` lists
``path(size)`` items separated by ``;``. Recipients in to/cc/bcc are ``;``-separated.

The channel says where the mail went: ``webmail`` when any counterpart (the recipients of a
sent mail, the sender of a viewed one) is at a webmail domain, ``email_external`` when any is
outside the company's domains, else ``email_internal``. ``domain`` is the most telling
counterpart domain (webmail first, then external, then internal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from molehunt.sources._cert import COMMON_COLUMNS, activity_check, common_checks, common_mapping
from molehunt.sources.base import Check, FileLayout, SqlContext, looks_like_cert_event

_RECIPIENTS = (
    "list_filter(list_transform(string_split(concat_ws(';', \"to\", cc, bcc), ';'),"
    " lambda a: lower(trim(a))), lambda a: a <> '')"
)
_ADDRESSES = "list_filter(list_transform(string_split({col}, ';'), lambda a: trim(a)),"\
    " lambda a: a <> '')"
_ATTACHMENT_COUNT = (
    "CASE WHEN coalesce(trim(attachments), '') = '' THEN 0"
    " WHEN regexp_full_match(trim(attachments), '[0-9]+') THEN"
    " TRY_CAST(trim(attachments) AS INTEGER)"
    " ELSE len(list_filter(string_split(attachments, ';'), lambda a: trim(a) <> '')) END"
)


class CertEmailR4(FileLayout):
    """CERT email.csv of r4.x and r5.x (sent mail, attachment counts)."""

    name = "cert.email.r4"
    #: r4 logs sent mail only
    observes = frozenset({"email_sent"})
    target = "events"
    source = "cert.email"
    columns: ClassVar[Mapping[str, str]] = {
        **COMMON_COLUMNS,
        "to": "VARCHAR",
        "cc": "VARCHAR",
        "bcc": "VARCHAR",
        "from": "VARCHAR",
        "size": "BIGINT",
        "attachments": "VARCHAR",
        "content": "VARCHAR",
    }
    order = 40
    usual_stem = "email"
    #: SQL telling whether a row is a viewed (received) mail.
    is_view = "false"

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less r4 e-mail row: eleven fields, an address in ``from``."""
        return len(fields) == 11 and looks_like_cert_event(fields) and "@" in fields[7]

    def relation(self, raw: str, ctx: SqlContext) -> str:
        """Add recipient addresses and the counterpart domains."""
        return (
            f"(SELECT *, CASE WHEN {self.is_view} THEN [mh_email_domain(\"from\")]"
            " ELSE list_transform(_recipients, lambda a: mh_email_domain(a)) END AS _counterparts"
            f" FROM (SELECT *, {_RECIPIENTS} AS _recipients FROM {raw}))"
        )

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Counterpart domains decide the channel; cc/bcc and attachments go to ``attrs``."""
        webmail = "list_filter(_counterparts, lambda d: mh_is_webmail(d))"
        external = "list_filter(_counterparts, lambda d: NOT mh_is_company(d))"
        return {
            **common_mapping(self.source),
            "action": f"CASE WHEN {self.is_view} THEN 'email_view' ELSE 'email_send' END",
            "channel": f"CASE WHEN len({webmail}) > 0 THEN 'webmail'"
            f" WHEN len({external}) > 0 THEN 'email_external' ELSE 'email_internal' END",
            "object": 'lower(trim("from"))',
            "target": "nullif(array_to_string(_recipients, ';'), '')",
            "domain": f"nullif(coalesce({webmail}[1], {external}[1], _counterparts[1]), '')",
            "bytes": "size",
            "n_attachments": _ATTACHMENT_COUNT,
            "content": "content",
            "attrs": self._attrs(),
        }

    def _attrs(self) -> str:
        return (
            "json_object('cc', " + _ADDRESSES.format(col="cc") + ", 'bcc', "
            + _ADDRESSES.format(col="bcc") + ")"
        )

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """Common checks plus at least one recipient and a non-negative size."""
        return [
            *common_checks(),
            Check("len(_recipients) = 0", "no recipients"),
            Check("size < 0", "negative size", "'size ' || size"),
            Check(f"({_ATTACHMENT_COUNT}) IS NULL", "unparseable attachments",
                  "'attachments \"' || attachments || '\"'"),
        ]


class CertEmailR6(CertEmailR4):
    """CERT email.csv of r6.x (Send/View, attachment lists)."""

    name = "cert.email.r6"
    observes = frozenset({"email_sent", "email_received"})
    columns: ClassVar[Mapping[str, str]] = {
        **COMMON_COLUMNS,
        "to": "VARCHAR",
        "cc": "VARCHAR",
        "bcc": "VARCHAR",
        "from": "VARCHAR",
        "activity": "VARCHAR",
        "size": "BIGINT",
        "attachments": "VARCHAR",
        "content": "VARCHAR",
    }
    is_view = "lower(trim(activity)) = 'view'"

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less r6 e-mail row: twelve fields with Send/View."""
        return (
            len(fields) == 12
            and looks_like_cert_event(fields)
            and fields[8].strip().lower() in {"send", "view"}
        )

    def _attrs(self) -> str:
        return (
            "json_object('cc', " + _ADDRESSES.format(col="cc") + ", 'bcc', "
            + _ADDRESSES.format(col="bcc") + ", 'attachments', "
            + _ADDRESSES.format(col="attachments") + ")"
        )

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """r4 checks plus a known activity."""
        return [*super().checks(ctx), activity_check("activity", ["Send", "View"])]
