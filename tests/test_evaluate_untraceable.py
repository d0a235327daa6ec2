"""`evaluate` on telemetry that misses a scenario: untraceable insiders, benign people in band
high, on hand-made truth and scores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import FIXTURES, ingest_cert
from molehunt.evaluate.metrics import Insider, high_days_per_1000
from molehunt.evaluate.run import _system, read_truth, untraceable_figures
from molehunt.store.connect import connect
from molehunt.store.workspace import Workspace

D = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(20)]
POPULATION = dict.fromkeys(D, 100)  # 1 % = one person a day
DAY = dt.date(2010, 1, 4)  # the day of every event of the cert_r6 fixture


def _truth(folder: Path, labels: list[str] | None) -> Path:
    answers = folder / "answers"
    answers.mkdir(parents=True)
    (answers / "insiders.csv").write_text(
        "dataset,scenario,details,user,start,end\n"
        "sim,C1,C1-1:insider,AGR0002,01/04/2010 00:00:00,01/05/2010 00:00:00\n"
        "sim,C3,C3-1:insider,DKF0004,01/04/2010 00:00:00,01/05/2010 00:00:00\n"
        "sim,C2,C2-1:insider,GHOST01,01/04/2010 00:00:00,01/05/2010 00:00:00\n"
        "sim,C5,C5-1:insider,QUIET01,01/04/2010 00:00:00,01/05/2010 00:00:00\n", "utf-8")
    if labels is not None:
        (answers / "labels.csv").write_text(
            "event_id,scenario,user,role,instance,file\n" + "".join(
                line + "\n" for line in labels), "utf-8")
    return folder


def test_an_insider_is_traced_by_any_logged_labelled_event(workspace: Workspace,
                                                           tmp_path: Path) -> None:
    ingest_cert(workspace, FIXTURES / "cert_r6")
    truth = _truth(tmp_path / "truth", [
        "{F2},C1,AGR0002,insider,C1-1,file.csv",
        # the administrator's only logged event is under another person's account
        "{F1},C3,DKF0004,masquerade,C3-1,file.csv",
        # logged by the simulator, not seen by this deployment
        "{X404},C2,GHOST01,insider,C2-1,http.csv",
    ])  # QUIET01: no labelled event at all
    store = connect(workspace, "duckdb")
    try:
        insiders, _ = read_truth(truth, store)
        by_user = {i.user_id: i for i in insiders}
        assert {u: i.traced for u, i in by_user.items()} == {
            "AGR0002": True, "DKF0004": True, "GHOST01": False, "QUIET01": False}
        assert by_user["AGR0002"].malicious_days == {DAY}
        assert by_user["DKF0004"].malicious_days == frozenset()  # not under their account
        assert untraceable_figures(insiders) == {
            "C2": {"insiders": 1, "users": ["GHOST01"]},
            "C5": {"insiders": 1, "users": ["QUIET01"]}}
        # without labels.csv nothing says what was logged: every insider counts, as before
        insiders, _ = read_truth(_truth(tmp_path / "plain", None), store)
        assert all(i.traced for i in insiders) and untraceable_figures(insiders) == {}
    finally:
        store.close()


def test_a_scenario_whose_harm_is_not_logged_left_no_trace(workspace: Workspace,
                                                            tmp_path: Path) -> None:
    # a C2 whose job search (web) is logged but whose taking (removable media) is not: what
    # the logs hold is what many people do who take nothing; a C1 whose copy to a drive is
    # logged left a trace
    ingest_cert(workspace, FIXTURES / "cert_r6")
    truth = _truth(tmp_path / "truth", [
        "{H1},C2,GHOST01,insider,C2-1,http.csv",  # a visit to a job board: no harm
        "{F2},C1,AGR0002,insider,C1-1,file.csv",  # a copy to removable media
    ])
    store = connect(workspace, "duckdb")
    try:
        insiders, _ = read_truth(truth, store)
        traced = {i.user_id: i.traced for i in insiders}
        assert traced["AGR0002"] and not traced["GHOST01"]
    finally:
        store.close()


def test_untraceable_insiders_are_neither_counted_nor_benign() -> None:
    insiders = [Insider("bad", "C1", D[2], D[4], frozenset({D[2]})),
                Insider("ghost", "C1", D[2], D[4], traced=False),
                Insider("gone", "C2", D[5], D[6], traced=False)]
    # the ghost tops every day: as a benign person it would be in band high and cost the AUC
    scores = {d: {"ghost": 90.0, "bad": 80.0 if d == D[2] else 0.0, "x": 10.0} for d in D}
    scores[D[3]]["x"] = 70.0  # one benign person-day in band high
    users = {"bad", "ghost", "gone", "x", "y"}
    alerts = [("ghost", D[0]), ("x", D[3])]
    figures = _system("molehunt", scores, alerts, insiders, POPULATION, users, {}, 25, 65.0)
    groups = figures["groups"]
    assert (groups["C1"]["insiders"], groups["C1"]["untraceable"]) == (1, 1)
    assert "C2" not in groups  # its only insider left no trace
    assert (groups["all"]["insiders"], groups["all"]["untraceable"]) == (1, 2)
    assert groups["C1-C5"]["untraceable"] == 2
    assert groups["C1"]["roc_auc"] == 1.0  # negatives are x and y, not the ghost
    # the ghost ranks first each day; with 1 % = one person the insider is never read
    assert groups["C1"]["recall"]["1.0%"]["recall"] == 0.0
    assert groups["C1"]["recall"]["2.0%"]["recall"] == 1.0
    # benign: x and y over 20 days; one person-day in band high, one alert
    assert figures["benign_high_per_1000_per_day"] == 1000 * 1 / 2 / 20
    assert figures["alert_load"] == 1000 * 1 / 2 / 20
    baseline = _system("isolation_forest", scores, [], insiders, POPULATION, users, {}, 25)
    assert baseline["benign_high_per_1000_per_day"] is None


def test_benign_high_counts_person_days_at_the_threshold() -> None:
    scores = {D[0]: {"x": 65.0, "y": 64.0, "bad": 99.0}, D[1]: {"x": 85.0, "z": 90.0}}
    assert high_days_per_1000(scores, {"x", "y", "z"}, 2, 65.0) == round(1000 * 3 / 3 / 2, 4)
    # a baseline's alert threshold plays band high's part on its own scale
    forest = {D[0]: {"x": 0.61, "y": 0.58}, D[1]: {"x": 0.5}}
    assert high_days_per_1000(forest, {"x", "y"}, 2, 0.6) == 250.0
    assert high_days_per_1000(forest, set(), 2, 0.6) == 0.0


def test_the_first_trace_is_the_first_logged_event_of_the_harm(workspace: Workspace,
                                                               tmp_path: Path) -> None:
    """A C2 whose job search began before anything left: its first trace is the copy to
    removable media, not the scenario's first day; masquerade events count for the planter."""
    ingest_cert(workspace, FIXTURES / "cert_r6")
    folder = tmp_path / "truth" / "answers"
    folder.mkdir(parents=True)
    (folder / "insiders.csv").write_text(
        "dataset,scenario,details,user,start,end\n"
        "sim,C2,C2-1:insider,AGR0002,01/01/2010 09:00:00,01/09/2010 00:00:00\n"
        "sim,C3,C3-1:insider,DKF0004,01/02/2010 09:00:00,01/05/2010 00:00:00\n", "utf-8")
    (folder / "labels.csv").write_text(
        "event_id,scenario,user,role,instance,file\n"
        "{F2},C2,AGR0002,insider,C2-1,file.csv\n"
        "{F1},C3,DKF0004,masquerade,C3-1,file.csv\n", "utf-8")
    store = connect(workspace, "duckdb")
    try:
        insiders, _ = read_truth(tmp_path / "truth", store)
        by_user = {i.user_id: i for i in insiders}
        assert by_user["AGR0002"].first == dt.date(2010, 1, 1)
        assert by_user["AGR0002"].first_trace == DAY
        assert by_user["DKF0004"].first_trace == DAY
        # without labels nothing says what was logged: no trace day
        insiders, _ = read_truth(_truth(tmp_path / "plain", None), store)
        assert all(i.first_trace is None for i in insiders)
    finally:
        store.close()
