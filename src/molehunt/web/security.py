"""Authentication, CSRF and response headers for the console."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from starlette.datastructures import MutableHeaders
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


def new_login_csrf() -> str:
    """A token for the login form's double-submit cookie."""
    return secrets.token_urlsafe(24)
