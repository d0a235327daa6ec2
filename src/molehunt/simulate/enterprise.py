"""The ``enterprise`` telemetry profile: the logs a security team at a technology company has.

The same acts as every other profile (:mod:`molehunt.simulate.output`), written in the vendor
formats molehunt's connectors read, each as that product logs it:

* ``m365/`` — the Microsoft 365 unified audit log as the Management Activity API delivers it
  (NDJSON, one file per content type): ``Audit.SharePoint`` (documents live in the projects'
  SharePoint sites: ``FileAccessed``, ``FileModified``, ``FileDeleted``, ``FileCopied``, each
  with the document's sensitivity label id), ``Audit.Exchange`` (``Send`` with its recipients,
  size and attachments, ``MailItemsAccessed`` for mail read) and ``Audit.General`` (Endpoint
  DLP on the onboarded computers: ``FileCopiedToRemovableMedia``, ``FileUploadedToCloud`` and
  ``FilePrinted`` of labelled documents, which is what Endpoint DLP audits).
* ``windows/security.ndjson`` — the Windows Security log of every computer as Winlogbeat ships
  it (``winlog.task`` the subcategory's name, as Winlogbeat writes it): 4624 (interactive logon
  type 2, unlock type 7 while a session is open), 4647 logoffs, 6416 for a removable drive
  connected (named by the computer account, as Windows does), 4663 file access audited by
  "Removable Storage" (a write for a copy to the drive, a read for one from it).
* ``proxy/zscaler_web.ndjson`` — the Zscaler NSS web feed (JSON): every request with the bytes
  the client sent, so an upload of a file is a POST of its size and a visit a GET of a few
  hundred bytes of headers.
* ``hr/`` — the Purview HR connector's CSV files: ``resignations.csv`` (a resignation's notice
  date and last working date; a termination or a layoff is a last working date alone, which is
  all that layout can say) and ``performance_improvement.csv`` (performance concerns).
* ``directory.jsonl`` — the directory in molehunt's canonical JSONL (``ingest jsonl --table
  directory``): no enterprise directory export (Entra ID, Active Directory) has a layout of its
  own yet, and this is the documented shape closest to one. ``user_id`` is the account name
  (as the CERT ids), ``email`` the UPN; exact joining and leaving days.

One person, three names: the UPN in Microsoft 365 and the proxy, ``DOMAIN\\account`` (and its
SID) in Windows. The store resolves them to the directory's ``user_id`` when it reads events
(:mod:`molehunt.store.people`).

What these logs cannot record is not written: meetings, printing of anything that is not a
labelled document, files on local disks and shares, device disconnections, the content of
mail, pages and files (so no content matching), travel, hires and declared engagements (HR
systems hold them; the Purview HR connector's layout does not), layoff announcements,
psychometric scores and the documents table. ``answers/labels.csv`` lists the stored event ids
of the logged malicious acts (an act logged twice, e.g. a copy to a drive by Windows and by
Endpoint DLP, has both).
"""

from __future__ import annotations

import csv
import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import orjson

from molehunt.simulate.buffer import (
    DEVICE_ACTIVITY,
    DEVICE_LABEL,
    EMAIL_ACTIVITY,
    EMAIL_ATTACHMENTS,
    EMAIL_BCC,
    EMAIL_CC,
    EMAIL_CONTENT,
    EMAIL_LABEL,
    EMAIL_SIZE,
    EMAIL_TO,
    FILE_ACTIVITY,
    FILE_DOC,
    FILE_FROM_MEDIA,
    FILE_LABEL,
    FILE_PATH,
    FILE_TO_MEDIA,
    HTTP_ACTIVITY,
    HTTP_CONTENT,
    HTTP_DOC,
    HTTP_DOMAIN,
    HTTP_LABEL,
    HTTP_URL,
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
from molehunt.simulate.organisation import Organisation, Person
from molehunt.sources.windows_security import record_event_id

#: Sensitivity labels as a tenant names them (level 0-4 → display name); their ids are
#: derived from the company (:func:`label_ids`) and listed in ``company.json``.
LABEL_NAMES = ("Public", "General", "Confidential", "Highly Confidential",
               "Highly Confidential - Core Technology")
#: The files the profile writes (besides ``company.json`` and ``answers/``).
FILES = ("m365/Audit.SharePoint.ndjson", "m365/Audit.Exchange.ndjson",
         "m365/Audit.General.ndjson", "windows/security.ndjson", "proxy/zscaler_web.ndjson",
         "hr/resignations.csv", "hr/performance_improvement.csv", "directory.jsonl")
_SHAREPOINT, _EXCHANGE, _GENERAL, _WINDOWS, _PROXY = FILES[:5]
_RESIGNATIONS, _IMPROVEMENT, _DIRECTORY = FILES[5:]
_CLOCK = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
_USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like"
               " Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0")
