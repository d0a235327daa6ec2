"""What of an event's free text the console shows by default.

Pseudonymisation replaces the names the directory knows; free text holds what no directory
lists (a colleague's illness in a mail body, a search in a URL's query, a customer's name in a
source-specific attribute). So the console shows only fields known to be safe: the event's
kind, channel, domain, sizes and times, the object without its query string, numbers and
yes/no values among the attributes and a short list of attribute names that carry codes,
not prose. The rest is withheld and its size said; an investigator reads it through an
audited request naming the reason (:meth:`molehunt.cases.service.ConsoleService.event_text`).
"""

from __future__ import annotations

import json
from typing import Any

#: Attribute names whose text values are codes or outcomes, not prose.
SAFE_ATTRIBUTES = frozenset({
    "to_removable_media", "from_removable_media", "logon_type", "operation", "workload",
    "record_type", "result", "outcome", "status", "status_code", "method", "category",
    "event_code", "event_id", "severity", "activity", "protocol", "direction", "app",
    "client_app", "device_type", "kind", "type",
})

#: Event columns of free text (besides ``attrs``, which is filtered key by key).
WITHHELD_COLUMNS = ("content",)


def safe_object(value: Any) -> tuple[Any, bool]:
    """The object without a URL's query string and fragment; whether something was withheld.

    >>> safe_object("https://drive.example/upload?name=Ann%20Moss%20CV.pdf#top")
    ('https://drive.example/upload?…', True)
    >>> safe_object("/home/H-1/plan.docx")
    ('/home/H-1/plan.docx', False)
    """
    if not isinstance(value, str) or "://" not in value:
        return value, False
    for mark in ("?", "#"):
        cut = value.find(mark)
        if cut >= 0:
            return value[:cut] + "?…", True
    return value, False


def safe_attributes(value: Any) -> tuple[Any, int]:
    """Attributes (a JSON object or its text) keeping numbers, yes/no values and the values
    of :data:`SAFE_ATTRIBUTES`; how many values were withheld.

    >>> safe_attributes('{"operation": "FileDownloaded", "subject": "Ann is ill", "size": 3}')
    ({'operation': 'FileDownloaded', 'size': 3}, 1)
    >>> safe_attributes(None)
    (None, 0)
    """
    if value is None or value == "":
        return value, 0
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None, 1
    if not isinstance(parsed, dict):
        return None, 1
    kept: dict[str, Any] = {}
    withheld = 0
    for key, item in parsed.items():
        if item is None or isinstance(item, bool | int | float) or (
                key.lower() in SAFE_ATTRIBUTES and isinstance(item, str) and len(item) <= 64):
            kept[key] = item
        else:
            withheld += 1
    return kept, withheld


def apply_policy(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with its free text withheld: ``withheld`` lists what, with sizes.

    >>> shown = apply_policy({"action": "email_send", "content": "Ann is ill", "attrs": None})
    >>> shown["content"], shown["withheld"]
    (None, {'content': 10})
    """
    shown = dict(event)
    withheld: dict[str, int] = {}
    for column in WITHHELD_COLUMNS:
        text = shown.get(column)
        if text:
            withheld[column] = len(str(text))
            shown[column] = None
    shown["object"], cut = safe_object(shown.get("object"))
    if cut:
        withheld["object_query"] = 1
    if "attrs" in shown:
        shown["attrs"], count = safe_attributes(shown["attrs"])
        if count:
            withheld["attrs"] = count
    shown["withheld"] = withheld
    return shown
