"""`evaluate` on the S1-S4 organisation: the ablation and the slow-scheme figures."""

from __future__ import annotations

from typing import Any

from molehunt.evaluate.run import evaluate
from molehunt.export import export_results


def test_ablation_and_slow_scheme_figures(slow_org: Any, tmp_path: Any) -> None:
    workspace, org = slow_org
    figures, _ = evaluate(workspace, org)
    with_them = figures["molehunt"]["groups"]["S1-S4"]["recall"]["1.0%"]["recall"]
    without = figures["molehunt_without_long_horizon"]
    assert set(without["switched_off"]) >= {"inbound_contamination", "low_and_slow",
                                            "recruiter_network"}
    assert without["groups"]["S1-S4"]["recall"]["1.0%"]["recall"] < with_them
    slow = figures["slow_schemes"]["molehunt"]
    assert all(slow["s3_flagged_on_arrival"].values()), slow["s3_flagged_on_arrival"]
    assert slow["s1_median_days_to_detect_1pct"] is not None
    assert slow["s1_median_days_to_detect_1pct"] <= 60
    for group in slow["s2_groups"].values():
        assert group["accomplices_linked"] >= 0.7
    # the people graph the console reads: hub-member edges of the group findings
    rows = export_results(workspace, "graph", tmp_path / "graph.csv")
    assert rows > 0
