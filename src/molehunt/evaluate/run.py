"""``molehunt evaluate``: molehunt's risk against the ground truth, next to an Isolation Forest.

The baseline is scikit-learn's Isolation Forest fitted on the same ``user_day`` feature table
in the same run; its anomaly score (0-1) ranks people the same way molehunt's risk does. It
has no bands, so its alerts (the same episode rule) open above the highest score threshold
that alerts on as many C1-C5 insiders as molehunt does: alert loads compare at equal recall,
and that threshold stands in for band high in its ``benign_high_per_1000_per_day``.

When the truth lists the logged malicious events (``labels.csv``), an insider none of whose
events of the scenario's harm (:data:`HARM`) is in the store left no trace of it in these
logs (a telemetry profile that does not see what they did): they are reported as
``untraceable`` and counted neither as insiders nor as benign people.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from molehunt.errors import ConfigError, StoreError
from molehunt.evaluate.metrics import (
    GRACE_DAYS,
    Insider,
    Scores,
    alert_load,
    benign_ranking,
    cumulative_recall,
    high_days_per_1000,
    lookalike_days_in_top,
    recall_at_budget,
    roc_pr_auc,
)
from molehunt.pipeline import read_results, results_dir
from molehunt.scoring.alerts import open_alerts
from molehunt.scoring.risk import BANDS
from molehunt.store.connect import Store, connect, unique_view_name
from molehunt.store.workspace import Workspace

BUDGETS = (0.005, 0.01, 0.02)
#: Scenario groups reported besides each scenario.
GROUPS = {"C1-C5": ("C1", "C2", "C3", "C4", "C5"), "S1-S4": ("S1", "S2", "S3", "S4")}
Progress = Callable[[str, float | None], None]
#: Scenario → the events of its harm, the step that takes or damages something, as (actions,
#: channels) of which an event needs one: where none of them is logged the scenario left no
#: trace of the harm, only of its context (C2's job search alone is what many people do who
#: take nothing; C1's late logons alone are a late worker's). Other scenarios: every event.
HARM: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "C1": (frozenset({"device_connect", "device_disconnect", "web_visit", "web_upload"}),
           frozenset({"removable_media"})),
    "C2": (frozenset({"device_connect", "device_disconnect"}), frozenset({"removable_media"})),
}


def shows_harm(scenario: str, action: str | None, channel: str | None) -> bool:
    """Whether a logged event labelled with ``scenario`` is a trace of its harm (:data:`HARM`).

    >>> shows_harm("C2", "web_visit", "web"), shows_harm("C2", "file_copy", "removable_media")
    (False, True)
    >>> shows_harm("C4", "logon", None)
    True
    """
    if scenario not in HARM:
        return True
    actions, channels = HARM[scenario]
    return action in actions or channel in channels


def _parse_time(text: str, where: str) -> dt.date:
    for layout in ("%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text.strip(), layout).date()
        except ValueError:
            continue
    raise ConfigError(f"unreadable time {text!r}", where=where)


def read_truth(truth: Path, store: Store) -> tuple[list[Insider], dict[str, set[str]]]:
    """Insiders (answers layout) with their malicious days, and benign look-alikes by user.

    With a ``labels.csv``, an insider is ``traced`` when at least one of the events labelled
    with their user id that shows the scenario's harm (:func:`shows_harm`) is in the store (a
    masquerade event, logged under the victim's account, is a trace too); without one, every
    insider is. The first day of such an event is the insider's ``first_trace``.
    """
    folder = truth / "answers" if (truth / "answers" / "insiders.csv").exists() else truth
    insiders_csv = folder / "insiders.csv"
    if not insiders_csv.exists():
        raise ConfigError("no insiders.csv (CERT answers layout) here", where=str(truth))
    labelled: dict[str, set[dt.date]] = defaultdict(set)
    traced: set[str] | None = None
    trace: dict[str, dt.date] = {}
    labels_csv = folder / "labels.csv"
    if labels_csv.exists():
        traced = set()
        with labels_csv.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        wanted = {r["event_id"]: r["user"].strip() for r in rows}
        scenario_of = {r["event_id"]: r.get("scenario", "").strip() for r in rows}
        if wanted:
            import ibis

            ids = ibis.memtable({"w_id": list(wanted)})
            if store.backend == "spark":
                ids = store.con.create_table(unique_view_name("mh_truth_ids"), ids.to_pandas(),
                                             temp=True)
            e = store.events
            hits = e.join(ids, e.event_id == ids.w_id).select(e.event_id, e.user_id, e.day,
                                                              e.action, e.channel)
            for row in hits.to_pyarrow().to_pylist():
                if shows_harm(scenario_of[row["event_id"]], row["action"], row["channel"]):
                    traced.add(wanted[row["event_id"]])
                    user = wanted[row["event_id"]]
                    trace[user] = min(trace.get(user, row["day"]), row["day"])
                # masquerade events are under someone else's account: not the insider's days
                if row["user_id"] == wanted.get(row["event_id"]):
                    labelled[row["user_id"]].add(row["day"])
    insiders = []
    with insiders_csv.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            where = f"{insiders_csv}:{line}"
            try:
                user, scenario = row["user"].strip(), row["scenario"].strip()
                first, last = _parse_time(row["start"], where), _parse_time(row["end"], where)
            except KeyError as error:
                raise ConfigError(f"missing column {error}", where=where) from None
            days = frozenset(d for d in labelled.get(user, set()) if first <= d <= last)
            first_trace = trace.get(user)
            insiders.append(Insider(user, scenario, first, last, days,
                                    traced=traced is None or user in traced,
                                    first_trace=max(first, first_trace) if first_trace
                                    else None))
    lookalikes: dict[str, set[str]] = defaultdict(set)
    lookalikes_csv = folder / "lookalikes.csv"
    if lookalikes_csv.exists():
        with lookalikes_csv.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                lookalikes[row["user"]].add(row["kind"])
    return insiders, dict(lookalikes)


def _population(store: Store, workspace: Workspace) -> tuple[dict[dt.date, int], set[str],
                                                              Any]:
    from molehunt.features.build import FeatureStore

    user_day = FeatureStore(workspace).table(store, "user_day")
    if user_day is None:
        raise StoreError("no features; run `molehunt run` first", where=str(workspace.root))
    counts = user_day.group_by(user_day.day).aggregate(n=user_day.user_id.nunique())
    population = {r["day"]: r["n"] for r in counts.to_pyarrow().to_pylist()}
    users = {r["user_id"] for r in user_day.select(user_day.user_id).distinct()
             .to_pyarrow().to_pylist()}
    return population, users, user_day


def isolation_forest_scores(user_day: Any, seed: int = 0, sample: int = 50000
                            ) -> dict[dt.date, dict[str, float]]:
    """Isolation Forest anomaly scores (0-1) of every person-day on all numeric features."""
    from sklearn.ensemble import IsolationForest

    schema = user_day.schema()
    numeric = [c for c in user_day.columns if schema[c].is_numeric()]
    # in a fixed order: the engine returns rows in any order, and the sample (so the model and
    # every figure of the baseline) would change from one evaluation to the next
    table: pa.Table = user_day.select("user_id", "day", *numeric).order_by(
        "user_id", "day").to_pyarrow()
    # a null (cannot see: DESIGN.md §6b; a deviation without enough history) is read as 0,
    # the value those cells had before they were null: the forest needs a value in every
    # cell, and a column the deployment never sees is then one constant the trees never split
    # on (documented in docs/detection.md, the baseline paragraph)
    matrix = np.column_stack([
        np.nan_to_num(table.column(c).to_numpy(zero_copy_only=False).astype("float32"),
                      nan=0.0) for c in numeric])
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(matrix), size=min(sample, len(matrix)), replace=False)
    model = IsolationForest(n_estimators=100, random_state=seed).fit(matrix[rows])
    anomaly = -model.score_samples(matrix)  # 2^(-E[h]/c): 0.5 ordinary, toward 1 isolated
    scores: dict[dt.date, dict[str, float]] = defaultdict(dict)
    for user, day, value in zip(table.column("user_id").to_pylist(),
                                table.column("day").to_pylist(), anomaly, strict=True):
        scores[day][user] = float(value)
    return dict(scores)


#: The band from which a person is a lead analysts read: "low" marks something seen, "medium"
#: something worth reading.
LEAD_BAND = "medium"


def lead_floor(system: str, lead_band: str = LEAD_BAND) -> float:
    """Lowest score that makes a person a lead: ``lead_band`` for molehunt, any for baselines."""
    return float(dict(BANDS)[lead_band]) if system.startswith("molehunt") else 0.0


def untraceable_figures(insiders: list[Insider]) -> dict[str, dict[str, Any]]:
    """Per scenario, the insiders who left no trace in these logs (not counted anywhere).

    >>> d = dt.date(2024, 1, 1)
    >>> untraceable_figures([Insider("x", "C1", d, d, traced=False), Insider("y", "C1", d, d)])
    {'C1': {'insiders': 1, 'users': ['x']}}
    """
    out: dict[str, dict[str, Any]] = {}
    for code in sorted({i.scenario for i in insiders if not i.traced}):
        users = sorted(i.user_id for i in insiders if i.scenario == code and not i.traced)
        out[code] = {"insiders": len(users), "users": users}
    return out


def _in_group(scenario: str, group: str) -> bool:
    return group in ("all", scenario) or scenario in GROUPS.get(group, ())


def _system(name: str, scores: Scores, alerts: list[tuple[str, dt.date]],
            insiders: list[Insider], population: dict[dt.date, int], users: set[str],
            lookalikes: dict[str, set[str]], cr_k: int, high: float | None = None
            ) -> dict[str, Any]:
    """Every metric for one scoring system.

    ``insiders`` is the whole truth: the untraceable ones are left out of every figure and
    are not benign either. ``high`` is the score from which a person-day counts as band
    high (band high's floor for molehunt's risk; ``None`` reports no such figure).
    """
    # molehunt's leads are people at band low or above; the baseline has no such notion
    floor = lead_floor(name)
    peak: dict[str, float] = defaultdict(float)
    for day_scores in scores.values():
        for user, value in day_scores.items():
            peak[user] = max(peak[user], value)
    involved = {i.user_id for i in insiders}
    untraced = [i for i in insiders if not i.traced]
    insiders = [i for i in insiders if i.traced]
    benign = users - involved
    # an insider the simulator also gave a benign habit (a declared consultant who leaks
    # anyway) is not a benign look-alike: being in the top 1 % is then a catch
    lookalikes = {u: kinds for u, kinds in lookalikes.items() if u not in involved}
    groups: dict[str, list[Insider]] = {"all": insiders}
    for group, codes in GROUPS.items():
        groups[group] = [i for i in insiders if i.scenario in codes]
    for code in sorted({i.scenario for i in insiders}):
        groups[code] = [i for i in insiders if i.scenario == code]
    ranked = benign_ranking(scores, involved)
    out: dict[str, Any] = {}
    for group, members in groups.items():
        if not members:
            continue
        roc, pr = roc_pr_auc(peak, {i.user_id for i in members}, benign)
        out[group] = {
            "insiders": len(members),
            "untraceable": sum(1 for i in untraced if _in_group(i.scenario, group)),
            "recall": {f"{b:.1%}": recall_at_budget(members, scores, population, b, floor,
                                                    ranked)
                       for b in BUDGETS},
            f"cr_{cr_k}": cumulative_recall(members, scores, cr_k),
            "roc_auc": roc, "pr_auc": pr}
    days = len(population)
    top = lookalike_days_in_top(lookalikes, scores, population, 0.01, floor)
    # the same count when every person at band low is read, for transparency
    top_low = lookalike_days_in_top(lookalikes, scores, population, 0.01,
                                    lead_floor(name, "low"))
    return {"system": name, "groups": out, "alert_load": alert_load(alerts, benign, days),
            "alerts_benign": sum(1 for u, _ in alerts if u in benign),
            "benign_high_per_1000_per_day": (
                None if high is None else high_days_per_1000(scores, benign, days, high)),
            "lookalikes": {"count": len(lookalikes),
                           "max_days_in_top_1pct": max(top.values(), default=0),
                           "over_2_days": sorted(u for u, n in top.items() if n > 2),
                           "days_in_top_1pct": {u: n for u, n in sorted(top.items()) if n},
                           "over_2_days_reading_band_low": sum(
                               1 for n in top_low.values() if n > 2)},
            "lead_floor": floor}


def evaluate(workspace: Workspace, truth: Path, backend: str = "duckdb",
             progress: Progress | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(figures, plot data): §7 metrics for molehunt and the Isolation Forest baseline.

    Besides them: molehunt without the long-horizon detectors (when they found anything) and
    ``peer_anomaly`` alone, each risk recomputed from a subset of the same findings.
    """
    report = progress or (lambda _s, _d: None)
    results = results_dir(workspace)  # one version of the results for every table read
    risk_table = read_results(results / "risk")
    if risk_table is None:
        raise StoreError("no results; run `molehunt run` first", where=str(workspace.root))
    store = connect(workspace, backend)
    try:
        report("truth", None)
        insiders, lookalikes = read_truth(truth, store)
        population, users, user_day = _population(store, workspace)
        report("isolation forest baseline", None)
        baseline = isolation_forest_scores(user_day)
        report("without the long-horizon detectors", None)
        findings_table = read_results(results / "findings")
        finding_rows = findings_table.to_pylist() if findings_table is not None else []
        ablation = without_long_horizon(workspace, store, finding_rows)
        report("peer_anomaly alone", None)
        alone = detector_alone(workspace, store, finding_rows, ALONE_DETECTOR)
    finally:
        store.close()
    report("metrics", None)
    scores: dict[dt.date, dict[str, float]] = defaultdict(dict)
    for row in risk_table.select(["user_id", "day", "risk"]).to_pylist():
        scores[row["day"]][row["user_id"]] = float(row["risk"])
    alerts_path = results / "alerts.parquet"
    alerts = read_results(alerts_path)
    molehunt_alerts = ([(r["user_id"], r["opened_day"]) for r in alerts.to_pylist()]
                       if alerts is not None else [])
    counted = [i for i in insiders if i.traced]
    public = [i for i in counted if i.scenario in GROUPS["C1-C5"]]
    wanted = alert_recall(molehunt_alerts, public)
    baseline_alerts, threshold = baseline_alerts_at_recall(baseline, public, wanted)
    cr_k = max(25, 25 * round(0.1 * len(users) / 25))
    high = float(dict(BANDS)["high"])

    def system(name: str, system_scores: Scores, system_alerts: list[tuple[str, dt.date]],
               high_from: float) -> dict[str, Any]:
        figures = _system(name, system_scores, system_alerts, insiders, population, users,
                          lookalikes, cr_k, high_from)
        figures["alert_recall_c1_c5"] = alert_recall(system_alerts, public)
        return figures

    figures: dict[str, Any] = {
        "population": len(users), "days": len(population), "truth": str(truth),
        "insiders": len(counted), "insiders_in_truth": len(insiders),
        "untraceable": untraceable_figures(insiders),
        "molehunt": system("molehunt", scores, molehunt_alerts, high),
        "baseline_isolation_forest": system("isolation_forest", baseline, baseline_alerts,
                                            threshold),
    }
    figures["baseline_isolation_forest"]["alert_threshold"] = round(threshold, 4)
    if ablation is not None:
        off_scores, off_alerts, switched_off = ablation
        figures["molehunt_without_long_horizon"] = system(
            "molehunt_without_long_horizon", off_scores, off_alerts, high)
        figures["molehunt_without_long_horizon"]["switched_off"] = switched_off
    alone_scores, alone_alerts, alone_findings = alone
    # named molehunt_… so its leads start at band medium like molehunt's (it has bands)
    figures[f"{ALONE_DETECTOR}_alone"] = system(
        f"molehunt_{ALONE_DETECTOR}_alone", alone_scores, alone_alerts, high)
    figures[f"{ALONE_DETECTOR}_alone"]["findings"] = alone_findings
    figures["done_when_c1_c5"] = _done_when(figures)
    untraced = {i.user_id for i in insiders if not i.traced}
    figures["slow_schemes"] = slow_scheme_figures(truth, finding_rows, figures, untraced)
    plots = {"scores": scores, "baseline": baseline, "insiders": counted,
             "population": population}
    return figures, plots


