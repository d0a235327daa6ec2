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
        assert page.locator("#risk-chart canvas").count() == 1  # the vendored chart drew
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
