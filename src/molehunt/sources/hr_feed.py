"""HR feeds: resignations, leaving dates, job level changes and reviews, into ``hr_events``.

Three layouts of family ``hr`` (``molehunt ingest hr FILE|DIR``; ``ingest auto`` recognises
them by content):

* ``hr.purview`` — the CSV that Microsoft Purview's HR connector uploads (Microsoft Learn,
  "Set up a connector to import HR data"): ``EmailAddress`` (the UPN) with
  ``ResignationDate``/``LastWorkingDate`` (employee resignation), ``EffectiveDate`` with
  ``OldLevel``/``NewLevel`` (job level change), ``Remarks``/``Rating`` (performance review)
  or ``ImprovementRemarks``/``PerformanceRating`` (performance improvement plan), one file
  per scenario or one file with an ``HRScenario`` column saying each row's scenario.
  Microsoft's own multi-scenario sample leaves a row's trailing empty columns out; such a
  short row is read as if they were there. Employee profile rows (the connector's preview
  scenario) describe a person, not an event: they are quarantined as such, never dropped.
* ``hr.workday`` — a Workday custom report fetched as JSON through Reports-as-a-Service
  (``...?format=json``): ``{"Report_Entry": [{...}, ...]}``, one object per row, keyed by the
  report's field aliases. The aliases are the report writer's choice; the usual ones are
  known (``Employee_ID``, ``Email_Address``/``Primary_Work_Email``, ``Business_Process_Type``,
  ``Effective_Date``, ``Hire_Date``, ``Termination_Date``, ``Last_Day_of_Work``,
  ``Resignation_Date``/``Notification_Date``, ``Primary_Reason``, ``Supervisory_Organization``,
  see :data:`WORKDAY_FIELDS`), and the ``[hr_csv]`` column map names any other. A row of an
  event report says what happened in its business process type (and reason); a row of a
  worker roster without one is read from its dates (a notice, else a termination, else the
  hire).
* ``hr.csv`` — any HR system's CSV, its columns named in ``molehunt.toml``::

      [hr_csv]
      person = "Work Email"        # e-mail address, UPN or directory user id
      date = "Event Date"
      kind = "Event"
      leave_date = "Last Day"      # optional: department, days, remarks
      [hr_csv_kinds]
      "Voluntary Resignation" = "resignation_notice"

  A kind value that is no ``hr_events`` kind and not in ``[hr_csv_kinds]`` is read by its
  words (``resign``, ``terminat``, ``hire``, ``layoff``, ...), else quarantined.

What becomes what: a resignation is one ``resignation_notice`` on the day notice was given,
its last working day in ``attrs.leave_date`` (the features count the days to departure from
it); a last working day alone is a ``termination`` on that day; a job level change a
``transfer``; a performance review a ``performance_review`` (context: everyone gets one);
an improvement plan a ``performance_concern``; hires, layoffs (with the department as
``attrs.department``, which the layoff features group by) and travel as named. Only the mapped
fields are kept in ``attrs`` (levels, rating, remarks, department, days), not the whole HR
record: the HR system holds the rest.

People. An HR feed names people by address or employee id, and the store keys everything by
the directory's ``user_id``; so these layouts resolve each row through the directory (an
e-mail address or UPN matching a directory row's ``email``, valid on the event's day when
the address passed from one person to another, else an id that is a directory ``user_id``).
A row whose person the directory does not know is quarantined ("person not in the
directory"), never stored under a guess and never dropped: load the directory (LDAP
snapshots or ``ingest jsonl --table directory``) first; the same file ingested again once
the directory has changed is read again, its stored rows count as duplicates and its new
quarantine replaces the old one.

Time. Dates are ISO 8601 (with or without a time and an offset; Workday's ``2024-03-01-08:00``
too) or US ``M/D/YYYY``; a two-digit year is refused, an event outside the plausible window
(``earliest_event`` … a day after the ingest) is quarantined, and so is a leaving date more
than a year before its notice or more than three years after it.

Counting. Every CSV record is counted by :func:`molehunt.sources._lines.normalise`, which
reads the file apart from the CSV parser (and quarantines a stray quote's line so that the
rest is read); a Workday report's entries are counted by DuckDB's JSON reader. The ingest
commits a file only when that count equals stored + duplicates + quarantined.

Each event has no id of its own: its key (``attrs.key``) is derived from what it says (the
person as written, kind, time and the HR fields: :func:`molehunt.sources.m365_audit.hr_key`),
so a feed exported again with the same facts stores nothing twice.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from molehunt.errors import SourceError
from molehunt.schema import HR_EVENT_KINDS
from molehunt.sources._files import open_binary, open_utf8
from molehunt.sources._lines import LineCounter, normalise, utf8_lines
from molehunt.sources.base import People, RecordLayout, SqlContext, Unreadable
from molehunt.sources.m365_audit import (
    M365Audit,
    _dump,
    _quote,
    _timestamp,
    _visible,
    hr_key,
)
from molehunt.sql import sql_string

#: Words of a scenario, business process, reason or kind value → our kind, tried in order
#: (an improvement plan before a review; a resignation before a termination).
KIND_WORDS: tuple[tuple[str, str], ...] = (
    ("improvement", "performance_concern"), ("performance", "performance_review"),
    ("review", "performance_review"), ("resign", "resignation_notice"), ("layoff", "layoff"),
    ("lay off", "layoff"), ("reduction in force", "layoff"), ("redundan", "layoff"),
    ("terminat", "termination"), ("hire", "hire"), ("job level", "transfer"),
    ("promot", "transfer"), ("demot", "transfer"), ("transfer", "transfer"),
    ("change job", "transfer"), ("job change", "transfer"), ("travel", "travel"),
    ("trip", "travel"), ("outside", "outside_engagement_declared"),
    ("relationship", "relationship_declared"),
)
#: Purview's HR fields kept in ``attrs`` (lower-cased names, as Purview's audit HR signals
#: carry them too, so that the same fact gets the same key from either).
_PURVIEW_ATTRS = ("oldlevel", "newlevel", "remarks", "rating", "performanceremarks",
                  "performancerating", "improvementremarks", "improvementrating")
_PROFILE_COLUMNS = frozenset({"employeefirstname", "employeelastname", "employeeaddline1",
                              "employeeaddressline1", "employeezipcode"})

#: Workday report field aliases (lower-cased, without ``_``, spaces or ``-``) per field.
WORKDAY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "email": ("emailaddress", "primaryworkemail", "workemail", "emailprimarywork", "email",
              "userprincipalname", "upn"),
    "person_id": ("employeeid", "workerid", "employeeidentifier", "userid"),
    "kind": ("businessprocesstype", "businessprocess", "eventtype", "event", "hrscenario",
             "transactiontype", "kind"),
    "reason": ("primaryreason", "reason", "terminationreason", "eventreason"),
    "effective": ("effectivedate", "eventdate", "date"),
    "hire": ("hiredate", "originalhiredate", "startdate"),
    "notice": ("resignationdate", "notificationdate", "noticedate"),
    "leave": ("lastdayofwork", "lastworkingdate", "terminationdate"),
    "termination": ("terminationdate", "lastdayofwork", "lastworkingdate"),
    "department": ("supervisoryorganization", "department", "costcenter"),
    "oldlevel": ("oldlevel", "priormanagementlevel", "previousjoblevel"),
    "newlevel": ("newlevel", "managementlevel", "joblevel"),
    "rating": ("rating", "performancerating", "overallrating", "reviewrating"),
    "remarks": ("remarks", "comments", "comment"),
    "days": ("days", "tripdays"),
}
_ZONED_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})[+-]\d{2}:\d{2}$")
_US_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d+$")
#: A date whose year has two digits (``04/23/24``, ``23.04.24``, ``23-Apr-24``).
_TWO_DIGIT_YEAR = re.compile(r"^\d{1,2}[/.\-](\d{1,2}|[A-Za-z]{3})[/.\-]\d{2}(\s.*)?$")
_REPORT_ENTRY = re.compile(r'"Report_Entry"\s*:\s*\[')
#: A leaving date further from its notice than this is taken for a typing error.
_LEAVE_BEFORE = timedelta(days=366)
_LEAVE_AFTER = timedelta(days=3 * 366)


def _key(name: str) -> str:
    """A header or field name as a lookup key.

    >>> _key(" Last_Day_of-Work ")
    'lastdayofwork'
    """
    return re.sub(r"[\s_\-]", "", name.lstrip("\ufeff")).lower()


def kind_from_words(text: str) -> str | None:
    """The ``hr_events`` kind a scenario, business process or reason names, or None.

    >>> kind_from_words("Terminate Employee > Voluntary > Resignation")
    'resignation_notice'
    >>> kind_from_words("Job level change"), kind_from_words("Lunch")
    ('transfer', None)
    """
    lowered = text.strip().lower()
    if lowered in HR_EVENT_KINDS:
        return lowered
    return next((kind for word, kind in KIND_WORDS if word in lowered), None)


def parse_date(text: str | None) -> datetime | None:
    """An HR date or time as naive UTC, or None when it is none.

    >>> parse_date("2019-04-29T15:18:02.7117540"), parse_date("2024-03-01-08:00")
    (datetime.datetime(2019, 4, 29, 15, 18, 2, 711754), datetime.datetime(2024, 3, 1, 0, 0))
    >>> parse_date("3/1/2024"), parse_date("3/1/24")
    (datetime.datetime(2024, 3, 1, 0, 0), None)
    """
    if text is None or not text.strip():
        return None
    value = text.strip()
    zoned = _ZONED_DATE.match(value)
    if zoned:
        value = zoned.group(1)  # a date is a date wherever it was written down
    if _US_DATE.match(value):
        try:
            return datetime.strptime(value, "%m/%d/%Y")
        except ValueError:
            return None
    return _timestamp(value)


def _window(ctx: SqlContext) -> tuple[datetime, datetime] | None:
    if ctx.time_window is None:
        return None
    return (datetime.fromisoformat(ctx.time_window[0]),
            datetime.fromisoformat(ctx.time_window[1]))


class _HrFeed(RecordLayout):
    """What the three HR layouts share: the row they make, people, time and counting."""

    family = "hr"
    family_title = ("HR feeds (Purview HR connector CSV, Workday report JSON, an HR CSV mapped"
                    " in molehunt.toml) into hr_events")
    target = "hr_events"
    source = "hr"
    resolves_people = True
    #: A feed of departures: a file covering months and naming no resignation means that
    #: nobody resigned then (rows of other kinds show themselves, see molehunt.store.coverage).
    observes = frozenset({"hr_departure"})
    columns: ClassVar[Mapping[str, str]] = {
        "record_id": "VARCHAR", "user_id": "VARCHAR", "person": "VARCHAR", "shape": "VARCHAR",
    }
    order = 4  # after the directory (1), which resolves the people

    def event(self, ctx: SqlContext, *, person: str | None, kind: str, when: str | None,
              when_field: str, attrs: dict[str, Any], where: tuple[int, int, str],
              leave: str | None = None, shape: str) -> dict[str, Any] | Unreadable:
        """One ``hr_events`` row, or why the record cannot be one (``where``: its line,
        record number and raw text)."""
        line, number, raw = where
        if not person or not person.strip():
            return Unreadable(line, number, "no person", "the row names nobody", raw)
        ts = parse_date(when)
        if ts is None and when and _TWO_DIGIT_YEAR.match(when.strip()):
            return Unreadable(line, number, "two-digit year",
                              f"{when_field} {when!r}: a two-digit year is ambiguous", raw)
        if ts is None:
            return Unreadable(line, number, "unparseable date",
                              f"{when_field} {when!r}" if when else f"{when_field} missing", raw)
        refused = _time_refused(ts, ctx)
        if refused is not None:
            return Unreadable(line, number, refused[0], f"{when_field}: {refused[1]}", raw)
        if leave is not None and leave.strip():
            leaves = parse_date(leave)
            if leaves is None and _TWO_DIGIT_YEAR.match(leave.strip()):
                return Unreadable(line, number, "two-digit year",
                                  f"leaving date {leave!r}: a two-digit year is ambiguous", raw)
            if leaves is None:
                return Unreadable(line, number, "unparseable date",
                                  f"leaving date {leave!r}", raw)
            if leaves.year < 100:
                return Unreadable(line, number, "two-digit year",
                                  f"leaving date {leave!r}: a two-digit year is ambiguous", raw)
            if not ts - _LEAVE_BEFORE <= leaves <= ts + _LEAVE_AFTER:
                return Unreadable(line, number, "implausible leaving date",
                                  f"leaving date {leaves.date()} for a notice on {ts.date()}",
                                  raw)
            attrs["leave_date"] = leaves.date().isoformat()
        people = ctx.people or People({}, {})
        user_id, unresolved = people.resolve(person, ts.date())
        if user_id is None:
            hint = ("no directory is loaded: ingest it first, then this file again"
                    if not people.by_email and not people.by_id else
                    "no directory row has this address or id")
            return Unreadable(line, number, unresolved or "person not in the directory",
                              f"{person.strip()!r} on {ts.date()}: {hint}", raw)
        written = person.strip()
        key = hr_key(written.lower(), kind, ts, attrs)
        attrs.update(source=self.name, key=key)
        if written != user_id:
            attrs["person"] = written
        return {"record_id": key, "user_id": user_id, "person": written, "shape": shape,
                "_line": line, "_record": number, "_raw": raw, "_dest": "hr_events",
                "hr_kind": kind, "hr_ts": ts, "hr_attrs": _dump(attrs)}


def _time_refused(ts: datetime, ctx: SqlContext) -> tuple[str, str] | None:
    """The reason and detail that quarantine an event at ``ts``, or None (as
    :func:`molehunt.sources.base.time_checks`, here so that the time's reason comes before
    the person's)."""
    if ts.year < 100:
        return "two-digit year", f"year {ts.year} has fewer than four digits"
    window = _window(ctx)
    if window is not None and not window[0] <= ts <= window[1]:
        return ("implausible time", f"time {ts} is outside the plausible window {window[0]}"
                f" to {window[1]}")
    return None


class _CsvFeed(_HrFeed):
    """An HR CSV read through the independent line reader (see the module docstring)."""

    def records(self, path: Path, ctx: SqlContext) -> Iterator[dict[str, Any] | Unreadable]:
        """Every row of the file as an HR event or the reason it is none."""
        header = _csv_header(path)
        if header is None:
            # the header's line is the first: rows read against another would be guesses
            raise SourceError("the first line is empty or not UTF-8; an HR CSV starts with its"
                              " header; nothing of this file was stored", where=str(path))
        csv.field_size_limit(max(csv.field_size_limit(), 4 * 1024 * 1024))
        with tempfile.TemporaryDirectory(prefix="hr-", dir=self.scratch) as folder:
            copy = Path(folder) / "normalised.csv"
            scan = normalise(path, copy, has_header=True, n_fields=len(header))
            self.independent_count = scan.records
            number = 0
            for bad in scan.bad:
                number += 1
                yield Unreadable(bad.line or 0, number, bad.reason, bad.detail, bad.raw or "")
            keys = [_key(f) for f in header]
            for line, fields, raw in _csv_rows(copy):
                number += 1
                where = (line, number, raw)
                if any(_has_bad_bytes(f) for f in fields):
                    yield Unreadable(line, number, "invalid UTF-8",
                                     "the row holds bytes that are not UTF-8", raw)
                elif [_key(f) for f in fields] == keys:
                    yield Unreadable(line, number, "repeated header",
                                     "the header line again (files appended)", raw)
                elif len(fields) > len(keys):
                    yield Unreadable(line, number, "wrong field count",
                                     f"{len(fields)} fields, the header has {len(keys)}", raw)
                else:
                    values = {k: v.strip() for k, v in zip(keys, fields, strict=False)}
                    yield self.row(values, keys, ctx, where)

    def row(self, values: Mapping[str, str], header: Sequence[str], ctx: SqlContext,
            where: tuple[int, int, str]) -> dict[str, Any] | Unreadable:
        """One CSV row (keys as :func:`_key` makes them) as an event."""
        raise NotImplementedError


class PurviewHrCsv(_CsvFeed):
    """Microsoft Purview HR connector CSV (resignations, job levels, reviews, improvement plans)."""

    name = "hr.purview"

    @classmethod
    def sniff(cls, head: str) -> bool:
        """A CSV header with ``EmailAddress`` and a date column of an HR scenario, and not the
        audit log's (a Sentinel ``OfficeActivity`` export has those columns among its own)."""
        header = _header_of(head)
        return "emailaddress" in header and bool(
            header & {"resignationdate", "lastworkingdate", "effectivedate"}
        ) and not M365Audit.sniff(head)

    def row(self, values: Mapping[str, str], header: Sequence[str], ctx: SqlContext,
            where: tuple[int, int, str]) -> dict[str, Any] | Unreadable:
        """The scenario from ``HRScenario``, else from the fields the row fills in."""
        line, number, raw = where
        scenario = values.get("hrscenario", "")
        filled = {k for k, v in values.items() if v}
        if "employee profile" in scenario.lower() or (
                not scenario and filled & _PROFILE_COLUMNS
                and not filled & {"resignationdate", "lastworkingdate", "effectivedate"}):
            return Unreadable(line, number, "employee profile, not an HR event",
                              "the connector's employee profile describes a person; the"
                              " directory holds that", raw)
        kind = kind_from_words(scenario) if scenario else _purview_kind(filled, set(header))
        if kind is None:
            return Unreadable(line, number, "HR row of unknown kind",
                              f"HRScenario {scenario!r}" if scenario else
                              "no ResignationDate, LastWorkingDate, level, review or"
                              " improvement field", raw)
        attrs: dict[str, Any] = {k: values[k] for k in _PURVIEW_ATTRS if values.get(k)}
        shape = "purview_csv"
        person = values.get("emailaddress")
        if kind == "resignation_notice":
            when, field = values.get("resignationdate"), "ResignationDate"
            if not when:  # a resignation row with its last working day only
                return self.event(ctx, person=person, kind="termination",
                                  when=values.get("lastworkingdate"),
                                  when_field="LastWorkingDate", attrs=attrs, where=where,
                                  shape=shape)
            return self.event(ctx, person=person, kind=kind, when=when, when_field=field,
                              attrs=attrs, where=where, leave=values.get("lastworkingdate"),
                              shape=shape)
        if kind == "termination":
            return self.event(ctx, person=person, kind=kind,
                              when=values.get("lastworkingdate") or values.get("effectivedate"),
                              when_field="LastWorkingDate", attrs=attrs, where=where,
                              shape=shape)
        return self.event(ctx, person=person, kind=kind, when=values.get("effectivedate"),
                          when_field="EffectiveDate", attrs=attrs, where=where, shape=shape)


#: Columns that only one of Purview's scenarios dated by ``EffectiveDate`` has, with the kind
#: (a job level change may carry ``Remarks`` and an improvement plan ``PerformanceRating``
#: too, so those tell nothing).
_SCENARIO_COLUMNS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"improvementremarks", "improvementrating"}), "performance_concern"),
    (frozenset({"oldlevel", "newlevel"}), "transfer"),
    (frozenset({"rating", "performanceremarks"}), "performance_review"),
)
_REVIEW_FIELDS = frozenset({"remarks", "rating", "performanceremarks", "performancerating"})


