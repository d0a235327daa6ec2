"""The feature catalogue on a hand-made organisation: every feature's value worked out by hand."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import ibis
import pytest

from features_fixture import (
    BUSY_DAY,
    FIRST_DAY,
    WEEKEND_DAY,
    add_events,
    add_hr_events,
    all_events,
    make_workspace,
)
from molehunt.features import baselines
from molehunt.features.build import FeatureStore, build_features
from molehunt.features.catalogue import catalogue
from molehunt.store.connect import connect
from molehunt.store.workspace import Workspace

#: Alice on her busy Wednesday; how each value follows from features_fixture.busy_day().
ALICE_BUSY: dict[str, Any] = {
    "events_1d": 27,  # 4 routine + 23
    "logons_1d": 2, "file_opens_1d": 2, "file_writes_1d": 1, "file_copies_1d": 3,
    "file_deletes_1d": 0, "emails_sent_1d": 3, "emails_viewed_1d": 1,
    "web_visits_1d": 6,  # 2 news, 2 monster, dropbox, glgroup
    "web_uploads_1d": 3, "web_downloads_1d": 1, "meetings_1d": 2,
    "events_out_1d": 8,  # 2 mails out, 3 uploads, 2 copies to USB, 1 print
    "bytes_out_1d": 46000,  # 5000 + 1000 mail, 40000 print; uploads and copies have no size
    "events_after_hours_1d": 6, "events_weekend_1d": 0, "logons_off_hours_1d": 1,
    "events_out_off_hours_1d": 2, "first_activity_hour_1d": 9.0,
    "last_activity_hour_1d": 20 + 50 / 60, "active_hours_1d": 11 + 50 / 60,
    "hosts_1d": 2, "hosts_other_user_1d": 1, "logons_other_user_host_1d": 1,
    "events_other_user_host_1d": 6,
    "hosts_first_seen_1d": 1, "recipients_first_seen_1d": 3,
    "recipient_domains_first_seen_1d": 2, "web_domains_first_seen_1d": 6,
    "leak_sites_first_seen_1d": 1,
    "device_first_use_1d": 1, "days_observed_1d": 9,
    "device_connects_1d": 1, "device_connects_off_hours_1d": 1, "files_to_removable_1d": 2,
    "bytes_to_removable_1d": 0, "files_to_removable_sensitive_1d": 2,
    "files_from_removable_1d": 1,
    "emails_external_sent_1d": 1, "emails_personal_sent_1d": 1,
    "attachments_out_email_1d": 2, "bytes_out_email_1d": 6000, "emails_to_competitor_1d": 1,
    "emails_to_expert_network_1d": 0, "emails_viewed_external_1d": 1,
    "visits_job_board_1d": 2, "visits_cloud_storage_1d": 2, "visits_paste_leak_1d": 1,
    "visits_hacking_tools_1d": 1, "visits_expert_network_1d": 1, "visits_competitor_1d": 0,
    "visits_webmail_1d": 0, "uploads_cloud_storage_1d": 1, "uploads_paste_leak_1d": 1,
    "uploads_webmail_1d": 0, "uploads_other_1d": 1, "downloads_hacking_tools_1d": 1,
    "prints_1d": 1, "pages_printed_1d": 12, "prints_off_hours_1d": 0, "prints_sensitive_1d": 1,
    "documents_read_1d": 3, "documents_read_secret_1d": 1, "sensitivity_read_max_1d": 3.0,
    "sensitivity_read_mean_1d": 2.0,  # plan 2, spec 3, readme 0, printed spec 3
    "sensitivity_out_max_1d": 4.0,  # the TOP SECRET upload
    "sensitivity_out_mean_1d": 2.6,  # 内部 mail 1, upload 4, spec copy 3, CONFIDENTIAL 2, print 3
    "events_out_sensitive_1d": 4, "events_out_crown_jewel_1d": 1,
    "documents_read_other_unit_1d": 1, "documents_read_other_unit_sensitive_1d": 1,
    "meetings_other_unit_1d": 1, "meetings_closed_other_unit_1d": 1,
    "days_since_hire_1d": 58, "days_since_notice_1d": 2, "days_to_departure_1d": 16,
    "days_since_layoff_in_group_1d": 5, "days_since_travel_1d": 7,
    "days_since_performance_concern_1d": 12, "outside_engagement_declared_1d": 1,
}
#: Other cells, for features whose busy-day value above is 0 or to test the other branch.
OTHER_CELLS: list[tuple[str, dt.date, str, Any]] = [
    ("alice", WEEKEND_DAY, "events_weekend_1d", 1),
    ("alice", dt.date(2024, 3, 5), "days_since_travel_1d", 0),  # on the trip
    ("alice", dt.date(2024, 3, 8), "days_since_notice_1d", None),  # before the notice
    ("alice", dt.date(2024, 3, 8), "days_to_departure_1d", None),
    ("alice", dt.date(2024, 3, 8), "outside_engagement_declared_1d", 0),
    ("carol", BUSY_DAY, "days_since_layoff_in_group_1d", None),  # Sales had no layoff
    ("bob", BUSY_DAY, "hosts_other_user_1d", 0),
    ("bob", BUSY_DAY, "sensitivity_read_max_1d", None),  # read nothing labelled
    ("alice", FIRST_DAY, "hosts_first_seen_1d", 1),
    ("alice", FIRST_DAY, "days_observed_1d", 0),
    ("alice", dt.date(2024, 3, 5), "hosts_first_seen_1d", 0),
]


def _rows(workspace: Workspace, table: str = "user_day") -> dict[tuple[str, dt.date], Any]:
    store = connect(workspace)
    try:
        stored = FeatureStore(workspace).table(store, table)
        assert stored is not None
        rows = store.con.to_pyarrow(stored).to_pylist()
    finally:
        store.close()
    key = "day" if table != "user_week" else "week"
    return {(r["user_id"], r[key]): r for r in rows}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The hand-made organisation with its features computed (DuckDB)."""
    root = tmp_path_factory.mktemp("features")
    workspace = make_workspace(Workspace(root / "ws"), root / "input")
    build_features(workspace)
    return workspace


