"""Local HTTPS stand-ins for the Office 365 Management Activity API (with its Entra ID token
endpoint) and the Google Admin SDK Reports API (with Google's OAuth token endpoint).

They answer in the layouts Microsoft and Google document (Microsoft Learn's "Office 365
Management Activity API reference": subscriptions, content listings with ``NextPageUri``,
content blobs, the ``{"error": {"code": "AF…"}}`` body; Google's ``activities.list``
reference: ``kind``, ``items``, ``nextPageToken``, and the ``{"error": {"code", "message",
"errors", "status"}}`` body), with hand-written bodies, and serve the audit records and
activities of tests/fixtures/m365 and tests/fixtures/gworkspace. Tokens are checked for
real: the client secret or the certificate's signed assertion (Entra ID), the service
account's signed JWT (Google), and an expired token gets a 401.

Faults are queued per test (:meth:`FakeApi.fail`): the next request whose path contains a
given text gets the fault's status, headers and body instead, as many times as asked.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conftest import FIXTURES

TENANT = "4b2f7c1e-0d5a-4f3e-9a61-3c8e2b7d9f10"
CLIENT_ID = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
SECRET = "not-a-real-secret~0123456789"
ADMIN = "audit-reader@corp.example"
SERVICE_ACCOUNT = "molehunt-reader@corp-audit.iam.gserviceaccount.com"
REPORTS_SCOPE = "https://www.googleapis.com/auth/admin.reports.audit.readonly"
#: The fixture records' workloads → the content type whose blobs carry them.
CONTENT_TYPE_OF = {"SharePoint": "Audit.SharePoint", "OneDrive": "Audit.SharePoint",
                   "Exchange": "Audit.Exchange", "AzureActiveDirectory":
                   "Audit.AzureActiveDirectory"}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Tls:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""

    certificate: Path
    key: Path

    @classmethod
    def make(cls, folder: Path) -> Tls:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = _now()
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
        folder.mkdir(parents=True, exist_ok=True)
        tls = cls(folder / "server.pem", folder / "server.key")
        tls.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        tls.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        return tls


@dataclass
class Fault:
    """The answer the next matching requests get instead of the real one."""

    method: str
    path_contains: str
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    #: "expire": the access tokens issued so far stop being valid, then the request is
    #: answered as usual (a 401, since its token just expired).
    action: str = "answer"


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Sent as it is (else ``body`` as JSON).
    raw: bytes | None = None


class FakeApi:
    """A threaded HTTPS server that routes requests to :meth:`route` (see subclasses)."""

    def __init__(self, tls: Tls) -> None:
        self.tls = tls
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str]] = []
        self.tokens: set[str] = set()
        self.token_requests = 0
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                answer = fake.answer(method, self.path, dict(self.headers), body)
                data = answer.raw if answer.raw is not None else (
                    b"" if answer.body is None else json.dumps(answer.body).encode())
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.certificate, tls.key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_port}"
        # a short poll: shutdown() waits for the loop to notice
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                        daemon=True)

    def __enter__(self) -> FakeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, method: str, path_contains: str, status: int, body: Any = None,
             headers: dict[str, str] | None = None, times: int = 1,
             action: str = "answer") -> None:
        """Queue a fault (see the module docstring)."""
        self.faults.append(Fault(method, path_contains, status, body, headers or {}, times,
                                 action))

    def requests_to(self, text: str, method: str = "GET") -> int:
        """How many requests went to paths containing ``text``."""
        return sum(1 for m, path in self.log if m == method and text in path)

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            self.log.append((method, target))
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path_contains in target:
                    fault.times -= 1
                    if fault.action == "expire":
                        self.tokens.clear()
                        break
                    return Answer(fault.status, fault.body, fault.headers)
            parts = urlsplit(target)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            return self.route(method, parts.path, query, headers, body)

    def issue_token(self, prefix: str) -> str:
        token = f"{prefix}-{next(self._numbers)}"
        self.tokens.add(token)
        self.token_requests += 1
        return token

    def authorised(self, headers: dict[str, str]) -> bool:
        value = headers.get("Authorization", "")
        return value.startswith("Bearer ") and value[7:] in self.tokens

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
              body: bytes) -> Answer:
        raise NotImplementedError


# -- Microsoft 365 ---------------------------------------------------------------------------
@dataclass
class Blob:
    content_type: str
    content_id: str
    created: dt.datetime
    records: list[dict[str, Any]]
    #: Not listed yet (Microsoft lists it late).
    hidden: bool = False


def m365_records() -> list[dict[str, Any]]:
    """The twenty audit records of the Management API fixtures."""
    return [*json.loads((FIXTURES / "m365" / "management_api.json").read_text()),
            *json.loads((FIXTURES / "m365" / "management_api_more.json").read_text())]


def m365_blobs(now: dt.datetime) -> list[Blob]:
    """The fixture records in content blobs of two records (by content type), made available
    one after another over the day before ``now``."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record in m365_records():
        by_type.setdefault(CONTENT_TYPE_OF.get(record["Workload"], "Audit.General"),
                           []).append(record)
    blobs: list[Blob] = []
    created = now - dt.timedelta(hours=23)
    for content_type in sorted(by_type):
        records = by_type[content_type]
        for at in range(0, len(records), 2):
            number = len(blobs) + 1
            # shaped like Microsoft's ids: opaque, with '$' separators
            content_id = (f"20240305{number:04d}$20240305{number:04d}$"
                          f"{TENANT.replace('-', '')}{content_type.split('.')[1].lower()}"
                          f"$a{number:031d}$04")
            blobs.append(Blob(content_type, content_id, created, records[at:at + 2]))
            created += dt.timedelta(hours=1, minutes=50)
    return blobs


