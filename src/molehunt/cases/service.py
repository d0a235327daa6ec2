"""What the console does, independent of HTTP: every read and change, checked and audited.

The web layer (:mod:`molehunt.web`) and the CLI call :class:`Console`; each method takes the
:class:`~molehunt.cases.accounts.Principal` acting, checks its permission, writes the audit
entry in the same transaction as the change, and returns JSON-ready dictionaries in which
people appear only as pseudonyms and every log string has been redacted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from molehunt.cases import audit
from molehunt.cases.accounts import (
    PERMISSIONS,
    TOKEN_DAYS,
    AccessError,
    HashedPassword,
    InputError,
    NotFoundError,
    Principal,
    PrincipalCache,
    canonical_username,
    check_role,
    create_account,
    create_token,
    end_access,
    find_account,
    generate_password,
    hash_password,
    set_password,
)
from molehunt.cases.browse import alert_query
from molehunt.cases.bundle import build_bundle
from molehunt.cases.display import apply_policy
from molehunt.cases.models import (
    CASE_STATES,
    PRIVILEGED_ROLES,
    Account,
    Alert,
    AlertDecision,
    AllowlistEntry,
    ApiToken,
    ApprovalRequest,
    AuditEntry,
    Case,
    CaseEvidence,
    CaseNote,
    ConsoleSetting,
    DetectorWeight,
    RevealRequest,
    utcnow,
)
from molehunt.cases.pseudonyms import Person, Pseudonyms, load_or_create_key, pseudonym
from molehunt.cases.results import WorkspaceResults
from molehunt.cases.store import CONSOLE_DIR, CaseStore
from molehunt.cases.summary import summary as alert_summary
from molehunt.domains import load_domain_categories, normalise_domain
from molehunt.store.workspace import Workspace

log = logging.getLogger("molehunt.console")
BANDS = ("none", "low", "medium", "high", "critical")
ALLOWLIST_KINDS = ("domain", "person", "device", "host", "recipient")
MIN_REASON = 10
#: the days a request may name
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2999, 12, 31)
TREND_DAYS = 30
#: how long one computed overview or person view is shared (see Console._view)
VIEW_SECONDS = 5.0
VIEW_ENTRIES = 2000
#: people's results parts kept (see Console._person_results)
PERSON_VIEWS_KEPT = 256
#: the highest-risk people whose default look is prepared when the console starts
WARM_PEOPLE = 50
#: events per page of a person's activity timeline
ACTIVITY_PAGE = 100
#: how long a request for a second person's approval stays open
APPROVAL_DAYS = 7
#: the permission a second person needs to approve each kind of request
APPROVER_PERMISSION = {
    "allowlist.add": "approve_allowlist",
    "setting.reveal_approval": "approve_privileged",
    "account.create": "approve_privileged",
    "account.update": "approve_privileged",
    "account.password_reset": "approve_privileged",
}


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def approver_permission(action: str, requester_role: str) -> str:
    """The permission the second person needs to approve a request of kind ``action`` filed
    by someone with ``requester_role``.

    An allowlist that an admin asks for needs a second admin or a privacy officer: admins
    make analyst accounts alone, so an analyst's approval could be their own in disguise.

    >>> approver_permission("allowlist.add", "analyst"), approver_permission(
    ...     "allowlist.add", "admin")
    ('approve_allowlist', 'approve_privileged')
    """
    needed = APPROVER_PERMISSION[action]
    if action == "allowlist.add" and requester_role in PERMISSIONS["accounts"]:
        return "approve_privileged"
    return needed


def _in_evidence(kind: str, value: str, event: dict[str, Any]) -> bool:
    """Whether an evidence event shows exactly the value an allowlist entry would name.

    Stricter than the scoring's match (which lets a domain cover its subdomains): here it
    decides whether one person may allowlist alone, so a parent domain does not count.

    >>> _in_evidence("domain", "Drop.example", {"domain": "drop.example"})
    True
    >>> _in_evidence("domain", "example", {"domain": "drop.example"})
    False
    >>> _in_evidence("recipient", "x@rival.example", {"target": "a@b.example; x@rival.example"})
    True
    """
    wanted = value.strip().lower()
    if kind == "domain":
        return normalise_domain(str(event.get("domain") or "")) == normalise_domain(wanted)
    if kind == "host":
        return str(event.get("host") or "").lower() == wanted
    if kind == "recipient":
        targets = str(event.get("target") or "").replace(",", ";").lower()
        return wanted in {t.strip() for t in targets.split(";")}
    if kind == "device":
        return wanted in {str(event.get("object") or "").lower(),
                          str(event.get("host") or "").lower()}
    return False


#: Characters of an event's text one reading shows (a page holds it; the store keeps all).
TEXT_SHOWN = 100_000


def _capped(text: Any) -> Any:
    """``text`` cut to :data:`TEXT_SHOWN` characters, saying so."""
    if isinstance(text, str) and len(text) > TEXT_SHOWN:
        return text[:TEXT_SHOWN] + f"… ({len(text) - TEXT_SHOWN:,} more characters)"
    return text


def _reason_text(text: str | None, label: str = "reason") -> str:
    cleaned = (text or "").strip()
    if len(cleaned) < MIN_REASON:
        raise InputError(f"a {label} of at least {MIN_REASON} characters is required")
    if len(cleaned) > 4000:
        raise InputError(f"the {label} is longer than 4,000 characters")
    return cleaned


def _parse_day(value: str | None, name: str) -> dt.date | None:
    """A YYYY-MM-DD day from a request, within :data:`FIRST_DAY` .. :data:`LAST_DAY`.

    Days at the ends of Python's calendar (0001-01-01, 9999-12-31) would overflow the day
    arithmetic behind windows and weeks; no log is from there.

    >>> _parse_day("2024-02-29", "day")
    datetime.date(2024, 2, 29)
    """
    if value in (None, ""):
        return None
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{name} must be a YYYY-MM-DD date") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InputError(f"{name} must be a day between {FIRST_DAY} and {LAST_DAY}")
    return day


class Console:
    """The console's operations over one workspace and one analyst store."""

    def __init__(self, workspace: Path, store: CaseStore) -> None:
        self.workspace = Path(workspace)
        self.store = store
        # the audit key, kept beside the pseudonym key; refuses a log that can be rewritten
        self.audit_key = audit.open_chain(store, self.workspace / CONSOLE_DIR)
        self.results = WorkspaceResults(self.workspace)
        self.audit_writer = audit.AuditWriter(store)
        #: the audit page's check, from the last verified entry on (not the whole chain)
        self.audit_verifier = audit.IncrementalVerifier(store)
        #: who each recently seen credential is (cleared whenever accounts or tokens change)
        self.principals = PrincipalCache()
        self._views: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
        self._generation = 0
        self._building: dict[tuple[Any, ...], threading.Lock] = {}
        self._building_lock = threading.Lock()
        self._looks: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._looks_lock = threading.Lock()
        self._warm_stop = threading.Event()
        self._warm_thread: threading.Thread | None = None
        self.pseudonyms = Pseudonyms(load_or_create_key(self.workspace / CONSOLE_DIR))
        self.workspace_settings = Workspace(self.workspace).settings()
        self._load_people()

    def _load_people(self) -> None:
        directory = self.results.directory()
        self.pseudonyms.add(Person(r["user_id"], r["name"], r["email"], r["role"],
                                   r["department"]) for r in directory)
        self._group_sizes: Counter[tuple[str | None, str | None]] = Counter()
        for r in directory:
            role, department = r["role"] or None, r["department"] or None
            self._group_sizes.update([(role, department), (role, None), (None, department)])

    def _context(self, person: Person | None) -> dict[str, Any]:
        """A person's role and department, each shown only where at least
        ``console_min_group`` people share what is shown (k-anonymity): the pair where it is
        common enough, else the department alone, else nothing; ``context_hidden`` says so."""
        if person is None:
            return {"role": None, "department": None, "context_hidden": None}
        k = self.workspace_settings.console_min_group
        role, department = person.role or None, person.department or None
        sizes = self._group_sizes
        if sizes[(role, department)] >= k:
            return {"role": role, "department": department, "context_hidden": None}
        hidden = (f"shared by fewer than {k} people: hidden so that it does not name the"
                  " person")
        if department is not None and sizes[(None, department)] >= k:
            return {"role": None, "department": department, "context_hidden": "role " + hidden}
        if role is not None and sizes[(role, None)] >= k:
            return {"role": role, "department": None,
                    "context_hidden": "department " + hidden}
        return {"role": None, "department": None,
                "context_hidden": "role and department " + hidden}

    # -- helpers -------------------------------------------------------------------------
    def _view(self, key: tuple[Any, ...], build: Callable[[], dict[str, Any]]
              ) -> dict[str, Any]:
        """A page's data, shared by everyone who asks within :data:`VIEW_SECONDS`.

        Many analysts open the same overview and the same top people. The key holds the
        read models in use (a rebuilt model is a new object) and :attr:`_generation`, which
        every change of an alert bumps after its commit, so a triage decision shows at once;
        results and changes made by another process show within ``VIEW_SECONDS``. The caller
        still audits every look. The shared dictionaries are never modified.
        """
        full = (*key, self._generation, *self.results.versions())
        hit = self._views.get(full)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        # one computation per key at a time: when fifty clients open the same new person at
        # once, one reads the events and the others wait for its answer
        with self._building_lock:
            building = self._building.setdefault(full, threading.Lock())
        with building:
            hit = self._views.get(full)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            try:
                value = build()
            finally:
                with self._building_lock:
                    self._building.pop(full, None)
            self._remember(full, value)
        return value

    def _remember(self, full: tuple[Any, ...], value: dict[str, Any]) -> None:
        now = time.monotonic()
        if len(self._views) >= VIEW_ENTRIES:
            self._views = {k: v for k, v in self._views.items() if v[0] > now}
            if len(self._views) >= VIEW_ENTRIES:
                self._views = {}
        self._views[full] = (now + VIEW_SECONDS, value)

    @contextlib.contextmanager
    def _alerts_changing(self) -> Iterator[Session]:
        """A write transaction that changes alerts: shared views are dropped after it commits."""
        with self.store.transaction() as session:
            yield session
        self._generation += 1

    @staticmethod
    def require(principal: Principal, permission: str) -> None:
        """Refuse with 403 unless the principal's role holds ``permission``."""
        if not principal.can(permission):
            raise AccessError(f"the {principal.role} role may not do this ({permission})")

    def _audit(self, session: Session, principal: Principal, action: str, target: str = "",
               reason: str | None = None, **details: Any) -> None:
        audit.record(session, actor=principal.username, role=principal.role, action=action,
                     target=target, reason=reason, details=details)

    def record(self, principal: Principal, action: str, target: str = "",
               reason: str | None = None, **details: Any) -> None:
        """Write one audit entry on its own (reads, logins, exports); returns once committed.

        Concurrent callers share one commit (:class:`~molehunt.cases.audit.AuditWriter`).
        """
        self.audit_writer.write(actor=principal.username, role=principal.role, action=action,
                                target=target, reason=reason, details=details)

    def close(self) -> None:
        """Finish pending audit writes, stop background work, release the store."""
        self._warm_stop.set()
        if self._warm_thread is not None:
            self._warm_thread.join(timeout=30)
        self.audit_writer.close()
        self.results.close()
        self.store.close()

    def person_of(self, alias: str) -> str:
        """The user id behind a pseudonym (404 when unknown)."""
        user_id = self.pseudonyms.user_id(alias)
        if user_id is None:
            self._load_people()
            self._learn_alert_people()
            user_id = self.pseudonyms.user_id(alias)
        if user_id is None:
            raise NotFoundError(f"no person {alias!r}")
        return user_id

    def _learn_alert_people(self) -> None:
        with self.store.sessions() as session:
            ids = session.scalars(sa.select(Alert.user_id).distinct()).all()
        self.pseudonyms.add(Person(u) for u in ids)

    def _redact(self, value: Any) -> Any:
        """Pseudonymise a value from the logs or results, recursively."""
        if isinstance(value, str):
            return self.pseudonyms.redact(value)
        if isinstance(value, dict):
            return {k: self._redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact(v) for v in value]
        return _iso(value)

    def _event(self, row: dict[str, Any]) -> dict[str, Any]:
        # the computer is learned before the row is redacted, so its name gives way to its
        # pseudonym in the host column and wherever else the row writes it (paths, targets)
        self.pseudonyms.add_hosts([row.get("host")])
        shown = apply_policy({k: v for k, v in row.items() if k != "user_id"})
        redacted: dict[str, Any] = self._redact(shown)
        redacted["person"] = self.pseudonyms.of(row["user_id"])
        return redacted

    def _reasons(self, value: Any) -> list[dict[str, Any]]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return []
        return [self._redact(dict(r)) for r in (value or []) if isinstance(r, dict)]

    def _alert_json(self, alert: Alert, accounts: dict[int, str]) -> dict[str, Any]:
        return {
            "alert_id": alert.public_id, "person": self.pseudonyms.of(alert.user_id),
            "opened_day": alert.opened_day.isoformat(), "last_day": alert.last_day.isoformat(),
            "peak_risk": round(alert.peak_risk, 1), "band": alert.band,
            "reasons": self._reasons(alert.reasons), "detectors": json.loads(alert.detectors),
            "detection_status": alert.detection_status, "state": alert.state,
            "assignee": accounts.get(alert.assignee_id) if alert.assignee_id else None,
            "decision_reason": self._redact(alert.decision_reason), "case_id": alert.case_id,
        }

    def _accounts(self, session: Session) -> dict[int, str]:
        return {i: n for i, n in session.execute(sa.select(Account.id, Account.username))}

    # -- alerts import -------------------------------------------------------------------
    def import_alerts(self) -> dict[str, int]:
        """Import ``results/alerts.parquet`` idempotently by ``alert_id``.

        New alerts are added in state ``new``; known ones get the detection core's newest
        figures (last day, peak risk, band, reasons, detectors) and keep their workflow state.
        """
        rows = self.results.alerts_table()
        added = updated = 0
        with self._alerts_changing() as session:
            known = {a.alert_id: a for a in session.scalars(sa.select(Alert)).all()}
            for row in rows:
                fields = {
                    "user_id": str(row["user_id"]), "opened_day": row["opened_day"],
                    "last_day": row["last_day"], "peak_risk": float(row["peak_risk"]),
                    "band": str(row["band"]),
                    "reasons": json.dumps(row.get("reasons") or [], default=str),
                    "detectors": json.dumps(list(row.get("detectors") or [])),
                    "detection_status": str(row.get("status") or "open"),
                }
                alert = known.get(str(row["alert_id"]))
                if alert is None:
                    session.add(Alert(alert_id=str(row["alert_id"]), state="new",
                                      public_id=self.public_alert_id(str(row["alert_id"])),
                                      **fields))
                    added += 1
                elif any(getattr(alert, k) != v for k, v in fields.items()):
                    for key, value in fields.items():
                        setattr(alert, key, value)
                    alert.updated_at = utcnow()
                    updated += 1
            if added or updated:
                audit.record(session, actor="system", role="system", action="alerts.import",
                             details={"added": added, "updated": updated})
        self.pseudonyms.add(Person(str(r["user_id"])) for r in rows)
        return {"added": added, "updated": updated, "total": len(rows)}

    # -- overview ------------------------------------------------------------------------
    def overview(self, principal: Principal) -> dict[str, Any]:
        """Risk distribution, highest-risk people with trend, new alerts, alert load."""
        self.require(principal, "view")
        return self._view(("overview",), self._overview)

    def _overview(self) -> dict[str, Any]:
        last = self.results.last_day()
        result: dict[str, Any] = {"ready": self.results.ready, "day": _iso(last),
                                  "bands": {b: 0 for b in BANDS}, "top": [],
                                  "new_alerts": [], "load": []}
        if last is not None:
            today = self.results.risk_on_last_day()
            for row in today:
                result["bands"][row["band"]] = result["bands"].get(row["band"], 0) + 1
            top = today[:20]
            trends = self.results.risk_trends([r["user_id"] for r in top],
                                              last - dt.timedelta(days=TREND_DAYS))
            result["top"] = [{"person": self.pseudonyms.of(r["user_id"]),
                              "risk": round(float(r["risk"]), 1), "band": r["band"],
                              "trend": trends.get(r["user_id"], [])} for r in top]
            load: dict[str, int] = {}
            for row in self.results.band_counts(last - dt.timedelta(days=90)):
                if row["band"] in ("high", "critical"):
                    key = _iso(row["day"])
                    load[key] = load.get(key, 0) + int(row["people"])
            result["load"] = [{"day": d, "people": n} for d, n in sorted(load.items())]
        with self.store.sessions() as session:
            accounts = self._accounts(session)
            alerts = session.scalars(sa.select(Alert).where(Alert.state == "new")
                                     .order_by(Alert.peak_risk.desc()).limit(10)).all()
            result["new_alerts"] = [self._alert_json(a, accounts) for a in alerts]
            result["open_alerts"] = session.scalar(
                sa.select(sa.func.count()).select_from(Alert)
                .where(Alert.state.in_(("new", "assigned")))) or 0
        return result

    # -- person --------------------------------------------------------------------------
    def person(self, principal: Principal, alias: str, channel: str | None = None,
               first: str | None = None, last: str | None = None, page: int = 1,
               page_size: int = ACTIVITY_PAGE) -> dict[str, Any]:
        """Everything about one pseudonymous person; the look is audited.

        The activity timeline is paged (``page`` from 1, ``page_size`` events, newest first);
        ``activity.total`` says how many events the window holds.
        """
        self.require(principal, "view")
        user_id = self.person_of(alias)
        if channel and channel not in self.results.channels():
            raise InputError(f"unknown channel {channel!r}")
        if not 1 <= page <= 100_000:
            raise InputError("page must be between 1 and 100,000")
        if not 1 <= page_size <= 1000:
            raise InputError("page_size must be between 1 and 1,000")
        risk = self.results.person_risk(user_id)
        start, end = self._window(risk, first, last)
        shown = self._view(("person", user_id, channel, start, end, page, page_size),
                           lambda: {**self._person_results(user_id, alias, risk, channel, start,
                                                           end, page, page_size),
                                    "alerts": self._person_alerts(user_id)})
        # written (group-committed) before anything is returned: no look goes unrecorded
        self.record(principal, "person.view", alias,
                    window=[start.isoformat(), end.isoformat()], channel=channel, page=page)
        return shown

    def _window(self, risk: list[dict[str, Any]], first: str | None, last: str | None
                ) -> tuple[dt.date, dt.date]:
        """The activity window asked for: by default the 14 days up to the person's last."""
        end = _parse_day(last, "to") or (risk[-1]["day"] if risk else self.results.last_day()
                                          ) or dt.date.today()
        if isinstance(end, dt.datetime):
            end = end.date()
        start = _parse_day(first, "from") or end - dt.timedelta(days=14)
        if start > end:
            raise InputError("from must not be after to")
        if (end - start).days > 366:
            raise InputError("the activity window is at most 366 days")
        return start, end

    def _person_alerts(self, user_id: str) -> list[dict[str, Any]]:
        with self.store.sessions() as session:
            accounts = self._accounts(session)
            alerts = session.scalars(sa.select(Alert).where(Alert.user_id == user_id)
                                     .order_by(Alert.opened_day.desc())).all()
            return [self._alert_json(a, accounts) for a in alerts]

    def _person_results(self, user_id: str, alias: str, risk: list[dict[str, Any]],
                        channel: str | None, start: dt.date, end: dt.date, page: int,
                        page_size: int) -> dict[str, Any]:
        """What the workspace's results say about one person (everything but the alerts).

        Kept until the results or the redaction change (the read models in use and the
        pseudonyms' version are in the key), not for :data:`VIEW_SECONDS` only: reading a
        person's events and redacting them is most of a look's cost, and a person an analyst
        comes back to an hour later has the same events. At most :data:`PERSON_VIEWS_KEPT`.
        """
        key = (user_id, channel, start, end, page, page_size, *self.results.versions())
        with self._looks_lock:
            hit = self._looks.get((*key, self.pseudonyms.version))
            if hit is not None:
                self._looks.move_to_end((*key, self.pseudonyms.version))
                return hit
        version, value = self._person(user_id, alias, risk, channel, start, end, page,
                                      page_size)
        # kept under the redaction it was made with: if another thread has learned a name
        # since, this entry is never served and the next look redacts again
        with self._looks_lock:
            self._looks[(*key, version)] = value
            while len(self._looks) > PERSON_VIEWS_KEPT:
                self._looks.popitem(last=False)
        return value

    def warm_up(self, people: int = WARM_PEOPLE, stop: threading.Event | None = None
                ) -> int:
        """Prepare the overview and the default look at the ``people`` highest-risk people.

        Analysts open the overview and then its top people first, so a console that has just
        started (or whose results have just changed) builds those before anyone asks: the read
        models, the computer names of the events (learned once, so that a first look does not
        empty the redaction cache), and each person's results part of the page. Nothing is
        audited: no one has looked. Returns how many people were prepared.
        """
        self._view(("overview",), self._overview)
        self.pseudonyms.add_hosts(self.results.hosts())
        done = 0
        for row in self.results.risk_on_last_day()[:people]:
            if stop is not None and stop.is_set():
                break
            user_id = str(row["user_id"])
            risk = self.results.person_risk(user_id)
            start, end = self._window(risk, None, None)
            self._person_results(user_id, self.pseudonyms.of(user_id), risk, None, start, end,
                                 1, ACTIVITY_PAGE)
            done += 1
        return done

    def start_warm_up(self, people: int = WARM_PEOPLE) -> None:
        """Run :meth:`warm_up` in a background thread (stopped by :meth:`close`)."""

        def run() -> None:
            # only a head start: whatever goes wrong here, requests build the same on demand
            try:
                self.warm_up(people, self._warm_stop)
            except Exception as error:
                log.warning("warm-up: %s", error)

        self._warm_thread = threading.Thread(target=run, name="molehunt-warm-up", daemon=True)
        self._warm_thread.start()

    def _person(self, user_id: str, alias: str, risk: list[dict[str, Any]],
                channel: str | None, start: dt.date, end: dt.date, page: int, page_size: int
                ) -> tuple[int, dict[str, Any]]:
        """The results part of a person's page, and the pseudonyms' version it was redacted
        with."""
        findings = self.results.findings(user_id)
        evidence_ids = [e for f in findings[:20] for e in (f["evidence"] or [])][:500]
        days = [f["day"] for f in findings[:20]]
        related = {str(u) for f in findings[:20] for u in (f["related_users"] or [])}
        evidence = self.results.events_by_id(
            evidence_ids, min(days) - dt.timedelta(days=90) if days else None,
            max(days) if days else None, users={user_id} | related) if days else []
        events, total = self.results.events(user_id, start, end, channel, page_size,
                                            (page - 1) * page_size)
        neighbours: dict[str, int] = {}
        for finding in findings:
            for other in finding["related_users"] or []:
                if other != user_id:
                    alias_other = self.pseudonyms.of(str(other))
                    neighbours[alias_other] = neighbours.get(alias_other, 0) + 1
        person = self.pseudonyms.people.get(user_id)
        # every computer of these rows is learned before any text is redacted, so that a
        # name learned from a later row cannot have been missed in an earlier one
        self.pseudonyms.add_hosts([e.get("host") for e in evidence] +
                                  [e.get("host") for e in events])
        return self.pseudonyms.version, {
            "person": alias, "ready": self.results.ready,
            "cannot_see": self.results.cannot_see(),
            **self._context(person),
            "risk": [{"day": _iso(r["day"]), "risk": round(float(r["risk"]), 1),
                      "band": r["band"]} for r in risk],
            "latest_reasons": self._reasons(self.results.reasons_on(user_id, risk[-1]["day"])
                                            ) if risk else [],
            "findings": [{"day": _iso(f["day"]), "detector": f["detector"],
                          "detector_version": f["detector_version"],
                          "score": round(float(f["score"]), 3),
                          "reasons": self._reasons(f["reasons"]),
                          "evidence": list(f["evidence"] or [])} for f in findings[:50]],
            "evidence": [self._event(e) for e in evidence],
            "activity": {"from": start.isoformat(), "to": end.isoformat(), "channel": channel,
                         "page": page, "page_size": page_size, "total": total,
                         "pages": max(1, -(-total // page_size)),
                         "events": [self._event(e) for e in events]},
            "ledger": [self._redact(r) for r in self.results.ledger(user_id)],
            "ledger_families": [self._redact(r) for r in self.results.ledger_families(user_id)],
            "documents_out": [self._redact(r) for r in self.results.documents_out(user_id)],
            "neighbours": [{"person": p, "findings": n} for p, n in
                           sorted(neighbours.items(), key=lambda item: -item[1])],
        }

    # -- alert queue ---------------------------------------------------------------------
    def alerts(self, principal: Principal, state: str | None = None, band: str | None = None,
               limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """The alert queue, highest risk first."""
        self.require(principal, "view")
        query = alert_query(state, band)
        with self.store.sessions() as session:
            total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(Alert.peak_risk.desc(), Alert.alert_id)
                                   .limit(limit).offset(offset)).all()
            accounts = self._accounts(session)
            return {"total": total, "alerts": [self._alert_json(a, accounts) for a in rows]}

    def public_alert_id(self, alert_id: str) -> str:
        """The id the console shows for a detection-core alert id (keyed, like pseudonyms)."""
        return "AL-" + pseudonym(self.pseudonyms.key, "alert:" + alert_id)[2:]

    def _get_alert(self, session: Session, alert_id: str) -> Alert:
        alert = session.scalar(sa.select(Alert).where(Alert.public_id == alert_id))
        if alert is None:
            raise NotFoundError(f"no alert {alert_id!r}")
        return alert

    def alert(self, principal: Principal, alert_id: str) -> dict[str, Any]:
        """One alert with the findings and evidence of its days; the look is audited."""
        self.require(principal, "view")
        with self.store.sessions() as session:
            alert = self._get_alert(session, alert_id)
            shown = self._alert_json(alert, self._accounts(session))
            decisions = session.execute(
                sa.select(AlertDecision, Account.username)
                .join(Account, Account.id == AlertDecision.account_id)
                .where(AlertDecision.alert_id == alert.alert_id)
                .order_by(AlertDecision.at)).all()
            user_id, first, last = alert.user_id, alert.opened_day, alert.last_day
        self.record(principal, "alert.view", alert_id)
        findings = self.results.findings(user_id, first, last)
        ids = [e for f in findings for e in (f["evidence"] or [])][:500]
        related = {str(u) for f in findings for u in (f["related_users"] or [])}
        evidence = self.results.events_by_id(ids, first - dt.timedelta(days=90), last,
                                             users={user_id} | related)
        shown["findings"] = [{"day": _iso(f["day"]), "detector": f["detector"],
                              "score": round(float(f["score"]), 3),
                              "reasons": self._reasons(f["reasons"]),
                              "evidence": list(f["evidence"] or [])} for f in findings]
        shown["evidence"] = [self._event(e) for e in evidence]
        shown["decisions"] = [{"action": d.action, "by": name, "at": _iso(d.at),
                               "reason": d.reason} for d, name in decisions]
        shown["summary"] = alert_summary(shown["findings"], shown["evidence"],
                                         self.results.person_risk(user_id), first, last)
        return shown

    def _decide(self, session: Session, principal: Principal, alert: Alert, action: str,
                reason: str | None) -> None:
        session.add(AlertDecision(alert_id=alert.alert_id, account_id=principal.account_id,
                                  action=action, reason=reason, detectors=alert.detectors))
        alert.updated_at = utcnow()
        self._audit(session, principal, f"alert.{action}", alert.public_id, reason)

    def assign(self, principal: Principal, alert_id: str, assignee: str | None) -> None:
        """Assign an alert to an analyst or investigator (``None``: to oneself)."""
        self.require(principal, "triage")
        with self._alerts_changing() as session:
            alert = self._get_alert(session, alert_id)
            name = (assignee or principal.username).strip()
            account = find_account(session, name)
            if account is None or not account.active or account.role not in (
                    "analyst", "investigator"):
                raise InputError(f"{name!r} is not an active analyst or investigator")
            alert.assignee_id, alert.state = account.id, "assigned"
            self._decide(session, principal, alert, "assign", f"to {name}")

    def confirm(self, principal: Principal, alert_id: str, reason: str | None) -> None:
        """Confirm an alert as a real concern."""
        self.require(principal, "triage")
        text = _reason_text(reason)
        with self._alerts_changing() as session:
            alert = self._get_alert(session, alert_id)
            alert.state, alert.decision_reason = "confirmed", text
            self._decide(session, principal, alert, "confirm", text)

    def dismiss(self, principal: Principal, alert_id: str, reason: str | None,
                allowlist_kind: str | None = None, allowlist_value: str | None = None
                ) -> dict[str, Any]:
        """Dismiss an alert with a reason; optionally allowlist what caused it.

        Dismissals are the tuning feedback: ``console/feedback.json`` counts them per
        detector, and allowlist entries go to ``console/allowlists.json``, both read by the
        detection core on its next run. An allowlist entry holds for everyone, so one person
        adds it alone only when it names what this alert's own evidence shows (see
        :meth:`_beyond_evidence`); anything else is filed for a second person's approval
        and the answer says ``"allowlist": "pending"`` with the request's id.
        """
        self.require(principal, "triage")
        text = _reason_text(reason)
        wanted: tuple[str, str, str] | None = None
        beyond: str | None = None
        if allowlist_kind or allowlist_value:
            wanted = (str(allowlist_kind), *self._allowlist_value(allowlist_kind,
                                                                   allowlist_value))
            with self.store.sessions() as session:
                alert = self._get_alert(session, alert_id)
                about = (alert.public_id, alert.user_id, alert.opened_day, alert.last_day)
            beyond = self._beyond_evidence(wanted[0], wanted[1], wanted[2], *about)
        answer: dict[str, Any] = {"state": "dismissed", "allowlist": None}
        with self._alerts_changing() as session:
            alert = self._get_alert(session, alert_id)
            alert.state, alert.decision_reason = "dismissed", text
            self._decide(session, principal, alert, "dismiss", text)
            if wanted is not None:
                kind, value, shown = wanted
                entry_reason = f"dismissed {alert.public_id}: {text}"
                if beyond is None:
                    self._insert_allowlist(session, principal, kind, value, entry_reason,
                                           alert=alert.public_id, case=alert.case_id,
                                           client=principal.client or None)
                    answer["allowlist"] = "added"
                else:
                    request = self._file_request(
                        session, principal, "allowlist.add",
                        {"kind": kind, "value": value, "reason": entry_reason},
                        f"add to the allowlist, for everyone: {kind} {shown} ({beyond})",
                        text, alert.case_id, alert.public_id)
                    answer.update(allowlist="pending", approval=request.id)
        self.write_tuning_files()
        return answer

    # -- cases ---------------------------------------------------------------------------
    def open_case(self, principal: Principal, alert_ids: Iterable[str], title: str | None
                  ) -> int:
        """Open a case from one or more alerts about the same person."""
        self.require(principal, "triage")
        ids = [a for a in alert_ids if a]
        if not ids:
            raise InputError("a case is opened from at least one alert")
        with self._alerts_changing() as session:
            alerts = [self._get_alert(session, a) for a in ids]
            if len({a.user_id for a in alerts}) != 1:
                raise InputError("the alerts of one case must be about one person")
            label = (title or "").strip() or (
                f"{self.pseudonyms.of(alerts[0].user_id)} from {alerts[0].opened_day}")
            if len(label) > 200:
                raise InputError("the title is longer than 200 characters")
            case = Case(title=label, subject_user_id=alerts[0].user_id, status="open",
                        created_by=principal.account_id)
            session.add(case)
            session.flush()
            for alert in alerts:
                alert.case_id = case.id
            self._audit(session, principal, "case.open", f"case:{case.id}", alerts=ids)
            return case.id

    def _get_case(self, session: Session, case_id: int) -> Case:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFoundError(f"no case {case_id}")
        return case

    def cases(self, principal: Principal) -> list[dict[str, Any]]:
        """Every case, newest first."""
        self.require(principal, "view")
        with self.store.sessions() as session:
            accounts = self._accounts(session)
            return [{"id": c.id, "title": self._redact(c.title), "status": c.status,
                     "person": self.pseudonyms.of(c.subject_user_id),
                     "created_by": accounts.get(c.created_by), "created_at": _iso(c.created_at),
                     "updated_at": _iso(c.updated_at)}
                    for c in session.scalars(sa.select(Case).order_by(Case.id.desc())).all()]

    def case(self, principal: Principal, case_id: int) -> dict[str, Any]:
        """One case with its alerts, notes and evidence; the look is audited."""
        self.require(principal, "view")
        with self.store.sessions() as session:
            case = self._get_case(session, case_id)
            subject = case.subject_user_id
            accounts = self._accounts(session)
            alerts = session.scalars(sa.select(Alert).where(Alert.case_id == case_id)).all()
            notes = session.scalars(sa.select(CaseNote).where(CaseNote.case_id == case_id)
                                    .order_by(CaseNote.id)).all()
            items = session.scalars(sa.select(CaseEvidence).where(
                CaseEvidence.case_id == case_id).order_by(CaseEvidence.id)).all()
            shown = {"id": case.id, "title": self._redact(case.title), "status": case.status,
                     "person": self.pseudonyms.of(case.subject_user_id),
                     "created_by": accounts.get(case.created_by),
                     "created_at": _iso(case.created_at),
                     "alerts": [self._alert_json(a, accounts) for a in alerts],
                     "notes": [{"id": n.id, "author": accounts.get(n.author_id),
                                "at": _iso(n.created_at), "body": self._redact(n.body)}
                               for n in notes],
                     "evidence_refs": [(e.event_id, e.day, e.note, accounts.get(e.added_by))
                                       for e in items]}
        self.record(principal, "case.view", f"case:{case_id}")
        refs = shown.pop("evidence_refs")
        events = {e["event_id"]: e for e in self.results.events_by_id(
            [r[0] for r in refs], min((r[1] for r in refs), default=None),
            max((r[1] for r in refs), default=None), users=[subject])}
        shown["evidence"] = [{"event_id": r[0], "day": _iso(r[1]), "note": self._redact(r[2]),
                              "added_by": r[3],
                              "event": self._event(events[r[0]]) if r[0] in events else None}
                             for r in refs]
        return shown

    def add_note(self, principal: Principal, case_id: int, body: str | None) -> None:
        """Write a note on a case."""
        self.require(principal, "triage")
        text = (body or "").strip()
        if not text or len(text) > 20000:
            raise InputError("a note has 1 to 20,000 characters")
        with self.store.transaction() as session:
            self._get_case(session, case_id)
            session.add(CaseNote(case_id=case_id, author_id=principal.account_id, body=text))
            self._audit(session, principal, "case.note", f"case:{case_id}")

    def add_evidence(self, principal: Principal, case_id: int, event_id: str | None,
                     day: str | None, note: str | None = None) -> None:
        """Attach a logged event (by id and day) to a case as evidence."""
        self.require(principal, "triage")
        when = _parse_day(day, "day")
        if not event_id or when is None:
            raise InputError("evidence needs an event_id and its day")
        with self.store.transaction() as session:
            case = self._get_case(session, case_id)
            found = self.results.events_by_id([event_id], when, when,
                                              users=[case.subject_user_id])
            if not found or found[0]["user_id"] != case.subject_user_id:
                raise InputError(f"no event {event_id!r} of the case's person on {when}")
            session.add(CaseEvidence(case_id=case_id, event_id=event_id, day=when,
                                     note=(note or "").strip() or None,
                                     added_by=principal.account_id))
            self._audit(session, principal, "case.evidence", f"case:{case_id}",
                        event_id=event_id)

    def set_case_status(self, principal: Principal, case_id: int, status: str) -> None:
        """Move a case along its workflow."""
        self.require(principal, "triage")
        if status not in CASE_STATES:
            raise InputError(f"status must be one of {', '.join(CASE_STATES)}")
        with self.store.transaction() as session:
            case = self._get_case(session, case_id)
            case.status, case.updated_at = status, utcnow()
            self._audit(session, principal, "case.status", f"case:{case_id}", status=status)

    def export_bundle(self, principal: Principal, case_id: int) -> tuple[bytes, str]:
        """The case's evidence bundle (zip) and its chain head, recorded in the audit log."""
        self.require(principal, "export_evidence")
        shown = self.case(principal, case_id)
        with self.store.sessions() as session:
            user_id = self._get_case(session, case_id).subject_user_id
            trail = session.scalars(sa.select(AuditEntry).where(
                AuditEntry.target == f"case:{case_id}").order_by(AuditEntry.seq)).all()
            trail_rows = [{"seq": a.seq, "at": a.at, "actor": a.actor, "action": a.action,
                           "hash": a.hash} for a in trail]
        findings = []
        for alert in shown["alerts"]:
            first, last = dt.date.fromisoformat(alert["opened_day"]), dt.date.fromisoformat(
                alert["last_day"])
            findings += [self._redact({k: v for k, v in f.items() if k != "related_users"})
                         for f in self.results.findings(user_id, first, last)]

        def lines(rows: list[Any]) -> bytes:
            return "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n"
                           for r in rows).encode("utf-8")

        files = [
            ("case.json", json.dumps({k: v for k, v in shown.items()
                                      if k not in ("notes", "evidence")},
                                     indent=2, default=str, ensure_ascii=False).encode()),
            ("events.jsonl", lines([e["event"] | {"note": e["note"]} for e in shown["evidence"]
                                    if e["event"]])),
            ("findings.jsonl", lines(findings)),
            ("notes.jsonl", lines(shown["notes"])),
            ("audit.jsonl", lines(trail_rows)),
        ]
        meta = {"case_id": case_id, "person": shown["person"],
                "created_at": utcnow().isoformat(), "created_by": principal.username}
        data, head = build_bundle(files, meta, self.audit_key)
        self.record(principal, "case.export", f"case:{case_id}", chain_head=head,
                    bytes=len(data))
        return data, head

    def event_text(self, principal: Principal, alias: str, event_id: str | None,
                   day: str | None, reason: str | None, case_id: int | None = None
                   ) -> dict[str, Any]:
        """The free text the console withholds from one of the person's events (its content,
        full object and attributes), pseudonymised, for an investigator with a stated reason;
        audited with the client address and the case it serves."""
        self.require(principal, "reveal")
        text = _reason_text(reason)
        user_id = self.person_of(alias)
        when = _parse_day(day, "day")
        if not event_id or when is None:
            raise InputError("reading an event's text needs its event_id and day")
        # read before the transaction: its lock serialises every write of the process
        found = self.results.events_by_id([event_id], when, when, users=[user_id])
        with self.store.transaction() as session:
            if case_id is not None and self._get_case(session, case_id).subject_user_id != (
                    user_id):
                raise InputError(f"case {case_id} is not about {alias}")
            if not found or found[0]["user_id"] != user_id:
                raise NotFoundError(f"no event {event_id!r} of {alias} on {when}")
            self._audit(session, principal, "event.text", alias, text, event_id=event_id,
                        client=principal.client or None, case=case_id)
        row = found[0]
        self.pseudonyms.add_hosts([row.get("host")])
        attrs = row.get("attrs")
        return {"person": alias, "event_id": event_id, "day": when.isoformat(),
                "object": self._redact(row.get("object")),
                "content": self._redact(_capped(row.get("content"))),
                "attrs": self._redact(json.loads(attrs) if isinstance(attrs, str) and attrs
                                      else attrs)}

    # -- reveal --------------------------------------------------------------------------
    def reveal_needs_approval(self) -> bool:
        """Whether a reveal needs a privacy officer's approval (a console setting)."""
        with self.store.sessions() as session:
            value = session.get(ConsoleSetting, "reveal_requires_approval")
            return bool(value and json.loads(value.value))

    def reveal(self, principal: Principal, alias: str, reason: str | None,
               case_id: int | None = None) -> dict[str, Any]:
        """Who a pseudonym is, for an investigator with a stated reason (audited).

        When approval is required, the first call files a request and the identity is given
        only once a privacy officer (not the requester) has approved it. ``case_id`` names
        the case the reveal serves (its subject must be this person); it is audited with the
        client address and shown to the approver.
        """
        self.require(principal, "reveal")
        text = _reason_text(reason)
        user_id = self.person_of(alias)
        approval = self.reveal_needs_approval()
        with self.store.transaction() as session:
            if case_id is not None and self._get_case(session, case_id).subject_user_id != (
                    user_id):
                raise InputError(f"case {case_id} is not about {alias}")
            if approval:
                approved = session.scalar(sa.select(RevealRequest).where(
                    RevealRequest.requester_id == principal.account_id,
                    RevealRequest.user_id == user_id, RevealRequest.status == "approved"))
                if approved is None:
                    request = RevealRequest(requester_id=principal.account_id, user_id=user_id,
                                            reason=text, status="pending", case_id=case_id)
                    session.add(request)
                    session.flush()
                    self._audit(session, principal, "reveal.request", alias, text,
                                request=request.id, client=principal.client or None,
                                case=case_id)
                    return {"person": alias, "status": "pending", "request": request.id}
                approved.status = "used"
            self._audit(session, principal, "reveal", alias, text,
                        client=principal.client or None, case=case_id)
        person = self.pseudonyms.people.get(user_id) or Person(user_id)
        return {"person": alias, "status": "revealed", "user_id": user_id,
                "name": person.name, "email": person.email, "role": person.role,
                "department": person.department}

    def reveal_requests(self, principal: Principal) -> list[dict[str, Any]]:
        """Pending reveal requests (for privacy officers)."""
        self.require(principal, "approve_reveal")
        with self.store.sessions() as session:
            accounts = self._accounts(session)
            rows = session.scalars(sa.select(RevealRequest).where(
                RevealRequest.status == "pending").order_by(RevealRequest.id)).all()
            return [{"id": r.id, "person": self.pseudonyms.of(r.user_id),
                     "requester": accounts.get(r.requester_id), "reason": r.reason,
                     "case_id": r.case_id, "at": _iso(r.created_at)} for r in rows]

    def decide_reveal(self, principal: Principal, request_id: int, approve: bool) -> None:
        """Approve or deny a pending reveal request (never one's own)."""
        self.require(principal, "approve_reveal")
        with self.store.transaction() as session:
            request = session.get(RevealRequest, request_id)
            if request is None or request.status != "pending":
                raise NotFoundError(f"no pending reveal request {request_id}")
            if request.requester_id == principal.account_id:
                raise AccessError("a reveal request needs a second person's approval")
            request.status = "approved" if approve else "denied"
            request.approver_id, request.decided_at = principal.account_id, utcnow()
            self._audit(session, principal, "reveal.approve" if approve else "reveal.deny",
                        self.pseudonyms.of(request.user_id), request=request_id,
                        client=principal.client or None, case=request.case_id)

    # -- audit ---------------------------------------------------------------------------
    def audit_log(self, principal: Principal, limit: int = 200, before: int | None = None
                  ) -> dict[str, Any]:
        """Audit entries, newest first, and whether the chain verifies (incrementally: see
        :class:`~molehunt.cases.audit.IncrementalVerifier`)."""
        self.require(principal, "audit")
        query = sa.select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
        if before is not None:
            query = query.where(AuditEntry.seq < before)
        with self.store.sessions() as session:
            rows = session.scalars(query).all()
            entries = [{"seq": e.seq, "at": e.at, "actor": e.actor, "role": e.role,
                        "action": e.action, "target": e.target, "reason": e.reason,
                        "details": json.loads(e.details), "hash": e.hash} for e in rows]
        return {"entries": entries, "verification": self.audit_verifier.verify().to_json()}

    # -- settings ------------------------------------------------------------------------
    def settings(self, principal: Principal) -> dict[str, Any]:
        """Allowlists, detector weights, console settings (and accounts, for admins)."""
        self.require(principal, "settings_read")
        with self.store.sessions() as session:
            accounts = self._accounts(session)
            shown: dict[str, Any] = {
                "allowlist": [{"id": e.id, "kind": e.kind, "value": self._redact(e.value),
                               "reason": self._redact(e.reason),
                               "by": accounts.get(e.created_by), "at": _iso(e.created_at)}
                              for e in session.scalars(sa.select(AllowlistEntry)
                                                       .order_by(AllowlistEntry.id)).all()],
                "weights": {w.detector: w.weight for w in session.scalars(
                    sa.select(DetectorWeight)).all()},
                "reveal_requires_approval": self.reveal_needs_approval(),
            }
            if principal.can("accounts"):
                shown["accounts"] = [{"username": a.username, "role": a.role,
                                      "active": a.active}
                                     for a in session.scalars(sa.select(Account)
                                                              .order_by(Account.id)).all()]
        return shown

    def _allowlist_value(self, kind: str | None, value: str | None) -> tuple[str, str]:
        """The value an allowlist entry stores (a user id, a computer's name) and the form an
        analyst may see (the pseudonym), from what was typed; one-line errors."""
        if kind not in ALLOWLIST_KINDS:
            raise InputError(f"allowlist kind must be one of {', '.join(ALLOWLIST_KINDS)}")
        cleaned = (value or "").strip()
        if not cleaned or len(cleaned) > 512:
            raise InputError("an allowlist value has 1 to 512 characters")
        if kind == "person":
            user_id = self.person_of(cleaned) if cleaned.startswith("P-") else cleaned
            return user_id, self.pseudonyms.of(user_id)
        if kind == "host" and cleaned.startswith("H-"):
            host = self.pseudonyms.host_of(cleaned)
            if host is None:
                raise InputError(f"no computer {cleaned!r} has been shown in this console")
            return host, cleaned
        return cleaned, str(self._redact(cleaned))

    def _insert_allowlist(self, session: Session, principal: Principal, kind: str, value: str,
                          reason: str, created_by: int | None = None, **details: Any) -> None:
        session.add(AllowlistEntry(kind=kind, value=value, reason=reason,
                                   created_by=created_by or principal.account_id))
        self._audit(session, principal, "allowlist.add", f"{kind}", reason, **details)

    def _beyond_evidence(self, kind: str, value: str, shown: str, alert_id: str,
                         user_id: str, first: dt.date, last: dt.date) -> str | None:
        """Why allowlisting ``value`` needs a second person, or ``None`` when it names only
        what the alert's own evidence shows (the one case one person may allowlist alone).

        A person entry lowers every finding about that person, so it always needs a second
        person. A domain must be exactly an evidence event's domain (``com`` would match
        every ``.com`` domain) and not a categorised one (webmail, cloud storage, job boards,
        competitors, ...): ``gmail.com`` in one alert's evidence is still everyone's channel.
        """
        if kind == "person":
            return "a person allowlist lowers every finding about that person"
        if kind == "domain":
            settings = self.workspace_settings
            category = load_domain_categories(settings.domain_category_files,
                                              settings.competitors).category(value)
            if category is not None:
                return (f"{shown} is a {category.replace('_', ' ')} domain, a channel"
                        " everyone uses")
        findings = self.results.findings(user_id, first, last)
        ids = [e for f in findings for e in (f["evidence"] or [])][:500]
        related = {str(u) for f in findings for u in (f["related_users"] or [])}
        events = self.results.events_by_id(ids, first - dt.timedelta(days=90), last,
                                           users={user_id} | related)
        if any(_in_evidence(kind, value, event) for event in events):
            return None
        return f"not in the evidence of alert {alert_id}"

    def add_allowlist(self, principal: Principal, kind: str | None, value: str | None,
                      reason: str | None, case_id: int | None = None) -> dict[str, Any]:
        """Ask for an allowlist entry from the settings (admins): not tied to any alert's
        evidence, it always waits for a second person's approval (see :meth:`decide`)."""
        self.require(principal, "settings_write")
        text = _reason_text(reason)
        value_kept, shown = self._allowlist_value(kind, value)
        with self.store.transaction() as session:
            request = self._file_request(
                session, principal, "allowlist.add",
                {"kind": str(kind), "value": value_kept, "reason": text},
                f"add to the allowlist, for everyone: {kind} {shown} (from the settings, not"
                " from an alert's evidence)", text, self._case_ref(session, case_id))
        return {"status": "pending", "approval": request.id}

    def remove_allowlist(self, principal: Principal, entry_id: int) -> None:
        """Remove an allowlist entry."""
        self.require(principal, "settings_write")
        with self.store.transaction() as session:
            entry = session.get(AllowlistEntry, entry_id)
            if entry is None:
                raise NotFoundError(f"no allowlist entry {entry_id}")
            session.delete(entry)
            self._audit(session, principal, "allowlist.remove", f"{entry.kind}")
        self.write_tuning_files()

    def set_weight(self, principal: Principal, detector: str | None, weight: float) -> None:
        """Set a detector's weight in the risk score (0 turns it off, at most 5)."""
        self.require(principal, "settings_write")
        name = (detector or "").strip()
        if not name or len(name) > 128 or not all(c.isalnum() or c in "_-." for c in name):
            raise InputError("detector must be a detector name")
        if not 0 <= weight <= 5:
            raise InputError("weight must be between 0 and 5")
        with self.store.transaction() as session:
            row = session.get(DetectorWeight, name)
            if row is None:
                session.add(DetectorWeight(detector=name, weight=weight,
                                           updated_by=principal.account_id))
            else:
                row.weight, row.updated_by, row.updated_at = weight, principal.account_id, utcnow()
            self._audit(session, principal, "weight.set", name, weight=weight)
        self.write_tuning_files()

    def set_reveal_approval(self, principal: Principal, required: bool,
                            reason: str | None = None, case_id: int | None = None
                            ) -> dict[str, Any]:
        """Require (or not) a privacy officer's approval for every reveal.

        Requiring it takes effect at once. Switching it off is filed for a second admin's or
        a privacy officer's approval (with a stated reason): otherwise one admin could switch
        it off, reveal through an investigator account and switch it back.
        """
        self.require(principal, "settings_write")
        if not required and self.reveal_needs_approval():
            text = _reason_text(reason)
            with self.store.transaction() as session:
                request = self._file_request(
                    session, principal, "setting.reveal_approval", {"required": False},
                    "reveal approval: required → not required (investigators would then see"
                    " identities without a privacy officer's approval)", text,
                    self._case_ref(session, case_id))
            return {"status": "pending", "approval": request.id}
        with self.store.transaction() as session:
            self._set_reveal_approval(session, principal, required,
                                      case=self._case_ref(session, case_id),
                                      client=principal.client or None)
        return {"status": "done"}

    def _set_reveal_approval(self, session: Session, principal: Principal, required: bool,
                             **details: Any) -> None:
        row = session.get(ConsoleSetting, "reveal_requires_approval")
        if row is None:
            session.add(ConsoleSetting(key="reveal_requires_approval",
                                       value=json.dumps(required)))
        else:
            row.value = json.dumps(required)
        self._audit(session, principal, "setting.reveal_approval", "", required=required,
                    **details)

    def write_tuning_files(self) -> None:
        """Write allowlists, weights and dismissal counts where the detection core reads them."""
        folder = self.workspace / CONSOLE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        with self.store.sessions() as session:
            allow = [{"kind": e.kind, "value": e.value, "reason": e.reason}
                     for e in session.scalars(sa.select(AllowlistEntry)).all()]
            weights = {w.detector: w.weight for w in session.scalars(
                sa.select(DetectorWeight)).all()}
            counts: dict[str, dict[str, int]] = {}
            for action, detectors in session.execute(
                    sa.select(AlertDecision.action, AlertDecision.detectors).where(
                        AlertDecision.action.in_(("confirm", "dismiss")))):
                for detector in json.loads(detectors):
                    per = counts.setdefault(detector, {"confirm": 0, "dismiss": 0})
                    per[action] += 1
        for name, value in (("allowlists.json", allow), ("detector_weights.json", weights),
                            ("feedback.json", counts)):
            temporary = folder / f".{name}.tmp"
            temporary.write_text(json.dumps(value, indent=2, ensure_ascii=False), "utf-8")
            temporary.replace(folder / name)

    # -- accounts ------------------------------------------------------------------------
    def create_account(self, principal: Principal, username: str, password: str, role: str,
                       reason: str | None = None, case_id: int | None = None
                       ) -> dict[str, Any]:
        """Add an account (admins).

        An account with a privileged role (:data:`~molehunt.cases.models.PRIVILEGED_ROLES`:
        investigator, privacy officer, admin) is filed, with a stated reason, for a second
        admin's or a privacy officer's approval and created only then; its password is kept
        as a hash in the request.
        """
        self.require(principal, "accounts")
        name = canonical_username(username)
        check_role(role)
        text = _reason_text(reason) if role in PRIVILEGED_ROLES else None
        # before the write lock: argon2 is slow on purpose
        hashed = hash_password(password, name)
        with self.store.transaction() as session:
            case = self._case_ref(session, case_id)
            if text is None:
                create_account(session, name, hashed, role)
                self._audit(session, principal, "account.create", username, role=role,
                            client=principal.client or None, case=case)
                return {"status": "done"}
            if find_account(session, name) is not None:
                raise InputError(f"user name {name!r} is taken")
            request = self._file_request(
                session, principal, "account.create",
                {"username": name, "role": role, "password_hash": hashed.value},
                f"create account {name} with role {role}", text, case)
        return {"status": "pending", "approval": request.id}

    def update_account(self, principal: Principal, username: str, role: str | None,
                       active: bool | None, reason: str | None = None,
                       case_id: int | None = None) -> dict[str, Any]:
        """Change an account's role or deactivate it (admins; never one's own).

        Deactivating ends the account's sessions and revokes its API tokens: reactivating it
        later does not bring them back. Giving an account a privileged role, or reactivating
        an account that has one, waits for a second admin's or a privacy officer's approval.
        """
        self.require(principal, "accounts")
        if role is not None:
            check_role(role)
        with self.store.transaction() as session:
            account = find_account(session, username)
            if account is None:
                raise NotFoundError(f"no account {username!r}")
            if account.id == principal.account_id:
                raise InputError("you cannot change your own role or deactivate yourself")
            new_role = role if role is not None else account.role
            promoted = role is not None and role != account.role and role in PRIVILEGED_ROLES
            revived = active is True and not account.active and new_role in PRIVILEGED_ROLES
            case = self._case_ref(session, case_id)
            if promoted or revived:
                text = _reason_text(reason)
                what = [f"role {account.role} → {role}"] if promoted else []
                what += ["reactivate (an inactive account)"] if revived else []
                if active is False:
                    what.append("deactivate")
                request = self._file_request(
                    session, principal, "account.update",
                    {"username": account.username, "role": role, "active": active},
                    f"change account {account.username}: {', '.join(what)}", text, case)
                return {"status": "pending", "approval": request.id}
            self._update_account(session, principal, account, role, active, case=case,
                                 client=principal.client or None)
        self.principals.clear()
        return {"status": "done"}

    def _update_account(self, session: Session, principal: Principal, account: Account,
                        role: str | None, active: bool | None, **details: Any) -> None:
        if role is not None:
            account.role = check_role(role)
        revoked = 0
        if active is not None:
            account.active = active
            if not active:
                revoked = end_access(session, account)
        self._audit(session, principal, "account.update", account.username, role=role,
                    active=active, tokens_revoked=revoked, **details)

    def reset_password(self, principal: Principal, username: str, reason: str | None = None,
                       case_id: int | None = None) -> dict[str, Any]:
        """Give an account a new random password; ends its sessions and revokes its API
        tokens (admins; audited). Answers ``{"status": "done", "password": ...}`` (shown
        once).

        Whoever knows a password can act as its account, so an account with a privileged
        role gets a new password only when a second admin or a privacy officer approves; the
        password is then shown to that approver, never to the requester.
        """
        self.require(principal, "accounts")
        with self.store.sessions() as session:
            account = find_account(session, username)
            if account is None:
                raise NotFoundError(f"no account {username!r}")
            privileged = account.role in PRIVILEGED_ROLES
        if privileged and account.id != principal.account_id:
            text = _reason_text(reason)
            with self.store.transaction() as session:
                request = self._file_request(
                    session, principal, "account.password_reset",
                    {"username": account.username},
                    f"new password for {account.username} ({account.role}); shown to the"
                    " approver", text, self._case_ref(session, case_id))
            return {"status": "pending", "approval": request.id}
        password = generate_password()
        hashed = hash_password(password)  # before the write lock
        with self.store.transaction() as session:
            self._reset_password(session, principal, username, hashed,
                                 client=principal.client or None)
        self.principals.clear()
        return {"status": "done", "password": password}

    def _reset_password(self, session: Session, principal: Principal, username: str,
                        hashed: HashedPassword, **details: Any) -> None:
        account = find_account(session, username)
        if account is None:
            raise NotFoundError(f"no account {username!r}")
        set_password(session, account, hashed)
        self._audit(session, principal, "account.password_reset", account.username,
                    **details)

    # -- separation of duties: requests that wait for a second person ---------------------
    def _case_ref(self, session: Session, case_id: int | None) -> int | None:
        """``case_id`` when it names a case (the one a request serves), else a 404."""
        if case_id is None:
            return None
        self._get_case(session, case_id)
        return case_id

    def _file_request(self, session: Session, principal: Principal, action: str,
                      change: dict[str, Any], summary: str, reason: str,
                      case_id: int | None = None, alert_id: str | None = None
                      ) -> ApprovalRequest:
        """File a change for a second person's approval; audited as ``approval.request``."""
        now = utcnow()
        request = ApprovalRequest(
            action=action, change=json.dumps(change), summary=summary, reason=reason,
            case_id=case_id, alert_id=alert_id, requester_id=principal.account_id,
            requester_client=(principal.client or "unknown")[:64], status="pending",
            created_at=now, expires_at=now + dt.timedelta(days=APPROVAL_DAYS))
        session.add(request)
        session.flush()
        self._audit(session, principal, "approval.request", f"approval:{request.id}", reason,
                    kind=action, summary=summary, client=request.requester_client,
                    case=case_id, alert=alert_id, expires_at=_iso(request.expires_at))
        return request

    def _approval_json(self, request: ApprovalRequest, accounts: dict[int, tuple[str, str]],
                       principal: Principal, now: dt.datetime) -> dict[str, Any]:
        status = ("expired" if request.status == "pending" and request.expires_at <= now
                  else request.status)
        return {"id": request.id, "action": request.action,
                "summary": self._redact(request.summary), "reason": self._redact(request.reason),
                "case_id": request.case_id, "alert_id": request.alert_id,
                "requester": accounts.get(request.requester_id, ("", ""))[0],
                "requested_at": _iso(request.created_at),
                "expires_at": _iso(request.expires_at), "status": status,
                "approver": accounts.get(request.approver_id, ("", ""))[0]
                if request.approver_id else None,
                "decided_at": _iso(request.decided_at),
                "decision_reason": self._redact(request.decision_reason),
                "can_decide": status == "pending"
                and request.requester_id != principal.account_id
                and principal.can(approver_permission(
                    request.action, accounts.get(request.requester_id, ("", "admin"))[1]))}

    def approvals(self, principal: Principal, limit: int = 50) -> dict[str, Any]:
        """Requests waiting for a second person: those this principal may decide
        (``to_decide``, oldest first) and this principal's own recent ones (``mine``)."""
        self.require(principal, "settings_read")
        now = utcnow()
        with self.store.sessions() as session:
            accounts = {i: (n, r) for i, n, r in session.execute(
                sa.select(Account.id, Account.username, Account.role))}
            pending = session.scalars(sa.select(ApprovalRequest).where(
                ApprovalRequest.status == "pending", ApprovalRequest.expires_at > now)
                .order_by(ApprovalRequest.id)).all()
            mine = session.scalars(sa.select(ApprovalRequest).where(
                ApprovalRequest.requester_id == principal.account_id)
                .order_by(ApprovalRequest.id.desc()).limit(limit)).all()
            shown = [self._approval_json(r, accounts, principal, now) for r in pending]
            return {"to_decide": [r for r in shown if r["can_decide"]][:limit],
                    "mine": [self._approval_json(r, accounts, principal, now) for r in mine]}

    def decide(self, principal: Principal, request_id: int, approve: bool,
               reason: str | None = None) -> dict[str, Any]:
        """Approve (and so apply) or deny a request filed by someone else.

        Refused, and audited as ``approval.refused``: one's own request, one about one's own
        account, a role that may not decide this kind of request. Every decision is audited
        with the approver's client address and the case and alert the request serves. An
        approved new password is answered here, once, to the approver.
        """
        self.require(principal, "settings_read")
        note = (reason or "").strip() or None
        if note is not None and len(note) > 4000:
            raise InputError("the reason is longer than 4,000 characters")
        with self.store.sessions() as session:
            request = session.get(ApprovalRequest, request_id)
            if request is None:
                raise NotFoundError(f"no approval request {request_id}")
            action, change = request.action, json.loads(request.change)
            requester = session.get(Account, request.requester_id)
            needed = approver_permission(action, requester.role if requester else "admin")
            refusal = None
            if request.requester_id == principal.account_id:
                refusal = "a request needs a second person: nobody approves their own"
            elif change.get("username") == principal.username:
                refusal = "nobody approves a change of their own account"
            elif not principal.can(needed):
                refusal = f"the {principal.role} role may not decide this request ({needed})"
            about = {"kind": action, "case": request.case_id, "alert": request.alert_id}
        if refusal is not None:
            self.record(principal, "approval.refused", f"approval:{request_id}", refusal,
                        client=principal.client or None, approve=approve, **about)
            raise AccessError(refusal)
        password = generate_password() if approve and action == "account.password_reset" else (
            None)
        hashed = hash_password(password) if password else None  # outside the write lock
        client = (principal.client or "unknown")[:64]
        with self.store.transaction() as session:
            request = session.get(ApprovalRequest, request_id)
            if request is None or request.status != "pending":
                raise NotFoundError(f"no pending approval request {request_id}")
            if request.expires_at <= utcnow():
                raise InputError(f"approval request {request_id} expired on"
                                 f" {request.expires_at:%Y-%m-%d %H:%M} UTC; file it again")
            request.status = "approved" if approve else "denied"
            request.approver_id, request.approver_client = principal.account_id, client
            request.decision_reason, request.decided_at = note, utcnow()
            requester = session.get(Account, request.requester_id)
            self._audit(session, principal, "approval.approve" if approve else "approval.deny",
                        f"approval:{request_id}", note, summary=request.summary,
                        requested_by=requester.username if requester else None,
                        client=client, **about)
            if approve:
                self._apply(session, principal, request, change, hashed,
                            approval=request_id, requested_by=requester.username
                            if requester else None, client=client, case=request.case_id,
                            alert=request.alert_id)
        if approve and action == "allowlist.add":
            self.write_tuning_files()
        if approve and action.startswith("account."):
            self.principals.clear()
        answer: dict[str, Any] = {"status": "approved" if approve else "denied",
                                  "summary": self._redact(request.summary)}
        if password is not None:
            answer["password"] = password
        return answer

    def _apply(self, session: Session, principal: Principal, request: ApprovalRequest,
               change: dict[str, Any], hashed: HashedPassword | None, **details: Any) -> None:
        """Make an approved request's change, audited as the change itself."""
        if request.action == "allowlist.add":
            self._insert_allowlist(session, principal, change["kind"], change["value"],
                                   change["reason"], created_by=request.requester_id,
                                   **details)
        elif request.action == "setting.reveal_approval":
            self._set_reveal_approval(session, principal, bool(change["required"]), **details)
        elif request.action == "account.create":
            create_account(session, change["username"], HashedPassword(change["password_hash"]),
                           change["role"])
            self._audit(session, principal, "account.create", change["username"],
                        role=change["role"], **details)
        elif request.action == "account.update":
            account = find_account(session, change["username"])
            if account is None:
                raise NotFoundError(f"no account {change['username']!r}")
            self._update_account(session, principal, account, change["role"], change["active"],
                                 **details)
        elif request.action == "account.password_reset" and hashed is not None:
            self._reset_password(session, principal, change["username"], hashed, **details)
        else:
            raise InputError(f"unknown kind of request {request.action!r}")

    def create_token(self, principal: Principal, name: str,
                     scopes: Iterable[str] = ("read",), days: int = TOKEN_DAYS) -> str:
        """A new API token acting as the caller (shown once), for ``scopes`` and ``days``.

        Only a signed-in person makes tokens: a token cannot mint another (which would
        outlive its own expiry or revocation, or widen its scopes).
        """
        self.require(principal, "self")
        if principal.via == "token":
            raise AccessError("an API token cannot create API tokens; sign in to make one")
        wanted = list(scopes)
        with self.store.transaction() as session:
            account = session.get(Account, principal.account_id)
            if account is None:
                raise NotFoundError("account gone")
            token = create_token(session, account, name, wanted, days)
            self._audit(session, principal, "token.create", name, scopes=sorted(set(wanted)),
                        days=days)
        return token

    def tokens(self, principal: Principal) -> list[dict[str, Any]]:
        """API tokens: one's own; every account's for those who manage accounts."""
        self.require(principal, "self")
        query = sa.select(ApiToken, Account.username).join(
            Account, Account.id == ApiToken.account_id).order_by(ApiToken.id)
        if not principal.can("accounts"):
            query = query.where(ApiToken.account_id == principal.account_id)
        with self.store.sessions() as session:
            now = utcnow()
            return [{"id": t.id, "name": t.name, "owner": owner,
                     "created_at": _iso(t.created_at), "revoked": t.revoked,
                     "scopes": t.scopes.split(), "expires_at": _iso(t.expires_at),
                     "expired": t.expires_at is None or t.expires_at <= now}
                    for t, owner in session.execute(query).all()]

    def revoke_token(self, principal: Principal, token_id: int) -> None:
        """Revoke an API token (one's own, or any for those who manage accounts); at once."""
        self.require(principal, "self")
        with self.store.transaction() as session:
            token = session.get(ApiToken, token_id)
            if token is None or (token.account_id != principal.account_id
                                 and not principal.can("accounts")):
                raise NotFoundError(f"no API token {token_id}")  # others' ids stay unknown
            if not token.revoked:
                token.revoked = True
                self._audit(session, principal, "token.revoke", token.name, token=token_id)
        self.principals.clear()

    # -- SIEM ----------------------------------------------------------------------------
    def siem_alerts(self, principal: Principal, since: str | None = None) -> list[dict[str, Any]]:
        """Alerts for SIEM export (pseudonymous), optionally opened on or after ``since``."""
        self.require(principal, "siem")
        first = _parse_day(since, "since")
        query = sa.select(Alert).order_by(Alert.opened_day, Alert.alert_id)
        if first is not None:
            query = query.where(Alert.last_day >= first)
        with self.store.sessions() as session:
            accounts = self._accounts(session)
            rows = [self._alert_json(a, accounts) for a in session.scalars(query).all()]
        for row in rows:
            row["summary"] = "; ".join(str(r.get("text", "")) for r in row["reasons"][:3])
        self.record(principal, "siem.export", "", count=len(rows))
        return rows

    def ocsf_alerts(self, principal: Principal, since: str | None = None
                    ) -> list[dict[str, Any]]:
        """Alerts for the OCSF export (pseudonymous): :meth:`siem_alerts` plus, per alert,
        the findings of its days (reasons, evidence event ids, related people) and the
        protected-content hits among that evidence (see :mod:`molehunt.cases.ocsf`)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from molehunt.content.protect import read_batch_table

        self.require(principal, "siem")
        first = _parse_day(since, "since")
        query = sa.select(Alert).order_by(Alert.opened_day, Alert.alert_id)
        if first is not None:
            query = query.where(Alert.last_day >= first)
        with self.store.sessions() as session:
            accounts = self._accounts(session)
            alerts = [(a.user_id, a.opened_day, a.last_day, self._alert_json(a, accounts))
                      for a in session.scalars(query).all()]
        # only the alerted people's matches become Python rows: the table has one row per
        # outbound event and protected document of everyone
        table = read_batch_table(Workspace(self.workspace), "content_matches")
        table = table.filter(pc.is_in(table["user_id"],
                                      value_set=pa.array(sorted({a[0] for a in alerts}),
                                                         pa.string())))
        matches: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for match in table.to_pylist():
            matches.setdefault((str(match["user_id"]), str(match["event_id"])), []).append(match)
        rows = []
        for user_id, opened, last, row in alerts:
            findings = sorted(self.results.findings(user_id, opened, last),
                              key=lambda f: (f["day"], f["detector"]))
            row["summary"] = "; ".join(str(r.get("text", "")) for r in row["reasons"][:3])
            row["findings"] = [
                {"day": _iso(f["day"]), "detector": f["detector"],
                 "score": round(float(f["score"]), 3), "reasons": self._reasons(f["reasons"]),
                 "evidence": [self._redact(str(e)) for e in f["evidence"] or []],
                 "related_users": [self.pseudonyms.of(str(u))
                                   for u in f["related_users"] or []]}
                for f in findings]
            evidence = dict.fromkeys(str(e) for f in findings for e in f["evidence"] or [])
            row["content_hits"] = [
                {"event_id": self._redact(event_id), "day": _iso(m["day"]),
                 "action": m["action"], "channel": m["channel"],
                 "doc_id": self._redact(str(m["doc_id"])),
                 "matched_fraction": round(float(m["matched_fraction"]), 4),
                 "hits": int(m["hits"]), "sensitivity": m["sensitivity"]}
                for event_id in evidence for m in matches.get((user_id, event_id), [])]
            rows.append(row)
        self.record(principal, "siem.export", "", count=len(rows), format="ocsf")
        return rows
