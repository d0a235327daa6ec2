"""Writing a simulated organisation: CERT-layout CSVs, JSONL for the rest, and the answers.

What people do and what gets logged are kept apart. With the ``full`` telemetry profile each
event goes to the CERT file of the chosen layout when that layout can say it exactly, and to
``events.jsonl`` (event schema, ``source`` ``sim.*``) when it cannot — e.g. r4.2 has no file
opens, no received mail and no uploads, r5.2 no uploads — so nothing is lost. The other profiles
(:data:`TELEMETRY`) write only what a real deployment of that kind logs: an act its logs cannot
see is simply not written (and not labelled), though it still happened and still counts in the
insider's period. Rows are written day by day in time order; files are streamed, never held in
memory.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import orjson

from molehunt.simulate.background import mail_channel
from molehunt.simulate.buffer import (
    DEVICE_LABEL,
    DEVICE_TREE,
    EMAIL_ACTIVITY,
    EMAIL_ATTACHMENTS,
    EMAIL_BCC,
    EMAIL_CC,
    EMAIL_CONTENT,
    EMAIL_DOCS,
    EMAIL_FROM,
    EMAIL_LABEL,
    EMAIL_SIZE,
    EMAIL_TO,
    FILE_ACTIVITY,
    FILE_CONTENT,
    FILE_DOC,
    FILE_FROM_MEDIA,
    FILE_LABEL,
    FILE_PATH,
    FILE_TO_MEDIA,
    HTTP_DOMAIN,
    HTTP_LABEL,
    LOGON_ACTIVITY,
    LOGON_LABEL,
    OTHER_LABEL,
    OTHER_RECORD,
    PC,
    SEC,
    USER,
    DayBuffer,
    Label,
)
from molehunt.simulate.documents import Document
from molehunt.simulate.organisation import Organisation, ldap_rows

#: The CERT releases whose layout a simulation can write (one of each family r4, r5, r6).
LAYOUTS = ("r4.2", "r5.2", "r6.2")
#: Every file a simulation can write besides ``company.json`` and ``answers/``.
_ALL_FILES = frozenset({"logon", "device", "file", "email", "http", "events", "hr_events",
                        "documents", "psychometric", "ldap"})
_CERT_FILES = frozenset({"logon", "device", "file", "email", "http", "psychometric", "ldap"})


@dataclass(frozen=True)
class Telemetry:
    """What one kind of deployment logs: the CERT layout and the files it writes."""

    name: str
    #: The CERT layout the profile's files have; ``None``: the simulation's ``layout``.
    layout: str | None
    files: frozenset[str]
    description: str
    #: ``cert``: CERT files plus JSONL (:class:`Writer`); ``enterprise``: vendor formats
    #: (:class:`molehunt.simulate.enterprise.EnterpriseWriter`; ``files`` and ``layout`` unused)
    formats: str = "cert"


#: The telemetry profiles of ``molehunt simulate --telemetry`` (DESIGN.md §6b).
TELEMETRY: dict[str, Telemetry] = {t.name: t for t in (
    Telemetry("full", None, _ALL_FILES,
              "everything the simulation knows: CERT files plus JSONL for printing, meetings,"
              " HR events, the documents table and what the layout cannot say"),
    Telemetry("cert-r6.2", "r6.2", _CERT_FILES,
              "exactly the files and columns of the public CERT r6.2 release: no HR events but"
              " the monthly LDAP snapshots, no documents table, no printing or meetings"),
    Telemetry("cert-r5.2", "r5.2", _CERT_FILES,
              "exactly the files and columns of the public CERT r5.2 release: sent and"
              " received mail, file activity with its removable-media direction, web visits"
              " without upload/download, no HR events but the monthly LDAP snapshots"),
    Telemetry("cert-r4.2", "r4.2", _CERT_FILES,
              "exactly the files and columns of the public CERT r4.2 release: web visits"
              " without upload/download, files only as copies to removable media, no received"
              " mail, no HR events but the monthly LDAP snapshots"),
    Telemetry("sparse", "r6.2", frozenset({"logon", "email", "http", "ldap"}),
              "a deployment with only logons, a web proxy and the mail gateway (plus the"
              " directory): no endpoint agent, no removable media, no file activity"),
    Telemetry("enterprise", None, frozenset(),
              "what a security team at a technology company has, in the vendors' formats:"
              " the Microsoft 365 audit log (SharePoint, Exchange, Endpoint DLP), Windows"
              " Security events (Winlogbeat), a Zscaler web proxy, the Purview HR connector's"
              " CSV and the directory", formats="enterprise"),
)}

_HEADERS_R4 = {
    "logon": ["id", "date", "user", "pc", "activity"],
    "device": ["id", "date", "user", "pc", "activity"],
    "file": ["id", "date", "user", "pc", "filename", "content"],
    "email": ["id", "date", "user", "pc", "to", "cc", "bcc", "from", "size", "attachments",
              "content"],
    "http": ["id", "date", "user", "pc", "url", "content"],
}
_HEADERS_R6 = {
    "logon": ["id", "date", "user", "pc", "activity"],
    "device": ["id", "date", "user", "pc", "file_tree", "activity"],
    "file": ["id", "date", "user", "pc", "filename", "activity", "to_removable_media",
             "from_removable_media", "content"],
    "email": ["id", "date", "user", "pc", "to", "cc", "bcc", "from", "activity", "size",
              "attachments", "content"],
    "http": ["id", "date", "user", "pc", "url", "activity", "content"],
}
#: r5.x: r6's columns, but a web log without activity (as r4's)
_HEADERS_R5 = {**_HEADERS_R6, "http": _HEADERS_R4["http"]}
_LDAP_R4 = ["employee_name", "user_id", "email", "role", "business_unit", "functional_unit",
            "department", "team", "supervisor"]
_LDAP_R5 = ["employee_name", "user_id", "email", "role", "projects", "business_unit",
            "functional_unit", "department", "team", "supervisor"]
_ID_TAGS = {"logon": "L", "device": "D", "file": "F", "email": "E", "http": "H", "other": "X"}
_CLOCK = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]


def event_id(kind: str, number: int, run: str) -> str:
    """A CERT-looking id, unique per kind, number and simulation run.

    >>> event_id("logon", 1, "7F3A")
    '{L7F3A-0000000001}'
    """
    return f"{{{_ID_TAGS[kind]}{run}-{number:010X}}}"


def run_tag(*settings: object) -> str:
    """Four hex digits naming a simulation's settings, so that the ids of two different
    simulations differ (the store keeps one event per id).

    >>> run_tag(1000, 500, 7) == run_tag(1000, 500, 7) != run_tag(1000, 500, 8)
    True
    """
    return hashlib.sha256(repr(settings).encode()).hexdigest()[:4].upper()


class Writer:
    """Streams one simulated organisation into ``folder`` in the given layout."""

    def __init__(self, folder: Path, layout: str, org: Organisation, run: str,
                 logged: frozenset[str] = _ALL_FILES) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
        self.folder = folder
        self.layout = layout
        # what the release's columns can say (its readme): r5 brought device file trees, file
        # activities with their direction and received mail; r6 the web activity
        self.device_trees = self.file_activities = layout != "r4.2"
        #: the release's word for received mail (the simulation's "View"), None: not logged
        self.inbound_word = {"r5.2": "Receive", "r6.2": "View"}.get(layout)
        self.web_activities = layout == "r6.2"
        self.org = org
        self.run = run
        #: the files this deployment logs (:attr:`Telemetry.files`)
        self.logged = logged
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "answers").mkdir(exist_ok=True)
        self._handles: list[IO[Any]] = []
        release_headers = {"r4.2": _HEADERS_R4, "r5.2": _HEADERS_R5, "r6.2": _HEADERS_R6}
        headers = {kind: header for kind, header in release_headers[layout].items()
                   if kind in logged}
        self._csv = {kind: self._open_csv(folder / f"{kind}.csv", header)
                     for kind, header in headers.items()}
        self._raw = {kind: self._handles[number] for number, kind in enumerate(headers)}
        self._events = self._open(folder / "events.jsonl", "wb") if "events" in logged \
            else None
        self._hr = self._open(folder / "hr_events.jsonl", "wb") if "hr_events" in logged \
            else None
        self._labels = self._open_csv(folder / "answers" / "labels.csv",
                                      ["event_id", "scenario", "user", "role", "instance",
                                       "file"])
        self._counters = dict.fromkeys(_ID_TAGS, 0)
        self._iso = ""
        self.rows: dict[str, int] = {}
        #: (scenario instance, user) → first and last time of a labelled event (ISO)
        self.spans: dict[tuple[str, str], list[str]] = {}

    def _open(self, path: Path, mode: str) -> IO[Any]:
        handle = path.open(mode) if "b" in mode else path.open(mode, newline="",
                                                               encoding="utf-8")
        self._handles.append(handle)
        return handle

    def _open_csv(self, path: Path, header: list[str]) -> Any:
        writer = csv.writer(self._open(path, "w"), lineterminator="\n")
        writer.writerow(header)
        return writer

    def _next_id(self, kind: str) -> str:
        self._counters[kind] += 1
        return event_id(kind, self._counters[kind], self.run)

    def _label(self, identifier: str, label: Label | None, file: str, sec: int) -> None:
        if label is None:
            return
        self._labels.writerow((identifier, label.scenario, label.insider, label.role,
                               label.instance, file))
        self._act(label, sec)

    def _act(self, label: Label | None, sec: int) -> None:
        """Extend the insider's period by a malicious act, logged or not."""
        if label is None:
            return
        when = self._iso + _CLOCK[sec]
        span = self.spans.setdefault((label.instance, label.insider), [when, when])
        span[0], span[1] = min(span[0], when), max(span[1], when)

    def _count(self, file: str, n: int = 1) -> None:
        self.rows[file] = self.rows.get(file, 0) + n

    def write_day(self, buffer: DayBuffer) -> None:
        """Write one day's events, each file in time order."""
        for rows in (buffer.logon, buffer.device, buffer.file, buffer.email, buffer.http,
                     buffer.other):
            late = next((row for row in rows if not 0 <= row[SEC] < 86400), None)
            if late is not None:
                # a generator bug, said plainly rather than as an IndexError in the clock
                raise ValueError(f"simulation day {buffer.day}: an event at second {late[SEC]}"
                                 f" of the day (0-86399): {late[:4]}")
        day = self.org.day_date(buffer.day)
        prefix = day.strftime("%m/%d/%Y ")
        iso = self._iso = day.isoformat() + "T"
        writers: tuple[tuple[str, list[Any], int, Callable[[], None]], ...] = (
            ("logon", buffer.logon, LOGON_LABEL, partial(self._write_logon, buffer, prefix)),
            ("device", buffer.device, DEVICE_LABEL, partial(self._write_device, buffer, prefix)),
            ("file", buffer.file, FILE_LABEL, partial(self._write_file, buffer, prefix, iso)),
            ("email", buffer.email, EMAIL_LABEL, partial(self._write_email, buffer, prefix, iso)),
            ("http", buffer.http, HTTP_LABEL, partial(self._write_http, buffer, prefix, iso)))
        for kind, rows, label_at, write in writers:
            if kind in self.logged:
                write()
            else:  # a deployment that cannot log it: the acts still happened
                for row in rows:
                    self._act(row[label_at], row[SEC])
        others = sorted(buffer.other, key=lambda r: (r[SEC], r[USER]))
        for row in others:
            self._jsonl_event(row[SEC], iso, row[OTHER_RECORD], row[OTHER_LABEL])
        if self._hr is not None:
            for record in sorted(buffer.hr, key=lambda r: (r["ts"], r["user_id"], r["kind"])):
                self._hr.write(orjson.dumps(record) + b"\n")
                self._count("hr_events.jsonl")

    def _jsonl_event(self, sec: int, iso: str, record: dict[str, Any],
                     label: Label | None) -> None:
        if self._events is None:  # a deployment that cannot log it: the act still happened
            self._act(label, sec)
            return
        identifier = self._next_id("other")
        record = {"event_id": identifier, "ts": iso + _CLOCK[sec], **record}
        self._events.write(orjson.dumps(record) + b"\n")
        self._count("events.jsonl")
        self._label(identifier, label, "events.jsonl", sec)

    def _write_logon(self, buffer: DayBuffer, prefix: str) -> None:
        writer = self._csv["logon"]
        buffer.logon.sort(key=itemgetter(SEC, USER))
        for row in buffer.logon:
            identifier = self._next_id("logon")
            writer.writerow((identifier, prefix + _CLOCK[row[SEC]], row[USER], row[PC],
                             row[LOGON_ACTIVITY]))
            self._label(identifier, row[LOGON_LABEL], "logon.csv", row[SEC])
        self._count("logon.csv", len(buffer.logon))

    def _write_device(self, buffer: DayBuffer, prefix: str) -> None:
        writer = self._csv["device"]
        buffer.device.sort(key=itemgetter(SEC, USER))
        for row in buffer.device:
            identifier = self._next_id("device")
            stamp = prefix + _CLOCK[row[SEC]]
            if self.device_trees:
                writer.writerow((identifier, stamp, row[USER], row[PC], row[DEVICE_TREE] or "",
                                 row[3]))
            else:
                writer.writerow((identifier, stamp, row[USER], row[PC], row[3]))
            self._label(identifier, row[DEVICE_LABEL], "device.csv", row[SEC])
        self._count("device.csv", len(buffer.device))

    def _write_file(self, buffer: DayBuffer, prefix: str, iso: str) -> None:
        writer = self._csv["file"]
        buffer.file.sort(key=itemgetter(SEC, USER))
        for row in buffer.file:
            to_media, from_media = row[FILE_TO_MEDIA], row[FILE_FROM_MEDIA]
            if self.file_activities:
                identifier = self._next_id("file")
                writer.writerow((identifier, prefix + _CLOCK[row[SEC]], row[USER], row[PC],
                                 row[FILE_PATH], row[FILE_ACTIVITY], str(to_media),
                                 str(from_media), row[FILE_CONTENT]))
            elif row[FILE_ACTIVITY] == "File Copy" and to_media:
                identifier = self._next_id("file")
                writer.writerow((identifier, prefix + _CLOCK[row[SEC]], row[USER], row[PC],
                                 row[FILE_PATH], row[FILE_CONTENT]))
            else:
                document: Document | None = row[FILE_DOC]
                record = {
                    "user_id": row[USER], "host": row[PC], "source": "sim.file",
                    "action": row[FILE_ACTIVITY].lower().replace(" ", "_"),
                    "channel": "removable_media" if to_media or from_media else "local",
                    "object": row[FILE_PATH], "content": row[FILE_CONTENT],
                    "doc_id": document.doc_id if document else None,
                    "sensitivity": document.sensitivity if document else None,
                    "attrs": {"to_removable_media": to_media,
                              "from_removable_media": from_media},
                }
                self._jsonl_event(row[SEC], iso, record, row[FILE_LABEL])
                continue
            self._count("file.csv")
            self._label(identifier, row[FILE_LABEL], "file.csv", row[SEC])

    def _write_email(self, buffer: DayBuffer, prefix: str, iso: str) -> None:
        writer = self._csv["email"]
        buffer.email.sort(key=itemgetter(SEC, USER))
        for row in buffer.email:
            stamp = prefix + _CLOCK[row[SEC]]
            to, cc, bcc = (";".join(row[i]) for i in (EMAIL_TO, EMAIL_CC, EMAIL_BCC))
            attachments = row[EMAIL_ATTACHMENTS]
            if self.inbound_word is not None:
                identifier = self._next_id("email")
                listed = ";".join(f"{path}({size})" for path, size in attachments)
                activity = row[EMAIL_ACTIVITY]
                writer.writerow((identifier, stamp, row[USER], row[PC], to, cc, bcc,
                                 row[EMAIL_FROM],
                                 activity if activity == "Send" else self.inbound_word,
                                 row[EMAIL_SIZE], listed, row[EMAIL_CONTENT]))
            elif row[EMAIL_ACTIVITY] == "Send":
                identifier = self._next_id("email")
                writer.writerow((identifier, stamp, row[USER], row[PC], to, cc, bcc,
                                 row[EMAIL_FROM], row[EMAIL_SIZE], len(attachments),
                                 row[EMAIL_CONTENT]))
            else:  # r4.2 has no received mail
                docs: list[Document] = row[EMAIL_DOCS]
                sender = row[EMAIL_FROM]
                record = {
                    "user_id": row[USER], "host": row[PC], "source": "sim.email",
                    "action": "email_view", "channel": mail_channel(sender, self.org.domain),
                    "object": sender, "target": to, "domain": sender.rpartition("@")[2],
                    "bytes": row[EMAIL_SIZE], "n_attachments": len(attachments),
                    "content": row[EMAIL_CONTENT],
                    "doc_id": docs[0].doc_id if docs else None,
                    "sensitivity": max(d.sensitivity for d in docs) if docs else None,
                    "attrs": {"attachments": [path for path, _ in attachments]},
                }
                self._jsonl_event(row[SEC], iso, record, row[EMAIL_LABEL])
                continue
            self._count("email.csv")
            self._label(identifier, row[EMAIL_LABEL], "email.csv", row[SEC])

    def _write_http(self, buffer: DayBuffer, prefix: str, iso: str) -> None:
        # the bulk of all rows: one f-string per row, CSV quoting only where a field needs it
        buffer.http.sort(key=itemgetter(SEC, USER))
        head = "{" + _ID_TAGS["http"] + self.run + "-"
        number = self._counters["http"]
        handle, with_activity, clock = self._raw["http"], self.web_activities, _CLOCK
        separators = 6 if with_activity else 5
        lines: list[str] = []
        for row in buffer.http:
            sec, user, pc, url, activity, content, label = row[:HTTP_DOMAIN]
            # r4.2's and r5.2's web log has no activity column: where nothing else records the
            # direction (a cert-r4.2 or cert-r5.2 deployment), an upload or a download is just
            # another row of it
            if not with_activity and activity != "WWW Visit" and self._events is not None:
                category = row[HTTP_DOMAIN][1]
                record = {
                    "user_id": user, "host": pc, "source": "sim.http",
                    "action": "web_upload" if activity == "WWW Upload" else "web_download",
                    "channel": category if category in {"cloud_storage", "webmail"} else "web",
                    "object": url, "domain": row[HTTP_DOMAIN][0], "content": content,
                }
                self._jsonl_event(sec, iso, record, label)
                continue
            number += 1
            identifier = f"{head}{number:010X}}}"
            if with_activity:
                line = f"{identifier},{prefix}{clock[sec]},{user},{pc},{url},{activity},{content}"
            else:
                line = f"{identifier},{prefix}{clock[sec]},{user},{pc},{url},{content}"
            if line.count(",") != separators or '"' in line or "\n" in line:
                handle.write("".join(f"{x}\n" for x in lines))
                lines.clear()
                self._csv["http"].writerow([identifier, prefix + clock[sec], user, pc, url]
                                           + ([activity, content] if with_activity else [content]))
            else:
                lines.append(line)
            if label is not None:
                self._label(identifier, label, "http.csv", sec)
        if lines:
            handle.write("\n".join(lines) + "\n")
        self._count("http.csv", number - self._counters["http"])
        self._counters["http"] = number

    def close(self) -> None:
        """Flush and close every file."""
        for handle in self._handles:
            handle.close()
        self._handles.clear()