class FakeM365(FakeApi):
    """Entra ID's token endpoint and the Management Activity API of one tenant."""

    def __init__(self, tls: Tls, now: dt.datetime, *, certificate: x509.Certificate | None = None,
                 enabled: tuple[str, ...] = ("Audit.SharePoint", "Audit.Exchange",
                                             "Audit.AzureActiveDirectory")) -> None:
        super().__init__(tls)
        self.now = now
        self.blobs = m365_blobs(now)
        self.subscriptions = {name: "enabled" for name in enabled}
        self.certificate = certificate
        self.page_size = 2
        #: Answer of a POST /subscriptions/start (None: start it).
        self.start_refusal: Answer | None = None

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
              body: bytes) -> Answer:
        if path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            base = f"{self.url}/{TENANT}"
            return Answer(200, {"token_endpoint": f"{base}/oauth2/v2.0/token",
                                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                                "issuer": f"{base}/v2.0"})
        if path == f"/{TENANT}/oauth2/v2.0/token" and method == "POST":
            return self._token({k: v[-1] for k, v in parse_qs(body.decode()).items()})
        prefix = f"/api/v1.0/{TENANT}/activity/feed"
        if not path.startswith(prefix):
            return Answer(404, {"error": {"code": "AF20050", "message": "Not found."}})
        if not self.authorised(headers):
            return Answer(401, {"error": {"code": "AF50000",
                                          "message": "Authorization has been denied."}})
        if query.get("PublisherIdentifier") is None and "/audit/" not in path:
            return Answer(400, {"error": {"code": "AF20001",
                                          "message": "Missing parameter: PublisherIdentifier."}})
        operation = path[len(prefix):]
        if operation == "/subscriptions/list" and method == "GET":
            return Answer(200, [{"contentType": name, "status": status, "webhook": None}
                                for name, status in self.subscriptions.items()])
        if operation == "/subscriptions/start" and method == "POST":
            if self.start_refusal is not None:
                return self.start_refusal
            self.subscriptions[query["contentType"]] = "enabled"
            return Answer(200, {"contentType": query["contentType"], "status": "enabled",
                                "webhook": None})
        if operation == "/subscriptions/content" and method == "GET":
            return self._content(query)
        if operation.startswith("/audit/") and method == "GET":
            wanted = operation[len("/audit/"):]
            for blob in self.blobs:
                if blob.content_id == wanted:
                    # pretty-printed, as the documentation's sample response is
                    return Answer(200, raw=json.dumps(blob.records, indent=4).encode())
            return Answer(404, {"error": {"code": "AF20050",
                                          "message": f"The specified content ({wanted}) does"
                                                     " not exist."}})
        return Answer(404, {"error": {"code": "AF20050", "message": "Not found."}})

    def _token(self, form: dict[str, str]) -> Answer:
        refused = Answer(401, {
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the"
                                 " secret being sent in the request is the client secret"
                                 " value, not the client secret ID.\r\nTrace ID: 0000",
            "error_codes": [7000215]})
        if form.get("client_id") != CLIENT_ID or form.get("grant_type") != "client_credentials":
            return refused
        if "client_assertion" in form:
            if self.certificate is None:
                return refused
            try:
                jwt.decode(form["client_assertion"], self.certificate.public_key(),
                           algorithms=["RS256", "PS256"], audience=f"{self.url}/{TENANT}"
                           "/oauth2/v2.0/token")
            except jwt.PyJWTError:
                return refused
        elif form.get("client_secret") != SECRET:
            return refused
        return Answer(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                            "access_token": self.issue_token("m365")})

    def _content(self, query: dict[str, str]) -> Answer:
        content_type = query.get("contentType", "")
        if self.subscriptions.get(content_type) != "enabled":
            return Answer(403, {"error": {"code": "AF20022", "message": "No subscription found"
                                          " for the specified content type."}})
        try:
            start = dt.datetime.fromisoformat(query["startTime"]).replace(tzinfo=dt.UTC)
            end = dt.datetime.fromisoformat(query["endTime"]).replace(tzinfo=dt.UTC)
        except (KeyError, ValueError):
            return Answer(400, {"error": {"code": "AF20002", "message": "Invalid parameter"
                                          " type: startTime. Expected type: datetime"}})
        if (end - start > dt.timedelta(hours=24) or start < self.now - dt.timedelta(days=7)
                or end <= start):
            return Answer(400, {"error": {"code": "AF20030", "message": "Start time and end time"
                                          " must both be specified (or both omitted) and must be"
                                          " less than or equal to 24 hours apart, with the start"
                                          " time no more than 7 days in the past."}})
        listed = [b for b in self.blobs if b.content_type == content_type and not b.hidden
                  and start <= b.created < end]
        offset = int(query.get("nextPage", "0"))
        page = listed[offset:offset + self.page_size]
        headers = {}
        if offset + self.page_size < len(listed):
            headers["NextPageUri"] = (
                f"{self.url}/api/v1.0/{TENANT}/activity/feed/subscriptions/content?contentType="
                f"{content_type}&startTime={query['startTime']}&endTime={query['endTime']}"
                f"&PublisherIdentifier={query['PublisherIdentifier']}"
                f"&nextPage={offset + self.page_size}")
        return Answer(200, [{
            "contentType": b.content_type, "contentId": b.content_id,
            "contentUri": f"{self.url}/api/v1.0/{TENANT}/activity/feed/audit/"
                          f"{quote(b.content_id, safe='$')}",
            "contentCreated": b.created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "contentExpiration": (b.created + dt.timedelta(days=7)).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z")} for b in page], headers)


# -- Google Workspace ------------------------------------------------------------------------
def gworkspace_activities() -> list[dict[str, Any]]:
    """The twenty-six activities of the Reports API fixtures."""
    lines = (FIXTURES / "gworkspace" / "activities.ndjson").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def service_account_key(folder: Path, token_uri: str, key: rsa.RSAPrivateKey) -> Path:
    """A service account key file (Google's JSON layout) whose token_uri is the fake's."""
    path = folder / "reports-reader.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "corp-audit",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": SERVICE_ACCOUNT, "client_id": "109876543210987654321",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
        "universe_domain": "googleapis.com"}))
    return path


