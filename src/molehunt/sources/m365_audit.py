"""Microsoft 365 unified audit log: one record, four shapes, one layout (``m365.audit``).

The same audit record reaches a security team in four shapes, told apart per record (a file
may even mix them):

* **Management Activity API** (``/api/v1.0/{tenant}/activity/feed/audit/...`` content blobs):
  a JSON array of records, or NDJSON, one record per line, keys as in Microsoft's common
  schema (``CreationTime``, ``Id``, ``Operation``, ``RecordType`` as a number, ``UserId``,
  ``UserType``, ``Workload``, ``ObjectId``, ``ClientIP`` plus workload fields).
* **Purview audit search export / Search-UnifiedAuditLog | Export-Csv**: CSV with at least
  ``CreationDate``, ``UserIds`` (or ``UserId``), ``Operations`` (or ``Operation``) and
  ``AuditData``, the last holding the whole record as a JSON string. A ``#TYPE`` line that
  Windows PowerShell writes before the header is skipped. The same rows saved as JSON
  (``Search-UnifiedAuditLog | ConvertTo-Json``: ``AuditData`` as text, or as an object when
  a tool parsed it) are read too.
* **Microsoft Graph** ``auditLogRecord`` (``/security/auditLog/queries/{id}/records``):
  ``createdDateTime``, ``operation``, ``auditLogRecordType`` (a camelCase name),
  ``userPrincipalName``, ``service``, ``objectId``, ``clientIp`` and the original record
  nested in ``auditData``; a response page (``{"value": [...]}``) may be stored as it is.
* **Microsoft Sentinel / Log Analytics** ``OfficeActivity`` rows as JSON or CSV: the common
  schema flattened under other names (``TimeGenerated``, ``OfficeId``, ``OfficeWorkload``,
  ``OfficeObjectId``, ``Site_Url``; CSV headers may carry `` [UTC]``).

Files may be UTF-8 or UTF-16 (Windows PowerShell 5 writes UTF-16 with ``>`` and
``Out-File``), plain or gzip-compressed.

Design. The store's layouts are SQL mappings over rows of flat columns (DESIGN.md §9), and
the CSV reader cannot take nested JSON apart. So this module is a
:class:`~molehunt.sources.base.RecordLayout`: its :meth:`M365Audit.records` step (Python,
streaming for NDJSON and CSV) finds each record, whatever its shape, and flattens the few
fields the mapping needs into :attr:`M365Audit.columns`; its SQL :meth:`~M365Audit.mapping`
then decides action, channel, e-mail direction and sensitivity exactly as the CERT layouts
do, and its :meth:`~M365Audit.checks` quarantine what cannot be stored. Every record ends up
stored, a duplicate (the record's own ``Id`` is the event id, so the same record pulled
through two shapes is stored once) or quarantined with its line, record number and reason.

Mapping (the operation, within its workload):

* SharePoint / OneDrive: ``FileAccessed``/``FilePreviewed`` → ``file_open``;
  ``FileModified``/``FileUploaded``/``FileSyncUploadedFull`` → ``file_write``;
  ``FileDownloaded``/``FileSyncDownloadedFull`` → ``file_copy`` (``attrs.direction``
  ``download``); ``FileCopied`` → ``file_copy``; ``FileDeleted``/``FileRecycled`` →
  ``file_delete``, all on the ``cloud_storage`` channel. Sharing: an anonymous ("anyone")
  link, or a share with a guest or an address outside the company domains, is
  ``web_upload`` on ``cloud_storage`` (the file can now be read from outside, which is what
  an upload to personal cloud storage means to the features); other sharing (``SharingSet``
  to a member, company links) is ``file_share``.
* Exchange: ``Send``/``SendAs``/``SendOnBehalf`` → ``email_send`` (channel from the
  recipients' domains when the record lists them, else unknown), ``MailItemsAccessed`` →
  ``email_view``, ``New-MailboxExportRequest`` and eDiscovery exports → ``mailbox_export``.
* Endpoint DLP (devices onboarded to Purview): ``FileCopiedToRemovableMedia``/
  ``FileCreatedOnRemovableMedia`` → ``file_copy`` on ``removable_media``;
  ``FileUploadedToCloud`` → ``web_upload`` (``domain`` = ``TargetDomain``);
  ``FilePrinted`` → ``print``; ``FileCopiedToNetworkShare`` → ``file_copy`` on
  ``network_share``; ``FileRead``/``FileCreated``/``FileModified``/``FileDeleted`` on the
  device → ``file_open``/``file_write``/``file_delete`` on ``local``.
* ``PhysicalBadgingSignal`` → ``badge`` on ``physical``; ``HRSignal`` → ``hr_events``
  (resignation → ``resignation_notice``, last working date → ``termination``, job level
  change → ``transfer``, improvement plan → ``performance_concern``, performance review →
  ``performance_review`` (context only: a review is not a concern by itself);
  a resignation's last working date is its ``attrs.leave_date``). ``hr_events`` has no id:
  each HR row carries a key derived from its content (``attrs.key``, :func:`hr_key`), and a
  key already stored is a duplicate, so a re-uploaded HR file is not stored twice.
* Entra sign-ins (``UserLoggedIn``, ``UserLoginFailed``, and record type 9's
  ``PasswordLogonInitialAuthUsingPassword``) → ``cloud_sign_in``: token refreshes from phones
  arrive at every hour, so they are not ``logon`` (a logon to a computer). ``attrs.outcome``
  keeps the record's ``ResultStatus`` (a failed sign-in is a record of the same operation
  with ``failed``) and ``attrs.logon_error`` its ``LogonError``. Any other operation is kept
  as ``m365_activity`` with its name in ``attrs``.

Sensitivity: a record's label id (``SensitivityLabelId``, ``SensitivityLabelEventData``,
``DestinationLabel``) becomes 0-4 through ``[sensitivity_labels]`` in ``molehunt.toml``; a
label not in that map leaves ``sensitivity`` null and the id in ``attrs.label_id``.

People: ``UserId`` is a UPN; it is kept, lower-cased, as the user id. A OneDrive URL
(``https://<tenant>-my.sharepoint.com/personal/<alias>/...``) names its owner: the alias goes
to ``attrs.onedrive_owner`` and ``attrs.own_onedrive`` says whether it is the actor's own
(SharePoint derives the alias from the UPN; no directory is needed for that).

Resolving a UPN or alias to the directory's ``user_id`` is deliberately *not* done here. At
ingest it would make the stored events depend on whether and which directory was loaded
first (``ingest m365`` may run before the LDAP snapshots), so the same input would not give
the same store, and an address that the directory later shows belonged to someone else could
only be corrected by re-ingesting. It belongs at read time in the store: the directory
rebuild (``molehunt.store.directory.rebuild_directory``) deriving an alias table (the
directory's ``email``, the OneDrive alias, any alias column → ``user_id`` with its validity)
and ``molehunt.store.connect`` mapping ``events.user_id`` through it, together with the
feature cache invalidating, on a directory batch, the first event day of every alias whose
person changed (``features.build.earliest_changed_day`` touches only the snapshot's month
today).
Until then a person whose directory ``user_id`` differs from their UPN appears under the UPN
and without directory context; a deployment that reads only M365 can give its directory rows
the lower-cased UPN as ``user_id`` (``ingest jsonl --table directory``).

System and service accounts (user types
System, Application, ServicePrincipal, DCAdmin, CustomPolicy, SystemPolicy, and ids such as
``app@sharepoint`` or ``NT AUTHORITY\\SYSTEM``) are never a person: their records are stored
in ``service_events``, which no detector reads.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
import tempfile
from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from molehunt.sources._files import open_utf8
from molehunt.sources._keys import lower_keys
from molehunt.sources._lines import (
    BadJsonLine,
    LineCounter,
    count_json_records,
    count_ndjson_records,
    json_lines,
    normalise,
    utf8_lines,
)
from molehunt.sources.base import (
    Check,
    RecordLayout,
    SqlContext,
    Unreadable,
    utc_naive,
)
from molehunt.sql import sql_string

#: Microsoft's AuditLogRecordType numbers for the record types this layout reads or names
#: (Office 365 Management Activity API schema, "Enum: AuditLogRecordType").
RECORD_TYPES: Mapping[int, str] = {
    1: "ExchangeAdmin", 2: "ExchangeItem", 3: "ExchangeItemGroup", 4: "SharePoint",
    6: "SharePointFileOperation", 7: "OneDrive", 8: "AzureActiveDirectory",
    9: "AzureActiveDirectoryAccountLogon", 11: "ComplianceDLPSharePoint",
    13: "ComplianceDLPExchange", 14: "SharePointSharingOperation",
    15: "AzureActiveDirectoryStsLogon", 18: "SecurityComplianceCenterEOPCmdlet",
    19: "ExchangeAggregatedOperation", 20: "PowerBIAudit", 24: "Discovery",
    25: "MicrosoftTeams", 28: "ThreatIntelligence", 31: "AeD", 36: "SharePointListOperation",
    50: "ExchangeItemAggregated", 58: "HRSignal", 63: "DLPEndpoint", 70: "OfficeNative",
    82: "SensitivityLabelPolicyMatch", 83: "SensitivityLabelAction",
    84: "SensitivityLabeledFileAction", 91: "PhysicalBadgingSignal",
}
_RECORD_TYPE_NAMES = {name.lower(): name for name in RECORD_TYPES.values()}
#: One file of Exchange's ``Item.Attachments``: its name and ``(<bytes>b)``.
_SIZED_ATTACHMENT = re.compile(r"(.*\S)\s*\((\d+)b\)")

#: Microsoft's UserType numbers ("Enum: User Type").
USER_TYPES: Mapping[int, str] = {
    0: "Regular", 1: "Reserved", 2: "Admin", 3: "DcAdmin", 4: "System", 5: "Application",
    6: "ServicePrincipal", 7: "CustomPolicy", 8: "SystemPolicy", 9: "PartnerTechnician",
    10: "Guest",
}
_USER_TYPE_NAMES = {name.lower(): name for name in USER_TYPES.values()}
#: User types that are never a person.
NON_PERSON_USER_TYPES = frozenset({"DcAdmin", "System", "Application", "ServicePrincipal",
                                   "CustomPolicy", "SystemPolicy"})
#: User ids Microsoft documents for work done by the service itself.
_SYSTEM_IDS = frozenset({"app@sharepoint", "sharepoint\\system", "s-1-5-18",
                         "nt authority\\system", "system"})

#: (workload family, operation in lower case) → (action, channel).
OPERATIONS: Mapping[tuple[str, str], tuple[str, str | None]] = {
    ("sharepoint", "fileaccessed"): ("file_open", "cloud_storage"),
    ("sharepoint", "fileaccessedextended"): ("file_open", "cloud_storage"),
    ("sharepoint", "filepreviewed"): ("file_open", "cloud_storage"),
    ("sharepoint", "filemodified"): ("file_write", "cloud_storage"),
    ("sharepoint", "filemodifiedextended"): ("file_write", "cloud_storage"),
    ("sharepoint", "fileuploaded"): ("file_write", "cloud_storage"),
    ("sharepoint", "filesyncuploadedfull"): ("file_write", "cloud_storage"),
    ("sharepoint", "filedownloaded"): ("file_copy", "cloud_storage"),
    ("sharepoint", "filesyncdownloadedfull"): ("file_copy", "cloud_storage"),
    ("sharepoint", "filecopied"): ("file_copy", "cloud_storage"),
    ("sharepoint", "filedeleted"): ("file_delete", "cloud_storage"),
    ("sharepoint", "filerecycled"): ("file_delete", "cloud_storage"),
    ("exchange", "send"): ("email_send", None),
    ("exchange", "sendas"): ("email_send", None),
    ("exchange", "sendonbehalf"): ("email_send", None),
    ("exchange", "mailitemsaccessed"): ("email_view", None),
    ("exchange", "new-mailboxexportrequest"): ("mailbox_export", None),
    ("discovery", "searchexported"): ("mailbox_export", None),
    ("discovery", "searchexportdownloaded"): ("mailbox_export", None),
    ("endpoint", "filecopiedtoremovablemedia"): ("file_copy", "removable_media"),
    ("endpoint", "filecreatedonremovablemedia"): ("file_copy", "removable_media"),
    ("endpoint", "fileuploadedtocloud"): ("web_upload", "cloud_storage"),
    ("endpoint", "fileprinted"): ("print", "printer"),
    ("endpoint", "filecopiedtonetworkshare"): ("file_copy", "network_share"),
    ("endpoint", "fileread"): ("file_open", "local"),
    ("endpoint", "filecreated"): ("file_write", "local"),
    ("endpoint", "filemodified"): ("file_write", "local"),
    ("endpoint", "filedeleted"): ("file_delete", "local"),
    ("entra", "userloggedin"): ("cloud_sign_in", None),
    ("entra", "userloginfailed"): ("cloud_sign_in", None),
    # the OrgId sign-in of record type 9 (AzureActiveDirectoryAccountLogon), as Microsoft's
    # own example records of the Management Activity API have it
    ("entra", "passwordlogoninitialauthusingpassword"): ("cloud_sign_in", None),
}
#: SharePoint sharing operations; see :meth:`M365Audit.mapping` for when one is outbound.
SHARING_OPERATIONS = frozenset({
    "anonymouslinkcreated", "anonymouslinkupdated", "sharingset", "sharinginvitationcreated",
    "companylinkcreated", "securelinkcreated", "addedtosecurelink", "sharinglinkcreated",
    "addedtosharinglink",
})
_ANONYMOUS = frozenset({"anonymouslinkcreated", "anonymouslinkupdated"})
#: Operations of a physical badge signal, whatever they are called: the record type decides.
_OTHER_ACTION = "m365_activity"

#: The start of a Graph response page (``@odata.context`` or ``value`` as its first key).
_GRAPH_PAGE = re.compile(r'\{\s*"(@odata\.context|value|@odata\.nextLink)"\s*:')
_PAGE_VALUE = re.compile(r'"value"\s*:\s*\[')
_HEAD = 256 * 1024
_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_US_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y, %I:%M:%S.%f %p", "%m/%d/%Y, %I:%M:%S %p",
               "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")
#: Keys only a Graph ``auditLogRecord`` has (the Purview export's JSON has ``AuditData`` too).
_GRAPH_KEYS = frozenset({"createddatetime", "auditlogrecordtype", "userprincipalname"})
_SENTINEL_RENAMES = {
    "timegenerated": "creationtime", "officeid": "id", "officeworkload": "workload",
    "officeobjectid": "objectid", "site_url": "siteurl", "client_ipaddress": "clientipaddress",
}
_GRAPH_RENAMES = {
    "createddatetime": "creationtime", "auditlogrecordtype": "recordtype",
    "userprincipalname": "userid", "service": "workload", "clientip": "clientip",
}


class M365Audit(RecordLayout):
    """Microsoft 365 unified audit log records (Management API, Purview CSV, Graph, Sentinel)."""

    name = "m365.audit"
    family = "m365"
    source = "m365"
    #: What every tenant's unified audit log shows: cloud files (SharePoint, OneDrive) and
    #: sent mail. Mail read (MailItemsAccessed), removable media and printing (Endpoint DLP),
    #: badges and HR signals appear only where the tenant has those features; their rows
    #: show them (see molehunt.store.coverage), this declaration does not promise them.
    observes = frozenset({"cloud_files", "email_sent"})
    columns: ClassVar[Mapping[str, str]] = {
        "record_id": "VARCHAR", "ts": "TIMESTAMP", "ts_text": "VARCHAR", "shape": "VARCHAR",
        "operation": "VARCHAR", "op_key": "VARCHAR", "record_type": "VARCHAR",
        "user_type": "VARCHAR", "user_id": "VARCHAR", "host": "VARCHAR", "object": "VARCHAR",
        "target": "VARCHAR", "target_type": "VARCHAR", "recipients": "VARCHAR",
        "domain": "VARCHAR", "size": "BIGINT", "n_attachments": "INTEGER",
        "subject": "VARCHAR", "label_id": "VARCHAR", "details": "VARCHAR",
    }
    order = 45

    @classmethod
    def sniff(cls, head: str) -> bool:
        """JSON whose keys are the audit log's, or CSV with the export's or Sentinel's header."""
        text = head.lstrip("\ufeff \t\r\n")
        if text.startswith(("[", "{")):
            # in any case: the records are read by lower-cased key (data lakes' copies)
            return bool(re.search(r'"(CreationTime|createdDateTime|auditLogRecordType|'
                                  r'OfficeWorkload|AuditData)"\s*:', text, re.IGNORECASE))
        lines = text.splitlines()
        if lines and lines[0].startswith("#TYPE"):
            lines = lines[1:]
        if not lines:
            return False
        header = {_header_key(f) for f in next(csv.reader([lines[0]]), [])}
        return ({"creationdate", "auditdata"} <= header
                or {"timegenerated", "operation", "officeworkload"} <= header)


    # -- the SQL mapping -------------------------------------------------------------------
    def relation(self, raw: str, ctx: SqlContext) -> str:
        """Add the recipients' domains (for the e-mail channel) and the actor's own domain.

        The actor's UPN domain is the tenant's: a colleague at it is inside the company even
        when ``company_domains`` is not configured and no directory has been loaded yet
        (``ingest m365`` may come first), which would otherwise make every internal share an
        upload to outside and every internal mail external, for good.
        """
        return ("(SELECT *, list_filter(list_transform(string_split(coalesce(recipients, ''),"
                " ';'), lambda a: mh_email_domain(a)), lambda d: d <> '') AS _counterparts,"
                f" mh_email_domain(coalesce(user_id, '')) AS _own_domain FROM {raw})")

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Operation and workload to action and channel; labels to sensitivity (see above)."""
        action, channel = _action_and_channel()
        labels = " ".join(f"WHEN {sql_string(name)} THEN {level}"
                          for name, level in ctx.sensitivity_labels)
        return {
            "event_id": "coalesce(nullif(trim(record_id), ''), substr(sha256("
                        f"{sql_string(self.source)} || chr(0) || _raw), 1, 32))",
            "ts": "ts",
            "day": "CAST(ts AS DATE)",
            "user_id": "user_id",
            "host": "host",
            "source": sql_string(self.source),
            "action": action,
            "channel": channel,
            "object": "object",
            "target": "coalesce(target, nullif(recipients, ''))",
            "domain": f"coalesce(domain, {_WEBMAIL}[1], {_EXTERNAL}[1], _counterparts[1])",
            "bytes": "size",
            "n_attachments": "n_attachments",
            "content": "subject",
            "doc_id": "NULL",
            "sensitivity": f"CASE label_id {labels} ELSE NULL END" if labels else "NULL",
            "attrs": "details",
        }

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """A time, a person or account, an operation, and a size that is not negative."""
        return [
            Check("ts IS NULL", "unparseable CreationTime",
                  "'CreationTime ' || coalesce('\"' || ts_text || '\"', 'missing')"),
            Check("coalesce(user_id, '') = ''", "empty UserId"),
            Check("coalesce(operation, '') = ''", "empty Operation"),
            Check("size < 0", "negative size", "'size ' || size"),
        ]

    # -- reading ---------------------------------------------------------------------------
    def records(self, path: Path, ctx: SqlContext) -> Iterator[dict[str, Any] | Unreadable]:
        """Every record of the file, flattened (see the module docstring for the shapes).

        The file's records are also counted apart from this parser
        (:attr:`~molehunt.sources.base.RecordLayout.independent_count`): JSON by DuckDB's
        JSON reader (NDJSON that DuckDB cannot read whole, line by line with Python's
        ``json``), CSV by :func:`~molehunt.sources._lines.normalise`, which also sets a stray
        quote's line apart so that the parser resumes on the next line.
        """
        with open_utf8(path) as handle:
            head = handle.read(_HEAD)
        text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
        first_line, newline, _ = text.partition("\n")
        first_line = first_line.strip()
        if text.startswith("["):
            self.independent_count = count_json_records(path, self.scratch)
            yield from self._document(path)
        elif text.startswith("{") and (not newline or first_line.endswith("}")
                                       or _is_json(first_line)):
            # one record per line. Not only when the first line is valid JSON: a first
            # record that is damaged, or longer than the head, must cost that record alone
            # (a pretty-printed object's first line is "{" or ends in "," or "[")
            counted = count_json_records(path, self.scratch)
            self.independent_count = (counted if counted is not None
                                      else count_ndjson_records(path))
            yield from self._ndjson(path)
        elif text.startswith("{"):
            self.independent_count = count_json_records(path, self.scratch)
            yield from self._document(path)  # pretty-printed objects, e.g. Graph pages
        else:
            with tempfile.TemporaryDirectory(prefix="m365-", dir=self.scratch) as folder:
                yield from self._csv(path, Path(folder) / "normalised.csv")

    def _ndjson(self, path: Path) -> Iterator[dict[str, Any] | Unreadable]:
        number = 0
        for line in json_lines(path, strict_utf8=True):
            if isinstance(line, BadJsonLine):
                number += 1
                yield line.unreadable(number)
                continue
            line_no, text, value = line
            items = value.get("value") if isinstance(value, dict) else value
            if isinstance(items, list):
                # a Graph response page, or a content blob's array, stored as one line:
                # each of its records counts
                for item in items:
                    number += 1
                    yield self._flat(item, line_no, number, _raw_text(item))
                continue
            number += 1
            yield self._flat(value, line_no, number, text)

    def _document(self, path: Path) -> Iterator[dict[str, Any] | Unreadable]:
        """Records of a JSON document: JSON values written one after another, each an array
        of records (content blobs appended to one file), a Graph response page
        (``{"value": [...]}``; pages appended one after another too) or a single record
        (pretty-printed records one after another). The whole file is read at once: the
        API's blobs and pages are small, and large exports are NDJSON or CSV, which stream."""
        with open_utf8(path) as handle:
            data = handle.read()
        # surrogateescape keeps bytes that are not UTF-8 visible, so a record holding them is
        # quarantined instead of silently altered
        text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
        position, line = _skip_space(text, 0, 1)
        counter = [0]
        while position < len(text):
            page_end: int | None = None
            found: re.Match[str] | None = None
            if text[position] == "{":
                if _GRAPH_PAGE.match(text, position):
                    # the page's end, to go on after it (its nextLink holds no record); a
                    # damaged page is read up to the damage, which its records then report
                    try:
                        page_end = json.JSONDecoder().raw_decode(text, position)[1]
                    except (ValueError, RecursionError):
                        page_end = None
                    found = _PAGE_VALUE.search(text, position,
                                               len(text) if page_end is None else page_end)
                if found is None:
                    reader = self._values(text, position, line, counter, single=True)
                else:
                    line += text.count("\n", position, found.end() - 1)
                    position = found.end() - 1
                    reader = self._values(text, position, line, counter, single=False)
            elif text[position] == "[":
                reader = self._values(text, position, line, counter, single=False)
            else:
                counter[0] += 1
                rest = text[position:]
                yield Unreadable(line, counter[0], "text after the records",
                                 f"{len(rest)} characters that are not JSON records",
                                 _visible(rest[:2000]))
                return
            try:
                while True:
                    yield next(reader)
            except StopIteration as stop:
                if stop.value is None:
                    return
                position, line = stop.value
            if found is not None:
                if page_end is None:
                    return
                line += text.count("\n", position, page_end)
                position = page_end
            position, line = _skip_space(text, position, line)

    def _values(self, text: str, position: int, line: int, counter: list[int], single: bool
                ) -> Generator[dict[str, Any] | Unreadable, None, tuple[int, int] | None]:
        """Records of the array starting at ``position`` (or the one object there, when
        ``single``); returns where the array (or the object) ends and its line, or None when
        the rest cannot be read."""
        decoder = json.JSONDecoder()
        if not single:
            position += 1
        expect_value = True
        first = True
        while True:
            position, line = _skip_space(text, position, line)
            if position >= len(text):
                if single and not first:
                    return None
                counter[0] += 1
                yield Unreadable(line, counter[0], "truncated array",
                                 "the file ends before the array's closing ]", "")
                return None
            char = text[position]
            if not single and char == "]" and (first or not expect_value):
                return position + 1, line
            if not single and char == "," and not expect_value:
                position += 1
                expect_value = True
                continue
            counter[0] += 1
            start, start_line = position, line
            try:
                if not expect_value:
                    raise ValueError("expected , or ] between records")
                value, position = decoder.raw_decode(text, position)
            except (ValueError, RecursionError) as error:
                rest = text[start:]
                yield Unreadable(start_line, counter[0], "invalid JSON",
                                 f"{error}; the rest ({len(rest)} characters from here)"
                                 " cannot be read", _visible(rest[:2000]))
                return None
            first = expect_value = False
            raw = text[start:position]
            line += raw.count("\n")
            if _has_bad_bytes(raw):
                yield Unreadable(start_line, counter[0], "invalid UTF-8",
                                 "the record holds bytes that are not UTF-8", _visible(raw))
            else:
                yield self._flat(value, start_line, counter[0], raw)
            if single:
                return position, line

    def _csv(self, path: Path, copy: Path) -> Iterator[dict[str, Any] | Unreadable]:
        """The rows of a CSV export, read from a normalised copy (UTF-8, LF, each line at its
        own number, a stray quote's line quarantined and left empty: see
        :func:`~molehunt.sources._lines.normalise`), which also counts them."""
        # one AuditData cell can exceed the csv module's default limit of 128 KiB
        csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
        fields_in_header = _csv_header_width(path)
        scan = normalise(path, copy, has_header=True, n_fields=fields_in_header)
        self.independent_count = scan.records - _header_lines(copy)
        number = 0
        for bad in scan.bad:
            number += 1
            yield Unreadable(bad.line or 0, number, bad.reason, bad.detail, bad.raw or "")
        with copy.open("rb") as handle:
            reader_lines = LineCounter(codecs.iterdecode(
                _strip_bom(handle), "utf-8", errors="surrogateescape"))
            reader = csv.reader(reader_lines)
            header: list[str] | None = None
            local_time: str | None = None
            while True:
                start = reader_lines.count + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    break
                except csv.Error as error:
                    number += 1
                    yield Unreadable(start, number, "malformed quoting", str(error), "")
                    continue
                if len(fields) == 1 and fields[0].startswith("#TYPE"):
                    continue  # Windows PowerShell's type line, before each export's header
                if header is None:
                    header = [_header_key(f) for f in fields]
                    local_time = _local_time_column(fields)
                    continue
                if [_header_key(f) for f in fields] == header:
                    continue  # exports appended into one file each bring their header
                if not fields:
                    continue  # a blank line holds no record
                number += 1
                raw = ",".join(_quote(f) for f in fields)
                if any(_has_bad_bytes(f) for f in fields):
                    yield Unreadable(start, number, "invalid UTF-8",
                                     "the row holds bytes that are not UTF-8", _visible(raw))
                    continue
                if len(fields) != len(header):
                    yield Unreadable(start, number, "wrong field count",
                                     f"{len(fields)} fields, the header has {len(header)}", raw)
                    continue
                if local_time is not None:
                    # read as UTC, every time would be off by the exporter's offset: the
                    # after-hours features would move with it
                    yield Unreadable(start, number, "time not in UTC",
                                     f"column {local_time!r}: export the times in UTC", raw)
                    continue
                row = dict(zip(header, fields, strict=True))
                yield self._csv_row(row, start, number, raw)

    def _csv_row(self, row: dict[str, str], line: int, number: int,
                 raw: str) -> dict[str, Any] | Unreadable:
        if "auditdata" in row:
            return self._purview(row, line, number, raw, "purview_csv")
        return self._flat({k: v for k, v in row.items() if v != ""}, line, number, raw,
                          shape="sentinel")

    def _purview(self, row: Mapping[str, Any], line: int, number: int, raw: str,
                 shape: str) -> dict[str, Any] | Unreadable:
        """A Purview export row (keys lower-cased): its ``AuditData`` record, JSON text or
        already an object (``Search-UnifiedAuditLog | ConvertTo-Json`` keeps it as text,
        other tools parse it), with the row's columns filling what the record lacks."""
        inner = row["auditdata"]
        if isinstance(inner, str):
            try:
                inner = orjson.loads(inner)
            except orjson.JSONDecodeError as error:
                return Unreadable(line, number, "invalid AuditData", f"AuditData: {error}", raw)
        if not isinstance(inner, dict):
            return Unreadable(line, number, "invalid AuditData",
                              "AuditData is not a JSON object", raw)
        outer = {"creationtime": row.get("creationdate"),
                 "userid": row.get("userids") or row.get("userid"),
                 "operation": row.get("operations") or row.get("operation"),
                 "recordtype": row.get("recordtype"), "id": row.get("recordid")}
        return self._flat(inner, line, number, raw, outer=outer, shape=shape)

    # -- one record ------------------------------------------------------------------------
    def _flat(self, value: object, line: int, number: int, raw: str,
              outer: Mapping[str, Any] | None = None,
              shape: str | None = None) -> dict[str, Any] | Unreadable:
        try:
            return self._flat_record(value, line, number, raw, outer, shape)
        except RecursionError:
            # orjson reads nesting up to 1,024 levels deep, Python's json writes fewer: such
            # a record is hostile or broken, never an audit record
            return Unreadable(line, number, "too deeply nested",
                              "a value is nested too deeply to store", raw[:2000])

    def _flat_record(self, value: object, line: int, number: int, raw: str,
                     outer: Mapping[str, Any] | None,
                     shape: str | None) -> dict[str, Any] | Unreadable:
        if not isinstance(value, dict):
            return Unreadable(line, number, "not a JSON object", f"got {type(value).__name__}",
                              raw)
        keys = lower_keys(value)
        if shape is None and "auditdata" in keys and not _GRAPH_KEYS & keys.keys():
            # the Purview export as JSON: its columns, with the record in AuditData
            return self._purview(keys, line, number, raw, "purview_json")
        if shape is None and isinstance(keys.get("auditdata"), str):
            parsed = _parsed(keys["auditdata"])  # a Graph record whose auditData is text
            if isinstance(parsed, dict):
                keys["auditdata"] = parsed
        if shape is None:
            if isinstance(keys.get("auditdata"), dict):
                shape = "graph"
            elif "officeworkload" in keys or "timegenerated" in keys:
                shape = "sentinel"
            elif "creationtime" in keys and "operation" in keys:
                shape = "management_api"
            else:
                return Unreadable(line, number, "not an audit record",
                                  "no CreationTime/Operation, auditData or OfficeWorkload", raw)
        if shape == "graph":
            inner = lower_keys(keys["auditdata"])
            # the envelope's userId is the Entra object id, its userPrincipalName the UPN:
            # the UPN is the person, whichever of the two keys the file lists first
            envelope = {k: v for k, v in keys.items() if k != "auditdata"
                        and not (k == "userid" and keys.get("userprincipalname"))}
            renamed = {_GRAPH_RENAMES.get(k, k): v for k, v in envelope.items()}
            record = {**{k: v for k, v in renamed.items() if v not in (None, "")}, **inner}
            # the record's own values win; the envelope fills what the record lacks
            for key in ("creationtime", "userid", "operation", "recordtype", "id", "workload",
                        "objectid", "usertype"):
                if record.get(key) in (None, "") and renamed.get(key) not in (None, ""):
                    record[key] = renamed[key]
        elif shape == "sentinel":
            record = {_SENTINEL_RENAMES.get(k, k): v for k, v in keys.items()}
        else:
            record = dict(keys)
            for key, fallback in (outer or {}).items():
                if record.get(key) in (None, "") and fallback not in (None, ""):
                    record[key] = fallback
        return _flatten(record, shape, line, number, raw)


