"""The source interface: a file layout that maps rows of one format onto a store table.

A layout is a class with a name, the table it fills and a SQL ``SELECT`` that turns the raw
columns of a file into that table's columns. Subclasses register themselves, so adding a
source is adding one module (plus its test): :func:`load_sources` imports every module of this
package and the registry fills up.

Each layout also says which rows are malformed in ways the CSV reader cannot see (an empty user
id, an unknown activity): the ``checks`` of a layout are SQL conditions with a reason, and rows
that meet one are quarantined with their line number instead of stored.

Logs of JSON records (a vendor's audit log as a JSON array, NDJSON, or a CSV whose cells hold
JSON) are read by a :class:`RecordLayout`: the same SQL mapping and checks, run over rows that
the layout's own ``records`` step has first flattened out of the nested records (see there).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from abc import ABC
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

from molehunt.errors import SourceError
from molehunt.schema import EVENT_COLUMNS
from molehunt.sql import quote_identifier, sql_string

#: The CERT timestamp layout, ``MM/DD/YYYY HH:MM:SS``.
CERT_TIMESTAMP_FORMAT = "%m/%d/%Y %H:%M:%S"

#: Stands for any non-empty value of a typed (non-text) field in the key used to find a
#: quarantined row's line again (see :meth:`FileLayout.key_expression`).
TYPED_PRESENT = "\x02"

_REGISTRY: dict[str, type[FileLayout]] = {}


@dataclass(frozen=True)
class Check:
    """A condition on a mapped row that sends it to the quarantine instead of the store."""

    condition: str  # SQL over the raw columns; true means "malformed"
    reason: str  # short, stable text used for counting
    detail: str = "''"  # SQL expression that explains this row


@dataclass(frozen=True)
class SqlContext:
    """What a layout's SQL may refer to besides the raw columns.

    The connection has a table ``domain_categories(domain, category)`` and the macros
    ``mh_is_company(domain)`` and ``mh_category(domain)``; this object carries plain values.
    """

    company_domains: tuple[str, ...]
    #: First day of the month an LDAP snapshot describes (``YYYY-MM-DD``), from its file name.
    snapshot: str | None = None
    #: Sensitivity label (name or id, lower-cased) → level 0-4, from ``molehunt.toml``.
    sensitivity_labels: tuple[tuple[str, int], ...] = ()
    #: Events before the first or after the second timestamp (``YYYY-MM-DD HH:MM:SS``) are
    #: quarantined as implausible (see :func:`time_checks`); None checks nothing.
    time_window: tuple[str, str] | None = None
    #: The directory, for layouts that resolve people themselves
    #: (:attr:`RecordLayout.resolves_people`); None where no layout asked for it.
    people: People | None = None
    #: ``[hr_csv]`` of ``molehunt.toml``: field → the CSV column holding it.
    hr_columns: tuple[tuple[str, str], ...] = ()
    #: ``[hr_csv_kinds]``: a value of the kind column (lower-cased) → an ``hr_events`` kind.
    hr_kinds: tuple[tuple[str, str], ...] = ()
    #: ``[proxy_zscaler]``: a field of the Zscaler NSS web feed → the JSON key holding it.
    proxy_zscaler: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DirectoryEntry:
    """One row of the directory as a layout resolving people sees it."""

    user_id: str
    valid_from: date | None
    valid_to: date | None  # exclusive; None while current

    def valid_on(self, day: date) -> bool:
        """Whether the row describes the person on ``day``."""
        return ((self.valid_from is None or self.valid_from <= day)
                and (self.valid_to is None or day < self.valid_to))


@dataclass(frozen=True)
class People:
    """The directory's addresses and ids, to turn an e-mail address, UPN or employee id into
    the directory's ``user_id``.

    >>> people = People({"al@x.com": (DirectoryEntry("U1", None, None),)}, {"u1": "U1"})
    >>> people.resolve("AL@x.com", date(2024, 1, 1)), people.resolve("u1", date(2024, 1, 1))
    (('U1', None), ('U1', None))
    >>> people.resolve("bo@x.com", date(2024, 1, 1))
    (None, 'person not in the directory')
    """

    #: lower-cased e-mail address → the directory rows that carry it
    by_email: Mapping[str, tuple[DirectoryEntry, ...]]
    #: lower-cased user id → the user id as the directory writes it
    by_id: Mapping[str, str]

    def resolve(self, identifier: str, day: date) -> tuple[str | None, str | None]:
        """The ``user_id`` an identifier names on ``day``, or None and the reason why not."""
        key = identifier.strip().lower()
        rows = self.by_email.get(key, ())
        ids = {row.user_id for row in rows}
        if len(ids) > 1:
            # an address handed on to someone else: the row valid that day decides
            ids = {row.user_id for row in rows if row.valid_on(day)}
            if len(ids) != 1:
                return None, "ambiguous person"
        if ids:
            return next(iter(ids)), None
        if key in self.by_id:
            return self.by_id[key], None
        return None, "person not in the directory"


class FileLayout(ABC):
    """One file format that molehunt can read (e.g. CERT r6 ``email.csv``)."""

    #: Unique name, e.g. ``cert.email.r6``.
    name: ClassVar[str]
    #: Family the layout belongs to; ``molehunt ingest cert DIR`` reads the ``cert`` family.
    family: ClassVar[str] = "cert"
    #: Table the rows go to: ``events``, ``ldap``, ``psychometric`` or ``decoys``.
    target: ClassVar[str]
    #: Value of ``events.source`` for event layouts.
    source: ClassVar[str] = ""
    #: What the layout can see (names of :data:`molehunt.store.coverage.OBSERVATIONS`), so
    #: that a deployment knows "saw none" from "cannot see" (DESIGN.md §6b). A layout whose
    #: rows say it themselves (the canonical JSONL) declares nothing; its data is read.
    observes: ClassVar[frozenset[str]] = frozenset()
    #: Header names in file order and the type the CSV reader parses each as.
    columns: ClassVar[Mapping[str, str]]
    #: Order in which ``ingest cert`` reads files: smaller first (directory before events).
    order: ClassVar[int] = 50
    #: The file name the layout usually has (``logon`` for ``logon.csv``); used only to break
    #: a tie between layouts with the same header when no data row tells them apart.
    usual_stem: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
                raise SourceError(f"two layouts are named {cls.name!r}")
            _REGISTRY[cls.name] = cls

    @classmethod
    def matches_header(cls, fields: Sequence[str]) -> bool:
        """Whether a header line (already split and lower-cased) is this layout's."""
        return tuple(fields) == tuple(cls.columns)

    @classmethod
    def matches_row(cls, fields: Sequence[str]) -> bool:
        """Whether a first line that is *data* (a file without header) has this layout."""
        return False

    @classmethod
    def resembles_row(cls, fields: Sequence[str]) -> bool:
        """A looser test used to choose between layouts that share a header."""
        return cls.matches_row(fields)

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """SQL expression for every column of the target table."""
        raise NotImplementedError

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """Conditions that quarantine a row."""
        return ()

    def relation(self, raw: str, ctx: SqlContext) -> str:
        """SQL relation the mapping reads: the raw rows, optionally with helper columns."""
        return raw

    def key_expression(self) -> str:
        """SQL that rebuilds a row's fields as a JSON list, to find its line again in the file.

        JSON, not a separator character: a field may hold any character.

        Fields parsed as other types cannot be rebuilt exactly; they only say whether they were
        empty (see :data:`TYPED_PRESENT`), so that a row missing its date is not matched with an
        otherwise identical line that has one.
        """
        parts = [
            f"coalesce({quote_identifier(column)}, '')" if sql_type == "VARCHAR"
            else f"CASE WHEN {quote_identifier(column)} IS NULL THEN '' ELSE chr(2) END"
            for column, sql_type in self.columns.items()
        ]
        return f"CAST(to_json([{', '.join(parts)}]) AS VARCHAR)"

    @classmethod
    def typed_positions(cls) -> set[int]:
        """Indexes of the columns the CSV reader parses as something other than text."""
        return {i for i, t in enumerate(cls.columns.values()) if t != "VARCHAR"}


