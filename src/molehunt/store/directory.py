"""The directory history, derived from monthly LDAP snapshots and directly supplied rows.

A person's consecutive snapshots with the same attributes become one row valid from the first
snapshot's month to the month of the next snapshot that differs or no longer lists them (the
month they left). Rows supplied directly (``ingest jsonl --table directory``) are added as
they are.
"""

from __future__ import annotations

import os

import duckdb

from molehunt.schema import DIRECTORY_COLUMNS
from molehunt.sql import empty_select, sql_path, sql_paths, sql_string
from molehunt.store.people import write_aliases
from molehunt.store.workspace import Workspace

_HISTORY_SQL = """
WITH s AS (
    SELECT * FROM read_parquet({files}, union_by_name=true)
    QUALIFY row_number() OVER (PARTITION BY snapshot, user_id ORDER BY email) = 1
),
months AS (
    SELECT snapshot, lead(snapshot) OVER (ORDER BY snapshot) AS next_snapshot,
           row_number() OVER (ORDER BY snapshot) AS k
    FROM (SELECT DISTINCT snapshot FROM s)
),
names AS (
    SELECT snapshot, employee_name, min(user_id) AS supervisor_id
    FROM s GROUP BY snapshot, employee_name
),
a AS (
    SELECT s.*, m.k, m.next_snapshot, coalesce(n.supervisor_id, s.supervisor) AS supervisor_id,
           md5(concat_ws(chr(31), coalesce(s.employee_name, ''), coalesce(s.email, ''),
               coalesce(s.role, ''), coalesce(s.projects, ''), coalesce(s.business_unit, ''),
               coalesce(s.functional_unit, ''), coalesce(s.department, ''),
               coalesce(s.team, ''), coalesce(n.supervisor_id, s.supervisor, ''))) AS fingerprint
    FROM s JOIN months m USING (snapshot)
    LEFT JOIN names n ON n.snapshot = s.snapshot AND n.employee_name = s.supervisor
),
b AS (
    SELECT *, CASE WHEN lag(k) OVER w = k - 1 AND lag(fingerprint) OVER w = fingerprint
              THEN 0 ELSE 1 END AS starts
    FROM a WINDOW w AS (PARTITION BY user_id ORDER BY k)
),
c AS (SELECT *, sum(starts) OVER (PARTITION BY user_id ORDER BY k) AS island FROM b)
SELECT user_id, any_value(employee_name) AS name, any_value(email) AS email,
       any_value(role) AS role, any_value(projects) AS projects,
       any_value(business_unit) AS business_unit, any_value(functional_unit) AS functional_unit,
       any_value(department) AS department, any_value(team) AS team,
       any_value(supervisor_id) AS supervisor_id, min(snapshot) AS valid_from,
       CASE WHEN bool_or(next_snapshot IS NULL) THEN NULL ELSE max(next_snapshot) END AS valid_to
FROM c GROUP BY user_id, island
"""


def rebuild_directory(workspace: Workspace) -> int:
    """Rewrite ``directory.parquet`` from all snapshots and supplied rows; return its rows."""
    ldap = [str(p) for p in workspace.table_files("ldap")]
    supplied = [str(p) for p in workspace.table_files("directory_rows")]
    columns = ", ".join(f"CAST({c} AS {t}) AS {c}" for c in DIRECTORY_COLUMNS
                        for t in [DIRECTORY_COLUMNS[c]])
    parts = []
    if ldap:
        parts.append(f"SELECT {columns} FROM ({_HISTORY_SQL.format(files=sql_paths(ldap))})")
    if supplied:
        parts.append(f"SELECT {columns} FROM read_parquet({sql_paths(supplied)},"
                     " union_by_name=true)")
    if not parts:
        parts.append(empty_select(DIRECTORY_COLUMNS))
    temporary = workspace.directory_file.with_suffix(".parquet.tmp")
    con = duckdb.connect()
    try:
        con.execute(
            f"COPY ({' UNION ALL '.join(parts)} ORDER BY user_id, valid_from)"
            f" TO {sql_string(str(temporary))} (FORMAT parquet, COMPRESSION zstd)"
        )
        count = con.execute(f"SELECT count(*) FROM read_parquet({sql_path(temporary)})"
                            ).fetchone()
    finally:
        con.close()
    os.replace(temporary, workspace.directory_file)
    write_aliases(workspace.directory_file, workspace.aliases_file)
    return int(count[0]) if count else 0


def directory_is_stale(workspace: Workspace) -> bool:
    """Whether ``directory.parquet`` is missing or older than a snapshot or supplied row file.

    An ingest killed between committing a snapshot and rebuilding the directory leaves it so;
    the next writer rebuilds it.
    """
    sources = workspace.table_files("ldap") + workspace.table_files("directory_rows")
    if not sources:
        return False
    if not workspace.directory_file.exists() or not workspace.aliases_file.exists():
        return True  # (a workspace from before the alias table has none yet)
    built = workspace.directory_file.stat().st_mtime_ns
    return any(path.stat().st_mtime_ns > built for path in sources)


def infer_company_domains(workspace: Workspace) -> tuple[str, ...]:
    """The e-mail domains of the organisation's own people, from the directory.

    The most common domain, plus any other that at least 10 % of people use.
    """
    ldap = [str(p) for p in workspace.table_files("ldap")]
    supplied = [str(p) for p in workspace.table_files("directory_rows")]
    sources = [f"SELECT user_id, email FROM read_parquet({sql_paths(files)},"
               " union_by_name=true)" for files in (ldap, supplied) if files]
    if not sources:
        return ()
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT lower(split_part(email, '@', 2)) AS domain, count(DISTINCT user_id) AS n"
            f" FROM ({' UNION ALL '.join(sources)}) WHERE email LIKE '%@%'"
            " GROUP BY domain ORDER BY n DESC, domain"
        ).fetchall()
    finally:
        con.close()
    if not rows:
        return ()
    total = sum(int(n) for _, n in rows)
    chosen = [str(rows[0][0])] + [str(d) for d, n in rows[1:] if int(n) >= 0.1 * total]
    return tuple(chosen)
