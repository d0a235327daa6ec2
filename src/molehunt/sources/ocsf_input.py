"""OCSF events that a data lake already normalised (Amazon Security Lake, a SIEM's OCSF
export, a pipeline's OCSF output): one layout, ``ocsf.events``.

Shapes: NDJSON (one event a line), a JSON array of events, or a search response
(``hits.hits[]._source``), plain or gzip-compressed, UTF-8 or UTF-16. Any OCSF 1.x version:
the attributes read below have kept their names since 1.0.

Classes read (``class_uid``), by ``activity_id``:

* **File System Activity** (1001): Read (2) and Open (14) → ``file_open``; Create (1) and
  Update (3) → ``file_write``; Delete (4) → ``file_delete``; on ``network_share`` when
  ``file.path`` is a UNC path (``\\\\server\\share\\...``), else ``local``. The person is
  ``actor.user``, the computer ``device``, the object ``file.path`` (else ``file.name``),
  ``bytes`` the ``file.size``. Other activities (rename, attributes, security, encryption,
  mount) are skipped with their name.
* **Authentication** (3002): Logon (1) and Logoff (2) of ``user`` at ``dst_endpoint`` (else
  ``device``), by ``logon_type_id``: interactive (2), unlock (7), remote interactive (10) and
  the cached ones (11-13) → ``logon``/``logoff`` on ``local``; network (3, 8) →
  ``network_logon`` on ``network_share``; batch, service and new credentials (4, 5, 9)
  skipped; a logon without a logon type (a sign-in to a cloud service or an identity
  provider) → ``cloud_sign_in``. A failed logon (``status_id`` 2) is skipped, and so are
  ticket and pre-authentication activities.
* **Email Activity** (4009): Send (1) → ``email_send`` by ``actor.user`` (else
  ``email.from``) to ``email.to``, ``email.cc`` and ``email.bcc``; Receive (2) →
  ``email_view`` by ``actor.user`` (else the one recipient; mail to several recipients
  without an actor names no one and is skipped), the sender as counterpart. Subject →
  ``content``, ``email.size`` → ``bytes``, ``email.files`` → ``n_attachments``; the
  channel from the counterparts' domains. Scan and Trace are skipped.
* **Web Resources Activity** (6001): Read (2) and Search (5) → ``web_visit``; Create (1),
  Import (6) and Update (3) → ``web_upload``; Export (7) → ``web_download``; Share (8) →
  ``file_share``; the object is the first of ``web_resources`` (its ``url_string``, else
  ``name``), the domain its host (else ``dst_endpoint.hostname``). Delete is skipped.
* **HTTP Activity** (4002): Get (3) and Connect (1) → ``web_visit``; Post (6), Put (7) and
  Patch (9) → ``web_upload``; ``bytes`` from ``traffic.bytes_out`` for uploads and
  ``traffic.bytes_in`` for visits; the URL is ``http_request.url.url_string`` (else built
  from its hostname and path). Delete, Head, Options and Trace are skipped, and so is a
  request without ``actor.user`` (unauthenticated, as the proxy layouts skip theirs).

The web channel comes from the domain's category (cloud storage, webmail, else ``web``), as
for the CERT web logs. Every other class is skipped with its ``class_uid``.

People: ``user.email_addr``, else ``user.name``, lower-cased, is the user id (as for the
Windows and Microsoft 365 sources, mapping it to the directory belongs at read time). Users of
type System or Service (``type_id`` 3, 4) and machine accounts (``NAME$``) are skipped: never a
person. The event id is ``metadata.uid`` when the event has one (so an event read twice is
stored once), else a hash of the document.

``time`` is epoch milliseconds (``timestamp_t``; a number too small for that is epoch
seconds, as some producers write it) or, in some exports, an ISO 8601 text (``time_dt``); a
document with neither is quarantined (``unparseable time``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from molehunt.sources._normalised import (
    NormalisedLayout,
    dump,
    file_fields,
    first_text,
    get,
    integer,
    text,
)
from molehunt.sources.base import Skipped

# the class_uid of each OCSF class read (category × 1000 + class)
FILE_SYSTEM_ACTIVITY = 1001
AUTHENTICATION = 3002
HTTP_ACTIVITY = 4002
EMAIL_ACTIVITY = 4009
WEB_RESOURCES_ACTIVITY = 6001
#: The classes this layout reads, by uid.
CLASSES: Mapping[int, str] = {
    FILE_SYSTEM_ACTIVITY: "File System Activity", AUTHENTICATION: "Authentication",
    HTTP_ACTIVITY: "HTTP Activity", EMAIL_ACTIVITY: "Email Activity",
    WEB_RESOURCES_ACTIVITY: "Web Resources Activity",
}
_FILE_ACTIONS = {1: "file_write", 2: "file_open", 3: "file_write", 4: "file_delete",
                 14: "file_open"}
_FILE_ACTIVITIES = {5: "Rename", 6: "Set Attributes", 7: "Set Security", 8: "Get Attributes",
                    9: "Get Security", 10: "Encrypt", 11: "Decrypt", 12: "Mount", 13: "Unmount"}
#: logon_type_id → (kind, action); None: not a person at a computer.
_LOGON_TYPES: Mapping[int, tuple[str, str | None]] = {
    2: ("interactive", "logon"), 3: ("network", "network_logon"), 4: ("batch", None),
    5: ("os_service", None), 7: ("unlock", "logon"), 8: ("network_cleartext", "network_logon"),
    9: ("new_credentials", None), 10: ("remote_interactive", "logon"),
    11: ("cached_interactive", "logon"), 12: ("cached_remote_interactive", "logon"),
    13: ("cached_unlock", "logon"),
}
_WEB_RESOURCE_ACTIONS = {1: "web_upload", 2: "web_visit", 3: "web_upload", 5: "web_visit",
                         6: "web_upload", 7: "web_download", 8: "file_share"}
_HTTP_ACTIONS = {1: "web_visit", 3: "web_visit", 6: "web_upload", 7: "web_upload",
                 9: "web_upload"}
_SERVICE_USER_TYPES = {3: "system", 4: "service"}
_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?([^/?#]+)", re.I)


class OcsfEvents(NormalisedLayout):
    """OCSF 1.x events (file system, authentication, e-mail, web resources and HTTP activity)."""

    name = "ocsf.events"
    family = "ocsf"
    source = "ocsf"
    schema_name = "ocsf"
    family_title = "OCSF 1.x events as NDJSON or a JSON array (file, authentication, e-mail,"\
                   " web resources and HTTP activity)"
    #: What an OCSF feed shows depends on what was normalised into it: its rows say so
    #: (molehunt.store.coverage); this declaration promises nothing.
    observes: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def sniff(cls, head: str) -> bool:
        """JSON whose first document has OCSF's ``class_uid`` and ``metadata``."""
        body = head.lstrip("\ufeff \t\r\n")
        if not body.startswith(("[", "{")):
            return False
        return (bool(re.search(r'"class_uid"\s*:\s*\d', body))
                and bool(re.search(r'"metadata"\s*:\s*\{', body)))

    def flatten(self, document: Mapping[str, Any]) -> dict[str, Any] | Skipped | str:
        """One OCSF event as the store's fields (see the module docstring)."""
        class_uid = integer(document.get("class_uid"))
        if class_uid is None:
            return "no class_uid: not an OCSF event"
        if class_uid not in CLASSES:
            return Skipped(f"OCSF class {class_uid} not read")
        activity = integer(document.get("activity_id"))
        ts_text = document.get("time")
        if ts_text is None or isinstance(ts_text, dict | list):
            ts_text = document.get("time_dt")
        details: dict[str, Any] = {
            "class_uid": class_uid, "activity_id": activity,
            "product": text(get(document, "metadata.product.name")),
            "status_id": integer(document.get("status_id")),
        }
        flat: dict[str, Any] = {
            "record_id": text(get(document, "metadata.uid")),
            "ts_text": None if ts_text is None else str(ts_text),
            "host": _hostname(get(document, "device")),
        }
        if class_uid == AUTHENTICATION:
            found = _authentication(document, activity, details, flat)
        else:
            user = get(document, "actor.user")
            if class_uid == HTTP_ACTIVITY and user is None:
                # A proxy's request that no sign-in stood behind, as the proxy layouts skip
                # theirs: valid OCSF (actor is optional there), and no person to store it for.
                return Skipped("HTTP request without a user (unauthenticated)")
            skipped = _not_a_person(user)
            if skipped is not None:
                return skipped
            flat["user_id"] = _user_id(user)
            if class_uid == FILE_SYSTEM_ACTIVITY:
                found = _file(document, activity, details, flat)
            elif class_uid == EMAIL_ACTIVITY:
                found = _email(document, activity, details, flat)
            elif class_uid == WEB_RESOURCES_ACTIVITY:
                found = _web_resource(document, activity, details, flat)
            else:
                found = _http(document, activity, details, flat)
        if found is not None:
            return found
        if flat.get("record_id"):
            flat["record_id"] = "ocsf:" + flat["record_id"]
        flat["details"] = dump(details)
        return flat


