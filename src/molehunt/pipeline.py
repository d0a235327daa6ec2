"""``molehunt run``: features, detectors, scoring and alerts, incremental per day.

Results go under ``<workspace>/results/``, a link to the version published last (see
:mod:`molehunt.store.published` and docs/detection.md):

* ``findings/day=YYYY-MM-DD/<detector>.parquet`` — the findings schema of DESIGN.md §4;
* ``risk/day=YYYY-MM-DD/risk.parquet`` — user_id, day, risk 0-100, band, top reasons;
* ``alerts.parquet`` — one row per episode at band high or above;
* ``state.json`` — the last day scored, the detector configuration it was scored with, the
  ingest batches the results include and a fingerprint of what each detector learned.

A daily run scores the days after the last one scored (detectors get the look-back they
declare), and rescores every earlier day that ingest batches not yet seen by a run may change
(late events, a back-filled log, late HR news) through the last day: a day's inputs carry
forward (baselines, first-seen history, whole-history sums, each detector's look-back), so
the history of daily runs equals one full run. A detector that learns from the whole history
(``fit`` state in attributes ending in ``_``) rescores every day when what it learned
changed. A changed detector configuration rescores everything. Risk and alerts are
recomputed from all findings each run: they are small, and decay needs the whole history.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from molehunt.detectors import Detector, Window, build
from molehunt.errors import DetectorError, StoreError
from molehunt.portable import as_date
from molehunt.scoring.alerts import open_alerts
from molehunt.scoring.risk import Context, ScoringParams, score_risk
from molehunt.scoring.tuning import apply_console
from molehunt.store import published
from molehunt.store.connect import Store, connect, unique_view_name
from molehunt.store.coverage import Span, coverage, describe
from molehunt.store.people import changed_alias_day, read_aliases
from molehunt.store.workspace import FileRecord, Workspace

Progress = Callable[[str, float | None], None]

#: Arrow type of a reason (the same struct as the findings schema's).
REASON_ARROW = pa.struct([("feature", pa.string()), ("observed", pa.float64()),
                          ("expected", pa.float64()), ("weight", pa.float64()),
                          ("text", pa.string())])
FINDINGS_ARROW = pa.schema([
    ("user_id", pa.string()), ("day", pa.date32()), ("detector", pa.string()),
    ("detector_version", pa.int64()), ("score", pa.float64()),
    ("reasons", pa.list_(REASON_ARROW)), ("evidence", pa.list_(pa.string())),
    ("related_users", pa.list_(pa.string()))])
RISK_ARROW = pa.schema([("user_id", pa.string()), ("day", pa.date32()), ("risk", pa.float64()),
                        ("band", pa.string()), ("reasons", pa.list_(REASON_ARROW))])
ALERTS_ARROW = pa.schema([
    ("alert_id", pa.string()), ("user_id", pa.string()), ("opened_day", pa.date32()),
    ("last_day", pa.date32()), ("peak_risk", pa.float64()), ("band", pa.string()),
    ("reasons", pa.list_(REASON_ARROW)), ("detectors", pa.list_(pa.string())),
    ("status", pa.string())])


@dataclass
class RunSummary:
    """What one run did."""

    start: dt.date | None
    end: dt.date | None
    findings: dict[str, int]
    risk_rows: int
    alerts: int
    seconds: float
    backend: str
    #: Detectors not run because the deployment cannot see what they cannot do without
    #: (detector → the missing observations).
    blind: dict[str, list[str]] = field(default_factory=dict)
    #: One line saying which already-scored days were scored again and why (``None``: only
    #: new days were scored).
    rescored: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        data = asdict(self)
        data["start"] = self.start.isoformat() if self.start else None
        data["end"] = self.end.isoformat() if self.end else None
        return data


#: The coverage of the run's data (:func:`molehunt.store.coverage.describe`) in the results.
COVERAGE_FILE = "coverage.json"
#: The alias table the published results' people were resolved through (a copy).
ALIASES_FILE = "people_aliases.parquet"


def results_dir(workspace: Workspace) -> Path:
    """The published results (:mod:`molehunt.store.published`): read the files of one
    reading from the same call, so that they all come from one version."""
    return published.published_dir(workspace)


def open_window(workspace: Workspace, store: Store,
                seen: Mapping[str, Span] | None = None) -> Window:
    """A window over every day that has features; ``seen`` is the store's coverage when the
    caller has it already (:func:`molehunt.store.coverage.coverage`)."""
    from molehunt.features.build import FeatureStore

    user_day = FeatureStore(workspace).table(store, "user_day")
    if user_day is None:
        raise StoreError("no features yet; run `molehunt features` (or `molehunt run`)",
                         where=str(workspace.root))
    bounds = user_day.aggregate(first=user_day.day.min(), last=user_day.day.max()).execute()
    first, last = bounds["first"].iloc[0], bounds["last"].iloc[0]
    return Window(start=as_date(first), end=as_date(last), user_day=user_day,
                  events=store.events, directory=store.directory, hr_events=store.hr_events,
                  settings=workspace.settings(), backend=store.backend,
                  tables=_further_tables(workspace, store),
                  observations=frozenset(coverage(workspace, store) if seen is None else seen))


def _further_tables(workspace: Workspace, store: Store) -> dict[str, ibis.Table]:
    """``documents``, ``outbound`` (features) and the content module's tables, where the
    workspace has them."""
    from molehunt.content.protect import read_batch_table
    from molehunt.features.build import FeatureStore

    tables: dict[str, ibis.Table] = {"documents": store.documents}
    outbound = FeatureStore(workspace).table(store, "outbound")
    if outbound is not None:
        tables["outbound"] = outbound
    targets = {r.target for r in workspace.records() if r.state == "committed"}
    for name in ("foreign_markings", "content_matches"):
        if name not in targets:
            continue  # never scanned: a detector that needs it says so
        rows = read_batch_table(workspace, name)
        if store.backend == "spark":
            table = _spark_view(store, f"mh_{name}", rows)
        else:
            table = ibis.memtable(rows)
        tables[name] = table.mutate(day=table.day.cast("date"))
    return tables


_SPARK_TYPES = {pa.string(): "string", pa.date32(): "date", pa.int8(): "tinyint",
                pa.int32(): "int", pa.int64(): "bigint", pa.float64(): "double",
                pa.bool_(): "boolean"}


def _spark_view(store: Store, name: str, rows: pa.Table) -> ibis.Table:
    """A small Arrow table as a Spark temporary view (its schema given, so empty works)."""
    ddl = ", ".join(f"`{f.name}` {_SPARK_TYPES[f.type]}" for f in rows.schema)
    session = store.con._session
    view = unique_view_name(name)
    session.createDataFrame(rows.to_pylist(), schema=ddl).createOrReplaceTempView(view)
    return store.con.table(view)


def scan_inbound(workspace: Workspace) -> int:
    """Look for other companies' markings in the inbound events of days not yet scanned.

    Inbound contamination must be seen on the day it arrives, so ``molehunt run`` scans each
    new day's mail read, downloads and copies from removable media (the content module's
    ``foreign_markings`` table). Returns the number of days scanned.
    """
    from molehunt.content.protect import scan_foreign_markings

    records = [r for r in workspace.records() if r.state == "committed"]
    scans = [i for i, r in enumerate(records) if r.target == "foreign_markings"]
    since = scans[-1] + 1 if scans else 0
    # events batches committed after the last scan: new days, or late rows of earlier days
    fresh = [r for r in records[since:] if r.target == "events" and r.min_day and r.max_day]
    if not fresh:
        return 0
    first = dt.date.fromisoformat(min(r.min_day or "" for r in fresh))
    last = dt.date.fromisoformat(max(r.max_day or "" for r in fresh))
    scan_foreign_markings(workspace, first, last)
    return (last - first).days + 1


def processing_cutoff(days_ahead: int, today: dt.date | None = None) -> dt.date:
    """The last day a run may score: today (UTC) plus the days ahead an event may plausibly
    be dated (``latest_event_days_ahead``); later days wait until their time comes.

    >>> processing_cutoff(1, dt.date(2026, 12, 31))
    datetime.date(2027, 1, 1)
    """
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        return today + dt.timedelta(days=days_ahead)
    except OverflowError:
        return dt.date.max


def _signature(detectors: list[Detector]) -> str:
    from molehunt.features.build import STATE_VERSION

    described: list[Any] = [[d.name, d.version, repr(sorted(
        (k, repr(v)) for k, v in vars(d).items() if not k.endswith("_")))] for d in detectors]
    # features whose meaning changed (a new version rebuilds them) make every finding stale
    described.append(["features", STATE_VERSION])
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:16]


def _learned(detector: Detector) -> str:
    """A fingerprint of what ``fit`` learned (the attributes ending in ``_``)."""
    learned = sorted((k, repr(v)) for k, v in vars(detector).items() if k.endswith("_"))
    return hashlib.sha256(json.dumps(learned).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Rescore:
    """The already-scored days a run scores again because of batches no run has seen."""

    #: The first day to score again (``None``: nothing late arrived).
    start: dt.date | None
    #: Why, for the run's line.
    because: str


def _late_rescore(workspace: Workspace, state: Mapping[str, Any], first_day: dt.date,
                  scored_until: dt.date | None) -> _Rescore:
    """From which already-scored day the batches committed since the last run change the
    inputs (none before the first run)."""
    from molehunt.features.build import earliest_changed_day

    if scored_until is None:
        return _Rescore(None, "")
    included = state.get("batches")
    if included is None:  # results of a version that did not record its batches
        return _Rescore(first_day, "the results do not record which ingest batches they"
                        " include (written before late data was tracked)")
    committed = [r for r in workspace.records() if r.state == "committed"]
    seen = set(included)
    everything = {r.batch_id for r in committed}
    late: list[tuple[dt.date, FileRecord]] = []
    for record in committed:
        if record.batch_id in seen:
            continue
        if record.target == "foreign_markings":
            # the content module's scan: detection reads it directly (the features do not)
            day = (max(first_day, dt.date.fromisoformat(record.min_day))
                   if record.min_day else None)
        else:
            day = earliest_changed_day(workspace, everything - {record.batch_id}, first_day)
        if day is not None and day <= scored_until:
            late.append((day, record))
    # a directory that resolves a name (a UPN, an account) otherwise changes whose its events
    # are: the days from the first such event are scored again
    renamed = changed_alias_day(workspace.event_files(),
                                read_aliases(results_dir(workspace) / ALIASES_FILE),
                                read_aliases(workspace.aliases_file))
    if renamed is not None and renamed <= scored_until:
        renamed = max(renamed, first_day)
        if not late or renamed < min(day for day, _ in late):
            return _Rescore(renamed, "the directory resolves some people's other names"
                                     f" (UPNs, account names) otherwise from {renamed} on")
    if not late:
        return _Rescore(None, "")
    changed = min(day for day, _ in late)
    # name the input files; a scan of the run's own new days is no news
    files = sorted({Path(r.path).name for _, r in late if r.target != "foreign_markings"})
    named = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    what = f" ({named})" if named else " (a foreign-markings scan)"
    ends = [r.max_day for _, r in late if r.max_day is not None]
    until = min(scored_until, dt.date.fromisoformat(max(ends))) if ends else scored_until
    return _Rescore(changed, f"late data arrived for {changed}..{max(changed, until)}{what}")


def _to_arrow(table: ibis.Table) -> pa.Table:
    """Execute a findings expression into Arrow with the canonical schema."""
    frame = table.to_pyarrow()
    columns = []
    for name in FINDINGS_ARROW.names:
        columns.append(frame[name].cast(FINDINGS_ARROW.field(name).type))
    return pa.Table.from_arrays(columns, schema=FINDINGS_ARROW)


def stable_order(table: pa.Table) -> pa.Table:
    """``table``'s rows sorted by every column, so that the same rows make the same file.

    Engines return rows in whatever order their threads finish in. List and struct columns
    (reasons, evidence), which Arrow cannot sort by, decide only between rows equal in all
    the others, by their JSON text.

    >>> t = pa.table({"user_id": ["b", "a", "a"], "evidence": [["x"], ["z"], ["y"]]})
    >>> stable_order(t).to_pydict()
    {'user_id': ['a', 'a', 'b'], 'evidence': [['y'], ['z'], ['x']]}
    """
    if table.num_rows < 2:
        return table
    flat = [n for n in table.column_names if not pa.types.is_nested(table.schema.field(n).type)]
    nested = [n for n in table.column_names if n not in flat]
    keyed = table
    tied = table.group_by(flat).aggregate([]).num_rows < table.num_rows if flat else True
    if nested and tied:
        rows = table.select(nested).to_pylist()
        keyed = table.append_column("_tie", pa.array(
            [json.dumps(r, default=str, sort_keys=True) for r in rows], pa.string()))
    keys = [*flat, "_tie"] if nested and tied else flat
    order = pc.sort_indices(keyed, sort_keys=[(n, "ascending") for n in keys])
    return table.take(order)


def _write_partitions(table: pa.Table, root: Path, file_name: str, key: str = "day") -> None:
    """One file per day: ``root/day=YYYY-MM-DD/file_name``, its rows in :func:`stable_order`."""
    if table.num_rows == 0:
        return
    table = stable_order(table)
    days = table.column(key).to_pylist()
    order: dict[dt.date, list[int]] = {}
    for index, day in enumerate(days):
        order.setdefault(day, []).append(index)
    for day, indices in order.items():
        folder = root / f"{key}={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        # a file carried from the published version is a hard link to it: replace it, never
        # write into it
        (folder / file_name).unlink(missing_ok=True)
        pq.write_table(table.take(pa.array(indices)), folder / file_name)


def run_detection(workspace: Workspace, backend: str = "duckdb", *, rebuild: bool = False,
                  features: bool = True, progress: Progress | None = None) -> RunSummary:
    """Compute features (unless ``features`` is false), findings, risk and alerts."""
    started = time.monotonic()
    report = progress or (lambda _step, _done: None)
    if features:
        from molehunt.features.build import build_features

        build_features(workspace, backend,
                       progress=lambda _step, done: report("features", done))
    report("inbound markings", None)
    scan_inbound(workspace)
    settings = workspace.settings()
    detectors = build(settings.detectors)
    state_path = results_dir(workspace) / "state.json"
    state = json.loads(state_path.read_text("utf-8")) if state_path.exists() else {}
    signature = _signature(detectors)
    if rebuild or state.get("signature") != signature:
        state = {}
    # written beside the published results and switched in when complete: until then (and
    # after a failure) readers see the old ones
    results = published.begin(workspace, carry=("findings",) if state else ())
    store = connect(workspace, backend)
    try:
        seen = coverage(workspace, store)
        full = open_window(workspace, store, seen)
        cutoff = processing_cutoff(settings.latest_event_days_ahead)
        if full.end > cutoff:
            # "scored until" is how far processing got, not the latest event: one row dated
            # 2099 (stored before ingest refused such times) must not end scoring for good,
            # so the run ends on the last day with data up to the cutoff
            days = full.user_day.filter(full.user_day.day <= cutoff)
            last = days.aggregate(last=days.day.max()).to_pyarrow()["last"][0].as_py()
            end = full.start if last is None else as_date(last)
            full = full.cut(full.start, max(full.start, end))
        scored_until = (dt.date.fromisoformat(state["scored_until"])
                        if state.get("scored_until") else None)
        batches = _included_batches(workspace)
        late = _late_rescore(workspace, state, full.start, scored_until)
        start = full.start if scored_until is None else scored_until + dt.timedelta(days=1)
        if late.start is not None:
            start = max(full.start, min(start, late.start))
        counts: dict[str, int] = {}
        blind = {d.name: sorted(o for o in d.essential if not full.sees(o)) for d in detectors}
        blind = {name: missing for name, missing in blind.items() if missing}
        learned: dict[str, str] = dict(state.get("learned") or {})
        relearned: list[str] = []
        if start <= full.end:
            for detector in detectors:
                detector.check(full)
            for index, detector in enumerate(detectors):
                report("detectors", index / len(detectors))
                if detector.name in blind:
                    counts[detector.name] = 0
                    continue
                fitted = _fit(detector, full.for_detector(detector))
                fingerprint = _learned(fitted)
                first = start
                if scored_until is not None and learned.get(detector.name) != fingerprint:
                    # what it learned from the whole history changed, so every earlier day
                    # would score otherwise in a full run
                    first = full.start
                    if first < start:
                        relearned.append(detector.name)
                learned[detector.name] = fingerprint
                counts[detector.name] = _run_one(fitted, full.for_detector(detector), first,
                                                 results)
            report("detectors", 1.0)
        rescored = _rescored_line(late, relearned, start, full)
        state = {"signature": signature, "scored_until": full.end.isoformat(),
                 "detectors": [d.name for d in detectors], "batches": batches,
                 "learned": learned}
        report("scoring", None)
        risk_rows, alerts = _score(workspace, store, results, settings_params(workspace),
                                   full.end)
        # what the deployment could see, for the console to say next to every person
        results.mkdir(parents=True, exist_ok=True)
        (results / COVERAGE_FILE).write_text(json.dumps(
            describe(seen), indent=1, sort_keys=True), "utf-8")
    except BaseException:
        published.discard(results)
        raise
    finally:
        store.close()
    (results / "state.json").write_text(json.dumps(state, indent=1), "utf-8")
    if workspace.aliases_file.exists():  # whose the events were, for the next run to compare
        shutil.copyfile(workspace.aliases_file, results / ALIASES_FILE)
    published.publish(workspace, results)
    return RunSummary(start=start if counts else None, end=full.end if counts else None,
                      findings=counts, risk_rows=risk_rows, alerts=alerts,
                      seconds=time.monotonic() - started, backend=backend, blind=blind,
                      rescored=rescored if counts else None)


def _included_batches(workspace: Workspace) -> list[str]:
    """The committed batches this run's results include: those the features include (after
    ``--skip-features`` a new batch waits for the run that computes its features) and the
    content module's foreign markings, which the detectors read directly."""
    from molehunt.features.build import FeatureStore

    featured = set(FeatureStore(workspace).state().get("batches") or [])
    return sorted(r.batch_id for r in workspace.records() if r.state == "committed"
                  and (r.batch_id in featured or r.target == "foreign_markings"))


