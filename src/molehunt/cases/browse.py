"""Lists an analyst can search, sort and page: people, the alert queue, cases, the audit log.

Every list the console shows can grow past a screen (300 people in the demo, hundreds of
thousands in a large company; the audit log grows with every look), so each is paged and, where
it helps, sorted by any of its columns. The functions here take the
:class:`~molehunt.cases.service.Console` and the principal acting, check the permission like the
console's own methods, and return JSON-ready dictionaries shaped as :func:`paged` makes them.

People are searched only by what the console shows of them: their pseudonym, and their role
and department where the k-anonymity rule (``console_min_group``) lets those show. A role that
is hidden for a person does not find that person, or the search would name who holds it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from molehunt.cases.accounts import InputError, NotFoundError, Principal
from molehunt.cases.models import ALERT_STATES, Alert, AuditEntry, Case

if TYPE_CHECKING:
    from molehunt.cases.service import Console

BANDS = ("none", "low", "medium", "high", "critical")
#: rows per page unless the request says otherwise, and the most a request may ask for
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_PAGE = 1_000_000
#: the longest search a request may send
MAX_QUERY = 100
#: the people list's columns, and the direction each sorts in first
PEOPLE_SORTS = {"person": "asc", "risk": "desc", "band": "desc", "role": "asc",
                "department": "asc", "open_alerts": "desc", "alerts": "desc"}
ALERT_SORTS = {"alert": "asc", "opened": "desc", "last": "desc", "peak": "desc",
               "band": "desc", "state": "asc"}
CASE_SORTS = {"id": "desc", "status": "asc", "opened": "desc", "updated": "desc"}
#: audit entries per page (each page is one indexed range read, newest first)
AUDIT_PAGE = 200



def alert_query(state: str | None, band: str | None) -> Any:
    """The alerts in ``state`` and ``band`` (either may be empty: any); a value outside the
    vocabulary is an :class:`InputError`."""
    if state and state not in ALERT_STATES:
        raise InputError(f"state must be one of {', '.join(ALERT_STATES)}")
    if band and band not in BANDS:
        raise InputError(f"band must be one of {', '.join(BANDS)}")
    query = sa.select(Alert)
    if state:
        query = query.where(Alert.state == state)
    if band:
        query = query.where(Alert.band == band)
    return query

def order_of(sort: str | None, order: str | None, allowed: Mapping[str, str], default: str
             ) -> tuple[str, bool]:
    """The column to sort by and whether descending, from a request's ``sort`` and ``order``.

    A column is sorted first in its natural direction (risk highest first, names A to Z).

    >>> order_of(None, None, {"risk": "desc", "person": "asc"}, "risk")
    ('risk', True)
    >>> order_of("person", "desc", {"risk": "desc", "person": "asc"}, "risk")
    ('person', True)
    """
    column = sort or default
    if column not in allowed:
        raise InputError(f"sort must be one of {', '.join(allowed)}")
    if order not in (None, "", "asc", "desc"):
        raise InputError("order must be asc or desc")
    return column, (order or allowed[column]) == "desc"


def check_page(page: int, page_size: int) -> None:
    """Refuse a page number or size out of range (one clear line)."""
    if not 1 <= page <= MAX_PAGE:
        raise InputError(f"page must be between 1 and {MAX_PAGE:,}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InputError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")


def paged(rows: Sequence[dict[str, Any]], total: int, page: int, page_size: int, sort: str,
          descending: bool, **extra: Any) -> dict[str, Any]:
    """One page of a list as the pages and the API return it.

    >>> p = paged([{"a": 1}], 101, 3, 50, "a", True)
    >>> p["pages"], p["order"], p["first_row"], p["last_row"]
    (3, 'desc', 101, 101)
    """
    pages = max(1, -(-total // page_size))
    first = (page - 1) * page_size + 1 if rows else 0
    return {"rows": list(rows), "total": total, "page": page, "page_size": page_size,
            "pages": pages, "sort": sort, "order": "desc" if descending else "asc",
            "first_row": first, "last_row": first + len(rows) - 1 if rows else 0,
            # what page links carry: the page size only when it is not the default
            "size_param": page_size if page_size != PAGE_SIZE else None, **extra}


def sorted_rows(rows: Sequence[dict[str, Any]], key: str, descending: bool,
                rank: Callable[[Any], Any] | None = None, tie: str = "person"
                ) -> list[dict[str, Any]]:
    """Rows sorted by ``key`` (through ``rank``); empty values last in either direction, then
    by ``tie`` ascending, so the order is the same on every request.

    >>> rows = [{"person": "b", "r": None}, {"person": "a", "r": 2}, {"person": "c", "r": 5}]
    >>> [r["person"] for r in sorted_rows(rows, "r", True)]
    ['c', 'a', 'b']
    >>> [r["person"] for r in sorted_rows(rows, "r", False)]
    ['a', 'c', 'b']
    """
    def value(row: dict[str, Any]) -> Any:
        raw = row.get(key)
        if isinstance(raw, str):
            raw = raw.casefold()
        return rank(raw) if rank is not None and raw is not None else raw

    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    present.sort(key=lambda r: str(r.get(tie)))
    present.sort(key=value, reverse=descending)  # stable: ties stay in ``tie`` order
    missing.sort(key=lambda r: str(r.get(tie)))
    return present + missing


# -- people --------------------------------------------------------------------------------
def _people_rows(console: Console) -> dict[str, Any]:
    """Every person the console knows, with what it may show of them (shared, see _view)."""
    latest = {r["user_id"]: r for r in console.results.risk_on_last_day()}
    with console.store.sessions() as session:
        counted = session.execute(
            sa.select(Alert.user_id, Alert.state, sa.func.count()).group_by(
                Alert.user_id, Alert.state)).all()
    alerts: Counter[str] = Counter()
    open_alerts: Counter[str] = Counter()
    for user_id, state, n in counted:
        alerts[user_id] += n
        if state in ("new", "assigned"):
            open_alerts[user_id] += n
    people = console.pseudonyms.people
    rows = []
    for user_id in set(people) | set(latest) | set(alerts):
        context = console._context(people.get(user_id))
        risk = latest.get(user_id)
        rows.append({"person": console.pseudonyms.of(user_id),
                     "role": context["role"], "department": context["department"],
                     "risk": round(float(risk["risk"]), 1) if risk else None,
                     "band": risk["band"] if risk else None,
                     "alerts": alerts[user_id], "open_alerts": open_alerts[user_id]})
    return {"rows": rows}


def matches(row: Mapping[str, Any], words: Sequence[str]) -> bool:
    """Whether every word of a search is in the row's pseudonym, shown role or shown department.

    >>> matches({"person": "P-ABC", "role": "Engineer", "department": None}, ["eng"])
    True
    >>> matches({"person": "P-ABC", "role": None, "department": None}, ["eng"])
    False
    """
    shown = " ".join(str(row.get(k) or "") for k in ("person", "role", "department")).casefold()
    return all(word in shown for word in words)


def people(console: Console, principal: Principal, query: str | None = None,
           band: str | None = None, sort: str | None = None, order: str | None = None,
           page: int = 1, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """The people list: search, a band filter, sorting by any column, paging.

    A search is audited (it looks at a group of people), the plain list is not (it shows what
    the overview shows).
    """
    console.require(principal, "view")
    column, descending = order_of(sort, order, PEOPLE_SORTS, "risk")
    check_page(page, page_size)
    text = (query or "").strip()
    if len(text) > MAX_QUERY:
        raise InputError(f"the search is longer than {MAX_QUERY} characters")
    if band and band not in BANDS:
        raise InputError(f"band must be one of {', '.join(BANDS)}")
    everyone = console._view(("people-list",), lambda: _people_rows(console))["rows"]
    words = text.casefold().split()
    chosen = [r for r in everyone if (not words or matches(r, words))
              and (not band or r["band"] == band)]
    rank = BANDS.index if column == "band" else None
    ordered = sorted_rows(chosen, column, descending, rank)
    start = (page - 1) * page_size
    if text:
        console.record(principal, "people.search", text[:MAX_QUERY], band=band,
                       found=len(chosen))
    return paged([dict(r) for r in ordered[start:start + page_size]], len(chosen), page,
                 page_size, column, descending, query=text, band=band,
                 min_group=console.workspace_settings.console_min_group)


# -- the alert queue -----------------------------------------------------------------------
def _alert_order(column: str, descending: bool) -> list[Any]:
    ranked = {
        "alert": Alert.public_id, "opened": Alert.opened_day, "last": Alert.last_day,
        "peak": Alert.peak_risk, "state": Alert.state,
        "band": sa.case({b: i for i, b in enumerate(BANDS)}, value=Alert.band, else_=-1),
    }[column]
    first = ranked.desc() if descending else ranked.asc()
    # ties broken the same way on every request, so a page never repeats or skips an alert
    return [first, Alert.peak_risk.desc(), Alert.public_id.asc()]


def alert_rows(console: Console, principal: Principal, state: str | None = None,
               band: str | None = None, sort: str | None = None, order: str | None = None,
               limit: int = PAGE_SIZE, offset: int = 0) -> tuple[list[dict[str, Any]], int, str,
                                                              bool]:
    """Alerts filtered by state and band, sorted by a column, ``limit`` from ``offset``; and
    how many match, the column and whether descending."""
    console.require(principal, "view")
    column, descending = order_of(sort, order, ALERT_SORTS, "peak")
    query = alert_query(state, band)
    with console.store.sessions() as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(*_alert_order(column, descending))
                               .limit(limit).offset(offset)).all()
        accounts = console._accounts(session)
        shown = [console._alert_json(a, accounts) for a in rows]
    return shown, total, column, descending


def alert_queue(console: Console, principal: Principal, state: str | None = None,
                band: str | None = None, sort: str | None = None, order: str | None = None,
                page: int = 1, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """The alert queue filtered by state and band, sorted by a column, one page of it."""
    check_page(page, page_size)
    shown, total, column, descending = alert_rows(console, principal, state, band, sort, order,
                                                  page_size, (page - 1) * page_size)
    return paged(shown, total, page, page_size, column, descending, state=state, band=band)


# -- cases ---------------------------------------------------------------------------------
def case_list(console: Console, principal: Principal, status: str | None = None,
              sort: str | None = None, order: str | None = None, page: int = 1,
              page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """Cases, filtered by status, sorted by a column, one page of them."""
    console.require(principal, "view")
    column, descending = order_of(sort, order, CASE_SORTS, "id")
    check_page(page, page_size)
    ranked = {"id": Case.id, "status": Case.status, "opened": Case.created_at,
              "updated": Case.updated_at}[column]
    query = sa.select(Case)
    if status:
        query = query.where(Case.status == status)
    with console.store.sessions() as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(ranked.desc() if descending else ranked.asc(),
                                              Case.id.desc())
                               .limit(page_size).offset((page - 1) * page_size)).all()
        accounts = console._accounts(session)
        shown = [{"id": c.id, "title": console._redact(c.title), "status": c.status,
                  "person": console.pseudonyms.of(c.subject_user_id),
                  "created_by": accounts.get(c.created_by),
                  "created_at": _iso(c.created_at), "updated_at": _iso(c.updated_at)}
                 for c in rows]
    return paged(shown, total, page, page_size, column, descending, status=status)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


# -- the audit log -------------------------------------------------------------------------
def _day(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} must be a YYYY-MM-DD date") from None


def case_number(text: str | None) -> int | None:
    """A case number typed in a filter box (empty: none).

    >>> case_number(" 12 "), case_number("")
    (12, None)
    """
    if text is None or not text.strip():
        return None
    if not text.strip().isdigit() or not 1 <= int(text) <= 2**62:
        raise InputError("case must be a case number")
    return int(text)


def day_window(first: str | None, last: str | None) -> tuple[dt.date, dt.date] | None:
    """A ``from``/``to`` pair of days from a request (both or neither).

    >>> day_window("2024-01-01", "2024-01-31")
    (datetime.date(2024, 1, 1), datetime.date(2024, 1, 31))
    >>> day_window(None, "")
    """
    start, end = _day(first, "from"), _day(last, "to")
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise InputError("give both from and to, or neither")
    if start > end:
        raise InputError("from must not be after to")
    return start, end


def _case_targets(console: Console, case_id: int) -> list[str]:
    """What audit entries about a case name as their target: the case and its alerts."""
    with console.store.sessions() as session:
        if session.get(Case, case_id) is None:
            raise NotFoundError(f"no case {case_id}")
        alerts = session.scalars(sa.select(Alert.public_id).where(Alert.case_id == case_id))
        return [f"case:{case_id}", *alerts]


def audit_entries(console: Console, principal: Principal, actor: str | None = None,
                  action: str | None = None, first: str | None = None, last: str | None = None,
                  case: int | None = None, before: int | None = None, after: int | None = None,
                  limit: int = AUDIT_PAGE) -> dict[str, Any]:
    """Audit entries matching the filters, newest first, one page; and the chain's check.

    ``action`` is an action (``case.view``) or a family (``case``: every ``case.*``);
    ``first``/``last`` are UTC days, both included; ``case`` is everything about one case
    (the case and its alerts). Pages go by sequence number (``before``: older than that entry,
    ``after``: newer), so each page is one range read on the primary key however long the log
    is; the chain is verified incrementally as before.
    """
    console.require(principal, "audit")
    if not 1 <= limit <= 1000:
        raise InputError("limit must be between 1 and 1,000")
    if before is not None and after is not None:
        raise InputError("give before or after, not both")
    start, end = _day(first, "from"), _day(last, "to")
    if start and end and start > end:
        raise InputError("from must not be after to")
    conditions: list[Any] = []
    if actor:
        conditions.append(AuditEntry.actor == actor.strip())
    if action:
        family = action.strip().rstrip(".*")
        conditions.append(sa.or_(AuditEntry.action == family,
                                 AuditEntry.action.startswith(family + ".", autoescape=True)))
    # ``at`` is an ISO text (YYYY-MM-DDTHH:MM:SS.ffffff), so days compare as text
    if start:
        conditions.append(AuditEntry.at >= start.isoformat())
    if end:
        conditions.append(AuditEntry.at < (end + dt.timedelta(days=1)).isoformat())
    if case is not None:
        conditions.append(AuditEntry.target.in_(_case_targets(console, case)))
    query = sa.select(AuditEntry).where(*conditions)
    if after is not None:
        query = query.where(AuditEntry.seq > after).order_by(AuditEntry.seq.asc())
    else:
        if before is not None:
            query = query.where(AuditEntry.seq < before)
        query = query.order_by(AuditEntry.seq.desc())
    with console.store.sessions() as session:
        rows = list(session.scalars(query.limit(limit + 1)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        if after is not None:
            rows.reverse()
        entries = [{"seq": e.seq, "at": e.at, "actor": e.actor, "role": e.role,
                    "action": e.action, "target": e.target, "reason": e.reason,
                    "details": json.loads(e.details), "hash": e.hash} for e in rows]
        actions = sorted(session.scalars(sa.select(AuditEntry.action).distinct()).all())
    # whether there is a page in each direction: the side we read knows from ``more``;
    # the other side exists when we came from there
    older = more if after is None else True
    newer = (before is not None) if after is None else more
    return {"entries": entries, "verification": console.audit_verifier.verify().to_json(),
            "filters": {"actor": actor or "", "action": action or "",
                        "from": start.isoformat() if start else "",
                        "to": end.isoformat() if end else "",
                        "case": case},
            "actions": actions,
            "families": sorted({a.split(".")[0] for a in actions if "." in a}),
            "has_older": bool(entries) and older,
            "has_newer": bool(entries) and newer, "limit": limit}
