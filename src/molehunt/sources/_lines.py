"""Counting a CSV file's records independently of the CSV parser, and normalising a file.

DuckDB's CSV reader is fast but trusts the file: one unclosed quote makes the rest of a file
one record, a file mixing LF and CRLF line ends is refused whole, and its tally is what it
parsed, not what the file holds. So every CSV file is also read here, by a reader that does not
share DuckDB's state machine:

* :class:`Counter` counts the records of a well-formed file from the raw bytes (line breaks,
  empty lines, the header), fed the same chunks that are hashed, so it costs no extra read. It
  also says when the file is *not* well-formed in a way DuckDB mis-reads (a lone CR, mixed
  line ends, a quote left open at the end of a line, a truncated ``.gz``).
* :func:`normalise` then writes a copy that DuckDB reads safely: UTF-8 (from the declared
  encoding), LF line ends, each physical line on its own line number, and every line that is
  not a record (an unclosed quote, bytes not in the declared encoding, the torn tail of a
  truncated ``.gz``) quarantined and left empty in the copy, so that reading resumes on the
  next line and line numbers stay those of the original file.

A record is one physical line, except that a quoted field may hold line breaks when the quote
closes and the record so joined has the layout's number of fields (the CSV rule); otherwise
the line that opened the quote is the bad one.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import json
import re
import tempfile
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import duckdb
import orjson

from molehunt.sources._files import is_gzip, open_binary, open_utf8, utf16_encoding
from molehunt.sources._locate import BadRow
from molehunt.sources.base import Unreadable
from molehunt.sql import sql_string


class LineCounter:
    """Lines handed to :mod:`csv` one by one, counting how many it has taken: the count
    before a record is read plus one is that record's first line in the file."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.count = 0

    def __iter__(self) -> LineCounter:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1  # each item is one physical line of the file
        return line

#: A quoted field may span at most this many lines, and a record at most this many bytes,
#: before the line that opened the quote is taken for a stray quote.
MAX_RECORD_LINES = 1000
MAX_RECORD_BYTES = 4 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
_BREAK = re.compile(rb"\r\n|\n|\r")
#: Errors a damaged or truncated gzip stream raises part-way through.
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)
_BOMS = {"utf-8": codecs.BOM_UTF8, "gb18030": b"\x84\x31\x95\x33"}


@dataclass
class LineScan:
    """What the independent reader found in one file."""

    #: Data records: physical lines that are not empty, less the header, with a quoted field's
    #: continuation lines counted with the line that opened it.
    records: int = 0
    #: Why DuckDB cannot read the file as it is (None: it can).
    needs_copy: str | None = None
    #: Records this reader quarantined itself (only :func:`normalise` fills this).
    bad: list[BadRow] = field(default_factory=list)
    #: Something worth telling the operator that is not a quarantined row.
    notes: list[str] = field(default_factory=list)


def open_quote_at_end(line: bytes) -> bool:
    """Whether a line (without its break) ends inside a quoted field, by the CSV rule that a
    quote opens a field only at its start.

    The line is read as the readers of the records read it (:mod:`csv` without ``strict``,
    which keeps going past a quote closed before the end of its field): a line that breaks
    the quoting rules early and then opens a quote at its end takes the next lines into that
    field there, so it must be told apart here too.

    >>> open_quote_at_end(b'{B},01/04/2010 07:10:00,U1,PC-1,"Logon')
    True
    >>> open_quote_at_end(b'a,Lo"gon'), open_quote_at_end(b'a,"b,c",d')
    (False, False)
    >>> open_quote_at_end(b'"a,b"0,"')  # a quote closed mid-field, then one left open
    True
    """
    if b'"' not in line:
        return False
    lines = LineCounter(iter([line.decode("utf-8", "replace"), ""]))
    try:
        next(csv.reader(lines), None)
    except csv.Error:
        return False  # a field over the csv module's size limit: left to the record reader
    # the reader asks for the next line only while a quoted field is open
    return lines.count > 1


