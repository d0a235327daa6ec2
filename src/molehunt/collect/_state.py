"""What a pull leaves in its folder: raw files written whole, a checkpoint, a lock.

The order of writes is what makes a pull safe to interrupt: a window's raw file is written
under a temporary name, flushed to disk and renamed into place, and only then does the
checkpoint (itself replaced atomically) say the window is done. A crash between the two
leaves a complete raw file and a checkpoint that does not know it: the next run fetches the
window again, and ``molehunt ingest`` stores each record once (its duplicate detection by
event id absorbs the repeat). Nothing is ever skipped. The temporary names end in
``.partial`` and the checkpoint in ``.state``: ``ingest`` never reads either, even while a
pull is writing into the folder it reads.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from molehunt.errors import PullError

CHECKPOINT_FORMAT = 1


def utc_text(when: dt.datetime) -> str:
    """An aware time as RFC 3339 UTC with a ``Z``.

    >>> utc_text(dt.datetime(2024, 3, 5, 1, 2, 3, tzinfo=dt.UTC))
    '2024-03-05T01:02:03Z'
    """
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> dt.datetime:
    """A time as written on the command line or in a checkpoint: ``YYYY-MM-DD``,
    ``YYYY-MM-DDTHH:MM[:SS]`` (UTC unless an offset is given) → an aware UTC time.

    >>> parse_utc("2024-03-05"), parse_utc("2024-03-05T10:30+01:00")
    (datetime.datetime(2024, 3, 5, 0, 0, tzinfo=datetime.timezone.utc), \
datetime.datetime(2024, 3, 5, 9, 30, tzinfo=datetime.timezone.utc))
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    when = dt.datetime.fromisoformat(value)  # ValueError says what is wrong
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def windows(start: dt.datetime, end: dt.datetime, hours: int
            ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """``[start, end)`` cut at every multiple of ``hours`` since midnight UTC, so that a
    window's file never spans two days and runs cut windows at the same places.

    >>> t = lambda h, m=0: dt.datetime(2024, 3, 5, h, m, tzinfo=dt.UTC)
    >>> [(a.hour, a.minute, b.hour) for a, b in windows(t(5, 30), t(13), 6)]
    [(5, 30, 6), (6, 0, 12), (12, 0, 13)]
    """
    step = dt.timedelta(hours=hours)
    current = start
    while current < end:
        midnight = current.replace(hour=0, minute=0, second=0, microsecond=0)
        boundary = midnight + step * ((current - midnight) // step + 1)
        following = min(boundary, end)
        yield current, following
        current = following


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (the folder's entry is data too)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class WindowFile:
    """The raw file of one window: lines appended to ``<name>.partial``, which
    :meth:`commit` makes durable and renames to ``<name>``; a window that brought nothing
    leaves no file (an empty file is not a log the connectors could recognise)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.lines = 0
        self._handle: IO[bytes] | None = None

    def write_line(self, data: bytes) -> None:
        """Append one line (``data`` must hold no line break)."""
        if self._handle is None:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.partial.open("wb")
        self._handle.write(data)
        self._handle.write(b"\n")
        self.lines += 1

    def commit(self) -> Path | None:
        """Make the file durable under its name (or, when a file of that name is there
        already, the first free ``<stem>-2.json``, ``-3``, ...); its path, or None when
        nothing was written.

        A file is never replaced: a window pulled again (``--from`` over a span already in
        the folder, or after a crash before the checkpoint) may leave out blobs fetched
        before, and replacing the earlier file would lose them from the folder.
        """
        if self._handle is None:
            return None
        handle, self._handle = self._handle, None
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        # the folder lock keeps other pulls out between the check and the rename
        target, number = self.path, 1
        while target.exists():
            number += 1
            target = self.path.with_name(f"{self.path.stem}-{number}{self.path.suffix}")
        os.replace(self.partial, target)
        fsync_folder(target.parent)
        return target

    def discard(self) -> None:
        """Drop what was written (the window is fetched again next time)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self.partial.unlink(missing_ok=True)

    def __enter__(self) -> WindowFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.discard()


@dataclass
class Stream:
    """Progress of one content type or application."""

    #: Everything before this is in the folder (None: nothing pulled yet).
    done_until: dt.datetime | None = None
    #: Content blobs already fetched (id → when the service made it available), kept for the
    #: overlap a run lists again (Microsoft 365 only).
    seen: dict[str, str] = field(default_factory=dict)


class Checkpoint:
    """``<folder>/.molehunt-pull-<service>.state``: per stream, how far the folder goes.

    It also names the account (tenant, API) it belongs to, so that pulling another tenant
    into the same folder is refused instead of taking this tenant's progress for its own.
    """

    def __init__(self, path: Path, service: str, account: dict[str, str]) -> None:
        self.path, self.service, self.account = path, service, account
        self.streams: dict[str, Stream] = {}

    @classmethod
    def load(cls, folder: Path, service: str, account: dict[str, str]) -> Checkpoint:
        """The folder's checkpoint (an empty one when there is none yet)."""
        checkpoint = cls(folder / f".molehunt-pull-{service}.state", service, account)
        try:
            data = orjson.loads(checkpoint.path.read_bytes())
        except FileNotFoundError:
            return checkpoint
        except (OSError, orjson.JSONDecodeError) as error:
            raise PullError(f"cannot read the checkpoint ({error}); move it away and run the"
                            " pull with --from to say where to start",
                            where=str(checkpoint.path)) from None
        try:
            if data["format"] != CHECKPOINT_FORMAT or data["service"] != service:
                raise ValueError("another format or service")
            theirs = {str(k): str(v) for k, v in data["account"].items()}
            for name, stream in data["streams"].items():
                until = stream.get("done_until")
                checkpoint.streams[str(name)] = Stream(
                    done_until=parse_utc(until) if until else None,
                    seen={str(k): str(v) for k, v in (stream.get("seen") or {}).items()})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PullError(f"not a {service} pull checkpoint this version can read ({error});"
                            " move it away and run the pull with --from to say where to"
                            " start", where=str(checkpoint.path)) from None
        # a value one side leaves empty (a customer id first left to the API) is no conflict
        differs = ", ".join(f"{k} {theirs[k]!r} here, {v!r} configured"
                            for k, v in account.items() if theirs.get(k) and v
                            and theirs[k] != v)
        if differs:
            raise PullError(f"this folder holds the pull of another account ({differs}): pull"
                            " each account into a folder of its own", where=str(folder))
        checkpoint.account = {k: v or theirs.get(k, "") for k, v in account.items()}
        return checkpoint

    def stream(self, name: str) -> Stream:
        """The progress of one stream (created empty)."""
        return self.streams.setdefault(name, Stream())

    def save(self) -> None:
        """Replace the checkpoint atomically and durably."""
        data: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT, "service": self.service, "account": self.account,
            "streams": {name: {"done_until": utc_text(s.done_until) if s.done_until else None,
                               "seen": dict(sorted(s.seen.items()))}
                        for name, s in sorted(self.streams.items())},
        }
        temporary = self.path.with_name(self.path.name + ".partial")
        with temporary.open("wb") as handle:
            handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        fsync_folder(self.path.parent)


@contextmanager
def folder_lock(folder: Path, service: str) -> Iterator[None]:
    """Hold ``<folder>/.molehunt-pull-<service>.lock``: two pulls of one service into one
    folder would write the same windows and checkpoint."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / f".molehunt-pull-{service}.lock").open("w")
    except OSError as error:
        raise PullError(f"cannot write in the folder: {error.strerror or error}",
                        where=str(folder)) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PullError(f"another molehunt pull {service} is writing this folder",
                            where=str(folder)) from None
        yield
    finally:
        handle.close()


def one_line(body: bytes) -> bytes:
    """A JSON body on one line, value for value the same: outside strings a line break is
    only white space, and inside them JSON has it escaped, so each becomes a space.

    >>> one_line(b'[\\n  {"a": "x\\\\ny"}\\r\\n]')
    b'[   {"a": "x\\\\ny"}  ]'
    """
    return body.replace(b"\r", b" ").replace(b"\n", b" ")
