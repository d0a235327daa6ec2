"""A real browser (Debian's Chromium through Playwright) walks the console: login, overview,
person, alert, case, evidence export; planted markup must never execute. Screenshots are
kept in the test's output folder (printed at the end of the test)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console_fixture import build
from molehunt.cases.accounts import create_account

CHROMIUM = "/usr/lib/chromium/chromium"
PASSWORD = "a long test password"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The console served by uvicorn on a free local port."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: run `make test`, which installs chromium")
    import uvicorn

    from molehunt.web.app import create_app

    made = build(tmp_path_factory.mktemp("browser"))
    app = create_app(made.root, f"sqlite:///{made.root / 'console.sqlite'}")
    with app.state.console.store.transaction() as session:
        create_account(session, "ivy", PASSWORD, "investigator")
        create_account(session, "audrey", PASSWORD, "auditor")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    for _ in range(200):  # wait until it listens (not a timing assertion)
        if instance.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def test_walk_and_nothing_planted_executes(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    dialogs: list[str] = []
    violations: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000},
                                accept_downloads=True)
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("console", lambda message: violations.append(message.text)
                if "Content Security Policy" in message.text else None)

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        def no_execution() -> None:
            assert page.evaluate("() => window.__xss === undefined")

        page.goto(f"{server}/login")
        shot("01-login")
        page.fill("input[name=username]", "ivy")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        assert page.locator("#top-people tbody tr").count() > 0
        shot("02-overview")
        page.goto(f"{server}/alerts")
        shot("03-alerts")
        page.locator("#alert-queue tbody tr a").first.click()
        page.wait_for_selector("#alert-state")
        no_execution()
        shot("04-alert")
        alert_url = page.url
        # the analyst's thirty seconds: what fired, why and when, before any scrolling
        summary = page.locator("#alert-summary").bounding_box()
        assert summary is not None and summary["y"] + summary["height"] <= 1000, summary
        assert page.locator("#alert-summary .top-reasons li").count() >= 1
        assert page.locator("#alert-summary svg.timeline rect").count() > 1
        assert page.locator("text=<script>window.__xss = 1</script>").count() > 0
        page.locator("a[href^='/people/']").first.click()
        page.wait_for_selector("#person-title")
        assert page.locator("#risk-chart svg.risk-chart polyline.risk-line").count() == 1
        no_execution()
        shot("05-person")
        page.go_back()
        page.fill("form[action$='/confirm'] input[name=reason]", "copies crown jewels to USB")
        page.click("#confirm")
        assert page.inner_text("#alert-state") == "confirmed"
        page.fill("form[action$='/case'] input[name=title]", "USB haul <b>bold</b>")
        page.click("#open-case")
        page.wait_for_selector("#case-status")
        page.fill("textarea[name=body]", "<img src=x onerror=window.__xss=9> interviewed")
        page.click("#add-note")
        page.wait_for_selector("text=interviewed")
        no_execution()
        shot("06-case")
        # an event of the alert's evidence goes to the case in one click
        page.goto(alert_url)
        event_id = page.locator("table.events tbody tr td").first.inner_text()
        page.locator("table.events button", has_text="attach").first.click()
        page.wait_for_selector("#case-status")
        assert page.locator(f"text={event_id}").count() > 0
        shot("07-evidence-attached")
        with page.expect_download() as download_info:
            page.click("#export")
        bundle = tmp_path / "bundle.zip"
        download_info.value.save_as(bundle)
        from molehunt.cases.bundle import verify_bundle

        assert verify_bundle(bundle)[0]
        browser.close()
    print(f"screenshots: {shots}")
    assert dialogs == []
    assert violations == []
    assert len(list(shots.glob("*.png"))) == 7


def test_csp_blocks_inline_script_even_if_markup_got_through(server: str) -> None:
    """Belt and braces: an inline script in a page from our origin would not run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(f"{server}/login")
        result: Any = page.evaluate("""() => {
            const s = document.createElement('script');
            s.textContent = 'window.__inline = 1';
            document.body.appendChild(s);
            return window.__inline === undefined;
        }""")
        assert result is True
        browser.close()


def _browser(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM,
                                      args=["--no-sandbox", "--disable-gpu"])


def _sign_in(page: Any, server: str, username: str) -> None:
    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _violations(page: Any) -> list[str]:
    """CSP violations the page reports (as console messages and as events)."""
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text)
            if "Content Security Policy" in message.text else None)
    return found