#: Zscaler's URL category of each simulated web category (its names, as NSS writes them).
_ZSCALER_CATEGORIES = {
    "general": "Miscellaneous or Unknown", "news": "News and Media",
    "social": "Social Networking", "webmail": "Web Mail",
    "cloud_storage": "Online and Cloud Storage", "job_board": "Job/Employment Search",
    "expert_network": "Professional Services", "hacking_tools": "Hacking",
    "paste_leak": "File Host",
}
_SHAREPOINT_OPERATIONS = {"File Open": "FileAccessed", "File Write": "FileModified",
                          "File Delete": "FileDeleted", "File Copy": "FileCopied"}
_AUDIT = "Microsoft-Windows-Security-Auditing"
#: Winlogbeat's ``winlog.task``: the audit subcategory's display name.
_TASKS = {4624: "Logon", 4647: "Logoff", 4663: "Removable Storage",
          6416: "Plug and Play Events"}


#: What every request of the simulated proxy has alike.
_PROXY_FIXED = (f'"reason":"Allowed","protocol":"HTTPS","action":"Allowed","status":"200",'
                f'"filetype":"None","useragent":{orjson.dumps(_USER_AGENT).decode()}')


def _json(text: str) -> str:
    """A JSON string literal."""
    return orjson.dumps(text).decode()


def label_ids(company: str) -> dict[int, str]:
    """The sensitivity label ids of a simulated tenant, level → id (stable per company).

    >>> ids = label_ids("DTAA")
    >>> len(set(ids.values())), ids == label_ids("DTAA")
    (5, True)
    """
    return {level: str(uuid.uuid5(uuid.NAMESPACE_URL, f"molehunt-sim/{company}/label/{name}"))
            for level, name in enumerate(LABEL_NAMES)}


