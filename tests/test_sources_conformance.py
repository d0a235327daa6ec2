"""Conformance of every registered source layout (runs over the registry, so a new layout
module is checked without editing this file)."""

from __future__ import annotations

import inspect
from pathlib import Path

import duckdb
import pytest

from molehunt.domains import load_domain_categories
from molehunt.schema import EVENT_COLUMNS
from molehunt.sources.base import (
    FileLayout,
    RecordLayout,
    SqlContext,
    event_select,
    load_sources,
    table_select,
)
from molehunt.sources.ingest import _Session, recognise, recognise_records
from molehunt.store.coverage import OBSERVATIONS
from molehunt.store.workspace import Workspace

ALL_LAYOUTS = sorted(load_sources().values(), key=lambda layout: layout.name)
#: Layouts of CSV files read by DuckDB's CSV reader (known by their header).
LAYOUTS = [layout for layout in ALL_LAYOUTS if not issubclass(layout, RecordLayout)]
#: Layouts of JSON records, flattened in Python first (known by their content).
RECORD_LAYOUTS = [layout for layout in ALL_LAYOUTS if issubclass(layout, RecordLayout)]


def test_registry_found_every_cert_file_kind() -> None:
    names = {layout.name for layout in LAYOUTS}
    assert {"cert.logon", "cert.device.r4", "cert.device.r6", "cert.file.r4", "cert.file.r6",
            "cert.email.r4", "cert.email.r6", "cert.http.r4", "cert.http.r6", "cert.ldap.r4",
            "cert.ldap.r5", "cert.psychometric", "cert.decoy"} <= names
    assert {layout.name for layout in RECORD_LAYOUTS} >= {"m365.audit", "windows.security",
                                                          "hr.purview", "hr.workday", "hr.csv"}
    assert "gworkspace.reports" in {layout.name for layout in RECORD_LAYOUTS}


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda layout: layout.name)
def test_layout_declares_known_observations(layout: type[FileLayout]) -> None:
    assert set(layout.observes) <= set(OBSERVATIONS)


@pytest.mark.parametrize("layout", RECORD_LAYOUTS, ids=lambda layout: layout.name)
def test_record_layout_contract(layout: type[RecordLayout], tmp_path: Path) -> None:
    """A record layout documents itself, maps every event column, claims no CSV header, and
    its SQL runs over zero flattened rows; its family has an ``ingest`` command."""
    assert inspect.getdoc(layout) and inspect.getdoc(inspect.getmodule(layout))
    assert layout.target in {"events", "hr_events"} and layout.source
    assert layout.family != "cert"
    assert all(t in {"VARCHAR", "TIMESTAMP", "BIGINT", "INTEGER"}
               for t in layout.staged_columns().values())
    assert not layout.matches_header(list(layout.columns))
    from molehunt.cli import ingest_app

    assert layout.family in {command.name for command in ingest_app.registered_commands}
    empty = tmp_path / "empty.csv"
    empty.write_text("id,date,user,pc,activity\n")
    assert recognise_records(empty) is None  # a CERT file is never taken for records
    if layout.target == "hr_events":
        # HR rows go straight to hr_events: the columns that table's staging reads
        assert {"record_id", "user_id"} <= set(layout.staged_columns())
        assert layout.resolves_people  # HR feeds name people by address or employee id
        return
    ctx = SqlContext(company_domains=("corp.example",), sensitivity_labels=(("secret", 3),))
    assert set(layout().mapping(ctx)) == set(EVENT_COLUMNS)
    staging = tmp_path / "staging"
    staging.mkdir()
    session = _Session(Workspace(tmp_path / "ws"), staging, ctx, load_domain_categories())
    try:
        columns = ", ".join(f"NULL::{t} AS {c}" for c, t in layout.staged_columns().items())
        raw = f"(SELECT {columns} WHERE false)"
        select = event_select(layout(), ctx, raw)
        assert session.con.execute(f"SELECT count(*) FROM ({select})").fetchone() == (0,)
    finally:
        session.close()


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_layout_contract(layout: type[FileLayout], tmp_path: Path) -> None:
    assert inspect.getdoc(layout), "every layout documents its format"
    assert layout.target in {"events", "ldap", "psychometric", "decoys"}
    assert layout.columns and all(t in {"VARCHAR", "TIMESTAMP", "BIGINT", "INTEGER"}
                                  for t in layout.columns.values())
    assert layout.matches_header(list(layout.columns))
    if layout.target == "events":
        assert layout.source.startswith("cert.")
        assert set(layout().mapping(SqlContext(("corp.example",)))) == set(EVENT_COLUMNS)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_layout_sql_runs_on_a_header_only_file(layout: type[FileLayout], tmp_path: Path) -> None:
    path = tmp_path / f"{layout.usual_stem or 'x'}.csv"
    path.write_text(",".join(layout.columns) + "\n")
    assert recognise(path)[0] in {layout, *[other for other in LAYOUTS
                                            if list(other.columns) == list(layout.columns)]}
    ctx = SqlContext(company_domains=("corp.example",), snapshot="2010-01-01")
    staging = tmp_path / "staging"
    staging.mkdir()
    session = _Session(Workspace(tmp_path / "ws"), staging, ctx, load_domain_categories())
    try:
        columns = ", ".join(f"'{c}': '{t}'" for c, t in layout.columns.items())
        raw = f"read_csv('{path}', header=true, auto_detect=false, columns={{{columns}}})"
        select = (event_select if layout.target == "events" else table_select)(
            layout(), ctx, raw)
        assert session.con.execute(f"SELECT count(*) FROM ({select})").fetchone() == (0,)
    finally:
        session.close()


