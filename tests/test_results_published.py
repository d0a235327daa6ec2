"""Results published in one switch, and a store read without writing (issue 20, item 7).

``run`` writes a new version of the results beside the published one and switches the
``results`` link to it in one rename: a run killed or rebuilding leaves the old results
readable. ``status`` reads one committed state of the store and writes nothing, so it works
on a read-only copy and holds together while an ingest commits.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import copy_fixture, ingest_cert, only_detectors
from molehunt.errors import StoreError
from molehunt.export import export_results
from molehunt.simulate.quick import generate_cert
from molehunt.store.connect import connect
from molehunt.store.published import RESULTS, VERSIONS
from molehunt.store.status import store_status
from molehunt.store.workspace import Workspace

#: The smallest organisation the simulator makes, over a few weeks, run with one detector
#: (``scored``): a run takes seconds, long enough to be killed half way, and there is risk to
#: export.
ORG = {"users": 40, "days": 40, "seed": 3}


def _molehunt(workspace: Path, *args: str, fault: str | None = None,
              prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("MOLEHUNT_FAULT_POINT", None)
    if fault:
        env["MOLEHUNT_FAULT_POINT"] = fault
    return subprocess.run([*prefix, sys.executable, "-m", "molehunt.cli", "--workspace",
                           str(workspace), *args], env=env, capture_output=True, text=True,
                          timeout=900)


def _popen_run(workspace: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    env.pop("MOLEHUNT_FAULT_POINT", None)
    return subprocess.Popen([sys.executable, "-m", "molehunt.cli", "--workspace",
                             str(workspace), "run", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with one published run."""
    from molehunt.pipeline import read_results, results_dir, run_detection
    from molehunt.simulate import SimulationConfig, simulate

    root = tmp_path_factory.mktemp("scored")
    simulate(SimulationConfig(out=root / "org", scenarios=("C1",), **ORG))
    workspace = Workspace(root / "ws")
    only_detectors(workspace.root, "after_hours_leaker")  # what is published, not found
    ingest_cert(workspace, root / "org")
    with workspace.locked():
        run_detection(workspace)
    risk = read_results(results_dir(workspace) / "risk")
    assert risk is not None and risk.num_rows > 0, "no risk: the tests would compare nothing"
    return workspace.root


def _copy(scored: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(scored, tmp_path / "ws", symlinks=True))


def _published(workspace: Path) -> str | None:
    """The version the results link names (None: a plain folder, or no results)."""
    link = workspace / RESULTS
    return os.readlink(link) if link.is_symlink() else None


def _risk_csv(workspace: Path, out: Path) -> bytes:
    export_results(Workspace(workspace), "risk", out)
    return out.read_bytes()


def test_a_run_killed_before_its_switch_leaves_the_old_results(scored: Path,
                                                               tmp_path: Path) -> None:
    workspace = _copy(scored, tmp_path)
    before = _risk_csv(workspace, tmp_path / "before.csv")
    published = _published(workspace)

    killed = _molehunt(workspace, "run", "--rebuild", "--skip-features",
                       fault="results_before_switch")

    assert killed.returncode == -signal.SIGKILL
    assert _published(workspace) == published
    exported = _molehunt(workspace, "export", "risk", "--out", str(tmp_path / "after.csv"))
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "after.csv").read_bytes() == before
    assert published is not None
    unfinished = set(os.listdir(workspace / VERSIONS)) - {Path(published).name}
    assert len(unfinished) == 1  # the killed run's complete but unpublished version

    resumed = _molehunt(workspace, "run", "--skip-features")
    assert resumed.returncode == 0, resumed.stderr
    assert _risk_csv(workspace, tmp_path / "resumed.csv") == before
    # the unfinished version is gone; the published one and the one it replaced remain
    assert set(os.listdir(workspace / VERSIONS)) == {
        Path(published).name, Path(os.readlink(workspace / RESULTS)).name}


def test_a_rebuild_killed_at_any_moment_leaves_the_old_results(scored: Path,
                                                              tmp_path: Path) -> None:
    workspace = _copy(scored, tmp_path)
    before = _risk_csv(workspace, tmp_path / "before.csv")
    for delay in (0.5, 2.0, 5.0, 9.0):
        child = _popen_run(workspace, "--rebuild", "--skip-features")
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert _risk_csv(workspace, tmp_path / f"after-{delay}.csv") == before


