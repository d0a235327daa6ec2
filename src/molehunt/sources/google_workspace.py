"""Google Workspace Reports API activities: Drive, login, Gmail and OAuth tokens, one layout
(``gworkspace.reports``).

What is read: the response of the Admin SDK Reports API ``activities.list``
(``GET admin/reports/v1/activity/users/all/applications/{drive|login|gmail|token}``), as a
security team saves it:

* a **response page** (``{"kind": "admin#reports#activities", "items": [...],
  "nextPageToken": ...}``), pretty-printed or on one line, one page per file or pages
  appended one after another in one file (a page without ``items`` holds no activity);
* a JSON **array** of activities (or of pages);
* **NDJSON**, one activity (``{"kind": "admin#reports#activity", ...}``) or one page per line.

UTF-8 or UTF-16, plain or gzip-compressed. The BigQuery export of Workspace logs and the Admin
console's "export to Sheets" are other layouts (flattened columns, not ``parameters[]``) and
are not read here.

One activity is ``id.time`` (RFC 3339, UTC), ``id.applicationName``, ``id.uniqueQualifier``,
the ``actor`` (``callerType``, ``email``, ``profileId``, ``key``), ``ipAddress`` and
``events[]``; each event has a ``type``, a ``name`` and typed ``parameters[]`` whose value is
one of ``value``, ``intValue`` (a number written as text), ``boolValue``, ``multiValue``,
``multiIntValue``, ``messageValue`` (``{"parameter": [...]}``, nested parameters) or
``multiMessageValue``. The parameters are flattened into one mapping (a nested message becomes
a nested mapping). **Every event is one record**: an activity with three events gives three
stored events (or duplicates, quarantined or skipped records), and an activity without any
event is one record, quarantined.

Mapping (application and event name):

* **drive** (type ``access``): ``view``/``preview`` → ``file_open``; ``edit``/``upload``/
  ``create`` → ``file_write``; ``download`` → ``file_copy`` (``attrs.direction`` ``download``);
  ``copy`` → ``file_copy``; ``delete``/``trash`` → ``file_delete``; ``print`` → ``print`` on
  ``printer``; all on ``cloud_storage``, the ``doc_id`` as object and title, type and owner in
  ``attrs``. Sharing (type ``acl_change``: ``change_user_access``,
  ``change_document_visibility``, ``change_acl_editors``, ``change_document_access_scope``):
  a file made readable by anyone with the link or public on the web (``visibility``
  ``people_with_link``/``public_on_the_web``), shared with a ``target_user`` or
  ``target_domain`` outside the company's domains, or shared externally
  (``shared_externally``) is ``web_upload`` on ``cloud_storage`` (the file can now be read
  from outside: what an upload to personal cloud storage means to the features), as for
  Microsoft 365; a share inside the company is ``file_share``; access taken away
  (``new_value`` ``none``, visibility back to ``private``) is ``share_revoked``. Events Drive
  marks as side effects of another (``primary_event`` false) are skipped with that reason:
  one upload writes several events, and counted each they would multiply it.
* **login**: ``login_success``, ``login_failure`` and the ``suspicious_*`` login events →
  ``cloud_sign_in`` (not ``logon``, which is a person at a computer), with ``attrs.outcome``
  and ``attrs.suspicious``.
* **gmail** (``delivery``, whose ``event_info.mail_event_type`` says what happened): 1 (sent)
  → ``email_send`` with the recipients (``message_info.destination[].address``), the channel
  from their domains as for Microsoft 365, size (``payload_size``), attachment count and
  names; 11 (autoforwarded by a forwarding setting, no one composing it) → ``email_send``
  likewise; 2 (received) → ``email_view`` (as the CERT layouts count received mail) with the
  sender (``message_info.source.address``) as target.
* **token**: ``authorize`` (a person granted a third-party app OAuth access) → ``oauth_grant``
  with the app as object, its client id as target and the scopes in ``attrs``; ``revoke`` →
  ``oauth_revoke``.
* Any other event (of these or other applications) is kept as ``gworkspace_activity`` with
  application and event name in ``attrs``.

People: the actor's e-mail address, lower-cased, is the user id, exactly as the Microsoft 365
UPN is (see :mod:`molehunt.sources.m365_audit` for why mapping it to the directory's
``user_id`` belongs at read time in the store, not at ingest). An actor that is not a person
(``callerType`` ``KEY``: Google itself or an API key; a ``*.gserviceaccount.com`` service
account) is skipped with that reason, never stored as a person. An activity whose actor has
only a ``profileId`` is quarantined (``no actor e-mail``): nothing at ingest turns a profile
id into a person.

Observations: what every Workspace edition's Drive audit shows, ``cloud_files``. Gmail's
Reports API log exists only in some editions, so mail is shown by its rows, not declared.
It cannot see anything on a computer: removable media, local files and printing, logons to
machines (after-hours machine logons), web visits.

Event ids: derived from application, ``id.time``, ``id.uniqueQualifier``, the event's place in
its activity and its name, so the same activity read from a saved page and from NDJSON is
stored once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from molehunt.sources._files import open_utf8
from molehunt.sources._lines import BadJsonLine, count_json_records, json_lines
from molehunt.sources.base import Check, RecordLayout, Skipped, SqlContext, Unreadable
from molehunt.sources.m365_audit import (
    _EXTERNAL,
    _INSIDE,
    _MAIL_CHANNEL,
    _WEBMAIL,
    _dump,
    _has_bad_bytes,
    _integer,
    _raw_text,
    _skip_space,
    _text,
    _timestamp,
    _visible,
)
from molehunt.sql import sql_string

#: (application, event name) → (action, channel).
EVENTS: Mapping[tuple[str, str], tuple[str, str | None]] = {
    ("drive", "view"): ("file_open", "cloud_storage"),
    ("drive", "preview"): ("file_open", "cloud_storage"),
    ("drive", "edit"): ("file_write", "cloud_storage"),
    ("drive", "upload"): ("file_write", "cloud_storage"),
    ("drive", "create"): ("file_write", "cloud_storage"),
    ("drive", "download"): ("file_copy", "cloud_storage"),
    ("drive", "copy"): ("file_copy", "cloud_storage"),
    ("drive", "delete"): ("file_delete", "cloud_storage"),
    ("drive", "trash"): ("file_delete", "cloud_storage"),
    ("drive", "print"): ("print", "printer"),
    ("login", "login_success"): ("cloud_sign_in", None),
    ("login", "login_failure"): ("cloud_sign_in", None),
    ("login", "suspicious_login"): ("cloud_sign_in", None),
    ("login", "suspicious_login_less_secure_app"): ("cloud_sign_in", None),
    ("login", "suspicious_programmatic_login"): ("cloud_sign_in", None),
    ("gmail", "sent"): ("email_send", None),
    ("gmail", "received"): ("email_view", None),
    ("gmail", "autoforwarded"): ("email_send", None),
    ("token", "authorize"): ("oauth_grant", None),
    ("token", "revoke"): ("oauth_revoke", None),
}
#: Drive's sharing events (type ``acl_change``); see :meth:`GoogleWorkspace.mapping`.
SHARING_EVENTS = frozenset({"change_user_access", "change_document_visibility",
                            "change_acl_editors", "change_document_access_scope"})
#: Visibilities that let anyone with the link, or anyone at all, read the file.
PUBLIC_VISIBILITIES = frozenset({"people_with_link", "public_on_the_web"})
#: Gmail's ``event_info.mail_event_type`` values this layout maps (the rest are kept).
MAIL_EVENT_TYPES: Mapping[int, str] = {1: "sent", 2: "received", 11: "autoforwarded"}
_OTHER_ACTION = "gworkspace_activity"
#: What a saved Reports API response or activity shows in its first characters: its
#: ``kind``, or (a tool that dropped it) an application, events and the Reports API's ids.
_KIND = re.compile(r'"kind"\s*:\s*"admin#reports#activit')
_ACTIVITY_KEYS = (re.compile(r'"applicationName"\s*:'), re.compile(r'"events"\s*:\s*\['),
                  re.compile(r'"(uniqueQualifier|callerType|profileId)"\s*:'))
_HEAD = 256 * 1024
_PAGE_KIND = "admin#reports#activities"


class GoogleWorkspace(RecordLayout):
    """Google Workspace Reports API activities (Drive, login, Gmail, token) as JSON."""

    name = "gworkspace.reports"
    family = "gworkspace"
    family_title = ("Google Workspace Reports API activities (drive, login, gmail, token):"
                    " saved activities.list pages, arrays or NDJSON")
    source = "gworkspace"
    observes = frozenset({"cloud_files"})
    columns: ClassVar[Mapping[str, str]] = {
        "record_id": "VARCHAR", "ts": "TIMESTAMP", "ts_text": "VARCHAR", "shape": "VARCHAR",
        "application": "VARCHAR", "event_name": "VARCHAR", "op_key": "VARCHAR",
        "user_id": "VARCHAR", "object": "VARCHAR", "target": "VARCHAR", "share": "VARCHAR",
        "party_domain": "VARCHAR", "owner_domain": "VARCHAR", "recipients": "VARCHAR",
        "size": "BIGINT",
        "n_attachments": "INTEGER", "subject": "VARCHAR", "details": "VARCHAR",
    }
    order = 46

    @classmethod
    def sniff(cls, head: str) -> bool:
        """JSON whose first keys are a Reports API response's or activity's."""
        text = head.lstrip("\ufeff \t\r\n")
        return text.startswith(("[", "{")) and (
            bool(_KIND.search(text)) or all(key.search(text) for key in _ACTIVITY_KEYS))

    # -- the SQL mapping -------------------------------------------------------------------
    def relation(self, raw: str, ctx: SqlContext) -> str:
        """Add the recipients' domains and the customer's own domain (inside the company even
        when no company domains are configured yet, as for Microsoft 365): the activity's
        ``ownerDomain``, else the actor's (an outside collaborator's domain is not the
        company's)."""
        return ("(SELECT *, list_filter(list_transform(string_split(coalesce(recipients, ''),"
                " ';'), lambda a: mh_email_domain(a)), lambda d: d <> '') AS _counterparts,"
                " coalesce(nullif(owner_domain, ''), mh_email_domain(coalesce(user_id, '')))"
                f" AS _own_domain FROM {raw})")

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Application and event to action and channel (see the module docstring)."""
        action, channel = _action_and_channel()
        return {
            "event_id": "record_id",
            "ts": "ts",
            "day": "CAST(ts AS DATE)",
            "user_id": "user_id",
            "host": "NULL",
            "source": sql_string(self.source),
            "action": action,
            "channel": channel,
            "object": "object",
            "target": "coalesce(target, nullif(recipients, ''))",
            "domain": f"coalesce(party_domain, {_WEBMAIL}[1], {_EXTERNAL}[1],"
                      " _counterparts[1])",
            "bytes": "size",
            "n_attachments": "n_attachments",
            "content": "subject",
            "doc_id": "NULL",
            "sensitivity": "NULL",
            "attrs": "details",
        }

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """A time, an actor's address, an application and event name, a size not negative."""
        return [
            Check("ts IS NULL", "unparseable id.time",
                  "'id.time ' || coalesce('\"' || ts_text || '\"', 'missing')"),
            Check("coalesce(user_id, '') = ''", "no actor e-mail",
                  "'the actor has no e-mail address (only a profileId or nothing)'"),
            Check("coalesce(application, '') = ''", "no applicationName"),
            Check("coalesce(event_name, '') = ''", "empty event name"),
            Check("size < 0", "negative size", "'size ' || size"),
        ]

    # -- counting, independently of the parser ---------------------------------------------
    def count_records(self, path: Path) -> int | None:
        """The file's records (events; an activity without events is one) counted by DuckDB's
        JSON reader; None where DuckDB cannot read the file (damaged JSON)."""
        return count_json_records(path, self.scratch, per_value=_EVENTS_OF_VALUE)

    # -- reading ---------------------------------------------------------------------------
    def records(self, path: Path, ctx: SqlContext
                ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
        """Every event of every activity of the file, flattened, in file order."""
        with open_utf8(path) as handle:
            head = handle.read(_HEAD)
        text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
        counter = [0]
        # NDJSON unless the first line opens a pretty-printed document: a damaged or cut
        # first record is still NDJSON, so that it costs that record alone
        if text.startswith("{") and not _is_pretty(text):
            yield from self._ndjson(path, counter)
        else:
            yield from self._document(path, counter)

    def _ndjson(self, path: Path, counter: list[int]
                ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
        for line in json_lines(path, strict_utf8=True):
            if isinstance(line, BadJsonLine):
                counter[0] += 1
                yield line.unreadable(counter[0])
                continue
            line_no, text, value = line
            activities = activities_of(value)
            single = len(activities) == 1 and activities[0] is value
            for activity in activities:
                yield from _activity_records(activity, line_no, counter,
                                             text if single else _raw_text(activity),
                                             "reports_ndjson")

    def _document(self, path: Path, counter: list[int]
                  ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
        """Records of JSON values written one after another: pages, arrays, activities. The
        whole file is read at once (the API's pages are at most 1,000 activities; large
        collections are NDJSON, which streams)."""
        with open_utf8(path) as handle:
            data = handle.read()
        # surrogateescape keeps bytes that are not UTF-8 visible, to quarantine their record
        text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
        decoder = json.JSONDecoder()
        position, line = _skip_space(text, 0, 1)
        while position < len(text):
            try:
                value, end = decoder.raw_decode(text, position)
            except (ValueError, RecursionError) as error:
                counter[0] += 1
                rest = text[position:]
                yield Unreadable(line, counter[0], "invalid JSON",
                                 f"{error}; the rest ({len(rest)} characters from here)"
                                 " cannot be read", _visible(rest[:2000]))
                return
            try:
                located = _located(text, position, end, line, value)
            except (ValueError, RecursionError, IndexError):
                # the walk that finds each activity's line failed: the value's line for all
                located = [(a, line, _raw_text(a)) for a in activities_of(value)]
            for activity, at_line, raw in located:
                if _has_bad_bytes(raw):
                    for _ in range(_record_count(activity)):
                        counter[0] += 1
                        yield Unreadable(at_line, counter[0], "invalid UTF-8",
                                         "the activity holds bytes that are not UTF-8",
                                         _visible(raw))
                    continue
                yield from _activity_records(activity, at_line, counter, raw, "reports_json")
            line += text.count("\n", position, end)
            position, line = _skip_space(text, end, line)


#: How DuckDB counts the records of one top-level JSON value (see :func:`activities_of` and
#: :func:`_record_count`, the parser's side of the same rule).
_ACTIVITIES = ("CASE WHEN json_type({v}) = 'OBJECT' AND json_type({v}, '$.items') = 'ARRAY'"
               " THEN json_extract({v}, '$.items[*]')"
               " WHEN json_type({v}) = 'OBJECT' AND json_type({v}, '$.items') IS NULL"
               f" AND json_extract_string({{v}}, '$.kind') = '{_PAGE_KIND}'"
               " THEN []::JSON[] ELSE [{v}] END")
_EVENTS_OF_ACTIVITY = ("CASE WHEN json_type(a) = 'OBJECT' AND json_type(a, '$.events') = 'ARRAY'"
                       " AND json_array_length(a, '$.events') > 0"
                       " THEN json_array_length(a, '$.events') ELSE 1 END")
_EVENTS_OF_VALUE = (
    "coalesce(list_sum(list_transform(CASE WHEN json_type(json) = 'ARRAY' THEN flatten("
    f"list_transform(json_extract(json, '$[*]'), lambda e: {_ACTIVITIES.format(v='e')}))"
    f" ELSE {_ACTIVITIES.format(v='json')} END, lambda a: {_EVENTS_OF_ACTIVITY})), 0)"
)


def _is_pretty(head: str) -> bool:
    """Whether a JSON file starting with ``{`` is pretty-printed rather than NDJSON: its first
    line opens an object alone, or ends open (``{``, ``[``, ``,``) with the next line
    indented. A first NDJSON record cut off after a comma is still NDJSON (the next line
    starts a record at its first column), so that it costs that record alone.

    >>> _is_pretty('{\\n  "kind": 1}'), _is_pretty('{"kind": "x",\\n  "items": []}')
    (True, True)
    >>> _is_pretty('{"kind": "x", "id": {"time": "t",\\n{"kind": "y"}'), _is_pretty('{}')
    (False, False)
    """
    first, _, rest = head.partition("\n")
    first = first.strip()
    return first in ("{", "") or (first.endswith(("{", "[", ","))
                                  and rest[:1] in (" ", "\t", "\r", "\n"))


def activities_of(value: object) -> list[Any]:
    """The activities a top-level JSON value holds: a page's ``items`` (none for a page
    without), an array's elements (each page among them its items), else the value itself.

    >>> activities_of({"kind": "admin#reports#activities", "items": [{"a": 1}, {"b": 2}]})
    [{'a': 1}, {'b': 2}]
    >>> activities_of([{"items": [1]}, 2]), activities_of({"kind": "admin#reports#activities"})
    ([1, 2], [])
    """
    if isinstance(value, list):
        return [activity for element in value for activity in _of_one(element)]
    return _of_one(value)


def _of_one(value: object) -> list[Any]:
    if isinstance(value, dict):
        if isinstance(value.get("items"), list):
            return list(value["items"])
        if "items" not in value and value.get("kind") == _PAGE_KIND:
            return []
    return [value]


def _record_count(activity: object) -> int:
    """How many records an activity is: its events, or one (bad) when it has none."""
    if isinstance(activity, dict) and isinstance(activity.get("events"), list):
        return len(activity["events"]) or 1
    return 1


def _located(text: str, start: int, end: int, line: int, value: object
             ) -> list[tuple[object, int, str]]:
    """The activities of the value between ``start`` and ``end`` with the line each starts
    on and its text."""
    raws = _element_spans(text, start, line)
    if isinstance(value, list):
        if raws is None or len(raws) != len(value):
            return [(a, line, _raw_text(a)) for a in activities_of(value)]
        found: list[tuple[object, int, str]] = []
        for element, (at, at_line, element_end) in zip(value, raws, strict=True):
            found.extend(_located(text, at, element_end, at_line, element)
                         if isinstance(element, dict)
                         and isinstance(element.get("items"), list)
                         else [(a, at_line, text[at:element_end]) for a in _of_one(element)])
        return found
    if isinstance(value, dict) and isinstance(value.get("items"), list):
        spans = _items_spans(text, start, line)
        if spans is None or len(spans) != len(value["items"]):
            return [(a, line, _raw_text(a)) for a in value["items"]]
        return [(a, at_line, text[at:item_end])
                for a, (at, at_line, item_end) in zip(value["items"], spans, strict=True)]
    return [(a, line, text[start:end]) for a in _of_one(value)]


def _element_spans(text: str, start: int, line: int) -> list[tuple[int, int, int]] | None:
    """(start, line, end) of each element of the array at ``start``; None if not an array."""
    if text[start] != "[":
        return None
    decoder = json.JSONDecoder()
    spans: list[tuple[int, int, int]] = []
    position, line = _skip_space(text, start + 1, line)
    while position < len(text) and text[position] != "]":
        end = decoder.raw_decode(text, position)[1]
        spans.append((position, line, end))
        line += text.count("\n", position, end)
        position, line = _skip_space(text, end, line)
        if position < len(text) and text[position] == ",":
            position, line = _skip_space(text, position + 1, line)
    return spans


def _items_spans(text: str, start: int, line: int) -> list[tuple[int, int, int]] | None:
    """The element spans of the top-level ``items`` array of the object at ``start``
    (walked key by key, so that an ``items`` key nested deeper is never taken for it)."""
    decoder = json.JSONDecoder()
    position, line = _skip_space(text, start + 1, line)
    while position < len(text) and text[position] == '"':
        key, position = decoder.raw_decode(text, position)
        position, line = _skip_space(text, position, line)
        position, line = _skip_space(text, position + 1, line)  # the colon
        if key == "items" and text[position] == "[":
            return _element_spans(text, position, line)
        end = decoder.raw_decode(text, position)[1]
        line += text.count("\n", position, end)
        position, line = _skip_space(text, end, line)
        if position < len(text) and text[position] == ",":
            position, line = _skip_space(text, position + 1, line)
    return None


# -- one activity -------------------------------------------------------------------------
def _activity_records(activity: object, line: int, counter: list[int], raw: str, shape: str
                      ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
    """The records of one activity: one per event."""
    if not isinstance(activity, dict):
        counter[0] += 1
        yield Unreadable(line, counter[0], "not a JSON object",
                         f"got {type(activity).__name__}", raw)
        return
    events = activity.get("events")
    if not isinstance(events, list) or not events:
        counter[0] += 1
        yield Unreadable(line, counter[0], "activity without events",
                         "no events[] list with an event in it", raw)
        return
    try:
        envelope = _envelope(activity)
    except RecursionError:
        envelope = None
    for index, event in enumerate(events):
        counter[0] += 1
        if envelope is None:
            yield Unreadable(line, counter[0], "too deeply nested",
                             "a value is nested too deeply to store", raw[:2000])
            continue
        if not isinstance(event, dict):
            yield Unreadable(line, counter[0], "event not a JSON object",
                             f"event {index + 1}: got {type(event).__name__}", raw)
            continue
        try:
            yield _event_record(envelope, activity, index, event, line, counter[0], raw, shape)
        except RecursionError:
            yield Unreadable(line, counter[0], "too deeply nested",
                             f"event {index + 1}: a value is nested too deeply to store",
                             raw[:2000])


def _envelope(activity: Mapping[str, Any]) -> dict[str, Any]:
    """What an activity's events share: time, application, ids and the actor."""
    ident = _mapping(activity.get("id"))
    actor = _mapping(activity.get("actor"))
    return {
        "ts_text": _text(ident.get("time")),
        "application": (_text(ident.get("applicationName")) or "").strip().lower(),
        "unique": _text(ident.get("uniqueQualifier")),
        "caller_type": (_text(actor.get("callerType")) or "").upper(),
        "email": (_text(actor.get("email")) or "").strip(),
        "profile_id": _text(actor.get("profileId")),
        "key": _text(actor.get("key")),
        "ip": _text(activity.get("ipAddress")),
        "owner_domain": (_text(activity.get("ownerDomain")) or "").strip().lower() or None,
        "app_info": _dump(actor.get("applicationInfo")) if actor.get("applicationInfo")
        else None,
    }


def _event_record(envelope: Mapping[str, Any], activity: Mapping[str, Any], index: int,
                  event: Mapping[str, Any], line: int, number: int, raw: str,
                  shape: str) -> dict[str, Any] | Skipped:
    application = envelope["application"]
    name = (_text(event.get("name")) or "").strip()
    params = parameters(event.get("parameters"))
    email = envelope["email"].lower()
    if envelope["caller_type"] == "KEY" or (not email and envelope["key"]):
        return Skipped("actor is not a person (callerType KEY: Google or an API key)")
    if email.endswith(".gserviceaccount.com"):
        return Skipped("actor is a service account (*.gserviceaccount.com)")
    key = name.lower()
    if application == "drive" and params.get("primary_event") is False:
        return Skipped("Drive side effect of another event (primary_event false)")
    details: dict[str, Any] = {
        "application": application or None, "event": name or None,
        "event_type": _text(event.get("type")), "ip": envelope["ip"],
        "profile_id": envelope["profile_id"], "owner_domain": envelope["owner_domain"],
        "app": envelope["app_info"], "shape": shape,
    }
    object_ = target = share = party_domain = recipients = subject = None
    size: int | None = None
    n_attachments: int | None = None
    if application == "drive":
        object_ = _text(params.get("doc_id"))
        owner = (_text(params.get("owner")) or "").lower() or None
        details.update(title=_text(params.get("doc_title")),
                       doc_type=_text(params.get("doc_type")), owner=owner,
                       own_file=(owner == email) if owner and email else None,
                       visibility=_text(params.get("visibility")),
                       old_visibility=_text(params.get("old_visibility")))
        if key == "download":
            details["direction"] = "download"
        if key in SHARING_EVENTS:
            share, target, party_domain = _share(params)
            details.update(new_value=params.get("new_value"), old_value=params.get("old_value"),
                           visibility_change=_text(params.get("visibility_change")),
                           target_domain=_text(params.get("target_domain")), share=share)
    elif application == "login":
        details.update(login_type=_text(params.get("login_type")),
                       outcome="failure" if key == "login_failure" else
                       "success" if key == "login_success" else None,
                       suspicious=key.startswith("suspicious")
                       or params.get("is_suspicious") is True,
                       failure_type=_text(params.get("login_failure_type")))
    elif application == "gmail":
        info = _mapping(params.get("event_info"))
        message = _mapping(params.get("message_info"))
        kind = _integer(info.get("mail_event_type"))
        details["mail_event_type"] = kind
        key = MAIL_EVENT_TYPES.get(kind, key) if kind is not None else key
        object_ = _text(message.get("rfc2822_message_id"))
        subject = _text(message.get("subject"))
        size = _integer(message.get("payload_size"))
        source = _mapping(message.get("source"))
        details["sender"] = _text(source.get("address"))
        listed = _list(message.get("destination"))
        addresses = [str(d.get("address")).strip().lower() for d in listed
                     if isinstance(d, dict) and _text(d.get("address"))]
        recipients = ";".join(addresses) or None
        attachments = [a for a in _list(message.get("attachment")) if isinstance(a, dict)]
        names = [_text(a.get("file_name")) for a in attachments]
        details["attachments"] = [n for n in names if n] or None
        n_attachments = _integer(message.get("num_message_attachments"))
        if n_attachments is None and attachments:
            n_attachments = len(attachments)
        if key == "received":
            # the counterpart of received mail is its sender, not the mailbox's owner
            target, recipients = details["sender"], None
            if target and "@" in target:
                party_domain = target.rsplit("@", 1)[1].lower() or None
    elif application == "token":
        object_ = _text(params.get("app_name"))
        target = _text(params.get("client_id"))
        scopes = params.get("scope")
        details.update(scopes=scopes if isinstance(scopes, list) else _text(scopes),
                       client_type=_text(params.get("client_type")))
    if (application, key) not in EVENTS and share is None:
        details["parameters"] = params or None
    unique = envelope["unique"] or _dump(activity)
    ident = "\x00".join([application, envelope["ts_text"] or "", unique, str(index), name])
    record_id = hashlib.sha256(b"gworkspace\x00" + ident.encode("utf-8", "surrogateescape")
                               ).hexdigest()[:32]
    if envelope["email"] and envelope["email"] != email:
        details["actor"] = envelope["email"]
    return {
        "record_id": record_id, "ts": _timestamp(envelope["ts_text"]),
        "ts_text": envelope["ts_text"], "shape": shape, "application": application or None,
        "event_name": name or None, "op_key": f"{application}:{key}", "user_id": email,
        "object": object_, "target": target, "share": share, "party_domain": party_domain,
        "owner_domain": envelope["owner_domain"],
        "recipients": recipients, "size": size, "n_attachments": n_attachments,
        "subject": subject,
        "details": _dump({k: v for k, v in details.items() if v is not None}),
        "_line": line, "_record": number, "_raw": raw, "_dest": "events",
        "hr_kind": None, "hr_ts": None, "hr_attrs": None,
    }


def _share(params: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """What a sharing event did: ``public``, ``party`` (with a user or domain, whose domain
    the SQL mapping judges inside or outside), ``external``, ``revoked`` or ``internal``;
    and the party and its domain."""
    visibility = (_text(params.get("visibility")) or "").lower()
    new = params.get("new_value")
    new_values = {str(v).lower() for v in (new if isinstance(new, list) else [new])
                  if v is not None}
    target = (_text(params.get("target_user")) or "").strip().lower() or None
    domain = (_text(params.get("target_domain")) or "").strip().lower() or None
    if domain == "all":
        domain = None
    if target and "@" in target:
        domain = target.rsplit("@", 1)[1] or domain
    if new_values and new_values <= {"none"}:
        return "revoked", target, domain
    if not target and not domain and (new_values & PUBLIC_VISIBILITIES
                                      or visibility in PUBLIC_VISIBILITIES):
        return "public", None, None
    if target or domain:
        return "party", target or domain, domain
    if visibility == "private" or new_values == {"private"}:
        return "revoked", None, None
    if visibility == "shared_externally" or (
            _text(params.get("visibility_change")) or "").lower() == "external":
        return "external", None, None
    return "internal", None, None


def parameters(value: object) -> dict[str, Any]:
    """An event's typed ``parameters[]`` as one mapping, each value in its own type.

    >>> parameters([{"name": "doc_id", "value": "1x"}, {"name": "n", "intValue": "12"},
    ...             {"name": "b", "boolValue": False}, {"name": "m", "multiValue": ["a"]},
    ...             {"name": "i", "multiValue": None, "multiIntValue": ["1", "2"]},
    ...             {"name": "msg", "messageValue": {"parameter": [{"name": "x",
    ...                                                             "value": "y"}]}}])
    {'doc_id': '1x', 'n': 12, 'b': False, 'm': ['a'], 'i': [1, 2], 'msg': {'x': 'y'}}
    """
    found: dict[str, Any] = {}
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        found.setdefault(item["name"], _parameter_value(item))
    return found


def _parameter_value(item: Mapping[str, Any]) -> Any:
    if item.get("value") is not None:
        return item["value"]
    if item.get("intValue") is not None:
        number = _integer(item["intValue"])
        return number if number is not None else item["intValue"]
    if item.get("boolValue") is not None:
        return item["boolValue"]
    if isinstance(item.get("multiValue"), list):
        return item["multiValue"]
    if isinstance(item.get("multiIntValue"), list):
        return [_integer(v) if _integer(v) is not None else v for v in item["multiIntValue"]]
    if isinstance(item.get("messageValue"), dict):
        return parameters(item["messageValue"].get("parameter"))
    if isinstance(item.get("multiMessageValue"), list):
        return [parameters(m.get("parameter")) for m in item["multiMessageValue"]
                if isinstance(m, dict)]
    return None


# -- the SQL mapping ----------------------------------------------------------------------
def _action_and_channel() -> tuple[str, str]:
    """SQL for the action and the channel of a flattened event."""
    action_cases = " ".join(f"WHEN {sql_string(f'{app}:{name}')} THEN {sql_string(action)}"
                            for (app, name), (action, _) in EVENTS.items())
    channel_cases = " ".join(
        f"WHEN {sql_string(f'{app}:{name}')} THEN {sql_string(channel)}"
        for (app, name), (_, channel) in EVENTS.items() if channel is not None)
    outside = f"NOT {_INSIDE.format(d='party_domain')}"
    action = ("CASE WHEN share = 'revoked' THEN 'share_revoked'"
              " WHEN share IN ('public', 'external') THEN 'web_upload'"
              f" WHEN share = 'party' THEN CASE WHEN party_domain IS NOT NULL AND {outside}"
              " THEN 'web_upload' ELSE 'file_share' END"
              " WHEN share = 'internal' THEN 'file_share'"
              f" ELSE CASE op_key {action_cases} ELSE '{_OTHER_ACTION}' END END")
    channel = ("CASE WHEN share IS NOT NULL THEN 'cloud_storage'"
               f" WHEN op_key IN ('gmail:sent', 'gmail:autoforwarded') THEN {_MAIL_CHANNEL}"
               f" ELSE CASE op_key {channel_cases} ELSE NULL END END")
    return action, channel


# -- small helpers ------------------------------------------------------------------------
def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value] if isinstance(value, dict) else []


__all__ = [
    "EVENTS",
    "MAIL_EVENT_TYPES",
    "PUBLIC_VISIBILITIES",
    "SHARING_EVENTS",
    "GoogleWorkspace",
    "activities_of",
    "parameters",
]