def _purview_kind(filled: set[str], header: set[str]) -> str | None:
    """A Purview row's kind without ``HRScenario``: its resignation dates; else the file's
    scenario when its columns are one scenario's (Microsoft's layout is a file per scenario,
    and a row may leave every optional field empty); else the fields the row fills in.

    >>> _purview_kind({"effectivedate", "performancerating"},
    ...               {"effectivedate", "improvementremarks", "performancerating"})
    'performance_concern'
    >>> _purview_kind({"effectivedate", "remarks"}, {"effectivedate", "remarks", "oldlevel"})
    'transfer'
    """
    if "resignationdate" in filled:
        return "resignation_notice"
    if "lastworkingdate" in filled:
        return "termination"
    if "effectivedate" not in filled:
        return None
    scenarios = [kind for columns, kind in _SCENARIO_COLUMNS if header & columns]
    if len(scenarios) == 1:
        return scenarios[0]
    for columns, kind in _SCENARIO_COLUMNS:
        if filled & columns:
            return kind
    return "performance_review" if filled & _REVIEW_FIELDS else None


class GenericHrCsv(_CsvFeed):
    """An HR system's CSV whose columns ``[hr_csv]`` in molehunt.toml names."""

    name = "hr.csv"

    @classmethod
    def sniff(cls, head: str) -> bool:
        """Never without settings: which columns matter is configured."""
        return False

    @classmethod
    def sniff_configured(cls, head: str, ctx: SqlContext) -> bool:
        """A CSV header holding the configured person, date and kind columns."""
        columns = dict(ctx.hr_columns)
        if not columns:
            return False
        header = _header_of(head)
        return all(_key(columns[f]) in header for f in ("person", "date", "kind"))

    def row(self, values: Mapping[str, str], header: Sequence[str], ctx: SqlContext,
            where: tuple[int, int, str]) -> dict[str, Any] | Unreadable:
        """The configured columns; the kind through ``[hr_csv_kinds]`` or its words."""
        line, number, raw = where
        columns = {field: _key(name) for field, name in ctx.hr_columns}
        if not columns:
            return Unreadable(line, number, "no column map",
                              "[hr_csv] in molehunt.toml names no columns", raw)
        said = values.get(columns["kind"], "")
        kind = dict(ctx.hr_kinds).get(said.lower()) or kind_from_words(said)
        if kind is None:
            return Unreadable(line, number, "HR row of unknown kind",
                              f"{said!r}: add it to [hr_csv_kinds]" if said else
                              "the kind column is empty", raw)
        attrs: dict[str, Any] = {}
        for field in ("department", "remarks"):
            if field in columns and values.get(columns[field]):
                attrs[field] = values[columns[field]]
        if "days" in columns and values.get(columns["days"]):
            try:
                attrs["days"] = int(values[columns["days"]])
            except ValueError:
                return Unreadable(line, number, "invalid days",
                                  f"days {values[columns['days']]!r} is no whole number", raw)
        if said.lower() != kind:
            attrs["hr_kind"] = said
        leave = values.get(columns["leave_date"]) if "leave_date" in columns else None
        return self.event(ctx, person=values.get(columns["person"]), kind=kind,
                          when=values.get(columns["date"]), when_field="date", attrs=attrs,
                          where=where, leave=leave if kind == "resignation_notice" else None,
                          shape="csv")


