"""Talking to a service's API: TLS trust, retries with backoff, a token refreshed once.

One :class:`ApiClient` per pull. Every request is retried after HTTP 429 (waiting what
``Retry-After`` says), after 5xx and after a dropped connection (waiting 1, 2, 4, … seconds,
at most 60), at most ``max_retries`` times; a 401 gets one fresh token and one more try.
Anything else is a :class:`ApiRefusedError` whose message is one line that says what was refused
and, where the service says why, why.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from molehunt.collect.settings import Connection
from molehunt.errors import PullError

#: Backoff after a 5xx or a dropped connection: this many seconds, doubled per retry ...
BACKOFF_BASE = 1.0
#: ... and never longer than this.
BACKOFF_CAP = 60.0
#: Google's way of saying 429 (HTTP 403 with one of these reasons): retried like a 429.
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


class ApiRefusedError(PullError):
    """The service answered a request with an error that retrying does not cure."""

    def __init__(self, message: str, *, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        #: The service's own error code (``AF20022``, ``PERMISSION_DENIED``, ...), if any.
        self.code = code


class TokenSource(Protocol):
    """Gives the access token of a pull; ``fresh`` asks for a new one (after a 401)."""

    def token(self, fresh: bool) -> str:
        """An access token to send as ``Authorization: Bearer``."""
        ...


class _TrustingAdapter(HTTPAdapter):
    """Sends every request with the configured CA bundle and timeout.

    Set on the adapter rather than on the session: ``requests`` lets the environment's
    ``REQUESTS_CA_BUNDLE`` override a session's ``verify``, and msal and google-auth send
    their token requests through the same session without a ``verify`` of their own.
    """

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self._ca_bundle = str(connection.ca_bundle) if connection.ca_bundle else None
        self._timeout = connection.timeout

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        """Send ``request`` with the configured trust and a timeout."""
        if self._ca_bundle is not None:
            verify = self._ca_bundle
        return super().send(request, stream=stream,
                            timeout=self._timeout if timeout is None else timeout,
                            verify=verify, cert=cert,
                            proxies=dict(proxies) if proxies is not None else None)


def session_for(connection: Connection) -> requests.Session:
    """A session for the API and its token endpoint (proxies from the environment, as
    ``requests`` reads them: ``HTTPS_PROXY``, ``NO_PROXY``)."""
    if connection.ca_bundle is not None and not connection.ca_bundle.is_file():
        raise PullError(f"ca_bundle {connection.ca_bundle} does not exist")
    session = requests.Session()
    session.mount("https://", _TrustingAdapter(connection))
    session.headers["User-Agent"] = "molehunt-pull"
    return session


@dataclass
class ApiClient:
    """Requests to one service with its retry policy (see the module docstring)."""

    session: requests.Session
    tokens: TokenSource
    connection: Connection
    #: The service's error body → (message, retry like a 429).
    explain: Callable[[requests.Response], tuple[str, str | None, bool]]
    sleep: Callable[[float], None]
    now: Callable[[], dt.datetime]
    #: Says what is being waited for (a line of progress output).
    report: Callable[[str], None]

    def json(self, method: str, url: str, what: str, params: Mapping[str, str] | None = None
             ) -> tuple[Any, requests.Response]:
        """The decoded JSON body of a successful response, and the response; a body that is
        not JSON (cut short, a proxy's error page) is retried like a 5xx."""
        result: list[Any] = []

        def decode(response: requests.Response) -> str | None:
            try:
                result.append(orjson.loads(response.content))
            except orjson.JSONDecodeError as error:
                return f"the response is not JSON ({error})"
            return None

        response = self.request(method, url, what, params, decode)
        return result[-1], response

    def request(self, method: str, url: str, what: str,
                params: Mapping[str, str] | None = None,
                check: Callable[[requests.Response], str | None] | None = None
                ) -> requests.Response:
        """A successful response to ``method url``; ``check`` may find a successful
        response's body damaged (then it is retried). ``what`` names the request in
        messages ("listing Audit.Exchange content ...")."""
        retries = 0
        fresh = False
        refreshed = False
        while True:
            headers = {"Authorization": f"Bearer {self.tokens.token(fresh)}",
                       "Accept": "application/json"}
            fresh = False
            try:
                response = self.session.request(method, url, params=params, headers=headers)
            except requests.exceptions.SSLError as error:
                raise PullError(f"{what}: TLS failed with {_host(url)} ({_first_line(error)});"
                                " if a proxy inspects TLS, set ca_bundle to its CA"
                                " certificate") from None
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as error:
                retries = self._wait(retries, what, f"no answer from {_host(url)}"
                                     f" ({_first_line(error)})", None)
                continue
            status = response.status_code
            if status < 300:
                damage = check(response) if check is not None else None
                if damage is None:
                    return response
                retries = self._wait(retries, what, damage, None)
                continue
            if status == 401 and not refreshed:
                # the token may have expired or been revoked since it was issued
                refreshed = fresh = True
                self.report(f"{what}: access token refused (HTTP 401); getting a new one")
                continue
            message, code, rate_limited = self.explain(response)
            if status == 429 or rate_limited:
                retries = self._wait(retries, what, f"throttled (HTTP {status}): {message}",
                                     _retry_after(response, self.now()))
                continue
            if status >= 500:
                retries = self._wait(retries, what, f"HTTP {status}: {message}", None)
                continue
            if status == 401:
                message = f"even a new access token is refused: {message}"
            said = f" ({code})" if code else ""
            raise ApiRefusedError(f"{what}: HTTP {status}{said}: {message}", status=status,
                                  code=code)

    def _wait(self, retries: int, what: str, reason: str, retry_after: float | None) -> int:
        """Sleep before the next try (or give up); the number of retries made so far."""
        if retries >= self.connection.max_retries:
            raise PullError(f"{what}: {reason}; gave up after {retries}"
                            f" {'retry' if retries == 1 else 'retries'}")
        delay = retry_after if retry_after is not None else min(
            BACKOFF_CAP, BACKOFF_BASE * 2 ** retries)
        if retry_after is not None and delay > self.connection.max_retry_after:
            raise PullError(f"{what}: {reason}; the service asks to wait {delay:.0f} s, more"
                            f" than max_retry_after_seconds ({self.connection.max_retry_after:.0f}"
                            " s): run the pull again later")
        self.report(f"{what}: {reason}; retrying in {delay:g} s")
        self.sleep(delay)
        return retries + 1


def error_body(response: requests.Response) -> tuple[str, str | None, list[str]]:
    """The message, code and reasons of a JSON error body as Microsoft's and Google's APIs
    write them (``{"error": {"code": ..., "message": ..., "errors": [{"reason": ...}]}}``);
    else the body's first line.

    >>> class R:
    ...     content = b'{"error": {"code": "AF20022", "message": "No subscription found."}}'
    ...     reason = "Forbidden"
    >>> error_body(R())  # type: ignore[arg-type]
    ('No subscription found.', 'AF20022', [])
    """
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        text = response.content.decode("utf-8", "replace").strip()
        return (_first_line(text)[:300] or str(response.reason or "no message")), None, []
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("status") or error.get("code")
        reasons = [str(e.get("reason")) for e in error.get("errors") or []
                   if isinstance(e, dict) and e.get("reason")]
        message = str(error.get("message") or (reasons[0] if reasons else None)
                      or "no message")
        return _first_line(message), (str(code) if code is not None else None), reasons
    if isinstance(error, str):  # OAuth's {"error": "invalid_grant", "error_description": ...}
        return _first_line(str(body.get("error_description") or error)), error, []
    return _first_line(response.content.decode("utf-8", "replace"))[:300], None, []


def google_rate_limited(reasons: list[str]) -> bool:
    """Whether a Google error's reasons say "slow down" (retried like a 429)."""
    return bool(_RATE_LIMIT_REASONS & set(reasons))


def same_origin(url: str, root: str) -> bool:
    """Whether ``url`` is on the host of ``root`` (an access token goes nowhere else).

    >>> same_origin("https://manage.office.com/api/v1.0/t/activity/feed/audit/x",
    ...             "https://manage.office.com")
    True
    >>> same_origin("https://evil.example/x", "https://manage.office.com")
    False
    """
    a, b = urlsplit(url), urlsplit(root)
    return (a.scheme, a.netloc.lower()) == (b.scheme, b.netloc.lower())


def _retry_after(response: requests.Response, now: dt.datetime) -> float | None:
    """Seconds from ``Retry-After`` (a number, or an HTTP date), else None.

    >>> class R:
    ...     headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}
    >>> _retry_after(R(), dt.datetime(2015, 10, 21, 7, 28, tzinfo=dt.UTC))  # type: ignore
    30.0
    """
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
