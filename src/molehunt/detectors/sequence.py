"""Ordered steps within a window: e.g. job search, then exfiltration, then a departure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import ibis

from molehunt.detectors.base import Detector, Window, findings, number_text, reason, unit_interval
from molehunt.errors import DetectorError

#: The default sequences: name → (weight, steps); a step is a feature column that must be > 0
#: (or not null, for the ``days_*`` context columns).
DEFAULT_SEQUENCES: dict[str, tuple[float, tuple[str, ...]]] = {
    "job_search_exfiltration_departure": (
        0.7, ("visits_job_board_1d", "files_to_removable_sensitive_1d", "days_to_departure_1d")),
    "competitor_contact_then_removable": (
        0.55, ("emails_to_competitor_1d", "files_to_removable_sensitive_1d")),
    "approach_then_sensitive_out": (
        0.5, ("visits_expert_network_1d", "emails_personal_sent_1d",
              "events_out_crown_jewel_1d")),
    "layoff_then_cloud_sensitive": (
        0.5, ("days_since_layoff_in_group_1d", "uploads_cloud_storage_1d",
              "events_out_sensitive_1d")),
    "hacking_tool_then_other_host": (
        0.6, ("downloads_hacking_tools_1d", "device_connects_1d", "hosts_other_user_1d")),
}


@dataclass(kw_only=True)
class Sequence(Detector):
    """Steps that first happen in a given order within ``within_days`` active days.

    Scenario: insider cases unfold in stages (job search, exfiltration, resignation; tool
    download, carrying it over, using it) that are unremarkable alone and telling in order.

    Signals: for each configured sequence, the first day in the trailing window on which each
    step happened (a step is a feature column above zero, or present for ``days_*`` context
    columns); a finding on the first day of the last step when those first days are in order.
    Steps that are rare for the person weigh more: the score is the sequence's weight times
    the share of steps that were absent in the person's earlier window (scaled down while
    that window holds fewer than ``min_history`` active days).

    False positives: people whose ordinary routine contains every step (their steps were all
    present before the window, so the novelty share is low); honest leavers (they take
    nothing sensitive, so the exfiltration step is missing).
    """

    name: ClassVar[str] = "sequence"
    kind: ClassVar[str] = "sequence"
    requires: ClassVar[frozenset[str]] = frozenset({"user_day"})
    lookback_days: ClassVar[int] = 120

    #: Active days within which all steps of a sequence must happen.
    within_days: int = 30
    #: Active days of earlier history needed before a step can count as new for the person.
    min_history: int = 60
    #: name → [weight, [step columns…]]; the defaults are :data:`DEFAULT_SEQUENCES`.
    sequences: dict[str, Any] = field(default_factory=lambda: {
        k: [w, list(s)] for k, (w, s) in DEFAULT_SEQUENCES.items()})

    def __post_init__(self) -> None:
        for name, spec in self.sequences.items():
            if (not isinstance(spec, list | tuple) or len(spec) != 2
                    or not isinstance(spec[1], list | tuple) or len(spec[1]) < 2):
                raise DetectorError(f"sequence {name!r}: expected [weight, [step, step, …]]")
        if self.within_days < 1:
            raise DetectorError("sequence: within_days must be at least 1")

    @classmethod
    def example_params(cls) -> list[dict[str, Any]]:
        """Default and one custom two-step sequence."""
        return [{}, {"within_days": 10, "sequences": {
            "read_then_print": [0.4, ["documents_read_secret_1d", "prints_sensitive_1d"]]}}]

    def check(self, window: Window) -> None:
        """Every step column must exist."""
        super().check(window)
        missing = sorted({s for _, steps in self.sequences.values() for s in steps}
                         - set(window.user_day.columns))
        if missing:
            raise DetectorError(f"sequence: unknown step columns {', '.join(missing)}")

    def score(self, window: Window) -> ibis.Table:
        """One finding per sequence completed on a day (the best one per person-day kept)."""
        self.check(window)
        used = sorted({s for _, steps in self.sequences.values() for s in steps})
        u = window.user_day.select("user_id", "day", *used)
        trailing = ibis.window(group_by=u.user_id, order_by=u.day,
                               preceding=self.within_days - 1, following=0)
        before = ibis.window(group_by=u.user_id, order_by=u.day,
                             rows=(-(self.within_days + 90), -self.within_days))
        parts = []
        for name, (weight, steps) in sorted(self.sequences.items()):
            def happened(column: str) -> Any:
                value = u[column]
                return value.notnull() if column.startswith("days_") else value.fill_null(0) > 0
            firsts = {s: ibis.ifelse(happened(s), u.day, None).min().over(trailing)
                      for s in steps}
            habitual = {s: happened(s).cast("int32").max().over(before).fill_null(0)
                        for s in steps}
            # rows in the earlier window: with little history "new" means little
            known = u.day.count().over(before)
            t = u.mutate(**{f"_f{i}": firsts[s] for i, s in enumerate(steps)},
                         **{f"_h{i}": habitual[s] for i, s in enumerate(steps)},
                         _last=happened(steps[-1]), _known=known.fill_null(0))
            # the sequence completes once: on the first day of its last step in the window
            last = len(steps) - 1
            ordered = t._last & (t[f"_f{last}"] == t.day)
            for i in range(len(steps)):
                ordered = ordered & t[f"_f{i}"].notnull()
                if i:
                    ordered = ordered & (t[f"_f{i - 1}"] <= t[f"_f{i}"])
            t = t.filter(ordered)
            novel = sum(1 - t[f"_h{i}"] for i in range(len(steps))) / len(steps)
            history = unit_interval(t._known / self.min_history)
            score = float(weight) * (0.2 + 0.8 * novel * history)
            reasons = [reason(f"sequence:{name}", len(steps), None, score,
                              ibis.literal(f"{name.replace('_', ' ')}: "
                                           + " → ".join(steps) + " in order within "
                                           f"{self.within_days} active days; ").concat(
                                  number_text(novel * len(steps)),
                                  " steps new for the person"))]
            parts.append(findings(t, detector=self, score=score, reasons=reasons))
        union = parts[0]
        for part in parts[1:]:
            union = union.union(part)
        best = ibis.window(group_by=[union.user_id, union.day],
                           order_by=[ibis.desc(union.score), union.reasons[0].feature])
        return union.filter(ibis.row_number().over(best) == 0)