class WorkdayReport(_HrFeed):
    """Workday custom report as JSON (Reports-as-a-Service, ``Report_Entry``)."""

    name = "hr.workday"

    @classmethod
    def sniff(cls, head: str) -> bool:
        """A JSON object whose first key is ``Report_Entry``."""
        return bool(re.match(r'\s*\{\s*"Report_Entry"\s*:', head.lstrip("\ufeff")))

    def records(self, path: Path, ctx: SqlContext) -> Iterator[dict[str, Any] | Unreadable]:
        """Every entry of the report (up to damage in the JSON: the rest is one record)."""
        self.independent_count = _count_entries(path, self.scratch)
        with open_utf8(path) as handle:
            # bytes that are not UTF-8 stay visible, so that their entry is quarantined
            text = handle.read().decode("utf-8", "surrogateescape").removeprefix("\ufeff")
        found = _REPORT_ENTRY.search(text)
        if found is None:
            yield Unreadable(1, 1, "not a Workday report", "no Report_Entry array",
                             text[:2000])
            return
        decoder = json.JSONDecoder()
        position, line, number = found.end(), 1 + text.count("\n", 0, found.end()), 0
        expect_value = True
        while True:
            while position < len(text) and text[position] in " \t\r\n":
                line += text[position] == "\n"
                position += 1
            if position >= len(text):
                number += 1
                yield Unreadable(line, number, "truncated report",
                                 "the file ends before Report_Entry's closing ]", "")
                return
            if text[position] == "]" and not (expect_value and number):
                return
            if text[position] == "," and not expect_value:
                position, expect_value = position + 1, True
                continue
            number += 1
            start, start_line = position, line
            try:
                if not expect_value:
                    raise ValueError("expected , or ] between entries")
                value, position = decoder.raw_decode(text, position)
            except (ValueError, RecursionError) as error:
                rest = text[start:]
                yield Unreadable(start_line, number, "invalid JSON",
                                 f"{error}; the rest ({len(rest)} characters) cannot be read",
                                 _visible(rest[:2000]))
                return
            expect_value = False
            raw = text[start:position]
            line += raw.count("\n")
            if _has_bad_bytes(raw):
                yield Unreadable(start_line, number, "invalid UTF-8",
                                 "the entry holds bytes that are not UTF-8", _visible(raw))
            else:
                yield self.entry(value, ctx, (start_line, number, raw))

    def entry(self, value: object, ctx: SqlContext, where: tuple[int, int, str]
              ) -> dict[str, Any] | Unreadable:
        """One ``Report_Entry`` object as an event."""
        line, number, raw = where
        if not isinstance(value, dict):
            return Unreadable(line, number, "not a JSON object",
                              f"got {type(value).__name__}", raw)
        fields = {_key(str(k)): _text(v) for k, v in value.items()}
        configured = {field: _key(name) for field, name in ctx.hr_columns}

        def get(field: str, *aliases: str) -> str | None:
            names = [configured[field]] if field in configured else []
            names += list(aliases or WORKDAY_FIELDS.get(field, ()))
            return next((fields[n] for n in names if fields.get(n)), None)

        person = get("person", *WORKDAY_FIELDS["email"], *WORKDAY_FIELDS["person_id"])
        said = get("kind")
        reason = get("reason") or ""
        kind = (dict(ctx.hr_kinds).get(said.lower()) or kind_from_words(said)) if said else None
        notice = get("notice")
        if kind is None and said is None:
            kind = ("resignation_notice" if notice else
                    "termination" if get("termination") else "hire" if get("hire") else None)
        if kind == "termination" and (notice or "resign" in reason.lower()):
            kind = "resignation_notice" if notice else kind
        elif kind in ("termination", None) and said and kind_from_words(reason) == "layoff":
            kind = "layoff"
        if kind is None:
            return Unreadable(line, number, "HR row of unknown kind",
                              f"business process {said!r}" if said else
                              "no business process type, notice, termination or hire date",
                              raw)
        attrs: dict[str, Any] = {}
        for field in ("oldlevel", "newlevel", "rating", "remarks", "department"):
            found = get(field)
            if found:
                attrs[field] = found
        if reason:
            attrs["reason"] = reason
        if said:
            attrs["business_process"] = said
        hired = get("hire")
        if hired and kind != "hire":
            attrs["hire_date"] = hired
        days = get("days")
        if kind == "travel" and days:
            try:
                attrs["days"] = int(float(days))
            except ValueError:
                return Unreadable(line, number, "invalid days", f"days {days!r}", raw)
        when, leave = {
            "hire": (get("date", *WORKDAY_FIELDS["hire"], *WORKDAY_FIELDS["effective"]), None),
            "resignation_notice": (get("date", *WORKDAY_FIELDS["notice"],
                                       *WORKDAY_FIELDS["effective"]), get("leave")),
            "termination": (get("date", *WORKDAY_FIELDS["termination"],
                                *WORKDAY_FIELDS["effective"]), None),
        }.get(kind, (get("date", *WORKDAY_FIELDS["effective"]), None))
        return self.event(ctx, person=person, kind=kind, when=when, when_field="date",
                          attrs=attrs, where=where, leave=leave, shape="workday_json")


