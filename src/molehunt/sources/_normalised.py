"""What the OCSF and ECS input layouts share: reading JSON documents that a data lake already
normalised, and the SQL that turns their flattened fields into events.

Both schemas reach molehunt as NDJSON (one document a line, as data lakes and log shippers
export), as a JSON array, or as an Elasticsearch/OpenSearch search response
(``{"hits": {"hits": [{"_source": {...}}]}}``). :class:`NormalisedLayout` reads those shapes,
hands each document to the schema module's :meth:`~NormalisedLayout.flatten` and maps the
result with one SQL mapping:

* the e-mail channel comes from the counterparts' domains (webmail, outside the company's
  domains, else internal), as for the Microsoft 365 source;
* the web channel from the domain's category (cloud storage, webmail, else web), as for the
  CERT web logs;
* everything else is decided by the schema module while flattening.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from molehunt.sources._files import open_utf8
from molehunt.sources._lines import BadJsonLine, count_json_records, json_lines
from molehunt.sources.base import Check, RecordLayout, Skipped, SqlContext, Unreadable, utc_naive
from molehunt.sql import sql_string

#: What a schema module's :meth:`NormalisedLayout.flatten` returns for a document it stores.
FLAT_FIELDS = ("record_id", "ts_text", "action", "channel", "user_id", "host", "object",
               "target", "counterparts", "domain", "bytes", "n_attachments", "subject",
               "details")
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


class NormalisedLayout(RecordLayout):
    """Base of the layouts of documents in a normalised schema (OCSF, ECS); not registered."""

    columns: ClassVar[Mapping[str, str]] = {
        "record_id": "VARCHAR", "ts": "TIMESTAMP", "ts_text": "VARCHAR", "shape": "VARCHAR",
        "action": "VARCHAR", "channel": "VARCHAR", "user_id": "VARCHAR", "host": "VARCHAR",
        "object": "VARCHAR", "target": "VARCHAR", "counterparts": "VARCHAR",
        "domain": "VARCHAR", "bytes": "BIGINT", "n_attachments": "INTEGER",
        "subject": "VARCHAR", "details": "VARCHAR",
    }
    order = 48
    #: The ``shape`` value of the layout's rows (the schema's name).
    schema_name: ClassVar[str] = ""

    @abstractmethod
    def flatten(self, document: Mapping[str, Any]) -> dict[str, Any] | Skipped | str:
        """One document's :data:`FLAT_FIELDS` (``ts_text`` an ISO 8601 time or epoch
        milliseconds as text), :class:`Skipped` with a reason, or why it is unreadable."""

    # -- the SQL mapping -------------------------------------------------------------------
    def relation(self, raw: str, ctx: SqlContext) -> str:
        """Add the counterparts' domains (e-mail) and the web domain's category."""
        return (
            "(SELECT r.*, coalesce(c1.category, c2.category, c3.category) AS _category FROM"
            " (SELECT *, list_filter(list_transform(string_split(coalesce(counterparts, ''),"
            " ';'), lambda a: mh_email_domain(a)), lambda d: d <> '') AS _counterparts,"
            " mh_clean_host(coalesce(domain, '')) AS _host FROM"
            f" {raw}) r"
            " LEFT JOIN domain_categories c1 ON c1.domain = r._host"
            " LEFT JOIN domain_categories c2 ON c2.domain = mh_parent(r._host, 3)"
            " LEFT JOIN domain_categories c3 ON c3.domain = mh_parent(r._host, 2))")

    def mapping(self, ctx: SqlContext) -> Mapping[str, str]:
        """Channels of mail and web from domains (see the module docstring); the rest as
        flattened."""
        webmail = "list_filter(_counterparts, lambda d: mh_is_webmail(d))"
        outside = "list_filter(_counterparts, lambda d: NOT mh_is_company(d))"
        channel = (
            "CASE WHEN action IN ('email_send', 'email_view') THEN CASE"
            f" WHEN len({webmail}) > 0 THEN 'webmail' WHEN len({outside}) > 0 THEN"
            " 'email_external' WHEN len(_counterparts) > 0 THEN 'email_internal' ELSE NULL END"
            " WHEN action IN ('web_visit', 'web_upload', 'web_download') THEN CASE _category"
            " WHEN 'cloud_storage' THEN 'cloud_storage' WHEN 'webmail' THEN 'webmail'"
            " ELSE 'web' END ELSE channel END")
        return {
            "event_id": "coalesce(nullif(trim(record_id), ''), substr(sha256("
                        f"{sql_string(self.source)} || chr(0) || _raw), 1, 32))",
            "ts": "ts", "day": "CAST(ts AS DATE)", "user_id": "user_id", "host": "host",
            "source": sql_string(self.source), "action": "action", "channel": channel,
            "object": "object", "target": "coalesce(target, nullif(counterparts, ''))",
            "domain": "coalesce(nullif(_host, ''), "
                      f"{outside}[1], {webmail}[1], _counterparts[1])",
            "bytes": "bytes", "n_attachments": "n_attachments", "content": "subject",
            "doc_id": "NULL", "sensitivity": "NULL", "attrs": "details",
        }

    def checks(self, ctx: SqlContext) -> Sequence[Check]:
        """A time, a person, and a size that is not negative."""
        return [
            Check("ts IS NULL", "unparseable time",
                  "'time ' || coalesce('\"' || ts_text || '\"', 'missing')"),
            Check("coalesce(user_id, '') = ''", "empty user"),
            Check("bytes < 0", "negative size", "'bytes ' || bytes"),
        ]

    # -- counting, independently of the parser ---------------------------------------------
    def count_records(self, path: Path) -> int | None:
        """NDJSON: the lines that hold anything. A JSON array: its items, counted by DuckDB's
        JSON reader. A search response: None (its count needs the JSON parser)."""
        shape = document_shape(path)
        if shape == "ndjson":
            with open_utf8(path) as handle:
                return sum(1 for number, line in enumerate(handle)
                           if (line.removeprefix(codecs.BOM_UTF8) if number == 0 else line
                               ).strip())
        if shape == "array":
            return count_json_records(path, self.scratch)
        return None

    # -- reading ---------------------------------------------------------------------------
    def records(self, path: Path, ctx: SqlContext
                ) -> Iterator[dict[str, Any] | Unreadable | Skipped]:
        """Every document of the file, flattened, skipped or unreadable, in file order."""
        documents = (_ndjson_documents(path) if document_shape(path) == "ndjson"
                     else _whole_documents(path))
        for item in documents:
            if isinstance(item, Unreadable):
                yield item
                continue
            line, number, raw, value = item
            if isinstance(value, dict) and isinstance(value.get("_source"), dict):
                value = value["_source"]
            if not isinstance(value, dict):
                yield Unreadable(line, number, "not a JSON object",
                                 f"got {type(value).__name__}", raw)
                continue
            try:
                flat = self.flatten(value)
            except (TypeError, ValueError, AttributeError) as error:
                # a field of another type than the schema says (a list where it has an
                # object): this document alone is unreadable
                flat = f"a field of an unexpected type: {error}"
            if isinstance(flat, Skipped):
                yield flat
                continue
            if isinstance(flat, str):
                yield Unreadable(line, number, flat.split(":", 1)[0], flat, raw)
                continue
            ts_text = flat.get("ts_text")
            yield {**{k: flat.get(k) for k in FLAT_FIELDS}, "ts": timestamp(ts_text),
                   "shape": self.schema_name, "_line": line, "_record": number, "_raw": raw,
                   "_dest": "events", "hr_kind": None, "hr_ts": None, "hr_attrs": None}


def document_shape(path: Path) -> str:
    """``ndjson`` (documents one a line), ``array`` (a JSON array) or ``response`` (one
    object, such as a search response, possibly pretty-printed), from the first line: a line
    holding only ``{`` opens a pretty-printed object, and a whole object with ``hits`` is a
    search response; any other first line is a document of NDJSON (a damaged one then costs
    itself alone)."""
    with open_utf8(path) as handle:
        head = handle.read(65536).decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if head.startswith("["):
        return "array"
    first = head.split("\n", 1)[0].strip()
    if first == "{":
        return "response"
    try:
        value = orjson.loads(first)
    except orjson.JSONDecodeError:
        return "ndjson"
    return "response" if isinstance(value, dict) and isinstance(value.get("hits"), dict) \
        else "ndjson"


def _ndjson_documents(path: Path) -> Iterator[tuple[int, int, str, object] | Unreadable]:
    for number, line in enumerate(json_lines(path), start=1):
        if isinstance(line, BadJsonLine):
            yield line.unreadable(number)
            continue
        line_no, text, value = line
        yield line_no, number, text, value


def _whole_documents(path: Path) -> Iterator[tuple[int | None, int, str, object] | Unreadable]:
    """A JSON array, one object, or a search response's ``hits.hits`` (read whole: exports
    of this shape are search pages; large ones are NDJSON, which streams)."""
    items = whole_document_items(path)
    if isinstance(items, Unreadable):
        yield items
        return
    for number, item in enumerate(items, start=1):
        yield None, number, orjson.dumps(item).decode(), item


def whole_document_items(path: Path, *, strip_bom: bool = True) -> list[Any] | Unreadable:
    """The items of a JSON document read whole: a JSON array's, a search response's
    ``hits.hits``, or the one value. A document that does not parse is one unreadable record
    (line 1, record 1) showing its first 2,000 bytes. A UTF-8 byte order mark is dropped
    first unless not ``strip_bom`` (the JSON parser then refuses the document).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "a.json")
    ...     _ = path.write_bytes(b'{"hits": {"hits": [{"_source": {}}, 2]}}')
    ...     whole_document_items(path)
    [{'_source': {}}, 2]
    """
    with open_utf8(path) as handle:
        data = handle.read()
    if strip_bom:
        data = data.removeprefix(codecs.BOM_UTF8)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        return Unreadable(1, 1, "invalid JSON", f"{error}; nothing of the document can be read",
                          data[:2000].decode("utf-8", "backslashreplace"))
    if isinstance(value, dict) and isinstance(value.get("hits"), dict):
        value = value["hits"].get("hits", [])
    return value if isinstance(value, list) else [value]


#: Epoch numbers below this are seconds, not milliseconds (1973-03-03 in milliseconds,
#: 5138 in seconds).
SECONDS_BELOW = 100_000_000_000


def timestamp(text: object) -> datetime | None:
    """An ISO 8601 time (with a zone: converted to UTC; without: taken as UTC) or epoch
    milliseconds (OCSF's ``timestamp_t``), as the store's naive UTC; None if neither.

    A number below :data:`SECONDS_BELOW` is epoch *seconds*: some producers write OCSF's
    ``time`` so (two of the OCSF project's own example events, an Okta sign-in and an HTTP
    request, do), and read as milliseconds it would be a moment of 1970-1973, which no log
    of a person at work can have.

    >>> timestamp("2024-03-01T09:00:00.123456789+01:00"), timestamp(1709283600000)
    (datetime.datetime(2024, 3, 1, 8, 0, 0, 123456), datetime.datetime(2024, 3, 1, 9, 0))
    >>> timestamp(1709283600), timestamp("1709283600")
    (datetime.datetime(2024, 3, 1, 9, 0), datetime.datetime(2024, 3, 1, 9, 0))
    >>> timestamp("yesterday") is None, timestamp(True) is None
    (True, True)
    """
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, int | float) or (isinstance(text, str) and text.strip().isdigit()):
        try:
            number = int(text)
            scale = 1 if abs(number) < SECONDS_BELOW else 1000
            return datetime.fromtimestamp(number / scale, UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    value = _FRACTION.sub(r"\1", str(text).strip()).replace(" ", "T", 1)
    if value.endswith(("z", "Z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return utc_naive(moment)


def text(value: object) -> str | None:
    """A scalar as stripped text; None for a missing, empty or non-scalar value.

    >>> text(" a "), text(3), text(""), text({"a": 1})
    ('a', '3', None, None)
    """
    if value is None or isinstance(value, dict | list):
        return None
    result = str(value).strip()
    return result or None


def integer(value: object) -> int | None:
    """A whole number from a number or its text; None otherwise.

    >>> integer("12"), integer(3.0), integer("x"), integer(True)
    (12, 3, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def get(document: Mapping[str, Any], path: str) -> Any:
    """A nested field by dotted path, whether the document nests it or writes the dotted key
    (ECS allows both: ``{"user": {"name": x}}`` and ``{"user.name": x}``).

    >>> get({"a": {"b": 1}}, "a.b"), get({"a.b": 2}, "a.b"), get({"a": 1}, "a.b")
    (1, 2, None)
    """
    if path in document:
        return document[path]
    head, _, rest = path.partition(".")
    if not rest:
        return None
    inner = document.get(head)
    if isinstance(inner, dict):
        return get(inner, rest)
    # a dotted key holding part of the path ("user.name" below "source")
    for key, value in document.items():
        if "." in key and path.startswith(key + ".") and isinstance(value, dict):
            return get(value, path[len(key) + 1:])
    return None


def first_text(value: object) -> str | None:
    """The first non-empty text of a value or a list of values.

    >>> first_text(["", "a", "b"]), first_text("c"), first_text([])
    ('a', 'c', None)
    """
    for item in value if isinstance(value, list) else [value]:
        found = text(item)
        if found is not None:
            return found
    return None


def file_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """A file event's object (``file.path``, else ``file.name``), its channel (a share for a
    UNC path, else the local disk) and its size (``file.size``): ECS and OCSF name these
    fields alike.

    >>> file_fields({"file": {"path": "//srv/share/x.doc", "size": "12"}})
    {'channel': 'network_share', 'object': '//srv/share/x.doc', 'bytes': 12}
    >>> file_fields({"file.name": "x.doc"})
    {'channel': 'local', 'object': 'x.doc', 'bytes': None}
    """
    path = text(get(document, "file.path")) or text(get(document, "file.name"))
    unc = path is not None and path.startswith(("\\\\", "//"))
    return {"channel": "network_share" if unc else "local", "object": path,
            "bytes": integer(get(document, "file.size"))}


def record_key(*parts: object) -> str:
    """A stable event id from the fields that identify a document."""
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()[:32]


def dump(value: Mapping[str, Any]) -> str | None:
    """``value`` without its empty entries as JSON text; None when nothing is left."""
    kept = {k: v for k, v in value.items() if v not in (None, "", [], {})}
    return orjson.dumps(kept).decode() if kept else None
