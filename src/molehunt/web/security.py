"""Authentication, CSRF, request-body limits and response headers for the console."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from molehunt.cases.accounts import (
    AccessError,
    Principal,
    principal_from_session,
    principal_from_token,
)
from molehunt.cases.service import Console

SESSION_COOKIE = "mh_session"
LOGIN_CSRF_COOKIE = "mh_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Nothing inline, nothing from elsewhere: every script and style is a file under /static.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")


_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"), (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()")]
_DOCS_CSP = b"default-src 'self' 'unsafe-inline'; frame-ancestors 'none'"


class SecurityHeaders:
    """Strict CSP and companions on every response; no caching of pages with personal data.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs every request through an
    extra task and stream, a measurable cost per request under load.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def start(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if path.startswith(("/docs", "/redoc")):
                    # FastAPI's API explorer loads its own scripts; it shows no personal data
                    headers.setdefault("content-security-policy", _DOCS_CSP.decode())
                else:
                    headers["content-security-policy"] = CSP
                for name, value in _HEADERS:
                    headers[name.decode()] = value.decode()
                if not path.startswith("/static"):
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, start)


#: The largest request body a route takes. The longest form (a 20,000-character note) is a
#: few tens of kB, so a megabyte is plenty.
MAX_BODY_BYTES = 1_048_576
#: Routes that need larger bodies: path prefix → bytes. None does today; an upload route
#: would be named here rather than raising the limit for everyone.
LARGE_BODY_ROUTES: dict[str, int] = {}


class BodyTooLarge(HTTPException):
    """A request body over its route's limit (the web maps it to 413 with one line)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: at most {limit:,} bytes here")


class BodyLimit:
    """Refuse request bodies over :data:`MAX_BODY_BYTES` (or the route's own limit) with 413.

    A declared ``Content-Length`` over the limit is answered at once, before a byte of the
    body is read. A streamed (chunked) body is counted as the application reads it; the read
    that passes the limit raises :class:`BodyTooLarge`, so the application never holds more
    than the limit plus one chunk. Without this, four unauthenticated 250 MB logins took
    the server from 292 MB to 2.3 GB.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES,
                 larger: dict[str, int] | None = None) -> None:
        self.app, self.limit = app, limit
        self.larger = LARGE_BODY_ROUTES if larger is None else larger

    def limit_for(self, path: str) -> int:
        """The body limit of the route at ``path``."""
        return next((size for prefix, size in self.larger.items() if path.startswith(prefix)),
                    self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what is read."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, send, BodyTooLarge(limit))
            return
        received = 0
        started = exceeded = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if exceeded:  # the rest of the body stays unread: end the connection
                    MutableHeaders(scope=message)["connection"] = "close"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as error:  # read outside a route (which answers 413 itself)
            if started:
                raise
            await _refuse(scope, send, error)


async def _refuse(scope: Scope, send: Send, error: BodyTooLarge) -> None:
    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    # the rest of the body is never read: the connection cannot carry another request
    headers = {"connection": "close"}
    response = (JSONResponse({"error": error.detail}, 413, headers)
                if scope["path"].startswith("/api/")
                else PlainTextResponse(error.detail, 413, headers))
    await response(scope, nothing, send)


def authenticate(console: Console, request: Request) -> Principal | None:
    """The principal of a request: a bearer token, else the session cookie.

    Known credentials are remembered for a few seconds (:class:`PrincipalCache`); blocking
    database work, so call it from a worker thread, not the event loop.
    """
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    cookie = request.cookies.get(SESSION_COOKIE)
    credential = f"token:{token}" if token is not None else (
        f"session:{cookie}" if cookie else None)
    if credential is None:
        return None
    known = console.principals.get(credential)
    if known is not None:
        return known
    with console.store.sessions() as session:
        if token is not None:
            principal = principal_from_token(session, token)
            if principal is None:
                raise AccessError("unknown or revoked API token", status=401)
        else:
            principal = principal_from_session(session, cookie or "")
    if principal is not None:
        console.principals.put(credential, principal)
    return principal


def check_csrf(principal: Principal, request: Request, submitted: str | None) -> None:
    """Refuse a state change made with the session cookie without the session's CSRF token.

    Bearer-token requests carry no ambient credential a foreign page could borrow, so they
    need none.
    """
    if principal.via == "token" or request.method in SAFE_METHODS:
        return
    sent = submitted or request.headers.get("x-csrf-token") or ""
    if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
        raise AccessError("missing or wrong CSRF token; reload the page", status=403)


def check_scope(principal: Principal, request: Request) -> None:
    """Refuse a change made with an API token that only holds the ``read`` scope."""
    if principal.via == "token" and request.method not in SAFE_METHODS and (
            "write" not in principal.scopes):
        raise AccessError("this API token may only read (scope 'read')")


def new_login_csrf() -> str:
    """A token for the login form's double-submit cookie."""
    return secrets.token_urlsafe(24)