def _rescored_line(late: _Rescore, relearned: list[str], start: dt.date, full: Window
                   ) -> str | None:
    """The run's one line on the already-scored days it scored again (``None``: none)."""
    parts = []
    if late.start is not None and start <= full.end:
        parts.append(f"rescored days {start}..{full.end} because {late.because}")
    if relearned:
        parts.append(f"{', '.join(relearned)} rescored days {full.start}..{full.end} because"
                     " what it learned from the whole history changed")
    return "; ".join(parts) or None


GRAPH_ARROW = pa.schema([
    ("user_id", pa.string()), ("related_user", pa.string()), ("detector", pa.string()),
    ("first_day", pa.date32()), ("last_day", pa.date32()), ("findings", pa.int64()),
    ("max_score", pa.float64())])


def graph_edges(findings: list[dict[str, Any]]) -> pa.Table:
    """The people graph of group findings: one edge per person, related person and detector.

    Written as ``results/graph.parquet`` for the console (hubs, relays and their members):
    ``user_id`` has findings naming ``related_user`` in ``related_users``.

    >>> day = dt.date(2010, 3, 4)
    >>> graph_edges([{"user_id": "H", "day": day, "detector": "d", "score": 0.8,
    ...               "related_users": ["A", "B"]}]).column("related_user").to_pylist()
    ['A', 'B']
    """
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    for f in findings:
        for other in f.get("related_users") or []:
            key = (f["user_id"], other, f["detector"])
            edge = edges.setdefault(key, {"user_id": key[0], "related_user": other,
                                          "detector": key[2], "first_day": f["day"],
                                          "last_day": f["day"], "findings": 0,
                                          "max_score": 0.0})
            edge["first_day"] = min(edge["first_day"], f["day"])
            edge["last_day"] = max(edge["last_day"], f["day"])
            edge["findings"] += 1
            edge["max_score"] = max(edge["max_score"], float(f["score"]))
    return pa.Table.from_pylist([edges[k] for k in sorted(edges)], schema=GRAPH_ARROW)


