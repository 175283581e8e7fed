"""Shared pieces of the browser tests (Playwright driving Debian's Chromium): the marks, one browser
per module, the demo region, a logged-in page that collects console errors, full-page screenshots.

A test module imports the fixtures it uses: `from tests.browser import BROWSER_MARKS, browser, demo,
login, shot` and sets `pytestmark = BROWSER_MARKS`.
"""

import os

import pytest

from llo.demo import DEMO_PASSWORD, seed_demo
from tests.test_browser import CHROMIUM, FLAGS, SCREENSHOTS

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # a loaded CI machine may take more than the default 5 s
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, "--lang=ru-RU"])
        yield instance
        instance.close()


@pytest.fixture
def demo(live_server):
    return seed_demo()


@pytest.fixture
def login(browser, live_server, demo):
    """`login(username)`: a logged-in page collecting console and page errors."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    contexts = []

    def open_as(username: str):
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="ru-RU")
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("console", lambda msg: page.problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: page.problems.append(str(exc)))
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", DEMO_PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield open_as
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top of a full-page shot
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
