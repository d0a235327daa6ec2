"""Helpers shared by the detector tests: windows over the test organisation, truth, findings."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from molehunt.detectors import Detector, Window
from molehunt.pipeline import open_window
from molehunt.store.connect import Store, connect
from molehunt.store.workspace import Workspace


def window(workspace: Workspace, backend: str = "duckdb") -> tuple[Store, Window]:
    """The store (close it when done) and a window over every day with features."""
    store = connect(workspace, backend)
    return store, open_window(workspace, store)


def insiders(org: Path) -> list[dict[str, Any]]:
    """Rows of the simulated organisation's insiders.csv with dates parsed."""
    with (org / "answers" / "insiders.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("start", "end"):
            row[key] = dt.datetime.strptime(row[key], "%m/%d/%Y %H:%M:%S").date()
    return rows


_RUNS: dict[tuple[str, str], pd.DataFrame] = {}


def run(detector: Detector, workspace: Workspace) -> pd.DataFrame:
    """Fit and score ``detector`` over the whole organisation (DuckDB), once per session."""
    key = (repr(detector), str(workspace.root))
    if key not in _RUNS:
        store, full = window(workspace)
        try:
            _RUNS[key] = detector.fit(full).score(full).to_pandas()
        finally:
            store.close()
    return _RUNS[key].copy()


def slice_of(full: Window, days: int, skip: int = 90) -> Window:
    """``days`` days of ``full`` after the first ``skip`` (baselines are warm by then)."""
    start = full.start + dt.timedelta(days=skip)
    return full.cut(start, start + dt.timedelta(days=days - 1))


def caught(found: pd.DataFrame, insider: dict[str, Any], top: int, grace: int = 7
           ) -> bool:
    """Whether ``insider`` is among the ``top`` people by score on a day of their episode."""
    if found.empty:
        return False
    found = found.assign(day=pd.to_datetime(found.day).dt.date)
    episode = found[(found.day >= insider["start"])
                    & (found.day <= insider["end"] + dt.timedelta(days=grace))]
    for day, rows in episode.groupby("day"):
        best = rows.groupby("user_id").score.max().sort_values(ascending=False)
        if insider["user"] in set(best.head(top).index):
            others = found[found.day == day]
            ranked = others.groupby("user_id").score.max().sort_values(ascending=False)
            if insider["user"] in set(ranked.head(top).index):
                return True
    return False
