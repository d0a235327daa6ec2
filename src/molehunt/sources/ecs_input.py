"""Elastic Common Schema (ECS) documents that a data lake already normalised (Elasticsearch or
OpenSearch exports, Filebeat/Elastic Agent output, a pipeline's ECS output): one layout,
``ecs.events``.

Shapes: NDJSON (one document a line, as ``elasticdump`` or Logstash's file output write), a
JSON array, or a search response (``hits.hits[]._source``), plain or gzip-compressed. Fields
may be nested (``{"user": {"name": ...}}``) or dotted (``{"user.name": ...}``), as ECS allows.
Winlogbeat and Elastic Agent Windows documents (with ``winlog``) are left to ``ingest
windows``, which reads their event ids (:mod:`molehunt.sources.windows_security`).

Documents read, by ``event.category`` (a list or one value) and ``event.type``:

* **file**: ``deletion`` → ``file_delete``; ``creation`` or ``change`` → ``file_write``;
  ``access`` → ``file_open``; on ``network_share`` when ``file.path`` is a UNC path, else
  ``local``. ``file.path`` (else ``file.name``) is the object, ``file.size`` the bytes. Other
  types (``info``) are skipped.
* **authentication**: ``start`` → a logon, ``end`` → a logoff; on a computer (``host.name``)
  ``logon``/``logoff`` on ``local`` (``source.ip`` in ``attrs``: SSH and RDP logons are a
  person at that computer too, as the Windows source has remote interactive logons);
  without a host (an identity provider's or a cloud service's sign-in: Okta, Entra ID
  through Filebeat) ``cloud_sign_in``. ``event.outcome: failure`` is skipped (a failed
  logon), as are authentication documents of other types.
* **email**: sent (``event.action`` naming a send, else ``email.direction`` outbound) →
  ``email_send`` by ``user.email`` (else ``email.from.address``) to ``email.to``,
  ``email.cc`` and ``email.bcc`` addresses; received (an action naming a receipt or
  delivery, else direction inbound) → ``email_view`` by ``user.email`` (else the one
  recipient), the sender as counterpart. ``email.subject`` → ``content``,
  ``email.attachments`` → ``n_attachments``. Mail whose direction cannot be told is skipped.
* **web** (and **network** documents with a URL): ``http.request.method`` POST, PUT or
  PATCH → ``web_upload`` (bytes: ``http.request.bytes``, else its ``body.bytes``, else
  ``source.bytes``); GET, CONNECT or none → ``web_visit`` (bytes: ``http.response.bytes``,
  else its ``body.bytes``, else ``destination.bytes``); other methods skipped. The URL is
  ``url.full`` (else ``url.original``, else ``url.domain``), the domain ``url.domain``; the
  channel from the domain's category (cloud storage, webmail, else ``web``).

Any other category is skipped with its name; a document without ``event.category`` is
quarantined (``no event.category``), as is one without ``@timestamp`` (``unparseable time``).

People: ``user.email``, else ``user.name``, lower-cased (with ``user.domain`` kept in
``attrs``); machine accounts (``NAME$``) and ECS's service identities (``user.name`` SYSTEM,
LOCAL SERVICE, NETWORK SERVICE, root) are skipped. The event id is ``event.id`` when the
document has one (else a hash of the document), so a document exported twice is stored once.
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

#: ``event.category`` values this layout reads.
CATEGORIES = ("file", "authentication", "email", "web", "network")
_SERVICE_NAMES = frozenset({"system", "local service", "network service", "root",
                            "anonymous logon", "nt authority\\system"})
_UPLOAD_METHODS = frozenset({"post", "put", "patch"})
_VISIT_METHODS = frozenset({"get", "connect", ""})
_SEND = re.compile(r"\b(send|sent|submit)", re.I)
_RECEIVE = re.compile(r"\b(receiv|deliver|read)", re.I)
_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/?#]*@)?([^/:?#]+)", re.I)


class EcsEvents(NormalisedLayout):
    """Elastic Common Schema documents (file, authentication, e-mail and web events)."""

    name = "ecs.events"
    family = "ecs"
    source = "ecs"
    schema_name = "ecs"
    family_title = "Elastic Common Schema documents as NDJSON, a JSON array or a search"\
                   " response (file, authentication, e-mail and web events)"
    #: What an ECS index shows depends on what was shipped into it: its rows say so
    #: (molehunt.store.coverage); this declaration promises nothing.
    observes: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def sniff(cls, head: str) -> bool:
        """JSON with ``@timestamp`` and ``event.category`` (nested or dotted), not Winlogbeat's
        Windows events (``winlog``: read by the Windows source)."""
        body = head.lstrip("\ufeff \t\r\n")
        if not body.startswith(("[", "{")) or re.search(r'"winlog"\s*:\s*\{', body):
            return False
        return ('"@timestamp"' in body
                and bool(re.search(r'"event\.category"\s*:|"event"\s*:\s*\{[^{}]*"category"\s*:',
                                   body)))

    def flatten(self, document: Mapping[str, Any]) -> dict[str, Any] | Skipped | str:
        """One ECS document as the store's fields (see the module docstring)."""
        if isinstance(get(document, "winlog"), dict):
            return Skipped("Winlogbeat Windows event (read by `ingest windows`)")
        categories = _values(get(document, "event.category"))
        if not categories:
            return "no event.category: not an ECS event"
        types = _values(get(document, "event.type"))
        ts_text = get(document, "@timestamp")
        details: dict[str, Any] = {
            "category": ",".join(categories), "type": ",".join(types) or None,
            "event_action": text(get(document, "event.action")),
            "dataset": text(get(document, "event.dataset")),
            "user_domain": text(get(document, "user.domain")),
        }
        user_name = text(get(document, "user.name")) or ""
        if user_name.endswith("$"):
            return Skipped("machine account (not a person)")
        if user_name.lower() in _SERVICE_NAMES:
            return Skipped("well-known service account (not a person)")
        user = text(get(document, "user.email")) or user_name or text(get(document, "user.id"))
        record_id = text(get(document, "event.id"))
        flat: dict[str, Any] = {
            "record_id": "ecs:" + record_id if record_id else None,
            "ts_text": None if ts_text is None else str(ts_text),
            "user_id": user.lower() if user else None,
            "host": _host_name(document),
        }
        url = (text(get(document, "url.full")) or text(get(document, "url.original"))
               or text(get(document, "url.domain")))
        if "file" in categories:
            found = _file(document, types, flat)
        elif "authentication" in categories:
            found = _authentication(document, types, details, flat)
        elif "email" in categories:
            found = _email(document, details, flat)
        elif ("web" in categories or "network" in categories) and url is not None:
            found = _web(document, url, details, flat)
        else:
            return Skipped(f"ECS category {','.join(categories)} not read")
        if found is not None:
            return found
        flat["details"] = dump(details)
        return flat


