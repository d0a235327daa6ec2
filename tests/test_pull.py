"""``molehunt pull m365`` and ``pull gworkspace`` against local HTTPS stand-ins of the APIs.

The stand-ins (tests/pull_servers.py) serve the records of the connectors' own fixtures in
the layouts Microsoft and Google document, check tokens for real (client secret, certificate
assertion, the service account's signed JWT) and fail on cue: 429 with Retry-After, 5xx, an
expired token. What a pull writes is then ingested with the existing connectors and must
give exactly the events the fixtures give: every record stored once, none lost.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from conftest import FIXTURES, events
from molehunt.cli import app as cli
from molehunt.collect import _state, gworkspace_settings, m365_settings
from molehunt.collect.gworkspace import pull_gworkspace
from molehunt.collect.m365 import pull_m365
from molehunt.collect.settings import (
    GWorkspacePullSettings,
    M365PullSettings,
    gworkspace_pull_settings,
    m365_pull_settings,
)
from molehunt.config import Settings
from molehunt.errors import ConfigError, PullError
from molehunt.sources.ingest import Ingestor
from molehunt.store.workspace import Workspace
from pull_servers import (
    ADMIN,
    CLIENT_ID,
    SECRET,
    TENANT,
    Answer,
    FakeM365,
    FakeReports,
    Tls,
    google_error,
    records_in,
    service_account_key,
)

#: Midnight: a first run (initial_days 1) is one 24-hour window per content type, so that the
#: ingest reads few files (each costs it a fixed half second or so).
NOW = dt.datetime(2024, 3, 7, tzinfo=dt.UTC)
SECRET_ENV = "MOLEHUNT_TEST_M365_SECRET"
M365_SETTINGS = ('company_domains = ["contoso.com"]\n[sensitivity_labels]\n'
                 '"d9f23ae3-a239-45ea-bf23-f515f824c57b" = 4\n"general" = 1\n')
GW_SETTINGS = 'company_domains = ["corp.example"]\n'


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return Tls.make(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def m365(tls: Tls, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeM365]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with FakeM365(tls, NOW) as fake:
        yield fake


class Clock:
    """The pull's clock and sleep: time stands still unless moved; sleeps are recorded."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def _m365_settings(fake: FakeM365, tls: Tls, **table: Any) -> M365PullSettings:
    return m365_pull_settings({
        "tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret_env": SECRET_ENV,
        "api_url": fake.url, "authority_host": fake.url, "ca_bundle": str(tls.certificate),
        "initial_days": 1, **table}, Path("/unused"), "molehunt.toml")


def _pull(settings: M365PullSettings, folder: Path, clock: Clock, **options: Any) -> Any:
    return pull_m365(settings, folder, now=clock, sleep=clock.sleep, **options)