class Counter:
    """Counts a file's physical lines from its bytes, chunk by chunk, at memory speed.

    Feed every chunk of the (decompressed) file to :meth:`feed`, then call :meth:`finish`.
    The count takes every line for a record: an empty line (which holds none) or a quoted
    field's line break makes what DuckDB accounts for differ from it, and the file is then
    read again through :func:`normalise`, which counts each line for what it is. Once
    :attr:`needs_copy` is set (a lone CR, mixed line ends, a quote open at the end of a line,
    a truncated ``.gz``) the count stops: only :func:`normalise` can read such a file.

    >>> counter = Counter(has_header=True)
    >>> counter.feed(b"id,date\\n{A},x\\n{B},")
    >>> counter.feed(b"y\\n{C},z")
    >>> counter.finish()
    LineScan(records=3, needs_copy=None, bad=[], notes=[])
    """

    def __init__(self, has_header: bool) -> None:
        self._has_header = has_header
        self._lines = 0
        self._cr = 0
        self._crlf = 0
        self._last = b""
        self._quote_tail = b""  # the start of a line holding a quote, cut by the chunk's end
        self.needs_copy: str | None = None

    def feed(self, chunk: bytes) -> None:
        """Count the line breaks of ``chunk``; check the lines that hold a quote."""
        if self.needs_copy is not None or not chunk:
            return
        # only single-byte searches over the whole chunk: they run at memory speed
        self._lines += chunk.count(b"\n")
        if b"\r" in chunk:
            # CRLF throughout has as many CRs as CRLFs as LFs (a pair cut by the chunk's end
            # shows as a CR at its end and an LF at the next one's start)
            crlf = chunk.count(b"\r\n") + int(self._last == b"\r" and chunk[:1] == b"\n")
            self._cr += chunk.count(b"\r")
            self._crlf += crlf
        elif self._last == b"\r" and chunk[:1] == b"\n":
            self._crlf += 1
        if self._quote_tail or b'"' in chunk:
            self._check_quotes(chunk)
        self._last = chunk[-1:]

    def _check_quotes(self, chunk: bytes) -> None:
        data = self._quote_tail + chunk if self._quote_tail else chunk
        self._quote_tail = b""
        position = 0 if data is not chunk else data.find(b'"')
        while position != -1:
            start = data.rfind(b"\n", 0, position) + 1
            end = data.find(b"\n", position)
            if end == -1:
                self._quote_tail = data[start:]
                if len(self._quote_tail) > MAX_RECORD_BYTES:
                    self.needs_copy = "a line holding a quote is too long to check"
                return
            if open_quote_at_end(data[start:end].rstrip(b"\r")):
                self.needs_copy = "a quote is open at the end of a line"
                return
            position = data.find(b'"', end)

    def damaged(self, error: BaseException) -> None:
        """Record that the compressed stream broke off (the copy keeps what came out)."""
        self.needs_copy = f"compressed file is damaged or truncated ({error})"

    def finish(self) -> LineScan:
        """The count (or, when :attr:`needs_copy`, only the reason)."""
        if self.needs_copy is None and self._quote_tail and open_quote_at_end(
                self._quote_tail.rstrip(b"\r")):
            self.needs_copy = "a quote is open at the end of a line"
        lines = self._lines + int(bool(self._last) and self._last != b"\n")
        if self.needs_copy is None and self._cr and not self._cr == self._crlf == self._lines:
            self.needs_copy = "lone CR or mixed LF and CRLF line ends"
        if self.needs_copy is not None:
            return LineScan(needs_copy=self.needs_copy)
        return LineScan(records=lines - int(self._has_header))


def decompress_counted(path: Path, target: Path, has_header: bool) -> LineScan:
    """Decompress a ``.gz`` to ``target``, counting its records on the way with a
    :class:`Counter`; a stream that breaks off sets ``needs_copy``."""
    counter = Counter(has_header)
    with open_binary(path) as handle, open(target, "wb") as out:
        try:
            while chunk := _read_some(handle):
                counter.feed(chunk)
                out.write(chunk)
        except GZIP_ERRORS as error:
            counter.damaged(error)
    return counter.finish()


def count_lines(path: Path) -> int:
    """The physical lines of a file (decompressed), broken at LF only, as a JSONL reader
    breaks them: every one is a row or quarantined there."""
    lines = 0
    last = b""
    with open_binary(path) as handle:
        try:
            while chunk := _read_some(handle):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        except GZIP_ERRORS:
            pass  # the JSONL reader stops where the stream breaks off, too
    return lines + int(bool(last) and last != b"\n")


def _read_some(handle: BinaryIO) -> bytes:
    """The next piece of a file. ``read1`` where there is one: a buffered ``read`` of a
    truncated ``.gz`` raises and drops what it had decompressed for that call."""
    read1 = getattr(handle, "read1", None)
    if read1 is not None:
        return bytes(read1(_READ_CHUNK))
    return handle.read(_READ_CHUNK)