def _file(document: Mapping[str, Any], activity: int | None, details: dict[str, Any],
          flat: dict[str, Any]) -> Skipped | None:
    action = _FILE_ACTIONS.get(activity or -1)
    if action is None:
        return Skipped(f"file activity {_FILE_ACTIVITIES.get(activity or -1, activity)}"
                       " not read")
    flat.update(action=action, **file_fields(document))
    details["process"] = text(get(document, "actor.process.name"))
    return None


def _authentication(document: Mapping[str, Any], activity: int | None,
                    details: dict[str, Any], flat: dict[str, Any]) -> Skipped | None:
    if activity not in (1, 2):
        return Skipped("authentication activity other than logon or logoff")
    if integer(document.get("status_id")) == 2:
        return Skipped("failed logon")
    user = get(document, "user")
    skipped = _not_a_person(user)
    if skipped is not None:
        return skipped
    flat["user_id"] = _user_id(user)
    flat["host"] = _hostname(get(document, "dst_endpoint")) or flat["host"]
    logon_type = integer(document.get("logon_type_id"))
    if logon_type in (None, 0, 99):
        service = (text(get(document, "service.name"))
                   or text(get(document, "dst_endpoint.svc_name")))
        details["service"] = service
        flat.update(action="cloud_sign_in" if activity == 1 else "cloud_sign_out",
                    channel=None, object=service or flat["host"])
        return None
    assert logon_type is not None
    kind, action = _LOGON_TYPES.get(logon_type, (f"type {logon_type}", None))
    details["logon_kind"] = kind
    if action is None:
        return Skipped(f"logon type {logon_type} ({kind}): not a person at a computer")
    if action == "network_logon":
        if activity == 2:
            return Skipped("logoff of a network logon")
        flat.update(action=action, channel="network_share", object=flat["host"])
    else:
        flat.update(action="logon" if activity == 1 else "logoff", channel="local",
                    object=flat["host"])
    details["source_ip"] = text(get(document, "src_endpoint.ip"))
    return None