def write_ldap(folder: Path, org: Organisation, layout: str) -> int:
    """Monthly LDAP snapshots of the period (copies of the input files with ``--directory``)."""
    target = folder / "LDAP"
    target.mkdir(parents=True, exist_ok=True)
    if org.ldap_files:
        for path in org.ldap_files:
            (target / path.name).write_bytes(path.read_bytes())
        return len(org.ldap_files)
    header = _LDAP_R4 if layout == "r4.2" else _LDAP_R5
    month = date(org.start.year, org.start.month, 1)
    end = org.start + timedelta(days=org.days - 1)
    written = 0
    while month <= end:
        with (target / month.strftime("%Y-%m.csv")).open("w", newline="",
                                                         encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            for person in ldap_rows(org, month):
                boss = org.people[person.supervisor].name if person.supervisor is not None \
                    else ""
                row = [person.name, person.user_id, person.email, person.role]
                if layout != "r4.2":  # projects arrived with r5
                    row.append(";".join(person.projects))
                row += [person.business_unit, person.functional_unit, person.department,
                        person.team, boss]
                writer.writerow(row)
        written += 1
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return written


def write_documents(folder: Path, org: Organisation, documents: Iterable[Document]) -> int:
    """``documents.jsonl``: the corpus with labels, markings and text."""
    count = 0
    with (folder / "documents.jsonl").open("wb") as handle:
        for document in documents:
            created = org.day_date(document.created).isoformat()
            handle.write(orjson.dumps({
                "doc_id": document.doc_id, "path": document.path, "title": document.title,
                "project": document.project, "owner_id": org.people[document.owner].user_id,
                "team": document.team, "department": document.department,
                "business_unit": document.business_unit, "sensitivity": document.sensitivity,
                "marking": document.marking, "language": document.language,
                "created": created, "text": document.text,
            }) + b"\n")
            count += 1
    return count


def write_psychometric(folder: Path, org: Organisation, seed: int) -> None:
    """CERT's ``psychometric.csv`` (Big Five scores, unrelated to any scenario)."""
    rng = random.Random(f"psychometric/{seed}")
    with (folder / "psychometric.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["employee_name", "user_id", "O", "C", "E", "A", "N"])
        for person in org.people:
            writer.writerow([person.name, person.user_id,
                             *(min(50, max(10, round(rng.gauss(30, 8)))) for _ in range(5))])


def write_json(path: Path, value: Any) -> None:
    """A small JSON file, stable key order, for people and tools to read."""
    path.write_text(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")
