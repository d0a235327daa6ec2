"""The FastAPI application: pages under ``/``, the JSON API under ``/api/v1``.

Every route declares the permission it needs with :func:`need` (``None`` for the login page
and static files); a test enumerates every route and every role against the expected matrix.
Errors become one clear line: 400 bad input, 401/403 access, 404 unknown, 413 body over
:data:`~molehunt.web.security.MAX_BODY_BYTES`, 422 malformed request, 429 too many logins;
never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from anyio import to_thread
from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi import Path as FastPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.responses import Response as FastResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from molehunt import __version__
from molehunt.cases import browse
from molehunt.cases.accounts import (
    MAX_TOKEN_DAYS,
    PERMISSIONS,
    TOKEN_DAYS,
    AccessError,
    InputError,
    NotFoundError,
    Principal,
    RateLimitError,
    login,
    logout,
)
from molehunt.cases.person_chart import person_chart
from molehunt.cases.service import ACTIVITY_PAGE, ALLOWLIST_KINDS, BANDS, WARM_PEOPLE, Console
from molehunt.cases.siem import cef_line
from molehunt.cases.store import CaseStore, default_database_url, open_store
from molehunt.errors import MolehuntError
from molehunt.safe_text import bidi_safe
from molehunt.web.readable import register as register_readable
from molehunt.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    BodyLimit,
    SecurityHeaders,
    authenticate,
    check_csrf,
    check_scope,
    new_login_csrf,
)
from molehunt.web.svg import (
    bars_svg,
    cumulative_svg,
    risk_chart_svg,
    sparkline_svg,
    timeline_svg,
)

HERE = Path(__file__).parent
#: worker threads for the sync endpoints (see create_app's lifespan)
WORKER_THREADS = 200
log = logging.getLogger("molehunt.web")


class Need:
    """A route dependency: the caller must be signed in and hold ``permission``
    (``session_only``: signed in as a person, not by an API token)."""

    def __init__(self, permission: str, session_only: bool = False) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission}")
        self.permission = permission
        self.session_only = session_only

    async def __call__(self, request: Request) -> Principal:
        """Authenticate, check CSRF on state changes, check the permission."""
        console: Console = request.app.state.console
        # the look-up may touch the database: never on the event loop, which every request
        # shares (it ran there before, and serialised all requests behind each other's I/O)
        principal = await run_in_threadpool(authenticate, console, request)
        if principal is None:
            raise AccessError("sign in first", status=401)
        submitted = None
        if request.method not in ("GET", "HEAD") and request.headers.get(
                "content-type", "").startswith(("application/x-www-form-urlencoded",
                                                "multipart/form-data")):
            form = await request.form()
            value = form.get("csrf_token")
            submitted = value if isinstance(value, str) else None
        check_csrf(principal, request, submitted)
        check_scope(principal, request)
        if self.session_only and principal.via == "token":
            raise AccessError("an API token cannot do this (e.g. create API tokens); sign in")
        console.require(principal, self.permission)
        # the address is per request, the cached principal per credential: audit entries of
        # approvals name the address each step came from
        return dataclasses.replace(principal, client=_client(request))


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def need(permission: str, session_only: bool = False) -> Any:
    """``Depends`` on :class:`Need` for ``permission``."""
    return Depends(Need(permission, session_only))


#: a signed-in person (not an API token): what only a person may do, such as minting tokens
Person = Annotated[Principal, need("self", session_only=True)]


View = Annotated[Principal, need("view")]
Triage = Annotated[Principal, need("triage")]
Admin = Annotated[Principal, need("settings_write")]
Text = Annotated[str, Form(max_length=20000)]
#: a row number in a path: the databases hold 64-bit integers, so anything larger is refused
#: as malformed (422) before it reaches a query (which would fail with an overflow)
RowId = Annotated[int, FastPath(ge=1, le=2**62)]
OptionalText = Annotated[str | None, Form(max_length=20000)]
#: the case a request for approval serves (optional; empty in a form means none)
CaseField = Annotated[str | None, Form(max_length=20)]


# -- API bodies ----------------------------------------------------------------------------
class ReasonBody(BaseModel):
    """A decision's stated reason."""

    reason: str = Field(max_length=4000)


class RevealBody(ReasonBody):
    """A reveal's stated reason and, optionally, the case it serves."""

    case_id: int | None = Field(default=None, ge=1, le=2**62)


class EventTextBody(RevealBody):
    """Reading an event's withheld text: the event id (in the body: ids may hold any
    character), its day, the reason and optionally the case."""

    event_id: str = Field(max_length=512)
    day: str = Field(max_length=10)


class DismissBody(ReasonBody):
    """A dismissal, optionally allowlisting what caused the alert."""

    allowlist_kind: str | None = Field(default=None, max_length=32)
    allowlist_value: str | None = Field(default=None, max_length=512)


class AssignBody(BaseModel):
    """Whom to assign an alert to (``null``: oneself)."""

    assignee: str | None = Field(default=None, max_length=64)


class CaseBody(BaseModel):
    """A new case from alerts."""

    alert_ids: list[str] = Field(min_length=1, max_length=100)
    title: str | None = Field(default=None, max_length=200)


class NoteBody(BaseModel):
    """A note on a case."""

    body: str = Field(max_length=20000)


