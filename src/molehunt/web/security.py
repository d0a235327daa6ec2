"""Authentication, CSRF and response headers for the console."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.middleware.base import BaseHTTPMiddleware

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


class SecurityHeaders(BaseHTTPMiddleware):
    """Strict CSP and companions on every response; no caching of pages with personal data."""

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Add the headers to the response of ``request``."""
        response = await call_next(request)
        headers = response.headers
        if request.url.path.startswith(("/docs", "/redoc")):
            # FastAPI's API explorer loads its own scripts; it shows no personal data
            headers.setdefault("Content-Security-Policy",
                               "default-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
        else:
            headers["Content-Security-Policy"] = CSP
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if not request.url.path.startswith("/static"):
            headers["Cache-Control"] = "no-store"
        return response


def authenticate(console: Console, request: Request) -> Principal | None:
    """The principal of a request: a bearer token, else the session cookie."""
    header = request.headers.get("authorization", "")
    with console.store.sessions() as session:
        if header.lower().startswith("bearer "):
            principal = principal_from_token(session, header[7:].strip())
            if principal is None:
                raise AccessError("unknown or revoked API token", status=401)
            return principal
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            return principal_from_session(session, cookie)
    return None


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