def test_api_docs_render_under_the_csp(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        violations = _violations(page)
        failed: list[str] = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        response = page.goto(f"{server}/api/v1/docs")
        assert response is not None and response.status == 200
        csp = response.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "script-src 'self'" in csp
        # Swagger UI drew the API: one block per operation, with our routes' paths
        page.wait_for_selector(".opblock", timeout=20000)
        assert page.locator(".opblock").count() >= 20
        assert page.locator(".opblock-summary-path[data-path='/api/v1/people']").count() == 1
        page.locator(".opblock-summary", has_text="/api/v1/me").first.click()
        page.wait_for_selector(".opblock-body")
        page.screenshot(path=str(tmp_path / "api-docs.png"), full_page=False)
        browser.close()
    assert violations == []
    assert [u for u in failed if not u.endswith(".map")] == []


def test_people_search_sort_and_page_in_the_browser(server: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        violations = _violations(page)
        _sign_in(page, server, "ivy")
        page.click("header nav a:text('People')")
        page.wait_for_selector("#people")
        rows = page.locator("#people tbody tr")
        assert rows.count() == 40 and "of 40 people" in page.inner_text(".pager")
        # sorted by risk, highest first, to begin with
        risks = [float(t) for t in page.locator("#people tbody tr td:nth-child(2)")
                 .all_inner_texts() if t]
        assert risks == sorted(risks, reverse=True) and len(set(risks)) > 1
        page.click("#people th a[data-column=person]")
        page.wait_for_selector("#people th[aria-sort=ascending] a[data-column=person]")
        names = page.locator("#people tbody tr td:first-child").all_inner_texts()
        assert names == sorted(names)
        page.click("#people th a[data-column=person]")
        page.wait_for_selector("#people th[aria-sort=descending] a[data-column=person]")
        assert page.locator("#people tbody tr td:first-child").all_inner_texts() == sorted(
            names, reverse=True)
        # search: one pseudonym, typed in lower case
        wanted = names[3]
        page.fill("#people-search input[name=q]", wanted.lower())
        page.click("#people-search button")
        page.wait_for_url("**q=*")
        assert page.locator("#people tbody tr td:first-child").all_inner_texts() == [wanted]
        # paging: five to a page, the pages together are everyone once
        page.goto(f"{server}/people?sort=person&page_size=5")
        seen: list[str] = []
        while True:
            seen += page.locator("#people tbody tr td:first-child").all_inner_texts()
            following = page.locator(".pager a.page-next").first
            if following.count() == 0:
                break
            following.click()
            page.wait_for_load_state()
        assert seen == sorted(names) and len(seen) == 40
        assert "page 8 of 8" in page.inner_text(".pager")
        browser.close()
    assert violations == []


def test_audit_filters_in_the_browser(server: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        violations = _violations(page)
        _sign_in(page, server, "ivy")
        page.goto(f"{server}/people")
        page.locator("#people tbody tr a").first.click()
        page.wait_for_selector("#person-title")
        page.context.clear_cookies()
        _sign_in(page, server, "audrey")
        page.goto(f"{server}/audit")
        assert page.locator("#audit tbody tr").count() > 2
        page.fill("#audit-filter input[name=actor]", "ivy")
        page.select_option("#audit-filter select[name=action]", "person")
        page.click("#audit-filter button")
        page.wait_for_url("**actor=ivy*")
        actors = page.locator("#audit tbody tr td:nth-child(3)").all_inner_texts()
        actions = page.locator("#audit tbody tr td:nth-child(5)").all_inner_texts()
        assert actors and set(actors) == {"ivy"} and set(actions) == {"person.view"}
        times = page.locator("#audit tbody tr td:nth-child(2)").all_inner_texts()
        assert all(len(t) == 16 and t[10] == " " for t in times), times
        page.fill("#audit-filter input[name=to]", "2001-01-01")
        page.click("#audit-filter button")
        page.wait_for_url("**to=2001-01-01*")
        assert page.inner_text("#audit tbody") == "no entries match"
        browser.close()
    assert violations == []


def test_person_chart_marks_findings_alerts_and_the_peer_band(server: str,
                                                              tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        violations = _violations(page)
        _sign_in(page, server, "ivy")
        page.goto(f"{server}/alerts?sort=peak")
        page.locator("#alert-queue tbody tr td:nth-child(2) a").first.click()
        page.wait_for_selector("#person-title")
        chart = page.locator("#risk-chart svg.risk-chart")
        assert chart.is_visible()
        assert chart.locator("circle.finding-marker").count() == 1
        assert chart.locator("path.alert-marker").count() == 1
        assert chart.locator("polygon.peer-band").is_visible()
        assert chart.locator("polyline.peer-p50").count() == 1
        assert "removable_spike" in chart.locator("circle.finding-marker title").text_content()
        box = chart.bounding_box()
        assert box is not None and box["y"] < 1000, "the chart is in the first screen"
        page.screenshot(path=str(tmp_path / "person-chart.png"), full_page=False)
        browser.close()
    assert violations == []