class EvidenceBody(BaseModel):
    """An event attached as evidence."""

    event_id: str = Field(max_length=256)
    day: str = Field(max_length=10)
    note: str | None = Field(default=None, max_length=4000)


class StatusBody(BaseModel):
    """A case's new status."""

    status: str = Field(max_length=32)


class AllowlistBody(BaseModel):
    """A new allowlist entry (filed for a second person's approval), optionally for a case."""

    kind: str = Field(max_length=32)
    value: str = Field(max_length=512)
    reason: str = Field(max_length=4000)
    case_id: int | None = Field(default=None, ge=1, le=2**62)


class WeightBody(BaseModel):
    """A detector weight."""

    detector: str = Field(max_length=128)
    weight: float = Field(ge=0, le=5)


class AccountBody(BaseModel):
    """A new account; a privileged role (investigator, privacy officer, admin) needs a
    ``reason`` and waits for a second admin's or a privacy officer's approval."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    role: str = Field(max_length=32)
    reason: str | None = Field(default=None, max_length=4000)
    case_id: int | None = Field(default=None, ge=1, le=2**62)


class ApprovalBody(BaseModel):
    """A second person's decision on a request, with an optional reason."""

    approve: bool
    reason: str | None = Field(default=None, max_length=4000)


class TokenBody(BaseModel):
    """A new API token: its name, what it may do (``read``; ``write`` to change things too)
    and for how many days."""

    name: str = Field(max_length=128)
    scopes: list[str] = Field(default=["read"], min_length=1, max_length=2)
    days: int = Field(default=TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS)


class DecisionBody(BaseModel):
    """A privacy officer's decision on a reveal request."""

    approve: bool


class LoginBody(BaseModel):
    """Credentials."""

    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


# -- the application -----------------------------------------------------------------------
def create_app(workspace: Path, database_url: str | None = None, *,
               store: CaseStore | None = None, secure_cookies: bool = False,
               index_activity: bool = True, warm_people: int = WARM_PEOPLE) -> FastAPI:
    """The console for ``workspace`` (store at ``database_url`` or the workspace default).

    With ``index_activity`` a background thread keeps the per-person copy of the events
    (:class:`~molehunt.cases.results.ActivityIndex`) current while the console runs. At
    start another prepares the overview and the ``warm_people`` highest-risk people's pages
    (:meth:`~molehunt.cases.service.Console.warm_up`; 0: none).
    """
    store = store or open_store(database_url or default_database_url(Path(workspace)))
    console = Console(Path(workspace), store)
    console.import_alerts()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if index_activity:
            console.results.start_indexing()
        # a worker thread per waiting request (anyio's default is 40): a cheap request, such
        # as a cached overview, should not queue behind forty slow ones for a thread; the
        # slow part (DuckDB) is limited separately, to a few queries at a time
        to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        if warm_people > 0:
            console.start_warm_up(warm_people)
        yield
        await run_in_threadpool(console.close)

    app = FastAPI(title="molehunt console API", version=__version__,
                  description="Pseudonymous insider-risk leads, alerts, cases and audit.",
                  openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.console = console
    app.state.secure_cookies = secure_cookies
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so a 413 has the headers too
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    # every value a page renders passes here first: log strings cannot reorder the text
    # around them with bidirectional control characters
    templates.env.finalize = _bidi_finalize
    templates.env.globals.update(sparkline=sparkline_svg, bars=bars_svg, timeline=timeline_svg,
                                 bands=BANDS, allowlist_kinds=ALLOWLIST_KINDS,
                                 version=__version__)
    register_readable(templates)
    templates.env.globals.update(risk_chart=risk_chart_svg, cumulative=cumulative_svg)
    _errors(app, templates)
    _api(app, console)
    _pages(app, console, templates)
    _api_docs(app, templates)
    return app


def _api_docs(app: FastAPI, templates: Jinja2Templates) -> None:
    """``/api/v1/docs``: the vendored Swagger UI (static/vendor), started by a script file.

    FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script; the
    console's CSP blocks both, so the page stayed blank.
    """

    @app.get("/api/v1/docs", include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "api_docs.html",
                                          {"openapi_url": app.openapi_url})


def server_options(forwarded_allow_ips: str = "") -> dict[str, Any]:
    """uvicorn's options for the client address: trust no proxy unless one is named.

    uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 by default, so anything on the
    machine could claim any address and dodge the per-address login limit or write a false
    address into the audit log. Here the header is read only from the proxies listed in
    ``forwarded_allow_ips`` (``molehunt serve --forwarded-allow-ips``).

    >>> server_options()
    {'proxy_headers': False, 'forwarded_allow_ips': ''}
    >>> server_options("10.0.0.5")["proxy_headers"]
    True
    """
    trusted = ",".join(p.strip() for p in forwarded_allow_ips.split(",") if p.strip())
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}


