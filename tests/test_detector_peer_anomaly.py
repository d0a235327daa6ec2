"""Scenario test: the unsupervised baseline ranks an insider's unusual days at the top."""

from __future__ import annotations

from typing import Any

from detect_helpers import caught, insiders, run
from molehunt.detectors.peer_anomaly import PeerAnomaly, _average_path


def test_an_insider_is_the_most_unusual_person_of_a_day(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(PeerAnomaly(), workspace)
    public = [i for i in insiders(org) if i["scenario"].startswith("C")]
    assert any(caught(found, i, top=1) for i in public)


def test_findings_are_rare_and_explained(detect_org: Any) -> None:
    workspace, org = detect_org
    found = run(PeerAnomaly(), workspace)
    involved = {i["user"] for i in insiders(org)}
    others = found[~found.user_id.isin(involved)]
    assert others.user_id.nunique() <= 20, "a baseline that flags everyone explains nothing"
    measures = {r["feature"] for reasons in found.reasons for r in reasons}
    assert measures - {"isolation_forest"}, "reasons name the measures that deviate"


def test_forest_is_compiled_into_the_query(detect_org: Any) -> None:
    workspace, _ = detect_org
    from detect_helpers import slice_of, window

    store, full = window(workspace)
    try:
        detector = PeerAnomaly(trees=3).fit(slice_of(full, 60))
        assert len(detector.forest_) == 3
        assert detector.samples_ > 0
        assert _average_path(2) == 1.0 and _average_path(1) == 0.0
    finally:
        store.close()
