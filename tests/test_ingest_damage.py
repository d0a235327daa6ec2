"""Issue 20: files with random damage (stray quotes, mixed line ends, truncation, stray bytes,
torn ``.gz``) are accounted for line by line, against a count made here, not by the parser.

The count here is the simplest one there is: the physical lines that hold anything, broken at
CRLF, LF or a lone CR. It equals the records of the file because the damage adds at most one
quote (a lone quote can never close into a quoted field that spans lines).
"""

from __future__ import annotations

import gzip
import re
import tempfile
import zlib
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import events, ingest_cert, quarantine
from molehunt.store.workspace import Workspace

_BREAK = re.compile(rb"\r\n|\r|\n")

_LOGON_HEADER = b"id,date,user,pc,activity"
_ACTIVITIES = ("Logon", "Logoff")


@st.composite
def _rows(draw: st.DrawFn, headerless: bool) -> list[bytes]:
    count = draw(st.integers(1, 40))
    rows = []
    for i in range(count):
        day = draw(st.integers(1, 28))
        user = draw(st.sampled_from(["U1", "U2", "", "U3"]))
        if headerless:  # CERT r4 http.csv: no header line
            rows.append(f"{{H{i}}},01/{day:02d}/2010 09:00:00,{user},PC-1,"
                        f"http://s{i}.example/p,words here".encode())
        else:
            rows.append(f"{{L{i}}},01/{day:02d}/2010 08:00:00,{user},PC-1,"
                        f"{draw(st.sampled_from(_ACTIVITIES))}".encode())
    if headerless:
        rows[0] = rows[0].replace(b",,", b",U1,")  # the first row must be recognisable
    return rows


_stray = st.binary(min_size=1, max_size=4).filter(lambda b: b'"' not in b)


@st.composite
def _damaged(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """(file name, the file's bytes, whether it is gzip-compressed)."""
    headerless = draw(st.booleans())
    rows = _rows(headerless)
    lines = draw(rows)
    lines = ([_LOGON_HEADER] if not headerless else []) + lines
    if len(lines) > 1:
        # the first line (header, or the row that shows the layout) stays whole
        for damage in [draw(_stray) for _ in range(draw(st.integers(0, 3)))] + (
                [b'"'] if draw(st.booleans()) else []):  # stray bytes, at most one quote
            index = draw(st.integers(1, len(lines) - 1))
            at = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:at] + damage + lines[index][at:]
    end = st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n"])
    if draw(st.booleans()):  # one kind of line end throughout (DuckDB reads the file itself)
        ends = [draw(end)] * len(lines)
    else:
        ends = draw(st.lists(end, min_size=len(lines), max_size=len(lines)))
    data = b"".join(line + end for line, end in zip(lines, ends, strict=True))
    if draw(st.booleans()):  # truncated: cut somewhere after the first line
        keep = len(lines[0]) + len(ends[0])
        data = data[:draw(st.integers(keep, len(data)))]
    packed = draw(st.booleans())
    if packed:
        blob = gzip.compress(data, mtime=0)
        if draw(st.booleans()):  # a torn download: the end of the stream is missing
            blob = blob[:draw(st.integers(20, len(blob) - 1))]
        data = blob
    name = ("http.csv" if headerless else "logon.csv") + (".gz" if packed else "")
    return name, data, packed


def _independent_count(data: bytes, packed: bool, has_header: bool) -> int:
    """Lines holding anything, of the bytes the file decompresses to (as far as it does)."""
    if packed:
        data = zlib.decompressobj(wbits=31).decompress(data)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = [line for line in _BREAK.split(data) if line]
    return len(lines) - int(has_header)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_damaged())
def test_damaged_files_are_accounted_for_line_by_line(case: tuple[str, bytes, bool]) -> None:
    name, data, packed = case
    has_header = name.startswith("logon")
    if packed:  # the first line must come out whole for the layout to be recognised
        assume(_BREAK.search(zlib.decompressobj(wbits=31).decompress(data)) is not None)
    expected = _independent_count(data, packed, has_header)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        (folder / name).write_bytes(data)
        workspace = Workspace(Path(tmp) / "ws")
        summary = ingest_cert(workspace, folder)
        if expected <= 0 and not summary.files:
            return  # nothing but a header (or nothing) came out: an empty file is a note
        (result,) = summary.files
        assert result.status == "ingested", result.note
        stored = len(events(workspace))
        held = quarantine(workspace)
        assert result.rows_read == expected
        assert stored + result.rows_duplicate + len(held) == expected
        lines = [r["line"] for r in held]
        assert None not in lines and len(lines) == len(set(lines))