def _file(document: Mapping[str, Any], types: list[str], flat: dict[str, Any]
          ) -> Skipped | None:
    if "deletion" in types:
        action = "file_delete"
    elif "creation" in types or "change" in types:
        action = "file_write"
    elif "access" in types:
        action = "file_open"
    else:
        return Skipped(f"file event of type {','.join(types) or 'none'} not read")
    flat.update(action=action, **file_fields(document))
    return None


def _authentication(document: Mapping[str, Any], types: list[str], details: dict[str, Any],
                    flat: dict[str, Any]) -> Skipped | None:
    if (text(get(document, "event.outcome")) or "").lower() == "failure":
        return Skipped("failed logon")
    if "start" in types:
        starting = True
    elif "end" in types:
        starting = False
    else:
        return Skipped("authentication event that is neither a start nor an end")
    details["source_ip"] = text(get(document, "source.ip"))
    if flat["host"] is None:
        service = text(get(document, "service.name")) or text(get(document, "event.dataset"))
        flat.update(action="cloud_sign_in" if starting else "cloud_sign_out", channel=None,
                    object=service)
        return None
    flat.update(action="logon" if starting else "logoff", channel="local", object=flat["host"])
    return None


def _email(document: Mapping[str, Any], details: dict[str, Any], flat: dict[str, Any]
           ) -> Skipped | None:
    recipients = [a for field in ("to", "cc", "bcc")
                  for a in _values(get(document, f"email.{field}.address"))]
    sender = (first_text(get(document, "email.from.address"))
              or first_text(get(document, "email.sender.address")))
    action_text = text(get(document, "event.action")) or ""
    direction = (text(get(document, "email.direction")) or "").lower()
    if _SEND.search(action_text) or (not _RECEIVE.search(action_text)
                                     and direction == "outbound"):
        flat["user_id"] = flat["user_id"] or (sender.lower() if sender else None)
        flat.update(action="email_send", counterparts=";".join(recipients))
    elif _RECEIVE.search(action_text) or direction == "inbound":
        if not flat["user_id"]:
            if len(recipients) != 1:
                return Skipped("received mail without a user and not to one recipient")
            flat["user_id"] = recipients[0].lower()
        flat.update(action="email_view", counterparts=sender or "")
        details["recipients"] = ";".join(recipients) or None
    else:
        return Skipped("e-mail whose direction cannot be told (no send or receive action,"
                       " no email.direction)")
    attachments = get(document, "email.attachments")
    flat.update(object=text(get(document, "email.message_id")),
                subject=text(get(document, "email.subject")),
                n_attachments=len(attachments) if isinstance(attachments, list) else None)
    details["direction"] = direction or None
    return None


def _web(document: Mapping[str, Any], url: str, details: dict[str, Any], flat: dict[str, Any]
         ) -> Skipped | None:
    method = (text(get(document, "http.request.method")) or "").lower()
    if method in _UPLOAD_METHODS:
        action = "web_upload"
        size = (integer(get(document, "http.request.bytes"))
                or integer(get(document, "http.request.body.bytes"))
                or integer(get(document, "source.bytes")))
    elif method in _VISIT_METHODS:
        action = "web_visit"
        size = (integer(get(document, "http.response.bytes"))
                or integer(get(document, "http.response.body.bytes"))
                or integer(get(document, "destination.bytes")))
    else:
        return Skipped(f"HTTP method {method.upper()} not read")
    flat.update(action=action, channel=None, object=url, bytes=size,
                domain=text(get(document, "url.domain")) or _host_of(url))
    details["method"] = method.upper() or None
    details["status"] = integer(get(document, "http.response.status_code"))
    return None


def _host_name(document: Mapping[str, Any]) -> str | None:
    found = text(get(document, "host.hostname")) or text(get(document, "host.name"))
    return found.split(".", 1)[0].upper() if found else None


def _values(value: object) -> list[str]:
    """A keyword field's values, lower-cased where ECS's are (one value or a list).

    >>> _values(["File", "", "network"]), _values("web"), _values(None)
    (['file', 'network'], ['web'], [])
    """
    items = value if isinstance(value, list) else [value]
    return [found.lower() for item in items if (found := text(item)) is not None]


def _host_of(url: str) -> str | None:
    """The host of a URL, lower-cased.

    >>> _host_of("https://user@Mail.Example.org:8443/x"), _host_of("drive.example.com/a")
    ('mail.example.org', 'drive.example.com')
    """
    found = _HOST.match(url.strip())
    return found.group(1).lower() if found else None