#: The detector measured alone beside the forest: both compare each person with their own
#: history and their peers, so this shows what molehunt's risk adds to a lone anomaly score.
ALONE_DETECTOR = "peer_anomaly"


def rescore(workspace: Workspace, store: Store, rows: list[dict[str, Any]],
            kept: list[dict[str, Any]]) -> tuple[Scores, list[tuple[str, dt.date]]]:
    """Risk and alerts recomputed from ``kept``, a subset of the findings ``rows``.

    Risk is a function of the findings alone, so scoring a subset again gives exactly what a
    run with only those detectors would have (scored up to the same last day).
    """
    from molehunt.pipeline import _context, settings_params
    from molehunt.scoring.risk import score_risk

    params = settings_params(workspace)
    last_day = max((r["day"] for r in rows), default=dt.date.min)
    risk = score_risk(kept, params, _context(workspace, store, kept, params), last_day=last_day)
    scores: dict[dt.date, dict[str, float]] = defaultdict(dict)
    for row in risk:
        scores[row["day"]][row["user_id"]] = float(row["risk"])
    alerts = [(a["user_id"], a["opened_day"]) for a in open_alerts(risk)]
    return dict(scores), alerts


def without_long_horizon(workspace: Workspace, store: Store, rows: list[dict[str, Any]]
                         ) -> tuple[Scores, list[tuple[str, dt.date]], list[str]] | None:
    """Risk and alerts recomputed from the findings minus the long-horizon detectors'.

    The ablation of issue 7 (see :func:`rescore`). ``None`` when no long-horizon detector
    left a finding.
    """
    from molehunt.detectors import registry

    slow = sorted(name for name, cls in registry().items() if cls.long_horizon)
    if not any(r["detector"] in slow for r in rows):
        return None
    scores, alerts = rescore(workspace, store, rows,
                             [r for r in rows if r["detector"] not in slow])
    return scores, alerts, slow


