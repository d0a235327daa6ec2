"""Unsupervised baseline: each person-day against the person's own history and their peers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import ibis
import numpy as np

from molehunt.detectors.base import Detector, Window, findings, number_text, reason
from molehunt.errors import DetectorError

#: Measures with both a self and a role deviation in the feature tables, chosen because a
#: leak or a reach beyond one's role moves them (plain activity volume is left out: it moves
#: with workload, not intent).
DEFAULT_MEASURES = (
    "events_out", "bytes_out", "events_after_hours", "hosts", "hosts_first_seen",
    "device_connects", "files_to_removable", "emails_external_sent", "emails_personal_sent",
    "visits_job_board", "visits_cloud_storage", "uploads_cloud_storage", "documents_read",
    "sensitivity_out_max")


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


@dataclass(kw_only=True)
class PeerAnomaly(Detector):
    """Robust z ensemble (self and role) plus a small isolation forest over the deviations.

    Scenario: any insider activity that makes a day unusual both for the person and for
    people in the same role, whatever the scenario; the catch-all for what rules miss.

    Signals: for each measure, ``min(z_self_90d, z_role_1d)`` clipped at 0 (a day must be
    unusual for the person *and* for the role, which removes both personal quirks and team
    busy days); clear contributions (2 or more) add up, the largest at half weight, so a day
    unusual in several ways scores more than one extreme measure. An isolation forest fitted
    on a sample of the history of those deviations scores how easily the day is isolated; it
    is compiled into the query, so it runs on any engine. Reasons are the per-measure contributions.

    False positives: a genuinely unusual but legitimate day (a trip, a deadline, a new
    project); they fade because one day's finding decays in the risk score.
    """

    name: ClassVar[str] = "peer_anomaly"
    kind: ClassVar[str] = "baseline"
    requires: ClassVar[frozenset[str]] = frozenset({"user_day"})

    measures: tuple[str, ...] = DEFAULT_MEASURES
    #: Contributions are capped here so one measure cannot dominate.
    cap: float = 8.0
    #: Sum of the clear (>= 2) contributions (the largest at half) that gives an ensemble
    #: score of 1 - 1/e.
    half_score: float = 12.0
    #: Findings below this score are not reported.
    min_score: float = 0.4
    #: Trees of the isolation forest (0: the robust z ensemble alone). On Spark the compiled
    #: forest can exhaust a small driver's memory during code generation; use 0 there.
    trees: int = 25
    sample: int = 256
    seed: int = 7
    forest_: list[list[tuple[int, float, int, int, float]]] = field(default_factory=list,
                                                                    repr=False)
    samples_: float = field(default=256.0, repr=False)

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and a small forest over few measures."""
        return [{}, {"measures": ("events_out", "hosts"), "trees": 5, "min_score": 0.2}]

    def _columns(self) -> list[str]:
        return [f"{m}_z_self_90d" for m in self.measures] + [
            f"{m}_z_role_1d" for m in self.measures]

    def check(self, window: Window) -> None:
        """All deviation columns of the chosen measures must exist."""
        super().check(window)
        missing = sorted(set(self._columns()) - set(window.user_day.columns))
        if missing:
            raise DetectorError(f"peer_anomaly: feature columns missing: {', '.join(missing)}")

    def _contributions(self, u: ibis.Table) -> dict[str, Any]:
        out = {}
        for m in self.measures:
            own, role = u[f"{m}_z_self_90d"], u[f"{m}_z_role_1d"]
            # a newcomer has no own baseline yet: the role alone speaks, at half weight
            both = ibis.ifelse(own.isnull(), role.fill_null(0.0) * 0.5,
                               ibis.least(own, role.fill_null(own)))
            out[m] = both.clip(0.0, self.cap)
        return out

    def fit(self, history: Window) -> PeerAnomaly:
        """Fit the isolation forest on a sample of ``history``'s deviations."""
        from sklearn.ensemble import IsolationForest

        self.check(history)
        u = history.user_day
        contributions = self._contributions(u)
        sample = u.select(**contributions)
        total = int(sample.count().execute())
        if total == 0:
            self.forest_ = []
            return self
        keep = min(1.0, 20000 / total)
        # a hash of the key, not random(): the same rows on every engine and every run
        picked = u.filter((u.user_id.concat(u.day.cast("string")).hash().abs() % 10000)
                          < int(keep * 10000)).select(**contributions)
        frame = picked.to_pyarrow()
        matrix = np.column_stack([frame[m].to_numpy(zero_copy_only=False).astype("float64")
                                  for m in self.measures]) if frame.num_rows else None
        if matrix is None or len(matrix) < 16 or self.trees == 0:
            self.forest_ = []
            return self
        matrix = np.nan_to_num(matrix)
        model = IsolationForest(n_estimators=self.trees, max_samples=min(self.sample,
                                len(matrix)), random_state=self.seed).fit(matrix)
        forest = []
        for estimator in model.estimators_:
            tree = estimator.tree_
            nodes = [(int(tree.feature[i]), float(tree.threshold[i]),
                      int(tree.children_left[i]), int(tree.children_right[i]),
                      float(tree.n_node_samples[i])) for i in range(tree.node_count)]
            forest.append(nodes)
        self.forest_ = forest
        self.samples_ = float(min(self.sample, len(matrix)))
        return self

    def _path(self, nodes: list[tuple[int, float, int, int, float]], values: list[Any],
              index: int = 0, depth: int = 0) -> Any:
        feature, threshold, left, right, size = nodes[index]
        if left == -1:
            return ibis.literal(depth + _average_path(size))
        return ibis.ifelse(values[feature] <= threshold,
                           self._path(nodes, values, left, depth + 1),
                           self._path(nodes, values, right, depth + 1))

    def score(self, window: Window) -> ibis.Table:
        """Findings on person-days whose ensemble or forest score reaches ``min_score``."""
        self.check(window)
        u = window.user_day
        contributions = self._contributions(u)
        t = u.mutate(**{f"_c_{m}": c for m, c in contributions.items()})
        values = [t[f"_c_{m}"] for m in self.measures]
        # only clear deviations add up: many slightly busy measures are an ordinary day; the
        # largest counts half, so breadth (several measures at once) is what scores, while
        # one extreme measure is left to the rule detectors that explain it better
        total = balanced_sum([ibis.ifelse(value >= 2.0, value, 0.0) for value in values])
        largest = ibis.greatest(*values) if len(values) > 1 else values[0]
        breadth = total - 0.5 * ibis.ifelse(largest >= 2.0, largest, 0.0)
        ensemble = 1.0 - (-breadth / self.half_score).exp()
        if self.forest_:
            depth = balanced_sum([self._path(tree, values) for tree in self.forest_]) / len(
                self.forest_)
            isolation = (2.0 ** (-depth / _average_path(self.samples_)) - 0.5).clip(0.0, 0.5
                                                                                     ) * 2.0
        else:
            isolation = ibis.literal(0.0)
        t = t.mutate(_ensemble=ensemble, _isolation=isolation)
        t = t.mutate(_score=0.7 * t._ensemble + 0.3 * t._isolation)
        t = t.filter(t._score >= self.min_score)
        reasons = []
        for m in self.measures:
            c = t[f"_c_{m}"]
            observed = t[f"{m}_1d"] if f"{m}_1d" in t.columns else c
            expected = (t[f"{m}_median_self_90d"] if f"{m}_median_self_90d" in t.columns
                        else None)
            reasons.append(reason(f"{m}_1d", observed, expected,
                                  ibis.ifelse(c >= 2.0, c / self.cap, 0.0),
                                  ibis.literal(m.replace("_", " ")).concat(
                                      " unusual for the person and the role (",
                                      number_text(c, 1), " robust SDs)")))
        reasons.append(reason("isolation_forest", t._isolation, None,
                              ibis.ifelse(t._isolation >= 0.2, t._isolation * 0.5, 0.0),
                              ibis.literal("isolated by the forest (score ").concat(
                                  number_text(t._isolation, 2), ")")))
        return findings(t, detector=self, score=t._score, reasons=reasons)
