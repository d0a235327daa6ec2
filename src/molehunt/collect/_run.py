"""What every pull shares: the range a run covers, and what it reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from molehunt.collect._state import Stream, utc_text
from molehunt.errors import PullError

#: Progress of long work: (description, fraction done or None), as the CLI's bars take it.
ProgressFn = Callable[[str, float | None], None]
#: One line of output (what was pulled, what is waited for).
ReportFn = Callable[[str], None]


def utc_now() -> dt.datetime:
    """Now, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def no_progress(description: str, fraction: float | None) -> None:
    """Progress that goes nowhere."""


def no_report(line: str) -> None:
    """Output that goes nowhere."""


@dataclass
class StreamResult:
    """What one run did for one stream (a content type or an application)."""

    name: str
    #: The range the run covered (None: nothing to do).
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    windows: int = 0
    #: Content blobs or response pages fetched, and the records (audit records or
    #: activities) they held.
    fetched: int = 0
    records: int = 0
    #: Blobs listed again in the overlap that an earlier run had fetched.
    already: int = 0
    #: Blobs listed but expired before they could be fetched (lost; said in a note).
    expired: int = 0
    files: list[Path] = field(default_factory=list)
    done_until: dt.datetime | None = None


@dataclass
class PullResult:
    """What one ``molehunt pull`` did."""

    service: str
    folder: Path
    streams: list[StreamResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Records written in all streams."""
        return sum(s.records for s in self.streams)

    @property
    def files(self) -> list[Path]:
        """Raw files written in all streams."""
        return [f for s in self.streams for f in s.files]


def plan(stream: Stream, name: str, start: dt.datetime | None, end: dt.datetime | None,
         now: dt.datetime, *, earliest: dt.datetime, latest: dt.datetime, rewind: dt.timedelta,
         initial: dt.timedelta, keeps: str, notes: list[str]
         ) -> tuple[dt.datetime, dt.datetime]:
    """The range ``[start, end)`` a run covers for one stream.

    ``--from``/``--to`` (``start``/``end``) win; else the run goes on where the checkpoint
    ends (``rewind`` earlier, the overlap listed again), or goes ``initial`` back on a first
    run, up to ``latest``. A start before ``earliest`` (what the service still keeps,
    ``keeps`` in words) is refused: the gap can no longer be pulled, and a pull that skipped
    it silently would leave a hole nobody sees.

    >>> t = lambda d: dt.datetime(2024, 3, d, tzinfo=dt.UTC)
    >>> s, e = plan(Stream(done_until=t(6)), "x", None, None, t(8), earliest=t(1),
    ...             latest=t(8), rewind=dt.timedelta(hours=1), initial=dt.timedelta(days=7),
    ...             keeps="7 days", notes=[])
    >>> utc_text(s), utc_text(e)
    ('2024-03-05T23:00:00Z', '2024-03-08T00:00:00Z')
    """
    finish = min(end, latest) if end is not None else latest
    if end is not None and end > latest:
        notes.append(f"{name}: --to {utc_text(end)} is later than the service has data for;"
                     f" pulled up to {utc_text(latest)}")
    if start is not None:
        if start < earliest:
            raise PullError(f"{name}: --from {utc_text(start)} is before the {keeps} the"
                            f" service keeps (earliest {utc_text(earliest)})")
        if stream.done_until is not None and start > stream.done_until:
            notes.append(f"{name}: --from {utc_text(start)} leaves {utc_text(stream.done_until)}"
                         f" to {utc_text(start)} unpulled; the checkpoint stays at"
                         f" {utc_text(stream.done_until)}, so a run without --from pulls it")
        return start, finish
    if stream.done_until is None:
        return max(now - initial, earliest), finish
    if stream.done_until < earliest:
        raise PullError(f"{name}: the last pull ended at {utc_text(stream.done_until)}, before"
                        f" the {keeps} the service keeps: what lies between can no longer be"
                        f" pulled (take it from an export if there is one), then run with"
                        f" --from {utc_text(earliest + dt.timedelta(minutes=5))} to go on")
    return max(stream.done_until - rewind, earliest), finish


def advance(stream: Stream, window_start: dt.datetime, window_end: dt.datetime) -> None:
    """Move the checkpoint past a window that is now in the folder, unless a gap lies
    between them (a ``--from`` after the checkpoint: that gap is still to be pulled)."""
    if stream.done_until is None or window_start <= stream.done_until:
        stream.done_until = max(stream.done_until or window_end, window_end)
