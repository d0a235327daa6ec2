"""The person's risk chart: the peer band is the quantiles of the shown peer group's risk on
the same days, findings and alerts are marked, what left is shown cumulatively by channel and
by destination."""

from __future__ import annotations

import collections
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from console_fixture import ConsoleWorkspace, build
from molehunt.cases.accounts import create_account, create_token
from molehunt.features.io import segment_path
from molehunt.web.app import create_app


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> ConsoleWorkspace:
    """The simulated workspace with fake results, and an outbound table for the target."""
    made = build(tmp_path_factory.mktemp("chart"))
    _write_outbound(made.root, made.target)
    return made


def _first_and_last_day(root: Path) -> tuple[dt.date, dt.date]:
    (first, last), = duckdb.connect().sql(
        f"SELECT min(day), max(day) FROM read_parquet('{root}/results/risk/*/*.parquet',"
        " hive_partitioning=true)").fetchall()
    return first, last


def _write_outbound(root: Path, target: str) -> None:
    first, last = _first_and_last_day(root)
    rows = [  # (day offset, channel, events, bytes)
        (-40, "removable_media", 4, 4000),  # before the risk days: the line starts at it
        (2, "removable_media", 2, 1000), (9, "removable_media", 1, 500),
        (9, "email_external", 3, 300), (20, "cloud_storage", 1, 70_000),
    ]
    folder = root / "features" / "outbound"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({
        "user_id": [target] * len(rows),
        "day": [first + dt.timedelta(days=r[0]) for r in rows],
        "channel": [r[1] for r in rows], "sensitivity": pa.array([3] * len(rows), pa.int8()),
        "doc_id": [f"D{i}" for i in range(len(rows))], "family": ["x"] * len(rows),
        "events": [r[2] for r in rows], "bytes": [r[3] for r in rows],
    }), segment_path(folder, first - dt.timedelta(days=40), last))


@pytest.fixture(scope="module")
def client_and_app(made: ConsoleWorkspace, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[TestClient, Any]]:
    """A client signed in by an analyst's API token."""
    app = create_app(made.root, f"sqlite:///{tmp_path_factory.mktemp('db') / 'c.sqlite'}",
                     index_activity=False)
    with app.state.console.store.transaction() as session:
        token = create_token(session, create_account(session, "ana", "a long test password",
                                                     "analyst"), "tests")
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    yield client, app
    app.state.console.store.close()


def _risk(root: Path) -> list[tuple[str, dt.date, float]]:
    return duckdb.connect().sql(
        f"SELECT user_id, day, risk FROM read_parquet('{root}/results/risk/*/*.parquet',"
        " hive_partitioning=true)").fetchall()


def test_the_peer_band_is_the_shown_groups_risk_quantiles(
        client_and_app: tuple[TestClient, Any], made: ConsoleWorkspace) -> None:
    client, app = client_and_app
    console = app.state.console
    directory = {u: p for u, p in console.pseudonyms.people.items()}
    risk = _risk(made.root)
    by_day: dict[dt.date, dict[str, float]] = collections.defaultdict(dict)
    for user_id, day, value in risk:
        by_day[day][user_id] = value
    checked = collections.Counter()
    for user_id in made.user_ids[:25]:
        alias = console.pseudonyms.of(user_id)
        person = client.get(f"/api/v1/people/{alias}").json()
        chart = client.get(f"/api/v1/people/{alias}/chart").json()
        label = chart["peers"]["label"]
        if person["role"] is not None:
            assert label == f"role {person['role']}"
            group = {u for u, p in directory.items() if p.role == person["role"]}
        elif person["department"] is not None:
            assert label == f"department {person['department']}"
            group = {u for u, p in directory.items() if p.department == person["department"]}
        else:
            assert label == "everyone"
            group = set(directory)
        # a hidden role never names the group, nor its size
        if person["role"] is None and directory[user_id].role:
            assert directory[user_id].role not in label
        assert len(chart["peer_band"]) == len(chart["days"]) == len(by_day)
        for point in chart["peer_band"][::7]:
            values = [v for u, v in by_day[dt.date.fromisoformat(point["day"])].items()
                      if u in group]
            expected = np.percentile(values, [25, 50, 75, 90])
            assert [point["p25"], point["p50"], point["p75"], point["p90"]] == pytest.approx(
                list(expected), abs=0.051)
            assert point["people"] == len(values)
        checked[label.split()[0]] += 1
    assert len(checked) >= 2, checked  # the fixture has people of more than one kind


