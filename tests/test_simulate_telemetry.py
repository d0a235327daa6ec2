"""Telemetry profiles: the same people do the same things; only what gets logged differs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from molehunt.errors import ConfigError
from molehunt.simulate import SimulationConfig, simulate
from molehunt.simulate.output import TELEMETRY

SMALL = {"users": 80, "days": 90, "seed": 5, "scenarios": ("C1", "C3")}


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _without_ids(path: Path) -> list[list[str]]:
    return [row[1:] for row in _rows(path)[1:]]


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small organisation simulated under every profile."""
    root = tmp_path_factory.mktemp("telemetry")
    for name in TELEMETRY:
        simulate(SimulationConfig(out=root / name, telemetry=name, layout="r4.2", **SMALL))
    return {name: root / name for name in TELEMETRY}


def test_each_profile_writes_exactly_its_files(profiles: dict[str, Path]) -> None:
    written = {name: {p.name for p in folder.iterdir() if p.name != "answers"}
               for name, folder in profiles.items()}
    cert = {"logon.csv", "device.csv", "file.csv", "email.csv", "http.csv", "psychometric.csv",
            "LDAP", "company.json"}
    assert written["cert-r4.2"] == cert
    assert written["cert-r6.2"] == cert
    assert written["sparse"] == {"logon.csv", "email.csv", "http.csv", "LDAP", "company.json"}
    assert written["full"] >= cert | {"events.jsonl", "hr_events.jsonl", "documents.jsonl"}


def test_cert_profiles_have_the_release_columns(profiles: dict[str, Path]) -> None:
    r4 = _rows(profiles["cert-r4.2"] / "http.csv")[0]
    r6 = _rows(profiles["cert-r6.2"] / "http.csv")[0]
    assert r4 == ["id", "date", "user", "pc", "url", "content"]
    assert r6 == ["id", "date", "user", "pc", "url", "activity", "content"]
    assert _rows(profiles["cert-r4.2"] / "file.csv")[0] == [
        "id", "date", "user", "pc", "filename", "content"]


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