def settings_params(workspace: Workspace) -> ScoringParams:
    """Scoring parameters of a workspace, with what analysts set in the console."""
    return apply_console(ScoringParams.from_settings(workspace.settings()), workspace.root)


def _fit(detector: Detector, full: Window) -> Detector:
    """The detector fitted on all history up to the window's end."""
    try:
        return detector.fit(full)
    except DetectorError:
        raise
    except Exception as error:  # an engine error inside one detector names the detector
        raise DetectorError(f"detector {detector.name} failed: {error}") from error


def context_start(user_day: ibis.Table, start: dt.date, lookback_days: int) -> dt.date:
    """The first day a window scoring ``start`` onwards must hold so that every person active
    from ``start`` on has their last ``lookback_days`` active days before it (all their days
    if fewer): the earliest of those days, and no later than twice the look-back (plus a
    week) in calendar days before ``start``.

    Rolling contexts count a person's active days: someone active one day a week has 60
    active days over more than a year, and a window cut by the calendar alone would give
    them a shorter history in a daily run than in a full one.
    """
    if lookback_days <= 0:
        return start
    calendar = start - dt.timedelta(days=2 * lookback_days + 7)
    u = user_day.select("user_id", "day")
    active = u.filter(u.day >= start).select(a_user=u.user_id).distinct()
    before = u.filter(u.day < start)
    before = before.join(active, before.user_id == active.a_user)
    latest_first = ibis.window(group_by=before.user_id, order_by=ibis.desc(before.day))
    ranked = before.mutate(rank=ibis.row_number().over(latest_first))
    kept = ranked.filter(ranked.rank < lookback_days)
    first = kept.aggregate(first=kept.day.min()).to_pyarrow()["first"][0].as_py()
    return calendar if first is None else min(calendar, as_date(first))


