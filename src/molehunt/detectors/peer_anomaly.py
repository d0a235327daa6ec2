"""Unsupervised baseline: each person-day against the person's own history and everyone's days."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, ClassVar

import ibis
import numpy as np

from molehunt.detectors.base import (
    Detector,
    Window,
    bounded,
    findings,
    number_text,
    reason,
    unit_interval,
)
from molehunt.errors import DetectorError
from molehunt.portable import rounded

#: Daily counts (``<measure>_1d``) a leak, a theft, a reach beyond one's role or sabotage
#: moves, whatever the scenario; plain activity volume is left out (it moves with workload).
DEFAULT_MEASURES = (
    "events_out", "bytes_out", "events_after_hours", "events_weekend", "logons_off_hours",
    "events_out_off_hours", "hosts", "hosts_other_user", "logons_other_user_host",
    "events_other_user_host", "hosts_first_seen", "recipients_first_seen",
    "recipient_domains_first_seen", "web_domains_first_seen", "device_first_use",
    "device_connects", "device_connects_off_hours", "files_to_removable", "bytes_to_removable",
    "files_to_removable_sensitive", "file_copies", "emails_sent", "emails_external_sent",
    "emails_personal_sent", "attachments_out_email", "bytes_out_email", "emails_to_competitor",
    "visits_job_board", "visits_cloud_storage", "visits_paste_leak", "visits_hacking_tools",
    "visits_competitor", "visits_webmail", "web_uploads", "uploads_cloud_storage",
    "uploads_paste_leak", "uploads_webmail", "downloads_hacking_tools", "events_out_sensitive",
    "documents_read_other_unit_sensitive")

#: The observation (:data:`molehunt.store.coverage.OBSERVATIONS`) a measure needs; where the
#: deployment cannot see it the column holds no information (0 every day) and is left out.
#: Measures not listed come from any activity.
MEASURE_OBSERVES: Mapping[str, str] = {
    "logons_off_hours": "logon", "hosts_other_user": "logon", "logons_other_user_host": "logon",
    "hosts_first_seen": "logon",
    "device_first_use": "removable_connect", "device_connects": "removable_connect",
    "device_connects_off_hours": "removable_connect",
    "files_to_removable": "removable_files", "bytes_to_removable": "removable_files",
    "files_to_removable_sensitive": "document_labels", "file_copies": "file_access",
    "emails_sent": "email_sent", "emails_external_sent": "email_sent",
    "emails_personal_sent": "email_sent", "attachments_out_email": "email_sent",
    "bytes_out_email": "email_sent", "emails_to_competitor": "email_sent",
    "recipients_first_seen": "email_sent", "recipient_domains_first_seen": "email_sent",
    "visits_job_board": "web_visit", "visits_cloud_storage": "web_visit",
    "visits_paste_leak": "web_visit", "visits_hacking_tools": "web_visit",
    "visits_competitor": "web_visit", "visits_webmail": "web_visit",
    "web_domains_first_seen": "web_visit",
    "web_uploads": "web_direction", "uploads_cloud_storage": "web_direction",
    "uploads_paste_leak": "web_direction", "uploads_webmail": "web_direction",
    "downloads_hacking_tools": "web_direction", "events_out_sensitive": "document_labels",
    "documents_read_other_unit_sensitive": "document_labels",
}

#: Measures that count one behaviour several ways (a day at another person's machine is a
#: host, a host of another user, logons and events there, and often a host first seen): a
#: family adds only its most unusual member to a day, so that breadth means several kinds of
#: behaviour at once, not one fact counted five times. A measure not listed is its own family.
MEASURE_FAMILIES: Mapping[str, str] = {
    **dict.fromkeys(("hosts", "hosts_other_user", "logons_other_user_host",
                     "events_other_user_host", "hosts_first_seen"), "hosts"),
    **dict.fromkeys(("device_first_use", "device_connects", "device_connects_off_hours",
                     "files_to_removable", "bytes_to_removable", "file_copies"),
                    "removable_media"),
    **dict.fromkeys(("events_after_hours", "events_weekend", "logons_off_hours",
                     "events_out_off_hours"), "off_hours"),
    # everything that left counts mail too (where only mail is logged, it is the same
    # number); each other channel has a family of its own
    **dict.fromkeys(("events_out", "bytes_out", "emails_sent", "emails_external_sent",
                     "attachments_out_email", "bytes_out_email"), "outbound_volume"),
    **dict.fromkeys(("recipients_first_seen", "recipient_domains_first_seen"),
                    "mail_recipients_new"),
    **dict.fromkeys(("visits_cloud_storage", "uploads_cloud_storage", "web_uploads"),
                    "cloud_storage"),
    **dict.fromkeys(("visits_webmail", "uploads_webmail"), "webmail"),
    **dict.fromkeys(("visits_paste_leak", "uploads_paste_leak"), "paste_leak"),
    **dict.fromkeys(("visits_hacking_tools", "downloads_hacking_tools"), "hacking_tools"),
}

#: Upper-tail probabilities at which the distribution of a deviation is learned; its
#: surprise is ``-log10`` of the share of person-days at least as unusual.
TAIL_PROBABILITIES = (0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005,
                      0.0002, 0.0001)


def balanced_sum(terms: list[Any]) -> Any:
    """The sum of expressions as a balanced tree: engines that walk expressions recursively
    (Spark) overflow their stack on a long left-leaning chain of additions.

    >>> balanced_sum([1, 2, 3, 4, 5])
    15
    """
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return balanced_sum(terms[:middle]) + balanced_sum(terms[middle:])


def _average_path(n: float) -> float:
    """Expected path length of an unsuccessful search in a binary tree of ``n`` points."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (math.log(n - 1.0) + 0.5772156649) - 2.0 * (n - 1.0) / n


