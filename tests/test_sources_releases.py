"""Every public CERT release (r4.1-r6.2) ingests as its documentation describes it.

The folders under ``fixtures/cert_releases`` are hand-written from the releases' documented
layouts (see ``fixtures/README``), with every documented activity value; nothing in them may be
quarantined, and every line must be accounted for by a count that does not trust the ingest
summary: lines in = stored + duplicates + quarantined.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURES, events, ingest_cert, quarantine
from molehunt.sources._cert import (
    PUBLIC_RELEASES,
    RELEASE_LAYOUTS,
    release_family,
    release_observations,
)
from molehunt.sources.base import layouts_of_family
from molehunt.sources.ingest import recognise
from molehunt.store.workspace import Workspace

RELEASES = FIXTURES / "cert_releases"
EXPECTED = FIXTURES / "expected"

#: The activity values each release family documents, per file, and what each one becomes.
DOCUMENTED_ACTIVITIES: dict[str, dict[str, dict[str, str]]] = {
    "r4": {
        "logon": {"Logon": "logon", "Logoff": "logoff"},
        "device": {"Connect": "device_connect", "Disconnect": "device_disconnect"},
    },
    "r5": {
        "logon": {"Logon": "logon", "Logoff": "logoff"},
        "device": {"Connect": "device_connect", "Disconnect": "device_disconnect"},
        "file": {"File Open": "file_open", "File Write": "file_write",
                 "File Copy": "file_copy", "File Delete": "file_delete"},
        "email": {"Send": "email_send", "Receive": "email_view"},
    },
}
DOCUMENTED_ACTIVITIES["r6"] = {
    **DOCUMENTED_ACTIVITIES["r5"],
    "email": {"Send": "email_send", "View": "email_view"},
    "http": {"WWW Visit": "web_visit", "WWW Download": "web_download", "WWW Upload": "web_upload"},
}
_SOURCES = {"logon": "cert.logon", "device": "cert.device", "file": "cert.file",
            "email": "cert.email", "http": "cert.http"}


def _data_rows(path: Path) -> tuple[list[dict[str, str]], int]:
    """The file's rows by column name (header or not) and its physical data lines."""
    layout, has_header = recognise(path)
    with path.open(newline="", encoding="utf-8") as handle:
        lines = sum(1 for _ in handle) - int(has_header)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[int(has_header):]
    return [dict(zip(layout.columns, row, strict=True)) for row in rows], lines


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.isoformat() if isinstance(v, dt.date | dt.datetime) else v
             for k, v in row.items()} for row in rows]


@pytest.fixture(scope="module", params=PUBLIC_RELEASES)
def ingested(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Workspace]:
    """One release's fixture folder, ingested once for the tests below."""
    release: str = request.param
    workspace = Workspace(tmp_path_factory.mktemp(release) / "ws")
    ingest_cert(workspace, RELEASES / release)
    return release, workspace


def test_every_file_is_read_with_its_release_layout(ingested: tuple[str, Workspace]) -> None:
    release, workspace = ingested
    expected = RELEASE_LAYOUTS[release_family(release)]
    folder = RELEASES / release
    found = {path.stem: recognise(path)[0].name for path in folder.glob("*.csv")}
    found["LDAP"] = recognise(next((folder / "LDAP").glob("*.csv")))[0].name
    assert found == expected
    assert {Path(r.path).name for r in workspace.records() if r.state == "committed"} >= {
        f"{stem}.csv" for stem in expected if stem != "LDAP"}


def test_nothing_documented_is_quarantined_and_every_line_is_counted(
        ingested: tuple[str, Workspace]) -> None:
    release, workspace = ingested
    assert quarantine(workspace) == []
    stored = Counter(e["source"] for e in events(workspace))
    for stem, source in _SOURCES.items():
        rows, lines = _data_rows(RELEASES / release / f"{stem}.csv")
        duplicates = len(rows) - len({row["id"] for row in rows})
        assert lines == stored[source] + duplicates + 0, (release, stem)


