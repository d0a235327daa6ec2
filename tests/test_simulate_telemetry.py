"""Telemetry profiles: the same people do the same things; only what gets logged differs."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from molehunt.errors import ConfigError
from molehunt.simulate import SimulationConfig, simulate
from molehunt.simulate.enterprise import FILES
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
    enterprise = profiles["enterprise"]
    assert written["enterprise"] == {"m365", "windows", "proxy", "hr", "directory.jsonl",
                                     "company.json"}
    assert sorted(p.relative_to(enterprise).as_posix() for p in enterprise.rglob("*")
                  if p.is_file() and "answers" not in p.parts
                  and p.name != "company.json") == sorted(FILES)


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
    for name, folder in profiles.items():
        if name != "enterprise":  # its directory is one JSONL file: the same people
            assert sorted(p.name for p in (folder / "LDAP").iterdir()) == ldap
        # the insiders and their periods are the acts', not the logs'
        # (the dataset column names the layout)
        assert _without_ids(folder / "answers" / "insiders.csv") == _without_ids(
            full / "answers" / "insiders.csv")


def test_the_enterprise_profile_has_the_same_people_and_acts(
        profiles: dict[str, Path]) -> None:
    """The directory names everyone the LDAP months do; every logged act is labelled by the id
    its connector stores it under (worked out from the written records, as the connectors
    do), and the same acts are logged alike: a logon as a Windows logon, a mail as a Send."""
    full, enterprise = profiles["full"], profiles["enterprise"]
    ldap = {row[1] for path in (full / "LDAP").iterdir() for row in _rows(path)[1:]}
    directory = [json.loads(line) for line in
                 (enterprise / "directory.jsonl").read_text("utf-8").splitlines()]
    assert {row["user_id"] for row in directory} == ldap
    ids = _enterprise_ids(enterprise)
    labels = _rows(enterprise / "answers" / "labels.csv")[1:]
    assert labels and {row[0] for row in labels} <= set(ids)
    assert all(ids[row[0]] == row[5] for row in labels)
    # the acts alike: logons (a CERT logon row is one Windows 4624), mail sent
    logons = sum(row[4] == "Logon" for row in _rows(full / "logon.csv")[1:])
    sent = len(_rows(full / "email.csv")) - 1  # r4.2's e-mail log: sent mail only
    windows = [json.loads(line)["winlog"]["event_id"] for line in
               (enterprise / "windows" / "security.ndjson").read_text("utf-8").splitlines()]
    exchange = [json.loads(line)["Operation"] for line in
                (enterprise / "m365" / "Audit.Exchange.ndjson").read_text("utf-8").splitlines()]
    assert windows.count("4624") == logons and exchange.count("Send") == sent


def _enterprise_ids(folder: Path) -> dict[str, str]:
    """Event id → file of every record the enterprise profile wrote, computed as its
    connector computes it (Microsoft 365: the record's Id; Windows: computer, channel and
    record number; Zscaler: its event_id)."""
    from molehunt.sources.windows_security import record_event_id

    ids: dict[str, str] = {}
    for name in FILES:
        if not name.endswith(".ndjson") or name.startswith("proxy/"):
            continue
        for line in (folder / name).read_text("utf-8").splitlines():
            record = json.loads(line)
            if name.startswith("m365/"):
                ids[record["Id"]] = name
            else:
                log = record["winlog"]
                ids[record_event_id(log["computer_name"], log["channel"],
                                    str(log["record_id"]))] = name
    # the bulk, the proxy's records: their id found without parsing each one
    text = (folder / "proxy" / "zscaler_web.ndjson").read_text("utf-8")
    ids.update((f"proxy.zscaler:{number}", "proxy/zscaler_web.ndjson")
               for number in re.findall(r'"event_id":"([^"]+)"', text))
    return ids


def test_only_logged_acts_are_labelled(profiles: dict[str, Path]) -> None:
    for name, folder in profiles.items():
        if name == "enterprise":  # its ids are the connectors' (the test above)
            continue
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
    assert counts["enterprise"] > counts["sparse"]


def test_unknown_profile_and_contradicting_layout_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="telemetry"):
        simulate(SimulationConfig(out=tmp_path, users=40, days=40, telemetry="splunk"))
    assert SimulationConfig(out=tmp_path, telemetry="cert-r4.2").effective_layout == "r4.2"


@pytest.fixture(scope="module")
def enterprise_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest enterprise organisation the simulator makes."""
    folder = tmp_path_factory.mktemp("enterprise") / "org"
    simulate(SimulationConfig(out=folder, telemetry="enterprise", **TINY))
    return folder