def _flatten(r: dict[str, Any], shape: str, line: int, number: int,
             raw: str) -> dict[str, Any] | Unreadable:
    """The columns of one record whose keys are already lower-cased common-schema names."""
    ts_text = _text(r.get("creationtime"))
    operation = _text(r.get("operation")) or ""
    record_type = _record_type(r.get("recordtype"))
    user_type = _user_type(r.get("usertype"))
    workload = _text(r.get("workload")) or ""
    family = _family(record_type, workload)
    user_raw = _text(r.get("userid")) or ""
    user_id = user_raw.strip().lower()
    op = operation.lower()
    details: dict[str, Any] = {"operation": operation or None, "record_type": record_type,
                               "workload": workload or None, "user_type": user_type,
                               "client_ip": _text(r.get("clientip") or r.get("actoripaddress")
                                                  or r.get("clientipaddress")),
                               "shape": shape}
    if family == "entra" and OPERATIONS.get((family, op), ("", None))[0] == "cloud_sign_in":
        details["outcome"] = _text(r.get("resultstatus"))
        details["logon_error"] = _text(r.get("logonerror"))
    object_ = _text(r.get("objectid"))
    host = None
    target = target_type = recipients = domain = subject = label = None
    size: int | None = None
    n_attachments: int | None = None
    if family == "sharepoint":
        site = _text(r.get("siteurl")) or ""
        if not object_ and r.get("sourcefilename"):
            object_ = _join_url(site, _text(r.get("sourcerelativeurl")),
                                _text(r.get("sourcefilename")))
        if op == "filecopied" and r.get("destinationfilename"):
            target = _join_url(site, _text(r.get("destinationrelativeurl")),
                               _text(r.get("destinationfilename")))
        if op in ("filedownloaded", "filesyncdownloadedfull"):
            details["direction"] = "download"
        if op in SHARING_OPERATIONS:
            target = _text(r.get("targetuserorgroupname") or r.get("usersharedwith"))
            target_type = _text(r.get("targetuserorgrouptype"))
            if op in _ANONYMOUS:
                details["share"] = "anonymous_link"
            if target and "@" in target:
                domain = target.rsplit("@", 1)[1].strip().lower() or None
        label = _text(r.get("sensitivitylabelid") or r.get("destinationlabel"))
        size = _integer(r.get("filesizebytes") or r.get("filesize"))
        details["user_agent"] = _text(r.get("useragent"))
    elif family == "exchange":
        item = _object(r.get("item"))
        subject = _text(item.get("subject"))
        size = _integer(item.get("sizeinbytes"))
        attachments = _text(item.get("attachments"))
        if attachments is not None:
            listed_files = attachment_files(attachments)
            n_attachments = len(listed_files)
            # the files themselves, as the CERT and Google layouts keep them: a file passed
            # from colleague to colleague and then out is followed by its name
            details["attachments"] = listed_files or None
        listed = _parsed(r.get("recipientlist"))
        if isinstance(listed, list):
            recipients = ";".join(
                str(a.get("Address") or a.get("address") or "").strip().lower()
                for a in listed if isinstance(a, dict)
                and (a.get("Address") or a.get("address"))) or None
        details["mailbox_owner"] = _text(r.get("mailboxownerupn"))
        details["logon_type"] = _number(r.get("logontype"))
        if op == "mailitemsaccessed":
            details["mail_access_type"] = _operation_property(r, "MailAccessType")
        if object_ is None and op == "send":
            object_ = _text(item.get("internetmessageid"))
    elif family == "endpoint":
        host = _text(r.get("devicename"))
        target = _text(r.get("targetfilepath") or r.get("targetprintername"))
        domain = (_text(r.get("targetdomain")) or "").lower() or None
        size = _integer(r.get("filesize"))
        media = _object(r.get("removablemediadeviceattributes"))
        if media:
            device = " ".join(str(media[k]) for k in ("manufacturer", "model", "serialnumber")
                              if media.get(k))
            target = device or target
            details["to_removable_media"] = True
        label = (_text(_object(r.get("sensitivitylabeleventdata")).get("sensitivitylabelid"))
                 or _text(r.get("sensitivitylabelid")))
        details["application"] = _text(r.get("application"))
        details["enforcement_mode"] = _number(r.get("enforcementmode"))
    elif family == "badge":
        object_ = _text(r.get("assetname") or r.get("assetid")) or object_
        details["access_status"] = _text(r.get("accessstatus"))
        ts_text = _text(r.get("eventtime")) or ts_text
    elif family == "hr":
        return _hr_record(r, shape, line, number, raw, ts_text, user_id)
    else:
        label = _text(r.get("sensitivitylabelid"))
    owner = _onedrive_owner(object_)
    if owner is not None:
        # whose OneDrive the object is in: someone else's is what a snooper opens
        details["onedrive_owner"] = owner
        details["own_onedrive"] = owner == _onedrive_alias(user_id)
    dest = "service_events" if _is_service(user_type, user_id) else "events"
    if label:
        details["label_id"] = label
    if dest == "service_events":
        details["account"] = user_raw
    if user_raw and user_raw != user_id:
        details["upn"] = user_raw
    return {
        "record_id": _text(r.get("id")), "ts": _timestamp(ts_text), "ts_text": ts_text,
        "shape": shape, "operation": operation, "op_key": f"{family}:{op}",
        "record_type": record_type, "user_type": user_type, "user_id": user_id, "host": host,
        "object": object_, "target": target, "target_type": target_type,
        "recipients": recipients, "domain": domain, "size": size,
        "n_attachments": n_attachments, "subject": subject,
        "label_id": label.lower() if label else None,
        "details": _dump({k: v for k, v in details.items() if v is not None}),
        "_line": line, "_record": number, "_raw": raw, "_dest": dest,
        "hr_kind": None, "hr_ts": None, "hr_attrs": None,
    }