def _guid(*parts: object) -> str:
    """A record id that looks like Microsoft's (a GUID), the same on every run."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"


@dataclass
class _Record:
    """One log record of the day before its id is known (ids follow time order)."""

    sec: int
    seq: int
    file: str
    make: Callable[[str], dict[str, Any]]
    label: Label | None
    #: Windows: the computer whose Security log writes it (its record numbers)
    computer: str = ""


class EnterpriseWriter:
    """Streams one simulated organisation into ``folder`` as enterprise logs (see the module).

    The same interface as :class:`molehunt.simulate.output.Writer`: :meth:`write_day` for each
    day, :meth:`close`, then :attr:`rows` and :attr:`spans`.
    """

    def __init__(self, folder: Path, org: Organisation, run: str) -> None:
        self.folder = folder
        self.org = org
        self.run = run
        self.tenant = org.company.lower()
        self.netbios = org.company.upper()
        self.organization_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"molehunt-sim/{org.company}"))
        self.labels = label_ids(org.company)
        self.people = {p.user_id: p for p in org.people}
        # sizes of requests and responses, which the simulation does not decide: drawn from a
        # stream of the writer's own, so the acts (and every other profile) stay as they are
        self._rng = random.Random(f"enterprise/{run}")
        domain = int(hashlib.sha256(org.company.encode()).hexdigest()[:24], 16)
        self._domain_sid = "S-1-5-21-" + "-".join(str((domain >> (32 * i)) % 4_000_000_000)
                                                  for i in range(3))
        (folder / "answers").mkdir(parents=True, exist_ok=True)
        self._handles: dict[str, IO[bytes]] = {}
        for name in FILES[:5]:
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handles[name] = path.open("wb")
        handle = (folder / "answers" / "labels.csv").open("w", newline="", encoding="utf-8")
        self._labels_handle = handle
        self._labels = csv.writer(handle, lineterminator="\n")
        self._labels.writerow(["event_id", "scenario", "user", "role", "instance", "file"])
        self._m365 = 0
        self._proxy = 0
        self._records: dict[str, int] = {}  # computer → last EventRecordID
        self._logon_ids: dict[str, int] = {}  # computer → last logon id
        #: (user, computer) → logon id of the open session
        self._sessions: dict[tuple[str, str], str] = {}
        self._hr: list[dict[str, Any]] = []
        self._ips: dict[str, str] = {}
        self._json_parts: dict[tuple[str, ...], str] = {}
        self._iso = ""
        self.rows: dict[str, int] = {}
        #: (scenario instance, user) → first and last time of a malicious act (ISO)
        self.spans: dict[tuple[str, str], list[str]] = {}

    # -- bookkeeping ----------------------------------------------------------------------
    def _act(self, label: Label | None, sec: int) -> None:
        """Extend the insider's period by a malicious act, logged or not."""
        if label is None:
            return
        when = self._iso + _CLOCK[sec]
        span = self.spans.setdefault((label.instance, label.insider), [when, when])
        span[0], span[1] = min(span[0], when), max(span[1], when)

    def _label(self, event_id: str, label: Label | None, file: str) -> None:
        if label is not None:
            self._labels.writerow((event_id, label.scenario, label.insider, label.role,
                                   label.instance, file))

    def _count(self, file: str, n: int = 1) -> None:
        self.rows[file] = self.rows.get(file, 0) + n

    def _sid(self, person: Person) -> str:
        return f"{self._domain_sid}-{1100 + person.index}"

    def _ip(self, pc: str) -> str:
        """The computer's address (fixed per computer)."""
        found = self._ips.get(pc)
        if found is None:
            number = int(hashlib.sha256(pc.encode()).hexdigest()[:6], 16)
            found = self._ips[pc] = (f"10.{16 + number % 16}.{number // 16 % 256}."
                                     f"{1 + number // 4096 % 254}")
        return found

    def _fqdn(self, pc: str) -> str:
        return f"{pc}.corp.{self.org.domain}"

    def _document_path(self, person: Person, project: str, name: str) -> str:
        """Where a document synced from its project's SharePoint site sits on a computer."""
        return (f"C:\\Users\\{person.user_id.lower()}\\{self.org.company}\\"
                f"{project} - Documents\\{name}")

    def _site(self, project: str) -> str:
        return f"https://{self.tenant}.sharepoint.com/sites/{project}"

    # -- one day --------------------------------------------------------------------------
    def write_day(self, buffer: DayBuffer) -> None:
        """Write one day's records, each file in time order."""
        for rows in (buffer.logon, buffer.device, buffer.file, buffer.email, buffer.http,
                     buffer.other):
            late = next((row for row in rows if not 0 <= row[SEC] < 86400), None)
            if late is not None:
                raise ValueError(f"simulation day {buffer.day}: an event at second {late[SEC]}"
                                 f" of the day (0-86399): {late[:4]}")
        day = self.org.day_date(buffer.day)
        self._iso = day.isoformat() + "T"
        records: list[_Record] = []
        self._windows(buffer, records)
        self._email(buffer, records)
        self._prints(buffer, records)
        self._web(buffer, day, records)
        self._flush(records)
        for record in sorted(buffer.hr, key=lambda r: (r["ts"], r["user_id"], r["kind"])):
            self._hr.append(record)

    def _windows(self, buffer: DayBuffer, records: list[_Record]) -> None:
        """Logons, drives and files on removable media, in the order they happened (a logon
        opens the session whose id the later records of that computer carry)."""
        merged: list[tuple[int, str, int, list[Any]]] = []
        for order, rows in enumerate((buffer.logon, buffer.device, buffer.file)):
            merged += [(row[SEC], row[USER], order, row) for row in rows]
        merged.sort(key=itemgetter(0, 1, 2))
        for _, _, order, row in merged:
            if order == 0:
                self._logon(row, records)
            elif order == 1:
                self._device(row, records)
            else:
                self._file(row, records)

    def _next_logon_id(self, pc: str) -> str:
        number = self._logon_ids.get(pc, 0x3E7) + 0x1A3
        self._logon_ids[pc] = number
        return f"0x{number:x}"

    def _subject(self, person: Person, logon_id: str) -> dict[str, str]:
        return {"SubjectUserSid": self._sid(person), "SubjectUserName": person.user_id,
                "SubjectDomainName": self.netbios, "SubjectLogonId": logon_id}

    def _windows_record(self, records: list[_Record], sec: int, pc: str, code: int,
                        data: dict[str, str], label: Label | None) -> None:
        self._act(label, sec)
        fqdn, iso = self._fqdn(pc), self._iso

        def make(record_number: str) -> dict[str, Any]:
            return {"@timestamp": f"{iso}{_CLOCK[sec]}.000Z",
                    "event": {"code": str(code), "kind": "event", "provider": _AUDIT,
                              "module": "security"},
                    "host": {"name": pc.lower()},
                    "winlog": {"channel": "Security", "computer_name": fqdn,
                               "event_id": str(code), "record_id": record_number,
                               "provider_name": _AUDIT, "task": _TASKS[code],
                               "opcode": "Info", "keywords": ["Audit Success"],
                               "event_data": data},
                    "agent": {"type": "winlogbeat", "version": "8.12.0"}}

        records.append(_Record(sec, len(records), _WINDOWS, make, label, computer=pc))

    def _logon(self, row: list[Any], records: list[_Record]) -> None:
        sec, user, pc, label = row[SEC], row[USER], row[PC], row[LOGON_LABEL]
        person = self.people[user]
        key = (user, pc)
        target = {"TargetUserSid": self._sid(person), "TargetUserName": person.user_id,
                  "TargetDomainName": self.netbios}
        machine = {"SubjectUserSid": "S-1-5-18", "SubjectUserName": f"{pc}$",
                   "SubjectDomainName": self.netbios, "SubjectLogonId": "0x3e7"}
        if row[LOGON_ACTIVITY] == "Logon":
            logon_id = self._next_logon_id(pc)
            if key in self._sessions:
                logon_type = 7  # the screen unlocked within an open session
            else:
                # at the keyboard, whoever's computer it is: the simulation does not say
                # whether someone at another's computer sat down or connected remotely
                logon_type = 2
                self._sessions[key] = logon_id
            data = {**machine, **target, "TargetLogonId": logon_id,
                    "LogonType": str(logon_type),
                    "LogonProcessName": "User32",
                    "AuthenticationPackageName": "Negotiate", "WorkstationName": pc,
                    "IpAddress": "127.0.0.1", "IpPort": "0",
                    "ProcessName": "C:\\Windows\\System32\\svchost.exe",
                    "ElevatedToken": "%%1843", "ImpersonationLevel": "%%1833"}
            self._windows_record(records, sec, pc, 4624, data, label)
            return
        logon_id = self._sessions.pop(key, "") or self._next_logon_id(pc)
        # the user's own logoff (4647); the 4634 Windows writes as the session ends names the
        # same logoff again, so it is left out, as a forwarder that keeps 4647 alone does
        self._windows_record(records, sec, pc, 4647, {**target, "TargetLogonId": logon_id},
                             label)

    @staticmethod
    def _serial(user: str) -> str:
        """The serial number of the person's own drive."""
        return hashlib.sha256(f"drive/{user}".encode()).hexdigest()[:12].upper()

    def _logon_id_of(self, user: str, pc: str) -> str:
        return self._sessions.get((user, pc)) or self._next_logon_id(pc)

    def _device(self, row: list[Any], records: list[_Record]) -> None:
        sec, user, pc, label = row[SEC], row[USER], row[PC], row[DEVICE_LABEL]
        if row[DEVICE_ACTIVITY] != "Connect":
            self._act(label, sec)  # the Security log has no event for a drive pulled out
            return
        serial = self._serial(user)
        data = {"SubjectUserSid": "S-1-5-18", "SubjectUserName": f"{pc}$",
                "SubjectDomainName": self.netbios, "SubjectLogonId": "0x3e7",
                "DeviceId": f"USBSTOR\\DISK&VEN_SANDISK&PROD_ULTRA&REV_1.00\\{serial}&0",
                "DeviceDescription": "SanDisk Ultra USB Device",
                "ClassId": "{4d36e967-e325-11ce-bfc1-08002be10318}", "ClassName": "DiskDrive",
                "VendorIds": "USBSTOR\\DiskSanDisk_Ultra___________1.00",
                "LocationInformation": "-"}
        self._windows_record(records, sec, pc, 6416, data, label)

    def _file(self, row: list[Any], records: list[_Record]) -> None:
        sec, user, pc, label = row[SEC], row[USER], row[PC], row[FILE_LABEL]
        document: Document | None = row[FILE_DOC]
        person = self.people[user]
        name = row[FILE_PATH].rsplit("\\", 1)[-1]
        to_media, from_media = row[FILE_TO_MEDIA], row[FILE_FROM_MEDIA]
        if to_media or from_media:
            write = bool(to_media)
            data = {**self._subject(person, self._logon_id_of(user, pc)),
                    "ObjectServer": "Security", "ObjectType": "File",
                    "ObjectName": f"\\Device\\HarddiskVolume4\\{name}",
                    "HandleId": f"0x{1000 + sec % 60000:x}",
                    "AccessList": "%%4417" if write else "%%4416",
                    "AccessMask": "0x2" if write else "0x1",
                    "ProcessId": "0x1a4c", "ProcessName": "C:\\Windows\\explorer.exe",
                    "ResourceAttributes": "-"}
            self._windows_record(records, sec, pc, 4663, data, label)
            if write and document is not None:
                drive = {"Manufacturer": "SanDisk", "Model": "Ultra",
                         "SerialNumber": self._serial(user), "BusType": "USB"}
                self._dlp(records, sec, person, pc, "FileCopiedToRemovableMedia",
                          (document.path, document.size, document.sensitivity), label,
                          {"TargetFilePath": f"R:\\{name}",
                           "RemovableMediaDeviceAttributes": drive})
            return
        operation = _SHAREPOINT_OPERATIONS.get(row[FILE_ACTIVITY])
        if document is None or operation is None:
            self._act(label, sec)  # a file on a local disk: no audit log sees it
            return
        self._act(label, sec)
        site = self._site(document.project)
        upn, level = person.email, document.sensitivity
        extension = name.rsplit(".", 1)[-1]
        org, ip = self.organization_id, self._ip(pc)
        iso = self._iso

        def make(identifier: str) -> dict[str, Any]:
            record: dict[str, Any] = {
                "CreationTime": iso + _CLOCK[sec], "Id": identifier, "Operation": operation,
                "OrganizationId": org, "RecordType": 6, "UserKey": f"i:0h.f|membership|{upn}",
                "UserType": 0, "Version": 1, "Workload": "SharePoint", "ClientIP": ip,
                "ObjectId": f"{site}/Shared Documents/{name}", "UserId": upn,
                "EventSource": "SharePoint", "ItemType": "File", "UserAgent": _USER_AGENT,
                "SiteUrl": f"{site}/", "SourceRelativeUrl": "Shared Documents",
                "SourceFileName": name, "SourceFileExtension": extension,
                "SensitivityLabelId": self.labels[level]}
            if operation == "FileCopied":
                record.update(DestinationRelativeUrl="Shared Documents/Copies",
                              DestinationFileName=name, DestinationFileExtension=extension)
            return record

        records.append(_Record(sec, len(records), _SHAREPOINT, make, label))

    def _dlp(self, records: list[_Record], sec: int, person: Person, pc: str, operation: str,
             document: tuple[str, int, int], label: Label | None,
             extra: dict[str, Any]) -> None:
        """An Endpoint DLP record of a labelled document (``document``: its corpus path,
        size and sensitivity) on an onboarded computer."""
        path, size, sensitivity = document
        parts = path.split("\\")
        local = self._document_path(person, parts[-2], parts[-1])
        upn, org, ip, iso = person.email, self.organization_id, self._ip(pc), self._iso
        label_id = self.labels[sensitivity]

        def make(identifier: str) -> dict[str, Any]:
            return {"CreationTime": iso + _CLOCK[sec], "Id": identifier, "Operation": operation,
                    "OrganizationId": org, "RecordType": 63, "UserKey": upn, "UserType": 0,
                    "Version": 1, "Workload": "Endpoint", "UserId": upn, "ClientIP": ip,
                    "DeviceName": pc, "Platform": 1, "ObjectId": local,
                    "FileExtension": local.rsplit(".", 1)[-1], "FileSize": size,
                    "EnforcementMode": 1,
                    "SensitivityLabelEventData": {"SensitivityLabelId": label_id}, **extra}

        records.append(_Record(sec, len(records), _GENERAL, make, label))

    def _email(self, buffer: DayBuffer, records: list[_Record]) -> None:
        buffer.email.sort(key=itemgetter(SEC, USER))
        for row in buffer.email:
            self._act(row[EMAIL_LABEL], row[SEC])
            make = self._sent(row) if row[EMAIL_ACTIVITY] == "Send" else self._read(row)
            records.append(_Record(row[SEC], len(records), _EXCHANGE, make, row[EMAIL_LABEL]))

    def _mailbox(self, row: list[Any], operation: str, record_type: int
                 ) -> Callable[[str], dict[str, Any]]:
        """The fields every mailbox record of ``row``'s person has."""
        person = self.people[row[USER]]
        upn, org, ip = person.email, self.organization_id, self._ip(person.pc)
        when = self._iso + _CLOCK[row[SEC]]

        def common(identifier: str) -> dict[str, Any]:
            return {"CreationTime": when, "Id": identifier, "Operation": operation,
                    "OrganizationId": org, "RecordType": record_type,
                    "ResultStatus": "Succeeded", "UserType": 0, "Version": 1,
                    "Workload": "Exchange", "ClientIP": ip, "UserId": upn, "LogonType": 0,
                    "MailboxOwnerUPN": upn, "ClientInfoString": "Client=MSExchangeRPC"}

        return common

    def _message_id(self, identifier: str) -> str:
        return f"<{identifier[:18]}@{self.org.domain}>"

    def _read(self, row: list[Any]) -> Callable[[str], dict[str, Any]]:
        """Mail read (Audit Premium's ``MailItemsAccessed``: the message, not its sender)."""
        common = self._mailbox(row, "MailItemsAccessed", 50)

        def make(identifier: str) -> dict[str, Any]:
            return {**common(identifier),
                    "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}],
                    "Folders": [{"FolderItems": [{"InternetMessageId":
                                                  self._message_id(identifier)}],
                                 "Path": "\\Inbox"}],
                    "OperationCount": 1}

        return make

    def _sent(self, row: list[Any]) -> Callable[[str], dict[str, Any]]:
        """Mail sent: recipients, size, attachments and a subject (never the body)."""
        common = self._mailbox(row, "Send", 2)
        recipients = [*row[EMAIL_TO], *row[EMAIL_CC], *row[EMAIL_BCC]]
        attachments = "; ".join(f"{path.rsplit(chr(92), 1)[-1]} ({size}b)"
                                for path, size in row[EMAIL_ATTACHMENTS])
        subject = " ".join(str(row[EMAIL_CONTENT]).split()[:8])
        size = row[EMAIL_SIZE]

        def make(identifier: str) -> dict[str, Any]:
            item: dict[str, Any] = {"Id": "RgAAAA" + identifier.replace("-", "")[:22],
                                    "Subject": subject, "SizeInBytes": size,
                                    "InternetMessageId": self._message_id(identifier)}
            if attachments:
                item["Attachments"] = attachments
            return {**common(identifier), "ExternalAccess": False, "Item": item,
                    "recipientCount": len(recipients),
                    "recipientList": [{"Address": a} for a in recipients]}

        return make

    def _prints(self, buffer: DayBuffer, records: list[_Record]) -> None:
        """Prints of labelled documents (Endpoint DLP); meetings and the rest: not logged."""
        for row in sorted(buffer.other, key=lambda r: (r[SEC], r[USER])):
            record, label = row[OTHER_RECORD], row[OTHER_LABEL]
            if record.get("action") != "print" or record.get("doc_id") is None:
                self._act(label, row[SEC])
                continue
            self._act(label, row[SEC])
            self._dlp(records, row[SEC], self.people[record["user_id"]], record["host"],
                      "FilePrinted", (record["object"], record["bytes"], record["sensitivity"]),
                      label, {"TargetPrinterName": record["target"]})

    def _web(self, buffer: DayBuffer, day: date, records: list[_Record]) -> None:
        """The proxy's requests (and Endpoint DLP's record of a labelled file uploaded)."""
        buffer.http.sort(key=itemgetter(SEC, USER))
        stamp = day.isoformat() + " "
        random_ = self._rng.random
        number = self._proxy
        lines: list[str] = []
        # the bulk of all records (three in four): one f-string each, the JSON of the values
        # that could need escaping made once per person, computer and site
        parts = self._json_parts
        for row in buffer.http:
            sec, user, pc, label = row[SEC], row[USER], row[PC], row[HTTP_LABEL]
            if label is not None:
                self._act(label, sec)
            site = row[HTTP_DOMAIN]
            activity = row[HTTP_ACTIVITY]
            document: Document | None = row[HTTP_DOC] if len(row) > HTTP_DOC else None
            headers = 420 + int(random_() * 900)
            if activity == "WWW Upload":
                # a file's bytes, else what the form carried (a profile, a paste)
                body = document.size if document else len(str(row[HTTP_CONTENT]).encode())
                method, sent, received = "POST", headers + body, 300 + int(random_() * 900)
                content_type = "application/json"
            elif activity == "WWW Download":  # a file: the response says so
                method, sent = "GET", headers
                received = 200_000 + int(random_() * 20_000_000)
                content_type = "application/octet-stream"
            else:
                method, sent, received = "GET", headers, 2_000 + int(random_() * 120_000)
                content_type = "text/html"
            number += 1
            # a site's pages, a person at a computer: few, so their JSON is made once each
            where = parts.get((row[HTTP_URL], site[1])) or self._site_json(
                row[HTTP_URL], site[0], site[1])
            who = parts.get((user, pc)) or self._who_json(user, pc)
            lines.append(
                f'{{"sourcetype":"zscalernss-web","event":{{"datetime":"{stamp}{_CLOCK[sec]}",'
                f'"event_id":"{number}","transactionsize":"{sent + received}",'
                f'"responsesize":"{received}","requestsize":"{sent}",'
                f'"requestmethod":"{method}","contenttype":"{content_type}",'
                f'{where},{who},{_PROXY_FIXED}}}}}')
            if label is not None:
                self._label(f"proxy.zscaler:{number}", label, _PROXY)
            if activity == "WWW Upload" and document is not None:
                self._dlp(records, sec, self.people[user], pc, "FileUploadedToCloud",
                          (document.path, document.size, document.sensitivity), label,
                          {"Application": "Microsoft Edge", "TargetDomain": site[0],
                           "TargetUrl": "https://" + row[HTTP_URL].split("://", 1)[-1]})
        if lines:
            self._handles[_PROXY].write(("\n".join(lines) + "\n").encode())
        self._count(_PROXY, number - self._proxy)
        self._proxy = number

    def _site_json(self, url: str, domain: str, category: str) -> str:
        """The URL, host and category of a page as JSON members (kept for its next visit)."""
        zscaler = _ZSCALER_CATEGORIES.get(category, "Miscellaneous or Unknown")
        found = self._json_parts[(url, category)] = (
            f'"url":{_json(url.split("://", 1)[-1])},"hostname":{_json(domain)},'
            f'"urlcategory":{_json(zscaler)}')
        return found

    def _who_json(self, user: str, pc: str) -> str:
        """The user and computer of a request as JSON members (kept for the next)."""
        person = self.people[user]
        found = self._json_parts[(user, pc)] = (
            f'"ClientIP":"{self._ip(pc)}","devicehostname":{_json(pc)},'
            f'"user":{_json(person.email)},"department":{_json(person.department)}')
        return found

    def _flush(self, records: list[_Record]) -> None:
        """Give the day's records their ids in time order and write them."""
        records.sort(key=lambda r: (r.sec, r.seq))
        out: dict[str, list[bytes]] = {}
        for record in records:
            if record.file == _WINDOWS:
                number = self._records.get(record.computer, 0) + 1
                self._records[record.computer] = number
                identifier = record_event_id(self._fqdn(record.computer), "Security",
                                             str(number))
                value = record.make(str(number))
            else:
                self._m365 += 1
                identifier = _guid(self.run, self._m365)
                value = record.make(identifier)
            out.setdefault(record.file, []).append(orjson.dumps(value))
            self._label(identifier, record.label, record.file)
        for file, lines in out.items():  # one write per file and day
            self._handles[file].write(b"\n".join(lines) + b"\n")
            self._count(file, len(lines))

    def close(self) -> None:
        """Write the HR feed and the directory, flush and close every file."""
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()
        self._labels_handle.close()
        self._write_hr()
        self._count(_DIRECTORY, write_directory(self.folder / _DIRECTORY, self.org))

    def _write_hr(self) -> None:
        """The Purview HR connector's files: departures and performance improvement plans."""
        folder = self.folder / "hr"
        folder.mkdir(parents=True, exist_ok=True)
        departures: list[tuple[str, str, str]] = []
        plans: list[tuple[str, str, str, str]] = []
        for record in self._hr:
            person = self.people.get(record["user_id"])
            if person is None:
                continue
            kind, attrs = record["kind"], record.get("attrs") or {}
            when = record["ts"][:10]
            leave = attrs.get("leave_date")
            # the leaving date is the first day away; Purview's is the last day worked
            last = ((date.fromisoformat(leave) - timedelta(days=1)).isoformat()
                    if leave else "")
            if kind == "resignation_notice":
                departures.append((person.email, f"{when}T00:00:00Z",
                                   f"{last}T00:00:00Z" if last else ""))
            elif kind in ("termination", "layoff") and last:
                departures.append((person.email, "", f"{last}T00:00:00Z"))
            elif kind == "performance_concern":
                plans.append((person.email, f"{when}T00:00:00Z",
                              str(attrs.get("note") or "performance improvement plan"), ""))
        for name, header, rows in (
                (_RESIGNATIONS, ["EmailAddress", "ResignationDate", "LastWorkingDate"],
                 departures),
                (_IMPROVEMENT, ["EmailAddress", "EffectiveDate", "ImprovementRemarks",
                                "PerformanceRating"], plans)):
            with (self.folder / name).open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(rows)
            self._count(name, len(rows))

    def company_facts(self) -> dict[str, Any]:
        """What a deployment configures from this tenant (``company.json``): the label ids
        (``[sensitivity_labels]`` in ``molehunt.toml``)."""
        return {"sensitivity_labels": {self.labels[level]: level for level in range(5)},
                "sensitivity_label_names": {str(level): name
                                            for level, name in enumerate(LABEL_NAMES)}}


def write_directory(path: Path, org: Organisation) -> int:
    """``directory.jsonl``: one row per person, valid from the first day employed (the period's
    first day for those employed before it) to the first day away."""
    count = 0
    with path.open("wb") as handle:
        for person in org.people:
            first = org.day_date(max(0, person.hire_day))
            last = (org.day_date(person.leave_day) if person.leave_day is not None
                    and person.leave_day > max(0, person.hire_day) else None)
            boss = org.people[person.supervisor].user_id if person.supervisor is not None \
                else None
            handle.write(orjson.dumps({
                "user_id": person.user_id, "name": person.name, "email": person.email,
                "role": person.role, "projects": ";".join(person.projects),
                "business_unit": person.business_unit,
                "functional_unit": person.functional_unit, "department": person.department,
                "team": person.team, "supervisor_id": boss, "valid_from": first.isoformat(),
                "valid_to": last.isoformat() if last else None}) + b"\n")
            count += 1
    return count


__all__ = ["FILES", "LABEL_NAMES", "EnterpriseWriter", "label_ids", "write_directory"]
