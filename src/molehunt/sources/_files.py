"""Opening input files: plain or gzip-compressed, recognised by content, not by name."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """Whether a file is gzip-compressed: it starts like gzip *and* its start decompresses.

    The magic bytes alone are not enough: a text file can begin with them.
    """
    with open(path, "rb") as handle:
        if handle.read(2) != _GZIP_MAGIC:
            return False
    try:
        with gzip.open(path, "rb") as packed:
            packed.read(1)
    except (OSError, EOFError, zlib.error):
        return False
    return True


def open_binary(path: Path) -> BinaryIO:
    """The file's (decompressed) bytes."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def base_name(path: Path) -> str:
    """The file name without compression and format suffixes.

    >>> base_name(Path("/x/LDAP/2010-05.csv.gz"))
    '2010-05'
    """
    name = path.name
    for suffix in (".gz", ".csv", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name


def utf16_encoding(head: bytes) -> str | None:
    """The UTF-16 codec a file starting with ``head`` is written in, or None (UTF-8).

    Windows PowerShell 5 writes UTF-16 ("Unicode") with ``>``, ``Out-File`` and
    ``Export-Csv -Encoding Unicode``; a byte-order mark says so, and a start whose every other
    byte is NUL (ASCII text in UTF-16 without a mark) says it too.

    >>> utf16_encoding('{"a"'.encode("utf-16")), utf16_encoding(b'{"a"')
    ('utf-16', None)
    >>> utf16_encoding('{"a"'.encode("utf-16-le"))
    'utf-16-le'
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if len(head) >= 4 and head[1] == head[3] == 0 and head[0] and head[2]:
        return "utf-16-le"
    if len(head) >= 4 and head[0] == head[2] == 0 and head[1] and head[3]:
        return "utf-16-be"
    return None


def decode_head(head: bytes) -> str:
    """The start of a file as text (UTF-8, or UTF-16 when it is that), for recognising it."""
    encoding = utf16_encoding(head)
    if encoding is not None:
        # the head may end between the two bytes of a character
        return head[:len(head) - len(head) % 2].decode(encoding, "replace")
    return head.decode("utf-8", "replace")


class _Utf8FromUtf16:
    """A UTF-16 file read as the UTF-8 bytes the readers of UTF-8 files expect.

    Lines end at ``\\n`` only, as a binary file's do; bytes that are not UTF-16 come out as
    bytes that are not UTF-8, so the reader quarantines their record instead of guessing.
    """

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self._text = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape",
                                      newline="\n")

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` characters (all when negative), as UTF-8."""
        return self._text.read(size).encode("utf-8", "surrogateescape")

    def __iter__(self) -> Iterator[bytes]:
        return (line.encode("utf-8", "surrogateescape") for line in self._text)

    def close(self) -> None:
        """Close the file."""
        self._text.close()


@contextmanager
def open_utf8(path: Path) -> Iterator[BinaryIO | _Utf8FromUtf16]:
    """The file's (decompressed) bytes as UTF-8, whether it is UTF-8 or UTF-16."""
    with open_binary(path) as probe:
        encoding = utf16_encoding(probe.read(4))
    handle = open_binary(path)
    reader: BinaryIO | _Utf8FromUtf16 = (handle if encoding is None
                                         else _Utf8FromUtf16(handle, encoding))
    try:
        yield reader
    finally:
        reader.close()