#: Fields of the Purview HR connector's data types (its CSV layout, also carried by its HR
#: signal records) that tell the kind: (fields, kind, the field holding its date), tried in
#: order. A resignation's ``LastWorkingDate`` is its leaving date, not a second event. A job
#: level change and a performance review both carry ``EffectiveDate``: the levels tell them
#: apart, so a review is never taken for a transfer.
_HR_KINDS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("resignationdate",), "resignation_notice", "resignationdate"),
    (("lastworkingdate",), "termination", "lastworkingdate"),
    (("oldlevel", "newlevel"), "transfer", "effectivedate"),
    # an improvement plan is a concern; a review is not one by itself (every employee gets a
    # yearly review, and what a low rating is depends on the company's scale)
    (("improvementremarks",), "performance_concern", "effectivedate"),
    (("performanceremarks", "rating"), "performance_review", "effectivedate"),
)
#: Words of an HR signal's type → our kind, when no field says it.
_HR_SIGNAL_WORDS = (("resign", "resignation_notice"), ("termination", "termination"),
                    ("level", "transfer"), ("improvement", "performance_concern"),
                    ("performance", "performance_review"))
#: ``attrs`` of an HR row that say where it came from, not what happened.
_HR_BOOKKEEPING = frozenset({"source", "key", "record_id", "hrsignaltype", "datatype"})
#: HR fields kept in ``attrs`` (the dates are the row's ``ts`` and ``leave_date``).
_HR_ATTRS = frozenset({"oldlevel", "newlevel", "rating", "remarks", "performanceremarks",
                       "improvementremarks", "hrsignaltype", "datatype"})


