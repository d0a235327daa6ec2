"""Telemetry profiles: the same people do the same things; only what gets logged differs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from molehunt.errors import ConfigError
from molehunt.simulate import SimulationConfig, simulate
from molehunt.simulate.output import TELEMETRY

SMALL = {"users": 80, "days": 90, "seed": 5, "scenarios": ("C1", "C3")}
#: Simulated releases ingested here: r5.2, the one no other test ingests (r4.2 and r6.2
#: organisations are ingested by the detector suites; every release's layout is tested on the
#: hand-written fixtures in test_sources_releases.py). Add more at ~5 s each.
RELEASES_INGESTED = ("r5.2",)


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _without_ids(path: Path) -> list[list[str]]:
    return [row[1:] for row in _rows(path)[1:]]


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small organisation simulated under every profile (cert-r5.2: see ``releases``)."""
    root = tmp_path_factory.mktemp("telemetry")
    # cert-r5.2 differs from cert-r6.2 only in columns, tested on the smaller ``releases``
    names = [name for name in TELEMETRY if name != "cert-r5.2"]
    for name in names:
        simulate(SimulationConfig(out=root / name, telemetry=name, layout="r4.2", **SMALL))
    return {name: root / name for name in names}


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def test_each_profile_writes_exactly_its_files(profiles: dict[str, Path],
                                               releases: dict[str, Path]) -> None:
    written = {name: {p.name for p in folder.iterdir() if p.name != "answers"}
               for name, folder in profiles.items()}
    cert = {"logon.csv", "device.csv", "file.csv", "email.csv", "http.csv", "psychometric.csv",
            "LDAP", "company.json"}
    assert written["cert-r4.2"] == cert
    assert written["cert-r6.2"] == cert
    assert {p.name for p in releases["r5.2"].iterdir() if p.name != "answers"} == cert
    assert written["sparse"] == {"logon.csv", "email.csv", "http.csv", "LDAP", "company.json"}
    assert written["full"] >= cert | {"events.jsonl", "hr_events.jsonl", "documents.jsonl"}


def test_cert_profiles_have_the_release_columns(profiles: dict[str, Path],
                                                releases: dict[str, Path]) -> None:
    r4 = _header(profiles["cert-r4.2"] / "http.csv")
    r6 = _header(profiles["cert-r6.2"] / "http.csv")
    assert r4 == ["id", "date", "user", "pc", "url", "content"]
    assert r6 == ["id", "date", "user", "pc", "url", "activity", "content"]
    assert _header(profiles["cert-r4.2"] / "file.csv") == [
        "id", "date", "user", "pc", "filename", "content"]
    # r5.2: r6's device, file and e-mail columns, r4's web columns
    for name in ("device.csv", "file.csv", "email.csv"):
        assert _header(releases["r5.2"] / name) == _header(profiles["cert-r6.2"] / name)
    assert _header(releases["r5.2"] / "http.csv") == r4


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small organisation in a release's exact files (the smallest the simulator makes)."""
    root = tmp_path_factory.mktemp("releases")
    for release in RELEASES_INGESTED:
        simulate(SimulationConfig(out=root / release, telemetry=f"cert-{release}", users=40,
                                  days=30, seed=5, scenarios=("C1",)))
    return {release: root / release for release in RELEASES_INGESTED}


@pytest.mark.parametrize("release", RELEASES_INGESTED)
def test_each_release_ingests_with_nothing_quarantined(
        releases: dict[str, Path], release: str, tmp_path: Path) -> None:
    from conftest import ingest_cert, quarantine, query
    from molehunt.sources._cert import RELEASE_LAYOUTS, release_family
    from molehunt.sources.ingest import recognise
    from molehunt.sql import sql_path
    from molehunt.store.workspace import Workspace

    folder = releases[release]
    inbound = {"r4.2": set[str](), "r5.2": {"Receive"}, "r6.2": {"View"}}[release]
    if release != "r4.2":  # r4.2's e-mail has no activity column
        assert {row[8] for row in _rows(folder / "email.csv")[1:]} == {"Send"} | inbound
    workspace = Workspace(tmp_path / "ws")
    ingest_cert(workspace, folder)
    assert quarantine(workspace) == []
    stored = {row["source"]: row["n"] for row in query(
        f"SELECT source, count(*) AS n FROM read_parquet("
        f"{sql_path(workspace.events_dir, '/*/*.parquet')}, hive_partitioning=true)"
        " GROUP BY source")}
    for stem in ("logon", "device", "file", "email", "http"):
        path = folder / f"{stem}.csv"
        assert recognise(path)[0].name == RELEASE_LAYOUTS[release_family(release)][stem]
        ids = [row[0] for row in _rows(path)[1:]]
        # counted without the ingest summary: lines in = stored + duplicates + quarantined (0)
        lines = len(path.read_text("utf-8").splitlines()) - 1
        assert lines == stored[f"cert.{stem}"] + len(ids) - len(set(ids)), stem


def test_same_people_same_acts_only_the_logs_differ(profiles: dict[str, Path]) -> None:
    full, r4, sparse = profiles["full"], profiles["cert-r4.2"], profiles["sparse"]
    # the full profile here is in the r4.2 layout: every row cert-r4.2 logs is logged the same
    for name in ("logon.csv", "device.csv", "file.csv", "email.csv"):
        assert _without_ids(full / name) == _without_ids(r4 / name)
    # r4.2's web log has no activity column: uploads and downloads are rows like any visit
    # (the full profile says them in events.jsonl instead)
    uploads = [line for line in (full / "events.jsonl").read_text("utf-8").splitlines()
               if '"source":"sim.http"' in line]
    visits = _without_ids(full / "http.csv")
    assert uploads
    assert len(_without_ids(r4 / "http.csv")) == len(visits) + len(uploads)
    assert {tuple(row) for row in visits} <= {tuple(row) for row in _without_ids(r4 / "http.csv")}
    assert _without_ids(full / "logon.csv") == _without_ids(sparse / "logon.csv")
    ldap = sorted(p.name for p in (full / "LDAP").iterdir())
    for folder in profiles.values():
        assert sorted(p.name for p in (folder / "LDAP").iterdir()) == ldap
        # the insiders and their periods are the acts', not the logs'
        # (the dataset column names the layout)
        assert _without_ids(folder / "answers" / "insiders.csv") == _without_ids(
            full / "answers" / "insiders.csv")


def test_only_logged_acts_are_labelled(profiles: dict[str, Path]) -> None:
    for name, folder in profiles.items():
        labels = _rows(folder / "answers" / "labels.csv")[1:]
        assert labels, name
        written: set[str] = set()
        for path in folder.glob("*.csv"):
            written |= {row[0] for row in _rows(path)[1:]}
        if (folder / "events.jsonl").exists():
            written |= {line.split('"event_id":"')[1].split('"')[0]
                        for line in (folder / "events.jsonl").read_text("utf-8").splitlines()}
        assert {row[0] for row in labels} <= written, name
    counts = {name: len(_rows(folder / "answers" / "labels.csv")) for name, folder in
              profiles.items()}
    assert counts["full"] > counts["cert-r4.2"] > counts["sparse"]


def test_unknown_profile_and_contradicting_layout_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="telemetry"):
        simulate(SimulationConfig(out=tmp_path, users=40, days=40, telemetry="splunk"))
    assert SimulationConfig(out=tmp_path, telemetry="cert-r4.2").effective_layout == "r4.2"