def test_every_documented_activity_is_present_and_mapped_once(
        ingested: tuple[str, Workspace]) -> None:
    release, workspace = ingested
    by_id = {e["event_id"]: e for e in events(workspace)}
    for stem, meaning in DOCUMENTED_ACTIVITIES[release_family(release)].items():
        rows, _ = _data_rows(RELEASES / release / f"{stem}.csv")
        assert {row["activity"] for row in rows} == set(meaning), (release, stem)
        for row in rows:
            assert by_id[row["id"]]["action"] == meaning[row["activity"]], (release, row["id"])


def test_received_mail_is_inbound_whatever_the_release_calls_it(
        ingested: tuple[str, Workspace]) -> None:
    release, workspace = ingested
    inbound = [e for e in events(workspace) if e["action"] == "email_view"]
    if release_family(release) == "r4":
        assert inbound == []  # r4.x logs sent mail only
        return
    offer = next(e for e in inbound if e["content"] == "an offer")
    # the counterpart of a received mail is its sender, as for r6's View
    assert (offer["user_id"], offer["channel"], offer["domain"]) == (
        "BJS0003", "email_external", "rival.example")


def test_release_output_matches_golden(ingested: tuple[str, Workspace]) -> None:
    """MOLEHUNT_UPDATE_GOLDEN=1 rewrites the expected files (review the diff!)."""
    release, workspace = ingested
    actual = _jsonable(events(workspace))
    path = EXPECTED / f"cert_{release.replace('.', '_')}_events.json"
    if os.environ.get("MOLEHUNT_UPDATE_GOLDEN"):
        path.write_text(json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    assert actual == json.loads(path.read_text())


def test_each_release_declares_what_it_can_see() -> None:
    r4, r5, r6 = (release_observations(r) for r in ("r4.2", "r5.2", "r6.2"))
    assert release_observations("r4.1") == r4 and release_observations("r6.1") == r6
    # r4: sent mail only, files only as copies to media, web without direction
    assert {"email_received", "file_access", "web_direction"}.isdisjoint(r4)
    # r5: received mail and file activity, but web without direction
    assert {"email_received", "file_access"} <= r5 and "web_direction" not in r5
    assert {"email_received", "file_access", "web_direction"} <= r6
    assert r4 < r5 < r6


def test_every_cert_layout_belongs_to_a_release() -> None:
    used = {name for files in RELEASE_LAYOUTS.values() for name in files.values()}
    assert {layout.name for layout in layouts_of_family("cert")} == used


@pytest.mark.parametrize("header", [True, False], ids=["header", "headerless"])
def test_the_first_row_only_one_release_knows_decides_past_the_sample(
        header: bool, tmp_path: Path) -> None:
    # r5 and r6 e-mail share their header; only Receive or View tells them apart, and a real
    # file may start with more sent mail than the first rows recognition samples
    send = ("{{S{0}}},01/04/2010 07:00:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,Send,10,,x")
    rows = [send.format(i) for i in range(300)]
    head = ["id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content"] if header else []
    path = tmp_path / "email.csv"
    for word, layout in (("Receive", "cert.email.r5"), ("View", "cert.email.r6")):
        inbound = f"{{R}},01/04/2010 08:00:00,U1,PC-1,u1@dtaa.com,,,b@x.example,{word},10,,y"
        path.write_text("\n".join([*head, *rows, inbound]) + "\n")
        assert recognise(path) == (next(x for x in layouts_of_family("cert")
                                        if x.name == layout), header)


def test_sent_mail_alone_reads_the_same_under_either_release(workspace: Workspace,
                                                            tmp_path: Path) -> None:
    folder = tmp_path / "sent"
    folder.mkdir()
    (folder / "email.csv").write_text(
        "id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content\n"
        "{S1},01/04/2010 07:00:00,U1,PC-1,a@dtaa.com,,,u1@dtaa.com,Send,10,,x\n")
    # no row tells r5 from r6: every row means the same under each; r6's layout read such
    # files before r5 had one, and still does (a re-ingest finds the file already stored)
    assert recognise(folder / "email.csv")[0].name == "cert.email.r6"
    ingest_cert(workspace, folder)
    assert [e["action"] for e in events(workspace)] == ["email_send"]
    assert quarantine(workspace) == []