def hr_key(user_id: str, kind: str, ts: datetime, attrs: Mapping[str, Any]) -> str:
    """A stable key of an HR event from what it says, not from where it came.

    ``hr_events`` has no id column, and an HR fact reaches the audit log again whenever the
    HR connector uploads its file again (a new record ``Id`` each time) or another shape of
    the log is read; the key makes those one row (see
    :func:`molehunt.sources.ingest.Ingestor.ingest_record_file`).

    >>> from datetime import datetime
    >>> k = hr_key("a@x.com", "termination", datetime(2024, 3, 29), {"rating": "2"})
    >>> k == hr_key("a@x.com", "termination", datetime(2024, 3, 29), {"rating": "2"}), len(k)
    (True, 32)
    """
    # values as text and without the shape's bookkeeping: a rating is 2 in the API's JSON
    # and "2" in a Sentinel CSV, and the same fact must give the same key
    said = {k: _text(v) for k, v in attrs.items() if k not in _HR_BOOKKEEPING}
    text = _dump([user_id, kind, ts.isoformat(), said])
    return hashlib.sha256(b"m365.hr\x00" + text.encode("utf-8", "surrogateescape")
                          ).hexdigest()[:32]


def _hr_record(r: dict[str, Any], shape: str, line: int, number: int, raw: str,
               ts_text: str | None, user_id: str) -> dict[str, Any] | Unreadable:
    """An HRSignal record as an ``hr_events`` row (its kind from the fields it carries)."""
    person = (_text(r.get("emailaddress") or r.get("userprincipalname")) or user_id).lower()
    signal = (_text(r.get("hrsignaltype") or r.get("datatype")) or "").lower()
    kind = when = None
    for fields, candidate, date_field in _HR_KINDS:
        if any(r.get(field) not in (None, "") for field in fields):
            kind, when = candidate, _text(r.get(date_field))
            break
    if kind is None and signal:
        kind = next((k for word, k in _HR_SIGNAL_WORDS if word in signal), None)
        when = _text(r.get("effectivedate"))
    if kind is None:
        return Unreadable(line, number, "HR record of unknown kind",
                          "no ResignationDate, LastWorkingDate, job level or performance"
                          " field", raw)
    if not person:
        return Unreadable(line, number, "empty UserId", "the HR record names no person", raw)
    ts = _timestamp(when) or _timestamp(ts_text)
    if ts is None:
        return Unreadable(line, number, "unparseable CreationTime",
                          f"HR date {when!r} / CreationTime {ts_text!r}", raw)
    attrs: dict[str, Any] = {k: v for k, v in r.items() if k in _HR_ATTRS and v is not None}
    if kind == "resignation_notice":
        # the features read a notice's leaving date from here (days_to_departure_1d)
        leaves = _timestamp(_text(r.get("lastworkingdate")))
        if leaves is not None:
            attrs["leave_date"] = leaves.date().isoformat()
    attrs["source"] = "m365"
    key = hr_key(person, kind, ts, attrs)
    attrs["key"] = key
    attrs["record_id"] = _text(r.get("id"))
    return {
        "record_id": key, "ts": ts, "ts_text": ts_text, "shape": shape,
        "operation": _text(r.get("operation")), "op_key": "hr:", "record_type": "HRSignal",
        "user_type": None, "user_id": person, "host": None, "object": None, "target": None,
        "target_type": None, "recipients": None, "domain": None, "size": None,
        "n_attachments": None, "subject": None, "label_id": None, "details": None,
        "_line": line, "_record": number, "_raw": raw, "_dest": "hr_events",
        "hr_kind": kind, "hr_ts": ts, "hr_attrs": _dump(attrs),
    }