def _run_one(fitted: Detector, full: Window, start: dt.date, results: Path) -> int:
    """Score a fitted detector's days from ``start`` to the window's end, replacing its
    findings of those days."""
    back = (context_start(full.user_day, start, fitted.lookback_days) if start > full.start
            else full.start)
    window = full.cut(max(full.start, back), full.end)
    try:
        found = fitted.score(window)
        found = found.filter(found.day >= start)
        table = _to_arrow(found)
    except DetectorError:
        raise
    except Exception as error:  # an engine error inside one detector names the detector
        raise DetectorError(f"detector {fitted.name} failed: {error}") from error
    # a rescored day may now have no finding where it had one
    for stale in (results / "findings").glob(f"day=*/{fitted.name}.parquet"):
        if dt.date.fromisoformat(stale.parent.name[4:]) >= start:
            stale.unlink()
            with contextlib.suppress(OSError):  # other detectors' findings of that day
                stale.parent.rmdir()
    _write_partitions(table, results / "findings", f"{fitted.name}.parquet")
    return int(table.num_rows)


def read_results(path: Path) -> pa.Table | None:
    """A results table (a file or a folder of ``day=`` partitions) as Arrow, or None."""
    if path.is_file():
        return pq.read_table(path)
    files = sorted(path.rglob("*.parquet")) if path.exists() else []
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def _score(workspace: Workspace, store: Store, results: Path, params: ScoringParams,
           last_day: dt.date) -> tuple[int, int]:
    findings = read_results(results / "findings")
    rows = findings.to_pylist() if findings is not None else []
    context = _context(workspace, store, rows, params)
    risk = score_risk(rows, params, context, last_day=last_day)
    shutil.rmtree(results / "risk", ignore_errors=True)
    risk_table = pa.Table.from_pylist(risk, schema=RISK_ARROW)
    _write_partitions(risk_table, results / "risk", "risk.parquet")
    alerts = open_alerts(risk)
    results.mkdir(parents=True, exist_ok=True)
    pq.write_table(stable_order(pa.Table.from_pylist(alerts, schema=ALERTS_ARROW)),
                   results / "alerts.parquet")
    pq.write_table(graph_edges(rows), results / "graph.parquet")
    return len(risk), len(alerts)