def test_every_feature_has_an_expected_value() -> None:
    tested = set(ALICE_BUSY) | {name for _, _, name, _ in OTHER_CELLS}
    assert {f.name for f in catalogue()} == tested


def test_every_feature_has_a_meaning() -> None:
    for f in catalogue():
        assert len(f.definition) > 10 and f.definition.endswith((".", ")")), f.name


@pytest.mark.parametrize("name", sorted(ALICE_BUSY))
def test_busy_day_value(built: Workspace, name: str) -> None:
    value = _rows(built)[("alice", BUSY_DAY)][name]
    expected = ALICE_BUSY[name]
    if isinstance(expected, float):
        assert value == pytest.approx(expected)
    else:
        assert value == expected


@pytest.mark.parametrize(("user", "day", "name", "expected"), OTHER_CELLS)
def test_other_values(built: Workspace, user: str, day: dt.date, name: str,
                      expected: Any) -> None:
    assert _rows(built)[(user, day)][name] == expected


def test_context_and_deviations(built: Workspace) -> None:
    rows = _rows(built)
    alice = rows[("alice", BUSY_DAY)]
    assert (alice["role"], alice["department"]) == ("Engineer", "R&D")
    # seven earlier weekdays of 4 events: median 4, no spread → the scale floor
    assert alice["events_median_self_90d"] == 4.0
    assert alice["events_z_self_30d"] == pytest.approx(
        round((math.log(28) - math.log(5)) / baselines.SCALE_FLOOR, 4))
    assert rows[("alice", dt.date(2024, 3, 8))]["events_z_self_30d"] is None  # 4 earlier days
    assert alice["events_z_role_1d"] is None  # two engineers are too few peers
    assert alice["events_out_all"] == 8
    assert rows[("alice", WEEKEND_DAY)]["events_out_all"] == 8


