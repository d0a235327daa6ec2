"""One simulated day's events before they are written, in a form scenarios can edit.

Rows are short lists (fast to make by the million) whose positions are named below. Every row
ends with an optional :class:`Label`, set on the events a scenario produced or altered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Label:
    """Ground truth of one event: which scenario instance, whose scenario, which part."""

    scenario: str  # e.g. "C2"
    instance: str  # e.g. "C2-1"
    insider: str  # user id of the insider the scenario is about
    role: str  # e.g. "insider", "hub", "accomplice", "masquerade"


@dataclass
class Session:
    """When a person works on a day (seconds since midnight); ``None`` fields: not at all."""

    start: int
    end: int
    #: a second stretch of work: an evening session, or a night one (an incident, a call)
    evening: tuple[int, int] | None = None
    travelling: bool = False

    def spans(self) -> list[tuple[int, int]]:
        """The intervals of activity of the day."""
        return [(self.start, self.end)] + ([self.evening] if self.evening else [])


# positions in the row lists
SEC, USER, PC = 0, 1, 2
# logon: [sec, user, pc, activity, label]
LOGON_ACTIVITY, LOGON_LABEL = 3, 4
# device: [sec, user, pc, activity, file_tree, label]
DEVICE_ACTIVITY, DEVICE_TREE, DEVICE_LABEL = 3, 4, 5
# file: [sec, user, pc, path, activity, to_media, from_media, content, label, document]
FILE_PATH, FILE_ACTIVITY, FILE_TO_MEDIA, FILE_FROM_MEDIA, FILE_CONTENT, FILE_LABEL, FILE_DOC = (
    3, 4, 5, 6, 7, 8, 9)
# email: [sec, user, pc, to, cc, bcc, from, activity, size, attachments, content, label, docs]
EMAIL_TO, EMAIL_CC, EMAIL_BCC, EMAIL_FROM, EMAIL_ACTIVITY, EMAIL_SIZE = 3, 4, 5, 6, 7, 8
EMAIL_ATTACHMENTS, EMAIL_CONTENT, EMAIL_LABEL, EMAIL_DOCS = 9, 10, 11, 12
# http: [sec, user, pc, url, activity, content, label, domain] and, on an upload of a file,
# [..., document]: what a log that sees the bytes sent (a proxy) or the file (Endpoint DLP) needs
HTTP_URL, HTTP_ACTIVITY, HTTP_CONTENT, HTTP_LABEL, HTTP_DOMAIN, HTTP_DOC = 3, 4, 5, 6, 7, 8
# other events (print, meeting), JSON-ready: [sec, user, record, label]
OTHER_RECORD, OTHER_LABEL = 2, 3


@dataclass
class DayBuffer:
    """Everything that happens on one day, grouped by the file it will be written to."""

    day: int
    logon: list[list[Any]] = field(default_factory=list)
    device: list[list[Any]] = field(default_factory=list)
    file: list[list[Any]] = field(default_factory=list)
    email: list[list[Any]] = field(default_factory=list)
    http: list[list[Any]] = field(default_factory=list)
    other: list[list[Any]] = field(default_factory=list)
    hr: list[dict[str, Any]] = field(default_factory=list)
    sessions: dict[int, Session] = field(default_factory=dict)
    #: person index → rows of that person's e-mail written by the background today
    email_by_person: dict[int, list[list[Any]]] = field(default_factory=dict)
    file_by_person: dict[int, list[list[Any]]] = field(default_factory=dict)