def detector_alone(workspace: Workspace, store: Store, rows: list[dict[str, Any]],
                   detector: str) -> tuple[Scores, list[tuple[str, dt.date]], int]:
    """Risk and alerts from one detector's findings alone (see :func:`rescore`), and how
    many findings it had."""
    kept = [r for r in rows if r["detector"] == detector]
    scores, alerts = rescore(workspace, store, rows, kept)
    return scores, alerts, len(kept)


def slow_scheme_figures(truth: Path, rows: list[dict[str, Any]], figures: dict[str, Any],
                        untraceable: set[str] | None = None) -> dict[str, Any]:
    """Issue 7's scenario figures: S1 time to detect, S2 hubs and accomplices, S3 arrival.

    * S1: median and worst days from the first malicious event to detection at a 1 % budget;
    * S2: per group (``details`` ``S2-n:hub`` / ``S2-n:accomplice``), whether the hub is
      caught at 1 % and the share of its accomplices linked to it (the hub in an
      accomplice's findings' ``related_users``, or the accomplice in the hub's);
    * S3: whether a finding about documents marked by another company (a reason whose
      feature starts ``foreign_mark``) falls on the insider's first day.

    People in ``untraceable`` are left out (a group whose hub left no trace: ``None``).
    """
    folder = truth / "answers" if (truth / "answers" / "insiders.csv").exists() else truth
    with (folder / "insiders.csv").open(newline="", encoding="utf-8") as handle:
        truth_rows = [r for r in csv.DictReader(handle)
                      if r["user"].strip() not in (untraceable or set())]
    out: dict[str, Any] = {}
    for system in ("molehunt", "molehunt_without_long_horizon"):
        if system not in figures:
            continue
        groups = figures[system]["groups"]
        entry: dict[str, Any] = {}
        s1 = groups.get("S1")
        if s1:
            entry["s1_median_days_to_detect_1pct"] = s1["recall"]["1.0%"]["median_days_to_detect"]
            entry["s1_worst_days_to_detect_1pct"] = s1["recall"]["1.0%"]["worst_days_to_detect"]
        s2 = groups.get("S2")
        if s2:
            detected = {i["user_id"]: i["detected"] for i in s2["recall"]["1.0%"]["insiders"]}
            links: set[tuple[str, str]] = set()
            if system == "molehunt":
                for r in rows:
                    for other in r.get("related_users") or []:
                        links.add((r["user_id"], other))
                        links.add((other, r["user_id"]))
            hubs: dict[str, dict[str, Any]] = {}
            for r in truth_rows:
                if r["scenario"].strip() != "S2":
                    continue
                group, _, role = r["details"].strip().partition(":")
                hubs.setdefault(group, {"hub": None, "accomplices": []})
                if role == "hub":
                    hubs[group]["hub"] = r["user"].strip()
                else:
                    hubs[group]["accomplices"].append(r["user"].strip())
            entry["s2_groups"] = {
                group: {"hub_caught_1pct": (None if g["hub"] is None
                                            else detected.get(g["hub"]) is not None),
                        "accomplices_linked": (sum(1 for a in g["accomplices"]
                                                   if (g["hub"], a) in links)
                                               / len(g["accomplices"])
                                               if g["accomplices"] else None)}
                for group, g in sorted(hubs.items())}
        s3 = [r for r in truth_rows if r["scenario"].strip() == "S3"]
        if s3 and system == "molehunt":
            flagged = {(r["user_id"], r["day"]) for r in rows if any(
                (x["feature"] or "").startswith("foreign_mark") for x in r["reasons"] or [])}
            entry["s3_flagged_on_arrival"] = {
                r["user"].strip(): (r["user"].strip(),
                                    _parse_time(r["start"], "insiders.csv")) in flagged
                for r in s3}
        out[system] = entry
    return out


