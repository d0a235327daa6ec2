"""Benchmark the ingest speed of every enterprise connector against a bare read of the same file.

For each connector, in each shape a team receives it (the Microsoft 365 audit log's four
shapes, the three HR feeds, Google Workspace, Windows Security events as Winlogbeat, NXLog,
Event XML and EVTX, the Okta System Log as NDJSON and API pages, the Squid, Zscaler and Blue
Coat proxies, OCSF and ECS), it writes ``--records`` records into a folder: the hand-written
fixture records of tests/fixtures/ (every kind the connector stores or skips; the malformed
ones the quarantine tests use are left out) repeated with new ids, shifted times and other
people, and for EVTX the chunks of the real Security log sample repeated with new record ids
and times (see :func:`write_evtx`). Then, in the same run, it times

* the library call of ``molehunt ingest <family> FILE`` (``Ingestor.ingest_records``, with the
  workspace opened and locked as the command does) into a fresh workspace, and
* a bare read of the same file into a DuckDB table (``CREATE TABLE t AS SELECT * FROM
  read_json(...)`` or ``read_csv(...)``, same thread count): no flattening, mapping, checks,
  quarantine or writing. DuckDB reads neither XML nor EVTX nor Squid's space-padded lines:
  for those the reference is reading the file's lines as text into a table (XML: one event a
  line), and for EVTX the ``evtx`` parser alone, every record to XML.

Each runs in a child forked from this process after a warm-up (:func:`warm_up`), so that its
peak RSS is its own (``ru_maxrss``; it counts the pages shared with this process that the child
touches, ``rss_at_fork_mb`` being this process's size) and neither interpreter start-up nor
first imports are timed. HR feeds resolve people through the directory: their child first
ingests the generated directory, untimed. Prints JSON: per connector the records, what became
of them, records per second of each reader, the time ratio and the peak RSS; progress goes to
stderr.

    python benchmarks/connectors_ingest.py --records 100000 --data /tmp/bench-connectors
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import io
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
#: Domains of the fixtures' people: their addresses are varied per copy (:func:`stamp`).
COMPANY_DOMAINS = ("corp.example", "contoso.com", "fabrikam.example")
#: How far each copy of the templates is moved in time.
STEP_SECONDS = 60


@dataclass(frozen=True)
class Case:
    """One connector in one shape: where its records come from and how they are written."""

    name: str
    family: str  # molehunt ingest <family>
    fixture: str  # under tests/fixtures/
    templates: str  # how the fixture's records are read: ndjson, items, csv, lines, xml
    writer: str  # how the records are written: ndjson, array, pages, report, csv, lines
    bare: str  # the reference reader: ndjson, array, pages, report, csv, elff, text, evtx
    suffix: str
    drop: str | None = None  # a regex: templates it finds are the fixture's malformed records
    ids: str | None = None  # a regex whose groups are a template's ids (replaced per copy)
    epoch: tuple[str, int] | None = None  # a regex of an epoch time and its units per second
    hr: bool = False  # people resolved through the directory: one person per copy
    settings: str = ""  # more of molehunt.toml


_M365_ID = r'"Id"\s*:\s*"([^"]+)"'
_WINDOWS_IDS = (r'EventRecordID>(\d+)<|"record_id"\s*:\s*(\d+)|"RecordNumber"\s*:\s*(\d+)'
                r'|LogonId\W{1,4}(0x[0-9a-fA-F]+)')
_HR_CSV = (FIXTURES / "hr" / "hr_system_export.toml").read_text(encoding="utf-8")

CASES = [
    Case("m365.management_api_ndjson", "m365", "m365/management_api.ndjson", "ndjson",
         "ndjson", "ndjson", ".ndjson", ids=_M365_ID),
    Case("m365.purview_csv", "m365", "m365/purview_export.csv", "csv", "csv", "csv", ".csv",
         ids=r'^([0-9a-f-]{36}),|""Id"":""([^"]+)""'),
    Case("m365.graph_pages", "m365", "m365/graph_records.json", "items", "pages", "graph_pages",
         ".json", ids=r'"[Ii]d"\s*:\s*"([^"]+)"'),
    Case("m365.sentinel_json", "m365", "m365/sentinel_officeactivity.json", "items", "array",
         "array", ".json", ids=r'"OfficeId"\s*:\s*"([^"]+)"'),
    Case("hr.purview_csv", "hr", "hr/purview_scenarios.csv", "csv", "csv", "csv", ".csv",
         drop=r"^Employee profile,", hr=True),
    Case("hr.workday_json", "hr", "hr/workday_report.json", "items", "report", "report",
         ".json", drop="ZZZ9999", ids=r'"Employee_ID"\s*:\s*"([^"]+)"', hr=True),
    Case("hr.csv", "hr", "hr/hr_system_export.csv", "csv", "csv", "csv", ".csv",
         drop=",Lunch,", hr=True, settings=_HR_CSV),
    Case("gworkspace.ndjson", "gworkspace", "gworkspace/activities.ndjson", "ndjson", "ndjson",
         "ndjson", ".ndjson", ids=r'"uniqueQualifier"\s*:\s*"([^"]+)"'),
    Case("windows.winlogbeat", "windows", "windows/winlogbeat.ndjson", "ndjson", "ndjson",
         "ndjson", ".ndjson", drop="1970-01-01", ids=_WINDOWS_IDS),
    Case("windows.nxlog", "windows", "windows/nxlog.ndjson", "ndjson", "ndjson", "ndjson",
         ".ndjson", drop="1970-01-01", ids=_WINDOWS_IDS),
    Case("windows.event_xml", "windows", "windows/security_wevtutil.xml", "xml", "lines", "text",
         ".xml", drop="1970-01-01", ids=_WINDOWS_IDS),
    Case("windows.evtx", "windows", "windows/security_4_chunks.evtx", "evtx", "evtx", "evtx",
         ".evtx"),
    Case("okta.ndjson", "okta", "okta/system_log.ndjson", "ndjson", "ndjson", "ndjson",
         ".ndjson", drop=r'"yesterday"|"2099-|"displayName":"Unknown"',
         ids=r'"uuid"\s*:\s*"([^"]+)"'),
    Case("okta.api_pages", "okta", "okta/system_log.ndjson", "ndjson", "pages", "pages", ".json",
         drop=r'"yesterday"|"2099-|"displayName":"Unknown"', ids=r'"uuid"\s*:\s*"([^"]+)"'),
    Case("proxy.squid", "proxy", "proxy/squid_access.log", "lines", "lines", "text", ".log",
         drop=r"/favicon\.ico| GET$", epoch=(r"^(\d{10})\.", 1)),
    Case("proxy.zscaler", "proxy", "proxy/zscaler_nss_web.ndjson", "ndjson", "ndjson", "ndjson",
         ".ndjson", drop=r'"04/03/24|"event_id":"7310101"', ids=r'"event_id"\s*:\s*"(\d+)"'),
    Case("proxy.bluecoat", "proxy", "proxy/bluecoat_main.log", "lines", "lines", "elff", ".log",
         drop=r"^2024-13-|CORP\\alice$"),
    Case("ocsf.ndjson", "ocsf", "normalised/ocsf_events.ndjson", "ndjson", "ndjson", "ndjson",
         ".ndjson", drop=r'"time": 4102444800000', ids=r'"uid"\s*:\s*"([^"]+)"',
         epoch=(r'"time"\s*:\s*(\d{13})', 1000)),
    Case("ecs.ndjson", "ecs", "normalised/ecs_events.ndjson", "ndjson", "ndjson", "ndjson",
         ".ndjson", drop='"2100-01-01', ids=r'"id"\s*:\s*"([^"]+)"'),
]

# -- the fixtures' records ----------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """One fixture record as text, and the pattern of the ids in it that each copy replaces
    (its groups; only there: the same digits elsewhere, in a namespace URL, stay)."""

    text: str
    ids: re.Pattern[str] | None


def templates(case: Case) -> tuple[list[str], list[Template]]:
    """The header lines of the case's file (CSV header, ELFF directives) and its records."""
    path = FIXTURES / case.fixture
    header: list[str] = []
    if case.templates == "ndjson":
        texts = [line for line in path.read_text(encoding="utf-8").splitlines()
                 if _is_json_object(line)]
    elif case.templates == "items":
        document = json.loads(path.read_text(encoding="utf-8"))
        items = (document.get("value") or document.get("Report_Entry")
                 if isinstance(document, dict) else document)
        texts = [json.dumps(item) for item in items]
    elif case.templates == "csv":
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        header, texts = [_csv_line(rows[0])], [_csv_line(row) for row in rows[1:] if row]
    elif case.templates == "lines":
        # the directives before the first record, and the records up to the next directive
        # (an ELFF log restarted with other #Fields: goes on in another layout)
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        first = next(i for i, line in enumerate(lines) if not line.startswith("#"))
        end = next((i for i in range(first, len(lines)) if lines[i].startswith("#")), None)
        header, texts = lines[:first], lines[first:end]
    elif case.templates == "xml":
        texts = re.findall(r"<Event[\s>].*?</Event>", path.read_text(encoding="utf-8"), re.S)
    else:
        raise ValueError(f"no templates of kind {case.templates!r}")
    if case.drop is not None:
        texts = [text for text in texts if not re.search(case.drop, text)]
    pattern = re.compile(case.ids, re.M) if case.ids else None
    kept, seen = [], set()
    for text in texts:
        ids = {value for match in (pattern.finditer(text) if pattern else ())
               for value in match.groups() if value}
        if ids and ids <= seen:
            continue  # the fixture's deliberate repeat of a record (its duplicate test)
        seen |= ids
        kept.append(Template(text, pattern))
    return header, kept


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _csv_line(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


# -- one copy of a record -----------------------------------------------------------------
_ISO_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})([T ])(\d{2}):(\d{2}):(\d{2})")
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_PERSON = re.compile(r"([A-Za-z0-9._%+-]+)@(" + "|".join(map(re.escape, COMPANY_DOMAINS))
                     + r")\b", re.I)


