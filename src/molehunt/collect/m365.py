"""``molehunt pull m365``: the Office 365 Management Activity API into raw files.

How it goes (Microsoft's "Office 365 Management Activity API reference"):

1. An app-only token from Microsoft Entra ID (msal, client credentials: a client secret or
   a certificate) for ``<api_url>/.default``; the app needs the application permission
   ActivityFeed.Read of the Office 365 Management APIs, with an admin's consent.
2. ``GET /subscriptions/list``; a configured content type without an enabled subscription is
   started (``POST /subscriptions/start``), which Microsoft says may take up to 12 hours to
   bring its first content, and content from before the start is never listed.
3. Per content type and window (at most 24 hours, as the API allows, and starting within the
   last 7 days, which is all it lists): ``GET /subscriptions/content?startTime&endTime``,
   following ``NextPageUri`` until a response has none. The window is on ``contentCreated``
   (when Microsoft made a blob available), inclusive of the start and exclusive of the end,
   so windows that follow one another neither overlap nor leave a gap.
4. Each content blob (``contentUri``): a JSON array of audit records, written on one line of
   the window's file ``<folder>/<content type>/<YYYY-MM-DD>/<content type>_<start>_<end>
   .json`` (blobs one after another, each as it came apart from its line breaks), which
   :mod:`molehunt.sources.m365_audit` reads as content blobs appended to one file.

Checkpoint (``<folder>/.molehunt-pull-m365.state``): per content type, the end of the last
window in the folder and the ids of the blobs fetched since an hour (``overlap_minutes``)
before it. A run starts that hour earlier, fetching only blobs it does not know: Microsoft
does not promise a blob is listed the moment it is dated, and this catches the late ones
without fetching anything twice. See :mod:`molehunt.collect._state` for why an interrupted
run never loses or skips a window.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from molehunt.collect._http import ApiClient, ApiRefusedError, error_body, same_origin, session_for
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
    Stream,
    WindowFile,
    folder_lock,
    one_line,
    parse_utc,
    utc_text,
    windows,
)
from molehunt.collect.settings import M365PullSettings, Secret
from molehunt.errors import ConfigError, PullError

#: How far back the API lists content.
KEEPS = dt.timedelta(days=7)
#: Kept from the 7 days: the API checks the start against its own clock when it gets the
#: request, and a run that takes a while must not fall off the edge.
_MARGIN = dt.timedelta(minutes=10)
#: What each of the API's error codes asks of the person running the pull.
HINTS = {
    "AF10001": "grant the app the application permission ActivityFeed.Read of the Office 365"
               " Management APIs, with an admin's consent",
    "AF20010": "tenant_id is not the tenant the app belongs to",
    "AF20011": "tenant_id names no tenant",
    "AF20013": "tenant_id is not the tenant's GUID",
    "AF20020": "not a content type of the Management Activity API",
    "AF20022": "no subscription to this content type: set start_subscriptions = true, or"
               " start it",
    "AF20023": "the subscription was disabled; check that the unified audit log is on"
               " (Purview → Audit) and start it again",
    "AF20030": "a window must be at most 24 hours long and start within the last 7 days",
    "AF20051": "the content expired (Microsoft keeps a blob 7 days)",
}


class M365Tokens:
    """App-only tokens from Microsoft Entra ID through msal (see the module docstring)."""

    def __init__(self, settings: M365PullSettings, session: requests.Session) -> None:
        self._scope = settings.token_scope
        self._cache = msal.TokenCache()
        authority = f"{settings.authority_host}/{settings.tenant_id}"
        try:
            # instance_discovery=False: the authority is the one configured (a sovereign
            # cloud's or a test server's), not one to look up at login.microsoftonline.com
            self._app = msal.ConfidentialClientApplication(
                settings.client_id, client_credential=_credential(settings.secret),
                authority=authority, instance_discovery=False, http_client=session,
                token_cache=self._cache, timeout=settings.connection.timeout)
        except ValueError as error:
            raise PullError(f"Microsoft Entra ID does not answer for tenant"
                            f" {settings.tenant_id} at {settings.authority_host}:"
                            f" {_short(error)}") from None
        except requests.RequestException as error:
            raise PullError(f"cannot reach {settings.authority_host}: {_short(error)}"
                            ) from None

    def token(self, fresh: bool) -> str:
        """An access token (msal's cached one unless ``fresh``)."""
        if fresh:
            for item in list(self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                self._cache.remove_at(item)
        try:
            result: dict[str, Any] = self._app.acquire_token_for_client(scopes=[self._scope])
        except requests.RequestException as error:
            raise PullError(f"cannot get a token from Microsoft Entra ID: {_short(error)}"
                            ) from None
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        description = _short(result.get("error_description") or "no description")
        raise PullError(f"Microsoft Entra ID refused the app's credentials"
                        f" ({result.get('error', 'no error code')}): {description}")


def pull_m365(settings: M365PullSettings, folder: Path, *, start: dt.datetime | None = None,
              end: dt.datetime | None = None, content_types: Sequence[str] | None = None,
              report: ReportFn = no_report, progress: ProgressFn = no_progress,
              now: Callable[[], dt.datetime] = utc_now,
              sleep: Callable[[float], None] = time.sleep) -> PullResult:
    """Pull the configured content types into ``folder`` (see the module docstring).

    ``start``/``end`` (``--from``/``--to``) override the checkpoint; ``now`` and ``sleep``
    are the clock and the wait between retries (tests pass their own).
    """
    chosen = tuple(content_types or settings.content_types)
    result = PullResult("m365", folder)
    with folder_lock(folder, "m365"):
        checkpoint = Checkpoint.load(folder, "m365", {"tenant_id": settings.tenant_id,
                                                      "api_url": settings.api_url})
        session = session_for(settings.connection)
        try:
            api = ApiClient(session, M365Tokens(settings, session), settings.connection,
                            _explain, sleep, now, report)
            root = f"{settings.api_url}/api/v1.0/{settings.tenant_id}/activity/feed"
            _subscribe(api, root, settings, chosen, result.notes, report)
            moment = now()
            for content_type in chosen:
                stream = checkpoint.stream(content_type)
                done = StreamResult(content_type)
                result.streams.append(done)
                first, last = plan(stream, content_type, start, end, moment,
                                   earliest=moment - KEEPS + _MARGIN, latest=moment,
                                   rewind=dt.timedelta(minutes=settings.overlap_minutes),
                                   initial=dt.timedelta(days=settings.initial_days),
                                   keeps="7 days", notes=result.notes)
                done.start, done.end = first, last
                for window_start, window_end in windows(first, last, settings.window_hours):
                    _pull_window(api, root, settings, folder, content_type, stream,
                                 window_start, window_end, done, report, progress)
                    advance(stream, window_start, window_end)
                    _forget(stream, settings.overlap_minutes)
                    checkpoint.save()
                    done.windows += 1
                done.done_until = stream.done_until
                if done.expired:
                    one = done.expired == 1
                    result.notes.append(f"{content_type}: {_count(done.expired, 'content blob')}"
                                        f" expired before {'it' if one else 'they'} could be"
                                        f" fetched; {'its' if one else 'their'} records are"
                                        " lost to this pull (a Purview audit search export"
                                        " of the time can fill the gap)")
        finally:
            session.close()
    return result


def _subscribe(api: ApiClient, root: str, settings: M365PullSettings,
               content_types: Sequence[str], notes: list[str], report: ReportFn) -> None:
    """Make sure each content type has an enabled subscription (starting it if allowed)."""
    publisher = {"PublisherIdentifier": settings.publisher}
    listed, _ = api.json("GET", f"{root}/subscriptions/list", "listing the subscriptions",
                         publisher)
    if not isinstance(listed, list):
        raise PullError("listing the subscriptions: the answer is not a JSON array")
    status = {str(s.get("contentType")): str(s.get("status") or "none")
              for s in listed if isinstance(s, dict)}
    for content_type in content_types:
        if status.get(content_type) == "enabled":
            continue
        if not settings.start_subscriptions:
            raise PullError(f"{content_type} has no enabled subscription (status:"
                            f" {status.get(content_type, 'none')}); set start_subscriptions ="
                            " true, or start it")
        api.json("POST", f"{root}/subscriptions/start", f"starting the {content_type}"
                 " subscription", {"contentType": content_type, **publisher})
        report(f"{content_type}: subscription started")
        notes.append(f"{content_type}: subscription started now; Microsoft may take up to 12"
                     " hours to list its first content, and lists none from before the start")


def _pull_window(api: ApiClient, root: str, settings: M365PullSettings, folder: Path,
                 content_type: str, stream: Stream, start: dt.datetime, end: dt.datetime,
                 done: StreamResult, report: ReportFn, progress: ProgressFn) -> None:
    """List one window's blobs, fetch those not fetched before, write the window's file."""
    span = f"{utc_text(start)} to {utc_text(end)}"
    blobs = _list_content(api, root, settings, content_type, start, end, span)
    new = [b for b in blobs if b[0] not in stream.seen]
    done.already += len(blobs) - len(new)
    name = f"{content_type}_{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}.json"
    records = 0
    expired_before = done.expired
    fetched: dict[str, str] = {}
    with WindowFile(folder / content_type / f"{start:%Y-%m-%d}" / name) as raw:
        for number, (content_id, uri, created) in enumerate(new, start=1):
            progress(f"{content_type} {start:%Y-%m-%d %H:%M}", number / len(new))
            try:
                body, response = api.json("GET", uri, f"fetching {content_type} content"
                                          f" {content_id}")
            except ApiRefusedError as refused:
                if refused.code != "AF20051":
                    raise
                done.expired += 1
                fetched[content_id] = created
                report(f"{content_type}: content {content_id} expired before it was fetched")
                continue
            if not isinstance(body, list):
                raise PullError(f"fetching {content_type} content {content_id}: the answer is"
                                " not a JSON array of audit records")
            if body:  # an empty blob is no log the connector could recognise
                raw.write_line(one_line(response.content))
            records += len(body)
            fetched[content_id] = created
        written = raw.commit()
    # only now is what the blobs held in the folder: the checkpoint may learn of them
    stream.seen.update(fetched)
    done.fetched += len(new) - (done.expired - expired_before)
    done.records += records
    if written is not None:
        done.files.append(written)
    if new:  # an empty window is no news (the summary counts windows)
        report(f"{content_type} {span}: {_count(len(new), 'new content blob')},"
               f" {_count(records, 'record')}"
               + (f" → {written.relative_to(folder)}" if written is not None else "")
               + (f" ({len(blobs) - len(new)} fetched before)" if len(blobs) > len(new)
                  else ""))


def _list_content(api: ApiClient, root: str, settings: M365PullSettings, content_type: str,
                  start: dt.datetime, end: dt.datetime, span: str
                  ) -> list[tuple[str, str, str]]:
    """(content id, content URI, contentCreated) of every blob of one window, all pages."""
    url = f"{root}/subscriptions/content"
    params: dict[str, str] | None = {
        "contentType": content_type, "PublisherIdentifier": settings.publisher,
        # the API's documented forms have no zone: they are UTC
        "startTime": f"{start:%Y-%m-%dT%H:%M:%S}", "endTime": f"{end:%Y-%m-%dT%H:%M:%S}"}
    what = f"listing {content_type} content {span}"
    blobs: dict[str, tuple[str, str, str]] = {}
    visited: set[str] = set()
    while True:
        listed, response = api.json("GET", url, what, params)
        if not isinstance(listed, list):
            raise PullError(f"{what}: the answer is not a JSON array")
        for entry in listed:
            content_id = entry.get("contentId") if isinstance(entry, dict) else None
            uri = entry.get("contentUri") if isinstance(entry, dict) else None
            if not isinstance(content_id, str) or not isinstance(uri, str):
                raise PullError(f"{what}: an entry without contentId or contentUri: {entry!r}"
                                [:300])
            if not same_origin(uri, settings.api_url):
                # the access token goes to the API's host and nowhere else
                raise PullError(f"{what}: contentUri {uri} is not on {settings.api_url}")
            blobs.setdefault(content_id, (content_id, uri, str(entry.get("contentCreated"))))
        following = response.headers.get("NextPageUri")
        if not following:
            return list(blobs.values())
        if not same_origin(following, settings.api_url):
            raise PullError(f"{what}: NextPageUri {following} is not on {settings.api_url}")
        if following in visited:
            raise PullError(f"{what}: NextPageUri repeats itself ({following})")
        visited.add(following)
        url, params = following, None


def _forget(stream: Stream, overlap_minutes: int) -> None:
    """Drop the blob ids no run will list again (made available before the overlap)."""
    if stream.done_until is None:
        return
    horizon = stream.done_until - dt.timedelta(minutes=overlap_minutes)
    for content_id, created in list(stream.seen.items()):
        try:
            old = parse_utc(created) < horizon
        except ValueError:
            old = False  # kept: a date it cannot read is no reason to fetch the blob again
        if old:
            del stream.seen[content_id]


def _explain(response: requests.Response) -> tuple[str, str | None, bool]:
    """The API's error (``{"error": {"code": "AF…", "message": …}}``) and what to do."""
    message, code, _ = error_body(response)
    hint = HINTS.get(code or "")
    return (f"{message} ({hint})" if hint else message), code, code == "AF429"


def _credential(secret: Secret) -> str | dict[str, str]:
    """The client credential msal takes: the secret's text, or a certificate's private key
    and SHA-1 thumbprint (read from one PEM file holding both)."""
    if secret.kind == "env":
        value = os.environ.get(secret.source, "")
        if not value.strip():
            raise ConfigError(f"pull.m365: the environment variable {secret.source} (the client"
                              " secret) is not set or empty")
        return value.strip()
    path = Path(secret.source)
    try:
        data = path.read_bytes()
    except OSError as error:
        what = "client secret" if secret.kind == "file" else "certificate"
        raise ConfigError(f"cannot read the {what}: {error.strerror or error}",
                          where=str(path)) from None
    if secret.kind == "file":
        text = data.decode("utf-8", "replace").strip()
        if not text:
            raise ConfigError("the client secret file is empty", where=str(path))
        return text
    try:
        certificate = x509.load_pem_x509_certificate(data)
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as error:
        raise ConfigError(f"not a PEM file holding a certificate and its unencrypted private"
                          f" key: {_short(error)}", where=str(path)) from None
    return {"private_key": key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode(),
            "thumbprint": certificate.fingerprint(hashes.SHA1()).hex().upper()}


def _count(number: int, noun: str) -> str:
    """
    >>> _count(1, "record"), _count(1200, "record")
    ('1 record', '1,200 records')
    """
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _short(error: object) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:400]