def _email(document: Mapping[str, Any], activity: int | None, details: dict[str, Any],
           flat: dict[str, Any]) -> Skipped | None:
    recipients = [a for field in ("to", "cc", "bcc")
                  for a in _addresses(get(document, f"email.{field}"))]
    sender = first_text(get(document, "email.from"))
    if activity == 1:
        flat["user_id"] = flat.get("user_id") or (sender or "").lower() or None
        flat.update(action="email_send", counterparts=";".join(recipients))
    elif activity == 2:
        if not flat.get("user_id"):
            if len(recipients) != 1:
                return Skipped("received mail without an actor and not to one recipient")
            flat["user_id"] = recipients[0].lower()
        flat.update(action="email_view", counterparts=sender or "")
        details["recipients"] = ";".join(recipients) or None
    else:
        return Skipped("e-mail activity other than send or receive")
    files = get(document, "email.files")
    flat.update(object=text(get(document, "email.message_uid")) or text(get(document,
                                                                          "email.uid")),
                subject=text(get(document, "email.subject")),
                bytes=integer(get(document, "email.size")),
                n_attachments=len(files) if isinstance(files, list) else None)
    details["direction_id"] = integer(document.get("direction_id"))
    return None


def _web_resource(document: Mapping[str, Any], activity: int | None,
                  details: dict[str, Any], flat: dict[str, Any]) -> Skipped | None:
    action = _WEB_RESOURCE_ACTIONS.get(activity or -1)
    if action is None:
        return Skipped("web resource activity other than read, search, create, import,"
                       " update, export or share")
    resources = get(document, "web_resources")
    first = resources[0] if isinstance(resources, list) and resources else {}
    first = first if isinstance(first, dict) else {}
    url = text(first.get("url_string")) or text(get(first, "url.url_string"))
    name = text(first.get("name"))
    flat.update(action=action, channel="cloud_storage" if action == "file_share" else None,
                object=url or name,
                domain=_host_of(url) or text(get(document, "dst_endpoint.hostname")),
                bytes=integer(get(document, "traffic.bytes_out" if action == "web_upload"
                                  else "traffic.bytes_in")))
    details["resource_type"] = text(first.get("type"))
    details["resources"] = len(resources) if isinstance(resources, list) else None
    return None