class FakeReports(FakeApi):
    """Google's token endpoint and the Reports API's activities.list of one customer."""

    def __init__(self, tls: Tls, public_key: Any, *, admin: str = ADMIN) -> None:
        super().__init__(tls)
        self.public_key = public_key
        self.admin = admin
        self.activities = gworkspace_activities()
        self.page_size = 3

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
              body: bytes) -> Answer:
        if path == "/token" and method == "POST":
            return self._token({k: v[-1] for k, v in parse_qs(body.decode()).items()})
        prefix = "/admin/reports/v1/activity/users/all/applications/"
        if not path.startswith(prefix) or method != "GET":
            return Answer(404, google_error(404, "Not Found", "notFound", "NOT_FOUND"))
        if not self.authorised(headers):
            return Answer(401, google_error(401, "Request had invalid authentication"
                                             " credentials.", "authError", "UNAUTHENTICATED"))
        application = path[len(prefix):]
        start = dt.datetime.fromisoformat(query["startTime"].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(query["endTime"].replace("Z", "+00:00"))
        # inclusive at both ends: the worst case for windows that meet
        found = sorted((a for a in self.activities if a["id"]["applicationName"] == application
                        and start <= dt.datetime.fromisoformat(
                            a["id"]["time"].replace("Z", "+00:00")) <= end),
                       key=lambda a: a["id"]["time"], reverse=True)
        size = min(self.page_size, int(query.get("maxResults", "1000")))
        offset = int(query.get("pageToken", "0") or 0)
        page: dict[str, Any] = {"kind": "admin#reports#activities",
                                "etag": f"\"etag-{application}-{offset}\""}
        if found[offset:offset + size]:
            page["items"] = found[offset:offset + size]
        if offset + size < len(found):
            page["nextPageToken"] = str(offset + size)
        # Google pretty-prints unless asked not to; the pull asks, this ignores it
        return Answer(200, raw=json.dumps(page, indent=2).encode())

    def _token(self, form: dict[str, str]) -> Answer:
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Answer(400, {"error": "unsupported_grant_type",
                                "error_description": "Invalid grant_type."})
        try:
            claims = jwt.decode(form.get("assertion", ""), self.public_key,
                                algorithms=["RS256"], options={"verify_aud": False})
        except jwt.PyJWTError:
            return Answer(400, {"error": "invalid_grant",
                                "error_description": "Invalid JWT Signature."})
        if (claims.get("iss") != SERVICE_ACCOUNT or claims.get("sub") != self.admin
                or claims.get("scope") != REPORTS_SCOPE):
            return Answer(401, {"error": "unauthorized_client",
                                "error_description": "Client is unauthorized to retrieve access"
                                " tokens using this method, or client not authorized for any of"
                                " the scopes requested."})
        return Answer(200, {"access_token": self.issue_token("ya29.fake"), "expires_in": 3599,
                            "token_type": "Bearer"})


def google_error(code: int, message: str, reason: str, status: str) -> dict[str, Any]:
    """An error body as Google's APIs write it."""
    return {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}],
                      "status": status}}


def records_in(folder: Path, pattern: str = "*.json") -> Iterator[dict[str, Any]]:
    """Every audit record or activity in the raw files a pull wrote, as the connectors would
    count them (each line a blob's array or a page's items)."""
    for path in sorted(folder.rglob(pattern)):
        for line in path.read_text().splitlines():
            value = json.loads(line)
            yield from (value["items"] if isinstance(value, dict) else value)
