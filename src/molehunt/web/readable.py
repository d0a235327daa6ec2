"""What pages use to show values readably: times, numbers, byte counts, list links.

Pages showed raw ISO timestamps (``2024-01-28T10:02:00.123456``), floats with 16 decimals and
``None`` in empty cells. These filters make every page show the same forms: a time to the minute
in UTC, numbers rounded with thousands separators, sizes in kB/MB/GB, and an empty string for
an empty value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi.templating import Jinja2Templates


def when(value: Any) -> str:
    """A time (or an ISO text of one) to the minute, a day as it is; empty for nothing.

    >>> when("2024-01-28T10:02:33.123456")
    '2024-01-28 10:02'
    >>> when(dt.date(2024, 1, 28)), when(None), when("")
    ('2024-01-28', '', '')
    >>> when("not a time")
    'not a time'
    """
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if len(text) <= 10:  # a day alone
        return parsed.date().isoformat()
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%d %H:%M")


def number(value: Any, digits: int = 2) -> str:
    """A number rounded to ``digits`` decimals (trailing zeros dropped), with thousands
    separators; text as it is; empty for nothing.

    >>> number(0.1 + 0.2), number(1234567), number(3.0), number(None), number("n/a")
    ('0.3', '1,234,567', '3', '', 'n/a')
    """
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    shown = f"{value:,.{digits}f}"
    return shown.rstrip("0").rstrip(".") if "." in shown else shown


def size(value: Any) -> str:
    """A byte count as B, kB, MB, GB or TB (decimal units); empty for nothing.

    >>> size(0), size(1536), size(25_000_000), size(None)
    ('0 B', '1.5 kB', '25 MB', '')
    """
    if value is None or value == "":
        return ""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return str(value)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(amount) < 1000:
            return f"{number(round(amount, 1), 1)} {unit}"
        amount /= 1000
    return f"{number(round(amount, 1), 1)} TB"


def list_link(current: Mapping[str, Any], **changes: Any) -> str:
    """The query string of a list page with some parameters changed (empty ones left out).

    >>> list_link({"q": "eng", "page": 3, "band": None}, page=4)
    '?q=eng&page=4'
    >>> list_link({"sort": "risk", "page": 2}, sort="person", page=None)
    '?sort=person'
    """
    merged = {**current, **changes}
    return "?" + urlencode([(k, v) for k, v in merged.items() if v not in (None, "")])


def details(value: Any) -> str:
    """An audit entry's details as ``key: value`` pairs, times and numbers readable.

    >>> details({"expires_at": "2026-12-12T14:58:01", "ids": [1, 2], "note": None, "w": 0.125})
    'expires_at: 2026-12-12 14:58; ids: 1, 2; note: ; w: 0.12'
    >>> details({}), details(None), details("text")
    ('', '', 'text')
    """
    if not value:
        return ""
    if not isinstance(value, Mapping):
        return str(value)

    def shown(item: Any) -> str:
        if isinstance(item, Mapping):
            return "{" + details(item) + "}"
        if isinstance(item, list | tuple):
            return ", ".join(shown(x) for x in item)
        if isinstance(item, float):
            return number(item)
        return when(item) if isinstance(item, str) else ("" if item is None else str(item))

    return "; ".join(f"{key}: {shown(item)}" for key, item in value.items())


def register(templates: Jinja2Templates) -> None:
    """Make the filters and :func:`list_link` available to every template, and render an
    empty value (``None``) as an empty cell rather than the word "None", on every page."""
    templates.env.filters.update(when=when, number=number, size=size, details=details)
    previous = templates.env.finalize

    def finalize(value: Any) -> Any:
        if value is None:
            return ""
        return previous(value) if previous is not None else value

    templates.env.finalize = finalize
    templates.env.globals["list_link"] = list_link