def test_findings_and_alerts_are_marked(client_and_app: tuple[TestClient, Any],
                                        made: ConsoleWorkspace) -> None:
    client, app = client_and_app
    alias = app.state.console.pseudonyms.of(made.target)
    chart = client.get(f"/api/v1/people/{alias}/chart").json()
    alerts = client.get("/api/v1/alerts").json()["alerts"]
    mine = [a for a in alerts if a["person"] == alias]
    assert [m["alert_id"] for m in chart["alerts"]] == [a["alert_id"] for a in mine]
    assert [(m["day"], m["detectors"]) for m in chart["findings"]] == [
        (mine[0]["last_day"], ["removable_spike"])]
    html = client.get(f"/people/{alias}").text
    drawn = html[html.index('id="risk-chart"'):html.index('id="leaving-chart"')]
    assert drawn.count('class="finding-marker"') == 1
    assert re.search(r'class="finding-marker"[^>]*><title>[\d-]+: removable_spike \(score',
                     drawn)
    assert drawn.count('class="alert-marker"') == len(mine) == 1
    assert drawn.count('class="alert-span"') == 1 and 'class="peer-band"' in drawn
    assert "<script" not in drawn


def test_what_left_is_cumulative_by_channel_and_listed_by_destination(
        client_and_app: tuple[TestClient, Any], made: ConsoleWorkspace) -> None:
    client, app = client_and_app
    alias = app.state.console.pseudonyms.of(made.target)
    chart = client.get(f"/api/v1/people/{alias}/chart").json()
    first, _ = _first_and_last_day(made.root)
    leaving = {c["channel"]: c for c in chart["leaving"]}
    assert list(leaving) == ["cloud_storage", "removable_media", "email_external"]
    media = leaving["removable_media"]
    assert (media["events"], media["bytes"]) == (7, 5500)
    assert [(p["day"], p["bytes"]) for p in media["points"]] == [
        (first.isoformat(), 4000), ((first + dt.timedelta(days=2)).isoformat(), 5000),
        ((first + dt.timedelta(days=9)).isoformat(), 5500)]
    # the planted events: three mails to rival.example, three uploads to drop.example, three
    # copies to a removable drive
    destinations = {(d["channel"], d["destination"]): d["events"]
                    for d in chart["destinations"]}
    assert destinations[("email_external", "rival.example")] == 3
    assert destinations[("cloud_storage", "drop.example")] == 3
    assert destinations[("removable_media", "E:\\")] == 3
    # destinations come from the days asked for: the planted events are two days before the
    # last day, so a window that ends earlier has none of them
    _, last = _first_and_last_day(made.root)
    early = client.get(f"/api/v1/people/{alias}/chart", params={
        "from": first.isoformat(), "to": (last - dt.timedelta(days=5)).isoformat()}).json()
    assert early["destinations_to"] == (last - dt.timedelta(days=5)).isoformat()
    assert ("email_external", "rival.example") not in {
        (d["channel"], d["destination"]) for d in early["destinations"]}
    assert client.get(f"/api/v1/people/{alias}/chart", params={
        "from": first.isoformat()}).status_code == 400
    html = client.get(f"/people/{alias}").text
    assert html.count('class="leaving-line"') == 3
    assert 'data-channel="removable_media"' in html
    assert re.search(r"removable_media</span> 5.5 kB in 7 events", html)


def test_a_person_with_no_outbound_says_so(client_and_app: tuple[TestClient, Any],
                                           made: ConsoleWorkspace) -> None:
    client, app = client_and_app
    other = next(u for u in made.user_ids if u != made.target)
    html = client.get(f"/people/{app.state.console.pseudonyms.of(other)}").text
    assert "nothing left by any channel the features record" in html
    assert ">None<" not in html


def test_what_left_is_drawn_against_the_peers(client_and_app: tuple[TestClient, Any],
                                              made: ConsoleWorkspace) -> None:
    client, app = client_and_app
    console = app.state.console
    alias = console.pseudonyms.of(made.target)
    chart = client.get(f"/api/v1/people/{alias}/chart").json()
    person = client.get(f"/api/v1/people/{alias}").json()
    people = console.pseudonyms.people
    group = ([u for u, p in people.items() if p.role == person["role"]] if person["role"]
             else [u for u, p in people.items() if p.department == person["department"]]
             if person["department"] else list(people))
    assert made.target in group and len(group) >= 5
    # only the target let anything leave (the fixture's outbound table): the peers' median is
    # nothing, their 90th percentile is the target's running total weighed by the group size
    running, totals = 4000, []  # all channels: what _write_outbound wrote, by day offset
    extra = {2: 1000, 9: 800, 20: 70_000}
    for i in range(len(chart["days"])):
        running += extra.get(i, 0)
        totals.append(running)
    assert [q["p50"] for q in chart["peer_leaving"]] == [0.0] * len(chart["days"])
    expected = [np.percentile([0] * (len(group) - 1) + [t], 90) for t in totals]
    assert [q["p90"] for q in chart["peer_leaving"]] == pytest.approx(expected, abs=0.051)
    assert [t["bytes"] for t in chart["leaving_total"]] == totals
    html = client.get(f"/people/{alias}").text
    assert html.count('class="peer-leaving-p90"') == 1
    assert html.count('class="leaving-total"') == 1
    assert "the peers' median (dashed)" in html