def test_peer_deviation_is_a_robust_z() -> None:
    values = [1, 2, 2, 3, 3, 4, 40]
    rows = ibis.memtable({"user_id": [f"u{i}" for i in range(7)],
                          "day": [dt.date(2024, 1, 1)] * 7, "role": ["r"] * 7,
                          "events_1d": values})
    feature = next(f for f in catalogue() if f.name == "events_1d")
    out = ibis.duckdb.connect().to_pyarrow(
        baselines.peer_deviations(rows, [feature], "role")).to_pylist()
    logs = sorted(math.log1p(v) for v in values)

    def quantile(q: float) -> float:
        position = q * (len(logs) - 1)
        low = math.floor(position)
        return logs[low] + (position - low) * (logs[min(low + 1, 6)] - logs[low])

    scale = max((quantile(0.75) - quantile(0.25)) / 1.349, baselines.SCALE_FLOOR)
    by_user = {r["user_id"]: r["events_z_role_1d"] for r in out}
    assert by_user["u6"] == pytest.approx(round((math.log1p(40) - quantile(0.5)) / scale, 4))
    assert by_user["u3"] == pytest.approx(round((math.log1p(3) - quantile(0.5)) / scale, 4))


def test_weekly_ledger_and_sessions(built: Workspace) -> None:
    week = _rows(built, "user_week")[("alice", dt.date(2024, 3, 11))]
    assert week["active_days_1w"] == 6  # Monday-Friday and the Saturday
    assert week["events_1w"] == 4 * 5 + 23 + 1
    assert week["first_activity_hour_1w"] == 9.0
    assert week["sensitivity_out_max_1w"] == 4.0
    store = connect(built)
    try:
        ledger = store.con.to_pyarrow(FeatureStore(built).table(store, "ledger")).to_pylist()
        sessions = store.con.to_pyarrow(
            FeatureStore(built).table(store, "sessions")).to_pylist()
    finally:
        store.close()
    alice = {(r["channel"], r["sensitivity"]): r for r in ledger if r["user_id"] == "alice"}
    assert alice[("removable_media", 3)]["events"] == 1
    assert alice[("cloud_storage", 4)]["documents"] == 0  # an excerpt, no known document
    assert alice[("printer", 3)]["bytes"] == 40000
    assert sum(r["events"] for r in alice.values()) == 8
    night = [s for s in sessions if s["user_id"] == "alice" and s["host"] == "PC-B"]
    assert len(night) == 1 and night[0]["minutes"] == 20 and night[0]["off_hours"]


def test_a_daily_run_equals_a_full_rebuild(tmp_path: Path) -> None:
    daily = make_workspace(Workspace(tmp_path / "daily"), tmp_path / "in1",
                           last_day=dt.date(2024, 3, 12))
    build_features(daily)
    # the busy day arrives, then the rest of the week
    later = [e for e in all_events(WEEKEND_DAY) if e["ts"][:10] >= "2024-03-13"]
    add_events(daily, tmp_path / "in1", [e for e in later if e["ts"][:10] == "2024-03-13"],
               "day13")
    first = build_features(daily)
    assert (first.start, first.days) == (BUSY_DAY, 1)
    add_events(daily, tmp_path / "in1", [e for e in later if e["ts"][:10] > "2024-03-13"],
               "rest")
    assert build_features(daily).start == dt.date(2024, 3, 14)
    assert build_features(daily).start is None  # nothing new: nothing to do
    full = make_workspace(Workspace(tmp_path / "full"), tmp_path / "in2")
    build_features(full)
    for table in ("user_day", "user_week", "sessions", "outbound", "ledger", "ledger_documents"):
        assert _rows_of(daily, table) == _rows_of(full, table), table