@dataclass
class Unreadable:
    """A record a :class:`RecordLayout` could not flatten: where it is, and why."""

    line: int | None  # physical line (1-based) it starts on; None in a binary file (EVTX)
    record: int  # the record's number in the file (1-based), counted over every record
    reason: str  # short, stable text used for counting
    detail: str
    raw: str


@dataclass
class Skipped:
    """A record a :class:`RecordLayout` read and deliberately does not store (a machine
    account's logon, an event the store has no action for): counted by its reason in the
    file's result, never dropped silently."""

    reason: str  # short, stable text used for counting


class RecordLayout(FileLayout):
    """A log of JSON records (a JSON array, NDJSON, or CSV cells holding JSON).

    The CSV reader cannot take such files apart, so reading has two steps. First
    :meth:`records` walks the file in Python and flattens each record into one row of
    :attr:`~FileLayout.columns` (the few fields the mapping needs, found wherever the file's
    shape keeps them), plus its location: ``_line`` (the physical line it starts on),
    ``_record`` (its number in the file) and ``_raw`` (its text). A record that cannot be
    flattened (not JSON, not an object, an unknown shape) is yielded as :class:`Unreadable`
    instead, and one it reads but deliberately does not store as :class:`Skipped`. Then the
    layout's SQL :meth:`~FileLayout.mapping` and :meth:`~FileLayout.checks`
    run over the flattened rows exactly as over a CSV file's rows, and a row failing a check
    is quarantined with its ``_line`` and ``_raw`` (see :meth:`key_expression`).

    Rows may also go elsewhere than ``events``: the ``_dest`` column names the table of each
    row (:data:`RECORD_DESTINATIONS`); rows for ``hr_events`` carry that table's columns in
    ``hr_kind``, ``hr_ts`` and ``hr_attrs``.
    """

    family = "records"
    target = "events"
    #: What ``molehunt ingest <family> --help`` says the family reads (else the first
    #: line of the docstring of the family's first layout by name).
    family_title: ClassVar[str] = ""
    #: Whether :meth:`records` turns people's addresses into the directory's ``user_id``
    #: itself (from :attr:`SqlContext.people`), quarantining those it cannot resolve.
    resolves_people: ClassVar[bool] = False

    def __init__(self) -> None:
        #: The file's records as a reader independent of the parser counted them, set by
        #: :meth:`records` once it has run; None: this layout (or this file) has no such count.
        self.independent_count: int | None = None
        #: Where :meth:`records` may write a copy of the file while reading it (the batch's
        #: staging folder, so that the space it needs is the ingest's); None: a temporary one.
        self.scratch: Path | None = None

    @classmethod
    def matches_header(cls, fields: Sequence[str]) -> bool:
        """Record layouts are known by their content (:meth:`sniff`), never by a CSV header."""
        return False

    @classmethod
    def sniff(cls, head: str) -> bool:
        """Whether a file whose first characters are ``head`` is this layout's."""
        raise NotImplementedError

    @classmethod
    def sniff_configured(cls, head: str, ctx: SqlContext) -> bool:
        """As :meth:`sniff`, for a layout whose shape the settings in ``ctx`` describe."""
        return cls.sniff(head)

    def records(self, path: Path, ctx: SqlContext
                ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
        """The file's records, flattened (see the class docstring), in file order."""
        raise NotImplementedError

    def count_records(self, path: Path) -> int | None:
        """How many records the file holds, counted without the parser that :meth:`records`
        uses (issue 20: a file commits only when read = stored + duplicates + quarantined +
        skipped against such a count); None where the layout has no independent count."""
        return None

    def key_expression(self) -> str:
        """The record's location and text, to quarantine it without searching the file again."""
        return "CAST(to_json([CAST(_line AS VARCHAR), CAST(_record AS VARCHAR), _raw]) AS VARCHAR)"

    @classmethod
    def staged_columns(cls) -> dict[str, str]:
        """Column → SQL type of the flattened rows: the layout's columns plus the bookkeeping."""
        return {**cls.columns, **RECORD_BOOKKEEPING}


#: Columns every flattened record carries besides the layout's own.
RECORD_BOOKKEEPING: Mapping[str, str] = {
    "_line": "BIGINT",
    "_record": "BIGINT",
    "_raw": "VARCHAR",
    "_dest": "VARCHAR",
    "hr_kind": "VARCHAR",
    "hr_ts": "TIMESTAMP",
    "hr_attrs": "VARCHAR",
}

#: Where a flattened record goes: the events of people, the events of system and service
#: accounts (kept apart: never a person), or the HR events.
RECORD_DESTINATIONS = ("events", "service_events", "hr_events")


def load_sources() -> dict[str, type[FileLayout]]:
    """Import every source module so that all layouts are registered; return the registry."""
    import molehunt.sources as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    return dict(_REGISTRY)


def layouts_of_family(family: str) -> list[type[FileLayout]]:
    """All registered layouts of one family."""
    return [layout for layout in load_sources().values() if layout.family == family]


def record_layouts(family: str | None = None) -> list[type[RecordLayout]]:
    """Registered record layouts (of one family, or all), by name."""
    return sorted((layout for layout in load_sources().values()
                   if issubclass(layout, RecordLayout)
                   and (family is None or layout.family == family)),
                  key=lambda layout: layout.name)


_CERT_ID = re.compile(r"^\{[^{}]*\}$")
_CERT_DATE = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}$")