def test_readers_see_the_old_results_until_a_rebuild_publishes(scored: Path,
                                                              tmp_path: Path) -> None:
    workspace = _copy(scored, tmp_path)
    before = _risk_csv(workspace, tmp_path / "before.csv")
    published = _published(workspace)
    child = _popen_run(workspace, "--rebuild", "--skip-features")
    reads = 0
    try:
        while child.poll() is None:
            # the same input gives the same results: the old and the new read alike
            assert _risk_csv(workspace, tmp_path / "during.csv") == before
            reads += 1
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0
    assert reads > 0
    assert _published(workspace) != published
    assert _risk_csv(workspace, tmp_path / "after.csv") == before


def test_a_workspace_with_plain_results_switches_to_versions(scored: Path,
                                                            tmp_path: Path) -> None:
    # a workspace from before versions (or copied without its links) has a plain folder
    workspace = Path(shutil.copytree(scored, tmp_path / "ws", symlinks=False))
    shutil.rmtree(workspace / VERSIONS)
    before = _risk_csv(workspace, tmp_path / "before.csv")

    done = _molehunt(workspace, "run", "--skip-features")

    assert done.returncode == 0, done.stderr
    assert (workspace / RESULTS).is_symlink()
    assert _risk_csv(workspace, tmp_path / "after.csv") == before


def test_a_switch_to_versions_killed_half_way_is_finished(scored: Path,
                                                          tmp_path: Path) -> None:
    from molehunt.store import published as versions

    workspace = Path(shutil.copytree(scored, tmp_path / "ws", symlinks=False))
    shutil.rmtree(workspace / VERSIONS)
    (workspace / VERSIONS).mkdir()
    # killed between moving the plain folder aside and linking to it
    os.replace(workspace / RESULTS, workspace / VERSIONS / "v000000")

    new = versions.begin(Workspace(workspace), carry=("findings",))

    assert _published(workspace) == f"{VERSIONS}/v000000"
    assert any((new / "findings").rglob("*.parquet"))


# -- status: one committed state, nothing written ---------------------------------------------
def _tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """Everything about every entry under ``root`` (and itself) that a write would change."""
    found: dict[str, tuple[Any, ...]] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            detail: Any = os.readlink(path)
        elif stat.S_ISREG(info.st_mode):
            detail = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            detail = None
        found[str(path.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns,
                                              info.st_ino, detail)
    return found


def _read_only(root: Path, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IWUSR if writable else
                       mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def test_status_on_a_read_only_workspace_writes_nothing(scored: Path, tmp_path: Path) -> None:
    workspace = _copy(scored, tmp_path)
    _read_only(workspace, writable=False)
    # root writes through any mode: without these capabilities it is held to them too
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0 and shutil.which("setpriv"):
        prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner")
    try:
        before = _tree(workspace)
        done = _molehunt(workspace, "status", "--json", prefix=prefix)
        after = _tree(workspace)
    finally:
        _read_only(workspace, writable=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["events_total"] > 0
    assert after == before  # no journal, lock or temporary file, not even for a moment


def test_a_snapshot_reads_one_committed_state(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    ingest_cert(workspace, copy_fixture("cert_r4", tmp_path))
    snapshot = workspace.snapshot()
    before = store_status(workspace)
    batches = workspace.records()
    ingest_cert(workspace, copy_fixture("cert_r6", tmp_path))
    assert store_status(workspace)["events_total"] > before["events_total"]

    assert snapshot.records() == batches
    assert store_status(snapshot) == before
    store = connect(snapshot)
    try:
        assert int(store.events.count().execute()) == before["events_total"]
    finally:
        store.close()
    with pytest.raises(StoreError, match="cannot be written"):
        snapshot.set_meta("x", "y")


def test_status_during_an_ingest_holds_together(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    generate_cert(folder, users=30, days=40, seed=11, scale=0.5)
    # what each file adds to the store, from an ingest nobody watches
    reference = Workspace(tmp_path / "reference")
    ingest_cert(reference, folder)
    adds = {r.path: r.rows_stored for r in reference.records() if r.target == "events"}
    assert sum(adds.values()) == store_status(reference)["events_total"]

    watched = tmp_path / "watched"
    env = {**os.environ}
    env.pop("MOLEHUNT_FAULT_POINT", None)
    child = subprocess.Popen([sys.executable, "-m", "molehunt.cli", "--workspace", str(watched),
                              "ingest", "cert", str(folder)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reports: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def watch() -> None:
        while child.poll() is None:
            try:
                if Workspace(watched).exists():
                    reports.append(store_status(Workspace(watched)))
            except BaseException as error:
                failures.append(error)

    watcher = threading.Thread(target=watch)
    watcher.start()
    child.wait()
    watcher.join()
    assert child.returncode == 0
    assert not failures, failures
    assert reports
    for report in reports:
        committed = [f for f in report["files"] if f["state"] == "committed"]
        expected = sum(adds.get(f["path"], 0) for f in committed)
        assert report["events_total"] == expected