# -- the SQL mapping ----------------------------------------------------------------------
#: A domain inside the company: configured or inferred, or the actor's own tenant domain.
_INSIDE = ("(mh_is_company({d}) OR (_own_domain <> ''"
           " AND list_contains(mh_suffixes({d}), _own_domain)))")
_SHARE_DOMAIN = "coalesce(domain, '')"
_WEBMAIL = "list_filter(_counterparts, lambda d: mh_is_webmail(d))"
_EXTERNAL = f"list_filter(_counterparts, lambda d: NOT {_INSIDE.format(d='d')})"
#: A mail's channel from its counterparts' domains (Microsoft 365's and Google's alike).
_MAIL_CHANNEL = (f"CASE WHEN len(_counterparts) = 0 THEN NULL WHEN len({_WEBMAIL}) > 0 THEN"
                 f" 'webmail' WHEN len({_EXTERNAL}) > 0 THEN 'email_external'"
                 " ELSE 'email_internal' END")


def _action_and_channel() -> tuple[str, str]:
    """SQL for the action and the channel of a flattened record."""
    action_cases = " ".join(f"WHEN {sql_string(f'{family}:{op}')} THEN {sql_string(action)}"
                            for (family, op), (action, _) in OPERATIONS.items())
    channel_cases = " ".join(
        f"WHEN {sql_string(f'{family}:{op}')} THEN {sql_string(channel)}"
        for (family, op), (_, channel) in OPERATIONS.items() if channel is not None)
    sharing = ", ".join(sql_string(f"sharepoint:{op}") for op in sorted(SHARING_OPERATIONS))
    outward = ("(contains(op_key, 'anonymouslink') OR lower(coalesce(target_type, ''))"
               " IN ('guest', 'partner', 'external') OR (contains(coalesce(target, ''), '@')"
               f" AND NOT {_INSIDE.format(d=_SHARE_DOMAIN)}))")
    action = (f"CASE WHEN op_key IN ({sharing}) THEN CASE WHEN {outward} THEN 'web_upload'"
              f" ELSE 'file_share' END WHEN op_key LIKE 'badge:%' THEN 'badge'"
              f" ELSE CASE op_key {action_cases} ELSE '{_OTHER_ACTION}' END END")
    channel = (f"CASE WHEN op_key IN ({sharing}) THEN 'cloud_storage'"
               " WHEN op_key LIKE 'badge:%' THEN 'physical'"
               f" WHEN op_key IN ('exchange:send', 'exchange:sendas', 'exchange:sendonbehalf')"
               f" THEN {_MAIL_CHANNEL} ELSE CASE op_key {channel_cases} ELSE NULL END END")
    return action, channel


