"""Property tests of the parsers: they never crash, and every input line becomes either a
stored row, a duplicate, or a quarantined row with its line number."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ingest_cert, ingest_jsonl, quarantine
from molehunt.store.workspace import Workspace

_SETTINGS = settings(max_examples=30, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])

_field = st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                        blacklist_characters="\r\n,\""), max_size=12)
_date = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%m/%d/%Y %H:%M:%S")),
    _field,
)
_garbage = st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b
                                         and b'"' not in b)

#: Plausible and implausible values per CERT column; anything else gets a random field.
_VALUES: dict[str, st.SearchStrategy[str]] = {
    "id": st.text(alphabet="ABC0123456789-", max_size=8).map(lambda s: "{" + s + "}"),
    "date": _date,
    "activity": st.sampled_from(["Logon", "Logoff", "Connect", "Disconnect", "Send", "View",
                                 "WWW Visit", "WWW Upload", "File Copy", "File Open", "Login",
                                 ""]),
    "url": st.sampled_from(["http://www.dropbox.com/x", "https://a.example/b?c", "not a url",
                            "", "http://"]),
    "to": st.sampled_from(["a@dtaa.com", "b@gmail.com;c@x.example", "", "nobody"]),
    "size": st.one_of(st.integers(-5, 10**6).map(str), _field),
    "to_removable_media": st.sampled_from(["True", "False", "Maybe", ""]),
    "user_id": st.sampled_from(["ACM2278", "", " ", "x"]),
    "O": st.one_of(st.integers(0, 60).map(str), _field),
}


def _rows_of(layout: str, columns: list[str]) -> st.SearchStrategy[bytes]:
    row = st.tuples(*[_VALUES.get(c, _field) for c in columns]).map(
        lambda fields: ",".join(fields).encode())
    return st.one_of(row, row, _garbage, row.map(lambda b: b + b",extra"),
                     row.map(lambda b: b.rsplit(b",", 1)[0]))


_LAYOUTS = {
    "logon": ["id", "date", "user", "pc", "activity"],
    "email": ["id", "date", "user", "pc", "to", "cc", "bcc", "from", "activity", "size",
              "attachments", "content"],
    "http": ["id", "date", "user", "pc", "url", "activity", "content"],
    "file": ["id", "date", "user", "pc", "filename", "activity", "to_removable_media",
             "from_removable_media", "content"],
    "LDAP/2010-07": ["employee_name", "user_id", "email", "role", "projects", "business_unit",
                     "functional_unit", "department", "team", "supervisor"],
    "psychometric": ["employee_name", "user_id", "O", "C", "E", "A", "N"],
}


def _accounted(workspace: Workspace, data_lines: int, physical_lines: int) -> None:
    record = workspace.records()[0]
    assert record.rows_stored + record.rows_duplicate + record.rows_quarantined == data_lines
    lines = [r["line"] for r in quarantine(workspace)]
    assert None not in lines
    assert len(lines) == len(set(lines)) == record.rows_quarantined
    assert all(1 <= n <= physical_lines + 1 for n in lines)


def _cert_property(name: str) -> object:
    columns = _LAYOUTS[name]

    @_SETTINGS
    @given(st.lists(_rows_of(name, columns), min_size=1, max_size=25), st.booleans())
    def check(lines: list[bytes], final_newline: bool) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "cert"
            folder.mkdir()
            body = (",".join(columns).encode() + b"\n" + b"\n".join(lines)
                    + (b"\n" if final_newline else b""))
            (folder / f"{name}.csv").parent.mkdir(exist_ok=True)
            (folder / f"{name}.csv").write_bytes(body)
            workspace = Workspace(Path(tmp) / "ws")
            ingest_cert(workspace, folder)
            # an empty line of a CSV file holds no row; the reader skips it
            _accounted(workspace, sum(1 for line in lines if line), len(lines))

    return check


test_cert_logon_parser_accounts_for_every_line = _cert_property("logon")
test_cert_email_r6_parser_accounts_for_every_line = _cert_property("email")
test_cert_http_r6_parser_accounts_for_every_line = _cert_property("http")
test_cert_file_r6_parser_accounts_for_every_line = _cert_property("file")
test_cert_ldap_parser_accounts_for_every_line = _cert_property("LDAP/2010-07")
test_cert_psychometric_parser_accounts_for_every_line = _cert_property("psychometric")


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)
_event = st.fixed_dictionaries(
    {"user_id": st.one_of(st.text(max_size=6), st.integers()),
     "ts": st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=10)),
     "action": st.sampled_from(["print", "badge", "Not Snake", ""])},
    optional={"channel": st.sampled_from(["printer", "web", "nowhere"]),
              "bytes": st.one_of(st.integers(), st.text(max_size=3)),
              "attrs": _json_value, "extra": _json_value},
)


_hr_event = st.fixed_dictionaries(
    {"user_id": st.one_of(st.text(max_size=6), st.none()),
     "ts": st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=10)),
     "kind": st.sampled_from(["travel", "layoff", "promotion", ""])},
    optional={"attrs": _json_value},
)
_person = st.fixed_dictionaries(
    {"user_id": st.one_of(st.text(max_size=6), st.integers()),
     "valid_from": st.one_of(st.dates().map(str), st.text(max_size=10))},
    optional={"valid_to": st.one_of(st.dates().map(str), st.none()),
              "role": st.one_of(st.text(max_size=6), st.integers()),
              "email": st.text(max_size=10)},
)
_document = st.fixed_dictionaries(
    {"doc_id": st.one_of(st.sampled_from(["D1", "D2", ""]), st.integers(), st.none()),
     "path": st.one_of(st.text(max_size=8), st.none())},
    optional={"sensitivity": st.one_of(st.integers(-2, 6), st.booleans(), st.text(max_size=2)),
              "created": st.one_of(st.dates().map(str), st.text(max_size=10), st.integers()),
              "text": _json_value, "title": _json_value, "attrs": _json_value,
              "extra": _json_value},
)
_TABLE_LINES = {"events": _event, "hr_events": _hr_event, "directory": _person,
                "documents": _document}


def _jsonl_property(table: str) -> object:
    line = st.one_of(_TABLE_LINES[table].map(lambda e: json.dumps(e).encode()),
                     st.binary(max_size=30).filter(lambda b: b"\n" not in b))

    @_SETTINGS
    @given(st.lists(line, min_size=1, max_size=30))
    def check(lines: list[bytes]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{table}.jsonl"
            path.write_bytes(b"\n".join(lines) + b"\n")
            workspace = Workspace(Path(tmp) / "ws")
            ingest_jsonl(workspace, [path], table=table)
            _accounted(workspace, len(lines), len(lines))

    return check


test_jsonl_events_parser_accounts_for_every_line = _jsonl_property("events")
test_jsonl_hr_events_parser_accounts_for_every_line = _jsonl_property("hr_events")
test_jsonl_directory_parser_accounts_for_every_line = _jsonl_property("directory")
test_jsonl_documents_parser_accounts_for_every_line = _jsonl_property("documents")
