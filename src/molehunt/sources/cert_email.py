"""CERT ``email.csv``: e-mail sent (and, from r5.x on, received).

r4.x: ``id,date,user,pc,to,cc,bcc,from,size,attachments,content`` (``attachments`` is a count;
sent mail only). r5.x and r6.x add ``activity`` after ``from`` and list attachments as
``path(size)`` items separated by ``;``. The two releases name the inbound side differently:
r5.x logs ``Send``/``Receive``, r6.x ``Send``/``View``. Both inbound words mean the same thing
to molehunt, a message that reached the person, and map once to the canonical inbound action
``email_view`` (see :data:`INBOUND_ACTION`); the release's own word stays in each layout's
vocabulary, so a ``View`` in an r5 file or a ``Receive`` in an r6 file is still quarantined.
Recipients in to/cc/bcc are ``;``-separated.

The channel says where the mail went: ``webmail`` when any counterpart (the recipients of a
sent mail, the sender of a received one) is at a webmail domain, ``email_external`` when any is
outside the company's domains, else ``email_internal``. ``domain`` is the most telling
counterpart domain (webmail first, then external, then internal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from molehunt.sources._cert import COMMON_COLUMNS, activity_check, common_checks, common_mapping
from molehunt.sources.base import Check, FileLayout, SqlContext, looks_like_cert_event
from molehunt.sql import sql_string

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


#: The canonical action of a message that reached the person (received, opened or read): the
#: events schema has one inbound e-mail action, whatever word a release uses for it.
INBOUND_ACTION = "email_view"


class CertEmailR4(FileLayout):
    """CERT email.csv of r4.x (sent mail only, attachment counts)."""

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

    def is_inbound(self) -> str:
        """SQL telling whether a row is an inbound mail (r4.x logs none)."""
        return "false"

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less r4 e-mail row: eleven fields, an address in ``from``."""
        return len(fields) == 11 and looks_like_cert_event(fields) and "@" in fields[7]

    def relation(self, raw: str, ctx: SqlContext) -> str:
        """Add recipient addresses and the counterpart domains."""
        return (
            f"(SELECT *, CASE WHEN {self.is_inbound()} THEN [mh_email_domain(\"from\")]"
            " ELSE list_transform(_recipients, lambda a: mh_email_domain(a)) END AS _counterparts"
            f" FROM (SELECT *, {_RECIPIENTS} AS _recipients FROM {raw}))"
        )

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Counterpart domains decide the channel; cc/bcc and attachments go to ``attrs``."""
        webmail = "list_filter(_counterparts, lambda d: mh_is_webmail(d))"
        external = "list_filter(_counterparts, lambda d: NOT mh_is_company(d))"
        return {
            **common_mapping(self.source),
            "action": f"CASE WHEN {self.is_inbound()} THEN '{INBOUND_ACTION}'"
            " ELSE 'email_send' END",
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


class CertEmailR5(CertEmailR4):
    """CERT email.csv of r5.x (Send/Receive, attachment lists)."""

    name = "cert.email.r5"
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
    #: The release's word for a message that reached the person.
    inbound_word: ClassVar[str] = "Receive"

    @classmethod
    def activities(cls) -> list[str]:
        """The activity vocabulary the release documents."""
        return ["Send", cls.inbound_word]

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """A header-less e-mail row of this release: twelve fields, one of its activities."""
        return len(fields) == 12 and looks_like_cert_event(fields) and cls.resembles_row(fields)

    @classmethod
    def resembles_row(cls, fields: Sequence[str]) -> bool:
        """Any twelve-field row whose activity is in this release's vocabulary."""
        return len(fields) == 12 and fields[8].strip().lower() in {
            a.lower() for a in cls.activities()}

    def is_inbound(self) -> str:
        """SQL telling whether a row is the release's inbound activity."""
        return f"lower(trim(activity)) = {sql_string(self.inbound_word.lower())}"

    def _attrs(self) -> str:
        return (
            "json_object('cc', " + _ADDRESSES.format(col="cc") + ", 'bcc', "
            + _ADDRESSES.format(col="bcc") + ", 'attachments', "
            + _ADDRESSES.format(col="attachments") + ")"
        )

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """r4 checks plus a known activity."""
        return [*super().checks(ctx), activity_check("activity", self.activities())]


class CertEmailR6(CertEmailR5):
    """CERT email.csv of r6.x (Send/View, attachment lists)."""

    name = "cert.email.r6"
    inbound_word = "View"
