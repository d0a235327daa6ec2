"""Opening input files: plain or gzip-compressed, recognised by content, not by name."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import BinaryIO

_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """Whether a file is gzip-compressed (by its first two bytes)."""
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


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