def test_a_daily_run_stopped_while_storing_is_repaired_by_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped after the compact states were replaced: the rerun must not count them twice."""
    import molehunt.features.build as build

    daily = make_workspace(Workspace(tmp_path / "daily"), tmp_path / "in1",
                           last_day=dt.date(2024, 3, 12))
    build_features(daily)
    add_events(daily, tmp_path / "in1", [e for e in all_events(WEEKEND_DAY)
                                         if e["ts"][:10] >= "2024-03-13"], "rest")
    real = build.replace_days

    def stop_at_the_week(store: Any, staged: Path, target: Path, *args: Any, **kw: Any) -> None:
        if target.name == "user_week":
            raise KeyboardInterrupt
        real(store, staged, target, *args, **kw)

    monkeypatch.setattr(build, "replace_days", stop_at_the_week)
    with pytest.raises(KeyboardInterrupt):
        build_features(daily)
    monkeypatch.setattr(build, "replace_days", real)
    again = build_features(daily)
    assert again.start == BUSY_DAY and not again.full
    full = make_workspace(Workspace(tmp_path / "full"), tmp_path / "in2")
    build_features(full)
    for table in ("user_day", "user_week", "sessions", "outbound", "ledger", "ledger_documents"):
        assert _rows_of(daily, table) == _rows_of(full, table), table


def _rows_of(workspace: Workspace, table: str) -> list[tuple[Any, ...]]:
    store = connect(workspace)
    try:
        stored = FeatureStore(workspace).table(store, table)
        assert stored is not None
        rows = store.con.to_pyarrow(stored).to_pylist()
    finally:
        store.close()
    return sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)


@pytest.mark.spark
def test_spark_computes_the_same_tables(built: Workspace, tmp_path: Path) -> None:
    copy = Workspace(tmp_path / "spark")
    shutil.copytree(built.root, copy.root)
    shutil.rmtree(copy.root / "features")
    build_features(copy, "spark")
    for table in ("user_day", "user_week", "sessions", "outbound", "ledger", "ledger_documents"):
        assert _rows_of(copy, table) == _rows_of(built, table), table


def test_no_events_is_a_clear_error(tmp_path: Path) -> None:
    from molehunt.errors import StoreError

    empty = Workspace(tmp_path / "empty")
    empty.create()
    with pytest.raises(StoreError, match="no events"):
        build_features(empty)




def test_late_news_recomputes_from_its_day_and_equals_a_full_rebuild(tmp_path: Path) -> None:
    late = [{"user_id": "bob", "ts": "2024-03-10T08:00:00", "kind": "travel", "days": 1},
            {"user_id": "carol", "ts": "2030-01-01T08:00:00", "kind": "performance_concern"}]
    updated = make_workspace(Workspace(tmp_path / "updated"), tmp_path / "in1")
    build_features(updated)
    add_hr_events(updated, tmp_path / "in1", late, "late")
    summary = build_features(updated)
    assert summary.start == dt.date(2024, 3, 10) and not summary.full
    full = make_workspace(Workspace(tmp_path / "full"), tmp_path / "in2")
    add_hr_events(full, tmp_path / "in2", late, "late")
    build_features(full)
    for table in ("user_day", "user_week", "sessions", "outbound", "ledger", "ledger_documents"):
        assert _rows_of(updated, table) == _rows_of(full, table), table
    # news dated after the last event waits for the days it concerns
    add_hr_events(updated, tmp_path / "in1", [
        {"user_id": "bob", "ts": "2031-01-01T08:00:00", "kind": "travel", "days": 1}], "later")
    assert build_features(updated).start is None
    assert build_features(updated).start is None


def test_an_excerpt_of_a_protected_document_gets_its_sensitivity(tmp_path: Path) -> None:
    from molehunt.content.protect import match_events, protect_add

    vocabulary = ("anode", "slurry", "mixing", "ratio", "cathode", "binder", "calendering",
                  "pressure", "electrolyte", "additive", "formation", "cycle", "ageing",
                  "temperature", "separator", "coating", "thickness")
    words = [f"{w}{i % 7}" for i, w in enumerate(vocabulary * 20)]
    spec = tmp_path / "cell-recipe.txt"
    spec.write_text(" ".join(words), "utf-8")
    excerpt = " ".join(words[60:140])  # no marking, no label: only the content tells
    day = (WEEKEND_DAY + dt.timedelta(days=2)).isoformat()
    mail = {"ts": f"{day}T10:00:00", "user_id": "bob", "action": "email_send",
            "channel": "webmail", "host": "pc-bob", "object": "bob@corp.com",
            "target": "bob.home@gmail.com", "domain": "gmail.com", "bytes": 900,
            "content": excerpt}

    def prepared(name: str) -> Workspace:
        workspace = make_workspace(Workspace(tmp_path / name), tmp_path / f"in-{name}")
        with workspace.locked():
            added = protect_add(workspace, [spec], label="secret", project="ATLAS")
        assert not added.errors
        return workspace

    daily = prepared("daily")
    build_features(daily)
    add_events(daily, tmp_path / "in-daily", [mail], "mail")
    with daily.locked():
        match_events(daily, dt.date.fromisoformat(day), dt.date.fromisoformat(day))
    assert build_features(daily).start == dt.date.fromisoformat(day)
    store = connect(daily)
    try:
        outbound = FeatureStore(daily).table(store, "outbound")
        assert outbound is not None
        rows = store.con.to_pyarrow(outbound.filter(outbound.user_id == "bob",
                                                    outbound.channel == "webmail")).to_pylist()
    finally:
        store.close()
    assert [(r["sensitivity"], r["doc_id"] is not None, r["family"]) for r in rows] == [
        (3, True, "ATLAS")]
    store = connect(daily)
    try:
        families = FeatureStore(daily).table(store, "ledger_families")
        assert families is not None
        found = store.con.to_pyarrow(families).to_pylist()
    finally:
        store.close()
    assert [(r["user_id"], r["family"], r["sensitivity_max"], r["documents"], r["events"])
            for r in found] == [("bob", "ATLAS", 3, 1, 1)]

    full = prepared("full")
    add_events(full, tmp_path / "in-full", [mail], "mail")
    with full.locked():
        match_events(full, dt.date.fromisoformat(day), dt.date.fromisoformat(day))
    build_features(full)
    for table in ("user_day", "outbound", "ledger", "ledger_documents", "ledger_families"):
        assert _rows_of(daily, table) == _rows_of(full, table), table


def test_copies_on_the_removable_media_channel_count_without_flags(tmp_path: Path) -> None:
    workspace = make_workspace(Workspace(tmp_path / "ws"), tmp_path / "in")
    day = (WEEKEND_DAY + dt.timedelta(days=2)).isoformat()
    # as CERT r4/r5 file.csv rows arrive: a copy on the removable-media channel, no flags
    add_events(workspace, tmp_path / "in", [
        {"ts": f"{day}T10:00:00", "user_id": "bob", "action": "file_copy",
         "channel": "removable_media", "host": "pc-bob", "object": r"C:\x\a.docx"},
        {"ts": f"{day}T10:01:00", "user_id": "bob", "action": "file_copy",
         "channel": "removable_media", "host": "pc-bob", "object": r"E:\b.docx",
         "from_removable_media": True, "to_removable_media": False}], "r4-copies")
    build_features(workspace)
    store = connect(workspace)
    try:
        days = FeatureStore(workspace).table(store, "user_day")
        assert days is not None
        that_day = days.filter(days.user_id == "bob", days.day == dt.date.fromisoformat(day))
        row = store.con.to_pyarrow(that_day).to_pylist()[0]
    finally:
        store.close()
    assert (row["files_to_removable_1d"], row["files_from_removable_1d"]) == (1, 1)