# -- small helpers ------------------------------------------------------------------------
def _dump(value: object) -> str:
    """Compact JSON with sorted keys, the same on every run."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # an integer beyond 64 bits (orjson's limit) or a key that is not text
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=str)


def _raw_text(value: object) -> str:
    """A record's text for the quarantine, when only its parsed value is at hand."""
    try:
        return _dump(value)
    except RecursionError:
        return "(a value nested too deeply to show)"


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return str(value)
    return _dump(value)


def _parsed(value: object) -> object:
    """A nested value; Sentinel keeps nested objects and lists as JSON text."""
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _number(value: object) -> object:
    """An enum value as a number, whether the shape wrote it as a number or as text."""
    number = _integer(value)
    return number if number is not None else value


def _object(value: object) -> dict[str, Any]:
    """A nested object with lower-cased keys."""
    return lower_keys(_parsed(value))


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -2**63 <= value < 2**63 else None
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
        return int(value.strip())
    return None


def _enumerated(value: object, by_number: Mapping[int, str], by_name: Mapping[str, str]
                ) -> str | None:
    """An enumeration the API writes as a number and exports as its name (``RecordType``,
    ``UserType``), as one name either way; an unknown value is kept as it is."""
    number = _integer(value)
    if number is not None:
        return by_number.get(number, str(number))
    text = _text(value)
    if text is None:
        return None
    return by_name.get(text.strip().lower(), text.strip())