def looks_like_cert_event(fields: Sequence[str]) -> bool:
    """Whether a line is a CERT event row (``{id},MM/DD/YYYY HH:MM:SS,…``) rather than a header.

    >>> looks_like_cert_event(["{A1}", "01/02/2010 06:55:16", "ACM2278", "PC-1", "Logon"])
    True
    """
    return len(fields) >= 5 and bool(_CERT_ID.match(fields[0])) and bool(
        _CERT_DATE.match(fields[1])
    )


def check_case(checks: Sequence[Check], attribute: str) -> str:
    """SQL naming the first check a row fails: its ``reason`` or its ``detail`` (NULL: none)."""
    return _case(checks, attribute)


def _case(checks: Sequence[Check], attribute: str) -> str:
    if not checks:
        return "NULL::VARCHAR"
    if attribute == "reason":
        branches = [f"WHEN {c.condition} THEN {sql_string(c.reason)}" for c in checks]
    else:
        branches = [f"WHEN {c.condition} THEN {c.detail}" for c in checks]
    return "CASE " + " ".join(branches) + " END"


def time_checks(ts: str, ctx: SqlContext) -> list[Check]:
    """Checks that quarantine an event whose time cannot be true: a year below 100 (a
    two-digit year such as ``01/02/10`` read as year 10), or a time outside the plausible
    window of ``ctx`` (a clock reset to 1970, a row dated 2099 or 9999, which would otherwise
    pass for the newest day there is). They come after a layout's own checks, so a missing
    date keeps its own reason.

    >>> [c.reason for c in time_checks("date", SqlContext((), time_window=("a", "b")))]
    ['two-digit year', 'implausible time']
    """
    value = f"CAST({ts} AS TIMESTAMP)"
    checks = [Check(f"year({value}) < 100", "two-digit year",
                    f"'year ' || year({value}) || ' has fewer than four digits; a two-digit"
                    " year is ambiguous'")]
    if ctx.time_window is not None:
        earliest, latest = (sql_string(t) for t in ctx.time_window)
        checks.append(Check(
            f"{value} < CAST({earliest} AS TIMESTAMP) OR {value} > CAST({latest} AS TIMESTAMP)",
            "implausible time",
            f"'time ' || CAST({value} AS VARCHAR) || ' is outside the plausible window '"
            f" || {earliest} || ' to ' || {latest}"))
    return checks


