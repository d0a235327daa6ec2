"""One error hierarchy for the whole package.

Every error says *where* (a file and line, a field, a setting) so that the CLI can print one
clear line. Bad input *rows* are never errors: they are quarantined (see
:mod:`molehunt.schema.quarantine`). Errors are for problems that stop a whole step.
"""

from __future__ import annotations

import errno
import re


class MolehuntError(Exception):
    """Base of every error molehunt raises on purpose.

    >>> str(MolehuntError("no such file", where="/data/logon.csv"))
    '/data/logon.csv: no such file'
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ConfigError(MolehuntError):
    """A setting is missing, malformed or contradicts another one."""


class SourceError(MolehuntError):
    """An input file cannot be read at all: missing, unreadable, or of an unknown layout."""


class SchemaError(MolehuntError):
    """A table does not have the columns or types its schema requires."""


class StoreError(MolehuntError):
    """The workspace or event store is unusable (locked, corrupt, wrong version)."""


class DetectorError(MolehuntError):
    """A detector was configured wrongly or lacks the tables it requires."""


class PullError(MolehuntError):
    """Collecting logs from a service's API failed: credentials, permissions, the service's
    limits or the network (``molehunt pull``)."""


class ContentError(MolehuntError):
    """A document cannot be read or classified, or the protected corpus is unusable."""


#: errno → how a failed write or read is named on the one error line.
_OS_ERRORS: dict[int, str] = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
#: The same conditions as engines word them when they carry no errno (DuckDB, SQLite, Arrow).
_OS_MESSAGES: tuple[tuple[str, int], ...] = (
    ("no space left on device", errno.ENOSPC),
    ("database or disk is full", errno.ENOSPC),
    ("disk quota exceeded", errno.EDQUOT),
    ("read-only file system", errno.EROFS),
    ("readonly database", errno.EROFS),
    ("permission denied", errno.EACCES),
    ("operation not permitted", errno.EPERM),
)
_QUOTED_PATH = re.compile(r"""["'](/[^"']+)["']""")


def describe_os_error(error: BaseException) -> str | None:
    """One line for a full disk, a read-only file system or a refused permission anywhere in
    ``error``'s chain (an :class:`OSError` by its errno, else an engine's message), naming
    the path when known; None for anything else.

    >>> import errno
    >>> describe_os_error(OSError(errno.ENOSPC, "No space left on device", "/ws/events/x"))
    'no space left on device while writing /ws/events/x'
    >>> describe_os_error(PermissionError(errno.EACCES, "Permission denied", "/ws/.lock"))
    'permission denied on /ws/.lock'
    >>> describe_os_error(RuntimeError('IO Error: Could not write file "/ws/a.parquet":'
    ...                                ' No space left on device'))
    'no space left on device while writing /ws/a.parquet'
    >>> describe_os_error(ValueError("bad")) is None
    True
    """
    seen: set[int] = set()
    current: BaseException | None = error
    chain: list[BaseException] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    for link in chain:  # an errno is the surest sign
        if isinstance(link, OSError) and link.errno in _OS_ERRORS:
            path = link.filename if isinstance(link.filename, str) else None
            return _os_line(link.errno, path)
    for link in chain:
        text = str(link).lower()
        for words, code in _OS_MESSAGES:
            if words in text:
                found = _QUOTED_PATH.search(str(link))
                return _os_line(code, found.group(1) if found else None)
    return None


def _os_line(code: int, path: str | None) -> str:
    what = _OS_ERRORS[code]
    if path is None:
        return what
    if code in (errno.EACCES, errno.EPERM):
        return f"{what} on {path}"
    return f"{what} while writing {path}"
