"""One person, many names: events' user ids resolved to the directory's ``user_id`` when read.

A person appears in the logs under several names: a UPN in the Microsoft 365 audit log and the
web proxy, an account name in Windows (``DOMAIN\\account``, lower-cased by the connector), an
address in the HR feed. The connectors store the name the log wrote (see
:mod:`molehunt.sources.m365_audit`, "People", for why not at ingest), and the store maps it
here, when events are read, through an alias table derived from the directory:

* every directory row's ``email`` and ``user_id``, lower-cased, name its person (an account
  name Windows writes in another case than the directory is the same account);
* a name that *is* some directory row's ``user_id`` exactly is that person and is never an
  alias of another (the CERT layouts and canonical JSONL write the directory's ids);
* a name that several people had is resolved on the days of the row that gave it to one of
  them, and left as it is where their rows overlap (never a guess).

The table is rebuilt with the directory (``people_aliases.parquet``, beside
``directory.parquet``); an event whose name it does not know keeps its name. Readers: the
store's ``events`` (:func:`resolve_people`, on DuckDB and Spark alike) and the DuckDB readers
that go to the event files directly (:func:`resolved_events_sql`: the content module's
matching, the console's activity index). When the table changes, the days of the events whose
resolution changed are computed again (:func:`changed_alias_day`).

The join is left out where it would change no row (:func:`aliases_rename`): a directory's
e-mails and lower-cased ids make a non-empty table for every organisation, but where the logs
write the directory's own ids (the CERT layouts, canonical JSONL) no event is renamed, and
the join only slows every query (a third of a Spark parity test's time).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from molehunt.sql import sql_path, sql_paths, sql_string

#: Columns of the alias table: a name (lower-cased), the directory ``user_id`` it names, and
#: the days it does (``NULL``: always).
ALIAS_COLUMNS: MappingProxyType[str, str] = MappingProxyType({
    "alias": "VARCHAR", "person": "VARCHAR", "valid_from": "DATE", "valid_to": "DATE"})
_ALIAS_SCHEMA = pa.schema([("alias", pa.string()), ("person", pa.string()),
                           ("valid_from", pa.date32()), ("valid_to", pa.date32())])
_Row = tuple[str, str, dt.date | None, dt.date | None]


def alias_rows(directory: Iterable[tuple[str, str | None, dt.date | None, dt.date | None]]
               ) -> list[_Row]:
    """The alias table of directory rows ``(user_id, email, valid_from, valid_to)``.

    >>> rows = [("ACM2278", "Al.Ali@x.com", dt.date(2020, 1, 1), None),
    ...         ("bob", "bob@x.com", None, None)]
    >>> alias_rows(rows)
    [('acm2278', 'ACM2278', None, None), ('al.ali@x.com', 'ACM2278', None, None), \
('bob@x.com', 'bob', None, None)]

    An address passed from one person to another names each on their own days:

    >>> alias_rows([("u1", "desk@x.com", dt.date(2020, 1, 1), dt.date(2021, 1, 1)),
    ...             ("u2", "desk@x.com", dt.date(2021, 1, 1), None)])[0]
    ('desk@x.com', 'u1', datetime.date(2020, 1, 1), datetime.date(2021, 1, 1))
    """
    rows = list(directory)
    ids = {user_id for user_id, _, _, _ in rows if user_id}
    spans: dict[str, dict[str, list[tuple[dt.date | None, dt.date | None]]]] = {}
    for user_id, email, valid_from, valid_to in rows:
        if not user_id:
            continue
        for name in (user_id, email):
            alias = (name or "").strip().lower()
            # an id the directory knows exactly is that person, never another's alias
            if not alias or alias in ids:
                continue
            spans.setdefault(alias, {}).setdefault(user_id, []).append((valid_from, valid_to))
    found: list[_Row] = []
    for alias, people in sorted(spans.items()):
        if len(people) == 1:
            found.append((alias, next(iter(people)), None, None))
            continue
        for person, mine in sorted(people.items()):
            others = [span for other, theirs in people.items() if other != person
                      for span in theirs]
            found += [(alias, person, start, end) for start, end in sorted(mine, key=_span_key)
                      if not any(_overlap((start, end), span) for span in others)]
    return found


def _span_key(span: tuple[dt.date | None, dt.date | None]) -> tuple[dt.date, dt.date]:
    return span[0] or dt.date.min, span[1] or dt.date.max


def _overlap(a: tuple[dt.date | None, dt.date | None],
             b: tuple[dt.date | None, dt.date | None]) -> bool:
    (a0, a1), (b0, b1) = _span_key(a), _span_key(b)
    return a0 < b1 and b0 < a1


def write_aliases(directory_file: Path, target: Path) -> int:
    """Derive the alias table from ``directory.parquet`` into ``target``; return its rows."""
    rows: list[Any] = []
    if directory_file.exists():
        con = duckdb.connect()
        try:
            rows = con.execute(
                "SELECT user_id, email, valid_from, valid_to FROM"
                f" read_parquet({sql_path(directory_file)}) ORDER BY ALL").fetchall()
        finally:
            con.close()
    found = alias_rows(rows)
    table = pa.Table.from_pylist([dict(zip(ALIAS_COLUMNS, row, strict=True)) for row in found],
                                 schema=_ALIAS_SCHEMA)
    temporary = target.with_suffix(".parquet.tmp")
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, target)
    return int(table.num_rows)


def has_aliases(path: Path) -> bool:
    """Whether the alias table at ``path`` exists and names anyone."""
    return path.exists() and pq.ParquetFile(path).metadata.num_rows > 0


_RENAMES: dict[tuple[object, ...], bool] = {}


def aliases_rename(event_files: Sequence[Path], aliases: Path) -> bool:
    """Whether the alias table at ``aliases`` gives any event in ``event_files`` another
    ``user_id`` (ignoring the rows' days, so a ``True`` may be needless, a ``False`` never
    wrong). Remembered per process for the same files (name, size and time of each)."""
    if not event_files or not has_aliases(aliases):
        return False
    key = tuple((str(path), stat.st_size, stat.st_mtime_ns)
                for path in (aliases, *event_files) for stat in (path.stat(),))
    if key not in _RENAMES:
        con = duckdb.connect()
        try:
            row = con.execute(
                "SELECT count(*) FROM (SELECT DISTINCT user_id FROM read_parquet("
                f"{sql_paths([str(p) for p in event_files])}, union_by_name=true)) e"
                f" JOIN read_parquet({sql_path(aliases)}) a ON lower(e.user_id) = a.alias"
                " WHERE e.user_id IS DISTINCT FROM a.person").fetchone()
        finally:
            con.close()
        if len(_RENAMES) > 256:
            _RENAMES.clear()
        _RENAMES[key] = bool(row and row[0])
    return _RENAMES[key]


def resolve_people(events: ibis.Table, aliases: ibis.Table) -> ibis.Table:
    """``events`` with each ``user_id`` the alias table knows replaced by its person."""
    a = aliases.select(a_alias=aliases["alias"], a_person=aliases["person"],
                       a_from=aliases.valid_from, a_to=aliases.valid_to)
    joined = events.left_join(a, [events.user_id.lower() == a.a_alias,
                                  a.a_from.isnull() | (events.day >= a.a_from),
                                  a.a_to.isnull() | (events.day < a.a_to)])
    return joined.select(*[joined.a_person.coalesce(joined.user_id).name(c) if c == "user_id"
                           else joined[c] for c in events.columns])


def resolved_events_sql(relation: str, aliases: Path, event_files: Sequence[Path]) -> str:
    """DuckDB SQL of an event relation (with ``user_id`` and ``day``) read from
    ``event_files`` whose ``user_id`` is resolved through the alias table at ``aliases`` (the
    relation itself when that renames none of them)."""
    if not aliases_rename(event_files, aliases):
        return relation
    return (f"(SELECT * EXCLUDE (_person) REPLACE (coalesce(_person, user_id) AS user_id)"
            f" FROM (SELECT e.*, a.person AS _person FROM {relation} e"
            f" LEFT JOIN read_parquet({sql_path(aliases)}) a ON lower(e.user_id) = a.alias"
            " AND (a.valid_from IS NULL OR e.day >= a.valid_from)"
            " AND (a.valid_to IS NULL OR e.day < a.valid_to)))")


def read_aliases(path: Path) -> list[_Row]:
    """The rows of an alias table file (none when it does not exist)."""
    if not path.exists():
        return []
    table = pq.read_table(path)
    return [(r["alias"], r["person"], r["valid_from"], r["valid_to"])
            for r in table.to_pylist()]


def changed_alias_day(event_files: Sequence[Path], before: Sequence[_Row],
                      now: Sequence[_Row]) -> dt.date | None:
    """The first day of an event whose person differs between two alias tables (``None``:
    none does), so that features and findings of those days are computed again. A name
    whose alias changed but that still resolves to the same person (a new hire's own id,
    ``acm2278`` → ``ACM2278`` for events written ``ACM2278``) changes nothing.

    >>> changed_alias_day([], [], [("a@x", "A", None, None)]) is None
    True
    """
    changed = sorted({row[0] for row in set(before) ^ set(now)})
    if not changed or not event_files:
        return None
    con = duckdb.connect()
    try:
        for name, rows in (("_before", before), ("_now", now)):
            table = pa.Table.from_pylist(
                [dict(zip(ALIAS_COLUMNS, row, strict=True)) for row in rows],
                schema=_ALIAS_SCHEMA)
            con.register(name, table)
        names = ", ".join(sql_string(name) for name in changed)

        def joined(alias: str, table: str) -> str:
            return (f" LEFT JOIN {table} {alias} ON lower(e.user_id) = {alias}.alias"
                    f" AND ({alias}.valid_from IS NULL OR e.day >= {alias}.valid_from)"
                    f" AND ({alias}.valid_to IS NULL OR e.day < {alias}.valid_to)")

        row = con.execute(
            f"SELECT min(e.day) FROM (SELECT user_id, day FROM read_parquet("
            f"{sql_paths([str(p) for p in event_files])}, hive_partitioning=true,"
            f" union_by_name=true) WHERE lower(user_id) IN ({names})) e"
            + joined("b", "_before") + joined("n", "_now")
            + " WHERE coalesce(b.person, e.user_id) IS DISTINCT FROM"
            " coalesce(n.person, e.user_id)").fetchone()
    finally:
        con.close()
    return row[0] if row and row[0] is not None else None


__all__ = ["ALIAS_COLUMNS", "alias_rows", "aliases_rename", "changed_alias_day", "has_aliases",
           "read_aliases", "resolve_people", "resolved_events_sql", "write_aliases"]