def event_select(layout: FileLayout, ctx: SqlContext, relation: str) -> str:
    """The SELECT that maps ``relation`` (raw rows) to event columns.

    Rows failing a check keep their raw key in ``content`` and their reason in ``attrs`` and get
    ``day`` NULL, so a day-partitioned write sets them apart in one pass over the file. The key
    and the detail are only computed for those rows.
    """
    mapping = layout.mapping(ctx)
    missing = set(EVENT_COLUMNS) - set(mapping)
    if missing:
        raise SourceError(f"layout {layout.name} does not map {sorted(missing)}")
    checks = [*layout.checks(ctx), *time_checks(mapping["ts"], ctx)]
    columns = []
    for column, sql_type in EVENT_COLUMNS.items():
        value = f"CAST({mapping[column]} AS {sql_type})"
        if column == "day":
            value = f"CASE WHEN _reason IS NULL THEN {value} END"
        elif column == "action":
            value = f"CASE WHEN _reason IS NULL THEN {value} ELSE '_quarantined' END"
        elif column == "content":
            value = f"CASE WHEN _reason IS NULL THEN {value} ELSE {layout.key_expression()} END"
        elif column == "attrs":
            value = (f"CASE WHEN _reason IS NULL THEN {value} ELSE json_object('reason', _reason,"
                     f" 'detail', {_case(checks, 'detail')}) END")
        columns.append(f"{value} AS {quote_identifier(column)}")
    return (
        f"SELECT {', '.join(columns)} FROM (SELECT *, {_case(checks, 'reason')} AS _reason"
        f" FROM {layout.relation(relation, ctx)})"
    )


def table_select(layout: FileLayout, ctx: SqlContext, relation: str) -> str:
    """The SELECT for a small, non-event table: target columns plus ``_reason``/``_detail``."""
    mapping = layout.mapping(ctx)
    checks = list(layout.checks(ctx))
    columns = ", ".join(f"{expr} AS {quote_identifier(name)}" for name, expr in mapping.items())
    return (
        f"SELECT {columns}, {_case(checks, 'reason')} AS _reason,"
        f" {_case(checks, 'detail')} AS _detail, {layout.key_expression()} AS _key"
        f" FROM {layout.relation(relation, ctx)}"
    )


def utc_naive(moment: datetime) -> datetime | None:
    """``moment`` in UTC without a zone, as the store keeps times (a naive time is taken to
    be UTC already); None where the conversion leaves the calendar (year 1 or 9999 shifted).

    >>> utc_naive(datetime.fromisoformat("2024-03-01 09:00:00+01:00"))
    datetime.datetime(2024, 3, 1, 8, 0)
    """
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return None