def alert_recall(alerts: list[tuple[str, dt.date]], insiders: list[Insider]) -> float | None:
    """Share of ``insiders`` with an alert opened between their first day and 7 days after."""
    if not insiders:
        return None
    opened: dict[str, list[dt.date]] = defaultdict(list)
    for user, day in alerts:
        opened[user].append(day)
    hits = sum(1 for i in insiders if any(
        i.first <= d <= i.last + dt.timedelta(days=GRACE_DAYS) for d in opened[i.user_id]))
    return hits / len(insiders)


def baseline_alerts_at_recall(scores: Scores, insiders: list[Insider], wanted: float | None
                              ) -> tuple[list[tuple[str, dt.date]], float]:
    """The baseline's alerts at the highest threshold that alerts on as many insiders.

    A baseline has no bands; comparing alert loads is fair only at equal alert recall, so the
    threshold is the highest of a ladder of score quantiles that reaches molehunt's recall
    (the lowest rung when none does). The threshold is returned unrounded: it is the
    baseline's band high.
    """
    values = np.array([s for day in scores.values() for s in day.values()], dtype="float64")
    if values.size == 0:
        return [], 1.0
    ladder = sorted({float(np.quantile(values, q)) for q in (
        0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998, 0.9999)}, reverse=True)
    chosen: list[tuple[str, dt.date]] = []
    threshold = ladder[-1]
    for tau in ladder:
        rows = [{"user_id": u, "day": d, "risk": 100, "band": "critical", "reasons": []}
                for d, day_scores in scores.items() for u, s in day_scores.items() if s >= tau]
        chosen = [(a["user_id"], a["opened_day"]) for a in open_alerts(rows)]
        threshold = tau
        if wanted is None or (alert_recall(chosen, insiders) or 0.0) >= wanted:
            break
    return chosen, threshold


def _done_when(figures: dict[str, Any]) -> dict[str, Any]:
    """The issue's acceptance figures for C1-C5, next to the baseline's."""
    out: dict[str, Any] = {}
    for system in ("molehunt", "baseline_isolation_forest", f"{ALONE_DETECTOR}_alone"):
        group = figures.get(system, {}).get("groups", {}).get("C1-C5")
        if not group:
            continue
        at_1 = group["recall"]["1.0%"]
        out[system] = {"recall_at_1pct": at_1["recall"],
                       "median_days_to_detect": at_1["median_days_to_detect"],
                       "median_days_from_trace": at_1.get("median_days_from_trace"),
                       "roc_auc": group["roc_auc"], "alert_load": figures[system]["alert_load"],
                       "benign_high_per_1000_per_day":
                           figures[system]["benign_high_per_1000_per_day"],
                       "lookalikes_over_2_days": len(
                           figures[system]["lookalikes"]["over_2_days"])}
    return out