def _bidi_finalize(value: Any) -> Any:
    """Jinja's ``finalize`` hook: text with its bidi controls shown as ``[U+XXXX]``."""
    return bidi_safe(value) if isinstance(value, str) else value


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _errors(app: FastAPI, templates: Jinja2Templates) -> None:
    def respond(request: Request, status: int, message: str) -> FastResponse:
        if _is_api(request):
            return JSONResponse({"error": message}, status_code=status)
        if status == 401:
            return RedirectResponse("/login", status_code=303)
        return templates.TemplateResponse(request, "error.html",
                                          {"status": status, "message": message,
                                           "principal": None}, status_code=status)

    @app.exception_handler(AccessError)
    async def access(request: Request, error: AccessError) -> FastResponse:
        return respond(request, error.status, str(error))

    @app.exception_handler(RateLimitError)
    async def limited(request: Request, error: RateLimitError) -> FastResponse:
        return respond(request, 429, str(error))

    @app.exception_handler(NotFoundError)
    async def missing(request: Request, error: NotFoundError) -> FastResponse:
        return respond(request, 404, str(error))

    @app.exception_handler(MolehuntError)
    async def bad_input(request: Request, error: MolehuntError) -> FastResponse:
        return respond(request, 400, str(error))

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, error: RequestValidationError) -> FastResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return respond(request, 422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> FastResponse:
        return respond(request, error.status_code, str(error.detail))

    @app.exception_handler(sa.exc.DataError)
    async def unstorable(request: Request, error: sa.exc.DataError) -> FastResponse:
        # the database refused a value (PostgreSQL: a NUL character in a text); bad input
        log.info("refused value on %s %s: %s", request.method, request.url.path, error.orig)
        return respond(request, 400, "a value in the request cannot be stored"
                                     " (control characters such as NUL are not allowed)")

    @app.exception_handler(Exception)
    async def crashed(request: Request, error: Exception) -> FastResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return respond(request, 500, f"internal error ({type(error).__name__}); see the log")


# -- JSON API ------------------------------------------------------------------------------
def _api(app: FastAPI, console: Console) -> None:
    p = "/api/v1"

    @app.post(f"{p}/login", tags=["access"])
    def api_login(body: LoginBody, request: Request) -> JSONResponse:
        """Sign in; sets the session cookie and returns the CSRF token for state changes."""
        client = request.client.host if request.client else "unknown"
        account, token, csrf = login(console.store, body.username, body.password, client)
        principal = Principal(account.id, account.username, account.role, csrf)
        console.record(principal, "login", account.username, via="api")
        response = JSONResponse({"username": account.username, "role": account.role,
                                 "csrf_token": csrf})
        _set_session(app, response, token)
        return response

    @app.get(f"{p}/me", tags=["access"])
    def api_me(principal: Annotated[Principal, need("self")]) -> dict[str, Any]:
        """Who is signed in, and what the role may do."""
        return {"username": principal.username, "role": principal.role,
                "permissions": sorted(k for k in PERMISSIONS if principal.can(k))}

    @app.post(f"{p}/tokens", tags=["access"])
    def api_token(body: TokenBody, principal: Person) -> dict[str, str]:
        """Create an API token acting as the caller (shown once; signed-in callers only, not
        another token). Read-only unless ``scopes`` holds ``write``; expires after ``days``."""
        return {"token": console.create_token(principal, body.name, body.scopes, body.days)}

    @app.get(f"{p}/tokens", tags=["access"])
    def api_tokens(principal: Annotated[Principal, need("self")]) -> list[dict[str, Any]]:
        """API tokens: the caller's own (an admin's: everyone's)."""
        return console.tokens(principal)

    @app.post(f"{p}/tokens/{{token_id}}/revoke", tags=["access"])
    def api_revoke_token(token_id: RowId, principal: Annotated[Principal, need("self")]
                         ) -> dict[str, str]:
        """Revoke an API token (one's own; an admin: any). Refused from the next request on."""
        console.revoke_token(principal, token_id)
        return {"status": "revoked"}

    @app.get(f"{p}/overview", tags=["leads"])
    def api_overview(principal: View) -> dict[str, Any]:
        """Risk distribution, highest-risk people with trend, new alerts, alert load."""
        return console.overview(principal)

    @app.get(f"{p}/people/{{person}}", tags=["leads"])
    def api_person(person: str, principal: View,
                   channel: Annotated[str | None, Query(max_length=32)] = None,
                   first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                   last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
                   page: Annotated[int, Query(ge=1, le=100_000)] = 1,
                   page_size: Annotated[int, Query(ge=1, le=1000)] = ACTIVITY_PAGE
                   ) -> dict[str, Any]:
        """One person (by pseudonym): risk timeline, findings, evidence, activity, ledger.

        The activity timeline is paged: ``page`` (from 1) of ``page_size`` events, newest
        first; ``activity.total`` and ``activity.pages`` say how many there are.
        """
        return console.person(principal, person, channel, first, last, page, page_size)

    @app.get(f"{p}/people/{{person}}/chart", tags=["leads"])
    def api_person_chart(person: str, principal: View,
                         first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                         last: Annotated[str | None, Query(alias="to", max_length=10)] = None
                         ) -> dict[str, Any]:
        """One person's risk chart: risk per day, the peer band (25th-90th percentile of the
        role's, else the department's, else everyone's risk, whichever the console shows),
        finding and alert markers, cumulative data leaving per channel, and the largest
        destinations of the days ``from``-``to`` (both or neither; default the last 30 days
        of the person's risk)."""
        window = browse.day_window(first, last)
        return person_chart(console, principal, person, window=window)

    @app.post(f"{p}/people/{{person}}/reveal", tags=["privacy"])
    def api_reveal(person: str, body: RevealBody,
                   principal: Annotated[Principal, need("reveal")]) -> dict[str, Any]:
        """Reveal who a pseudonym is (investigators, with a reason and optionally the case it
        serves; audited with the client address)."""
        return console.reveal(principal, person, body.reason, body.case_id)

    @app.post(f"{p}/people/{{person}}/event-text", tags=["privacy"])
    def api_event_text(person: str, body: EventTextBody,
                       principal: Annotated[Principal, need("reveal")]) -> dict[str, Any]:
        """The free text the console withholds from one of a person's events (investigators,
        with a reason and optionally the case it serves; audited with the client address)."""
        return console.event_text(principal, person, body.event_id, body.day, body.reason,
                                  body.case_id)

    @app.get(f"{p}/reveal-requests", tags=["privacy"])
    def api_reveal_requests(principal: Annotated[Principal, need("approve_reveal")]
                            ) -> list[dict[str, Any]]:
        """Pending reveal requests."""
        return console.reveal_requests(principal)

    @app.post(f"{p}/reveal-requests/{{request_id}}", tags=["privacy"])
    def api_decide_reveal(request_id: RowId, body: DecisionBody,
                          principal: Annotated[Principal, need("approve_reveal")]
                          ) -> dict[str, str]:
        """Approve or deny a reveal request."""
        console.decide_reveal(principal, request_id, body.approve)
        return {"status": "approved" if body.approve else "denied"}

    @app.get(f"{p}/alerts", tags=["alerts"])
    def api_alerts(principal: View,
                   state: Annotated[str | None, Query(max_length=16)] = None,
                   band: Annotated[str | None, Query(max_length=16)] = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                   offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
                   sort: Annotated[str | None, Query(max_length=16)] = None,
                   order: Annotated[str | None, Query(max_length=4)] = None) -> dict[str, Any]:
        """The alert queue, highest risk first unless ``sort`` names a column (``alert``,
        ``opened``, ``last``, ``peak``, ``band``, ``state``; ``order`` ``asc``/``desc``)."""
        alerts, total, _, _ = browse.alert_rows(console, principal, state or None, band or None,
                                                sort or None, order or None, limit, offset)
        return {"total": total, "alerts": alerts}

    @app.post(f"{p}/alerts/import", tags=["alerts"])
    def api_import(principal: Triage) -> dict[str, int]:
        """Import the detection core's ``results/alerts.parquet`` (idempotent)."""
        return console.import_alerts()

    @app.get(f"{p}/alerts/{{alert_id}}", tags=["alerts"])
    def api_alert(alert_id: str, principal: View) -> dict[str, Any]:
        """One alert with its findings and evidence."""
        return console.alert(principal, alert_id)

    @app.post(f"{p}/alerts/{{alert_id}}/assign", tags=["alerts"])
    def api_assign(alert_id: str, body: AssignBody, principal: Triage) -> dict[str, str]:
        """Assign an alert."""
        console.assign(principal, alert_id, body.assignee)
        return {"state": "assigned"}

    @app.post(f"{p}/alerts/{{alert_id}}/confirm", tags=["alerts"])
    def api_confirm(alert_id: str, body: ReasonBody, principal: Triage) -> dict[str, str]:
        """Confirm an alert with a reason."""
        console.confirm(principal, alert_id, body.reason)
        return {"state": "confirmed"}

    @app.post(f"{p}/alerts/{{alert_id}}/dismiss", tags=["alerts"])
    def api_dismiss(alert_id: str, body: DismissBody, principal: Triage) -> dict[str, Any]:
        """Dismiss an alert with a reason (optionally allowlisting its cause).

        ``allowlist`` says ``added``, or ``pending`` with the ``approval`` request's id when
        the value is beyond the alert's own evidence and waits for a second person.
        """
        return console.dismiss(principal, alert_id, body.reason, body.allowlist_kind,
                               body.allowlist_value)

    @app.get(f"{p}/cases", tags=["cases"])
    def api_cases(principal: View) -> list[dict[str, Any]]:
        """Every case."""
        return console.cases(principal)

    @app.post(f"{p}/cases", tags=["cases"])
    def api_open_case(body: CaseBody, principal: Triage) -> dict[str, int]:
        """Open a case from alerts."""
        return {"id": console.open_case(principal, body.alert_ids, body.title)}

    @app.get(f"{p}/cases/{{case_id}}", tags=["cases"])
    def api_case(case_id: RowId, principal: View) -> dict[str, Any]:
        """One case with alerts, notes and evidence."""
        return console.case(principal, case_id)

    @app.post(f"{p}/cases/{{case_id}}/notes", tags=["cases"])
    def api_note(case_id: RowId, body: NoteBody, principal: Triage) -> dict[str, str]:
        """Write a note on a case."""
        console.add_note(principal, case_id, body.body)
        return {"status": "ok"}

    @app.post(f"{p}/cases/{{case_id}}/evidence", tags=["cases"])
    def api_evidence(case_id: RowId, body: EvidenceBody, principal: Triage) -> dict[str, str]:
        """Attach an event as evidence."""
        console.add_evidence(principal, case_id, body.event_id, body.day, body.note)
        return {"status": "ok"}

    @app.post(f"{p}/cases/{{case_id}}/status", tags=["cases"])
    def api_case_status(case_id: RowId, body: StatusBody, principal: Triage) -> dict[str, str]:
        """Change a case's status."""
        console.set_case_status(principal, case_id, body.status)
        return {"status": body.status}

    @app.get(f"{p}/cases/{{case_id}}/bundle", tags=["cases"],
             response_class=FastResponse, responses={200: {"content": {"application/zip": {}}}})
    def api_bundle(case_id: RowId, principal: Annotated[Principal, need("export_evidence")]
                   ) -> FastResponse:
        """The case's evidence bundle: a zip with a chained SHA-256 manifest."""
        data, head = console.export_bundle(principal, case_id)
        return _zip(case_id, data, head)

    @app.get(f"{p}/audit", tags=["audit"])
    def api_audit(principal: Annotated[Principal, need("audit")],
                  limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                  before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                  after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                  actor: Annotated[str | None, Query(max_length=64)] = None,
                  action: Annotated[str | None, Query(max_length=64)] = None,
                  first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                  last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
                  case: Annotated[int | None, Query(ge=1, le=2**62)] = None
                  ) -> dict[str, Any]:
        """Audit entries, newest first, and the chain's verification.

        Filters: ``actor`` (user name), ``action`` (``case.view``, or ``case`` for every
        ``case.*``), ``from``/``to`` (UTC days, both included), ``case`` (the case and its
        alerts). Pages: ``before`` (entries older than that number) or ``after`` (newer);
        ``has_older``/``has_newer`` say whether there are more.
        """
        return browse.audit_entries(console, principal, actor or None, action or None,
                                    first or None, last or None, case, before, after, limit)

    @app.get(f"{p}/people", tags=["leads"])
    def api_people(principal: View,
                   query: Annotated[str | None, Query(alias="q", max_length=100)] = None,
                   band: Annotated[str | None, Query(max_length=16)] = None,
                   sort: Annotated[str | None, Query(max_length=16)] = None,
                   order: Annotated[str | None, Query(max_length=4)] = None,
                   page: Annotated[int, Query(ge=1, le=browse.MAX_PAGE)] = 1,
                   page_size: Annotated[int, Query(ge=1, le=browse.MAX_PAGE_SIZE)
                                        ] = browse.PAGE_SIZE) -> dict[str, Any]:
        """People by pseudonym with their latest risk, band and alerts: ``q`` searches the
        pseudonym and the role and department where at least ``console_min_group`` people
        share them (never names); ``sort`` by ``person``, ``risk``, ``band``, ``role``,
        ``department``, ``open_alerts`` or ``alerts``, ``order`` ``asc``/``desc``; paged."""
        return browse.people(console, principal, query, band or None, sort or None,
                             order or None, page, page_size)

    @app.get(f"{p}/settings", tags=["settings"])
    def api_settings(principal: Annotated[Principal, need("settings_read")]) -> dict[str, Any]:
        """Allowlists, detector weights, console settings (accounts for admins)."""
        return console.settings(principal)

    @app.post(f"{p}/settings/allowlist", tags=["settings"])
    def api_allowlist(body: AllowlistBody,
                      principal: Annotated[Principal, need("settings_write")]) -> dict[str, Any]:
        """Ask for an allowlist entry: ``pending`` until a second person approves it."""
        return console.add_allowlist(principal, body.kind, body.value, body.reason,
                                     body.case_id)

    @app.post(f"{p}/settings/weights", tags=["settings"])
    def api_weight(body: WeightBody,
                   principal: Annotated[Principal, need("settings_write")]) -> dict[str, str]:
        """Set a detector's weight."""
        console.set_weight(principal, body.detector, body.weight)
        return {"status": "ok"}

    @app.post(f"{p}/accounts", tags=["settings"])
    def api_account(body: AccountBody,
                    principal: Annotated[Principal, need("accounts")]) -> dict[str, Any]:
        """Create an account: ``done``, or ``pending`` with the ``approval`` request's id for
        a privileged role."""
        return console.create_account(principal, body.username, body.password, body.role,
                                      body.reason, body.case_id)

    @app.get(f"{p}/approvals", tags=["settings"])
    def api_approvals(principal: Annotated[Principal, need("settings_read")]
                      ) -> dict[str, Any]:
        """Requests waiting for a second person: those the caller may decide, and the
        caller's own."""
        return console.approvals(principal)

    @app.post(f"{p}/approvals/{{request_id}}", tags=["settings"])
    def api_decide(request_id: RowId, body: ApprovalBody,
                   principal: Annotated[Principal, need("settings_read")]) -> dict[str, Any]:
        """Approve (which applies the change) or deny a request someone else filed."""
        return console.decide(principal, request_id, body.approve, body.reason)

    @app.get(f"{p}/exports/alerts.json", tags=["exports"])
    def api_export_json(principal: Annotated[Principal, need("siem")],
                        since: Annotated[str | None, Query(max_length=10)] = None
                        ) -> dict[str, Any]:
        """Alerts for a SIEM, as JSON (pseudonymous)."""
        return {"source": "molehunt", "alerts": console.siem_alerts(principal, since)}

    @app.get(f"{p}/exports/alerts.cef", tags=["exports"], response_class=PlainTextResponse)
    def api_export_cef(principal: Annotated[Principal, need("siem")],
                       since: Annotated[str | None, Query(max_length=10)] = None) -> str:
        """Alerts for a SIEM, one CEF record per line."""
        return "".join(cef_line(a) + "\n" for a in console.siem_alerts(principal, since))


def _case_id(text: str | None) -> int | None:
    """The case a form names (empty: none); one-line error for anything but a number.

    >>> _case_id(""), _case_id(" 12 ")
    (None, 12)
    """
    cleaned = (text or "").strip().removeprefix("#")
    if not cleaned:
        return None
    if not (cleaned.isascii() and cleaned.isdigit()) or not 1 <= int(cleaned) <= 2**62:
        raise InputError("case must be a case number")
    return int(cleaned)


def _zip(case_id: int, data: bytes, head: str) -> FastResponse:
    return FastResponse(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="case-{case_id}-evidence.zip"',
        "X-Chain-Head": head})


