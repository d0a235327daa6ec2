"""``molehunt pull gworkspace``: the Admin SDK Reports API into raw files.

How it goes (Google's reference of ``activities.list``):

1. A token for the scope ``https://www.googleapis.com/auth/admin.reports.audit.readonly``
   from the service account's key (google-auth), acting as ``delegated_admin`` through
   domain-wide delegation (Admin console → Security → API controls → Domain-wide
   delegation: the service account's client id with that scope). The token endpoint is the
   key file's ``token_uri``.
2. Per application (drive, login, token, gmail) and window (24 hours unless
   ``window_hours`` says less): ``GET /admin/reports/v1/activity/users/all/applications/
   {application}?startTime&endTime&maxResults`` following ``nextPageToken`` until a page has
   none. A run pulls up to ``lag_minutes`` before now: Google makes activities available with
   a lag (minutes to a few hours, by application), and a window pulled before its activities
   arrived would stay incomplete.
3. Each page with ``items`` is one line of the window's file ``<folder>/<application>/
   <YYYY-MM-DD>/<application>_<start>_<end>.json`` (as it came, apart from its line breaks),
   which :mod:`molehunt.sources.google_workspace` reads as pages, one per line. A window
   without activities leaves no file.

Checkpoint (``<folder>/.molehunt-pull-gworkspace.state``): per application, the end of the
last window in the folder; a run goes on from there. Google does not say whether ``endTime``
is inclusive, so windows meet at their ends: an activity exactly on a boundary may come in
both windows, and the ingest stores it once (the event id is derived from the activity's
application, time and unique qualifier). See :mod:`molehunt.collect._state` for why an
interrupted run never loses or skips a window.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import requests
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from molehunt.collect._http import (
    ApiClient,
    error_body,
    google_rate_limited,
    session_for,
)
from molehunt.collect._run import (
    ProgressFn,
    PullResult,
    ReportFn,
    StreamResult,
    advance,
    no_progress,
    no_report,
    plan,
    utc_now,
)
from molehunt.collect._state import (
    Checkpoint,
    WindowFile,
    folder_lock,
    one_line,
    utc_text,
    windows,
)
from molehunt.collect.settings import GWorkspacePullSettings
from molehunt.errors import ConfigError, PullError

#: The read-only scope of the Reports API's activity reports.
SCOPE = "https://www.googleapis.com/auth/admin.reports.audit.readonly"
#: How far back the API keeps activities.
KEEPS = dt.timedelta(days=180)
_MARGIN = dt.timedelta(minutes=10)
_PAGE_KIND = "admin#reports#activities"


class GoogleTokens:
    """Tokens of the service account acting as the delegated admin (google-auth)."""

    def __init__(self, settings: GWorkspacePullSettings, session: requests.Session) -> None:
        path = settings.credentials_file
        try:
            load = service_account.Credentials.from_service_account_file
            self._credentials = load(  # type: ignore[no-untyped-call]
                str(path), scopes=[SCOPE], subject=settings.delegated_admin)
        except FileNotFoundError:
            raise ConfigError("the service account's key file (credentials_file) does not"
                              " exist", where=str(path)) from None
        except (OSError, ValueError, KeyError) as error:
            raise ConfigError(f"not a service account key file (JSON with client_email,"
                              f" private_key, token_uri): {_short(error)}",
                              where=str(path)) from None
        self._request = Request(session)
        self._admin = settings.delegated_admin

    def token(self, fresh: bool) -> str:
        """An access token (refreshed when expired, or when ``fresh``)."""
        if fresh or not self._credentials.valid:
            try:
                self._credentials.refresh(self._request)
            except RefreshError as error:
                # google-auth's message is its first argument (the second is the response)
                said = error.args[0] if error.args and isinstance(error.args[0], str) else error
                raise PullError(
                    f"Google refused the service account's token request ({_short(said)}):"
                    f" check the key, that domain-wide delegation grants the client id the"
                    f" scope {SCOPE}, and that {self._admin} is an administrator") from None
            except (TransportError, GoogleAuthError) as error:
                raise PullError(f"cannot get a token from Google: {_short(error)}") from None
        token = self._credentials.token
        if not isinstance(token, str) or not token:
            raise PullError("Google's token endpoint answered without an access token")
        return token


def pull_gworkspace(settings: GWorkspacePullSettings, folder: Path, *,
                    start: dt.datetime | None = None, end: dt.datetime | None = None,
                    applications: Sequence[str] | None = None,
                    report: ReportFn = no_report, progress: ProgressFn = no_progress,
                    now: Callable[[], dt.datetime] = utc_now,
                    sleep: Callable[[float], None] = time.sleep) -> PullResult:
    """Pull the configured applications' activities into ``folder`` (see the module
    docstring). ``start``/``end`` (``--from``/``--to``) override the checkpoint; ``now`` and
    ``sleep`` are the clock and the wait between retries (tests pass their own)."""
    chosen = tuple(applications or settings.applications)
    result = PullResult("gworkspace", folder)
    with folder_lock(folder, "gworkspace"):
        # the customer is the account (the admin it acts as may change); unset, the API
        # takes the admin's own
        checkpoint = Checkpoint.load(folder, "gworkspace", {
            "customer_id": settings.customer_id or "", "api_url": settings.api_url})
        session = session_for(settings.connection)
        try:
            api = ApiClient(session, GoogleTokens(settings, session), settings.connection,
                            _explain, sleep, now, report)
            moment = now()
            for application in chosen:
                stream = checkpoint.stream(application)
                done = StreamResult(application)
                result.streams.append(done)
                first, last = plan(stream, application, start, end, moment,
                                   earliest=moment - KEEPS + _MARGIN,
                                   latest=moment - dt.timedelta(minutes=settings.lag_minutes),
                                   rewind=dt.timedelta(0),
                                   initial=dt.timedelta(days=settings.initial_days),
                                   keeps="180 days", notes=result.notes)
                done.start, done.end = first, last
                for window_start, window_end in windows(first, last, settings.window_hours):
                    _pull_window(api, settings, folder, application, window_start, window_end,
                                 done, report, progress)
                    advance(stream, window_start, window_end)
                    checkpoint.save()
                    done.windows += 1
                done.done_until = stream.done_until
        finally:
            session.close()
    return result


def _pull_window(api: ApiClient, settings: GWorkspacePullSettings, folder: Path,
                 application: str, start: dt.datetime, end: dt.datetime, done: StreamResult,
                 report: ReportFn, progress: ProgressFn) -> None:
    """Every page of one application's activities in one window, into the window's file."""
    span = f"{utc_text(start)} to {utc_text(end)}"
    url = (f"{settings.api_url}/admin/reports/v1/activity/users/all/applications/"
           f"{application}")
    params = {"startTime": _rfc3339(start), "endTime": _rfc3339(end),
              "maxResults": str(settings.page_size), "prettyPrint": "false"}
    if settings.customer_id:
        params["customerId"] = settings.customer_id
    what = f"listing {application} activities {span}"
    name = f"{application}_{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}.json"
    pages = activities = 0
    tokens: set[str] = set()
    with WindowFile(folder / application / f"{start:%Y-%m-%d}" / name) as raw:
        while True:
            page, response = api.json("GET", url, what, params)
            if not isinstance(page, dict) or page.get("kind", _PAGE_KIND) != _PAGE_KIND:
                raise PullError(f"{what}: the answer is not an activities page"
                                f" ({orjson.dumps(page)[:200].decode('utf-8', 'replace')})")
            items = page.get("items")
            if items is not None and not isinstance(items, list):
                raise PullError(f"{what}: the page's items are not a list")
            pages += 1
            if items:  # a page without activities is nothing to read
                raw.write_line(one_line(response.content))
                activities += len(items)
            progress(f"{application} {start:%Y-%m-%d %H:%M}", None)
            following = page.get("nextPageToken")
            if not following:
                break
            if not isinstance(following, str) or following in tokens:
                raise PullError(f"{what}: nextPageToken repeats itself or is not text")
            tokens.add(following)
            params = {**params, "pageToken": following}
        written = raw.commit()
    done.fetched += pages
    done.records += activities
    if written is not None:
        done.files.append(written)
    if activities:  # an empty window is no news (the summary counts windows)
        report(f"{application} {span}: {pages:,} page{'' if pages == 1 else 's'},"
               f" {activities:,} activit{'y' if activities == 1 else 'ies'}"
               + (f" → {written.relative_to(folder)}" if written is not None else ""))


def _explain(response: requests.Response) -> tuple[str, str | None, bool]:
    """Google's error (``{"error": {"code", "message", "status", "errors": [{"reason"}]}}``);
    a 403 whose reason is a rate limit is retried like a 429."""
    message, code, reasons = error_body(response)
    if response.status_code == 403 and not google_rate_limited(reasons):
        message += (" (the delegated admin needs the Reports privilege, and domain-wide"
                    f" delegation the scope {SCOPE})")
    return message, code, response.status_code == 403 and google_rate_limited(reasons)


def _rfc3339(when: dt.datetime) -> str:
    """The Reports API's time form, ``2024-03-05T00:00:00.000Z``.

    >>> _rfc3339(dt.datetime(2024, 3, 5, tzinfo=dt.UTC))
    '2024-03-05T00:00:00.000Z'
    """
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{when.microsecond // 1000:03d}Z"


def _short(error: object) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:400]
