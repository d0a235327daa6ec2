"""Web proxy logs: Squid native, Zscaler NSS JSON and Blue Coat ELFF, three layouts of family
``proxy`` (``molehunt ingest proxy FILE|DIR``; ``ingest auto`` recognises each by its shape).

* ``proxy.squid`` — Squid's native ``access.log`` (``logformat squid``: ``%ts.%03tu %6tr %>a
  %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt``): time (seconds since the epoch, UTC), elapsed
  milliseconds, client address, result code/HTTP status, bytes sent to the client, method,
  URL, user name, hierarchy code/peer, content type. Fields are separated by white space;
  ``log_mime_hdrs`` adds bracketed headers after them, which are ignored.
* ``proxy.zscaler`` — a Zscaler Internet Access NSS web log feed with the JSON output type,
  one record per line. Its fields are the customer's choice (the feed output format is typed
  into the NSS feed); the default map is that of the JSON feed Zscaler documents for SIEMs
  (``{"sourcetype":"zscalernss-web","event":{"datetime": ..., "user": ..., "url": ...,
  "requestmethod": ..., "requestsize": ..., "responsesize": ...}}``, see
  :data:`ZSCALER_FIELDS`), and ``[proxy_zscaler]`` in ``molehunt.toml`` names other keys::

      [proxy_zscaler]
      time = "ts"                # field = the key of the feed's JSON event that holds it
      user = "login"
      bytes_sent = "reqsize"

  Records may be wrapped in ``event`` (the documented format) or not. Zscaler writes
  ``None`` for an empty value, and the time in the feed's time zone, GMT unless changed:
  times are read as UTC.
* ``proxy.bluecoat`` — Blue Coat / Symantec ProxySG access logs in ELFF (W3C extended log
  format): ``#Software:``/``#Version:``/``#Date:`` directives, a ``#Fields:`` header naming
  the columns (``date time time-taken c-ip cs-username ... sc-bytes cs-bytes ...``, ProxySG's
  default ``main``/``bcreporterwarp_v1`` formats and any custom one), then one request per
  line, values separated by spaces, quoted where they hold spaces, ``-`` for none. Date and
  time are GMT. A ``#Fields:`` line later in the file (the log restarted) applies from there.

What a row becomes. Every request is a ``web_visit``, except that a request that carries a
body out of the company — method ``POST`` or ``PUT`` with at least :data:`UPLOAD_MIN_BYTES`
bytes sent by the client — is a ``web_upload``: a form or an API call sends a few hundred
bytes, a file to personal cloud storage or a webmail attachment sends more than that; and a
``GET`` answered with a file — a response whose content type is no web page or page asset
(:func:`is_file_response`: ``application/octet-stream``, an executable, an archive, ...), or
to which Zscaler's ``filetype`` names a file type — is a ``web_download`` (a tool fetched
from a hacking site). Whether a layout can tell these apart is the observation it declares:
Zscaler and ELFF log the bytes the client sent (``requestsize``, ``cs-bytes``) and the
response's type (``contenttype``/``filetype``, ``rs(Content-Type)``), so they declare
``web_direction``; Squid's native format logs only the bytes sent back, so its rows are all
visits and ``proxy.squid`` declares ``web_visit`` alone (an upload cannot be told from a
visit there, and one observation covers both directions).
A request the proxy blocked sent nothing: a visit with ``attrs.blocked``. An HTTPS tunnel
(``CONNECT``) that the proxy does not inspect is a visit whatever its size: the proxy cannot
see what went through it.

``bytes`` is what the client sent (the request, headers included); ``attrs`` keeps the bytes
received, method, status, client address, the proxy's category, user agent and the app name.
``domain`` is the URL's host without ``www.``; the channel is ``cloud_storage`` or ``webmail``
when the host is in that category of the domain list, else when the proxy's own category
says so (a category naming mail, or storage and file sharing), else ``web``.

Who. The user name the proxy authenticated, lower-cased: ``DOMAIN\\user`` keeps the account
name as the Windows layout does (the full form in ``attrs.account``), a UPN or e-mail address
stays one. As for the other sources, mapping it to the directory's ``user_id`` belongs at read
time in the store. A request without a user name (authentication off, or the browser's first
try that the proxy answers with 407) is skipped with that reason, and so is a machine account
(``NAME$``): neither is a person.

Every line is stored, a duplicate, quarantined with its line and reason, or skipped with a
reason; the lines are counted apart from the parser (non-blank lines, ELFF's ``#`` directives
aside). Squid and ELFF lines have no id: the event id is a hash of the line, so a file read
twice is stored once. The same line again at the same time within a file is another request
(ELFF times are whole seconds: a page's repeated fetches, an upload sent in equal chunks, as
in GCHQ's public Blue Coat sample, twenty identical lines), so its second and later copies
have their count added to the id: read again, the file gives the same ids and is still stored
once. Identical lines apart in the file (another time between them) are taken for one.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

import orjson

from molehunt.sources._files import open_utf8
from molehunt.sources._keys import lower_keys
from molehunt.sources._lines import content_lines
from molehunt.sources._normalised import record_key
from molehunt.sources.base import Check, RecordLayout, Skipped, SqlContext, Unreadable
from molehunt.sources.windows_security import _dump, _text, _timestamp
from molehunt.sql import sql_string

#: A POST or PUT that sent at least this many bytes is an upload (headers included: a
#: browser's request headers, cookies too, rarely pass 8 KiB; a form adds a few hundred bytes).
UPLOAD_MIN_BYTES = 16 * 1024
#: Methods whose request carries a body that leaves the company.
BODY_METHODS = frozenset({"POST", "PUT"})
#: ``application/*`` content types of web pages and their assets, not files (with any
#: ``+json``/``+xml`` type): everything else ``application/*`` is a file a browser saves.
WEB_APPLICATION_TYPES = frozenset({
    "json", "javascript", "x-javascript", "ecmascript", "x-ecmascript", "xml", "xhtml+xml",
    "x-www-form-urlencoded", "ocsp-response", "pkix-crl", "dns-message", "grpc", "grpc-web",
    "x-protobuf", "protobuf", "wasm", "font-woff", "font-woff2", "x-font-woff", "x-font-ttf",
    "x-font-otf", "vnd.ms-fontobject", "csp-report", "reports+json", "x-shockwave-flash",
    "x-amz-json-1.0", "x-amz-json-1.1"})
_NO_FILE_TYPES = frozenset({"", "none", "-", "n/a", "na", "null", "unknown"})

#: The fields of the Zscaler NSS map and the key each has in the JSON web log feed that
#: Zscaler documents for SIEMs (NSS feed output type JSON); ``[proxy_zscaler]`` overrides.
ZSCALER_FIELDS: Mapping[str, str] = {
    "time": "datetime", "user": "user", "url": "url", "host": "hostname",
    "method": "requestmethod", "bytes_sent": "requestsize", "bytes_received": "responsesize",
    "client_ip": "ClientIP", "action": "action", "status": "status",
    "category": "urlcategory", "app": "appname", "record_id": "event_id",
    "device": "devicehostname", "user_agent": "useragent", "content_type": "contenttype",
    "file_type": "filetype",
}
#: What each field of the map is, for ``molehunt.toml``'s checks and the docs.
ZSCALER_FIELD_MEANINGS: Mapping[str, str] = {
    "time": "time of the request, YYYY-MM-DD hh:mm:ss or Zscaler's %s{time} (required)",
    "user": "the user's login (required)",
    "url": "the URL requested (required)",
    "host": "the host requested (when the URL has none)",
    "method": "the HTTP method (required)",
    "bytes_sent": "bytes the client sent: the request size (required)",
    "bytes_received": "bytes sent back: the response size",
    "client_ip": "the client's address",
    "action": "Allowed or Blocked",
    "status": "the HTTP status",
    "category": "Zscaler's URL category",
    "app": "the cloud application",
    "record_id": "the record's id",
    "device": "the client's host name",
    "user_agent": "the user agent",
    "content_type": "the response's content type (a file's tells a download)",
    "file_type": "the type of file Zscaler found in the response (any: a download)",
}
#: Fields a ``[proxy_zscaler]`` map cannot do without.
ZSCALER_REQUIRED = ("time", "user", "url", "method", "bytes_sent")

_SQUID_LINE = re.compile(
    r"^\d{9,11}(\.\d{1,6})?\s+-?\d+\s+\S+\s+[A-Z_]+/\d{3}\s+\d+\s+\S+\s+\S+\s+\S+\s+\S+/\S+")
_NONE = frozenset({"", "-", "none", "na", "n/a", "null"})
_NO_USER = frozenset({"", "-", "none", "unknown", "anonymous"})
_ELFF_TOKEN = re.compile(r'"(?:[^"]|"")*"|\S+')
#: What ``bytes.strip`` takes away: the counting and the reading must agree on blank lines.
_ASCII_SPACE = " \t\n\r\x0b\x0c"


class _WebProxy(RecordLayout):
    """What the three proxy layouts share: the row they make, the SQL and the counting."""

    family = "proxy"
    family_title = ("web proxy logs (Squid native access.log, Zscaler NSS JSON web feed,"
                    " Blue Coat ProxySG ELFF)")
    source = "proxy"
    #: Whether the layout logs the bytes a client sent (see the module docstring).
    sees_bytes_sent: ClassVar[bool] = True
    columns: ClassVar[Mapping[str, str]] = {
        "record_id": "VARCHAR", "ts": "TIMESTAMP", "ts_text": "VARCHAR", "shape": "VARCHAR",
        "action": "VARCHAR", "user_id": "VARCHAR", "host": "VARCHAR", "url": "VARCHAR",
        "bytes_sent": "BIGINT", "vendor_channel": "VARCHAR", "details": "VARCHAR",
    }
    order = 60
    #: ``#`` lines are directives, not records (ELFF).
    comments: ClassVar[bool] = False

    def relation(self, raw: str, ctx: SqlContext) -> str:
        """Add the URL's host and its category, as the CERT web layout does."""
        return (
            "(SELECT r.*, coalesce(c1.category, c2.category, c3.category) AS _category"
            " FROM (SELECT *, mh_clean_host(_host_part) AS _host FROM"
            f" (SELECT *, mh_host_part(coalesce(url, '')) AS _host_part FROM {raw})) r"
            " LEFT JOIN domain_categories c1 ON c1.domain = r._host"
            " LEFT JOIN domain_categories c2 ON c2.domain = mh_parent(r._host, 3)"
            " LEFT JOIN domain_categories c3 ON c3.domain = mh_parent(r._host, 2))"
        )

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Action decided while flattening; channel from the host's category."""
        return {
            "event_id": f"coalesce({sql_string(self.name + ':')} || nullif(trim(record_id),"
                        f" ''), substr(sha256({sql_string(self.name)} || chr(0) || _raw),"
                        " 1, 32))",
            "ts": "ts", "day": "CAST(ts AS DATE)", "user_id": "user_id", "host": "host",
            "source": sql_string(self.name), "action": "action",
            "channel": "CASE _category WHEN 'cloud_storage' THEN 'cloud_storage'"
                       " WHEN 'webmail' THEN 'webmail' ELSE coalesce(vendor_channel, 'web') END",
            "object": "url", "target": "NULL", "domain": "nullif(_host, '')",
            "bytes": "bytes_sent", "n_attachments": "NULL", "content": "NULL",
            "doc_id": "NULL", "sensitivity": "NULL", "attrs": "details",
        }

    def checks(self, ctx: SqlContext) -> list[Check]:
        """A time, a person and a URL with a host."""
        return [
            Check("ts IS NULL", "unparseable time",
                  "'time ' || coalesce('\"' || ts_text || '\"', 'missing')"),
            Check("coalesce(user_id, '') = ''", "empty user"),
            Check("coalesce(_host, '') = ''", "URL without host",
                  "'url ' || coalesce('\"' || url || '\"', 'missing')"),
        ]

    def count_records(self, path: Path) -> int:
        """The lines (broken at LF) that hold anything, ``#`` directives aside in ELFF."""
        count = 0
        with open_utf8(path) as handle:
            for number, line in enumerate(handle):
                text = (line.removeprefix(codecs.BOM_UTF8) if number == 0 else line).strip()
                if text and not (self.comments and text.startswith(b"#")):
                    count += 1
        return count

    def records(self, path: Path, ctx: SqlContext
                ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
        """Every line of the file as a request, skipped or unreadable, in file order."""
        number = 0
        # copies of a line among the lines of one time, to tell repeated requests apart
        copies: dict[str, int] = {}
        moment: object = None
        for line_no, text in _lines(path):
            if self.comments and text.lstrip(_ASCII_SPACE).startswith("#"):
                self.directive(text)
                continue
            number += 1
            row = self.line(text, line_no, number, ctx)
            if isinstance(row, dict) and row.get("record_id") is None:
                if row.get("ts_text") != moment:
                    moment, copies = row.get("ts_text"), {}
                seen = copies[text] = copies.get(text, 0) + 1
                if seen > 1:
                    row["record_id"] = record_key(self.source, text, seen)
            yield row

    def directive(self, text: str) -> None:
        """A ``#`` line of a layout that has them."""

    def line(self, text: str, line: int, number: int, ctx: SqlContext
             ) -> dict[str, Any] | Unreadable | Skipped:
        """One record line as a request."""
        raise NotImplementedError

    def request(self, where: tuple[int, int, str], *, ts_text: str | None,
                ts: datetime | None, user: str | None, url: str | None, method: str | None,
                bytes_sent: int | None, bytes_received: int | None, blocked: bool,
                record_id: str | None = None, host: str | None = None,
                details: Mapping[str, Any] | None = None, content_type: str | None = None,
                file_type: str | None = None
                ) -> dict[str, Any] | Skipped:
        """The row of one request (``where``: its line, record number and text)."""
        line, number, raw = where
        name = (user or "").strip()
        if name.lower() in _NO_USER:
            return Skipped("no user name (unauthenticated request or 407 challenge)")
        account = name
        if "\\" in name:
            name = name.rsplit("\\", 1)[1]
        if name.endswith("$"):
            return Skipped("machine account (not a person)")
        verb = (method or "").strip().upper()
        upload = (self.sees_bytes_sent and not blocked and verb in BODY_METHODS
                  and bytes_sent is not None and bytes_sent >= UPLOAD_MIN_BYTES)
        # a layout that tells directions apart tells downloads too (one observation covers
        # both); Squid's, which cannot tell uploads, stays all visits
        download = (self.sees_bytes_sent and not blocked and verb == "GET"
                    and is_file_response(content_type, file_type))
        attrs: dict[str, Any] = {"method": verb or None, "bytes_received": bytes_received,
                                 "blocked": True if blocked else None,
                                 "account": account if account != name else None,
                                 "shape": self.name}
        if download:  # what made it one
            attrs.update(content_type=content_type, file_type=file_type)
        attrs.update(details or {})
        category = str(attrs.get("category") or "").lower()
        vendor_channel = ("webmail" if "mail" in category else "cloud_storage"
                          if "storage" in category or "file shar" in category else None)
        return {
            "record_id": record_id, "ts": ts, "ts_text": ts_text, "shape": self.name,
            "action": "web_upload" if upload else "web_download" if download else "web_visit",
            "user_id": name.lower(),
            "host": host, "url": url, "bytes_sent": bytes_sent,
            "vendor_channel": vendor_channel,
            "details": _dump({k: v for k, v in attrs.items() if v is not None}),
            "_line": line, "_record": number, "_raw": raw, "_dest": "events",
            "hr_kind": None, "hr_ts": None, "hr_attrs": None,
        }


class SquidNative(_WebProxy):
    """Squid native access.log (visits only: the format logs no bytes sent by the client)."""

    name = "proxy.squid"
    observes = frozenset({"web_visit"})
    sees_bytes_sent = False

    @classmethod
    def sniff(cls, head: str) -> bool:
        """The first line that holds anything has Squid's native shape."""
        first = next((line for line in head.lstrip("\ufeff").splitlines() if line.strip()), "")
        return bool(_SQUID_LINE.match(first.strip()))

    def line(self, text: str, line: int, number: int, ctx: SqlContext
             ) -> dict[str, Any] | Unreadable | Skipped:
        """``time elapsed client code/status bytes method URL user hierarchy/peer type``."""
        fields = text.split(None, 9)
        if len(fields) < 10:
            return Unreadable(line, number, "wrong field count",
                              f"{len(fields)} fields, Squid's native format has 10", text)
        stamp, elapsed, client, code, size, method, url, user, peer, rest = fields
        result, _, status = code.partition("/")
        try:
            ts: datetime | None = datetime.fromtimestamp(float(stamp), UTC).replace(tzinfo=None)
        except (ValueError, OverflowError, OSError):
            ts = None
        return self.request(
            (line, number, text), ts_text=stamp, ts=ts, user=unquote(user), url=url,
            method=method, bytes_sent=None, bytes_received=_integer(size),
            blocked="DENIED" in result.upper(),
            details={"status": _integer(status), "result": result, "client_ip": client,
                     "elapsed_ms": _integer(elapsed), "peer": peer,
                     "content_type": _none(rest.split(None, 1)[0] if rest.split() else None)})


class ZscalerNss(_WebProxy):
    """Zscaler NSS web log feed, JSON (fields mapped by [proxy_zscaler] in molehunt.toml)."""

    name = "proxy.zscaler"
    observes = frozenset({"web_visit", "web_direction"})

    def __init__(self) -> None:
        super().__init__()
        self._fields: dict[str, str] | None = None

    @classmethod
    def sniff(cls, head: str) -> bool:
        """JSON lines of the ``zscalernss-web`` source type, or with the default map's keys."""
        return cls.sniff_configured(head, SqlContext(company_domains=()))

    @classmethod
    def sniff_configured(cls, head: str, ctx: SqlContext) -> bool:
        """The feed's source type, or a first JSON line with the mapped time, user and URL."""
        text = head.lstrip("\ufeff \t\r\n")
        if not text.startswith("{"):
            return False
        if re.search(r'"sourcetype"\s*:\s*"zscalernss-web"', text[:65536]):
            return True
        try:
            value = orjson.loads(text.split("\n", 1)[0])
        except orjson.JSONDecodeError:
            return False
        if not isinstance(value, dict):
            return False
        event = _event(value)
        keys = {str(k).lower() for k in event}
        fields = zscaler_fields(ctx)
        return all(fields[f].lower() in keys for f in ("time", "user", "url", "bytes_sent"))

    def line(self, text: str, line: int, number: int, ctx: SqlContext
             ) -> dict[str, Any] | Unreadable | Skipped:
        """One JSON record of the feed."""
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            return Unreadable(line, number, "invalid JSON", str(error), text)
        if not isinstance(value, dict):
            return Unreadable(line, number, "not a JSON object",
                              f"got {type(value).__name__}", text)
        event = lower_keys(_event(value))
        # the map, its keys lower-cased, made once per file (the feed's lines are millions)
        if self._fields is None:
            self._fields = {f: key.lower() for f, key in zscaler_fields(ctx).items()}
        fields = self._fields

        def get(field: str) -> str | None:
            return _none(_text(event.get(fields[field])))

        missing = [f for f in ZSCALER_REQUIRED if fields[f] not in event]
        if missing:
            named = zscaler_fields(ctx)
            listed = ", ".join(f"{f} ({named[f]})" for f in missing)
            return Unreadable(line, number, "field missing",
                              f"no {listed}: check [proxy_zscaler] in molehunt.toml", text)
        url = get("url")
        host = get("host")
        if url and host and "://" not in url and not url.lower().startswith(host.lower()):
            url = f"{host}/{url.lstrip('/')}"  # a feed that logs the path alone
        ts_text = get("time")
        action = (get("action") or "").lower()
        return self.request(
            (line, number, text), ts_text=ts_text, ts=_zscaler_time(ts_text),
            user=get("user"), url=url or host, method=get("method"),
            bytes_sent=_integer(get("bytes_sent")),
            bytes_received=_integer(get("bytes_received")),
            blocked=action.startswith("block"), record_id=get("record_id"),
            host=get("device"), content_type=get("content_type"), file_type=get("file_type"),
            details={"status": _integer(get("status")), "client_ip": get("client_ip"),
                     "category": get("category"), "app": get("app"),
                     "user_agent": get("user_agent"), "proxy_action": get("action")})


class BlueCoatElff(_WebProxy):
    """Blue Coat / Symantec ProxySG access log in ELFF (``#Fields:`` header)."""

    name = "proxy.bluecoat"
    observes = frozenset({"web_visit", "web_direction"})
    comments = True

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] | None = None

    @classmethod
    def sniff(cls, head: str) -> bool:
        """A ``#Fields:`` line naming a proxy's columns (not a web server's W3C log)."""
        fields = next((line.split(":", 1)[1].split() for line in head.splitlines()
                       if line.lstrip("\ufeff").startswith("#Fields:")), None)
        if fields is None:
            return False
        names = {f.lower() for f in fields}
        return (bool(names & {"cs-host", "cs-uri", "cs-uri-scheme"})
                and (bool(names & {"s-action", "sc-filter-result", "x-exception-id",
                                   "cs-categories", "cs-auth-group"})
                     or "#Software: SGOS" in head))

    def directive(self, text: str) -> None:
        """``#Fields:`` names the columns of the lines after it."""
        stripped = text.strip()
        if stripped.startswith("#Fields:"):
            self.fields = [f.lower() for f in stripped[len("#Fields:"):].split()]

    def line(self, text: str, line: int, number: int, ctx: SqlContext
             ) -> dict[str, Any] | Unreadable | Skipped:
        """One request line under the current ``#Fields:``."""
        if self.fields is None:
            return Unreadable(line, number, "no #Fields: header",
                              "a request line before any #Fields: line", text)
        tokens = _ELFF_TOKEN.findall(text)
        if len(tokens) != len(self.fields):
            return Unreadable(line, number, "wrong field count",
                              f"{len(tokens)} fields, #Fields: names {len(self.fields)}", text)
        row = {name: _none(_unquote_elff(token)) for name, token in zip(self.fields, tokens,
                                                                        strict=True)}
        date, time = row.get("date"), row.get("time")
        ts_text = f"{date} {time}" if date and time else (date or time)
        ts = _timestamp(f"{date}T{time}+00:00") if date and time else None
        filter_result = (row.get("sc-filter-result") or "").upper()
        s_action = (row.get("s-action") or "").upper()
        return self.request(
            (line, number, text), ts_text=ts_text, ts=ts, user=row.get("cs-username"),
            url=_elff_url(row), method=row.get("cs-method"),
            bytes_sent=_integer(row.get("cs-bytes")),
            bytes_received=_integer(row.get("sc-bytes")),
            blocked=filter_result == "DENIED" or "DENIED" in s_action,
            content_type=row.get("rs(content-type)"),
            details={"status": _integer(row.get("sc-status")), "client_ip": row.get("c-ip"),
                     "category": row.get("cs-categories"),
                     "user_agent": row.get("cs(user-agent)"),
                     "group": row.get("cs-auth-group"), "proxy_action": row.get("s-action"),
                     "filter_result": row.get("sc-filter-result")})