def _context(workspace: Workspace, store: Store, findings: list[dict[str, Any]],
             params: ScoringParams) -> Context:
    """Roles, declared engagements and evidence domains the allowlists look at."""
    directory = store.directory
    latest = directory.group_by(directory.user_id).aggregate(
        role=directory.role.argmax(directory.valid_from)).to_pyarrow().to_pylist()
    roles = {r["user_id"]: r["role"] for r in latest}
    hr = store.hr_events
    declared_rows = hr.filter(hr.kind == "outside_engagement_declared").group_by(
        hr.user_id).aggregate(since=hr.ts.min()).to_pyarrow().to_pylist()
    declared = {r["user_id"]: as_date(r["since"]) for r in declared_rows}
    domains: dict[str, str] = {}
    events: dict[str, dict[str, str | None]] = {}
    if params.trusted_domains or params.allowed_evidence:
        # what the allowlists match on: the evidence events' domain, host, target, object
        ids = sorted({e for f in findings for e in (f["evidence"] or [])})
        if ids:
            wanted = ibis.memtable({"w_id": ids})
            if store.backend == "spark":
                wanted = store.con.create_table(unique_view_name("mh_evidence"),
                                                wanted.to_pandas(), temp=True)
            e = store.events
            hits = e.join(wanted, e.event_id == wanted.w_id).select(
                e.event_id, e.domain, e.host, e.target, e.object)
            for r in hits.to_pyarrow().to_pylist():
                if r["domain"]:
                    domains[r["event_id"]] = r["domain"]
                events[r["event_id"]] = {k: r[k] for k in ("domain", "host", "target",
                                                           "object")}
    from molehunt.features.build import FeatureStore

    user_day = FeatureStore(workspace).table(store, "user_day")
    first_seen = {}
    population: dict[dt.date, int] = {}
    if user_day is not None:
        firsts = user_day.group_by(user_day.user_id).aggregate(first=user_day.day.min())
        first_seen = {r["user_id"]: as_date(r["first"]) for r in firsts.to_pyarrow().to_pylist()}
        active = user_day.group_by(user_day.day).aggregate(n=user_day.count())
        population = {as_date(r["day"]): int(r["n"]) for r in active.to_pyarrow().to_pylist()}
    from molehunt.detectors import registry

    baseline_free = frozenset(name for name, cls in registry().items()
                              if not cls.uses_baselines)
    return Context(roles=roles, declared=declared, evidence_domains=domains,
                   evidence_events=events, first_seen=first_seen,
                   baseline_free=baseline_free, population=population)