def _set_session(app: FastAPI, response: FastResponse, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                        secure=bool(app.state.secure_cookies), path="/",
                        max_age=8 * 3600)


# -- pages ---------------------------------------------------------------------------------
def _pages(app: FastAPI, console: Console, templates: Jinja2Templates) -> None:
    def page(request: Request, name: str, principal: Principal | None, **context: Any
             ) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {
            "principal": principal, "csrf_token": principal.csrf_token if principal else "",
            "can": (lambda permission: principal is not None and principal.can(permission)),
            **context})

    def back(url: str) -> FastResponse:
        return RedirectResponse(url, status_code=303)

    def settings_view(request: Request, principal: Principal, **notices: Any) -> HTMLResponse:
        requests = console.reveal_requests(principal) if principal.can(
            "approve_reveal") else []
        data = console.settings(principal) if principal.can("settings_read") else {}
        approvals = console.approvals(principal) if principal.can("settings_read") else {}
        return page(request, "settings.html", principal, data=data,
                    reveal_requests=requests, approvals=approvals,
                    tokens=console.tokens(principal),
                    **{"new_token": None, "new_password": None, **notices})


    @app.get("/login", include_in_schema=False)
    def login_page(request: Request) -> HTMLResponse:
        token = new_login_csrf()
        response = page(request, "login.html", None, login_csrf=token, error=None)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=bool(app.state.secure_cookies), path="/login")
        return response

    @app.post("/login", include_in_schema=False)
    def login_submit(request: Request, username: Annotated[str, Form(max_length=64)],
                     password: Annotated[str, Form(max_length=256)],
                     csrf_token: Annotated[str, Form(max_length=64)]) -> FastResponse:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or csrf_token != expected:
            raise AccessError("the login form expired; reload the page")
        client = request.client.host if request.client else "unknown"
        try:
            account, token, csrf = login(console.store, username, password, client)
        except (AccessError, RateLimitError) as error:
            fresh = new_login_csrf()
            failed = page(request, "login.html", None, login_csrf=fresh, error=str(error))
            failed.status_code = 429 if isinstance(error, RateLimitError) else 401
            failed.set_cookie(LOGIN_CSRF_COOKIE, fresh, httponly=True, samesite="strict",
                              secure=bool(app.state.secure_cookies), path="/login")
            return failed
        principal = Principal(account.id, account.username, account.role, csrf)
        console.record(principal, "login", account.username, via="page")
        landing = "/" if principal.can("view") else (
            "/audit" if principal.can("audit") else "/settings")
        response = back(landing)
        _set_session(app, response, token)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout_submit(request: Request, principal: Annotated[Principal, need("self")]
                      ) -> FastResponse:
        with console.store.transaction() as session:
            logout(session, request.cookies.get(SESSION_COOKIE, ""))
        console.principals.clear()
        console.record(principal, "logout", principal.username)
        response = back("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/", include_in_schema=False)
    def overview_page(request: Request, principal: View) -> HTMLResponse:
        return page(request, "overview.html", principal, data=console.overview(principal))

    @app.get("/people/{person}", include_in_schema=False)
    def person_page(request: Request, person: str, principal: View,
                    channel: Annotated[str | None, Query(max_length=32)] = None,
                    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
                    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1
                    ) -> HTMLResponse:
        data = console.person(principal, person, channel or None, first or None, last or None,
                              number)
        # the look was audited by console.person just above
        window = (dt.date.fromisoformat(data["activity"]["from"]),
                  dt.date.fromisoformat(data["activity"]["to"]))
        chart = person_chart(console, principal, person, audited=False, window=window)
        return page(request, "person.html", principal, data=data,
                    channels=console.results.channels(), revealed=None, chart=chart)

    @app.post("/people/{person}/reveal", include_in_schema=False)
    def reveal_submit(request: Request, person: str, reason: Text,
                      principal: Annotated[Principal, need("reveal")],
                      case: CaseField = None) -> HTMLResponse:
        revealed = console.reveal(principal, person, reason, _case_id(case))
        return page(request, "reveal.html", principal, revealed=revealed)

    @app.post("/people/{person}/event-text", include_in_schema=False)
    def event_text_submit(request: Request, person: str, event_id: Text, day: Text,
                          reason: Text, principal: Annotated[Principal, need("reveal")],
                          case: CaseField = None) -> HTMLResponse:
        text = console.event_text(principal, person, event_id, day, reason, _case_id(case))
        return page(request, "event_text.html", principal, text=text)

    @app.get("/alerts", include_in_schema=False)
    def alerts_page(request: Request, principal: View,
                    state: Annotated[str | None, Query(max_length=16)] = None,
                    band: Annotated[str | None, Query(max_length=16)] = None,
                    sort: Annotated[str | None, Query(max_length=16)] = None,
                    order: Annotated[str | None, Query(max_length=4)] = None,
                    number: Annotated[int, Query(alias="page", ge=1, le=browse.MAX_PAGE)] = 1,
                    size: Annotated[int, Query(alias="page_size", ge=1,
                                               le=browse.MAX_PAGE_SIZE)] = browse.PAGE_SIZE
                    ) -> HTMLResponse:
        data = browse.alert_queue(principal=principal, console=console, state=state or None,
                                  band=band or None, sort=sort or None, order=order or None,
                                  page=number, page_size=size)
        return page(request, "alerts.html", principal, data=data, state=state, band=band)

    @app.get("/alerts/{alert_id}", include_in_schema=False)
    def alert_page(request: Request, alert_id: str, principal: View) -> HTMLResponse:
        return page(request, "alert.html", principal, alert=console.alert(principal, alert_id))

    @app.post("/alerts/{alert_id}/assign", include_in_schema=False)
    def assign_submit(alert_id: str, principal: Triage,
                      assignee: OptionalText = None) -> FastResponse:
        console.assign(principal, alert_id, assignee or None)
        return back(f"/alerts/{alert_id}")

    @app.post("/alerts/{alert_id}/confirm", include_in_schema=False)
    def confirm_submit(alert_id: str, reason: Text, principal: Triage) -> FastResponse:
        console.confirm(principal, alert_id, reason)
        return back(f"/alerts/{alert_id}")

    @app.post("/alerts/{alert_id}/dismiss", include_in_schema=False)
    def dismiss_submit(alert_id: str, reason: Text, principal: Triage,
                       allowlist_kind: OptionalText = None,
                       allowlist_value: OptionalText = None) -> FastResponse:
        answer = console.dismiss(principal, alert_id, reason, allowlist_kind or None,
                                 allowlist_value or None)
        # an allowlist waiting for a second person is shown under "your requests"
        return back("/settings#approvals" if answer.get("allowlist") == "pending"
                    else f"/alerts/{alert_id}")

    @app.post("/alerts/{alert_id}/case", include_in_schema=False)
    def case_from_alert(alert_id: str, principal: Triage,
                        title: OptionalText = None) -> FastResponse:
        return back(f"/cases/{console.open_case(principal, [alert_id], title)}")

    @app.get("/cases", include_in_schema=False)
    def cases_page(request: Request, principal: View,
                   status: Annotated[str | None, Query(max_length=32)] = None,
                   sort: Annotated[str | None, Query(max_length=16)] = None,
                   order: Annotated[str | None, Query(max_length=4)] = None,
                   number: Annotated[int, Query(alias="page", ge=1, le=browse.MAX_PAGE)] = 1
                   ) -> HTMLResponse:
        return page(request, "cases.html", principal, data=browse.case_list(
            console, principal, status or None, sort or None, order or None, number))

    @app.get("/cases/{case_id}", include_in_schema=False)
    def case_page(request: Request, case_id: RowId, principal: View) -> HTMLResponse:
        return page(request, "case.html", principal, case=console.case(principal, case_id),
                    today=dt.date.today().isoformat())

    @app.post("/cases/{case_id}/notes", include_in_schema=False)
    def note_submit(case_id: RowId, body: Text, principal: Triage) -> FastResponse:
        console.add_note(principal, case_id, body)
        return back(f"/cases/{case_id}")

    @app.post("/cases/{case_id}/evidence", include_in_schema=False)
    def evidence_submit(case_id: RowId, principal: Triage,
                        event_id: Annotated[str, Form(max_length=256)],
                        day: Annotated[str, Form(max_length=10)],
                        note: OptionalText = None) -> FastResponse:
        console.add_evidence(principal, case_id, event_id, day, note)
        return back(f"/cases/{case_id}")

    @app.post("/cases/{case_id}/status", include_in_schema=False)
    def status_submit(case_id: RowId, principal: Triage,
                      status: Annotated[str, Form(max_length=32)]) -> FastResponse:
        console.set_case_status(principal, case_id, status)
        return back(f"/cases/{case_id}")

    @app.get("/cases/{case_id}/bundle.zip", include_in_schema=False)
    def bundle_download(case_id: RowId, principal: Annotated[Principal, need("export_evidence")]
                        ) -> FastResponse:
        data, head = console.export_bundle(principal, case_id)
        return _zip(case_id, data, head)

    @app.get("/audit", include_in_schema=False)
    def audit_page(request: Request, principal: Annotated[Principal, need("audit")],
                   before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                   after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                   actor: Annotated[str | None, Query(max_length=64)] = None,
                   action: Annotated[str | None, Query(max_length=64)] = None,
                   first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
                   last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
                   case: Annotated[str | None, Query(max_length=20)] = None
                   ) -> HTMLResponse:
        # the filter form sends an empty case box as ``case=``: a text, read here
        return page(request, "audit.html", principal, data=browse.audit_entries(
            console, principal, actor or None, action or None, first or None, last or None,
            browse.case_number(case), before, after))

    @app.get("/people", include_in_schema=False)
    def people_page(request: Request, principal: View,
                    query: Annotated[str | None, Query(alias="q", max_length=100)] = None,
                    band: Annotated[str | None, Query(max_length=16)] = None,
                    sort: Annotated[str | None, Query(max_length=16)] = None,
                    order: Annotated[str | None, Query(max_length=4)] = None,
                    number: Annotated[int, Query(alias="page", ge=1, le=browse.MAX_PAGE)] = 1,
                    size: Annotated[int, Query(alias="page_size", ge=1,
                                               le=browse.MAX_PAGE_SIZE)] = browse.PAGE_SIZE
                    ) -> HTMLResponse:
        return page(request, "people.html", principal, data=browse.people(
            console, principal, query, band or None, sort or None, order or None, number, size))

    @app.get("/settings", include_in_schema=False)
    def settings_page(request: Request, principal: Annotated[Principal, need("settings_read")]
                      ) -> HTMLResponse:
        return settings_view(request, principal)

    @app.post("/settings/allowlist", include_in_schema=False)
    def allowlist_submit(principal: Admin, kind: Annotated[str, Form(max_length=32)],
                         value: Annotated[str, Form(max_length=512)],
                         reason: Text, case: CaseField = None) -> FastResponse:
        console.add_allowlist(principal, kind, value, reason, _case_id(case))
        return back("/settings#approvals")

    @app.post("/settings/allowlist/{entry_id}/delete", include_in_schema=False)
    def allowlist_delete(entry_id: RowId, principal: Admin) -> FastResponse:
        console.remove_allowlist(principal, entry_id)
        return back("/settings")

    @app.post("/settings/weights", include_in_schema=False)
    def weight_submit(principal: Admin, detector: Annotated[str, Form(max_length=128)],
                      weight: Annotated[float, Form(ge=0, le=5)]) -> FastResponse:
        console.set_weight(principal, detector, weight)
        return back("/settings")

    @app.post("/settings/reveal-approval", include_in_schema=False)
    def approval_submit(principal: Admin,
                        required: Annotated[str, Form(max_length=8)] = "",
                        reason: OptionalText = None, case: CaseField = None) -> FastResponse:
        answer = console.set_reveal_approval(principal, required == "on", reason,
                                             _case_id(case))
        return back("/settings#approvals" if answer["status"] == "pending" else "/settings")

    @app.post("/settings/accounts", include_in_schema=False)
    def account_submit(principal: Annotated[Principal, need("accounts")],
                       username: Annotated[str, Form(max_length=64)],
                       password: Annotated[str, Form(max_length=256)],
                       role: Annotated[str, Form(max_length=32)],
                       reason: OptionalText = None, case: CaseField = None) -> FastResponse:
        answer = console.create_account(principal, username, password, role, reason,
                                        _case_id(case))
        return back("/settings#approvals" if answer["status"] == "pending" else "/settings")

    @app.post("/settings/accounts/{username}", include_in_schema=False)
    def account_update(username: str, principal: Annotated[Principal, need("accounts")],
                       role: Annotated[str | None, Form(max_length=32)] = None,
                       active: Annotated[str | None, Form(max_length=8)] = None,
                       reason: OptionalText = None, case: CaseField = None
                       ) -> FastResponse:
        answer = console.update_account(principal, username, role or None,
                                        None if active is None else active == "yes",
                                        reason, _case_id(case))
        return back("/settings#approvals" if answer["status"] == "pending" else "/settings")

    @app.post("/settings/approvals/{request_id}", include_in_schema=False)
    def approval_decision(request: Request, request_id: RowId,
                          principal: Annotated[Principal, need("settings_read")],
                          decision: Annotated[str, Form(max_length=8)],
                          reason: OptionalText = None) -> FastResponse:
        answer = console.decide(principal, request_id, decision == "approve", reason)
        if "password" in answer:  # an approved password reset: shown once, to the approver
            return settings_view(request, principal, new_password=answer["password"])
        return back("/settings#approvals")

    @app.post("/settings/tokens", include_in_schema=False)
    def token_submit(request: Request, principal: Person,
                     name: Annotated[str, Form(max_length=128)],
                     write: Annotated[str | None, Form(max_length=8)] = None,
                     days: Annotated[int, Form(ge=1, le=MAX_TOKEN_DAYS)] = TOKEN_DAYS
                     ) -> HTMLResponse:
        token = console.create_token(principal, name,
                                     ("read", "write") if write == "on" else ("read",), days)
        return settings_view(request, principal, new_token=token)

    @app.post("/settings/tokens/{token_id}/revoke", include_in_schema=False)
    def token_revoke(token_id: RowId, principal: Annotated[Principal, need("self")]
                     ) -> FastResponse:
        console.revoke_token(principal, token_id)
        return back("/settings")

    @app.post("/settings/reveals/{request_id}", include_in_schema=False)
    def reveal_decision(request_id: RowId,
                        principal: Annotated[Principal, need("approve_reveal")],
                        decision: Annotated[str, Form(max_length=8)]) -> FastResponse:
        console.decide_reveal(principal, request_id, decision == "approve")
        return back("/settings")