def is_file_response(content_type: str | None, file_type: str | None = None) -> bool:
    """Whether a response is a file (a download), not a web page or one of its assets.

    >>> is_file_response("application/octet-stream"), is_file_response("text/html")
    (True, False)
    >>> is_file_response("application/json; charset=utf-8"), is_file_response(None, "ZIP")
    (False, True)
    >>> is_file_response("application/vnd.api+json"), is_file_response("application/zip")
    (False, True)
    """
    if file_type is not None and file_type.strip().lower() not in _NO_FILE_TYPES:
        return True
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    main, _, sub = kind.partition("/")
    if main != "application" or not sub:
        return False
    return sub not in WEB_APPLICATION_TYPES and not sub.endswith(("+json", "+xml"))


def zscaler_fields(ctx: SqlContext) -> dict[str, str]:
    """The Zscaler NSS field map: the default with ``[proxy_zscaler]`` over it.

    >>> zscaler_fields(SqlContext((), proxy_zscaler=(("user", "login"),)))["user"]
    'login'
    """
    return {**ZSCALER_FIELDS, **dict(ctx.proxy_zscaler)}


def _event(value: dict[str, Any]) -> dict[str, Any]:
    """The record of a feed line: in ``event`` (the documented format) or the line itself."""
    inner = value.get("event")
    return inner if isinstance(inner, dict) else value