def tail_knots(thresholds: list[float], probabilities: tuple[float, ...] = TAIL_PROBABILITIES
               ) -> list[tuple[float, float]]:
    """(value, surprise) knots of a learned upper tail: increasing values above 0, each with
    ``-log10`` of the share of person-days at or above it (the smallest where values tie).

    >>> tail_knots([0.0, 0.0, 1.0, 1.0, 2.0], (0.5, 0.2, 0.1, 0.01, 0.001))
    [(1.0, 1.0), (2.0, 3.0)]
    """
    knots: dict[float, float] = {}
    for value, p in zip(thresholds, probabilities, strict=True):
        if value is None or not math.isfinite(value) or value <= 0:
            continue
        level = -math.log10(p)
        knots[round(value, 6)] = min(level, knots.get(round(value, 6), math.inf))
    out: list[tuple[float, float]] = []
    for value in sorted(knots):
        if out and knots[value] <= out[-1][1]:
            continue
        out.append((value, knots[value]))
    return out


def surprise(value: Any, knots: list[tuple[float, float]], beyond: float = 1.0,
             cap: float = 6.0) -> Any:
    """How rare ``value`` is (``-log10`` of its upper-tail share), linear between the
    ``knots`` from (0, 0), and ``beyond`` per unit past the last knot, capped at ``cap``."""
    if not knots:
        return ibis.literal(0.0)
    points = [(0.0, 0.0), *knots]
    last_value, last_level = points[-1]
    branches = [(value >= last_value,
                 ibis.least(last_level + (value - last_value) * beyond, cap))]
    for (low, low_level), (high, high_level) in reversed(list(pairwise(points))):
        slope = (high_level - low_level) / (high - low)
        branches.append((value > low, low_level + (value - low) * slope))
    return ibis.cases(*branches, else_=0.0)