def _ingest(root: Path, settings_text: str, folder: Path, family: str) -> Any:
    root.mkdir(parents=True, exist_ok=True)
    (root / "molehunt.toml").write_text(settings_text)
    workspace = Workspace(root)
    with workspace.locked():
        summary = Ingestor(workspace).ingest_records([folder], family)
    return workspace, summary


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events as the golden files hold them (the shape a record came in left out)."""
    result = []
    for row in rows:
        attrs = json.loads(row["attrs"]) if row.get("attrs") else None
        if attrs:
            attrs.pop("shape", None)
        result.append({k: (str(v) if k in ("ts", "day") and v is not None else v)
                       for k, v in {**row, "attrs": attrs}.items()})
    return result


def _checkpoint(folder: Path, service: str) -> dict[str, Any]:
    return json.loads((folder / f".molehunt-pull-{service}.state").read_text())


# -- Microsoft 365 ---------------------------------------------------------------------------
def test_m365_pull_retries_refreshes_catches_a_late_blob_and_ingests_every_record(
        m365: FakeM365, tls: Tls, tmp_path: Path) -> None:
    folder = tmp_path / "m365"
    blobs = {b.content_type: [x for x in m365.blobs if x.content_type == b.content_type]
             for b in m365.blobs}
    # one blob Microsoft lists only later (dated within the overlap), one dated just
    # before now (listed again by the next run's overlap, and not fetched twice)
    late, recent = blobs["Audit.Exchange"][-1], blobs["Audit.SharePoint"][-1]
    late.created, late.hidden = NOW - dt.timedelta(minutes=30), True
    recent.created = NOW - dt.timedelta(minutes=20)
    general = blobs["Audit.General"][1]
    m365.fail("GET", "contentType=Audit.SharePoint", 429, {"error": {
        "code": "AF429", "message": "Too many requests. Method=GET, PublisherId=" + TENANT}},
        {"Retry-After": "2"})
    m365.fail("GET", f"/audit/{general.content_id}", 503, {"error": {
        "code": "AF50000", "message": "An internal error occurred. Retry the request."}})
    m365.fail("GET", f"/audit/{blobs['Audit.SharePoint'][2].content_id}", 0, action="expire")
    clock = Clock(NOW)
    lines: list[str] = []

    first = _pull(_m365_settings(m365, tls), folder, clock, report=lines.append)

    assert first.records == 19  # all but the blob not listed yet
    assert clock.sleeps == [2.0, 1.0]  # Retry-After, then the first backoff after the 503
    assert m365.token_requests == 2  # the expired token was replaced once
    assert m365.requests_to("subscriptions/start", "POST") == 1  # Audit.General had none
    assert any("Audit.General: subscription started" in note for note in first.notes)
    assert any("throttled (HTTP 429)" in line and "retrying in 2 s" in line for line in lines)
    assert m365.requests_to("nextPage=") >= 2  # listings of several pages were followed
    assert not list(folder.rglob("*.partial"))
    state = _checkpoint(folder, "m365")
    assert {name: s["done_until"] for name, s in state["streams"].items()} == {
        name: "2024-03-07T00:00:00Z" for name in ("Audit.AzureActiveDirectory",
                                                  "Audit.Exchange", "Audit.General",
                                                  "Audit.SharePoint")}
    assert state["streams"]["Audit.SharePoint"]["seen"] == {
        recent.content_id: recent.created.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    # the window files: one per content type and window, blobs one per line
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.json")) == [
        f"{name}/2024-03-06/{name}_20240306T000000Z_20240307T000000Z.json"
        for name in ("Audit.AzureActiveDirectory", "Audit.Exchange", "Audit.General",
                     "Audit.SharePoint")]

    late.hidden = False
    clock.now = NOW + dt.timedelta(minutes=30)
    second = _pull(_m365_settings(m365, tls), folder, clock)
    assert {s.name: (s.fetched, s.already) for s in second.streams} == {
        "Audit.AzureActiveDirectory": (0, 0), "Audit.Exchange": (1, 0),
        "Audit.General": (0, 0), "Audit.SharePoint": (0, 1)}
    assert m365.requests_to(f"/audit/{recent.content_id}") == 1

    clock.now += dt.timedelta(minutes=10)
    files_before = sorted(folder.rglob("*.json"))
    third = _pull(_m365_settings(m365, tls), folder, clock)
    assert third.records == 0 and not third.files
    assert sorted(folder.rglob("*.json")) == files_before

    ids = [record["Id"] for record in records_in(folder)]
    assert len(ids) == len(set(ids)) == 20  # nothing twice, nothing missing
    workspace, summary = _ingest(tmp_path / "ws", M365_SETTINGS, folder, "m365")
    assert (sum(f.rows_read for f in summary.files), sum(f.rows_stored for f in summary.files),
            summary.rows_quarantined) == (20, 20, 0)
    expected = json.loads((FIXTURES / "expected" / "m365_events.json").read_text())
    assert _jsonable(events(workspace)) == expected


def test_m365_interrupted_pull_resumes_without_gaps_or_duplicates(
        m365: FakeM365, tls: Tls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "m365"
    settings = _m365_settings(m365, tls, max_retries=2)
    broken = [b for b in m365.blobs if b.content_type == "Audit.General"][2]
    m365.fail("GET", f"/audit/{broken.content_id}", 500, {"error": {
        "code": "AF50000", "message": "An internal error occurred. Retry the request."}},
        times=3)
    clock = Clock(NOW)
    with pytest.raises(PullError, match=r"HTTP 500: An internal error .* gave up after 2"
                                        r" retries"):
        _pull(settings, folder, clock)
    assert clock.sleeps == [1.0, 2.0]  # bounded exponential backoff
    assert not list(folder.rglob("*.partial"))  # the broken window's file was dropped
    done = {name: s["done_until"] for name, s in _checkpoint(folder, "m365")["streams"].items()}
    # content types are pulled in turn; the one that failed has no whole window yet
    assert done["Audit.SharePoint"] == "2024-03-07T00:00:00Z"
    assert done.get("Audit.General") is None

    result = _pull(settings, folder, clock)  # the server works again
    assert {s.name: s.fetched for s in result.streams} == {
        "Audit.AzureActiveDirectory": 0, "Audit.Exchange": 0, "Audit.SharePoint": 0,
        "Audit.General": 3}
    ids = [record["Id"] for record in records_in(folder)]
    assert len(ids) == len(set(ids)) == 20

    # a crash between a window's file and the checkpoint: the next run fetches the window
    # again, and the ingest stores each record once
    other = tmp_path / "crashed"
    original = _state.Checkpoint.save
    calls = []

    def power_cut(self: _state.Checkpoint) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("power cut")
        original(self)

    monkeypatch.setattr(_state.Checkpoint, "save", power_cut)
    with pytest.raises(RuntimeError, match="power cut"):
        _pull(settings, other, Clock(NOW))
    assert [p.name for p in other.rglob("*.json")] == [
        "Audit.AzureActiveDirectory_20240306T000000Z_20240307T000000Z.json"]
    _pull(settings, other, Clock(NOW + dt.timedelta(minutes=10)))
    ids = [record["Id"] for record in records_in(other)]
    assert len(ids) == 21 and len(set(ids)) == 20
    _, summary = _ingest(tmp_path / "ws", M365_SETTINGS, other / "Audit.AzureActiveDirectory",
                         "m365")
    # the window fetched again is the same file under another name: the ingest knows it
    assert (sum(f.rows_stored for f in summary.files), summary.rows_quarantined) == (1, 0)
    assert [f.note.startswith("already ingested") for f in summary.files
            if f.status == "skipped"] == [True]


def test_m365_errors_are_one_clear_line(m365: FakeM365, tls: Tls, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "m365"
    clock = Clock(NOW)
    # a wrong secret: Entra ID's own words
    monkeypatch.setenv(SECRET_ENV, "wrong")
    with pytest.raises(PullError, match=r"^Microsoft Entra ID refused the app's credentials"
                                        r" \(invalid_client\): AADSTS7000215: Invalid client"
                                        r" secret provided\.[^\n]*$"):
        _pull(_m365_settings(m365, tls), folder, clock)
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(ConfigError, match=f"the environment variable {SECRET_ENV} .* is not"
                                          " set"):
        _pull(_m365_settings(m365, tls), folder, clock)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    # the app lacks the permission: the API's code and what to do about it
    m365.fail("GET", "subscriptions/list", 403, {"error": {
        "code": "AF10001", "message": "The permission set () sent in the request did not"
        " include the expected permission ActivityFeed.Read."}})
    with pytest.raises(PullError, match=r"listing the subscriptions: HTTP 403 \(AF10001\): .*"
                                        r"grant the app the application permission"
                                        r" ActivityFeed.Read"):
        _pull(_m365_settings(m365, tls), folder, clock)
    # a subscription that cannot be started (disabled by an admin)
    m365.subscriptions["Audit.General"] = "disabled"
    m365.start_refusal = Answer(403, {"error": {"code": "AF20023", "message":
                                                "The subscription was disabled by a tenant"
                                                " admin."}})
    with pytest.raises(PullError, match=r"starting the Audit.General subscription: HTTP 403"
                                        r" \(AF20023\): .*unified audit log is on"):
        _pull(_m365_settings(m365, tls), folder, clock)
    with pytest.raises(PullError, match=r"Audit.General has no enabled subscription \(status:"
                                        r" disabled\)"):
        _pull(_m365_settings(m365, tls, start_subscriptions=False), folder, clock)
    m365.start_refusal = None
    # more than the API lists
    with pytest.raises(PullError, match=r"--from 2024-02-28T00:00:00Z is before the 7 days the"
                                        r" service keeps"):
        _pull(_m365_settings(m365, tls), folder, clock,
              start=dt.datetime(2024, 2, 28, tzinfo=dt.UTC))
    # a blob that expired before it was fetched: said and counted
    gone = next(b for b in m365.blobs if b.content_type == "Audit.Exchange")
    m365.fail("GET", f"/audit/{gone.content_id}", 400, {"error": {
        "code": "AF20051", "message": f"Content requested with the key {gone.content_id} has"
        " already expired. Content older than 7 days cannot be retrieved."}})
    expired = _pull(_m365_settings(m365, tls), tmp_path / "expired", clock,
                    content_types=["Audit.Exchange"])
    assert (expired.streams[0].expired, expired.records) == (1, 1)
    assert any("Audit.Exchange: 1 content blob expired before it could be fetched" in note
               for note in expired.notes)
    # a Retry-After longer than the pull will wait
    m365.fail("GET", "subscriptions/list", 429, {"error": {"code": "AF429", "message":
                                                           "Too many requests."}},
              {"Retry-After": "3600"})
    with pytest.raises(PullError, match=r"asks to wait 3600 s, more than"
                                        r" max_retry_after_seconds \(300 s\)"):
        _pull(_m365_settings(m365, tls), folder, clock)
    # a checkpoint that ended more than 7 days ago: the gap is said, never skipped
    _pull(_m365_settings(m365, tls), folder, clock, content_types=["Audit.Exchange"])
    clock.now = NOW + dt.timedelta(days=9)
    m365.now = clock.now
    with pytest.raises(PullError, match=r"Audit.Exchange: the last pull ended at"
                                        r" 2024-03-07T00:00:00Z, before the 7 days .* run with"
                                        r" --from"):
        _pull(_m365_settings(m365, tls), folder, clock, content_types=["Audit.Exchange"])
    # another tenant's folder
    settings = m365_pull_settings({
        "tenant_id": "00000000-0000-4000-8000-000000000000", "client_id": CLIENT_ID,
        "client_secret_env": SECRET_ENV}, Path("/unused"), "molehunt.toml")
    with pytest.raises(PullError, match="holds the pull of another account"):
        _pull(settings, folder, clock)


def test_m365_settings_never_hold_a_secret_and_name_the_wrong_key(tmp_path: Path) -> None:
    (tmp_path / "molehunt.toml").write_text(
        f'[pull.m365]\ntenant_id = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n'
        'client_secret = "hunter2"\n')
    with pytest.raises(ConfigError, match=r"pull.m365.client_secret: a secret must not be"
                                          r" written in molehunt.toml"):
        Settings.load(tmp_path)
    (tmp_path / "molehunt.toml").write_text(
        f'[pull.m365]\ntenant_id = "contoso.com"\nclient_id = "{CLIENT_ID}"\n'
        'client_secret_env = "X"\n')
    with pytest.raises(ConfigError, match=r"pull.m365.tenant_id must be the tenant's GUID"):
        Settings.load(tmp_path)
    (tmp_path / "molehunt.toml").write_text(
        '[pull.gworkspace]\ncredentials_file = "key.json"\ndelegated_admin = "a@b.example"\n'
        'api_url = "http://admin.googleapis.com"\nwindow_hours = 5\n')
    with pytest.raises(ConfigError, match=r"pull.gworkspace.api_url must be an https:// URL"):
        Settings.load(tmp_path)
    (tmp_path / "molehunt.toml").write_text(
        f'[pull.m365]\ntenant_id = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n'
        'client_secret_file = "m365.secret"\ncontent_types = ["Audit.Sharepoint"]\n')
    with pytest.raises(ConfigError, match=r"did you mean 'Audit.SharePoint'"):
        Settings.load(tmp_path)
    # a valid table survives `config check`'s round trip; relative paths are the workspace's
    (tmp_path / "molehunt.toml").write_text(
        f'[pull.m365]\ntenant_id = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n'
        'client_secret_file = "m365.secret"\napi_url = "https://manage.office365.us/"\n'
        '[pull.gworkspace]\ncredentials_file = "keys/reader.json"\n'
        f'delegated_admin = "{ADMIN}"\n')
    loaded = Settings.load(tmp_path)
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "molehunt.toml").write_text(loaded.to_toml())
    assert Settings.load(tmp_path / "again").pull == loaded.pull
    m365 = m365_settings(loaded, tmp_path)
    assert (m365.secret.source, m365.api_url, m365.token_scope) == (
        str(tmp_path / "m365.secret"), "https://manage.office365.us",
        "https://manage.office365.us/.default")
    assert gworkspace_settings(loaded, tmp_path).credentials_file == tmp_path / "keys" / \
        "reader.json"
    with pytest.raises(ConfigError, match=r"no \[pull.m365\] table: add one with tenant_id"):
        m365_settings(Settings(), tmp_path)


def test_a_window_file_is_never_replaced(tmp_path: Path) -> None:
    # a window pulled again may lack blobs fetched before (known to the checkpoint): the
    # earlier file must stay as it is
    path = tmp_path / "Audit.Exchange" / "2024-03-06" / "Audit.Exchange_a_b.json"
    for lines in ([b"[1]", b"[2]"], [b"[2]"], []):
        with _state.WindowFile(path) as raw:
            for line in lines:
                raw.write_line(line)
            raw.commit()
    assert {p.name: p.read_bytes() for p in path.parent.iterdir()} == {
        "Audit.Exchange_a_b.json": b"[1]\n[2]\n", "Audit.Exchange_a_b-2.json": b"[2]\n"}


def _certificate_pem(folder: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "molehunt-pull")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(1)
                   .not_valid_before(NOW - dt.timedelta(days=1))
                   .not_valid_after(NOW + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    path = folder / "m365-app.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    return path


def test_m365_certificate_credential(tls: Tls, tmp_path: Path) -> None:
    pem = _certificate_pem(tmp_path)
    certificate = x509.load_pem_x509_certificate(pem.read_bytes())
    with FakeM365(tls, NOW, certificate=certificate) as fake:
        settings = m365_pull_settings({
            "tenant_id": TENANT, "client_id": CLIENT_ID, "client_certificate_file": str(pem),
            "api_url": fake.url, "authority_host": fake.url, "ca_bundle": str(tls.certificate),
            "initial_days": 1, "content_types": ["Audit.AzureActiveDirectory"]},
            Path("/unused"), "molehunt.toml")
        result = _pull(settings, tmp_path / "m365", Clock(NOW))
    assert result.records == 1 and fake.token_requests == 1


def test_cli_pull_m365_summary_and_one_line_error(m365: FakeM365, tls: Tls,
                                                  tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    m365.now = dt.datetime.now(dt.UTC)  # the command runs on the real clock
    m365.blobs = [b for b in m365.blobs if b.content_type == "Audit.Exchange"]
    for number, blob in enumerate(m365.blobs):
        blob.created = m365.now - dt.timedelta(hours=2 + number)
    (workspace / "molehunt.toml").write_text(
        f'[pull.m365]\ntenant_id = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n'
        f'client_secret_env = "{SECRET_ENV}"\napi_url = "{m365.url}"\n'
        f'authority_host = "{m365.url}"\nca_bundle = "{tls.certificate}"\n'
        'content_types = ["Audit.Exchange"]\ninitial_days = 1\n')
    runner = CliRunner()
    result = runner.invoke(cli, ["--workspace", str(workspace), "pull", "m365",
                                 str(tmp_path / "raw")])
    assert result.exit_code == 0, result.output
    assert "Audit.Exchange" in result.stdout and "blobs" in result.stdout
    assert len(list(records_in(tmp_path / "raw"))) == 3
    m365.fail("GET", "subscriptions/list", 403, {"error": {
        "code": "AF10001", "message": "The permission set () sent in the request did not"
        " include the expected permission ActivityFeed.Read."}})
    result = runner.invoke(cli, ["--workspace", str(workspace), "pull", "m365",
                                 str(tmp_path / "raw")])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        "error: listing the subscriptions: HTTP 403 (AF10001)")
    result = runner.invoke(cli, ["--workspace", str(workspace), "pull", "m365",
                                 str(tmp_path / "raw"), "--from", "last week"])
    assert result.exit_code == 2 and "is not a time" in result.stderr


# -- Google Workspace ------------------------------------------------------------------------
GW_NOW = dt.datetime(2024, 3, 7, 3, 0, tzinfo=dt.UTC)
GW_FROM = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    """The service account's key and another one (made once: each takes a moment)."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]


