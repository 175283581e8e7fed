"""Each demo role logs in through headless Chromium and sees its home page in Russian."""

import os
from pathlib import Path

import pytest

from llo.demo import seed_demo
from llo.models import Role

# Playwright's sync API keeps an event loop in this thread; Django's database calls in the test
# (not in the server thread) are still synchronous, so the async-safety guard does not apply.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (.ci/run installs it)"),
]

ROLE_HOME_TEXT = {
    Role.DOCTOR: "выписка и печать льготных рецептов",
    Role.MO_DRUG_OFFICER: "Заявочная кампания МО",
    Role.PHARMACIST: "Отпуск по рецептам",
    Role.WAREHOUSE_CLERK: "Приёмка по государственным контрактам",
    Role.MINISTRY_ANALYST: "Мониторинг обеспечения",
    Role.MINISTRY_ADMIN: "журнал изменений",
    Role.MIS_CLIENT: "работа только через REST API",
    Role.SYSTEM_ADMIN: "Состояние системы",
}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def demo(live_server):
    return seed_demo()


def test_every_demo_role_logs_in_and_sees_its_home_page(browser, live_server, demo):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert {u["role"] for u in demo.users} == set(Role.values)
    for entry in demo.users:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="ru-RU")
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))

        page.goto(f"{live_server.url}/login/")
        assert page.locator("h1").inner_text() == "Вход в систему"
        page.fill("#id_username", entry["username"])
        page.fill("#id_password", entry["password"])
        page.keyboard.press("Enter")  # Enter submits, as at a busy desk
        page.wait_for_url(f"{live_server.url}/")

        heading = page.locator("h1").inner_text()
        assert heading.startswith("Здравствуйте"), heading
        body = page.locator("main").inner_text()
        assert ROLE_HOME_TEXT[Role(entry["role"])] in body, (entry["role"], body)
        assert Role(entry["role"]).label in page.locator(".userbox").inner_text()
        assert page.evaluate("typeof htmx") == "object", "htmx must load (CSP allows only our own scripts)"
        page.screenshot(path=str(SCREENSHOTS / f"home-{entry['role']}.png"), full_page=True)
        assert not problems, problems
        context.close()


def test_organization_search_updates_live_with_htmx(browser, live_server, demo):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "analyst")
    page.fill("#id_password", demo.users[0]["password"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/organizations/")
    page.fill("#q", "Фарма-Сервис")
    expect(page.locator("#org-rows tbody tr")).to_have_count(4)  # 3 points + the chain
    rows = page.locator("#org-rows tbody tr").all_inner_texts()
    assert all("Фарма-Сервис" in row for row in rows)
    assert "q=" in page.url  # the search is bookmarkable
    page.screenshot(path=str(SCREENSHOTS / "organizations-search.png"), full_page=True)
    context.close()


def _login(browser, live_server, username, password):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.keyboard.press("Enter")
    return context, page


def test_ministry_admin_resends_a_dead_message_and_reads_the_trail(browser, live_server, demo):
    from playwright.sync_api import expect

    from llo import outbox
    from llo.models import OutboxMessage

    message = outbox.publish("mdlp.recipe", {"sgtin": "0460702839373800000000001"}, key="demo-dead-1")
    OutboxMessage.objects.filter(pk=message.pk).update(
        status="dead", attempts=8, last_error="ConnectionError: МДЛП недоступен"
    )
    context, page = _login(browser, live_server, "minadmin", demo.users[0]["password"])
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/outbox/?status=dead")
    row = page.locator(f"#outbox-{message.pk}")
    expect(row).to_contain_text("МДЛП недоступен")
    page.screenshot(path=str(SCREENSHOTS / "outbox-dead.png"), full_page=True)
    row.get_by_role("button", name="Отправить повторно").click()
    expect(page.locator(f"#outbox-{message.pk}")).to_contain_text("Отправлено повторно")
    assert OutboxMessage.objects.get(pk=message.pk).status in {"pending", "processing", "done"}

    page.goto(f"{live_server.url}/audit/")
    expect(page.locator("main")).to_contain_text("повторная отправка")
    page.screenshot(path=str(SCREENSHOTS / "audit-recent.png"), full_page=True)
    context.close()


def test_system_admin_status_page_and_lockout_page(browser, live_server, demo):
    from playwright.sync_api import expect

    context, page = _login(browser, live_server, "sysadmin", demo.users[0]["password"])
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/system/")
    expect(page.locator("main")).to_contain_text("База данных PostgreSQL")
    page.screenshot(path=str(SCREENSHOTS / "system-status.png"), full_page=True)
    context.close()

    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    for _ in range(6):
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", "pharmacist")
        page.fill("#id_password", "not-the-password-1")
        with page.expect_navigation():
            page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("Вход временно заблокирован")
    page.screenshot(path=str(SCREENSHOTS / "login-locked.png"), full_page=True)
    context.close()
