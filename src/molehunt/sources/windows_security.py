"""Windows Security events: raw ``.evtx``, Windows Event XML, Winlogbeat/Elastic Agent and NXLog
JSON, one layout (``windows.security``).

Shapes, told apart by the file's first bytes:

* **EVTX** (``ElfFile``): the Security log as Windows writes it (``wevtutil epl Security
  x.evtx``, or ``C:\\Windows\\System32\\winevt\\Logs\\Security.evtx`` copied). Read with the
  ``evtx`` package (Rust); this module only walks the chunk and record *headers* to count and
  locate the records independently of that parser (see :func:`evtx_record_locations`).
* **Windows Event XML**: ``<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/
  event">`` elements one after another (``wevtutil qe Security /f:xml``, which writes no root
  element), or inside ``<Events>`` (Event Viewer's "Save as XML", Get-WinEvent ``ToXml()``
  joined); UTF-8 or UTF-16.
* **Winlogbeat / Elastic Agent** (ECS): NDJSON or a JSON array of documents with
  ``winlog.event_id``, ``winlog.event_data.*``, ``winlog.computer_name``, ``winlog.record_id``,
  ``winlog.channel`` and ``@timestamp`` (UTC); Elasticsearch hits (``_source``) too.
* **NXLog** (``im_msvistalog`` + ``to_json()``): the event's fields at the top level
  (``EventID``, ``Hostname``, ``RecordNumber``, ``Channel``, ``EventTime``, ``TargetUserName``,
  ...). NXLog writes ``EventTime`` in the collector's local time without a zone unless its
  ``DateFormat`` says otherwise. When NXLog's JSON went through a shipper that stamped it
  in UTC (Logstash or Elastic ``@timestamp``, as in the public Security-Datasets/Mordor
  recordings), the collector's offset is ``@timestamp`` less NXLog's own ``EventReceivedTime``
  (the same local clock as ``EventTime``) rounded to a quarter hour, and is used if the rest
  (the shipping delay) is under five minutes; ``attrs.utc_offset`` keeps it. Otherwise a time
  without a zone is quarantined (``time without zone``), since read as UTC every after-hours
  feature would move by the offset.

Mapping (event id → store):

* 4624 logon / 4634 logoff / 4647 user-initiated logoff, by logon type: interactive (2),
  unlock (7), remote interactive (10, RDP) and the cached ones (11, 12, 13) are a person at a
  computer: ``logon`` / ``logoff`` on ``local``, the computer as ``host`` and ``object``, as
  the CERT logon source has them; ``attrs.logon_kind`` keeps which. Network logons (3, 8) are
  ``network_logon`` on ``network_share`` (the server is ``host``, the client address in
  ``attrs.source_ip``): a file server sees one for every share a person opens, and counted as
  ``logon`` they would look like logons to someone else's computer. Their logoffs (4634 type 3)
  and batch, service and new-credentials logons (4, 5, 9) are skipped with a reason, and so is
  the 4634 that ends an unlock's own short logon session (types 7, 13: the desktop session
  goes on).
  With User Account Control an administrator's interactive logon is two 4624 records at the
  same instant (the filtered and the elevated token, two logon ids; real Security logs show
  every such logon so): the second of a person's logons of one type on one computer at one
  instant is skipped (:data:`SPLIT_TOKEN_TWIN`), so one logon is one ``logon`` event.
* 4663 object access on a file: ``file_open`` (read), ``file_write`` (write/append) or
  ``file_delete``; on ``removable_media`` (write → ``file_copy``) when it was audited by the
  "Removable Storage" subcategory (task 12812), else on ``local``. Other object types skipped.
* 5140 share opened → ``share_access`` on ``network_share`` (object ``\\\\server\\share``);
  5145 detailed file share → ``file_open``/``file_write``/``file_delete`` on
  ``network_share`` (object ``\\\\server\\share\\relative\\path``). Named pipes
  (``IPC$``) are skipped: remote procedure calls, not files.
* 6416 new external device: storage classes (DiskDrive, WPD, CDROM, Volume, USB mass storage)
  → ``device_connect`` on ``removable_media``; other classes (keyboards, mice, network) skipped.
  Windows names the computer account as the subject of a 6416; the person is whoever was
  logged on interactively at that computer then, from the same file's 4624/4634/4647 (paired
  by logon id); where several people were (a shared computer, a session left open), the one
  whose account accessed removable storage there first within the hour after (4663,
  "Removable Storage"); with nobody logged on, that account, else the record is skipped with
  that reason. ``attrs.person_from`` says which.
* 1102 the Security log cleared (written by the event log service, its fields in
  ``UserData/LogFileCleared``): ``audit_log_cleared`` on ``local`` by the subject, the computer
  as ``host`` and the log (``Security``) as ``object``, ``attrs.logon_id`` the subject's logon
  session. The events schema has no action for tampering with evidence (``schema.events
  .ACTIONS``; sources may add their own, as ``network_logon`` here), and wiping the record of
  what one did is the cover-up of an administrator's sabotage (scenario C3), so it is stored
  under an action of its own rather than skipped. A 1102 of another log is not this event.
* System 104 (provider ``Microsoft-Windows-Eventlog``): any other log cleared, the same
  ``audit_log_cleared`` with the cleared log (``UserData/LogFileCleared/Channel``) as
  ``object``; the record names the subject's account but no SID or logon session. NXLog
  flattens that ``Channel`` onto the event's own (``System``), so from NXLog the object may
  read ``System`` whichever log was cleared.
* 4688 process start: the store has no process action (``schema.events.ACTIONS``), so it is
  skipped with that reason. Any other event is skipped as ``<log> event N not read``, the log
  being its channel (else its provider): a Security collection picks up events of other logs
  too (``Microsoft-Windows-Sysmon/Operational event 13 not read``, ``System event 7045 not
  read``), and an id means something else in each log.

Accounts that are not a person are skipped with a reason: machine accounts (``NAME$``) and the
well-known service identities (SYSTEM, LOCAL SERVICE, NETWORK SERVICE, ANONYMOUS LOGON,
DWM-n, UMFD-n, and their SIDs S-1-5-18/19/20/7, S-1-5-90-*, S-1-5-96-*).

People: the account name (``TargetUserName`` or ``SubjectUserName``), lower-cased, is the user
id (Windows account names ignore case and events keep the case typed at logon); a UPN
(``alice@corp.example``) stays a UPN. The domain, the ``DOMAIN\\user`` form and the SID go to
``attrs`` (``account``, ``sid``). As for the Microsoft 365 UPNs (see
:mod:`molehunt.sources.m365_audit`), mapping these to the directory's ``user_id`` belongs at
read time in the store, not here: a deployment whose directory ids are not the account names
gives its directory rows the lower-cased account name.

Every record is stored, a duplicate, quarantined with its location and reason, or skipped with
a reason (counted in the file's result). The event id is derived from computer, channel and
``EventRecordID``, so the same record read from an EVTX file and from Winlogbeat is stored once.
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import orjson

from molehunt.sources._files import open_binary, open_utf8
from molehunt.sources._keys import lower_keys
from molehunt.sources._lines import BadJsonLine, json_lines
from molehunt.sources._normalised import whole_document_items
from molehunt.sources.base import (
    Check,
    RecordLayout,
    Skipped,
    SqlContext,
    Unreadable,
    utc_naive,
)
from molehunt.sql import sql_string

#: The namespace of Windows Event XML.
EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
_NS = "{" + EVENT_NS + "}"

#: Logon types (4624 ``LogonType``) → kind, and whether it is a person at a computer.
LOGON_TYPES: Mapping[int, tuple[str, str | None]] = {
    2: ("interactive", "logon"),
    3: ("network", "network_logon"),
    4: ("batch", None),
    5: ("service", None),
    7: ("unlock", "logon"),
    8: ("network_cleartext", "network_logon"),
    9: ("new_credentials", None),
    10: ("remote_interactive", "logon"),
    11: ("cached_interactive", "logon"),
    12: ("cached_remote_interactive", "logon"),
    13: ("cached_unlock", "logon"),
}
#: Task number of the "Removable Storage" audit subcategory (4663 events it writes).
REMOVABLE_STORAGE_TASK = 12812
#: Task names of the Security log's audit subcategories (the events' ``Task`` numbers, which
#: Event XML and NXLog write) as Winlogbeat and Elastic Agent write them: their ``winlog.task``
#: is the task's display name ("Removable Storage"), not its number.
TASK_NUMBERS: Mapping[str, int] = {
    "logon": 12544, "logoff": 12545, "special logon": 12548, "file system": 12800,
    "file share": 12808, "detailed file share": 12811, "removable storage": 12812,
    "process creation": 13312, "plug and play events": 13316,
}
#: 6416 device classes that hold files.
STORAGE_CLASSES = frozenset({"diskdrive", "wpd", "cdrom", "volume", "usb", "floppydisk",
                             "tapedrive"})
#: Well-known SIDs and names of identities that are never a person.
SERVICE_SIDS = frozenset({"s-1-5-18", "s-1-5-19", "s-1-5-20", "s-1-5-7", "s-1-0-0"})
SERVICE_NAMES = frozenset({"system", "local service", "network service", "anonymous logon",
                           "localservice", "networkservice", "-"})
_SERVICE_SID_PREFIXES = ("s-1-5-90-", "s-1-5-96-")
_SERVICE_NAME_PREFIXES = ("dwm-", "umfd-")

# access rights, as 4663/5145 write them (``%%4416`` in AccessList or bits of AccessMask)
_READ, _WRITE, _APPEND, _DELETE = 0x1, 0x2, 0x4, 0x10000
_ACCESS_CODES = {"%%4416": _READ, "%%4417": _WRITE, "%%4418": _APPEND, "%%1537": _DELETE}
_ACCESS_WORDS = {"readdata": _READ, "writedata": _WRITE, "appenddata": _APPEND,
                 "delete": _DELETE}

_EVENT_START = re.compile(r"<Event[\s>/]")
_EVENT_END = "</Event>"
#: A device connected names the person who accessed removable storage on that computer
#: within this long after it (6416 names the computer account, not the person).
REMOVABLE_USE_WINDOW = timedelta(hours=1)
#: Why the second 4624 of a User Account Control split-token logon is skipped.
SPLIT_TOKEN_TWIN = ("second token of a split-token logon (same person, computer, logon"
                    " type and instant as a logon already read)")
_ZONE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.I)
_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_EVTX_MAGIC = b"ElfFile\x00"
_CHUNK_MAGIC = b"ElfChnk\x00"
_RECORD_MAGIC = b"\x2a\x2a\x00\x00"
_CHUNK_SIZE = 65536
_HEAD = 256 * 1024


@dataclass(frozen=True)
class Located:
    """Where an EVTX record (or an unreadable chunk) is: chunk number and byte offset."""

    chunk: int
    record_id: int | None  # None: a damaged chunk in which no record could be found
    offset: int


class WindowsSecurity(RecordLayout):
    """Windows Security events (EVTX, Event XML, Winlogbeat/Elastic Agent and NXLog JSON)."""

    name = "windows.security"
    family = "windows"
    source = "windows.security"
    #: Logon auditing is on by default on every Windows computer. Removable devices (6416,
    #: "Audit PNP Activity"), file access (4663, needs SACLs on the folders or the Removable
    #: Storage subcategory) and shares (5140/5145) are off by default: their rows show them
    #: (molehunt.store.coverage), this declaration does not promise them.
    observes = frozenset({"logon"})
    columns: ClassVar[Mapping[str, str]] = {
        "record_id": "VARCHAR", "ts": "TIMESTAMP", "ts_text": "VARCHAR", "shape": "VARCHAR",
        "event_code": "INTEGER", "action": "VARCHAR", "channel": "VARCHAR",
        "user_id": "VARCHAR", "host": "VARCHAR", "object": "VARCHAR", "target": "VARCHAR",
        "details": "VARCHAR",
    }
    order = 46

    @classmethod
    def sniff(cls, head: str) -> bool:
        """An EVTX file, Event XML, or JSON with Winlogbeat's or NXLog's keys."""
        if head.startswith("ElfFile"):
            return True
        text = head.lstrip("\ufeff \t\r\n")
        if text.startswith("<"):
            return EVENT_NS in text[:4096] and bool(_EVENT_START.search(text))
        if text.startswith(("[", "{")):
            return bool(re.search(r'"winlog"\s*:\s*\{', text)) or (
                bool(re.search(r'"EventID"\s*:', text))
                and bool(re.search(r'"(SourceName|Channel|Hostname)"\s*:', text)))
        return False

    # -- the SQL mapping -------------------------------------------------------------------
    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Action and channel are decided while flattening (see the module docstring)."""
        return {
            "event_id": "coalesce(nullif(trim(record_id), ''), substr(sha256("
                        f"{sql_string(self.source)} || chr(0) || _raw), 1, 32))",
            "ts": "ts", "day": "CAST(ts AS DATE)", "user_id": "user_id", "host": "host",
            "source": sql_string(self.source), "action": "action", "channel": "channel",
            "object": "object", "target": "target", "domain": "NULL", "bytes": "NULL",
            "n_attachments": "NULL", "content": "NULL", "doc_id": "NULL",
            "sensitivity": "NULL", "attrs": "details",
        }

    def checks(self, ctx: SqlContext) -> list[Check]:
        """A time and a person."""
        return [
            Check("ts IS NULL", "unparseable time",
                  "'time ' || coalesce('\"' || ts_text || '\"', 'missing')"),
            Check("coalesce(user_id, '') = ''", "empty user"),
        ]

    # -- counting, independently of the parsers --------------------------------------------
    def count_records(self, path: Path) -> int | None:
        """How many records the file holds, counted without the parsers that read them.

        EVTX: the records found by walking the chunk and record headers (plus one for each
        damaged chunk in which none could be found). XML: the ``<Event`` start tags. NDJSON:
        the lines that hold anything. A JSON array: None (its count needs the JSON parser).
        """
        shape = _file_shape(path)
        if shape == "evtx":
            return len(evtx_record_locations(path))
        if shape == "xml":
            return _count_start_tags(path)
        if shape == "ndjson":
            with open_utf8(path) as handle:
                return sum(1 for number, line in enumerate(handle)
                           if (line.removeprefix(b"\xef\xbb\xbf") if number == 0 else line
                               ).strip())
        return None

    # -- reading ---------------------------------------------------------------------------
    def records(self, path: Path, ctx: SqlContext
                ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
        """Every record of the file, flattened, skipped or unreadable, in file order (a 6416
        whose person comes from the logons comes at the end)."""
        sessions = _Sessions()
        shape = _file_shape(path)
        if shape == "evtx":
            events: Iterator[_Event | Unreadable] = _evtx_events(path)
        elif shape == "xml":
            events = _xml_events(path)
        elif shape == "ndjson":
            events = _ndjson_events(path)
        else:
            events = _json_document_events(path)
        waiting: list[_Event] = []
        for event in events:
            if isinstance(event, Unreadable):
                yield event
                continue
            flat = _flatten(event, sessions)
            if flat is _NEEDS_SESSION:
                waiting.append(event)
            else:
                assert not isinstance(flat, _Marker)
                yield flat
        for event in waiting:
            flat = _flatten(event, sessions, final=True)
            assert not isinstance(flat, _Marker)
            yield flat


# -- one event, whatever its shape -------------------------------------------------------
@dataclass
class _Event:
    """An event's fields, the same for every shape."""

    shape: str
    line: int | None
    number: int
    raw: str
    event_code: int | None
    ts_text: str | None
    computer: str | None
    channel: str | None
    record_number: str | None
    task: int | None
    data: dict[str, str]
    location: str = ""
    #: The NXLog collector's offset from UTC (local = UTC + offset), when a shipper's UTC
    #: stamp tells it.
    utc_offset: timedelta | None = None
    #: The provider that wrote the event (``Microsoft-Windows-Security-Auditing``,
    #: ``Microsoft-Windows-Sysmon``), where the shape names it.
    provider: str | None = None


class _Marker:
    pass


_NEEDS_SESSION = _Marker()


class _Sessions:
    """Interactive logons per computer (from 4624 and 4634/4647, paired by logon id), and
    files written on or read from removable storage there (4663), to name the person at a
    computer when a device was connected there."""

    def __init__(self) -> None:
        self.logons: dict[str, list[tuple[datetime, str, str, str]]] = {}  # host → starts
        self.ends: dict[tuple[str, str], datetime] = {}  # (host, logon id) → end
        #: (host, user, logon type) → instant of its last logon read: a split token's twin
        #: has the same instant (one entry per key, not one per logon of a large file)
        self.last_logon: dict[tuple[str, str, int | None], datetime] = {}
        #: host → its logons ordered by (start, user, account) and their starts, built when a
        #: person is first looked up there (devices are resolved after every logon is read)
        self._ordered: dict[str, tuple[list[tuple[datetime, str, str, str]],
                                       list[datetime]]] = {}
        #: host → (instant, user, account) of each access to removable storage
        self.removable: dict[str, list[tuple[datetime, str, str]]] = {}
        self._removable_sorted: dict[str, list[tuple[datetime, str, str]]] = {}
        #: (host, user) → starts of their logons there and the latest end reached by each
        self._user_spans: dict[tuple[str, str], tuple[list[datetime], list[datetime]]] = {}

    def start(self, host: str, ts: datetime, logon_id: str, user: str, account: str) -> None:
        self.logons.setdefault(host, []).append((ts, logon_id, user, account))
        self._ordered.pop(host, None)
        self._user_spans.pop((host, user), None)

    def end(self, host: str, ts: datetime, logon_id: str) -> None:
        key = (host, logon_id)
        self.ends[key] = min(ts, self.ends.get(key, ts))

    def used_removable(self, host: str, ts: datetime, user: str, account: str) -> None:
        """Record that ``user`` (``account``) accessed removable storage on ``host`` at ``ts``."""
        self.removable.setdefault(host, []).append((ts, user, account))
        self._removable_sorted.pop(host, None)

    def _by_start(self, host: str) -> tuple[list[tuple[datetime, str, str, str]],
                                            list[datetime]]:
        """``host``'s logons ordered by (start, user, account) and their starts, built when a
        person is first looked up there (devices are resolved after every logon is read)."""
        if host not in self._ordered:
            ordered = sorted((start, user, account, logon_id)
                             for start, logon_id, user, account in self.logons.get(host, []))
            self._ordered[host] = ordered, [entry[0] for entry in ordered]
        return self._ordered[host]

    def _latest_open(self, host: str, ts: datetime) -> tuple[str, str] | None:
        """The person whose interactive logon on ``host`` was open at ``ts``: of the open
        logons, the one that started last (ties: the greatest user, then account).

        Looked up from the logons before ``ts`` backwards, so that the first open one ends the
        search (scanning every logon of the computer for each device made a large file's
        devices cost the square of its logons).
        """
        ordered, starts = self._by_start(host)
        found: tuple[datetime, str, str] | None = None
        for index in range(bisect.bisect_right(starts, ts) - 1, -1, -1):
            start, user, account, logon_id = ordered[index]
            if found is not None and start < found[0]:
                break  # every open logon that started at the latest instant is seen
            if self.ends.get((host, logon_id), datetime.max) >= ts:
                found = max(found, (start, user, account)) if found else (start, user, account)
        return None if found is None else (found[1], found[2])

    def _open_for(self, host: str, user: str, ts: datetime) -> bool:
        """Whether one of ``user``'s interactive logons on ``host`` was open at ``ts``: the
        latest end among their logons started by then reaches ``ts`` (a running maximum, so a
        lookup costs a bisection, not a scan of their logons)."""
        key = (host, user)
        if key not in self._user_spans:
            spans = sorted((start, self.ends.get((host, logon_id), datetime.max))
                           for start, logon_id, who, _ in self.logons.get(host, [])
                           if who == user)
            reach: list[datetime] = []
            for _, end in spans:
                reach.append(max(end, reach[-1]) if reach else end)
            self._user_spans[key] = [start for start, _ in spans], reach
        starts, reach = self._user_spans[key]
        index = bisect.bisect_right(starts, ts) - 1
        return index >= 0 and reach[index] >= ts

    def _users_on(self, host: str) -> set[str]:
        """Everyone with a logon on ``host``."""
        return {user for _, _, user, _ in self.logons.get(host, [])}

    def person_at(self, host: str, ts: datetime) -> tuple[str, str, str] | None:
        """Who connected a device on ``host`` at ``ts``, and from what that is known.

        The person whose interactive logon there was open then (the latest); where several
        people's were (a shared computer, fast user switching, a session left open), the one
        of them whose account used removable storage there first within
        :data:`REMOVABLE_USE_WINDOW` after: the drive's own file accesses name its user.
        With nobody logged on, that user alone.
        """
        if host not in self._removable_sorted:
            self._removable_sorted[host] = sorted(self.removable.get(host, []))
        used = self._removable_sorted[host]
        latest = self._latest_open(host, ts)
        first = bisect.bisect_left(used, (ts,))
        for when, user, account in used[first:]:
            if when > ts + REMOVABLE_USE_WINDOW:
                break
            if latest is None:
                return user, account, "removable storage access"
            if not self._open_for(host, user, ts):
                continue
            # the drive's user decides only between several people logged on
            if user != latest[0] or any(self._open_for(host, other, ts)
                                        for other in self._users_on(host) if other != user):
                return user, account, "removable storage access"
            break
        if latest is None:
            return None
        return latest[0], latest[1], "interactive logon"


def _flatten(e: _Event, sessions: _Sessions, final: bool = False
             ) -> dict[str, Any] | Unreadable | Skipped | _Marker:
    """The store columns of one event, or why it is skipped."""
    code = e.event_code
    if code is None:
        return Unreadable(e.line, e.number, "no event id", f"{e.location}no EventID", e.raw)
    ts_text = e.ts_text
    ts: datetime | None = None
    if ts_text is not None:
        if e.shape == "nxlog" and not _ZONE.search(ts_text.strip()):
            if e.utc_offset is None:
                return Unreadable(e.line, e.number, "time without zone",
                                  f"{e.location}EventTime {ts_text!r} has no zone: set NXLog's"
                                  " DateFormat to one with a zone (YYYY-MM-DDThh:mm:ss.sTZ)",
                                  e.raw)
            local = _timestamp(ts_text)
            ts = None if local is None else local - e.utc_offset
        else:
            ts = _timestamp(ts_text)
    d = lower_keys(e.data)
    host_full = (e.computer or "").strip()
    host = host_full.split(".", 1)[0].upper() if host_full else None
    details: dict[str, Any] = {"event_code": code, "computer": host_full or None,
                               "channel_name": e.channel, "shape": e.shape}
    if e.utc_offset is not None and ts is not None:
        details["utc_offset"] = _offset_text(e.utc_offset)
    action: str | None = None
    channel: str | None = None
    obj = host
    target: str | None = None
    prefix = "target" if code in (4624, 4634, 4647) else "subject"
    name = (d.get(f"{prefix}username") or "").strip()
    domain = (d.get(f"{prefix}domainname") or "").strip()
    sid = (d.get(f"{prefix}usersid") or "").strip()
    if code in (4624, 4634, 4647) and _is_service(name, sid):
        return Skipped(_service_reason(name))
    if code in (4624, 4634):
        logon_type = _integer(d.get("logontype"))
        kind, logon_action = LOGON_TYPES.get(logon_type or -1, (f"type {logon_type}", None))
        details["logon_type"] = logon_type
        details["logon_kind"] = kind
        if logon_action is None:
            return Skipped(f"logon type {logon_type} ({kind}): not a person at a computer")
        if code == 4634:
            if logon_action == "network_logon":
                return Skipped("logoff of a network logon (4634 type 3 or 8)")
            if kind in ("unlock", "cached_unlock"):
                # Windows ends the short logon session an unlock opens at once; the person's
                # desktop session goes on, so this is no logoff
                return Skipped("end of an unlock's logon session (4634 type 7 or 13)")
            action, channel = "logoff", "local"
        elif logon_action == "network_logon":
            action, channel = "network_logon", "network_share"
            details["source_ip"] = _dash(d.get("ipaddress"))
            details["source_workstation"] = _dash(d.get("workstationname"))
        else:
            action, channel = "logon", "local"
            if kind == "remote_interactive":
                details["source_ip"] = _dash(d.get("ipaddress"))
    elif code == 4647:
        action, channel = "logoff", "local"
    elif code == 4663:
        object_type = (d.get("objecttype") or "").strip().lower()
        if object_type not in ("file", ""):
            return Skipped(f"object access to a {object_type} (not a file)")
        access = _access(d.get("accesslist"), d.get("accessmask"))
        removable = e.task == REMOVABLE_STORAGE_TASK
        action = _file_action(access, removable)
        if action is None:
            return Skipped("file access without read, write or delete")
        channel = "removable_media" if removable else "local"
        obj = _dash(d.get("objectname"))
        details["process"] = _dash(d.get("processname"))
    elif code in (5140, 5145):
        share = (_dash(d.get("sharename")) or "").replace("\\\\*\\", f"\\\\{host or '*'}\\")
        if share.lower().endswith("\\ipc$"):
            return Skipped("named pipe on IPC$ (not a file)")
        if code == 5140:
            action, obj = "share_access", share
        else:
            relative = _dash(d.get("relativetargetname")) or ""
            action = _file_action(_access(d.get("accesslist"), d.get("accessmask")), False)
            if action is None:
                return Skipped("share access without read, write or delete")
            obj = share.rstrip("\\") + "\\" + relative.lstrip("\\") if relative else share
        channel = "network_share"
        details["source_ip"] = _dash(d.get("ipaddress"))
        details["share_path"] = _dash(d.get("sharelocalpath"))
    elif code == 6416:
        device_class = (d.get("classname") or "").strip()
        description = (d.get("devicedescription") or "").strip()
        if (device_class.lower() not in STORAGE_CLASSES
                and "mass storage" not in description.lower()):
            return Skipped(f"external device of class {device_class or 'unknown'}"
                           " (not storage)")
        action, channel = "device_connect", "removable_media"
        target = description or _dash(d.get("deviceid"))
        details["device_id"] = _dash(d.get("deviceid"))
        details["device_class"] = device_class or None
    elif code == 1102 and (e.channel or "Security").lower() == "security":
        # the Security log cleared: whoever did it wiped the record of what they did
        # before, the cover-up of an administrator's sabotage (C3)
        action, channel, obj = "audit_log_cleared", "local", e.channel or "Security"
        details["logon_id"] = _dash(d.get("subjectlogonid"))
    elif (code == 104 and (e.channel or "").lower() == "system"
          and (e.provider or "Microsoft-Windows-Eventlog").lower().endswith("eventlog")):
        # any other log cleared (System, Application, Sysmon's...), written to the System
        # log: the same cover-up as a 1102; the cleared log is LogFileCleared's Channel
        action, channel = "audit_log_cleared", "local"
        obj = _dash(d.get("channel")) or "System"
    elif code == 4688:
        return Skipped("process start (4688): the store has no process action")
    else:
        # named by its log: a Sysmon or System event id means something else than the
        # Security event of the same number
        return Skipped(f"{_log_name(e)} event {code} not read")
    if code == 6416 and _is_service(name, sid):
        # Windows names the computer account here; the person is the one logged on
        if not final:
            # after every logon and logoff of the file: exports may be newest first
            return _NEEDS_SESSION
        if ts is None:
            return Skipped("external device connected at an unreadable time: no person")
        person = sessions.person_at(host or "", ts)
        if person is None:
            return Skipped("external device connected with nobody logged on (in this file)")
        user_id, account, known_from = person
        details["account"] = account
        details["person_from"] = known_from
    else:
        if _is_service(name, sid):
            return Skipped(_service_reason(name))
        user_id = name.lower()
        details["account"] = f"{domain}\\{name}" if domain and "@" not in name else name
        details["sid"] = sid or None
    if action == "logon" and ts is not None:
        logon_key = (host or "", user_id, details.get("logon_type"))
        if sessions.last_logon.get(logon_key) == ts:
            return Skipped(SPLIT_TOKEN_TWIN)
        sessions.last_logon[logon_key] = ts
    if code == 4663 and channel == "removable_media" and ts is not None and host is not None:
        sessions.used_removable(host, ts, user_id, str(details["account"]))
    logon_id = (d.get("targetlogonid") or "").strip().lower()
    if ts is not None and host is not None and logon_id:
        if action == "logon":
            sessions.start(host, ts, logon_id, user_id, str(details["account"]))
        elif action == "logoff":
            sessions.end(host, ts, logon_id)
    record_id = None
    if e.record_number:
        record_id = record_event_id(host_full, e.channel, e.record_number)
        details["record_number"] = e.record_number
    return {
        "record_id": record_id, "ts": ts, "ts_text": ts_text, "shape": e.shape,
        "event_code": code, "action": action, "channel": channel, "user_id": user_id,
        "host": host, "object": obj, "target": target,
        "details": _dump({k: v for k, v in details.items() if v is not None}),
        "_line": e.line, "_record": e.number, "_raw": e.raw, "_dest": "events",
        "hr_kind": None, "hr_ts": None, "hr_attrs": None,
    }


def _log_name(e: _Event) -> str:
    """The log an event was written to (its channel), else the provider that wrote it.

    >>> _log_name(_Event("nxlog", 1, 1, "", 13, None, None, None, None, None, {},
    ...                  provider="Microsoft-Windows-Sysmon"))
    'Microsoft-Windows-Sysmon'
    """
    return (e.channel or "").strip() or (e.provider or "").strip() or "unnamed log"


def record_event_id(computer: str, channel: str | None, record_number: str) -> str:
    """The event id of a record: from its computer, channel and ``EventRecordID``, so that the
    same record read from an EVTX file and from Winlogbeat is stored once.

    >>> record_event_id("WS-1.corp.example", "Security", "7") == record_event_id(
    ...     "ws-1.CORP.example", None, "7")
    True
    """
    key = f"{computer.strip().lower()}\x00{(channel or 'security').lower()}\x00{record_number}"
    return "win:" + hashlib.sha256(key.encode()).hexdigest()[:28]


def _task(value: object) -> int | None:
    """A task as its number: Event XML and NXLog write the number, Winlogbeat the name.

    >>> _task("12812"), _task("Removable Storage"), _task("Something else")
    (12812, 12812, None)
    """
    number = _integer(value)
    if number is not None:
        return number
    return TASK_NUMBERS.get(value.strip().lower()) if isinstance(value, str) else None


def _is_service(name: str, sid: str) -> bool:
    lowered, sid = name.lower(), sid.lower()
    return (lowered.endswith("$") or lowered in SERVICE_NAMES or sid in SERVICE_SIDS
            or lowered.startswith(_SERVICE_NAME_PREFIXES)
            or sid.startswith(_SERVICE_SID_PREFIXES))


def _service_reason(name: str) -> str:
    if name.endswith("$"):
        return "machine account (not a person)"
    return "well-known service account (not a person)"


def _access(access_list: str | None, access_mask: str | None) -> int:
    """The access rights of a 4663/5145 as bits (from its list of codes, else its mask).

    >>> _access("%%4416\\n\\t\\t\\t\\t%%4417", None), _access(None, "0x10000")
    (3, 65536)
    """
    bits = 0
    for word in re.split(r"[\s,]+", access_list or ""):
        bits |= _ACCESS_CODES.get(word, 0) | _ACCESS_WORDS.get(word.lower(), 0)
    if bits == 0 and access_mask:
        mask = access_mask.strip().lower()
        try:
            bits = int(mask, 16) if mask.startswith("0x") else int(mask)
        except ValueError:
            bits = 0
    return bits


def _file_action(access: int, removable: bool) -> str | None:
    if access & _DELETE:
        return "file_delete"
    if access & (_WRITE | _APPEND):
        return "file_copy" if removable else "file_write"
    if access & _READ:
        return "file_open"
    return None


# -- shapes -------------------------------------------------------------------------------
def _xml_event(element: ET.Element, shape: str, line: int | None, number: int, raw: str,
               location: str = "") -> _Event:
    """The fields of one ``<Event>`` element."""
    system = element.find(f"{_NS}System")
    if system is None:
        system = element.find("System")
    ns = _NS if system is not None and system.tag.startswith("{") else ""

    def text(tag: str) -> str | None:
        found = system.find(f"{ns}{tag}") if system is not None else None
        return found.text.strip() if found is not None and found.text else None

    time = system.find(f"{ns}TimeCreated") if system is not None else None
    provider = system.find(f"{ns}Provider") if system is not None else None
    data: dict[str, str] = {}
    for block in ("EventData", "UserData"):
        holder = element.find(f"{ns}{block}")
        if holder is None:
            continue
        for item in holder.iter():
            field = item.get("Name") or (item.tag.split("}", 1)[-1]
                                         if item is not holder and len(item) == 0 else None)
            if field:
                data[field] = (item.text or "").strip()
    return _Event(shape, line, number, raw, _integer(text("EventID")),
                  time.get("SystemTime") if time is not None else None, text("Computer"),
                  text("Channel"), text("EventRecordID"), _integer(text("Task")), data,
                  location, provider=provider.get("Name") if provider is not None else None)


def _xml_segments(path: Path, block_size: int = 8 * 1024 * 1024
                  ) -> Iterator[tuple[int, str]]:
    """The text from each ``<Event`` start tag to the next one (or the end), with the line it
    starts on, read in blocks: a ``wevtutil qe`` export can be larger than memory should
    hold. Text before the first event (an XML declaration, ``<Events>``) holds no record."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    buffer = ""
    line = 1  # the line the buffer starts on
    with open_utf8(path) as handle:
        while True:
            block = handle.read(block_size)
            final = not block
            buffer += decoder.decode(block, final)
            starts = [m.start() for m in _EVENT_START.finditer(buffer)]
            if not starts:
                if final:
                    return
                # no event yet: keep a tail where a start tag may be cut off
                cut = max(0, len(buffer) - 16)
                line += buffer.count("\n", 0, cut)
                buffer = buffer[cut:]
                continue
            # the last segment may go on in the next block
            complete = starts if final else starts[:-1]
            line += buffer.count("\n", 0, starts[0])
            for i, at in enumerate(complete):
                until = starts[i + 1] if i + 1 < len(starts) else len(buffer)
                yield line, buffer[at:until]
                line += buffer.count("\n", at, until)
            if final:
                return
            buffer = buffer[starts[-1]:]


def _xml_events(path: Path) -> Iterator[_Event | Unreadable]:
    """Each ``<Event>`` of an XML file; one that is damaged costs itself alone."""
    for number, (line, segment) in enumerate(_xml_segments(path), start=1):
        end = segment.find(_EVENT_END)
        if end < 0:
            yield Unreadable(line, number, "truncated event", "no </Event> before the next"
                             " event or the end of the file", segment[:2000])
            continue
        raw = segment[:end + len(_EVENT_END)]
        try:
            element = _parse_xml(raw)
        except ET.ParseError as error:
            yield Unreadable(line, number, "invalid XML", str(error), raw[:2000])
            continue
        yield _xml_event(element, "event_xml", line, number, raw)


def _ndjson_events(path: Path) -> Iterator[_Event | Unreadable]:
    # this reader has always dropped a byte order mark from every line, and called a cut
    # last line plain "invalid JSON"
    lines = json_lines(path, name_truncation=False, bom_on_every_line=True)
    for number, line in enumerate(lines, start=1):
        if isinstance(line, BadJsonLine):
            yield line.unreadable(number)
            continue
        line_no, text, value = line
        yield _json_event(value, line_no, number, text)


def _json_document_events(path: Path) -> Iterator[_Event | Unreadable]:
    """A JSON array (or one pretty-printed object, or Elasticsearch's ``hits.hits``)."""
    # a byte order mark has always made the whole document unreadable here
    items = whole_document_items(path, strip_bom=False)
    if isinstance(items, Unreadable):
        yield items
        return
    for number, item in enumerate(items, start=1):
        yield _json_event(item, None, number, _dump(item))


def _json_event(value: object, line: int | None, number: int, raw: str) -> _Event | Unreadable:
    if isinstance(value, dict) and isinstance(value.get("_source"), dict):
        value = value["_source"]
    if not isinstance(value, dict):
        return Unreadable(line, number, "not a JSON object", f"got {type(value).__name__}", raw)
    winlog = value.get("winlog")
    if isinstance(winlog, dict):
        data = winlog.get("event_data")
        if not isinstance(data, dict):
            data = {}
        user_data = winlog.get("user_data")
        if isinstance(user_data, dict):
            data = {**user_data, **data}
        event = value.get("event") if isinstance(value.get("event"), dict) else {}
        assert isinstance(event, dict)
        code = _integer(winlog.get("event_id")) or _integer(event.get("code"))
        return _Event("winlogbeat", line, number, raw, code, _text(value.get("@timestamp")),
                      _text(winlog.get("computer_name")), _text(winlog.get("channel")),
                      _text(winlog.get("record_id")), _task(winlog.get("task")),
                      {str(k): _text(v) or "" for k, v in data.items()},
                      provider=(_text(winlog.get("provider_name"))
                                or _text(event.get("provider"))))
    if "EventID" in value:
        reserved = {"eventid", "eventtime", "hostname", "recordnumber", "channel", "task"}
        data = {str(k): _text(v) or "" for k, v in value.items()
                if str(k).lower() not in reserved}
        return _Event("nxlog", line, number, raw, _integer(value.get("EventID")),
                      _text(value.get("EventTime")), _text(value.get("Hostname")),
                      _text(value.get("Channel")), _text(value.get("RecordNumber")),
                      _integer(value.get("Task")), data,
                      utc_offset=_collector_offset(_text(value.get("@timestamp")),
                                                   _text(value.get("EventReceivedTime"))),
                      provider=_text(value.get("SourceName")))
    return Unreadable(line, number, "not a Windows event",
                      "no winlog object (Winlogbeat) and no EventID (NXLog)", raw)


# -- EVTX ---------------------------------------------------------------------------------
def evtx_record_locations(path: Path) -> list[Located]:
    """Every record of an EVTX file, found from the chunk and record headers alone.

    Chunks are 64 KiB after a 4 KiB file header; records start 512 bytes into a chunk, each
    with the magic ``**\\0\\0``, its size and its record id, and end with their size again.
    A chunk whose header is damaged is searched for records by that signature; a damaged
    chunk in which none is found counts once (as one unreadable piece), so the damage is
    still accounted for. A chunk of zeros is unused.
    """
    found: list[Located] = []
    with path.open("rb") as handle:
        handle.seek(4096)
        index = 0
        while True:
            chunk = handle.read(_CHUNK_SIZE)
            if len(chunk) < 512:
                break
            base = 4096 + index * _CHUNK_SIZE
            if chunk.startswith(_CHUNK_MAGIC):
                free = struct.unpack_from("<I", chunk, 48)[0]
                found.extend(Located(index, rid, base + at)
                             for rid, at in _walk_records(chunk, 512, min(free, len(chunk))))
            elif any(chunk):
                records = _search_records(chunk)
                found.extend(Located(index, rid, base + at) for rid, at in records)
                if not records:
                    found.append(Located(index, None, base))
            index += 1
    return found


def _walk_records(chunk: bytes, start: int, end: int) -> list[tuple[int, int]]:
    records = []
    at = start
    while at + 24 <= end and chunk[at:at + 4] == _RECORD_MAGIC:
        size, record_id = struct.unpack_from("<IQ", chunk, at + 4)
        if size < 28:
            break
        records.append((record_id, at))
        if at + size > len(chunk):
            break  # cut off by the end of the file: still a record, counted (and unreadable)
        at += size
    return records


def _search_records(chunk: bytes) -> list[tuple[int, int]]:
    """Records of a chunk whose header is damaged: the magic with its size repeated at the
    record's end."""
    records = []
    at = chunk.find(_RECORD_MAGIC, 512)
    while 0 <= at <= len(chunk) - 28:
        size, record_id = struct.unpack_from("<IQ", chunk, at + 4)
        if 28 <= size <= len(chunk) - at and struct.unpack_from(
                "<I", chunk, at + size - 4)[0] == size:
            records.append((record_id, at))
            at += size
            at = chunk.find(_RECORD_MAGIC, at)
        else:
            at = chunk.find(_RECORD_MAGIC, at + 4)
    return records


_RECORD_ERROR = re.compile(r"record number (\d+)")
_CHUNK_ERROR = re.compile(r"chunk number (\d+)")


def _evtx_events(path: Path) -> Iterator[_Event | Unreadable]:
    """Records of an EVTX file through the ``evtx`` package. A record it cannot read, and
    every record of a chunk it cannot read, is unreadable with its chunk and byte offset;
    those it does not return at all are too, so that nothing is lost silently."""
    import evtx

    located = evtx_record_locations(path)
    where = {loc.record_id: loc for loc in located if loc.record_id is not None}
    number_of = {loc.record_id: n for n, loc in enumerate(located, start=1)
                 if loc.record_id is not None}
    record_errors: dict[int, str] = {}
    chunk_errors: dict[int, str] = {}
    other_errors: list[str] = []
    returned: set[int] = set()
    try:
        records: Iterator[Any] = iter(evtx.PyEvtxParser(str(path)).records())
    except (RuntimeError, OSError, ValueError) as error:
        # the file header itself is damaged: every record found is unreadable, with its place
        records = iter(())
        other_errors.append(f"the file cannot be opened as EVTX: {error}")
    extra = len(located)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except (RuntimeError, OSError, ValueError) as error:
            message = str(error)
            by_record = _RECORD_ERROR.search(message)
            by_chunk = _CHUNK_ERROR.search(message)
            if by_record:
                record_errors[int(by_record.group(1))] = message
            elif by_chunk:
                chunk_errors[int(by_chunk.group(1))] = message
            else:
                other_errors.append(message)
            continue
        record_id = int(record.get("event_record_id") or 0)
        returned.add(record_id)
        loc = where.get(record_id)
        if loc is None:
            extra += 1
            number, location = extra, "record not found by the header walk: "
        else:
            number = number_of[record_id]
            location = f"chunk {loc.chunk}, byte {loc.offset}: "
        raw = str(record.get("data") or "")
        try:
            element = _parse_xml(raw)
        except ET.ParseError as error:
            yield Unreadable(None, number, "invalid XML", f"{location}{error}", raw[:2000])
            continue
        yield _xml_event(element, "evtx", None, number, raw, location)
    for n, loc in enumerate(located, start=1):
        if loc.record_id is not None and loc.record_id in returned:
            continue
        place = f"chunk {loc.chunk}, byte {loc.offset}"
        if loc.record_id is None:
            yield Unreadable(None, n, "corrupt chunk", f"{place}: no record could be found;"
                             f" {chunk_errors.get(loc.chunk, 'damaged chunk header')}", "")
            continue
        message = (record_errors.get(loc.record_id) or chunk_errors.get(loc.chunk)
                   or (other_errors[0] if other_errors else "not returned by the parser"))
        yield Unreadable(None, n, "corrupt chunk",
                         f"{place}, record id {loc.record_id}: {message}", "")


def _count_start_tags(path: Path, block_size: int = 8 * 1024 * 1024) -> int:
    """``<Event`` start tags in a file's bytes, block by block (a tag cut by a block's end is
    found in the next: the blocks overlap by a tag's length)."""
    pattern = re.compile(rb"<Event[\s>/]")
    count = 0
    tail = b""
    with open_utf8(path) as handle:
        while block := handle.read(block_size):
            data = tail + block
            # a tag that ends in the overlap was counted with the block before
            count += sum(1 for m in pattern.finditer(data) if m.end() > len(tail))
            tail = data[-6:]
    return count


# -- small helpers ------------------------------------------------------------------------
_NOT_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _parse_xml(raw: str) -> ET.Element:
    """One event's XML. Windows writes control characters that XML 1.0 forbids into some
    fields (an empty password-policy value as U+0000); they become U+FFFD instead of costing
    the whole event."""
    text = _DECLARATION.sub("", raw)
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        cleaned = _NOT_XML_CHARS.sub("\ufffd", text)
        if cleaned == text:
            raise
        return ET.fromstring(cleaned)


def _file_shape(path: Path) -> str:
    """``evtx``, ``xml``, ``ndjson`` or ``document`` (a JSON array or pretty-printed JSON)."""
    with open_binary(path) as handle:
        if handle.read(8) == _EVTX_MAGIC:
            return "evtx"
    with open_utf8(path) as handle:
        head = handle.read(_HEAD).decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        return "xml"
    return "ndjson" if head.startswith("{") and not _is_pretty(head) else "document"


def _is_pretty(head: str) -> bool:
    """Whether a JSON file starting with ``{`` is one pretty-printed document, not NDJSON: its
    first line opens an object or a list, or ends with a comma. A first NDJSON record that is
    damaged (cut off, say) is still NDJSON, so that it costs that record alone.

    >>> _is_pretty('{'), _is_pretty('{"winlog": {"event_id": 46'), _is_pretty('{}')
    (True, False, False)
    """
    first = head.split("\n", 1)[0].strip()
    return first in ("{", "") or first.endswith(("{", "[", ","))


def _dump(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool | int | float):
        return str(value)
    return _dump(value)


def _dash(value: str | None) -> str | None:
    """A field's value, or None where Windows writes ``-`` for "none"."""
    value = (value or "").strip()
    return None if value in ("", "-") else value


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -2**31 <= value < 2**31 else None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
        return int(value)
    return None


_QUARTER_HOUR = timedelta(minutes=15)
_MAX_SHIPPING_DELAY = timedelta(minutes=5)


def _collector_offset(shipped_utc: str | None, received_local: str | None) -> timedelta | None:
    """NXLog's local offset from UTC (local = UTC + offset): its local receipt time less a
    shipper's UTC stamp, rounded to a quarter hour; None unless both are there, the stamp has a
    zone, the receipt time has none, and the rest (the shipping delay) is under five minutes.

    >>> _offset_text(_collector_offset("2020-09-22T18:53:32.341Z", "2020-09-22 14:53:32"))
    '-04:00'
    >>> _collector_offset("2020-09-22T18:53:32Z", "2020-09-22 14:45:00") is None
    True
    """
    if (shipped_utc is None or received_local is None or not _ZONE.search(shipped_utc.strip())
            or _ZONE.search(received_local.strip())):
        return None
    utc, local = _timestamp(shipped_utc), _timestamp(received_local)
    if utc is None or local is None:
        return None
    gap = local - utc
    offset = round(gap / _QUARTER_HOUR) * _QUARTER_HOUR
    if abs(gap - offset) >= _MAX_SHIPPING_DELAY or abs(offset) > timedelta(hours=14):
        return None
    return offset


def _offset_text(offset: timedelta) -> str:
    """``+HH:MM`` of an offset from UTC.

    >>> _offset_text(timedelta(hours=-4)), _offset_text(timedelta(hours=5, minutes=30))
    ('-04:00', '+05:30')
    """
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _timestamp(value: str) -> datetime | None:
    """An event time as naive UTC, or None.

    >>> _timestamp("2016-07-08T18:12:51.6816408Z")
    datetime.datetime(2016, 7, 8, 18, 12, 51, 681640)
    >>> _timestamp("2024-03-01 09:00:00+01:00")
    datetime.datetime(2024, 3, 1, 8, 0)
    """
    text = _FRACTION.sub(lambda m: m.group(1), value.strip().removesuffix(" UTC"))
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return utc_naive(parsed)


__all__ = ["LOGON_TYPES", "REMOVABLE_STORAGE_TASK", "SPLIT_TOKEN_TWIN", "STORAGE_CLASSES",
           "TASK_NUMBERS", "WindowsSecurity", "evtx_record_locations", "record_event_id"]