def new_id(value: str, copy: int) -> str:
    """The id ``value`` takes in copy ``copy``, of the same form (a number stays a number
    with room for every template's values, a UUID a UUID).

    >>> new_id("1001", 3), new_id("0x1a2b", 1), new_id("t-1", 2)
    ('301001', '0x101a2b', 't-1-2')
    >>> new_id("5d1e7a0c-0000-4000-8000-000000000001", 0)
    '5d1e7a0c-0000-4000-8000-000000000001'
    """
    if copy == 0:
        return value
    if value.isdigit():
        return str(int(value) + copy * 10 ** (len(value) + 1))
    if re.fullmatch(r"0x[0-9a-fA-F]+", value):
        return hex(int(value, 16) + copy * 16 ** (len(value) - 1))
    if _UUID.match(value):
        digest = hashlib.md5(f"{value}/{copy}".encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return f"{value}-{copy}"


def stamp(template: Template, copy: int, person: int | None, epoch: tuple[str, int] | None
          ) -> str:
    """Copy ``copy`` of a record: its ids replaced, its times moved by ``copy`` steps, its
    people's addresses those of person ``person`` (None: unchanged)."""
    text = template.text
    if copy and template.ids is not None:
        text = template.ids.sub(lambda m: _new_ids(m, copy), text)
    seconds = copy * STEP_SECONDS
    if seconds:
        text = _ISO_TIME.sub(lambda m: _moved(m, seconds), text)
        if epoch is not None:
            pattern, units = epoch
            text = re.sub(pattern, lambda m: m[0].replace(m[1], str(int(m[1]) + seconds * units)),
                          text, flags=re.M)
    if person is not None:
        text = _PERSON.sub(lambda m: f"{m[1]}.{person}@{m[2]}", text)
    return text


def _new_ids(match: re.Match[str], copy: int) -> str:
    """The matched text with each id group replaced by its value in copy ``copy``."""
    parts, at = [], match.start()
    for group, value in enumerate(match.groups(), start=1):
        if value:
            start, end = match.span(group)
            parts += [match.string[at:start], new_id(value, copy)]
            at = end
    return "".join(parts) + match.string[at:match.end()]


def _moved(match: re.Match[str], seconds: int) -> str:
    moment = datetime(*(int(match[i]) for i in (1, 2, 3, 5, 6, 7))) + timedelta(seconds=seconds)
    return moment.strftime(f"%Y-%m-%d{match[4]}%H:%M:%S")


def records(case: Case, count: int, people: int) -> tuple[list[str], Iterator[str], int]:
    """The header lines, ``count`` records of the case, and how many copies they take."""
    header, found = templates(case)
    copies = -(-count // len(found))

    def generate() -> Iterator[str]:
        for number in range(count):
            copy, index = divmod(number, len(found))
            # an HR event is one person's: one person per copy, so no two copies are the same
            # event (an HR row's key is its content)
            yield stamp(found[index], copy, copy if case.hr else copy % people, case.epoch)

    return header, generate(), copies


# -- writing ------------------------------------------------------------------------------
#: Records per page of the API shapes (Okta's and Microsoft Graph's largest page).
PAGE = 1000


def write(case: Case, path: Path, count: int, people: int) -> int:
    """Write the case's file; return how many copies of the templates it took."""
    if case.writer == "evtx":
        write_evtx(FIXTURES / case.fixture, path, count)
        return 0
    header, lines, copies = records(case, count, people)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        if case.writer in ("ndjson", "csv", "lines"):
            out.writelines(f"{line}\n" for line in header)
            out.writelines(f"{line}\n" for line in lines)
        elif case.writer == "array":
            out.write("[\n" + ",\n".join(lines) + "\n]\n")
        elif case.writer == "report":
            out.write('{"Report_Entry": [\n' + ",\n".join(lines) + "\n]}\n")
        elif case.writer == "pages":
            for page in _pages(lines):
                body = "[" + ", ".join(page) + "]"
                # Graph answers an object holding the page; Okta the array itself
                out.write((f'{{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata'
                           f'#security/auditLog/queries(\'q1\')/records", "value": {body}}}'
                           if case.family == "m365" else body) + "\n")
        else:
            raise ValueError(f"no writer {case.writer!r}")
    return copies


def _pages(lines: Iterable[str]) -> Iterator[list[str]]:
    page: list[str] = []
    for line in lines:
        page.append(line)
        if len(page) == PAGE:
            yield page
            page = []
    if page:
        yield page


def write_directory(case: Case, path: Path, copies: int) -> None:
    """The directory the HR feed's people resolve in: the fixture's, once per copy."""
    source = Case("directory", "", "hr/directory.jsonl", "ndjson", "ndjson", "", "",
                  ids=r'"user_id"\s*:\s*"([^"]+)"')
    _, found = templates(source)
    with path.open("w", encoding="utf-8") as out:
        for copy in range(copies):
            out.writelines(stamp(t, copy, copy, None) + "\n" for t in found)


def write_evtx(sample: Path, target: Path, count: int) -> None:
    """``count`` records in EVTX: the sample's chunks one after another, again and again, each
    record with a new record id (in its header and in the ``EventRecordID`` its XML is built
    from) and its time moved by one step per round (header and ``TimeCreated``), the chunk
    and file headers and checksums to match; the last chunk is cut after the last record.

    The id and the time are found among the record's template substitutions: the one
    unsigned 64-bit value equal to the header's record id and the one FILETIME equal to the
    header's time (true of every record of the sample; anything else is refused).
    """
    data = sample.read_bytes()
    chunks = [data[4096 + i * 65536:4096 + (i + 1) * 65536]
              for i in range((len(data) - 4096) // 65536)]
    layouts = [_chunk_records(chunk) for chunk in chunks]
    written = 0
    out_chunks = 0
    with target.open("wb") as out:
        out.write(bytes(4096))
        round_ = 0
        while written < count:
            for chunk, layout in zip(chunks, layouts, strict=True):
                if written >= count:
                    break
                keep = layout[:count - written]
                block = bytearray(chunk)
                shift = round_ * STEP_SECONDS * 10_000_000  # FILETIME: 100 ns
                for offset, id_at, time_at in keep:
                    written += 1
                    for at in (offset + 8, id_at):
                        struct.pack_into("<Q", block, at, written)
                    for at in (offset + 16, time_at):
                        struct.pack_into("<Q", block, at,
                                         struct.unpack_from("<Q", block, at)[0] + shift)
                last = keep[-1][0]
                free = last + struct.unpack_from("<I", block, last + 4)[0]
                block[free:] = bytes(len(block) - free)
                first_id = written - len(keep) + 1
                struct.pack_into("<QQQQ", block, 8, first_id, written, first_id, written)
                struct.pack_into("<II", block, 44, last, free)
                struct.pack_into("<I", block, 52, zlib.crc32(block[512:free]))
                struct.pack_into("<I", block, 124, zlib.crc32(block[:120] + block[128:512]))
                out.write(block)
                out_chunks += 1
            round_ += 1
        header = bytearray(data[:4096])
        struct.pack_into("<QQQ", header, 8, 0, out_chunks - 1, written + 1)
        struct.pack_into("<H", header, 42, out_chunks)
        struct.pack_into("<I", header, 124, zlib.crc32(header[:120]))
        out.seek(0)
        out.write(header)


def _chunk_records(chunk: bytes) -> list[tuple[int, int, int]]:
    """(offset, where the id substitution is, where the time substitution is) of each record."""
    found = []
    free = struct.unpack_from("<I", chunk, 48)[0]
    at = 512
    while at < free:
        size, record_id, created = struct.unpack_from("<IQQ", chunk, at + 4)
        ids, times = [], []
        for value_at, size_, kind in _substitutions(chunk, at):
            if size_ == 8 and kind == 0x0A and struct.unpack_from("<Q", chunk, value_at)[0] \
                    == record_id:
                ids.append(value_at)
            if size_ == 8 and kind == 0x11 and struct.unpack_from("<Q", chunk, value_at)[0] \
                    == created:
                times.append(value_at)
        if len(ids) != 1 or len(times) != 1:
            raise SystemExit(f"record {record_id} of the EVTX sample: no single record id and"
                             " time among its substitutions")
        found.append((at, ids[0], times[0]))
        at += size
    return found


def _substitutions(chunk: bytes, record: int) -> list[tuple[int, int, int]]:
    """(offset, size, type) of the substitution values of a record's template instance:
    after the fragment header (``0F 01 01 00``) comes the template instance (``0C``, a byte,
    the template id, the definition's offset, the definition itself when it is defined
    there), then the number of values, their (size, type) descriptors and the values."""
    at = record + 24
    if chunk[at] != 0x0F or chunk[at + 4] != 0x0C:
        raise SystemExit(f"EVTX record at {record}: not a template instance")
    at += 10
    definition = struct.unpack_from("<I", chunk, at)[0]
    at += 4
    if definition == at:
        at += 24 + struct.unpack_from("<I", chunk, at + 20)[0]
    count = struct.unpack_from("<I", chunk, at)[0]
    at += 4
    descriptors = [struct.unpack_from("<HB", chunk, at + 4 * i) for i in range(count)]
    at += 4 * count
    values = []
    for size, kind in descriptors:
        values.append((at, size, kind))
        at += size
    return values


# -- the two readers, each in a child -----------------------------------------------------
BARE_SQL = {
    "ndjson": "SELECT * FROM read_json('{path}', format='newline_delimited',"
              " maximum_object_size=16777216)",
    "array": "SELECT * FROM read_json('{path}', format='array', maximum_object_size=67108864)",
    "pages": "SELECT unnest(COLUMNS(*)) FROM read_json('{path}', format='newline_delimited',"
             " records=false, maximum_object_size=268435456)",
    "graph_pages": "SELECT unnest(value) FROM read_json('{path}', format='newline_delimited',"
                   " maximum_object_size=268435456)",
    "report": "SELECT unnest(Report_Entry) FROM read_json('{path}',"
              " maximum_object_size=268435456)",
    "csv": "SELECT * FROM read_csv('{path}', header=true)",
    "elff": "SELECT * FROM read_csv('{path}', delim=' ', quote='\"', header=false,"
            " skip={skip})",
    "text": "SELECT * FROM read_csv('{path}', columns={{'line': 'VARCHAR'}}, header=false,"
            " delim=chr(1), quote='', escape='', max_line_size=16777216)",
}
#: What each reference reader is, for the JSON.
BARE_NAMES = {
    "ndjson": "DuckDB read_json, newline-delimited, into a table",
    "array": "DuckDB read_json, array, into a table",
    "pages": "DuckDB read_json, one page a line, each page's records unnested into a table",
    "graph_pages": "DuckDB read_json, one page a line, each page's value unnested into a"
                   " table",
    "report": "DuckDB read_json, Report_Entry unnested into a table",
    "csv": "DuckDB read_csv into a table",
    "elff": "DuckDB read_csv, space-separated, directives skipped, into a table",
    "text": "DuckDB read_csv of the lines as text into a table (DuckDB reads no XML and"
            " cannot split Squid's space-padded fields)",
    "evtx": "the evtx package alone: every record parsed to XML, nothing stored",
}


def bare_read(case: Case, path: Path, threads: int) -> dict[str, Any]:
    """The reference read of the file (in the child); its time and row count."""
    if case.bare == "evtx":
        import evtx

        started = time.perf_counter()
        rows = sum(1 for _ in evtx.PyEvtxParser(str(path)).records())
        return {"seconds": time.perf_counter() - started, "rows": rows}
    import duckdb

    skip = sum(1 for line in path.open(encoding="utf-8") if line.startswith("#")) \
        if case.bare == "elff" else 0
    sql = BARE_SQL[case.bare].format(path=str(path).replace("'", "''"), skip=skip)
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    con.execute(f"CREATE TABLE t AS {sql}")
    rows = con.execute("SELECT count(*) FROM t").fetchone()
    con.close()
    return {"seconds": time.perf_counter() - started, "rows": rows[0] if rows else 0}


def molehunt_ingest(case: Case, path: Path, workspace: Path, directory: Path | None
                    ) -> dict[str, Any]:
    """``molehunt ingest <family> FILE`` as the command runs it (in the child)."""
    from molehunt.sources.ingest import Ingestor
    from molehunt.store.workspace import Workspace

    if directory is not None:
        with Workspace(workspace).locked() as store:
            Ingestor(store).ingest_jsonl([directory], table="directory")
    started = time.perf_counter()
    with Workspace(workspace).locked() as store:
        summary = Ingestor(store).ingest_records([path], case.family)
    seconds = time.perf_counter() - started
    [result] = summary.files
    return {"seconds": seconds, "status": result.status, "note": result.note,
            "layout": result.layout, "read": result.rows_read, "stored": result.rows_stored,
            "duplicates": result.rows_duplicate, "quarantined": result.rows_quarantined,
            "quarantined_by_reason": dict(result.quarantined_by_reason),
            "skipped": result.rows_skipped}


def in_child(work: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """Run ``work`` in a forked child; its result and the child's peak RSS in bytes."""
    read, write_ = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, leave without this process's exits
        os.close(read)
        try:
            payload: dict[str, Any] = {"result": work()}
        except BaseException as error:  # reported to the parent, which fails
            payload = {"error": f"{type(error).__name__}: {error}"}
        with os.fdopen(write_, "w") as pipe:
            json.dump(payload, pipe)
        os._exit(0)
    os.close(write_)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    payload = json.loads(text) if text else {"error": f"child exited with status {status}"}
    if "error" in payload:
        raise SystemExit(f"benchmark child failed: {payload['error']}")
    return payload["result"], usage.ru_maxrss * 1024


def warm_up(data: Path) -> None:
    """Import here, once, what the readers import on first use (the source modules, duckdb,
    evtx, pandas through DuckDB, ...), by ingesting one small fixture: a forked child then
    spends its time reading, not importing (the first ingest of a process costs about 0.5 s
    more CPU). The warm-up's DuckDB database is closed before any fork: a process must not
    fork while DuckDB's worker threads run, so the threads are counted (/proc/self/task)
    before and after it. Threads the imports start and keep (pyarrow's jemalloc background
    thread) are fork-safe: they register their own fork handlers."""
    import evtx  # noqa: F401

    from molehunt.sources.ingest import Ingestor
    from molehunt.store.workspace import Workspace

    threads = len(os.listdir("/proc/self/task"))
    folder = Path(tempfile.mkdtemp(prefix="warm-up-", dir=data))
    try:
        with Workspace(folder).locked() as store:
            Ingestor(store).ingest_records([FIXTURES / "proxy" / "squid_access.log"], "proxy")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    gc.collect()
    after = len(os.listdir("/proc/self/task"))
    if after != threads:
        raise SystemExit(f"{after - threads} threads left running by the warm-up ingest:"
                         " forking now could deadlock")


def _rss_now() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- the run ------------------------------------------------------------------------------
def run_case(case: Case, data: Path, records_wanted: int, people: int, threads: int
             ) -> dict[str, Any]:
    """Write (or reuse) the case's file, time both readers, return the case's figures."""
    path = data / f"{case.name}-{records_wanted}{case.suffix}"
    directory = data / f"{case.name}-{records_wanted}-directory.jsonl" if case.hr else None
    marker = path.with_name(path.name + ".copies")
    if not marker.exists():
        copies = write(case, path, records_wanted, people)
        if directory is not None:
            write_directory(case, directory, copies)
        marker.write_text(str(copies))
    workspace = Path(tempfile.mkdtemp(prefix=f"ws-{case.name}-", dir=data))
    domains = json.dumps(list(COMPANY_DOMAINS))
    (workspace / "molehunt.toml").write_text(f"company_domains = {domains}\n"
                                             f"threads = {threads}\n{case.settings}")
    try:
        ingest, ingest_rss = in_child(lambda: molehunt_ingest(case, path, workspace, directory))
        bare, bare_rss = in_child(lambda: bare_read(case, path, threads))
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    if ingest["status"] != "ingested":
        raise SystemExit(f"{case.name}: {ingest['status']}: {ingest['note']}")
    read = ingest["read"]
    return {
        "family": case.family, "layout": ingest["layout"], "file_mb":
        round(path.stat().st_size / 2**20, 1), "records_written": records_wanted,
        "records_read": read, "stored": ingest["stored"], "skipped": ingest["skipped"],
        "duplicates": ingest["duplicates"], "quarantined": ingest["quarantined"],
        **({"quarantined_by_reason": ingest["quarantined_by_reason"]}
           if ingest["quarantined"] else {}),
        "molehunt": {"seconds": round(ingest["seconds"], 3),
                     "records_per_s": round(read / ingest["seconds"]),
                     "peak_rss_mb": round(ingest_rss / 2**20)},
        "bare": {"reader": BARE_NAMES[case.bare], "rows": bare["rows"],
                 "seconds": round(bare["seconds"], 3),
                 "records_per_s": round(read / bare["seconds"]),
                 "peak_rss_mb": round(bare_rss / 2**20)},
        "time_ratio": round(ingest["seconds"] / bare["seconds"], 1),
    }


def run(records: int, data: Path, people: int = 500, threads: int = 2,
        only: Iterable[str] = ()) -> dict[str, Any]:
    """Every case (or those whose name starts with one of ``only``); the whole JSON."""
    chosen = [c for c in CASES if not only or any(c.name.startswith(o) for o in only)]
    if not chosen:
        raise SystemExit(f"no connector starts with {', '.join(only)}")
    warm_up(data)
    load_before = os.getloadavg()
    rss = _rss_now()
    results = {}
    for case in chosen:
        started = time.perf_counter()
        results[case.name] = run_case(case, data, records, people, threads)
        # progress, and what the case cost in all (writing its file included)
        print(f"{case.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return {
        "benchmark": "connectors_ingest", "records_per_connector": records, "threads": threads,
        "cpus": os.cpu_count(), "people": people,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "rss_at_fork_mb": round(rss / 2**20),
        "measured": "molehunt: Ingestor.ingest_records with the workspace opened and locked,"
                    " as `molehunt ingest <family> FILE` runs it; bare: the reader named per"
                    " connector; each in its own forked child, seconds of the call alone;"
                    " records_per_s of both count the records molehunt read; time_ratio ="
                    " molehunt seconds / bare seconds",
        "connectors": results,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000,
                        help="records per connector (default 100,000)")
    parser.add_argument("--people", type=int, default=500,
                        help="people the records are spread over (HR feeds: one per copy)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=None,
                        help="keep the generated files here (reused by later runs)")
    parser.add_argument("--only", default="", help="comma-separated name prefixes (okta,hr.)")
    parser.add_argument("--note", default=None, help="a note for the JSON (the machine's load)")
    args = parser.parse_args(argv)
    data = args.data or Path(tempfile.mkdtemp(prefix="bench-connectors-"))
    data.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args.records, data, args.people, args.threads,
                     [o for o in args.only.split(",") if o])
    finally:
        if args.data is None:
            shutil.rmtree(data, ignore_errors=True)
    if args.note:
        result["note"] = args.note
    result["command"] = "python benchmarks/connectors_ingest.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