@pytest.fixture
def reports(tls: Tls, tmp_path: Path, rsa_keys: list[rsa.RSAPrivateKey]
            ) -> Iterator[tuple[FakeReports, GWorkspacePullSettings]]:
    with FakeReports(tls, rsa_keys[0].public_key()) as fake:
        key_file = service_account_key(tmp_path, fake.token_uri, rsa_keys[0])
        yield fake, _gw_settings(fake, tls, key_file)


def _gw_settings(fake: FakeReports, tls: Tls, key_file: Path, **table: Any
                 ) -> GWorkspacePullSettings:
    return gworkspace_pull_settings({
        "credentials_file": str(key_file), "delegated_admin": ADMIN,
        "customer_id": "C03az79cb", "api_url": fake.url, "ca_bundle": str(tls.certificate),
        **table}, Path("/unused"), "molehunt.toml")


def test_gworkspace_pull_pages_retries_refreshes_and_ingests_every_activity(
        reports: tuple[FakeReports, GWorkspacePullSettings], tmp_path: Path) -> None:
    fake, settings = reports
    folder = tmp_path / "gw"
    fake.fail("GET", "applications/drive", 429, google_error(
        429, "Quota exceeded for quota metric 'Queries'.", "rateLimitExceeded",
        "RESOURCE_EXHAUSTED"), {"Retry-After": "1"})
    fake.fail("GET", "applications/login", 503, google_error(
        503, "The service is currently unavailable.", "backendError", "UNAVAILABLE"))
    fake.fail("GET", "applications/token", 403, google_error(
        403, "User Rate Limit Exceeded", "userRateLimitExceeded", "PERMISSION_DENIED"))
    fake.fail("GET", "applications/gmail", 0, action="expire")
    clock = Clock(GW_NOW)
    result = pull_gworkspace(settings, folder, start=GW_FROM, now=clock, sleep=clock.sleep)

    assert result.records == 26
    assert clock.sleeps == [1.0, 1.0, 1.0]  # Retry-After 1; backoff 1 after the 503 and 403
    assert fake.token_requests == 2  # the expired token was replaced once
    assert fake.requests_to("pageToken=") >= 3  # pages followed by nextPageToken
    assert not list(folder.rglob("*.partial"))
    assert {n: s["done_until"] for n, s in _checkpoint(folder, "gworkspace")["streams"].items()
            } == dict.fromkeys(("drive", "login", "token", "gmail"), "2024-03-07T00:00:00Z")
    # a window without activities leaves no file; files fall on days
    assert sorted(p.name for p in (folder / "token").rglob("*.json")) == [
        "token_20240304T000000Z_20240305T000000Z.json",
        "token_20240306T000000Z_20240307T000000Z.json"]

    again = pull_gworkspace(settings, folder, now=clock, sleep=clock.sleep)
    assert again.records == 0 and not again.files and all(s.windows == 0
                                                          for s in again.streams)
    activities = [(a["id"]["applicationName"], a["id"]["time"], a["id"]["uniqueQualifier"])
                  for a in records_in(folder)]
    assert len(activities) == len(set(activities)) == 26

    workspace, summary = _ingest(tmp_path / "ws", GW_SETTINGS, folder, "gworkspace")
    assert (sum(f.rows_read for f in summary.files), sum(f.rows_stored for f in summary.files),
            sum(f.rows_skipped for f in summary.files), summary.rows_quarantined
            ) == (27, 24, 3, 0)
    expected = json.loads((FIXTURES / "expected" / "gworkspace_events.json").read_text())
    assert _jsonable(events(workspace)) == expected


