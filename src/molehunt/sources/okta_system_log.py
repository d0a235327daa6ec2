"""Okta System Log: sign-ins and app access, one layout (``okta.system_log``).

Okta keeps every event of an organisation as a ``LogEvent`` (Okta developer documentation,
"System Log API": ``uuid``, ``published``, ``eventType``, ``displayMessage``, ``severity``,
``actor`` {``id``, ``type``, ``alternateId``, ``displayName``}, ``client`` {``ipAddress``,
``userAgent``, ``device``, ``zone``, ``geographicalContext``}, ``outcome`` {``result``,
``reason``}, ``target[]``, ``authenticationContext``, ``transaction``, ``debugContext``).
Shapes, told apart by the file's first characters:

* **API pages**: ``GET /api/v1/logs`` answers a JSON array of LogEvents; pages saved one
  after another (``curl ... >> okta.json``) are arrays written back to back, and read so.
* **NDJSON**: one LogEvent per line, as log shippers and ``jq -c '.[]'`` write them.
* **Event hook deliveries** saved as they arrived: ``{"eventType": "com.okta.event_hook",
  ..., "data": {"events": [...]}}``, one per file or one per line; their events are read.

Field names are read in any case: copies of the System Log kept in a data lake or SIEM
(Panther, Athena/Glue, Snowflake) lower-case them (``eventtype``, ``alternateid``,
``displayname``), as the Microsoft 365 layout already allows (both look fields up through
:func:`~molehunt.sources._keys.lower_keys`).

Mapping (``eventType`` → store):

* ``user.session.start`` → ``cloud_sign_in`` (a sign-in to the identity provider, as the
  Microsoft 365 layout has Entra sign-ins: not ``logon``, which is a person at a computer);
  ``attrs.outcome`` keeps SUCCESS or FAILURE and ``attrs.reason`` why.
  ``user.session.end`` → ``cloud_sign_out``.
* ``user.authentication.sso`` (single sign-on into an app) and
  ``user.session.access_admin_app`` (the Okta admin console) → ``app_access``: ``object`` is
  the app's display name, ``target`` its instance id, ``attrs.app`` its name.
* Every other event type (MFA steps, policy evaluations, admin changes, ...) is skipped with
  its type as the reason (``event <type> not read``), counted in the file's result.

Who. ``actor.alternateId`` (the Okta login, usually the work e-mail address) lower-cased is
the user id, so that the same person has the same id here as in the Microsoft 365 and
Zscaler logs. As for those (see :mod:`molehunt.sources.m365_audit`), mapping a login to the
directory's ``user_id`` belongs at read time in the store, not at ingest. An actor that is
not a ``User`` (Okta itself as ``SystemPrincipal``, API clients, apps) is skipped with a
reason: never a person.

What it can and cannot see. Sign-ins to Okta and the apps it signs people into, from where
(address, country, device) and whether they succeeded. Not what anyone did in those apps,
nor sign-ins to computers. The observation catalogue (``molehunt.store.coverage``) has no
entry for cloud sign-ins yet, so the layout declares none; its rows are stored all the same.

Every record is stored, a duplicate (the event's ``uuid`` is its id, so pages fetched twice
are stored once), quarantined with its line, record number and reason, or skipped with a
reason. The records are counted apart from the parser by DuckDB's JSON reader (the items of
the arrays and of the hook deliveries); NDJSON that DuckDB cannot read (a damaged line) is
counted line by line with Python's ``json`` module.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import orjson

from molehunt.sources._files import open_utf8
from molehunt.sources._keys import lower_keys
from molehunt.sources._lines import BadJsonLine, count_json_records, json_lines
from molehunt.sources.base import Check, RecordLayout, Skipped, SqlContext, Unreadable
from molehunt.sources.windows_security import _timestamp
from molehunt.sql import sql_string

#: Event types read, and what each becomes.
EVENT_TYPES: Mapping[str, str] = {
    "user.session.start": "cloud_sign_in",
    "user.session.end": "cloud_sign_out",
    "user.authentication.sso": "app_access",
    "user.session.access_admin_app": "app_access",
}
#: How many LogEvents one top-level JSON value holds, in DuckDB's SQL over ``json``: an
#: array's items, a response page's ``value`` items, a hook delivery's ``data.events``.
RECORDS_OF_VALUE = (
    "CASE json_type(json) WHEN 'ARRAY' THEN json_array_length(json)"
    " WHEN 'OBJECT' THEN CASE WHEN json_type(json, '$.value') = 'ARRAY'"
    " THEN json_array_length(json, '$.value')"
    " WHEN json_type(json, '$.data.events') = 'ARRAY'"
    " THEN json_array_length(json, '$.data.events') ELSE 1 END ELSE 1 END"
)
# in any case: data lakes' copies lower-case the keys (see _flatten)
_OKTA_KEYS = re.compile(r'"eventType"\s*:', re.IGNORECASE)
_LOG_EVENT_KEYS = re.compile(r'"(actor|published|uuid|displayMessage)"\s*:', re.IGNORECASE)
_HEAD = 256 * 1024


class OktaSystemLog(RecordLayout):
    """Okta System Log events (API JSON pages or NDJSON): sign-ins and app access."""

    name = "okta.system_log"
    family = "okta"
    family_title = "Okta System Log (API JSON pages or NDJSON): sign-ins and app access"
    source = "okta.system_log"
    #: No observation of the catalogue: cloud sign-ins have no entry there (module docstring).
    observes = frozenset()
    columns: ClassVar[Mapping[str, str]] = {
        "record_id": "VARCHAR", "ts": "TIMESTAMP", "ts_text": "VARCHAR", "shape": "VARCHAR",
        "action": "VARCHAR", "user_id": "VARCHAR", "object": "VARCHAR", "target": "VARCHAR",
        "details": "VARCHAR",
    }
    order = 47

    @classmethod
    def sniff(cls, head: str) -> bool:
        """JSON whose first record has Okta's ``eventType`` and a LogEvent's other keys (in
        any case)."""
        text = head.lstrip("\ufeff \t\r\n")
        return (text.startswith(("[", "{")) and bool(_OKTA_KEYS.search(text[:65536]))
                and len({key.lower() for key in _LOG_EVENT_KEYS.findall(text[:65536])}) >= 2)

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Everything is decided while flattening; the id is Okta's ``uuid``."""
        return {
            "event_id": "coalesce('okta:' || nullif(trim(record_id), ''), substr(sha256("
                        f"{sql_string(self.source)} || chr(0) || _raw), 1, 32))",
            "ts": "ts", "day": "CAST(ts AS DATE)", "user_id": "user_id", "host": "NULL",
            "source": sql_string(self.source), "action": "action", "channel": "NULL",
            "object": "object", "target": "target", "domain": "NULL", "bytes": "NULL",
            "n_attachments": "NULL", "content": "NULL", "doc_id": "NULL",
            "sensitivity": "NULL", "attrs": "details",
        }

    def checks(self, ctx: SqlContext) -> list[Check]:
        """A time and a person."""
        return [
            Check("ts IS NULL", "unparseable time",
                  "'published ' || coalesce('\"' || ts_text || '\"', 'missing')"),
            Check("coalesce(user_id, '') = ''", "empty user",
                  "'actor.alternateId is missing or empty'"),
        ]

    def count_records(self, path: Path) -> int | None:
        """The LogEvents as DuckDB's JSON reader counts them (:data:`RECORDS_OF_VALUE`);
        NDJSON it cannot read, line by line."""
        counted = count_json_records(path, self.scratch, RECORDS_OF_VALUE)
        if counted is None and _is_ndjson(path):
            return _count_ndjson(path)
        return counted

    def records(self, path: Path, ctx: SqlContext
                ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
        """Every LogEvent of the file, flattened, skipped or unreadable, in file order."""
        values = _ndjson_values(path) if _is_ndjson(path) else _document_values(path)
        for item in values:
            if isinstance(item, Unreadable):
                yield item
            else:
                line, number, raw, value = item
                yield _flatten(value, line, number, raw)


def _flatten(value: object, line: int | None, number: int, raw: str
             ) -> dict[str, Any] | Unreadable | Skipped:
    """The store columns of one LogEvent, or why it is skipped or unreadable.

    Fields are looked up by lower-cased name (:func:`~molehunt.sources._keys.lower_keys`):
    copies of the System Log in a data lake (Panther, Athena, Snowflake) lower-case Okta's
    ``eventType``, ``alternateId`` and the rest.
    """
    if not isinstance(value, dict):
        return Unreadable(line, number, "not a JSON object", f"got {type(value).__name__}", raw)
    event = lower_keys(value)
    event_type = _text(event.get("eventtype"))
    if event_type is None:
        return Unreadable(line, number, "not an Okta event", "no eventType", raw)
    action = EVENT_TYPES.get(event_type)
    if action is None:
        return Skipped(f"event {event_type} not read")
    actor = lower_keys(event.get("actor"))
    actor_type = _text(actor.get("type")) or "unknown"
    if actor_type.lower() != "user":
        return Skipped(f"actor of type {actor_type} (not a person)")
    login = (_text(actor.get("alternateid")) or "").strip()
    client = lower_keys(event.get("client"))
    agent = lower_keys(client.get("useragent"))
    where = lower_keys(client.get("geographicalcontext"))
    outcome = lower_keys(event.get("outcome"))
    session = lower_keys(event.get("authenticationcontext"))
    details: dict[str, Any] = {
        "event_type": event_type, "outcome": _text(outcome.get("result")),
        "reason": _text(outcome.get("reason")), "ip": _text(client.get("ipaddress")),
        "country": _text(where.get("country")), "city": _text(where.get("city")),
        "device": _text(client.get("device")), "user_agent": _text(agent.get("rawuseragent")),
        "session": _text(session.get("externalsessionid")),
        "display_name": _text(actor.get("displayname")), "actor_id": _text(actor.get("id")),
    }
    obj = target = None
    if action == "app_access":
        app = _app_target(event.get("target"))
        if app is not None:
            obj = _text(app.get("displayname")) or _text(app.get("alternateid"))
            target = _text(app.get("id"))
            details["app"] = _text(app.get("alternateid"))
        elif event_type == "user.session.access_admin_app":
            obj = "Okta Admin Console"
    ts_text = _text(event.get("published"))
    return {
        "record_id": _text(event.get("uuid")), "ts": _timestamp(ts_text) if ts_text else None,
        "ts_text": ts_text, "shape": "okta", "action": action, "user_id": login.lower(),
        "object": obj, "target": target,
        "details": _dump({k: v for k, v in details.items() if v is not None}),
        "_line": line, "_record": number, "_raw": raw, "_dest": "events",
        "hr_kind": None, "hr_ts": None, "hr_attrs": None,
    }


def _dump(value: object) -> str:
    """JSON text of a value; Python's ``json`` reads integers of any size, which ``orjson``
    cannot write."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool | int | float):
        return str(value)
    return _dump(value)


def _app_target(targets: object) -> dict[str, Any] | None:
    """The app an SSO event signed into: its ``AppInstance`` target (else the first one),
    keys lower-cased."""
    if not isinstance(targets, list):
        return None
    found = [lower_keys(t) for t in targets if isinstance(t, dict)]
    apps = [t for t in found if str(t.get("type", "")).lower() == "appinstance"]
    chosen = apps or found
    return chosen[0] if chosen else None


# -- the two shapes -----------------------------------------------------------------------
def _is_ndjson(path: Path) -> bool:
    """Whether the file is NDJSON: it starts with an object whose first line is not a
    pretty-printed object's opening (``{`` alone, or a line ending in ``,``/``{``/``[``)."""
    with open_utf8(path) as handle:
        head = handle.read(_HEAD).decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    first = head.split("\n", 1)[0].strip()
    return head.startswith("{") and not (first == "{" or first.endswith(("{", "[", ",")))


def _count_ndjson(path: Path) -> int:
    """The LogEvents of NDJSON, line by line with Python's ``json``: a line that does not
    parse is one (it is quarantined), a line holding several (:func:`_items`) those."""
    count = 0
    with open_utf8(path) as handle:
        for number, line in enumerate(handle):
            text = line.removeprefix(codecs.BOM_UTF8) if number == 0 else line
            if not text.strip():
                continue
            try:
                count += len(_items(json.loads(text)))
            except (ValueError, RecursionError):
                count += 1
    return count


def _items(value: object) -> list[Any]:
    """The LogEvents one JSON value holds (as :data:`RECORDS_OF_VALUE` counts them)."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        page = value.get("value")
        if isinstance(page, list):
            return page
        data = value.get("data")
        if isinstance(data, dict) and isinstance(data.get("events"), list):
            return list(data["events"])
    return [value]


_Value = tuple[int | None, int, str, object]


def _ndjson_values(path: Path) -> Iterator[_Value | Unreadable]:
    number = 0
    # a cut last line has always been plain "invalid JSON" here
    for line in json_lines(path, name_truncation=False):
        number += 1
        if isinstance(line, BadJsonLine):
            yield line.unreadable(number)
            continue
        line_no, text, value = line
        items = _items(value)
        number += len(items) - 1
        for offset, item in enumerate(items):
            shown = text if len(items) == 1 and items[0] is value else _dump(item)
            yield line_no, number - len(items) + 1 + offset, shown, item


def _document_values(path: Path) -> Iterator[_Value | Unreadable]:
    """The items of the JSON arrays (or single objects) written one after another, each with
    the line it starts on. Damage ends the reading: the rest is one unreadable record."""
    with open_utf8(path) as handle:
        data = handle.read().removeprefix(codecs.BOM_UTF8)
    text = data.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    number = 0
    lines = [1, 0]  # the line at a position, moved forward as the reading goes

    def line_of(position: int) -> int:
        lines[0] += text.count("\n", lines[1], position)
        lines[1] = position
        return lines[0]

    at = _skip_space(text, 0)
    try:
        while at < len(text):
            if text[at] != "[":
                value, end = decoder.raw_decode(text, at)
                # a response page kept whole, a hook delivery: their events, as counted
                items = _items(value)
                for item in items:
                    number += 1
                    yield (line_of(at), number,
                           text[at:end] if len(items) == 1 and items[0] is value
                           else _dump(item), item)
                at = _skip_space(text, end)
                continue
            at = _skip_space(text, at + 1)
            while at < len(text) and text[at] != "]":
                value, end = decoder.raw_decode(text, at)
                number += 1
                yield line_of(at), number, text[at:end], value
                at = _skip_space(text, end)
                if at < len(text) and text[at] == ",":
                    at = _skip_space(text, at + 1)
                elif at >= len(text) or text[at] != "]":
                    raise ValueError(f"expected , or ] at character {at}")
            if at >= len(text):
                raise ValueError("the array is not closed")
            at = _skip_space(text, at + 1)
    except (ValueError, RecursionError) as error:
        number += 1
        line = line_of(min(at, len(text)))
        yield Unreadable(line, number, "invalid JSON",
                         f"{error}; the rest of the file cannot be read", text[at:at + 2000])


_SPACE = re.compile(r"\s*")


def _skip_space(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


__all__ = ["EVENT_TYPES", "RECORDS_OF_VALUE", "OktaSystemLog"]