#: Small, and with one resignation (the HR feed's days are those of its rows); a factory
#: (night_shift) browses less than an office, which keeps the proxy feed to read short
TINY: dict[str, Any] = {"users": 40, "days": 40, "seed": 5, "scenarios": (),
                        "style": "night_shift"}
#: What the enterprise profile's logs show (molehunt.store.coverage): no file access on
#: computers (SharePoint's is cloud_files), no meetings, badges, travel, layoffs or
#: declarations (the Purview HR layout has none of those); performance concerns where one
#: happened (none in this organisation)
ENTERPRISE_SEES = {"logon", "removable_connect", "removable_files", "email_sent",
                   "email_received", "web_visit", "web_direction", "cloud_files",
                   "document_labels", "printing", "hr_departure", "directory"}


def test_enterprise_logs_ingest_whole_and_say_what_they_see(
        enterprise_org: Path, tmp_path: Path) -> None:
    """``ingest auto`` reads the folder: every line is stored, a duplicate or quarantined,
    against a count of the lines made here (not the ingest's tally); the ids the connectors
    give are those the simulator labels by; the sources' observations cover what was written;
    and the same seed writes the same bytes."""
    from conftest import quarantine, query
    from molehunt.sources.base import load_sources
    from molehunt.sources.ingest import Ingestor
    from molehunt.sources.windows_security import SPLIT_TOKEN_TWIN
    from molehunt.sql import sql_path
    from molehunt.store.connect import connect
    from molehunt.store.coverage import coverage
    from molehunt.store.workspace import Workspace

    company = json.loads((enterprise_org / "company.json").read_text("utf-8"))
    workspace = Workspace(tmp_path / "ws")
    workspace.root.mkdir()
    (workspace.root / "molehunt.toml").write_text("[sensitivity_labels]\n" + "".join(
        f'"{label}" = {level}\n' for label, level in company["sensitivity_labels"].items()))
    with workspace.locked():
        summary = Ingestor(workspace).ingest_auto(enterprise_org)
    assert quarantine(workspace) == []
    by_file = {Path(f.path).relative_to(enterprise_org).as_posix(): f for f in summary.files}
    assert sorted(by_file) == sorted(FILES)
    # lines in each file, counted here: a JSON record per line, a CSV row per line after the
    # header
    lines = {name: len((enterprise_org / name).read_text("utf-8").splitlines())
             - name.endswith(".csv") for name in FILES}
    for name, result in by_file.items():
        assert result.status == "ingested", name
        # nothing quarantined (above) and nothing skipped, but for a person's two logons on
        # one computer in the same second, which Windows' own split-token twin looks like
        assert set(result.skipped_by_reason) <= {SPLIT_TOKEN_TWIN}, name
        assert lines[name] == (result.rows_stored + result.rows_duplicate
                               + result.rows_skipped), name
    events = {row["source"]: row["n"] for row in query(
        f"SELECT source, count(*) AS n FROM read_parquet("
        f"{sql_path(workspace.events_dir, '/*/*.parquet')}, hive_partitioning=true)"
        " GROUP BY source")}
    twins = by_file["windows/security.ndjson"].rows_skipped
    assert events == {
        "m365": sum(lines[n] for n in FILES if n.startswith("m365/")),
        "windows.security": lines["windows/security.ndjson"] - twins,
        "proxy.zscaler": lines["proxy/zscaler_web.ndjson"]}
    stored = {row["event_id"] for row in query(
        f"SELECT event_id FROM read_parquet({sql_path(workspace.events_dir, '/*/*.parquet')},"
        " hive_partitioning=true)")}
    written = _enterprise_ids(enterprise_org)
    assert stored <= set(written) and len(written) - len(stored) == twins
    hr_rows = lines["hr/resignations.csv"] + lines["hr/performance_improvement.csv"]
    store = connect(workspace)
    try:
        assert int(store.hr_events.count().execute()) == hr_rows
        # one person, one id: the UPNs and account names are the directory's people
        people = set(store.events.select("user_id").distinct().to_pyarrow().column(0)
                     .to_pylist())
        directory = set(store.directory.select("user_id").to_pyarrow().column(0).to_pylist())
        assert people <= directory
        seen = coverage(workspace, store)
    finally:
        store.close()
    assert set(seen) == ENTERPRISE_SEES
    layouts = load_sources()
    declared = {o for f in summary.files if f.layout in layouts
                for o in layouts[f.layout].observes}
    assert declared and declared <= set(seen)
    # the same seed, the same bytes
    again = tmp_path / "again"
    simulate(SimulationConfig(out=again, telemetry="enterprise", **TINY))
    for path in sorted(p for p in enterprise_org.rglob("*") if p.is_file()):
        assert path.read_bytes() == (again / path.relative_to(enterprise_org)).read_bytes(), path
