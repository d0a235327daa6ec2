"""Computing the feature tables into the workspace, incrementally.

Layout under ``<workspace>/features/``::

    state.json                     what has been computed: ingest batches included, catalogue
    user_day/FIRST_LAST.parquet    one row per person and active day: every catalogue column,
                                   the person's role and department that day, the deviations
    user_week/FIRST_LAST.parquet   the same per ISO week (``week``: its Monday), combined per
                                   feature rule
    sessions/FIRST_LAST.parquet    one row per logon session
    host_days/FIRST_LAST.parquet   one row per person, day and computer used (logons, events)
    outbound/FIRST_LAST.parquet    what left the company: person, day, channel, sensitivity,
                                   document, events, bytes (the ledger's detail)
    ledger.parquet                 per person, channel and sensitivity: everything that ever
                                   left, with first and last day (no 30- or 90-day cut-off)
    first_seen.parquet             per person: when each computer, recipient, domain was
                                   first seen (the novelty state)
    ledger_documents.parquet       the ledger per document (what a daily run extends)
    ledger_families.parquet        per person and content family (the documents' project):
                                   first and last day, highest sensitivity, events, bytes,
                                   documents and channels
    host_usage.parquet             per computer and person: days used (whose machine it is)
    baseline_state.parquet         each person's last active days of the tracked columns and
                                   whole-history sums (what a daily run's baselines read)

A run finds the ingest batches not yet included, computes from the earliest day they touch
to the last day in the store, and replaces only those days (each day-keyed table is a
folder of segments, one per run: see :mod:`molehunt.features.io`). Every value uses only
what was known on its day, so a daily run gives the same tables as a full rebuild. A run that
starts after the last computed day reads the compact states instead of the history.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import pyarrow.compute as pc

from molehunt.content.protect import protect_list, read_batch_table
from molehunt.domains import load_domain_categories
from molehunt.errors import StoreError
from molehunt.features import baselines
from molehunt.features.catalogue import Feature, catalogue, families
from molehunt.features.enrich import (
    FeatureSettings,
    as_enriched,
    categorised,
    category_table,
    heavy_events,
    light_groups,
    web_domains_first_seen,
)
from molehunt.features.families.hosts import host_days as host_days_of
from molehunt.features.families.hosts import host_usage
from molehunt.features.io import read, read_days, replace_days, segment_path, write
from molehunt.store.connect import Store, connect
from molehunt.store.coverage import OBSERVATIONS, Span, coverage
from molehunt.store.directory import directory_is_stale, infer_company_domains, rebuild_directory
from molehunt.store.people import changed_alias_day, read_aliases
from molehunt.store.workspace import Workspace

#: Bumped when a stored table changes meaning (6: layoffs from the directory without HR; 7: a
#: directory wave may span two snapshots; 8: a column the deployment cannot observe is null;
#: 9: first-seen history holds paste and leak sites; 10: layoffs from activity without HR).
STATE_VERSION = 10
#: Ranges up to this many days get their own-history baselines by joining each person-day to
#: its earlier days; longer ranges compute the windows over the whole history in one pass.
SHORT_RANGE_DAYS = 14
#: Compact states a daily run extends instead of re-reading the history.
_APPEND_STATES = ("baseline_state.parquet", "ledger_documents.parquet", "ledger.parquet",
                  "host_usage.parquet")
#: Cumulative (whole-history) columns: name → the daily column they add up.
CUMULATIVE: dict[str, str] = {
    "events_out_all": "events_out_1d",
    "bytes_out_all": "bytes_out_1d",
    "events_out_sensitive_all": "events_out_sensitive_1d",
    "events_out_crown_jewel_all": "events_out_crown_jewel_1d",
}
#: Context columns of ``user_day`` (from the directory as of the day).
CONTEXT = ("role", "department", "business_unit", "team")
Progress = Callable[[str, float | None], None]


@dataclass
class FeatureInputs:
    """What family ``derive`` functions receive: lazy tables for the days being computed.

    ``enriched`` holds the events that keep a row of their own (see
    :func:`~molehunt.features.enrich.heavy_events`); ``host_days`` one row per person, day
    and computer; ``host_usage`` how many days each person used each computer before ``start``
    (``None`` when nothing was computed before).
    """

    enriched: ibis.Table
    host_days: ibis.Table
    host_usage: ibis.Table | None
    user_days: ibis.Table
    context: ibis.Table
    first_seen: ibis.Table
    hr_events: ibis.Table
    directory: ibis.Table
    start: dt.date
    end: dt.date
    #: One row per person and day with any event (``user_id``, ``day``), from
    #: :data:`ACTIVITY_LOOKBACK_DAYS` before ``start`` to ``end``: who stopped appearing.
    activity: ibis.Table | None = None


#: Days of activity before the first computed day that families can read (``activity``):
#: waves seen in the logs count for 90 days and each needs 51 days of activity before it
#: (``families.hr``), so a daily run finds every wave a rebuild finds.
ACTIVITY_LOOKBACK_DAYS = 150


@dataclass
class BuildSummary:
    """What one ``molehunt features`` run did."""

    start: dt.date | None
    end: dt.date | None
    days: int
    user_days: int
    seconds: float
    full: bool
    backend: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None, "days": self.days,
                "user_days": self.user_days, "seconds": round(self.seconds, 2),
                "full": self.full, "backend": self.backend}


class FeatureStore:
    """The feature tables of one workspace (see the module docstring for the layout)."""

    TABLES = ("user_day", "user_week", "sessions", "outbound", "host_days")

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.root = workspace.root / "features"

    @property
    def state_path(self) -> Path:
        """The JSON file recording what has been computed."""
        return self.root / "state.json"

    @property
    def aliases(self) -> Path:
        """The alias table the computed features were resolved through (a copy)."""
        return self.root / "people_aliases.parquet"

    def state(self) -> dict[str, Any]:
        """The recorded state (empty when nothing has been computed)."""
        if not self.state_path.exists():
            return {}
        try:
            loaded: dict[str, Any] = json.loads(self.state_path.read_text("utf-8"))
        except (OSError, ValueError) as error:
            raise StoreError(f"unreadable feature state: {error}", where=str(self.state_path)
                             ) from None
        return loaded

    def table(self, store: Store, name: str) -> ibis.Table | None:
        """A stored feature table on ``store``'s backend (``None`` before the first run)."""
        if name in ("ledger", "ledger_families", "ledger_documents", "first_seen"):
            return read(store, self.root / f"{name}.parquet")
        return read_days(store, self.root / name, "week" if name == "user_week" else "day")


