"""Features keep *cannot see* apart from *saw none* (DESIGN.md §6b, issue 17 item 2).

A column resting on an observation the deployment does not cover is null, not 0, and so are
its deviations and its weeks; on a deployment that sees everything nothing changes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from conftest import built_once, ingest_cert
from molehunt.features import build as feature_build
from molehunt.features.build import FeatureStore, build_features
from molehunt.features.catalogue import catalogue, families
from molehunt.store.connect import connect
from molehunt.store.coverage import OBSERVATIONS, coverage
from molehunt.store.workspace import Workspace

#: Families whose every column rests on something a deployment may lack.
_NEEDS = {"removable": {"removable_connect", "removable_files"}, "printing": {"printing"},
          "email": {"email_sent", "email_received"},
          "hr": {"hr_departure", "hr_travel", "hr_performance", "hr_declarations",
                 "directory"},
          "sensitivity": {"document_labels"}, "need_to_know": {"document_labels", "meetings"}}
#: Columns of those families that rest on nothing a source declares, and why.
_EXEMPT = {"days_since_hire_1d"}  # hire records: no observation of their own, null without HR
_ORG = {"users": 40, "days": 70, "seed": 3}


def test_every_observation_named_is_in_the_vocabulary() -> None:
    for f in catalogue():
        assert set(f.observes) <= set(OBSERVATIONS), f.name


def test_features_that_need_an_observation_declare_it() -> None:
    for family in families():
        for f in family.features:
            if family.name in _NEEDS and f.name not in _EXEMPT:
                assert set(f.observes) & _NEEDS[family.name], f.name
    named = {f.name: set(f.observes) for f in catalogue()}
    for name in ("web_uploads_1d", "web_downloads_1d", "uploads_cloud_storage_1d",
                 "uploads_paste_leak_1d", "uploads_webmail_1d", "uploads_other_1d",
                 "downloads_hacking_tools_1d"):
        assert "web_direction" in named[name], name
    for name in ("file_opens_1d", "file_writes_1d", "file_deletes_1d", "documents_read_1d",
                 "documents_read_other_unit_1d"):
        assert "file_access" in named[name], name
    for name in ("documents_read_1d", "events_out_sensitive_1d", "prints_sensitive_1d",
                 "files_to_removable_sensitive_1d"):
        assert "document_labels" in named[name], name


def _organisation(tmp_path_factory: pytest.TempPathFactory, telemetry: str) -> Workspace:
    from molehunt.simulate import SimulationConfig, simulate

    def build(root: Path) -> None:
        simulate(SimulationConfig(out=root / "org", scenarios=("C1", "C2"),
                                  telemetry=telemetry, **_ORG))  # type: ignore[arg-type]
        workspace = Workspace(root / "ws")
        workspace.root.mkdir()
        ingest_cert(workspace, root / "org")
        with workspace.locked():
            build_features(workspace)

    return Workspace(built_once(tmp_path_factory, f"unobservable-{telemetry}", build) / "ws")


def _tables(workspace: Workspace) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    store = connect(workspace)
    try:
        features = FeatureStore(workspace)
        day = features.table(store, "user_day")
        week = features.table(store, "user_week")
        assert day is not None and week is not None
        return (store.con.to_pyarrow(day), store.con.to_pyarrow(week),
                coverage(workspace, store))
    finally:
        store.close()


def test_a_column_the_deployment_cannot_see_is_null(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    day, week, seen = _tables(_organisation(tmp_path_factory, "cert-r4.2"))
    assert "web_direction" not in seen and "printing" not in seen
    assert "hr_travel" not in seen and "removable_files" in seen
    for name in ("uploads_cloud_storage_1d", "web_uploads_1d", "prints_1d",
                 "uploads_cloud_storage_z_self_90d", "uploads_cloud_storage_z_role_1d",
                 "uploads_cloud_storage_median_self_90d", "days_since_travel_1d",
                 "outside_engagement_declared_1d"):
        assert day.column(name).null_count == day.num_rows, name
    for name in ("uploads_cloud_storage_1w", "prints_1w"):
        assert week.column(name).null_count == week.num_rows, name
    # what it sees: 0 (saw none) or more on every active day its logs cover
    first, _ = seen["removable_files"]
    inside = pc.greater_equal(day.column("day"), pa.scalar(first))
    copies = day.column("files_to_removable_1d").filter(inside)
    assert len(copies) > 0 and copies.null_count == 0
    assert day.column("visits_cloud_storage_1d").null_count == 0
    assert day.column("events_out_1d").null_count == 0


def test_a_deployment_that_sees_everything_loses_nothing(
        tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    workspace = _organisation(tmp_path_factory, "full")
    day, week, _ = _tables(workspace)
    # the same organisation built as if every observation were covered on every day
    import shutil

    copy = Workspace(tmp_path / "ws")
    shutil.copytree(workspace.root, copy.root)
    monkeypatch.setattr(feature_build, "coverage", lambda _workspace, _store: None)
    build_features(copy, rebuild=True)
    before, before_week, _ = _tables(copy)
    assert day.num_rows == before.num_rows and week.num_rows == before_week.num_rows
    day = day.sort_by([("user_id", "ascending"), ("day", "ascending")])
    before = before.sort_by([("user_id", "ascending"), ("day", "ascending")])
    for name in before.column_names:
        assert day.column(name).null_count == before.column(name).null_count, name
    assert day.equals(before.select(day.column_names))


def test_null_means_outside_the_span() -> None:
    """A day before an observation's first covered day is null (not one after its last: a
    daily run must equal a rebuild); whole-range observations (HR) are not cut."""
    import ibis

    from molehunt.features.build import observed
    from molehunt.features.catalogue import feature

    table = ibis.memtable({"day": [dt.date(2024, 1, 1), dt.date(2024, 1, 5),
                                   dt.date(2024, 1, 12)], "x": [0, 3, 0]})
    seen = {"removable_files": (dt.date(2024, 1, 3), dt.date(2024, 1, 9)),
            "hr_travel": (dt.date(2024, 1, 3), dt.date(2024, 1, 3))}
    out = table.select(
        files=observed(feature("files_to_removable_1d"), table.x, table.day, seen),
        travel=observed(feature("days_since_travel_1d"), table.x, table.day, seen),
        prints=observed(feature("prints_1d"), table.x, table.day, seen),
        hosts=observed(feature("hosts_1d"), table.x, table.day, seen),
    ).to_pyarrow().to_pydict()
    assert out == {"files": [None, 3, 0], "travel": [0, 3, 0], "prints": [None, None, None],
                   "hosts": [0, 3, 0]}