def _text(value: object) -> str | None:
    """A report field as text: a reference as its descriptor, a list as its first item."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = next((v for k, v in value.items()
                      if str(k).lower() in ("descriptor", "id", "email", "value")), None)
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _count_entries(path: Path, scratch: Path | None) -> int | None:
    """How many entries the report's ``Report_Entry`` holds, by DuckDB's JSON reader (None
    when DuckDB cannot read the document: then only the parser counts)."""
    with open_binary(path) as handle:
        data = handle.read()
    with tempfile.TemporaryDirectory(prefix="hr-", dir=scratch) as folder:
        plain = Path(folder) / "report.json"
        plain.write_bytes(data)  # decompressed, whatever the file's name says
        con = duckdb.connect()
        try:
            row = con.execute(
                "SELECT json_array_length(json, '$.Report_Entry') FROM read_json_objects("
                f"{sql_string(str(plain))}, format='unstructured',"
                f" maximum_object_size={max(len(data) + 1, 1024 * 1024)})").fetchall()
        except duckdb.Error:
            return None
        finally:
            con.close()
    if len(row) != 1 or row[0][0] is None:
        return None
    return int(row[0][0])


def _has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in text)


def _header_of(head: str) -> set[str]:
    """The keys of a CSV header line at the start of a file."""
    text = head.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        return set()
    first = text.splitlines()[0] if text else ""
    return {_key(f) for f in next(csv.reader([first]), [])}


def _csv_header(path: Path) -> list[str] | None:
    """The header fields of a CSV file (None when its first line is empty)."""
    torn: list[BaseException] = []
    for line, _, undecodable in utf8_lines(path, "utf-8", torn):
        if undecodable is not None or not line.strip():
            return None
        return next(csv.reader([line.decode("utf-8", "replace")]), None)
    return None


def _csv_rows(copy: Path) -> Iterator[tuple[int, list[str], str]]:
    """(line, fields, raw text) of every record of a normalised copy after its header."""
    with copy.open("r", encoding="utf-8", errors="surrogateescape", newline="") as handle:
        counter = LineCounter(handle)
        reader = csv.reader(counter)
        next(reader, None)
        while True:
            start = counter.count + 1
            fields = next(reader, None)
            if fields is None:
                return
            if not fields:
                continue
            yield start, fields, _visible(",".join(_quote(f) for f in fields))


__all__ = ["KIND_WORDS", "WORKDAY_FIELDS", "GenericHrCsv", "PurviewHrCsv", "WorkdayReport",
           "kind_from_words", "parse_date"]
