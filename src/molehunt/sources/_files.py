"""Opening input files: plain or gzip-compressed, recognised by content, not by name."""

from __future__ import annotations

import gzip
import zlib
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
