"""A quick CERT-layout data generator, for benchmarks and the demo.

This is *not* the behavioural simulator (that one models habits, peers and insider scenarios).
It writes files with the CERT r4.2 / r6.2 layouts, realistic field lengths and row counts per
user-day close to CERT r4.2 (about 30 M rows for 1,000 users over 17 months), fast: every
file is produced by one DuckDB ``COPY`` whose pseudo-random values are hashes of the row number
and the seed, so the output does not depend on thread scheduling.

    python -m molehunt.simulate.quick --users 1000 --days 516 --out /tmp/r42
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

#: Rows per user and day in CERT r4.2 (rows / (1,000 users x 516 days)).
R42_RATES = {"logon": 1.66, "device": 0.79, "file": 0.86, "email": 5.10, "http": 55.1}

_WORDS = (  # noqa: SIM905 - reads better as prose
    "project design battery cell process specification supplier quality test report schedule "
    "meeting budget customer market analysis forecast revenue prototype firmware release patent "
    "review manufacturing yield defect calibration sensor module interface protocol roadmap "
    "strategy pricing contract partner audit compliance security network server database backup "
    "deployment cluster pipeline training model evaluation benchmark draft final version update "
    "summary minutes action item owner deadline risk mitigation plan "
).split()

_DOMAINS = [
    "msn.com", "google.com", "yahoo.com", "cnn.com", "bbc.co.uk", "wikipedia.org",
    "amazon.com", "ebay.com", "nytimes.com", "reuters.com", "espn.com", "weather.com",
    "craigslist.org", "linkedin.com", "facebook.com", "twitter.com", "youtube.com",
    "dropbox.com", "monster.com", "careerbuilder.com", "wikileaks.org", "pastebin.com",
]


@dataclass(frozen=True)
class GeneratedDataset:
    """Where the files went and how many rows each has."""

    folder: Path
    rows: dict[str, int]

    @property
    def total_rows(self) -> int:
        """All event rows (LDAP and psychometric rows excluded)."""
        return sum(self.rows.values())


def _corpus(seed: int, words: int = 40_000) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def generate_cert(
    folder: Path,
    users: int = 1000,
    days: int = 516,
    start: date = date(2010, 1, 2),
    layout: str = "r4.2",
    seed: int = 0,
    scale: float = 1.0,
    headerless_http: bool = False,
) -> GeneratedDataset:
    """Write a CERT-layout dataset into ``folder``; return the row counts per file."""
    if layout not in {"r4.2", "r6.2"}:
        raise ValueError("layout must be r4.2 or r6.2")
    r6 = layout == "r6.2"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "LDAP").mkdir(exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order=true")
    corpus = _corpus(seed)
    con.execute("CREATE TABLE corpus AS SELECT ? AS text", [corpus])
    con.execute("CREATE TABLE domains AS SELECT unnest(?) AS d, generate_subscripts(?, 1) AS k",
                [_DOMAINS, _DOMAINS])
    span = days * 86400
    s = int(seed)

    def rnd(salt: int, modulo: int) -> str:
        return f"CAST(hash(i, {s * 7919 + salt}) % {modulo} AS BIGINT)"

    def common(n: int, name: str) -> str:
        # rows in time order over the period, working hours weighted by a hash
        return (
            f"'{{' || upper(substr(md5(CAST(i AS VARCHAR) || '-{name}{s}'), 1, 4)) || '-' ||"
            f" upper(substr(md5(CAST(i AS VARCHAR) || '+{name}{s}'), 1, 8)) || '-' ||"
            f" upper(substr(md5(CAST(i AS VARCHAR) || '*{name}{s}'), 1, 8)) || '}}' AS id,"
            f" strftime(TIMESTAMP '{start.isoformat()} 00:00:00' + to_seconds("
            f"CAST(floor(i * {span} / {n}) AS BIGINT) - (floor(i * {span} / {n})::BIGINT % 86400)"
            f" + 25200 + {rnd(1, 39600)}), '%m/%d/%Y %H:%M:%S') AS date,"
            f" 'U' || lpad(CAST({rnd(2, users)} AS VARCHAR), 4, '0') AS user,"
            f" 'PC-' || lpad(CAST(({rnd(2, users)} * 7 + {rnd(3, 3)}) % 9999 AS VARCHAR), 4, '0')"
            f" AS pc"
        )

    def text(salt: int, low: int, high: int) -> str:
        length = f"({low} + {rnd(salt, high - low)})"
        return (f"(SELECT substr(text, 1 + {rnd(salt + 1, len(corpus) - high - 1)}, {length})"
                " FROM corpus)")

    rows: dict[str, int] = {}

    def write(name: str, n: int, select: str, header: bool = True) -> None:
        target = folder / f"{name}.csv"
        con.execute(
            f"COPY (SELECT {select} FROM range({n}) t(i) ORDER BY i) TO '{target}'"
            f" (HEADER {'true' if header else 'false'}, DELIMITER ',', QUOTE '\"')"
        )
        rows[name] = n

    def count(kind: str) -> int:
        return max(1, int(R42_RATES[kind] * users * days * scale))

    write("logon", count("logon"),
          f"{common(count('logon'), 'logon')}, CASE WHEN {rnd(4, 2)} = 0 THEN 'Logon'"
          " ELSE 'Logoff' END AS activity")
    device_activity = f"CASE WHEN {rnd(5, 2)} = 0 THEN 'Connect' ELSE 'Disconnect' END"
    if r6:
        write("device", count("device"),
              f"{common(count('device'), 'device')}, CASE WHEN {rnd(5, 2)} = 0 THEN 'R:\\;R:\\docs'"
              f" ELSE NULL END AS file_tree, {device_activity} AS activity")
    else:
        write("device", count("device"), f"{common(count('device'), 'device')}, {device_activity}"
              " AS activity")
    filename = "'R:\\' || substr(md5(CAST(i AS VARCHAR)), 1, 8) || '.doc'"
    file_content = f"'D0-CF-11-E0-A1-B1-1A-E1 ' || {text(10, 200, 1800)}"
    if r6:
        write("file", count("file"),
              f"{common(count('file'), 'file')}, {filename} AS filename,"
              f" (['File Open', 'File Write', 'File Copy', 'File Delete'])[1 + {rnd(11, 4)}]"
              f" AS activity, CASE WHEN {rnd(12, 3)} = 0 THEN 'True' ELSE 'False' END"
              " AS to_removable_media, 'False' AS from_removable_media,"
              f" {file_content} AS content")
    else:
        write("file", count("file"),
              f"{common(count('file'), 'file')}, {filename} AS filename, {file_content} AS content")
    recipient = (
        f"lower('U' || lpad(CAST({rnd(20, users)} AS VARCHAR), 4, '0')) || '@' ||"
        f" CASE WHEN {rnd(21, 10)} = 0 THEN (['gmail.com', 'yahoo.com', 'hotmail.com',"
        f" 'partner.example'])[1 + {rnd(22, 4)}] ELSE 'dtaa.com' END"
    )
    email_common = (
        f"{common(count('email'), 'email')}, {recipient} AS \"to\","
        f" CASE WHEN {rnd(23, 4)} = 0 THEN {recipient.replace('20,', '24,')} ELSE NULL END AS cc,"
        " NULL AS bcc, lower(user) || '@dtaa.com' AS \"from\""
    )
    email_tail = f"{rnd(25, 50000)} + 5000 AS size"
    if r6:
        write("email", count("email"),
              f"{email_common}, CASE WHEN {rnd(26, 3)} = 0 THEN 'View' ELSE 'Send' END"
              f" AS activity, {email_tail}, CASE WHEN {rnd(27, 5)} = 0 THEN"
              f" 'C:\\docs\\' || substr(md5(CAST(i AS VARCHAR)), 1, 6) || '.pdf(' ||"
              f" CAST({rnd(28, 90000)} AS VARCHAR) || ')' ELSE NULL END AS attachments,"
              f" {text(29, 100, 900)} AS content")
    else:
        write("email", count("email"),
              f"{email_common}, {email_tail}, {rnd(27, 3)} AS attachments,"
              f" {text(29, 100, 900)} AS content")
    url = (
        f"'http://' || (SELECT d FROM domains WHERE k = 1 + {rnd(30, len(_DOMAINS))}) || '/' ||"
        f" substr(md5(CAST(i AS VARCHAR) || 'u'), 1, 12) || '/' ||"
        f" substr(md5(CAST(i AS VARCHAR) || 'v'), 1, 8) || '.htm'"
    )
    http_content = text(31, 150, 900)
    if r6:
        write("http", count("http"),
              f"{common(count('http'), 'http')}, {url} AS url, (['WWW Visit', 'WWW Visit',"
              f" 'WWW Visit', 'WWW Download', 'WWW Upload'])[1 + {rnd(32, 5)}] AS activity,"
              f" {http_content} AS content", header=not headerless_http)
    else:
        write("http", count("http"), f"{common(count('http'), 'http')}, {url} AS url,"
              f" {http_content} AS content", header=not headerless_http)
    _write_ldap(con, folder, users, days, start, r6)
    con.execute(
        f"COPY (SELECT 'Person ' || i AS employee_name, 'U' || lpad(CAST(i AS VARCHAR), 4, '0')"
        f" AS user_id, 10 + {rnd(40, 40)} AS O, 10 + {rnd(41, 40)} AS C, 10 + {rnd(42, 40)}"
        f" AS E, 10 + {rnd(43, 40)} AS A, 10 + {rnd(44, 40)} AS N FROM range({users}) t(i))"
        f" TO '{folder / 'psychometric.csv'}' (HEADER true)"
    )
    con.close()
    return GeneratedDataset(folder, rows)


def _write_ldap(con: duckdb.DuckDBPyConnection, folder: Path, users: int, days: int,
                start: date, r6: bool) -> None:
    """Monthly snapshots; about 2 % of people leave each month after the first quarter."""
    month = date(start.year, start.month, 1)
    end = start + timedelta(days=days)
    index = 0
    while month <= end:
        leavers = int(users * 0.02 * max(0, index - 2))
        projects = "'Project ' || (i % 20) AS projects, " if r6 else ""
        con.execute(
            f"COPY (SELECT 'Person ' || i AS employee_name,"
            f" 'U' || lpad(CAST(i AS VARCHAR), 4, '0') AS user_id,"
            f" lower('U' || lpad(CAST(i AS VARCHAR), 4, '0')) || '@dtaa.com' AS email,"
            f" (['Salesman', 'ITAdmin', 'Engineer', 'Manager'])[1 + i % 4] AS role, {projects}"
            f" '1 - Executive' AS business_unit, '5 - Research' AS functional_unit,"
            f" 'Department ' || (i % 10) AS department, 'Team ' || (i % 40) AS team,"
            f" CASE WHEN i % 40 = 0 THEN '' ELSE 'Person ' || (i - i % 40) END AS supervisor"
            f" FROM range({users}) t(i) WHERE i >= {leavers})"
            f" TO '{folder / 'LDAP' / month.strftime('%Y-%m.csv')}' (HEADER true)"
        )
        index += 1
        month = date(month.year + (month.month // 12), month.month % 12 + 1, 1)


def main() -> None:
    """Command line: write a quick CERT-layout dataset."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=516)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2010, 1, 2))
    parser.add_argument("--layout", choices=["r4.2", "r6.2"], default="r4.2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--headerless-http", action="store_true")
    args = parser.parse_args()
    dataset = generate_cert(args.out, args.users, args.days, args.start, args.layout, args.seed,
                            args.scale, args.headerless_http)
    print(f"wrote {dataset.total_rows:,} event rows to {dataset.folder}")


if __name__ == "__main__":
    main()