def _record_type(value: object) -> str | None:
    return _enumerated(value, RECORD_TYPES, _RECORD_TYPE_NAMES)


def _user_type(value: object) -> str | None:
    return _enumerated(value, USER_TYPES, _USER_TYPE_NAMES)


def _family(record_type: str | None, workload: str) -> str:
    """The workload family an operation name is read in (the same name means different
    things in SharePoint and on a device: ``FileModified``)."""
    rt = (record_type or "").lower()
    wl = workload.lower()
    if rt == "dlpendpoint" or wl == "endpoint":
        return "endpoint"
    if rt == "hrsignal":
        return "hr"
    if rt == "physicalbadgingsignal":
        return "badge"
    if rt.startswith(("sharepoint", "onedrive")) or wl in ("sharepoint", "onedrive"):
        return "sharepoint"
    if rt.startswith("exchange") or wl == "exchange":
        return "exchange"
    if rt in ("discovery", "aed"):
        return "discovery"
    if rt.startswith("azureactivedirectory") or wl == "azureactivedirectory":
        return "entra"
    return "other"


def _is_service(user_type: str | None, user_id: str) -> bool:
    if user_type in NON_PERSON_USER_TYPES:
        return True
    return (user_id in _SYSTEM_IDS or user_id.startswith(("nt authority\\", "serviceprincipal_"))
            or user_id.endswith("@sharepoint"))