def test_no_two_layouts_claim_the_same_first_row() -> None:
    rows = {
        "logon": ["{A}", "01/02/2010 06:55:16", "U1", "PC-1", "Logon"],
        "device": ["{A}", "01/02/2010 06:55:16", "U1", "PC-1", "Connect"],
        "http": ["{A}", "01/02/2010 06:55:16", "U1", "PC-1", "http://a.example/x", "words"],
        "file": ["{A}", "01/02/2010 06:55:16", "U1", "PC-1", "C:\\a.doc", "words"],
    }
    for name, row in rows.items():
        claimants = [layout.name for layout in LAYOUTS if layout.matches_row(row)]
        assert len(claimants) == 1, (name, claimants)


def test_duckdb_is_the_reader(tmp_path: Path) -> None:
    # guards the assumption that line numbers of rejected rows are physical lines
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n3\n")
    con = duckdb.connect()
    con.execute(f"SELECT * FROM read_csv('{path}', header=true, auto_detect=false,"
                " columns={'a': 'VARCHAR', 'b': 'VARCHAR'}, store_rejects=true)").fetchall()
    assert con.execute("SELECT line FROM reject_errors").fetchall() == [(3,)]


def test_registry_found_the_okta_and_proxy_layouts() -> None:
    names = {layout.name: layout for layout in RECORD_LAYOUTS}
    assert {"okta.system_log", "proxy.squid", "proxy.zscaler", "proxy.bluecoat"} <= set(names)
    # a proxy declares the upload/visit distinction only where it logs the bytes sent
    assert {name: set(names[name].observes) for name in names if name.startswith("proxy.")} == {
        "proxy.squid": {"web_visit"}, "proxy.zscaler": {"web_visit", "web_direction"},
        "proxy.bluecoat": {"web_visit", "web_direction"}}


def test_registry_found_the_normalised_inputs() -> None:
    """Issue 18 item 6: documents a data lake already normalised (OCSF, ECS)."""
    assert {layout.name for layout in RECORD_LAYOUTS} >= {"ocsf.events", "ecs.events"}