def declared_copy_reason(path: Path, encoding: str) -> str | None:
    """Why a file must be normalised whatever its lines hold: its encoding is not UTF-8."""
    with open_binary(path) as handle:
        try:
            head = handle.read(4)
        except GZIP_ERRORS:
            head = b""
    if utf16_encoding(head) is not None:
        return "UTF-16 text"
    if codecs.lookup(encoding).name != "utf-8":
        return f"encoding {encoding}"
    return None


def _physical_lines(handle: BinaryIO, torn: list[BaseException]
                    ) -> Iterator[tuple[bytes, bool]]:
    """(line without its break, whether a break ended it), breaking at CRLF, LF or a lone CR.

    A damaged compressed stream ends the lines where it broke; the error goes to ``torn``.
    """
    carry = b""
    while True:
        try:
            chunk = _read_some(handle)
        except GZIP_ERRORS as error:
            torn.append(error)
            chunk = b""
        if not chunk:
            break
        data = carry + chunk
        # a CR at the very end may be the first half of a CRLF
        end = len(data) - 1 if data.endswith(b"\r") else len(data)
        start = 0
        for match in _BREAK.finditer(data, 0, end):
            yield data[start:match.start()], True
            start = match.end()
        carry = data[start:]
    if carry.endswith(b"\r"):
        yield carry[:-1], True
    elif carry:
        yield carry, False


def utf8_lines(path: Path, encoding: str, torn: list[BaseException]
                ) -> Iterator[tuple[bytes, bool, str | None]]:
    """The file's lines as UTF-8 bytes, with whether each was terminated and, for a line not
    in ``encoding``, its raw text (``\\xNN`` for the bytes that are not)."""
    raw = open_binary(path)
    try:
        head = raw.read(4)
        raw.close()
        raw = open_binary(path)
        utf16 = utf16_encoding(head)
        if utf16 is not None:
            from molehunt.sources._files import _Utf8FromUtf16

            reader: BinaryIO = _Utf8FromUtf16(raw, utf16)  # type: ignore[assignment]
            codec = "utf-8"
        else:
            reader, codec = raw, codecs.lookup(encoding).name
        bom = _BOMS.get(codec, b"")
        first = True
        for line, terminated in _physical_lines(reader, torn):
            if first:
                first = False
                if line.startswith(codecs.BOM_UTF8):
                    line = line[len(codecs.BOM_UTF8):]
                elif bom and line.startswith(bom):
                    line = line[len(bom):]
            if codec == "utf-8":
                # DuckDB quarantines invalid UTF-8 itself, with the same reason as ever
                yield line, terminated, None
                continue
            try:
                yield line.decode(codec).encode("utf-8"), terminated, None
            except UnicodeDecodeError:
                yield b"", terminated, line.decode(codec, "backslashreplace")
    finally:
        raw.close()


def normalise(path: Path, target: Path, has_header: bool, n_fields: int,
              encoding: str = "utf-8") -> LineScan:
    """Write ``path`` to ``target`` as UTF-8 with LF line ends, one record per line number,
    quarantining the lines that are no record; return the count and those lines."""
    scan = LineScan()
    torn: list[BaseException] = []
    lines = utf8_lines(path, encoding, torn)
    pending: deque[tuple[bytes, bool, str | None]] = deque()
    number = 0
    #: the last record when it was written without a line break (it may be torn)
    open_tail: bytes | None = None

    def take() -> tuple[bytes, bool, str | None] | None:
        if pending:
            return pending.popleft()
        return next(lines, None)

    with open(target, "wb") as out:
        while (item := take()) is not None:
            line, terminated, undecodable = item
            number += 1
            open_tail = None
            if undecodable is not None:
                scan.records += 1
                scan.bad.append(BadRow(key="", reason=f"invalid {encoding}",
                                       detail=f"bytes that are not {encoding}", line=number,
                                       raw=undecodable))
                out.write(b"\n")
                continue
            if number == 1 and has_header:
                out.write(line + b"\n")
                continue
            if not line:
                out.write(b"\n")
                continue
            if open_quote_at_end(line):
                joined = _join_quoted(line, lines, pending, n_fields)
                if joined is None:
                    scan.records += 1
                    scan.bad.append(BadRow(
                        key="", reason="malformed quoting",
                        detail="a quote opens a field that does not close on this line",
                        line=number, raw=line.decode("utf-8", "backslashreplace")))
                    out.write(b"\n")
                    continue
                scan.records += 1
                out.write(joined + b"\n")
                number += joined.count(b"\n")
                continue
            scan.records += 1
            out.write(line + (b"\n" if terminated else b""))
            if not terminated:
                open_tail = line
        if torn:
            scan.notes.append(f"the compressed file breaks off after line {number}"
                              f" ({torn[0]}); the lines before it were read")
            if open_tail is not None:
                # the last line broke off with the stream: quarantine it, keep its number
                out.flush()
                out.truncate(out.tell() - len(open_tail))
                scan.bad.append(BadRow(
                    key="", reason="truncated compressed file",
                    detail="the compressed file breaks off in this line", line=number,
                    raw=open_tail.decode("utf-8", "backslashreplace")))
    return scan