@dataclass(kw_only=True)
class PeerAnomaly(Detector):
    """Unsupervised ensemble over person-days and person-weeks, rank-normalised.

    Scenario: any insider activity that makes a day, or a run of days, unusual for the
    person beyond what everyone's ordinary days show; the catch-all for what rules miss.

    Signals: for each measure the deployment can see (``Window.sees``; an unseen one is left
    out, not read as 0), a robust deviation of the day from the person's own last
    ``history_days`` active days (on a log scale, the spread floored); each deviation is
    rank-normalised against every person-day of the history (its *surprise*: ``-log10`` of
    the share of person-days at least as unusual), so a heavy-tailed measure weighs no more
    than a rare one. Measures of one behaviour (:data:`MEASURE_FAMILIES`) give their family
    their largest surprise; a day is the sum of its ``top`` largest family surprises
    (breadth of behaviour counts, one fact measured five ways does not, nor does a busy day
    of many slight changes); a week adds the days of the person's last
    ``week_days`` active days at ``week_weight`` (persistence: unusual several days running).
    The sum is ranked once more against the history's, and the score is that tail level
    over ``full_level``. Optionally (``trees`` > 0) an isolation forest over the surprises,
    compiled into the query, joins the ensemble. Reasons name each measure that made the
    day unusual, with the person's usual value, and the run of unusual days.

    False positives: a genuinely unusual but legitimate day or week (a trip, a deadline, a
    new project); the findings of one unusual day decay in the risk score.
    """

    name: ClassVar[str] = "peer_anomaly"
    version: ClassVar[int] = 3
    kind: ClassVar[str] = "baseline"
    requires: ClassVar[frozenset[str]] = frozenset({"user_day"})
    #: The person's baseline (``history_days``) and the run of days (``week_days``) before a
    #: scoring window, so that a daily run scores as a full one does.
    lookback_days: ClassVar[int] = 70
    observes: ClassVar[frozenset[str]] = frozenset(set(MEASURE_OBSERVES.values()))
    fallbacks: ClassVar[Mapping[str, str]] = {
        o: "measures that need it are left out; the others score"
        for o in set(MEASURE_OBSERVES.values())}

    measures: tuple[str, ...] = DEFAULT_MEASURES
    #: The person's baseline: this many earlier active days (with ``week_days``, at most
    #: ``lookback_days``).
    history_days: int = 60
    #: At least this many earlier days before a person's day is judged.
    min_history: int = 40
    #: Smallest spread (log scale): a factor of e^0.5 for a person whose days are all alike.
    scale_floor: float = 0.5
    #: A day is the sum of its ``top`` largest surprises.
    top: int = 3
    #: Persistence: the person's last ``week_days`` active days add at ``week_weight``.
    week_days: int = 5
    week_weight: float = 0.5
    #: Tail level (``-log10`` share of person-days) of the total that scores 1.
    full_level: float = 3.5
    #: Findings below this score are not reported.
    min_score: float = 0.4
    #: A measure's surprise below this is not named as a reason.
    min_surprise: float = 1.0
    #: Trees of an optional isolation forest over the surprises (0: none). On Spark the
    #: compiled forest can exhaust a small driver's memory during code generation.
    trees: int = 0
    sample: int = 256
    seed: int = 7
    knots_: dict[str, list[tuple[float, float]]] = field(default_factory=dict, repr=False)
    total_knots_: list[tuple[float, float]] = field(default_factory=list, repr=False)
    forest_: list[list[tuple[int, float, int, int, float]]] = field(default_factory=list,
                                                                    repr=False)
    samples_: float = field(default=256.0, repr=False)

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a small forest over few measures."""
        return [{}, {"measures": ("events_out", "hosts", "device_connects"), "trees": 3,
                     "min_score": 0.2}]

    def _seen(self, window: Window) -> list[str]:
        """The measures this window has a column for and the deployment can see."""
        return [m for m in self.measures if f"{m}_1d" in window.user_day.columns
                and window.sees(MEASURE_OBSERVES.get(m, "directory"))]

    def check(self, window: Window) -> None:
        """At least one measure's daily column must exist."""
        super().check(window)
        if not any(f"{m}_1d" in window.user_day.columns for m in self.measures):
            raise DetectorError("peer_anomaly: feature columns missing: "
                                + ", ".join(f"{m}_1d" for m in self.measures))

    def _deviations(self, u: ibis.Table, measures: list[str]) -> ibis.Table:
        """``u`` with ``_z_<m>`` (the day against the person's last active days, >= 0) and
        ``_mu_<m>`` (their usual level, log scale) per measure."""
        # only the measures' columns: every later projection restates each column it carries
        u = u.select("user_id", "day", *[f"{m}_1d" for m in measures])
        before = ibis.window(group_by=u.user_id, order_by=u.day,
                             rows=(-self.history_days, -1))
        columns: dict[str, Any] = {}
        for m in measures:
            x = (u[f"{m}_1d"].cast("float64").fill_null(0.0) + 1.0).ln()
            mean, spread, n = x.mean().over(before), x.std().over(before), x.count().over(before)
            z = (x - mean) / ibis.greatest(spread.fill_null(0.0), self.scale_floor)
            columns[f"_z_{m}"] = ibis.ifelse(n >= self.min_history,
                                             rounded(bounded(z, 0.0, 50.0), 4), 0.0)
            columns[f"_mu_{m}"] = mean
        return u.mutate(**columns)

    def _totals(self, t: ibis.Table, measures: list[str]) -> ibis.Table:
        """``t`` with ``_s_<m>`` (surprise per measure), ``_day`` and ``_total``."""
        t = t.mutate(**{f"_s_{m}": rounded(surprise(t[f"_z_{m}"], self.knots_.get(m, [])), 4)
                        for m in measures})
        families: dict[str, list[Any]] = {}
        for m in measures:
            families.setdefault(MEASURE_FAMILIES.get(m, m), []).append(t[f"_s_{m}"])
        values = [members[0] if len(members) == 1 else ibis.greatest(*members)
                  for members in families.values()]
        if len(values) <= self.top:
            day = balanced_sum(values)
        else:
            ordered = ibis.array(values).sort()
            day = balanced_sum([ordered[len(values) - 1 - i] for i in range(self.top)])
        t = t.mutate(_day=rounded(day, 4))
        recent = ibis.window(group_by=t.user_id, order_by=t.day,
                             rows=(-(self.week_days - 1), 0))
        t = t.mutate(_week=t._day.sum().over(recent))
        return t.mutate(_total=rounded(t._day + self.week_weight * t._week, 4))

    def _ordered(self, table: ibis.Table) -> ibis.Table:
        # a fixed row order: the engine returns rows in any order, and a model fitted on them
        # would change from one run to the next
        return table.order_by([table.user_id, table.day])

    def fit(self, history: Window) -> PeerAnomaly:
        """Learn each measure's tail of deviations, and the tail of the total, from
        ``history`` (and the optional forest on a fixed sample of its surprises)."""
        self.check(history)
        measures = self._seen(history)
        t = self._deviations(history.user_day, measures)
        probabilities = [1.0 - p for p in TAIL_PROBABILITIES]
        quantiles = t.aggregate(**{f"q_{m}": t[f"_z_{m}"].quantile(probabilities)
                                   for m in measures}).to_pyarrow().to_pylist()
        row = quantiles[0] if quantiles else {}
        self.knots_ = {m: tail_knots([float(v) for v in row.get(f"q_{m}") or []])
                       for m in measures if row.get(f"q_{m}")}
        totals = self._totals(t, measures)
        q = totals.aggregate(q=totals._total.quantile(probabilities)).to_pyarrow().to_pylist()
        self.total_knots_ = tail_knots([float(v) for v in (q[0]["q"] if q and q[0]["q"]
                                                           else [])])
        self.forest_ = []
        if self.trees > 0 and measures:
            self._fit_forest(totals, measures)
        return self

    def _fit_forest(self, totals: ibis.Table, measures: list[str]) -> None:
        from sklearn.ensemble import IsolationForest

        # a hash of the key, not random(): the same rows on every engine and every run
        picked = totals.filter((totals.user_id.concat(totals.day.cast("string")).hash().abs()
                                % 10000) < 2000)
        frame = self._ordered(picked.select("user_id", "day", *[f"_s_{m}" for m in measures])
                              ).to_pyarrow()
        if frame.num_rows < 16:
            return
        matrix = np.nan_to_num(np.column_stack([
            frame[f"_s_{m}"].to_numpy(zero_copy_only=False).astype("float64")
            for m in measures]))
        model = IsolationForest(n_estimators=self.trees, max_samples=min(self.sample,
                                len(matrix)), random_state=self.seed).fit(matrix)
        self.forest_ = [[(int(e.tree_.feature[i]), float(e.tree_.threshold[i]),
                          int(e.tree_.children_left[i]), int(e.tree_.children_right[i]),
                          float(e.tree_.n_node_samples[i])) for i in range(e.tree_.node_count)]
                        for e in model.estimators_]
        self.samples_ = float(min(self.sample, len(matrix)))

    def _path(self, nodes: list[tuple[int, float, int, int, float]], values: list[Any],
              index: int = 0, depth: int = 0) -> Any:
        feature, threshold, left, right, size = nodes[index]
        if left == -1:
            return ibis.literal(depth + _average_path(size))
        return ibis.ifelse(values[feature] <= threshold,
                           self._path(nodes, values, left, depth + 1),
                           self._path(nodes, values, right, depth + 1))

    def score(self, window: Window) -> ibis.Table:
        """Findings on person-days whose rank-normalised total reaches ``min_score``."""
        self.check(window)
        measures = [m for m in self._seen(window) if m in self.knots_]
        if not measures:
            measures = self._seen(window)[:1]
        u = window.user_day
        t = self._totals(self._deviations(u, measures), measures)
        level = surprise(t._total, self.total_knots_, beyond=0.5)
        ensemble = unit_interval(level / self.full_level)
        if self.forest_:
            values = [t[f"_s_{m}"] for m in measures]
            depth = balanced_sum([self._path(tree, values) for tree in self.forest_]) / len(
                self.forest_)
            isolation = bounded(2.0 ** (-depth / _average_path(self.samples_)) - 0.5, 0.0,
                                0.5) * 2.0
            t = t.mutate(_isolation=isolation)
            t = t.mutate(_score=0.8 * ensemble + 0.2 * t._isolation)
        else:
            t = t.mutate(_isolation=ibis.literal(0.0), _score=ensemble)
        t = t.filter(t._score >= self.min_score)
        reasons = []
        for m in measures:
            s = t[f"_s_{m}"]
            usual = t[f"_mu_{m}"].exp() - 1.0
            reasons.append(reason(
                f"{m}_1d", t[f"{m}_1d"], rounded(usual, 2),
                ibis.ifelse(s >= self.min_surprise, s, 0.0),
                ibis.literal(m.replace("_", " ")).concat(
                    " unusual for the person: ", number_text(t[f"{m}_1d"].cast("float64"), 0),
                    " against about ", number_text(usual, 1), " a day (as rare as 1 in ",
                    number_text((s * math.log(10.0)).exp(), 0), " person-days)")))
        earlier = t._week - t._day
        top = ibis.greatest(*[t[f"_s_{m}"] for m in measures]) if len(measures) > 1 else t[
            f"_s_{measures[0]}"]
        # the run of days weighs no more than the day's most unusual measure: the reasons
        # name what was unusual, and evidence another detector already counted (the same
        # measure) is then mostly what this finding says, so it is not counted twice
        persistence = ibis.least(earlier * self.week_weight, top)
        reasons.append(reason(
            "unusual_days_recent", earlier, None,
            ibis.ifelse(persistence >= self.min_surprise, persistence, 0.0),
            ibis.literal(f"unusual on earlier days too (last {self.week_days} active days:"
                         " surprise ").concat(number_text(earlier, 1), ")")))
        reasons.append(reason("isolation_forest", t._isolation, None,
                              ibis.ifelse(t._isolation >= 0.2, t._isolation * 0.5, 0.0),
                              ibis.literal("isolated by the forest (score ").concat(
                                  number_text(t._isolation, 2), ")")))
        # a day that scores on its total but whose surprises are each below the naming line
        reasons.append(reason("unusual_day_overall", t._day, None,
                              ibis.ifelse(top < self.min_surprise, t._day, 0.0),
                              ibis.literal("several measures slightly unusual at once"
                                           " (surprise ").concat(number_text(t._day, 1), ")")))
        return findings(t, detector=self, score=t._score, reasons=reasons)
