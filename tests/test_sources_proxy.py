"""The web proxy sources: Squid native, Zscaler NSS JSON and Blue Coat ELFF.

Fixtures: tests/fixtures/proxy/ (make_okta_proxy_fixtures.py writes one morning of requests in
each vendor's documented layout). Every line must end up stored, a duplicate, quarantined with
its line and reason, or skipped with a reason; the property tests count the lines they write.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, events, quarantine
from molehunt.config import Settings
from molehunt.errors import ConfigError
from molehunt.sources.ingest import FileResult, Ingestor, IngestSummary, recognise_records
from molehunt.sources.web_proxy import (
    UPLOAD_MIN_BYTES,
    BlueCoatElff,
    SquidNative,
    ZscalerNss,
    is_file_response,
)
from molehunt.store.workspace import Workspace

PROXY = FIXTURES / "proxy"
EXPECTED = FIXTURES / "expected" / "proxy_events.json"
SQUID = PROXY / "squid_access.log"
ZSCALER = PROXY / "zscaler_nss_web.ndjson"
BLUECOAT = PROXY / "bluecoat_main.log"


def _workspace(root: Path, settings: str = "") -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "molehunt.toml").write_text('company_domains = ["corp.example"]\n' + settings)
    return Workspace(root)


def _ingest(workspace: Workspace, paths: list[Path]) -> IngestSummary:
    with workspace.locked():
        return Ingestor(workspace).ingest_records(paths, "proxy")


def _adds_up(result: FileResult) -> bool:
    return result.rows_read == (result.rows_stored + result.rows_duplicate
                                + result.rows_quarantined + result.rows_skipped)


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({k: (str(v) if k in ("ts", "day") and v is not None else v)
                    for k, v in {**row, "attrs": json.loads(row["attrs"])}.items()}
                   for row in rows), key=lambda r: (r["source"], r["ts"], r["event_id"]))


def _requests(workspace: Workspace) -> dict[tuple[str, str], tuple[str, str, int | None]]:
    """(user, domain) → (action, channel, bytes) of the stored requests."""
    return {(e["user_id"], e["domain"]): (e["action"], e["channel"], e["bytes"])
            for e in events(workspace)}


def test_every_preset_reads_its_file(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    squid, zscaler, bluecoat = _ingest(workspace, [SQUID, ZSCALER, BLUECOAT]).files
    assert [f.layout for f in (squid, zscaler, bluecoat)] == [
        "proxy.squid", "proxy.zscaler", "proxy.bluecoat"]
    assert all(f.status == "ingested" and _adds_up(f) for f in (squid, zscaler, bluecoat))
    no_user = "no user name (unauthenticated request or 407 challenge)"
    assert (squid.rows_read, squid.rows_stored) == (11, 7)
    assert squid.quarantined_by_reason == {"wrong field count": 1, "URL without host": 1}
    assert squid.skipped_by_reason == {no_user: 1, "machine account (not a person)": 1}
    assert (zscaler.rows_read, zscaler.rows_stored, zscaler.rows_duplicate) == (11, 6, 1)
    assert zscaler.quarantined_by_reason == {"field missing": 1, "unparseable time": 1,
                                             "invalid JSON": 1}
    assert zscaler.skipped_by_reason == {no_user: 1}
    # ELFF's # directives are no records; the second #Fields: applies to the last line
    assert (bluecoat.rows_read, bluecoat.rows_stored) == (11, 7)
    assert bluecoat.quarantined_by_reason == {"wrong field count": 1, "unparseable time": 1}
    assert bluecoat.skipped_by_reason == {no_user: 1, "machine account (not a person)": 1}
    actual = _jsonable(events(workspace))
    if os.environ.get("MOLEHUNT_UPDATE_GOLDEN"):
        EXPECTED.write_text(json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True)
                            + "\n")
    assert actual == json.loads(EXPECTED.read_text())


@pytest.mark.parametrize("path", [ZSCALER, BLUECOAT], ids=["zscaler", "bluecoat"])
def test_uploads_to_personal_cloud_and_webmail_are_visible(path: Path, tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [path])
    seen = _requests(workspace)
    alice = "alice@corp.example" if path == ZSCALER else "alice"
    bob = "bob@corp.example" if path == ZSCALER else "bob"
    dave = "dave@corp.example" if path == ZSCALER else "dave"
    # 2.5 MB posted to Dropbox's API (the proxy's category says cloud storage), 880 KB of
    # webmail attachment (the domain list says webmail)
    assert seen[(alice, "content.dropboxapi.com")] == ("web_upload", "cloud_storage", 2621440)
    assert seen[(bob, "mail.google.com")] == ("web_upload", "webmail", 901120)
    # a comment form is a POST, not an upload; a blocked PUT sent nothing
    assert seen[(bob, "bbc.co.uk")][0] == "web_visit"
    assert seen[(dave, "storage.wetransfer.com")][:2] == ("web_visit", "cloud_storage")
    assert json.loads(next(e["attrs"] for e in events(workspace)
                           if e["domain"] == "storage.wetransfer.com"))["blocked"] is True


def test_squid_native_cannot_tell_uploads_and_says_so(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [SQUID])
    assert {e["action"] for e in events(workspace)} == {"web_visit"}
    assert all(e["bytes"] is None for e in events(workspace))
    assert SquidNative.observes == {"web_visit"}
    assert ZscalerNss.observes == BlueCoatElff.observes == {"web_visit", "web_direction"}
    # DOMAIN\user: the account name, as the Windows layout keeps it
    tunnel = next(e for e in events(workspace) if e["domain"] == "drive.google.com")
    assert tunnel["user_id"] == "carol" and json.loads(tunnel["attrs"])["account"] == (
        "CORP\\carol")


@pytest.mark.parametrize(("method", "sent", "action"), [
    ("POST", UPLOAD_MIN_BYTES - 1, "web_visit"), ("POST", UPLOAD_MIN_BYTES, "web_upload"),
    ("PUT", UPLOAD_MIN_BYTES, "web_upload"), ("GET", 10 * UPLOAD_MIN_BYTES, "web_visit"),
    ("CONNECT", 10 * UPLOAD_MIN_BYTES, "web_visit")])
def test_the_upload_threshold(method: str, sent: int, action: str, tmp_path: Path) -> None:
    path = tmp_path / "proxy.log"
    path.write_text("#Software: SGOS 7.3\n#Fields: date time c-ip cs-username cs-method cs-uri"
                    " sc-status sc-bytes cs-bytes sc-filter-result\n"
                    f"2024-03-04 08:00:00 10.0.0.1 alice {method} https://box.com/up 200 100"
                    f" {sent} OBSERVED\n")
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [path])
    assert [e["action"] for e in events(workspace)] == [action]


@pytest.mark.parametrize(("method", "content_type", "action"), [
    ("GET", "application/octet-stream", "web_download"), ("GET", "application/zip", "web_download"),
    ("GET", "text/html;%20charset=utf-8", "web_visit"), ("GET", "application/json", "web_visit"),
    ("GET", "application/vnd.api+json", "web_visit"), ("POST", "application/octet-stream",
                                                       "web_visit")])
def test_a_file_fetched_is_a_download(method: str, content_type: str, action: str,
                                      tmp_path: Path) -> None:
    """A GET answered with a file (not a page or its assets) is a download: a tool fetched
    from a hacking site is seen as that, not as one more visit."""
    path = tmp_path / "proxy.log"
    path.write_text("#Software: SGOS 7.3\n#Fields: date time c-ip cs-username cs-method cs-uri"
                    " sc-status sc-bytes cs-bytes rs(Content-Type) sc-filter-result\n"
                    f"2024-03-04 08:00:00 10.0.0.1 alice {method} https://tools.example/k"
                    f" 200 900000 700 {content_type} OBSERVED\n")
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [path])
    assert [e["action"] for e in events(workspace)] == [action]


def test_zscaler_file_type_and_squid_downloads(tmp_path: Path) -> None:
    """Zscaler's ``filetype`` names a file in the response; Squid, which cannot tell
    uploads, keeps every request a visit whatever came back."""
    feed = tmp_path / "nss.ndjson"
    record = {"datetime": "2024-03-04 08:06:30", "user": "alice@corp.example",
              "url": "tools.example/keylogger", "hostname": "tools.example",
              "requestmethod": "GET", "requestsize": "600", "responsesize": "800000",
              "contenttype": "text/plain", "filetype": "Windows Executable",
              "action": "Allowed", "event_id": "1"}
    feed.write_text(json.dumps({"sourcetype": "zscalernss-web", "event": record}) + "\n")
    squid = tmp_path / "access.log"
    squid.write_text("1709539590.000    120 10.0.0.1 TCP_MISS/200 800000 GET"
                     " http://tools.example/keylogger alice HIER_DIRECT/203.0.113.9"
                     " application/octet-stream\n")
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [feed, squid])
    actions = {e["source"]: e["action"] for e in events(workspace)}
    assert actions == {"proxy.zscaler": "web_download", "proxy.squid": "web_visit"}
    assert is_file_response(None, "None") is False


def test_a_customer_field_map_reads_a_custom_zscaler_feed(tmp_path: Path) -> None:
    feed = tmp_path / "nss.ndjson"
    feed.write_text(json.dumps({"ts": "Mon Mar  4 08:06:30 2024", "login": "alice@corp.example",
                                "eurl": "www.dropbox.com/upload", "reqmethod": "POST",
                                "reqsize": "2000000", "respsize": "900", "act": "Allowed"})
                    + "\n")
    settings = ('[proxy_zscaler]\ntime = "ts"\nuser = "login"\nurl = "eurl"\n'
                'method = "reqmethod"\nbytes_sent = "reqsize"\nbytes_received = "respsize"\n'
                'action = "act"\n')
    plain = _workspace(tmp_path / "plain")
    with plain.locked():
        assert recognise_records(feed, "proxy", Ingestor(plain).sniff_ctx) is None
    workspace = _workspace(tmp_path / "ws", settings)
    [result] = _ingest(workspace, [feed]).files
    assert result.layout == "proxy.zscaler" and result.rows_stored == 1
    [event] = events(workspace)
    assert (event["action"], event["channel"], event["bytes"], str(event["ts"])) == (
        "web_upload", "cloud_storage", 2000000, "2024-03-04 08:06:30")


def test_the_field_map_is_checked(tmp_path: Path) -> None:
    (tmp_path / "molehunt.toml").write_text('[proxy_zscaler]\nbytes_snt = "reqsize"\n')
    with pytest.raises(ConfigError, match=r"bytes_snt.*bytes_sent"):
        Settings.load(tmp_path)
    (tmp_path / "molehunt.toml").write_text('[proxy_zscaler]\nuser = 3\n')
    with pytest.raises(ConfigError, match="field = JSON key"):
        Settings.load(tmp_path)
    (tmp_path / "molehunt.toml").write_text('[proxy_zscaler]\nuser = "login"\n')
    loaded = Settings.load(tmp_path)
    assert loaded.proxy_zscaler == (("user", "login"),)
    assert '[proxy_zscaler]\nuser = "login"' in loaded.to_toml()


def test_a_web_server_log_is_not_a_proxy_log(tmp_path: Path) -> None:
    iis = tmp_path / "u_ex240304.log"
    iis.write_text("#Software: Microsoft Internet Information Services 10.0\n#Fields: date time"
                   " s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip"
                   " cs(User-Agent) sc-status\n2024-03-04 08:00:00 10.0.0.5 GET / - 443 -"
                   " 10.0.0.1 - 200\n")
    assert recognise_records(iis) is None
    for path, layout in [(SQUID, SquidNative), (ZSCALER, ZscalerNss), (BLUECOAT, BlueCoatElff)]:
        assert recognise_records(path) is layout


def test_ingest_auto_reads_proxy_logs_and_names_an_unknown_log(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    for path in (SQUID, ZSCALER, BLUECOAT):
        shutil.copy(path, folder / path.name)
    (folder / "app-debug.log").write_text("starting up\n")
    workspace = _workspace(tmp_path / "ws")
    with workspace.locked():
        summary = Ingestor(workspace).ingest_auto(folder, skip_unknown=True)
    assert sorted(f.layout for f in summary.files) == [
        "proxy.bluecoat", "proxy.squid", "proxy.zscaler"]
    [(skipped, reason)] = summary.skipped
    assert Path(skipped).name == "app-debug.log" and "not a web proxy log" in reason


def test_quarantine_names_the_line(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    _ingest(workspace, [BLUECOAT])
    assert [(q["line"], q["reason"]) for q in quarantine(workspace)] == [
        (15, "wrong field count"), (16, "unparseable time")]


# -- property tests -----------------------------------------------------------------------
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=14)
_REQUEST = st.fixed_dictionaries({
    "user": st.one_of(st.sampled_from(["alice", "-", "CORP\\bob", "WS-1$", "None"]), _TEXT),
    "method": st.sampled_from(["GET", "POST", "PUT", "CONNECT", "x"]),
    "url": st.one_of(st.sampled_from(["https://box.com/a", "box.com:443", "/x", "-"]), _TEXT),
    "sent": st.one_of(st.integers(0, 10**7).map(str), _TEXT),
    "time": st.one_of(st.sampled_from(["2024-03-04 08:00:00", "1970-01-01 00:00:00",
                                       "9999-12-31 23:59:59", "x"]), _TEXT),
    "extra": st.one_of(st.just(""), _TEXT),
    "blank": st.sampled_from(["", "", "", "\n", "   \n", "#x\n"]),
})


def _squid(r: dict[str, Any]) -> str:
    return (f"1709539501.250 412 10.0.0.1 TCP_MISS/200 {r['sent']} {r['method']} {r['url']}"
            f" {r['user']} HIER_DIRECT/1.2.3.4 text/html{r['extra']}")


def _zscaler(r: dict[str, Any]) -> str:
    return json.dumps({"sourcetype": "zscalernss-web", "event": {
        "datetime": r["time"], "user": r["user"], "url": r["url"],
        "requestmethod": r["method"], "requestsize": r["sent"], "hostname": r["extra"]}})


def _elff(r: dict[str, Any]) -> str:
    quoted = ['"' + str(v).replace('"', '""') + '"' for v in
              (r["user"], r["method"], r["url"], r["sent"])]
    time = "x" + r["time"] if r["time"].lstrip().startswith("#") else r["time"]
    return f"{time} 10.0.0.1 {' '.join(quoted)} 200 100{r['extra']}"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(_REQUEST, max_size=12), preset=st.sampled_from(["squid", "zscaler",
                                                                      "bluecoat"]))
def test_any_lines_are_accounted_for(tmp_path_factory: pytest.TempPathFactory,
                                     batch: list[dict[str, Any]], preset: str) -> None:
    root = tmp_path_factory.mktemp("prop")
    first = {"user": "alice", "method": "GET", "url": "https://box.com/", "sent": "10",
             "time": "2024-03-04 08:00:00", "extra": "", "blank": ""}
    render = {"squid": _squid, "zscaler": _zscaler, "bluecoat": _elff}[preset]
    text = ""
    expected = 0  # counted here, line by line, as written
    if preset == "bluecoat":
        text = ("#Software: SGOS 7.3\n#Fields: date time c-ip cs-username cs-method cs-uri"
                " cs-bytes sc-status sc-bytes\n")
    for request in [first, *batch]:
        line = render(request).replace("\r", " ").replace("\n", " ")
        text += line + "\n"
        expected += 1
        blank = request["blank"]
        if blank.startswith("#"):
            # a directive in ELFF; anywhere else a line that holds something
            expected += preset != "bluecoat"
        text += blank
    path = root / ("access.log" if preset != "zscaler" else "nss.ndjson")
    path.write_text(text)
    workspace = _workspace(root / "ws")
    [result] = _ingest(workspace, [path]).files
    assert result.status == "ingested", result.note
    assert result.rows_read == expected and _adds_up(result)
    assert len(events(workspace)) == result.rows_stored
    assert len(quarantine(workspace)) == result.rows_quarantined


def test_identical_elff_lines_of_one_second_are_each_a_request(tmp_path: Path) -> None:
    # ELFF times are whole seconds: GCHQ's public Blue Coat sample has twenty identical lines
    # of one fetch, and 18 of them were stored as duplicates of the first (an upload sent in
    # equal chunks would lose its bytes the same way). Read again, the file is stored once.
    header = ("#Software: SGOS 6.7.5.3\n#Fields: date time time-taken c-ip sc-status s-action"
              " sc-bytes cs-bytes cs-method cs-uri-scheme cs-host cs-uri-path cs-uri-query"
              " cs-username\n")
    chunk = ("2024-03-04 10:00:01 40 10.0.0.7 200 TCP_NC_MISS 120 4194304 POST https"
             " upload.box.com /api/2.0/files/content - dana\n")
    other = ("2024-03-04 10:00:02 40 10.0.0.7 200 TCP_NC_MISS 120 4194304 POST https"
             " upload.box.com /api/2.0/files/content - dana\n")
    path = tmp_path / "main.log"
    path.write_text(header + chunk * 3 + other + chunk)
    workspace = _workspace(tmp_path / "ws")
    [first] = _ingest(workspace, [path]).files
    # the fifth line, back at 10:00:01 after another time, is taken for the first again
    assert (first.rows_read, first.rows_stored, first.rows_duplicate) == (5, 4, 1)
    stored = events(workspace)
    assert [e["action"] for e in stored] == ["web_upload"] * 4
    assert sum(e["bytes"] for e in stored) == 4 * 4194304
    copy = tmp_path / "again" / "main.log"
    copy.parent.mkdir()
    copy.write_text(path.read_text() + other.replace("10:00:02", "10:00:03"))
    [again] = _ingest(workspace, [copy]).files
    assert (again.rows_read, again.rows_stored, again.rows_duplicate) == (6, 1, 5)