def _operation_property(r: Mapping[str, Any], name: str) -> str | None:
    properties = _parsed(r.get("operationproperties"))
    if isinstance(properties, list):
        for item in map(lower_keys, properties):
            if item.get("name") == name:
                return _text(item.get("value"))
    return None


_ONEDRIVE = re.compile(r"^https?://[^/]+-my\.sharepoint\.[a-z.]+/personal/([^/?#]+)", re.I)


def _onedrive_owner(url: str | None) -> str | None:
    """The site alias of the person whose OneDrive a URL is in, or None.

    >>> _onedrive_owner("https://contoso-my.sharepoint.com/personal/al_ali_contoso_com/x.docx")
    'al_ali_contoso_com'
    """
    found = _ONEDRIVE.match(url or "")
    return found.group(1).lower() if found else None


def _onedrive_alias(upn: str) -> str:
    """The OneDrive site alias SharePoint derives from a UPN (every other character ``_``).

    >>> _onedrive_alias("al.ali@contoso.com")
    'al_ali_contoso_com'
    """
    return re.sub(r"[^a-z0-9]", "_", upn.lower())


def _join_url(site: str, folder: str | None, name: str | None) -> str:
    """Site URL, folder and file name as one path, as ``ObjectId`` gives it."""
    parts = [p.strip("/") for p in (folder or "", name or "") if p and p.strip("/")]
    return "/".join([site.rstrip("/"), *parts]) if site else "/".join(parts)


def _timestamp(value: str | None) -> datetime | None:
    """An audit time as naive UTC, or None.

    >>> _timestamp("2024-03-01T08:00:00.1234567Z")
    datetime.datetime(2024, 3, 1, 8, 0, 0, 123456)
    >>> _timestamp("3/1/2024 8:00:00 PM")
    datetime.datetime(2024, 3, 1, 20, 0)
    """
    if not value:
        return None
    text = value.strip().replace(" [UTC]", "")
    iso = _FRACTION.sub(lambda m: m.group(1), text)
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        for layout in _US_FORMATS:
            try:
                parsed = datetime.strptime(text, layout)
                break
            except ValueError:
                continue
    return None if parsed is None else utc_naive(parsed)


def _header_key(field: str) -> str:
    """A CSV header name as a lower-case key (``TimeGenerated [UTC]`` → ``timegenerated``)."""
    return field.strip().lstrip("\ufeff").split(" [", 1)[0].strip().strip('"').lower()


def _local_time_column(fields: Sequence[str]) -> str | None:
    """The header name of a Sentinel CSV's time column when it is not in UTC, else None.

    The Log Analytics portal writes the display time zone into the header
    (``TimeGenerated [UTC]``, or ``TimeGenerated [Local Time]`` after the viewer chose local
    time); a Purview export's own time is the one inside ``AuditData``, always UTC.

    >>> _local_time_column(["TimeGenerated [Local Time]", "Operation"])
    'TimeGenerated [Local Time]'
    >>> _local_time_column(["TimeGenerated [UTC]", "Operation"]) is None
    True
    """
    keys = {_header_key(f) for f in fields}
    if "auditdata" in keys:
        return None
    for field in fields:
        zone = re.search(r"\[([^\]]*)\]\s*$", field)
        if (_header_key(field) in ("timegenerated", "creationtime") and zone
                and zone.group(1).strip().upper() != "UTC"):
            return field.strip().lstrip("\ufeff")
    return None


def _csv_header_width(path: Path) -> int:
    """How many fields a CSV export's header has (the line after Windows PowerShell's
    ``#TYPE`` line, if any)."""
    torn: list[BaseException] = []
    for line, _, _ in utf8_lines(path, "utf-8", torn):
        text = line.decode("utf-8", "replace")
        if text.startswith("#TYPE") or not text.strip():
            continue
        return len(next(csv.reader([text]), []))
    return 0


def _header_lines(copy: Path) -> int:
    """The lines of a normalised CSV export after its first that are no record: another
    export's ``#TYPE`` line or header (exports appended into one file bring theirs), or
    the header itself when a ``#TYPE`` line came first."""
    lines = 0
    header: list[str] | None = None
    longest = 0
    with copy.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\n").removeprefix("\ufeff")
            if text.startswith("#TYPE"):
                lines += number > 1
            elif header is None:
                header = [_header_key(f) for f in next(csv.reader([text]), [])]
                longest = 4 * len(text) + 64  # however another export quoted its header
                lines += number > 1
            elif len(text) <= longest:
                fields = next(csv.reader([text]), [])
                lines += bool(fields) and [_header_key(f) for f in fields] == header
    return lines


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _skip_space(text: str, position: int, line: int) -> tuple[int, int]:
    while position < len(text) and text[position] in " \t\r\n":
        if text[position] == "\n":
            line += 1
        position += 1
    return position, line


def _has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in text)


def _visible(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _quote(field: str) -> str:
    if any(c in field for c in ',"\r\n'):
        return '"' + field.replace('"', '""') + '"'
    return field


def _strip_bom(handle: Any) -> Iterator[bytes]:
    first = True
    for line in handle:
        if first and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        first = False
        yield line



def attachment_files(listed: str) -> list[str]:
    """The files of Exchange's ``Item.Attachments`` (``"name (size b); ..."``), each as
    ``name(size)``, the form CERT's e-mail log gives them.

    >>> attachment_files("Atlas cell recipe.xlsx (40211b); notes.txt (200b); ; plain.pdf")
    ['Atlas cell recipe.xlsx(40211)', 'notes.txt(200)', 'plain.pdf']
    """
    files = []
    for part in listed.split(";"):
        name = part.strip()
        if not name:
            continue
        sized = _SIZED_ATTACHMENT.fullmatch(name)
        files.append(f"{sized.group(1).rstrip()}({sized.group(2)})" if sized else name)
    return files

__all__ = [
    "NON_PERSON_USER_TYPES",
    "OPERATIONS",
    "RECORD_TYPES",
    "SHARING_OPERATIONS",
    "USER_TYPES",
    "M365Audit",
    "attachment_files",
]