def _zscaler_time(text: str | None) -> datetime | None:
    """A feed time as naive UTC: ``2024-03-04 08:15:00`` or ``%s{time}`` (``Mon Mar  4
    08:15:00 2024``).

    >>> _zscaler_time("Mon Mar  4 08:15:00 2024"), _zscaler_time("2024-03-04 08:15:00")
    (datetime.datetime(2024, 3, 4, 8, 15), datetime.datetime(2024, 3, 4, 8, 15))
    """
    if text is None:
        return None
    value = " ".join(text.split())
    if value[:1].isdigit():  # the usual form first: a failed strptime costs an exception
        return _timestamp(value)
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return _timestamp(value)


def _elff_url(row: Mapping[str, str | None]) -> str | None:
    """The URL of an ELFF row: ``cs-uri`` where logged, else built from its parts."""
    if row.get("cs-uri"):
        return row["cs-uri"]
    host = row.get("cs-host") or row.get("r-dns") or row.get("cs-uri-address")
    if not host:
        return None
    scheme = (row.get("cs-uri-scheme") or "http").lower()
    port = row.get("cs-uri-port")
    default = {"http": "80", "https": "443"}.get(scheme)
    netloc = host if not port or port == default or ":" in host else f"{host}:{port}"
    path = row.get("cs-uri-path") or row.get("cs-uri-stem") or ""
    query = row.get("cs-uri-query") or ""
    if query and not query.startswith("?"):
        query = "?" + query
    return f"{scheme}://{netloc}{path}{query}"


def _unquote_elff(token: str) -> str:
    if len(token) >= 2 and token.startswith('"') and token.endswith('"'):
        return token[1:-1].replace('""', '"')
    return token


def _none(value: str | None) -> str | None:
    """A value, or None where the log writes none (``-``, ``None``, empty)."""
    if value is None:
        return None
    stripped = value.strip()
    return None if stripped.lower() in _NONE else stripped


def _integer(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < 2**63 else None
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,18}\s*", value):
        return int(value)
    return None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's lines (broken at LF, as :meth:`_WebProxy.count_records` counts them) that
    hold anything, with their numbers; bytes that are not UTF-8 shown as ``\\xNN``."""
    for line_no, raw, _ in content_lines(path):
        yield line_no, raw.decode("utf-8", "backslashreplace")


__all__ = ["BODY_METHODS", "UPLOAD_MIN_BYTES", "WEB_APPLICATION_TYPES", "ZSCALER_FIELDS",
           "ZSCALER_FIELD_MEANINGS", "ZSCALER_REQUIRED", "BlueCoatElff", "SquidNative",
           "ZscalerNss", "is_file_response", "zscaler_fields"]