def _join_quoted(first: bytes, lines: Iterator[tuple[bytes, bool, str | None]],
                 pending: deque[tuple[bytes, bool, str | None]], n_fields: int
                 ) -> bytes | None:
    """The record a line opening a quoted field starts, joined with the lines its field spans,
    or None when the quote never closes into a record of ``n_fields`` fields (a stray quote).

    Lines looked at are left in ``pending`` unless they became part of the record.
    """
    parts = [first]
    size = len(first)
    looked: list[tuple[bytes, bool, str | None]] = []
    while len(parts) < MAX_RECORD_LINES and size < MAX_RECORD_BYTES:
        item = pending.popleft() if pending else next(lines, None)
        if item is None or item[2] is not None:
            if item is not None:
                looked.append(item)
            break
        looked.append(item)
        parts.append(item[0])
        size += len(item[0]) + 1
        joined = b"\n".join(parts)
        try:
            rows = list(csv.reader([joined.decode("utf-8", "replace")], strict=True))
        except csv.Error as error:
            if "unexpected end of data" in str(error):
                continue  # still inside the quoted field
            break
        if len(rows) == 1 and len(rows[0]) == n_fields:
            return joined
        break
    pending.extendleft(reversed(looked))
    return None


# -- logs of JSON records ----------------------------------------------------------------------
#: How DuckDB counts the records of one top-level JSON value: an array's items, a response
#: page's ``value`` items, else the value itself.
_RECORDS_OF_VALUE = (
    "CASE json_type(json) WHEN 'ARRAY' THEN json_array_length(json)"
    " WHEN 'OBJECT' THEN CASE WHEN json_type(json, '$.value') = 'ARRAY'"
    " THEN json_array_length(json, '$.value') ELSE 1 END ELSE 1 END"
)


def count_json_records(path: Path, scratch: Path | None = None,
                       per_value: str = _RECORDS_OF_VALUE) -> int | None:
    """The records of a file of JSON values written one after another (a JSON array, NDJSON,
    arrays or response pages appended), counted by DuckDB's JSON reader, which shares
    nothing with the Python parser: an array counts its items, an object whose ``value`` is
    an array (a Microsoft Graph page) those items, any other value one. None when DuckDB
    cannot read the file (damaged JSON, bytes that are not UTF-8): then nothing but the
    parser can say where the records are. ``per_value`` is the SQL (over the column
    ``json``, one top-level value) that counts a value's records, for a layout whose
    records nest otherwise.

    The file is streamed once (the longest line bounds DuckDB's object size); a compressed
    or UTF-16 file, or one with a byte-order mark, is copied on the way as plain UTF-8 into
    ``scratch`` (DuckDB reads only that).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "a.json")
    ...     _ = path.write_text('[{"a": 1}, {"a": 2}]\\n{"value": [{}, {}, {}]}\\n{"b": 1}\\n')
    ...     count_json_records(path), count_json_records(Path(folder, "none.json"))
    (6, None)
    """
    try:
        with open_binary(path) as probe:
            head = probe.read(4)
    except (OSError, *GZIP_ERRORS):
        return None
    plain_utf8 = (not is_gzip(path) and utf16_encoding(head) is None
                  and not head.startswith(codecs.BOM_UTF8))
    with tempfile.TemporaryDirectory(prefix="count-", dir=scratch) as folder:
        target = path if plain_utf8 else Path(folder) / "records.json"
        longest = size = 0
        carry = b""
        try:
            with open_utf8(path) as handle, contextlib.ExitStack() as stack:
                out = None if plain_utf8 else stack.enter_context(open(target, "wb"))
                first = True
                while chunk := handle.read(_READ_CHUNK):
                    if first:
                        chunk, first = chunk.removeprefix(codecs.BOM_UTF8), False
                    size += len(chunk)
                    lines = (carry + chunk).split(b"\n")
                    carry = lines.pop()
                    longest = max([longest, len(carry), *map(len, lines)])
                    if out is not None:
                        out.write(chunk)
        except (OSError, *GZIP_ERRORS):
            return None
        con = duckdb.connect()
        try:
            row = con.execute(
                f"SELECT count(*), sum({per_value}) FROM read_json_objects("
                f"{sql_string(str(target))}, format='unstructured',"
                f" maximum_object_size={max(longest + 1, 1024 * 1024)})").fetchone()
        except duckdb.Error:
            return None
        finally:
            con.close()
    if row is None:
        return None
    return int(row[1] or 0)  # no value at all (only white space): no record