def _http(document: Mapping[str, Any], activity: int | None, details: dict[str, Any],
          flat: dict[str, Any]) -> Skipped | None:
    action = _HTTP_ACTIONS.get(activity or -1)
    if action is None:
        return Skipped("HTTP activity other than get, connect, post, put or patch")
    url = text(get(document, "http_request.url.url_string"))
    host = text(get(document, "http_request.url.hostname"))
    if url is None and host is not None:
        url = host + (text(get(document, "http_request.url.path")) or "")
    flat.update(action=action, channel=None, object=url, domain=host or _host_of(url),
                bytes=integer(get(document, "traffic.bytes_out" if action == "web_upload"
                                  else "traffic.bytes_in")))
    flat["host"] = _hostname(get(document, "src_endpoint")) or flat["host"]
    details["method"] = text(get(document, "http_request.http_method"))
    details["status"] = integer(get(document, "http_response.code"))
    return None


def _not_a_person(user: object) -> Skipped | None:
    if not isinstance(user, dict):
        return None  # no user: quarantined as "empty user" by the checks
    kind = _SERVICE_USER_TYPES.get(integer(user.get("type_id")) or -1)
    if kind is not None:
        return Skipped(f"{kind} account (not a person)")
    name = text(user.get("name")) or ""
    if name.endswith("$"):
        return Skipped("machine account (not a person)")
    return None


def _user_id(user: object) -> str | None:
    if not isinstance(user, dict):
        return None
    found = text(user.get("email_addr")) or text(user.get("name")) or text(user.get("uid"))
    return found.lower() if found else None


def _hostname(endpoint: object) -> str | None:
    if not isinstance(endpoint, dict):
        return None
    found = text(endpoint.get("hostname")) or text(endpoint.get("name"))
    return found.split(".", 1)[0].upper() if found else None


def _addresses(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [found for item in items if (found := text(item)) is not None]


def _host_of(url: str | None) -> str | None:
    """The host of a URL, lower-cased.

    >>> _host_of("https://Drive.Example.com:443/x?y"), _host_of(None)
    ('drive.example.com', None)
    """
    if not url:
        return None
    found = _HOST.match(url.strip())
    if found is None:
        return None
    host = found.group(1).rsplit("@", 1)[-1].split(":", 1)[0].lower()
    return host or None
