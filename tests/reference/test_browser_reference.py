"""The ministry admin works with the reference pages in headless Chromium: live catalogue search,
the drug card, a program's list, and an NSI import request with its run page."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from llo.demo import DEMO_PASSWORD, seed_demo
from tests.test_browser import CHROMIUM, FLAGS, SCREENSHOTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # a loaded CI machine may take more than the default 5 s
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, "--lang=ru-RU"])  # dates as ДД.ММ.ГГГГ
        yield instance
        instance.close()


@pytest.fixture
def demo(live_server):
    return seed_demo()


@pytest.fixture
def minadmin(browser, live_server, demo):
    """A logged-in page of the ministry admin, collecting console and page errors."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    page = context.new_page()
    page.problems = []
    page.on("console", lambda msg: page.problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "minadmin")
    page.fill("#id_password", DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
    yield page
    context.close()


def _shot(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top of a full-page shot
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_catalogue_search_drug_card_and_program_list(minadmin, live_server):
    from playwright.sync_api import expect

    page = minadmin
    page.goto(f"{live_server.url}/catalogue/")
    assert page.evaluate("document.activeElement && document.activeElement.id") == "q"  # autofocus
    page.locator("#q").press_sequentially("метф", delay=60)  # nothing pressed after typing
    rows = page.locator("#catalogue-results tbody tr")
    expect(rows.first).to_contain_text("Метформин")
    expect(page.locator("#catalogue-results")).to_contain_text("Сиофор")
    page.wait_for_url("**q=%D0%BC%D0%B5%D1%82%D1%84*")  # bookmarkable
    texts = rows.all_inner_texts()
    metformin = [i for i, text in enumerate(texts) if "Метформин" in text]
    assert len(metformin) == 18 and metformin == list(range(18)), texts  # 3 dosages × 2 packs × 3 trade names, first
    _shot(page, "catalogue-search.png")

    # Enter submits too: set the value without an input event, then press Enter
    page.locator("#q").evaluate("el => { el.value = 'глюкофаж'; }")
    page.locator("#q").press("Enter")
    page.wait_for_url("**q=%D0%B3%D0%BB%D1%8E%D0%BA%D0%BE%D1%84%D0%B0%D0%B6*")
    expect(rows.first).to_contain_text("Глюкофаж")
    assert sum("Глюкофаж" in text for text in rows.all_inner_texts()) == 6
    page.get_by_label("Наименования (МНН)").check(force=True)
    expect(page.locator("#catalogue-results thead")).to_contain_text("АТХ")

    rows.first.locator("a").first.click()
    page.wait_for_url("**/catalogue/drugs/**")
    expect(page.locator("h1")).to_have_text("Метформин")
    today = timezone.localdate()
    page.select_option("#inc_program", label="HIV-TB — Лечение ВИЧ-инфекции и туберкулеза")
    page.fill("#inc_valid_from", today.isoformat())
    page.fill("#inc_basis", "Протокол комиссии № 7")
    page.get_by_role("button", name="Включить в перечень").click()
    expect(page.locator(".messages")).to_contain_text("включён в перечень программы HIV-TB")
    programs = page.locator("#programs + .table-wrap tbody")
    expect(programs).to_contain_text("HIV-TB")
    expect(programs).to_contain_text("Протокол комиссии № 7")
    _shot(page, "drug-card.png")

    programs.get_by_role("link", name="HIV-TB").click()
    page.wait_for_url("**/programs/**")
    drugs = page.locator("#drugs")
    expect(drugs).to_contain_text("Метформин")
    expect(drugs).to_contain_text("Протокол комиссии № 7")

    # live search on the program card: the button carries the drug, the period comes from the form
    page.fill("#add_drug_valid_from", (today + timedelta(days=14)).isoformat())
    page.locator("#drug-q").press_sequentially("инсулин гл", delay=40)
    add = page.locator("#drug-search-results").get_by_role("button", name="Добавить").first
    expect(add).to_be_visible()
    add.click()
    expect(page.locator(".messages")).to_contain_text("Инсулин гларгин")
    page.get_by_role("link", name="Показать все, включая прошлые и будущие").first.click()
    expect(page.locator("#drugs")).to_contain_text("ещё не действует")
    page.locator("#drug-q").press_sequentially("инсулин", delay=40)
    results = page.locator("#drug-search-results")
    expect(results).to_contain_text(f"в перечне с {today + timedelta(days=14):%d.%m.%Y}")  # гларгин, just added
    expect(results.get_by_role("button", name="Добавить").first).to_be_visible()
    _shot(page, "program-card.png")

    page.goto(f"{live_server.url}/programs/")
    expect(page.locator("main")).to_contain_text("HIV-TB")
    _shot(page, "program-list.png")
    page.goto(f"{live_server.url}/reference/categories/")
    expect(page.locator("main")).to_contain_text("Инвалиды войны")
    _shot(page, "categories.png")
    assert not page.problems, page.problems


def test_nsi_import_request_and_run_page(minadmin, live_server):
    from playwright.sync_api import expect

    from llo.models import NsiDictionary, NsiImportRun

    dictionary = NsiDictionary.objects.order_by("load_order").first()
    NsiDictionary.objects.filter(pk=dictionary.pk).update(portal_version="1.1", portal_checked_at=timezone.now())
    page = minadmin
    page.goto(f"{live_server.url}/nsi/")
    row = page.locator(f"#dictionary-{dictionary.pk}")
    expect(row).to_contain_text("Доступна новая версия")
    _shot(page, "nsi-dictionaries.png")

    row.get_by_role("button", name="Загрузить версию 1.1").click()
    page.wait_for_url("**/nsi/runs/**")
    status = page.locator("#run-status")
    expect(status).to_contain_text("В очереди")
    expect(page.locator(".messages")).to_contain_text("поставлена в очередь")
    page.wait_for_timeout(1500)  # at least one poll of the status partial
    expect(page.locator("#run-status[hx-trigger]")).to_have_count(1)
    run = NsiImportRun.objects.get(dictionary=dictionary, version="1.1")
    assert run.status == "queued"
    _shot(page, "nsi-run.png")
    assert not page.problems, page.problems
