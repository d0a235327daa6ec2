"""The store's guarantees: re-ingest is a no-op, new days append, no event id twice,
and an ingest killed at any point leaves a consistent store that the next run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, copy_fixture, events, ingest_cert, quarantine
from molehunt.errors import StoreError
from molehunt.simulate.quick import generate_cert
from molehunt.store.workspace import Workspace


def _event_ids(workspace: Workspace) -> list[str]:
    return sorted(e["event_id"] for e in events(workspace))


def test_reingesting_the_same_files_is_a_no_op(workspace: Workspace, tmp_path: Path) -> None:
    folder = copy_fixture("cert_r4", tmp_path)
    ingest_cert(workspace, folder)
    before = (_event_ids(workspace), len(quarantine(workspace)), len(workspace.records()))
    summary = ingest_cert(workspace, folder)
    assert {f.status for f in summary.files} == {"skipped"}
    assert (_event_ids(workspace), len(quarantine(workspace)), len(workspace.records())) == before


def test_new_days_append_and_overlapping_ids_are_not_stored_twice(workspace: Workspace,
                                                                  tmp_path: Path) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()
    header = "id,date,user,pc,activity\n"
    (folder / "logon.csv").write_text(header + "{A},01/04/2010 07:00:00,U1,PC-1,Logon\n"
                                      "{B},01/04/2010 17:00:00,U1,PC-1,Logoff\n")
    ingest_cert(workspace, folder)
    # the next export repeats yesterday's rows and adds a new day
    (folder / "logon.csv").write_text(header + "{A},01/04/2010 07:00:00,U1,PC-1,Logon\n"
                                      "{B},01/04/2010 17:00:00,U1,PC-1,Logoff\n"
                                      "{C},01/05/2010 07:00:00,U1,PC-1,Logon\n")
    summary = ingest_cert(workspace, folder)
    logon = next(f for f in summary.files if f.layout == "cert.logon")
    assert (logon.rows_stored, logon.rows_duplicate) == (1, 2)
    assert _event_ids(workspace) == ["{A}", "{B}", "{C}"]
    assert sorted(p.parent.name for p in workspace.event_files()) == [
        "day=2010-01-04", "day=2010-01-05"]


def test_duplicates_within_a_file_are_stored_once(workspace: Workspace, tmp_path: Path) -> None:
    ingest_cert(workspace, copy_fixture("cert_r4", tmp_path))
    ids = [e["event_id"] for e in events(workspace)]
    assert ids.count("{D3}") == 1
    assert len(ids) == len(set(ids))


def test_second_writer_is_refused(workspace: Workspace) -> None:
    with workspace.locked(), pytest.raises(StoreError, match="another molehunt process"), \
            Workspace(workspace.root).locked():
        pass


def _run_ingest(workspace: Path, folder: Path, fault: str | None = None
                ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("MOLEHUNT_FAULT_POINT", None)
    if fault:
        env["MOLEHUNT_FAULT_POINT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace), "ingest", "cert",
         str(folder)], env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    generate_cert(folder, users=30, days=40, seed=11, scale=0.5)
    return folder


@pytest.fixture(scope="module")
def reference(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    workspace = Workspace(tmp_path_factory.mktemp("reference") / "ws")
    ingest_cert(workspace, generated)
    return _event_ids(workspace)


@pytest.mark.parametrize("fault", ["after_stage", "before_commit", "after_manifest", "mid_move"])
def test_kill_at_each_commit_step_then_resume(fault: str, generated: Path, reference: list[str],
                                              tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    killed = _run_ingest(workspace, generated, fault)
    assert killed.returncode == -signal.SIGKILL
    resumed = _run_ingest(workspace, generated)
    assert resumed.returncode == 0, resumed.stderr
    assert _event_ids(Workspace(workspace)) == reference
    assert not any((workspace / "staging").iterdir())


def test_sigkill_at_random_moments_then_resume(generated: Path, reference: list[str],
                                               tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    env = {**os.environ}
    env.pop("MOLEHUNT_FAULT_POINT", None)
    for delay in (0.3, 0.9, 1.7, 2.6):
        child = subprocess.Popen(
            [sys.executable, "-m", "molehunt.cli", "--workspace", str(workspace), "ingest",
             "cert", str(generated)], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
    resumed = _run_ingest(workspace, generated)
    assert resumed.returncode == 0, resumed.stderr
    assert _event_ids(Workspace(workspace)) == reference


def test_fixture_folder_is_untouched_by_ingest(workspace: Workspace) -> None:
    before = {p: p.stat().st_mtime_ns for p in (FIXTURES / "cert_r6").rglob("*")}
    ingest_cert(workspace, FIXTURES / "cert_r6")
    assert before == {p: p.stat().st_mtime_ns for p in (FIXTURES / "cert_r6").rglob("*")}


def test_rows_out_of_time_order_land_in_their_days(workspace: Workspace, tmp_path: Path) -> None:
    import random

    folder = tmp_path / "shuffled"
    folder.mkdir()
    rows = [f"{{S{i}}},01/{1 + i % 28:02d}/2010 {i % 24:02d}:00:00,U{i % 7},PC-{i % 5},"
            f"{'Logon' if i % 2 else 'Logoff'}" for i in range(3000)]
    random.Random(5).shuffle(rows)
    (folder / "logon.csv").write_text("id,date,user,pc,activity\n" + "\n".join(rows) + "\n")
    ingest_cert(workspace, folder)
    stored = events(workspace)
    assert len(stored) == 3000
    assert all(e["day"] == e["ts"].date() for e in stored)
    assert len({p.parent.name for p in workspace.event_files()}) == 28


def test_identical_snapshots_of_different_months_are_both_kept(workspace: Workspace,
                                                               tmp_path: Path) -> None:
    folder = copy_fixture("cert_r4", tmp_path)
    march = (folder / "LDAP" / "2010-03.csv").read_bytes()
    (folder / "LDAP" / "2010-04.csv").write_bytes(march)
    ingest_cert(workspace, folder)
    assert len(workspace.table_files("ldap")) == 4


def test_an_id_seen_on_another_day_is_not_stored_again(workspace: Workspace,
                                                       tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    header = "id,date,user,pc,activity\n"
    (first / "logon.csv").write_text(header + "{A1},01/02/2010 07:00:00,U1,PC-1,Logon\n")
    (second / "logon.csv").write_text(header + "{A1},01/03/2010 07:00:00,U1,PC-1,Logon\n"
                                      "{A2},01/03/2010 08:00:00,U1,PC-1,Logon\n")
    ingest_cert(workspace, first)
    summary = ingest_cert(workspace, second)
    assert (summary.files[0].rows_stored, summary.files[0].rows_duplicate) == (1, 1)
    assert _event_ids(workspace) == ["{A1}", "{A2}"]


def test_paths_with_pattern_characters_are_read_literally(tmp_path: Path) -> None:
    folder = tmp_path / "in [2010]"
    folder.mkdir()
    header = "id,date,user,pc,activity\n"
    (folder / "logon?.csv").write_text(header + "{A},01/02/2010 07:00:00,U1,PC-1,Logon\n")
    (folder / "logon1.csv").write_text(header + "{B},01/02/2010 08:00:00,U1,PC-1,Logon\n")
    workspace = Workspace(tmp_path / "ws [it's*]")
    summary = ingest_cert(workspace, folder)
    assert [(f.rows_read, f.rows_duplicate) for f in summary.files] == [(1, 0), (1, 0)]
    assert _event_ids(workspace) == ["{A}", "{B}"]
    from molehunt.store.status import store_status

    assert store_status(workspace)["events_total"] == 2


def test_readers_do_not_see_a_batch_half_moved_into_place(generated: Path,
                                                          tmp_path: Path) -> None:
    from molehunt.store.connect import connect

    workspace = tmp_path / "ws"
    killed = _run_ingest(workspace, generated, "mid_move")
    assert killed.returncode == -signal.SIGKILL
    store = Workspace(workspace)
    committing = [r for r in store.records() if r.state == "committing"]
    assert len(committing) == 1
    assert any(p.name.startswith(committing[0].batch_id) for p in
               (workspace / "events").rglob("*.parquet"))  # some files already moved
    tables = connect(store)
    try:
        visible = tables.events.count().execute()
    finally:
        tables.close()
    committed = sum(r.rows_stored for r in store.records() if r.state == "committed"
                    and r.target == "events")
    assert visible == committed


def test_a_stale_directory_is_rebuilt_by_the_next_writer(workspace: Workspace,
                                                         tmp_path: Path) -> None:
    ingest_cert(workspace, copy_fixture("cert_r4", tmp_path))
    workspace.directory_file.unlink()  # as if killed before the rebuild
    with workspace.locked():
        from molehunt.sources.ingest import Ingestor

        Ingestor(workspace)
    assert workspace.directory_file.exists()