def catalogue_signature() -> str:
    """A hash of the catalogue's columns: a different catalogue forces a full rebuild."""
    # what a column observes decides where it is null: a change rebuilds too
    names = [f"{f.name}:{f.unit}:{f.baseline}:{f.peers}:{','.join(f.observes)}"
             for f in catalogue()]
    text = "|".join([*names, *baselines.SELF_WINDOWS, str(STATE_VERSION)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def feature_settings(workspace: Workspace) -> FeatureSettings:
    """The feature settings of a workspace (company domains inferred when not set)."""
    settings = workspace.settings()
    companies = settings.company_domains or infer_company_domains(workspace)
    categories = load_domain_categories(settings.domain_category_files, settings.competitors)
    return FeatureSettings(company_domains=tuple(companies), categories=categories)


# -- what needs computing -----------------------------------------------------------------
@dataclass(frozen=True)
class _Batch:
    batch_id: str
    target: str
    layout: str
    min_day: str | None
    max_day: str | None


def _batches(workspace: Workspace) -> list[_Batch]:
    with workspace.manifest(write=False) as db:
        rows = db.execute("SELECT batch_id, target, layout, min_day, max_day FROM batches"
                          " WHERE state = 'committed'").fetchall()
    return [_Batch(str(b), str(t), str(layout), lo, hi) for b, t, layout, lo, hi in rows]


def _earliest_day(workspace: Workspace, table: str, batch: _Batch, column: str
                  ) -> dt.date | None:
    """The earliest date in one batch file of a per-batch table (``None`` if unknown)."""
    path = workspace.table_dir(table) / f"{batch.batch_id}.parquet"
    if not path.exists():
        return None
    with contextlib.closing(duckdb.connect()) as con:
        row = con.execute(f"SELECT min(CAST({column} AS DATE)) FROM read_parquet(?)",
                          [os.fspath(path)]).fetchone()
    return row[0] if row and row[0] is not None else None


def earliest_changed_day(workspace: Workspace, included: set[str],
                         first_event_day: dt.date) -> dt.date | None:
    """The earliest day whose features the committed batches not in ``included`` may change
    (no earlier than ``first_event_day``; ``None`` when they change nothing)."""
    earliest: dt.date | None = None

    def touch(day: dt.date | None) -> None:
        nonlocal earliest
        day = first_event_day if day is None else max(day, first_event_day)
        earliest = day if earliest is None else min(earliest, day)

    for batch in _batches(workspace):
        if batch.batch_id in included:
            continue
        if batch.target == "events":
            touch(dt.date.fromisoformat(batch.min_day) if batch.min_day else None)
        elif batch.target == "ldap":
            month = batch.layout.rpartition("@")[2]
            touch(dt.date.fromisoformat(month + "-01") if len(month) == 7 else None)
        elif batch.target == "hr_events":
            touch(_earliest_day(workspace, "hr_events", batch, "ts"))
        elif batch.target == "documents":
            touch(_earliest_day(workspace, "documents", batch, "created"))
        elif batch.target == "directory_rows":
            touch(_earliest_day(workspace, "directory_rows", batch, "valid_from"))
        elif batch.target == "content_matches":
            touch(dt.date.fromisoformat(batch.min_day) if batch.min_day else None)
    return earliest


# -- the computation ---------------------------------------------------------------------
def first_seen_candidates(web_domains: ibis.Table, enriched: ibis.Table,
                          host_days: ibis.Table, categories: ibis.Table) -> ibis.Table:
    """``user_id, kind, value, first_day`` for everything first seen in the computed days.

    ``web_domains`` is :func:`~molehunt.features.enrich.web_domains_first_seen` of the days'
    events, ``enriched`` their enriched rows, ``host_days`` the computers used and
    ``categories`` the domains' categories (:func:`~molehunt.features.enrich.category_table`).
    """
    leaks = web_domains.join(categories.filter(categories.category == "paste_leak"),
                             web_domains.domain == categories.cat_domain)
    e = enriched
    mail = e.filter(e.action == "email_send", e.domain.notnull())
    mail = mail.group_by(mail.user_id, mail.domain).aggregate(day=mail.day.min())
    # people write to the same lists again and again: split each distinct list once
    sent = e.filter(e.action == "email_send", e.recipients.notnull())
    sent = sent.group_by(sent.user_id, sent.recipients).aggregate(day=sent.day.min())
    # an unnest in the projection: as a table operation (a lateral join) it cost DuckDB
    # several times more
    recipients = sent.select(sent.user_id, sent.day,
                             value=sent.recipients.split(";").unnest())
    recipients = recipients.filter(recipients.value.strip() != "")
    hosts = host_days.group_by(host_days.user_id, host_days.host).aggregate(
        day=host_days.day.min())
    parts = [
        hosts.select(hosts.user_id, kind=ibis.literal("host"), value=hosts.host, day=hosts.day),
        hosts.group_by(hosts.user_id).aggregate(
            kind=ibis.literal("presence"), value=ibis.literal(""), day=hosts.day.min()),
        web_domains.select(web_domains.user_id, kind=ibis.literal("web_domain"),
                           value=web_domains.domain, day=web_domains.first_day),
        # a leak site new to someone who reads paste sites daily is still new
        leaks.select(leaks.user_id, kind=ibis.literal("leak_domain"), value=leaks.domain,
                     day=leaks.first_day),
        mail.select(mail.user_id, kind=ibis.literal("mail_domain"), value=mail.domain,
                    day=mail.day),
        e.filter(e.action == "device_connect").select(
            e.user_id, kind=ibis.literal("device"), value=ibis.literal(""), day=e.day),
        recipients.select(recipients.user_id, kind=ibis.literal("recipient"),
                          value=recipients.value.strip(), day=recipients.day),
    ]
    union = ibis.union(*parts)
    return union.group_by(union.user_id, union.kind, union.value).aggregate(
        first_day=union.day.min())


def user_context(user_days: ibis.Table, directory: ibis.Table) -> ibis.Table:
    """Each person-day with the directory's role and units on that day.

    The row valid on the day; before a person's first row, their first row; after their
    last, their last.
    """
    d = directory.select(d_user=directory.user_id, valid_from=directory.valid_from,
                         valid_to=directory.valid_to, **{c: directory[c] for c in CONTEXT})
    joined = user_days.left_join(d, user_days.user_id == d.d_user)
    valid = (joined.valid_from <= joined.day) & (
        joined.valid_to.isnull() | (joined.valid_to > joined.day))
    before = joined.valid_from > joined.day
    distance = joined.day.delta(joined.valid_from, unit="day").abs()
    rank = ibis.cases((valid, 0), (before, 2), else_=1)
    best = ibis.window(group_by=[joined.user_id, joined.day],
                       order_by=[rank, distance, joined.valid_from])
    chosen = joined.filter(ibis.row_number().over(best) == 0)
    return chosen.select(chosen.user_id, chosen.day, *[chosen[c] for c in CONTEXT])


def _integer(feature: Feature) -> bool:
    return feature.unit in ("events", "bytes", "documents", "hosts", "values", "pages",
                            "flag")


def event_aggregates(rows: ibis.Table) -> ibis.Table:
    """The families' event aggregates, one row per person and active day."""
    aggregates: dict[str, Any] = {}
    for family in families():
        if family.aggregates is not None:
            aggregates.update(family.aggregates(rows))
    return rows.group_by(rows.user_id, rows.day).aggregate(**aggregates)


#: Observations recorded as sparse facts, not as a stream of daily rows: once a deployment
#: has them they cover every day (a month without a resignation is still an HR feed that would
#: have shown one; a document's label holds before and after the reads that show it).
WHOLE_RANGE = frozenset({"hr_departure", "hr_travel", "hr_performance", "hr_layoff",
                         "hr_declarations", "directory", "document_labels"})


def feature_coverage(seen: Mapping[str, Span] | None) -> dict[str, Span] | None:
    """The coverage the feature build uses: ``seen`` with one HR feed covering every HR kind.

    Coverage infers the HR kinds from the records the feed holds, and a feed without a single
    travel or declaration in its months most likely has none to show (a small company, a
    quiet year): its columns read *saw none*, as the feed's other kinds do. Without any HR
    record every HR column is null.
    """
    if seen is None:
        return None
    found = dict(seen)
    hr = [name for name in OBSERVATIONS if name.startswith("hr_")]
    if any(name in found for name in hr):
        for name in hr:
            found.setdefault(name, (dt.date.min, dt.date.max))
    return found


def observed(feature: Feature, value: Any, day: Any, seen: Mapping[str, Span] | None) -> Any:
    """``value`` where the deployment covers every observation ``feature`` rests on, else null.

    Null means *cannot see* (DESIGN.md §6b): the observation is missing from ``seen`` (the
    workspace's :func:`~molehunt.store.coverage.coverage`), or ``day`` is before its first
    covered day (a feed connected later; for observations in :data:`WHOLE_RANGE`, any
    coverage covers every day). ``seen`` None: everything is seen.

    The end of a span does not cut: the last row of a sparse stream (drives, meetings) is
    often a Friday, and a daily run computing the Sunday would make it null where a rebuild a
    day later (the span reaching Monday) makes it 0. So a daily run equals a rebuild, and the
    days after a feed stops read as *saw none*, which the rows cannot tell from quiet days.
    """
    if seen is None or not feature.observes:
        return value
    if any(o not in seen for o in feature.observes):
        return ibis.null(value.type())
    first = max((seen[o][0] for o in feature.observes if o not in WHOLE_RANGE),
                default=dt.date.min)
    if first == dt.date.min:
        return value
    # every observation must be covered: the latest first covered day decides
    return ibis.cases((day >= first, value), else_=ibis.null(value.type()))


def daily_base(store: Store, base: ibis.Table, detail: ibis.Table, host_days: ibis.Table,
               host_usage: ibis.Table | None, first_seen: ibis.Table, start: dt.date,
               end: dt.date, seen: Mapping[str, Span] | None = None) -> ibis.Table:
    """Every catalogue column plus the day's context, one row per person and active day.

    A column whose observations ``seen`` (the coverage) does not cover on a day is null then
    (:func:`observed`); ``None``: every observation is seen.
    """
    keys = base.select(base.user_id, base.day)
    context = user_context(keys, store.directory)
    inputs = FeatureInputs(enriched=detail, host_days=host_days, host_usage=host_usage,
                           user_days=keys,
                           context=context,
                           first_seen=first_seen, hr_events=store.hr_events,
                           directory=store.directory, start=start, end=end,
                           activity=_activity(store, start, end))
    parts = [context.select("user_id", "day", *CONTEXT)]
    fills: dict[str, Any] = {}
    for family in families():
        if family.derive is None:
            continue
        derived = family.derive(inputs)
        # a family with aggregates too derives only the columns its aggregates leave out
        made = [f for f in family.features if f.name in derived.columns]
        parts.append(derived.select("user_id", "day", *[f.name for f in made]))
        fills.update({f.name: lambda column: column.fill_null(0) for f in made if _integer(f)})
    table = _joined_by_person_day(base, parts, fills)
    ordered = [f.name for f in catalogue()]
    casts = {f.name: ("int64" if _integer(f) else "float64") for f in catalogue()}
    by_name = {f.name: f for f in catalogue()}
    return table.select(table.user_id, table.day, *[table[c] for c in CONTEXT],
                        *[observed(by_name[n], table[n].cast(casts[n]), table.day, seen).name(n)
                          for n in ordered])


def _activity(store: Store, start: dt.date, end: dt.date) -> ibis.Table:
    events = store.events_of(start - dt.timedelta(days=ACTIVITY_LOOKBACK_DAYS), end)
    return events.select(events.user_id, events.day).distinct()


def _joined_by_person_day(table: ibis.Table, parts: list[ibis.Table],
                          fills: dict[str, Any] | None = None) -> ibis.Table:
    """``table`` with the other columns of each part, matched on ``user_id`` and ``day``.

    One chain of joins and one final projection: building and compiling a projection of a
    few hundred columns after every join costs Ibis more than the engine's work on a daily
    run. ``fills`` replaces a column by an expression of it (e.g. nulls by 0).
    """
    chain: Any = table
    picked: list[Any] = []
    for number, part in enumerate(parts):
        keys = {f"k{number}_user": "user_id", f"k{number}_day": "day"}
        renamed = part.rename(**keys)
        chain = chain.left_join(renamed, [table.user_id == renamed[f"k{number}_user"],
                                          table.day == renamed[f"k{number}_day"]])
        picked.extend(c for c in renamed.columns if c not in keys)
    fills = fills or {}
    return chain.select(*[chain[c] for c in table.columns],
                        *[fills[c](chain[c]).name(c) if c in fills else chain[c]
                          for c in picked])


def tracked_features() -> list[Feature]:
    """Features compared with the person's own history."""
    return [f for f in catalogue() if f.baseline]


def _with_deviations(new: ibis.Table, history: ibis.Table | None, start: dt.date,
                     end: dt.date) -> ibis.Table:
    """``new`` with its deviation and whole-history columns.

    ``history`` holds earlier person-days (at least the tracked features and the cumulative
    columns, each person's last ``max(SELF_WINDOWS)`` active days suffice).
    """
    tracked = tracked_features()
    compared = [f for f in catalogue() if f.baseline or f.peers]
    needed = ["user_id", "day", *[f.name for f in tracked]]
    rows = new.select(*needed)
    if history is not None:
        rows = history.select(*needed).union(rows)
    if history is not None and (end - start).days < SHORT_RANGE_DAYS:
        own = baselines.self_deviations_of(new.select(*needed), rows, tracked)
    else:
        own = baselines.self_deviations(rows, tracked)
        own = own.filter(own.day >= start)
    peers = [baselines.peer_deviations(new, compared, g) for g in ("role", "department")]
    return _joined_by_person_day(new, [own, *peers, _cumulative(new, history)])


def _cumulative(new: ibis.Table, history: ibis.Table | None) -> ibis.Table:
    """``user_id, day`` and the whole-history sums (:data:`CUMULATIVE`) of ``new``'s days.

    The running sums are taken over the few daily columns they add up, not over the finished
    person-day rows: a window copies every column of its input, and those rows carry a few
    hundred.
    """
    daily = new.select("user_id", "day", *CUMULATIVE.values())
    running = ibis.window(group_by=daily.user_id, order_by=daily.day,
                          preceding=None, following=0)
    sums = {name: daily[column].sum().over(running) for name, column in CUMULATIVE.items()}
    if history is None:
        return daily.select("user_id", "day", **{n: s.cast("int64") for n, s in sums.items()})
    last = ibis.window(group_by=history.user_id, order_by=ibis.desc(history.day))
    before = history.filter(ibis.row_number().over(last) == 0).select(
        b_user=history.user_id, **{name: history[name] for name in CUMULATIVE})
    with_sums = daily.select("user_id", "day", **{f"{n}__run": s for n, s in sums.items()})
    joined = with_sums.left_join(before, with_sums.user_id == before.b_user)
    return joined.select(
        "user_id", "day",
        **{n: (joined[f"{n}__run"] + joined[n].fill_null(0)).cast("int64") for n in CUMULATIVE})


def baseline_state(rows: ibis.Table) -> ibis.Table:
    """What the next run's baselines need: each person's last active days, tracked columns."""
    latest = ibis.window(group_by=rows.user_id, order_by=ibis.desc(rows.day))
    kept = rows.mutate(back=ibis.row_number().over(latest))
    kept = kept.filter(kept.back < max(baselines.SELF_WINDOWS.values()))
    return kept.select("user_id", "day", *[f.name for f in tracked_features()], *CUMULATIVE)


def outbound_detail(enriched: ibis.Table) -> ibis.Table:
    """What left the company, per person, day, channel, sensitivity and document."""
    out = enriched.filter(enriched.outbound)
    return out.group_by(out.user_id, out.day, channel=out.out_channel,
                        sensitivity=out.sensitivity, doc_id=out.doc_id,
                        family=out.family).aggregate(
        events=out.count(), bytes=out.bytes.sum().fill_null(0).cast("int64"),
        first_ts=out.ts.min(), last_ts=out.ts.max())


def sessions(events: ibis.Table, settings: FeatureSettings) -> ibis.Table:
    """Logon sessions: each logon with the next logoff of the same person on that computer.

    A logon followed by another logon (no logoff in between) is a session with no known end.
    """
    marks = events.filter(events.action.isin(("logon", "logoff")), events.host.notnull())
    following = ibis.window(group_by=[marks.user_id, marks.host],
                            order_by=[marks.ts, marks.action.desc(), marks.event_id])
    marks = marks.mutate(next_action=marks.action.lead().over(following),
                         next_ts=marks.ts.lead().over(following))
    logons = marks.filter(marks.action == "logon")
    ended = logons.next_action == "logoff"
    end = ibis.cases((ended, logons.next_ts), else_=ibis.null("timestamp"))
    hour = logons.ts.hour().cast("float64") + logons.ts.minute().cast("float64") / 60.0
    return logons.select(
        logons.user_id, logons.day, logons.host, session_id=logons.event_id,
        started=logons.ts, ended=end,
        minutes=((end.hour().cast("float64") * 60.0 + end.minute().cast("float64"))
                 - (logons.ts.hour().cast("float64") * 60.0
                    + logons.ts.minute().cast("float64"))
                 + end.date().delta(logons.ts.date(), unit="day").cast("float64") * 1440.0),
        off_hours=(hour < settings.workday_start_hour) | (hour >= settings.workday_end_hour)
        | (logons.day.day_of_week.index() >= 5),
    )


def weekly(user_day: ibis.Table) -> ibis.Table:
    """``user_week``: each person's ISO weeks (from Monday), each feature by its weekly rule."""
    # engines return the truncated week as a timestamp, which Ibis already calls a date
    u = user_day.mutate(week=user_day.day.truncate("W").cast("string").substr(0, 10)
                        .cast("date"))
    rules: dict[str, Callable[[Any], Any]] = {
        "sum": lambda c: c.sum(), "max": lambda c: c.max(), "min": lambda c: c.min(),
        "mean": lambda c: c.mean(), "last": lambda c: c.argmax(u.day)}
    # a parallel sum of floats depends on the order the threads add the rows in (the last
    # bits differ from run to run); a week's few values, sorted, are added in one order
    in_order: dict[str, Callable[[Any], Any]] = {
        "sum": lambda c: c.collect().sort().sums(),
        "mean": lambda c: c.collect().sort().means()}
    columns = {}
    for f in catalogue():
        if f.window == "1d":
            floating = u[f.name].type().is_floating() and f.weekly in in_order
            rule = in_order[f.weekly] if floating else rules[f.weekly]
            columns[f.name.removesuffix("_1d") + "_1w"] = rule(u[f.name])
    return u.group_by(u.user_id, u.week).aggregate(active_days_1w=u.count(), **columns)


#: What a ledger row is about: a person, a channel out, a sensitivity.
LEDGER_KEYS = ("user_id", "channel", "sensitivity")


def ledger_documents(outbound: ibis.Table) -> ibis.Table:
    """Per person, channel, sensitivity and document: what left, first and last day."""
    o = outbound
    return o.group_by(*LEDGER_KEYS, o.doc_id, o.family).aggregate(
        first_day=o.day.min(), last_day=o.day.max(), events=o.events.sum(),
        bytes=o.bytes.sum())


def merged_documents(earlier: ibis.Table, later: ibis.Table) -> ibis.Table:
    """Two :func:`ledger_documents` tables of consecutive periods combined into one."""
    both = earlier.union(later.select(*earlier.columns))
    return both.group_by(*LEDGER_KEYS, both.doc_id, both.family).aggregate(
        first_day=both.first_day.min(), last_day=both.last_day.max(),
        events=both.events.sum(), bytes=both.bytes.sum())


def ledger(documents: ibis.Table, active_days: ibis.Table) -> ibis.Table:
    """Per person, channel and sensitivity: everything that left, over the whole history.

    ``documents`` is :func:`ledger_documents` of the whole history; ``active_days`` holds
    ``user_id, channel, sensitivity, active_days`` (days on which anything left that way).
    """
    d = documents
    totals = d.group_by(*LEDGER_KEYS).aggregate(
        first_day=d.first_day.min(), last_day=d.last_day.max(), events=d.events.sum(),
        bytes=d.bytes.sum(), documents=d.doc_id.count())
    a = active_days.rename(a_user="user_id", a_channel="channel", a_sensitivity="sensitivity")
    joined = totals.left_join(a, [totals.user_id == a.a_user, totals.channel == a.a_channel,
                                  totals.sensitivity.identical_to(a.a_sensitivity)])
    return joined.select(
        *LEDGER_KEYS, "first_day", "last_day",
        active_days=joined.active_days.fill_null(0).cast("int64"),
        events=joined.events.cast("int64"), bytes=joined.bytes.cast("int64"),
        documents=joined.documents.cast("int64"))


def ledger_families(documents: ibis.Table) -> ibis.Table:
    """Per person and content family: everything of that family that left, by any channel.

    A family is the project of the protected or labelled documents; the slow leak of one
    technology shows here as many small pieces of the same family over months.
    """
    d = documents.filter(documents.family.notnull())
    return d.group_by(d.user_id, d.family).aggregate(
        first_day=d.first_day.min(), last_day=d.last_day.max(),
        sensitivity_max=d.sensitivity.max(), events=d.events.sum().cast("int64"),
        bytes=d.bytes.sum().cast("int64"), documents=d.doc_id.nunique().cast("int64"),
        channels=d.channel.nunique().cast("int64"))


def active_days(outbound: ibis.Table) -> ibis.Table:
    """``user_id, channel, sensitivity, active_days`` of an outbound table."""
    o = outbound
    return o.group_by(*LEDGER_KEYS).aggregate(active_days=o.day.nunique())


# -- the run ----------------------------------------------------------------------------
@contextlib.contextmanager
def _staging(root: Path) -> Iterator[Path]:
    staging = root / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_features(workspace: Workspace, backend: str = "duckdb", *, rebuild: bool = False,
                   progress: Progress | None = None) -> BuildSummary:
    """Compute the features of the days not yet computed (all days with ``rebuild``)."""
    started = time.perf_counter()
    report = progress or (lambda _step, _fraction: None)
    if directory_is_stale(workspace):
        # e.g. a workspace from before the alias table: the events' people are read through
        # it (the caller holds the workspace's lock, as ingest does)
        rebuild_directory(workspace)
    features = FeatureStore(workspace)
    store = connect(workspace, backend)
    try:
        if store.backend == "duckdb":
            settings = workspace.settings()
            store.con.raw_sql(f"SET threads = {settings.threads}")
            # every query over the events view (and each Ibis look at its schema) binds it
            # again, reading the footers of thousands of files (union_by_name); cached, a
            # footer is read once per run. DuckDB rereads a file changed since it was cached.
            store.con.raw_sql("SET parquet_metadata_cache = true")
        return _build(workspace, store, features, rebuild, report, started)
    finally:
        store.close()


def _event_days(workspace: Workspace) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day with stored events (from the ``day=`` folders' names)."""
    days = sorted({p.parent.name.split("=", 1)[1] for p in workspace.event_files()})
    if not days:
        return None, None
    return dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])


def _content_matches(workspace: Workspace, start: dt.date, end: dt.date) -> ibis.Table | None:
    """The content module's matches of the days' events (``None`` when there are none)."""
    if not any(b.target == "content_matches" for b in _batches(workspace)):
        return None
    table = read_batch_table(workspace, "content_matches")
    table = table.filter((pc.field("day") >= start) & (pc.field("day") <= end))
    if table.num_rows == 0:
        return None
    projects = {d.doc_id: d.project for d in protect_list(workspace)}
    rows = table.select(["event_id", "doc_id", "matched_fraction", "sensitivity"])
    rows = rows.append_column("project", pa.array(
        [projects.get(d) for d in rows.column("doc_id").to_pylist()], pa.string()))
    return ibis.memtable(rows)


def _build(workspace: Workspace, store: Store, features: FeatureStore, rebuild: bool,
           report: Progress, started: float) -> BuildSummary:
    state = {} if rebuild else features.state()
    if state and (state.get("version") != STATE_VERSION
                  or state.get("catalogue") != catalogue_signature()):
        state = {}
    first_day, last_day = _event_days(workspace)
    if first_day is None or last_day is None:
        raise StoreError("no events in the workspace; run `molehunt ingest` first",
                         where=str(workspace.root))
    included = set(state.get("batches", []))
    full = not state
    start = first_day if full else earliest_changed_day(workspace, included, first_day)
    if not full:
        # a directory that now resolves a name (a UPN, an account) otherwise, or no longer,
        # changes whose those names' events are, from their first day
        renamed = changed_alias_day(workspace.event_files(), read_aliases(features.aliases),
                                    read_aliases(workspace.aliases_file))
        if renamed is not None:
            renamed = max(renamed, first_day)
            start = renamed if start is None else min(start, renamed)
    batches = [b.batch_id for b in _batches(workspace)]
    if start is None:
        return BuildSummary(None, None, 0, 0, time.perf_counter() - started, False,
                            store.backend)
    end = last_day
    if start > end:  # e.g. HR news dated after the last event: it reaches later days' runs
        _write_state(features, batches, dt.date.fromisoformat(state["last_day"]),
                     bool(state.get("labels_seen")))
        return BuildSummary(None, None, 0, 0, time.perf_counter() - started, False,
                            store.backend)
    # appending after the last computed day: the compact states are exactly what is needed
    computed_until = state.get("last_day")
    appending = (not full and computed_until is not None and not state.get("storing")
                 and start > dt.date.fromisoformat(computed_until)
                 and all((features.root / name).exists() for name in _APPEND_STATES))
    fsettings = feature_settings(workspace)
    with _staging(features.root) as staging:
        report("reading events", 0.05)
        events = store.events_of(start, end)
        web_domains = _materialised(store, web_domains_first_seen(events),
                                    staging / "web_domains.parquet")
        matches = _content_matches(workspace, start, end)
        heavy = _materialised(store, heavy_events(events, store.documents, fsettings, matches),
                              staging / "heavy.parquet")
        heavy = as_enriched(heavy)  # Spark reads its own Parquet back with wider types
        domains = web_domains.select(value=web_domains.domain).union(
            heavy.filter(heavy.domain.notnull()).select(value=heavy.domain)).distinct()
        categories = category_table(store.con.to_pyarrow(domains).column(0).to_pylist(),
                                    fsettings)
        detail = categorised(heavy, categories)
        report("enriching web activity", 0.2)
        light = _materialised(store, light_groups(events, categories, fsettings),
                              staging / "light.parquet")
        rows = as_enriched(light).union(detail)
        host_days = _materialised(store, host_days_of(rows), staging / "host_days.parquet")

        report("first-seen history", 0.3)
        seen = first_seen_candidates(web_domains, heavy, host_days, categories)
        known = features.table(store, "first_seen")
        candidates = seen
        if known is not None and not full:
            known = known.filter(known.first_day < start)
            fresh = candidates.anti_join(known, ["user_id", "kind", "value"])
            candidates = known.select(*candidates.columns).union(fresh)
        first_seen = _materialised(store, candidates, staging / "first_seen.parquet")

        report("daily features", 0.35)
        base = _materialised(store, event_aggregates(rows), staging / "aggregates.parquet")
        usage_before = None
        if appending:
            usage_before = read(store, features.root / "host_usage.parquet")
        elif not full:
            used_before = read_days(store, features.root / "host_days", before=start)
            usage_before = None if used_before is None else host_usage(used_before)
        usage = host_usage(host_days)
        if usage_before is not None:
            both = usage_before.select(*usage.columns).union(usage)
            usage = both.group_by(both.host, both.user_id).aggregate(days=both.days.sum())
        write(store, usage, staging / "host_usage.parquet")
        write(store, host_days, segment_path(staging / "host_days", start, end))
        seen = feature_coverage(coverage(workspace, store))
        # the enrichment also reads confidentiality markings in the content, which coverage
        # does not look for: a sensitivity it found shows labels are seen (kept in the state,
        # so a daily run without a marked row still sees them)
        labels_seen = bool(state.get("labels_seen")) or int(
            heavy.filter(heavy.sensitivity.notnull()).count().execute()) > 0
        if seen is not None and labels_seen:
            seen.setdefault("document_labels", (dt.date.min, dt.date.max))
        new = daily_base(store, base, detail, host_days, usage_before, first_seen, start, end,
                         seen)
        new = _materialised(store, new, staging / "base.parquet")

        report("baselines and deviations", 0.6)
        history = None
        if appending:
            history = read(store, features.root / "baseline_state.parquet")
        elif not full:
            history = read_days(store, features.root / "user_day", before=start)
        deviations = _with_deviations(new, history, start, end)
        write(store, deviations, segment_path(staging / "user_day", start, end))
        # read back (the windows are not computed twice)
        user_day = read(store, segment_path(staging / "user_day", start, end), uniform=True)
        if user_day is None:
            user_day = deviations
        rows_written = int(store.con.to_pyarrow(
            user_day.aggregate(n=user_day.count())).to_pylist()[0]["n"])
        state_rows = user_day.select("user_id", "day", *[f.name for f in tracked_features()],
                                     *CUMULATIVE)
        if history is not None:
            state_rows = history.select(*state_rows.columns).union(state_rows)
        write(store, baseline_state(state_rows), staging / "baseline_state.parquet")

        report("outbound ledger and sessions", 0.8)
        outbound_new = _materialised(store, outbound_detail(detail),
                                     staging / "outbound.parquet")
        write(store, outbound_new, segment_path(staging / "outbound", start, end))
        session_events = store.events_of(start - dt.timedelta(days=1), end)
        write(store, sessions(session_events, fsettings),
              segment_path(staging / "sessions", start - dt.timedelta(days=1), end))
        if appending:
            earlier = read(store, features.root / "ledger_documents.parquet")
            stored = read(store, features.root / "ledger.parquet")
            assert earlier is not None and stored is not None
            documents = merged_documents(earlier, ledger_documents(outbound_new))
            days_then = stored.select(*LEDGER_KEYS, "active_days")
            days_now = active_days(outbound_new)
            both = days_then.union(days_now.select(*days_then.columns))
            days = both.group_by(*LEDGER_KEYS).aggregate(active_days=both.active_days.sum())
        else:
            everything = read_days(store, features.root / "outbound", before=start)
            if everything is None:
                everything = outbound_new
            else:
                everything = everything.select(*outbound_new.columns).union(outbound_new)
            documents = ledger_documents(everything)
            days = active_days(everything)
        documents = _materialised(store, documents, staging / "ledger_documents.parquet")
        write(store, ledger(documents, days), staging / "ledger.parquet")
        write(store, ledger_families(documents), staging / "ledger_families.parquet")

        report("storing", 0.9)
        _storing(features, full)
        if full:  # also clears an older layout's folders
            for name in FeatureStore.TABLES:
                shutil.rmtree(features.root / name, ignore_errors=True)
        for name in ("user_day", "outbound", "host_days"):
            replace_days(store, staging / name, features.root / name, start)
        replace_days(store, staging / "sessions", features.root / "sessions",
                     start - dt.timedelta(days=1))
        for name in ("first_seen.parquet", "ledger_families.parquet", *_APPEND_STATES):
            _replace_file(staging / name, features.root / name)

        week_start = start - dt.timedelta(days=start.weekday())
        week_days = read_days(store, features.root / "user_day", start=week_start)
        assert week_days is not None
        last_week = end - dt.timedelta(days=end.weekday())
        write(store, weekly(week_days), segment_path(staging / "user_week", week_start,
                                                      last_week))
        replace_days(store, staging / "user_week", features.root / "user_week", week_start,
                     key="week")
    _write_state(features, batches, end, labels_seen)
    report("done", 1.0)
    return BuildSummary(start, end, (end - start).days + 1, rows_written,
                        time.perf_counter() - started, full, store.backend)


def _materialised(store: Store, expr: ibis.Table, path: Path) -> ibis.Table:
    """Write ``expr`` to ``path`` and read it back: later steps reuse it without recomputing."""
    write(store, expr, path)
    table = read(store, path)
    if table is None:  # an empty result still has a file; Spark may write none
        return expr
    return table


def _replace_file(staged: Path, target: Path) -> None:
    """Move a staged file or Spark folder over ``target``."""
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    os.replace(staged, target)


def _storing(features: FeatureStore, full: bool) -> None:
    """Record that the stored tables are about to change, before the first one does.

    A run stopped while storing leaves the compact states of the new days beside the old
    ``state.json``: extending them again would count those days twice. The rerun sees the
    mark and recomputes from the stored tables instead; after a stopped full build there is
    no state at all.
    """
    state = features.state()
    if full or not state:
        features.state_path.unlink(missing_ok=True)
        return
    _save_state(features, {**state, "storing": True})


def _write_state(features: FeatureStore, batches: list[str], last_day: dt.date,
                 labels_seen: bool) -> None:
    aliases = features.workspace.aliases_file
    if aliases.exists():  # what the computed features' people were resolved through
        shutil.copyfile(aliases, features.aliases.with_suffix(".tmp"))
        os.replace(features.aliases.with_suffix(".tmp"), features.aliases)
    else:
        features.aliases.unlink(missing_ok=True)
    state = {"version": STATE_VERSION, "catalogue": catalogue_signature(),
             "batches": sorted(batches), "last_day": last_day.isoformat(),
             "labels_seen": labels_seen,
             "computed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    _save_state(features, state)


def _save_state(features: FeatureStore, state: dict[str, Any]) -> None:
    """Replace ``state.json`` in one step (a reader never sees half of it)."""
    temporary = features.state_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=1), "utf-8")
    os.replace(temporary, features.state_path)