def test_gworkspace_interrupted_pull_resumes_and_errors_are_clear(
        reports: tuple[FakeReports, GWorkspacePullSettings], tls: Tls, tmp_path: Path,
        rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    fake, settings = reports
    folder = tmp_path / "gw"
    settings = _gw_settings(fake, tls, settings.credentials_file, max_retries=1)
    # the second page of Drive's 4 March (the first request with a page token) fails for good
    fake.fail("GET", "pageToken=3", 500, google_error(
        500, "Internal error encountered.", "backendError", "INTERNAL"), times=2)
    clock = Clock(GW_NOW)
    with pytest.raises(PullError, match=r"listing drive activities 2024-03-04T00:00:00Z to"
                                        r" 2024-03-05T00:00:00Z: HTTP 500: Internal error"
                                        r" encountered.; gave up after 1 retry"):
        pull_gworkspace(settings, folder, start=GW_FROM, now=clock, sleep=clock.sleep)
    assert not list(folder.rglob("*.json")) and not list(folder.rglob("*.partial"))
    pull_gworkspace(settings, folder, start=GW_FROM, now=clock, sleep=clock.sleep)
    activities = [a["id"]["uniqueQualifier"] + a["id"]["time"] for a in records_in(folder)]
    assert len(activities) == len(set(activities)) == 26

    # the admin may not read reports: Google's words and what it takes
    fake.fail("GET", "applications/drive", 403, google_error(
        403, "Access denied. You are not authorized to read activity records.", "forbidden",
        "PERMISSION_DENIED"))
    with pytest.raises(PullError, match=r"HTTP 403 \(PERMISSION_DENIED\): Access denied\. You"
                                        r" are not authorized to read activity records\. \(the"
                                        r" delegated admin needs the Reports privilege"):
        pull_gworkspace(settings, tmp_path / "other", start=GW_FROM, now=clock,
                        sleep=clock.sleep)
    # a key Google does not know (signed with another key)
    (tmp_path / "keys").mkdir()
    other_key = service_account_key(tmp_path / "keys", fake.token_uri, rsa_keys[1])
    with pytest.raises(PullError, match=r"Google refused the service account's token request"
                                        r" \(invalid_grant: Invalid JWT Signature\.\)"):
        pull_gworkspace(_gw_settings(fake, tls, other_key), tmp_path / "third",
                        start=GW_FROM, now=clock, sleep=clock.sleep)
    # delegation not granted to this admin
    with pytest.raises(PullError, match=r"unauthorized_client: Client is unauthorized"):
        pull_gworkspace(_gw_settings(fake, tls, settings.credentials_file,
                                     delegated_admin="someone@corp.example"),
                        tmp_path / "fourth", start=GW_FROM, now=clock, sleep=clock.sleep)
    with pytest.raises(PullError, match=r"--from 2023-01-01T00:00:00Z is before the 180 days"):
        pull_gworkspace(settings, tmp_path / "fifth", now=clock, sleep=clock.sleep,
                        start=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
