"""Lists an analyst reads: the people list (search under k-anonymity, sorting, paging), the
alert queue and cases sorted and paged past one screen, the audit log filtered and paged."""

from __future__ import annotations

import collections
import datetime as dt
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from console_fixture import ConsoleWorkspace, build
from molehunt.cases.accounts import create_account, create_token
from molehunt.cases.models import ROLES
from molehunt.web.app import create_app

PASSWORD = "a long test password"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> ConsoleWorkspace:
    """The simulated workspace with fake results."""
    return build(tmp_path_factory.mktemp("lists"))


@pytest.fixture(scope="module")
def app_and_tokens(made: ConsoleWorkspace, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app on a fresh store with one account and API token per role."""
    app = create_app(made.root, f"sqlite:///{tmp_path_factory.mktemp('db') / 'c.sqlite'}",
                     index_activity=False)
    tokens = {}
    with app.state.console.store.transaction() as session:
        for role in ROLES:
            tokens[role] = create_token(session, create_account(session, role, PASSWORD, role),
                                        "tests")
    yield app, tokens
    app.state.console.store.close()


def _get(app: Any, token: str, url: str, **params: Any) -> Any:
    response = TestClient(app).get(url, params=params,
                                   headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json() if url.startswith("/api/") else response.text


def _directory(made: ConsoleWorkspace) -> list[tuple[str, str, str, str]]:
    return duckdb.connect().sql(
        f"SELECT user_id, name, role, department FROM read_parquet("
        f"'{made.root}/directory.parquet') QUALIFY row_number() OVER (PARTITION BY user_id"
        " ORDER BY valid_from DESC NULLS LAST) = 1").fetchall()


def _all_people(app: Any, token: str, **params: Any) -> list[dict[str, Any]]:
    return list(_get(app, token, "/api/v1/people", page_size=500, **params)["rows"])


def test_people_search_finds_by_shown_role_and_department_and_pseudonym(
        app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace) -> None:
    app, tokens = app_and_tokens
    everyone = _all_people(app, tokens["analyst"])
    assert len(everyone) == len(made.user_ids)
    departments = collections.Counter(p["department"] for p in everyone if p["department"])
    department, shown = departments.most_common(1)[0]
    found = _all_people(app, tokens["analyst"], q=department.upper())
    assert len(found) == shown and {p["department"] for p in found} == {department}
    someone = everyone[7]["person"]
    assert [p["person"] for p in _all_people(app, tokens["analyst"], q=someone.lower())
            ] == [someone]


def test_people_search_never_finds_a_hidden_role_or_a_name(
        app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace) -> None:
    # a role shared by fewer than k people is hidden: finding its holder by searching it
    # would name them as surely as showing it
    app, tokens = app_and_tokens
    console = app.state.console
    k = console.workspace_settings.console_min_group
    directory = _directory(made)
    pairs = collections.Counter((r, d) for _, _, r, d in directory)
    roles = collections.Counter(r for _, _, r, _ in directory)
    departments = collections.Counter(d for _, _, _, d in directory)
    hidden = [(u, r) for u, _, r, d in directory
              if pairs[(r, d)] < k and not (departments[d] < k and roles[r] >= k)]
    assert hidden, "the fixture has people whose role is hidden"
    for user_id, role in hidden:
        alias = console.pseudonyms.of(user_id)
        assert alias not in {p["person"] for p in _all_people(app, tokens["analyst"], q=role)}
    unique = next(r for r, n in roles.items() if n == 1)
    assert _all_people(app, tokens["analyst"], q=unique) == []
    for _, name, _, _ in directory[:10]:
        assert _all_people(app, tokens["analyst"], q=name) == []


def test_a_people_search_is_audited(app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    _get(app, tokens["analyst"], "/api/v1/people", q="P-")
    entries = _get(app, tokens["auditor"], "/api/v1/audit", action="people.search")
    assert entries["entries"][0]["target"] == "P-"
    assert entries["entries"][0]["actor"] == "analyst"


@pytest.mark.parametrize("column", ["risk", "person", "band", "department", "alerts"])
def test_people_sort_by_each_column_both_ways(app_and_tokens: tuple[Any, dict[str, str]],
                                              column: str) -> None:
    app, tokens = app_and_tokens
    bands = ("none", "low", "medium", "high", "critical")
    for order in ("asc", "desc"):
        rows = _all_people(app, tokens["analyst"], sort=column, order=order)
        values = [r[column] for r in rows if r[column] is not None]
        assert all(r[column] is None for r in rows[len(values):]), "empty values go last"
        keys = [bands.index(v) if column == "band" else
                v.casefold() if isinstance(v, str) else v for v in values]
        assert keys == sorted(keys, reverse=order == "desc"), (column, order)
        assert len(set(keys)) > 1, "the column has different values to order"


def test_people_pages_cover_everyone_once(app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    everyone = [p["person"] for p in _all_people(app, tokens["analyst"], sort="risk")]
    first = _get(app, tokens["analyst"], "/api/v1/people", sort="risk", page_size=7)
    assert first["pages"] == -(-len(everyone) // 7) and first["total"] == len(everyone)
    paged = []
    for number in range(1, first["pages"] + 1):
        page = _get(app, tokens["analyst"], "/api/v1/people", sort="risk", page_size=7,
                    page=number)
        assert page["page"] == number and len(page["rows"]) <= 7
        paged += [p["person"] for p in page["rows"]]
    assert paged == everyone


def test_people_page_links_sort_and_page(app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    html = _get(app, tokens["analyst"], "/people", q="", page_size=5, sort="risk")
    assert 'class="page-next" href="?sort=risk&amp;order=desc&amp;page=2&amp;page_size=5"' \
        in html
    assert 'aria-sort="descending"><a class="sort" data-column="risk"' \
           ' href="?sort=risk&amp;order=asc&amp;page_size=5"' in html
    assert '<a class="sort" data-column="person" href="?sort=person&amp;page_size=5"' in html
    assert ">None<" not in html


def test_unknown_sort_or_order_is_one_clear_line(
        app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {tokens['analyst']}"}
    for url in ("/api/v1/people?sort=name", "/api/v1/people?order=up", "/alerts?sort=user_id"):
        response = client.get(url, headers=headers)
        assert response.status_code == 400, (url, response.text)
        assert "must be one of" in response.text or "asc or desc" in response.text


def _add_alerts(app: Any, n: int) -> None:
    """``n`` more alerts for the queue (the fixture has three)."""
    from molehunt.cases.models import Alert

    console = app.state.console
    with console.store.transaction() as session:
        for i in range(n):
            alert_id = f"extra-{i}"
            session.add(Alert(alert_id=alert_id, public_id=console.public_alert_id(alert_id),
                              user_id=f"U{i:03d}", opened_day=dt.date(2024, 1, 1 + i % 28),
                              last_day=dt.date(2024, 1, 1 + i % 28), peak_risk=float(i % 97),
                              band=("low", "medium", "high")[i % 3], reasons="[]",
                              detectors='["x"]', detection_status="open",
                              state=("new", "assigned", "dismissed")[i % 3]))


def test_the_alert_queue_pages_past_200_and_sorts(
        app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    if _get(app, tokens["analyst"], "/api/v1/alerts", limit=1)["total"] < 20:
        _add_alerts(app, 260)
    html = _get(app, tokens["analyst"], "/alerts", page_size=100)
    assert "of 263 alerts" in html and "page 1 of 3" in html
    seen: list[str] = []
    for number in (1, 2, 3):
        html = _get(app, tokens["analyst"], "/alerts", page_size=100, page=number)
        seen += re.findall(r'<tr><td><a href="/alerts/([^"]+)">', html)
    assert len(seen) == 263 == len(set(seen))
    for column, key in (("peak", "peak_risk"), ("opened", "opened_day"), ("state", "state")):
        for order in ("asc", "desc"):
            html = _get(app, tokens["analyst"], "/alerts", sort=column, order=order,
                        page_size=500)
            shown = re.findall(r'<tr><td><a href="/alerts/([^"]+)">', html)
            by_id = {a["alert_id"]: a for a in _get(app, tokens["analyst"], "/api/v1/alerts",
                                                    limit=1000)["alerts"]}
            values = [by_id[a][key] for a in shown]
            assert values == sorted(values, reverse=order == "desc"), (column, order)


def test_cases_are_paged(app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {tokens['analyst']}"}
    if _get(app, tokens["analyst"], "/api/v1/alerts", limit=1)["total"] < 20:
        _add_alerts(app, 260)  # the tests of a module may run on different workers
    before = len(_get(app, tokens["analyst"], "/api/v1/cases"))
    alerts = _get(app, tokens["analyst"], "/api/v1/alerts", state="new", limit=60)["alerts"]
    for alert in alerts[:55 - before]:
        assert client.post("/api/v1/cases", json={"alert_ids": [alert["alert_id"]]},
                           headers=headers).status_code == 200
    html = _get(app, tokens["analyst"], "/cases")
    assert "1–50 of 55 cases" in html and 'class="page-next"' in html
    older = _get(app, tokens["analyst"], "/cases", page=2)
    assert len(re.findall(r'<tr><td><a href="/cases/\d+">', older)) == 5
    ascending = _get(app, tokens["analyst"], "/cases", sort="id", order="asc")
    shown = re.findall(r'<tr><td><a href="/cases/(\d+)">', ascending)
    assert shown[0] == "1" and [int(n) for n in shown] == sorted(int(n) for n in shown)


def test_audit_filters_filter_and_pages_page(
        app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    analyst = {"Authorization": f"Bearer {tokens['analyst']}"}
    investigator = {"Authorization": f"Bearer {tokens['investigator']}"}
    alias = app.state.console.pseudonyms.of(made.target)
    for _ in range(3):
        assert client.get(f"/api/v1/people/{alias}", headers=analyst).status_code == 200
    alert = _get(app, tokens["analyst"], "/api/v1/alerts", limit=1)["alerts"][0]["alert_id"]
    case_id = client.post("/api/v1/cases", json={"alert_ids": [alert]},
                          headers=investigator).json()["id"]
    client.get(f"/api/v1/cases/{case_id}", headers=investigator)
    client.get(f"/api/v1/alerts/{alert}", headers=analyst)
    auditor = tokens["auditor"]

    def entries(**params: Any) -> list[dict[str, Any]]:
        return list(_get(app, auditor, "/api/v1/audit", limit=1000, **params)["entries"])

    everything = entries()
    by_actor = entries(actor="investigator")
    assert by_actor and {e["actor"] for e in by_actor} == {"investigator"}
    assert len(by_actor) < len(everything)
    family = entries(action="person")
    assert len(family) >= 3 and {e["action"] for e in family} == {"person.view"}
    assert {e["action"] for e in entries(action="case")} >= {"case.open", "case.view"}
    assert all(e["action"].startswith("case.") for e in entries(action="case"))
    about_case = entries(case=case_id)
    assert {e["target"] for e in about_case} == {f"case:{case_id}", alert}
    assert {e["action"] for e in about_case} >= {"case.open", "case.view", "alert.view"}
    today = dt.datetime.now(dt.UTC).date()
    assert len(entries(**{"from": today.isoformat(), "to": today.isoformat()})) == len(
        everything)
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert entries(to=yesterday) == []
    # pages: older and newer by sequence number, the filters kept
    first = _get(app, auditor, "/api/v1/audit", actor="analyst", limit=2)
    assert first["has_older"] and not first["has_newer"]
    walked, page = list(first["entries"]), first
    while page["has_older"]:
        page = _get(app, auditor, "/api/v1/audit", actor="analyst", limit=2,
                    before=page["entries"][-1]["seq"])
        walked += page["entries"]
    assert [e["seq"] for e in walked] == [e["seq"] for e in entries(actor="analyst")]
    back = _get(app, auditor, "/api/v1/audit", actor="analyst", limit=2,
                after=walked[3]["seq"])
    assert [e["seq"] for e in back["entries"]] == [walked[1]["seq"], walked[2]["seq"]]
    html = _get(app, auditor, "/audit", action="case", case=case_id)
    assert f"case:{case_id}" in html and "person.view" not in html.split('id="audit"')[1]
    assert re.search(r"<td title=\"\d{4}-\d\d-\d\dT[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d</td>",
                     html), "times read to the minute"


def test_audit_filter_refuses_bad_days(app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {tokens['auditor']}"}
    assert client.get("/api/v1/audit?from=yesterday", headers=headers).status_code == 400
    assert client.get("/api/v1/audit?from=2024-02-02&to=2024-02-01",
                      headers=headers).status_code == 400
    assert client.get("/api/v1/audit?case=99999", headers=headers).status_code == 404


def test_the_audit_filter_form_with_empty_boxes_works(
        app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    # the form sends every box, empty ones as ``case=``; that was a 422 page
    app, tokens = app_and_tokens
    html = _get(app, tokens["auditor"], "/audit", actor="", action="", case="",
                **{"from": "", "to": ""})
    assert 'id="audit"' in html
    response = TestClient(app).get("/audit?case=twelve", headers={
        "Authorization": f"Bearer {tokens['auditor']}"})
    assert response.status_code == 400 and "case number" in response.text


class _Text(HTMLParser):
    """The text a reader sees: text nodes outside scripts and styles, and each cell's text."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self.cells: list[str] = []
        self._skip = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.nodes.append(data)
            if self._cell is not None:
                self._cell.append(data)


def test_every_page_reads_rounded_numbers_readable_times_and_empty_cells(
        app_and_tokens: tuple[Any, dict[str, str]], made: ConsoleWorkspace) -> None:
    app, tokens = app_and_tokens
    client = TestClient(app)
    console = app.state.console

    def as_(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[role]}"}

    alias = console.pseudonyms.of(made.target)
    alert = next(a for a in _get(app, tokens["analyst"], "/api/v1/alerts",
                                 limit=1000)["alerts"] if a["person"] == alias)["alert_id"]
    case_id = client.post("/api/v1/cases", json={"alert_ids": [alert], "title": "t"},
                          headers=as_("investigator")).json().get("id")
    if case_id is None:  # an earlier test put the alert in a case already
        case_id = _get(app, tokens["analyst"], f"/api/v1/alerts/{alert}")["case_id"]
    client.post(f"/api/v1/cases/{case_id}/notes", json={"body": "interviewed on Monday"},
                headers=as_("investigator"))
    evidence = _get(app, tokens["analyst"], f"/api/v1/alerts/{alert}")["evidence"][0]
    client.post(f"/api/v1/cases/{case_id}/evidence", json={
        "event_id": evidence["event_id"], "day": evidence["day"]}, headers=as_("investigator"))
    client.post("/api/v1/settings/allowlist", json={
        "kind": "domain", "value": "partner.example", "reason": "an approved partner firm"},
        headers=as_("admin"))
    pages = {"investigator": ["/", "/people", f"/people/{alias}", "/alerts",
                              f"/alerts/{alert}", "/cases", f"/cases/{case_id}",
                              "/settings"],
             "auditor": ["/audit"], "admin": ["/settings"]}
    iso_time = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
    long_decimal = re.compile(r"(?<![\w.])\d+\.\d{3,}(?![\w.])")
    checked = 0
    for role, urls in pages.items():
        for url in urls:
            response = client.get(url, headers=as_(role))
            assert response.status_code == 200, (url, response.text[:300])
            text = _Text()
            text.feed(response.text)
            seen = " ".join(text.nodes)
            assert "None" not in text.cells and not re.search(r"\bNone\b", seen), url
            assert not iso_time.search(seen), (url, iso_time.findall(seen)[:3])
            assert not long_decimal.search(seen), (url, long_decimal.findall(seen)[:3])
            checked += len(text.cells)
    assert checked > 200


def test_the_api_alert_queue_sorts_and_pages_by_offset(
        app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    if _get(app, tokens["analyst"], "/api/v1/alerts", limit=1)["total"] < 20:
        _add_alerts(app, 260)  # when run on its own
    rows = _get(app, tokens["analyst"], "/api/v1/alerts", sort="opened", order="asc",
                limit=1000)
    opened = [a["opened_day"] for a in rows["alerts"]]
    assert opened == sorted(opened) and len(set(opened)) > 1
    assert rows["total"] == len(rows["alerts"])
    halves = (_get(app, tokens["analyst"], "/api/v1/alerts", sort="opened", order="asc",
                   limit=10)["alerts"]
              + _get(app, tokens["analyst"], "/api/v1/alerts", sort="opened", order="asc",
                     limit=10, offset=10)["alerts"])
    assert [a["alert_id"] for a in halves] == [a["alert_id"] for a in rows["alerts"][:20]]


def test_search_and_filter_values_come_back_inert(
        app_and_tokens: tuple[Any, dict[str, str]]) -> None:
    app, tokens = app_and_tokens
    hostile = '"><script>window.__xss=1</script>\u202e'
    people = _get(app, tokens["analyst"], "/people", q=hostile)
    audit = _get(app, tokens["auditor"], "/audit", actor=hostile[:60], action=hostile[:60])
    for html in (people, audit):
        assert "<script>window.__xss" not in html and "\u202e" not in html
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
