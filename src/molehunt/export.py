"""``molehunt export``: results as CSV or Parquet so that other tools can check them.

Risk rows are ``user_id, day, risk, band`` plus the top reasons; in CSV the list columns
(reasons, evidence, related users, detectors) are JSON text. Every text cell of a CSV is
formula-safe (:func:`molehunt.safe_text.formula_safe_column`): reason texts, object names and
event ids come from logs, and a spreadsheet must never run one as a formula.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from molehunt.errors import ConfigError, StoreError
from molehunt.pipeline import read_results, results_dir
from molehunt.safe_text import formula_safe_column
from molehunt.store.workspace import Workspace

TABLES = {"risk": "risk", "findings": "findings", "alerts": "alerts.parquet",
          "graph": "graph.parquet"}


def require_results(workspace: Workspace, table: str) -> pa.Table:
    """One results table (see :data:`TABLES`), or a clear error when there is none yet."""
    data = read_results(results_dir(workspace) / TABLES[table])
    if data is None:
        raise StoreError(f"no {table} yet; run `molehunt run` first", where=str(workspace.root))
    return data


def export_results(workspace: Workspace, table: str, out: Path) -> int:
    """Write one results table to ``out`` (.csv or .parquet); returns the rows written."""
    if table not in TABLES:
        raise ConfigError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigError("the output file must end in .csv or .parquet", where=str(out))
    data = require_results(workspace, table)
    sort = ([("day", "ascending")] if "day" in data.column_names else
            [("opened_day", "ascending")] if "opened_day" in data.column_names else
            [("first_day", "ascending")])
    data = data.sort_by([*sort, ("user_id", "ascending")])
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        pq.write_table(data, out)
        return int(data.num_rows)
    columns = []
    for name in data.column_names:
        column = data.column(name)
        if pa.types.is_list(column.type):
            column = pa.array([json.dumps(v, default=str, ensure_ascii=False)
                               for v in column.to_pylist()], pa.string())
        columns.append(formula_safe_column(column))
    pacsv.write_csv(pa.Table.from_arrays(columns, names=data.column_names), out)
    return int(data.num_rows)