def count_ndjson_records(path: Path) -> int:
    """The records of NDJSON whose lines DuckDB cannot all read, counted line by line with
    Python's own ``json`` module: a blank line holds none, a line that does not parse is one
    (it is quarantined), a line holding an array or a response page its items.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "a.ndjson")
    ...     _ = path.write_bytes(b'{"a": 1}\\n\\n{broken\\n[{}, {}]\\n')
    ...     count_ndjson_records(path)
    4
    """
    count = 0
    with open_utf8(path) as handle:
        for number, line in enumerate(handle):
            if number == 0:
                line = line.removeprefix(codecs.BOM_UTF8)
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except (ValueError, RecursionError):
                count += 1
                continue
            items = value.get("value") if isinstance(value, dict) else value
            count += len(items) if isinstance(items, list) else 1
    return count


def content_lines(path: Path, *, bom_on_every_line: bool = False
                  ) -> Iterator[tuple[int, bytes, bool]]:
    """The file's lines (broken at LF) that hold anything but white space: each line's number,
    its bytes without the line end, and whether it ended in LF (only a cut last line does
    not). A UTF-8 byte order mark is dropped from the first line, or from every line where
    ``bom_on_every_line`` (readers that have always done so keep doing so).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "a.ndjson")
    ...     _ = path.write_bytes(b'\\xef\\xbb\\xbf{}\\r\\n  \\n[1]')
    ...     list(content_lines(path))
    [(1, b'{}', True), (3, b'[1]', False)]
    """
    with open_utf8(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            raw = line.rstrip(b"\r\n")
            if line_no == 1 or bom_on_every_line:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            if raw.strip():
                yield line_no, raw, line.endswith(b"\n")


@dataclass(frozen=True)
class BadJsonLine:
    """A line of NDJSON that holds no value: where it is, why, and its text (bytes that are
    not UTF-8 shown as ``\\xNN``). The reader that numbers the records makes it
    :class:`~molehunt.sources.base.Unreadable` with :meth:`unreadable`."""

    line: int
    reason: str
    detail: str
    text: str

    def unreadable(self, record: int) -> Unreadable:
        """This line as the quarantined record numbered ``record``."""
        return Unreadable(self.line, record, self.reason, self.detail, self.text)


def json_lines(path: Path, *, strict_utf8: bool = False, name_truncation: bool = True,
               bom_on_every_line: bool = False
               ) -> Iterator[tuple[int, str, object] | BadJsonLine]:
    """Each line of NDJSON that holds anything (:func:`content_lines`), parsed: its number,
    its text and its value, or a :class:`BadJsonLine` where the line does not parse.

    Where ``strict_utf8``, a line that is not UTF-8 is bad as ``invalid UTF-8`` (else it is
    left to the JSON parser, which refuses it as ``invalid JSON``). Where
    ``name_truncation``, a last line cut before its LF that does not parse is
    ``truncated last line (invalid JSON)``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "a.ndjson")
    ...     _ = path.write_bytes(b'{"a": 1}\\n\\n{"b":')
    ...     [(line if isinstance(line, tuple) else line.reason) for line in json_lines(path)]
    [(1, '{"a": 1}', {'a': 1}), 'truncated last line (invalid JSON)']
    """
    for line_no, raw, ended in content_lines(path, bom_on_every_line=bom_on_every_line):
        if strict_utf8:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield BadJsonLine(line_no, "invalid UTF-8", f"byte {error.start}: {error.reason}",
                                  raw.decode("utf-8", "backslashreplace"))
                continue
        else:
            text = raw.decode("utf-8", "backslashreplace")
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            reason = ("truncated last line (invalid JSON)" if name_truncation and not ended
                      else "invalid JSON")
            yield BadJsonLine(line_no, reason, str(error), text)
            continue
        yield line_no, text, value
