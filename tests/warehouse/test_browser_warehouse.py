"""The warehouse clerk and the pharmacist at work in headless Chromium: a receipt's scan page driven
like a keyboard-wedge scanner (GS as \\x1d, Enter, the focus never leaves the field), the forms that
make documents, a shipment picked, scanned, shipped and received at the pharmacy, storage and boxes,
the stock page. Every page is photographed to var/screenshots/warehouse-*.png."""

import os
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from llo.demo import DEMO_PASSWORD, seed_demo
from llo.models import Organization, Package, Role, User
from tests.llo import factories as f
from tests.test_browser import CHROMIUM, FLAGS, SCREENSHOTS
from tests.warehouse import factories as wf
from warehouse.models import Acceptance, MarkedPack, StockDocument
from warehouse.receipts import ExpectedPack, ReceiptLine, receipt_create, receipt_post, receipt_scan

# A refused scan answers 409/422 on purpose (shown in red, llo.api_errors' codes); Chromium logs every 4xx.
ANSWERED = re.compile(r"Failed to load resource: the server responded with a status of (409|422)")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, "--lang=ru-RU"])
        yield instance
        instance.close()


@pytest.fixture
def demo(live_server):
    return seed_demo()


@pytest.fixture
def stock(demo):
    """A contract of the test's own under ОНЛП for two marked packs and an unmarked one the demo stock
    does not hold (so that pick lists hold only what the test received)."""
    fresh = Package.objects.filter(gtin__isnull=False, contract_items__isnull=True).select_related("trade_name")
    packages = list(fresh.filter(is_marked=True).order_by("pk")[:2])
    unmarked = fresh.filter(is_marked=False).order_by("pk").first()
    contract = wf.contract(Organization.objects.get(code="SUP-01"), Organization.objects.get(code="MZ"),
                           [*packages, unmarked])
    return {"clerk": User.objects.get(username="warehouse"), "contract": contract, "marked": packages,
            "unmarked": unmarked}


@pytest.fixture
def pages(browser, live_server, demo):
    """Logged-in pages by username, collecting console and page errors."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    contexts = []

    def open_as(username: str):
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="ru-RU")
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("console", lambda msg: page.problems.append(msg.text) if msg.type == "error" and not
                ANSWERED.search(msg.text) else None)
        page.on("pageerror", lambda exc: page.problems.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm: the clerk confirms
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", DEMO_PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield open_as
    for context in contexts:
        context.close()


def _shot(page, name: str) -> None:
    page.evaluate("Promise.all([...document.images].filter(i => !i.complete)"  # the labels drawn (no eval:
                  ".map(i => new Promise(done => { i.onload = i.onerror = done; })))")  # the CSP forbids it)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"warehouse-{name}.png"), full_page=True)


def _focused(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def _scan(page, raw: str) -> None:
    """What a keyboard-wedge scanner does: types into whatever has the focus, then Enter."""
    page.keyboard.type(raw)
    page.keyboard.press("Enter")


def test_the_clerk_scans_a_receipt_the_answer_shows_at_once_and_the_focus_stays(pages, live_server, stock):
    from playwright.sync_api import expect

    clerk, package = stock["clerk"], stock["marked"][0]
    packs = [wf.sgtin(package) for _ in range(3)]
    document = receipt_create(user=clerk, contract=stock["contract"], acceptance=Acceptance.DIRECT,
                              supplier_number="УПД-2026/117", supplier_date=timezone.localdate(),
                              expected=[ExpectedPack(sgtin=s, series="A2611", expiry=date(2028, 6, 30))
                                        for s in packs])
    page = pages("warehouse")
    page.goto(f"{live_server.url}/stock/documents/{document.pk}/")
    assert _focused(page) == "scan"  # autofocus: the scanner may start at once
    expect(page.locator("[data-testid=expected]")).to_have_text("3")

    raw = wf.datamatrix(packs[0])
    assert "\x1d" in raw
    _scan(page, raw)
    expect(page.locator("#scan-result .scan-ok")).to_contain_text(f"Принято: {package}")
    expect(page.locator("[data-testid=scanned]")).to_have_text("1")
    assert _focused(page) == "scan" and page.input_value("#scan") == ""
    _scan(page, wf.datamatrix(packs[1]))
    expect(page.locator("[data-testid=scanned]")).to_have_text("2")
    expect(page.locator(".recent-scans li")).to_have_count(2)
    _shot(page, "receipt-scan-ok")

    _scan(page, "hello world")
    expect(page.locator("#scan-result .scan-bad")).to_contain_text("Это не код, который понимает система")
    assert _focused(page) == "scan" and page.input_value("#scan") == ""
    expect(page.locator("[data-testid=scanned]")).to_have_text("2")  # nothing changed
    _scan(page, wf.datamatrix(packs[0]))
    expect(page.locator("#scan-result .scan-bad")).to_contain_text("уже отсканирована")
    _shot(page, "receipt-scan-bad")

    page.mouse.click(1200, 880)  # the focus lost on the page: the next scan still lands in the field
    _scan(page, wf.datamatrix(packs[2]))
    expect(page.locator("[data-testid=scanned]")).to_have_text("3")
    assert _focused(page) == "scan"

    page.get_by_role("button", name="Провести приёмку").click()  # confirmed by the dialog handler
    expect(page.locator(".messages")).to_contain_text("Приёмка проведена")
    expect(page.locator("#scan")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Проведено по учёту")
    _shot(page, "receipt-posted")
    assert MarkedPack.objects.filter(sgtin__in=packs, state="in_stock").count() == 3
    assert not page.problems, page.problems


def test_documents_made_on_their_pages_a_shipment_received_at_the_pharmacy_storage_and_stock(
        pages, live_server, stock, tmp_path):
    from playwright.sync_api import expect

    clerk, contract, (first, second), unmarked = stock["clerk"], stock["contract"], stock["marked"], stock["unmarked"]
    earlier = receipt_create(user=clerk, contract=contract, acceptance=Acceptance.REVERSE, lines=[
        ReceiptLine(package=first, series="F-EARLY", expiry=timezone.localdate() + timedelta(days=45), quantity=2),
        ReceiptLine(package=first, series="F-LATE", expiry=date(2028, 3, 31), quantity=4)])
    in_stock = [wf.sgtin(first) for _ in range(6)]
    for sgtin in in_stock:
        receipt_scan(user=clerk, document=earlier, raw=wf.datamatrix(sgtin))
    receipt_post(user=clerk, document=earlier)
    page = pages("warehouse")
    url = live_server.url

    # a reverse receipt through its form: lines typed (the second one scanned into the field), then scanned
    page.goto(f"{url}/stock/receipts/new/")
    page.select_option("#id_contract", str(contract.pk))
    page.get_by_label("Обратный порядок (по нашей приёмке)").check()
    expect(page.locator(".direct-only")).to_be_hidden()
    page.fill("#id_lines-0-package", second.gtin)
    page.fill("#id_lines-0-series", "S-0326")
    page.fill("#id_lines-0-expiry", "2028-09-30")
    page.fill("#id_lines-0-quantity", "2")
    page.fill("#id_lines-1-package", unmarked.gtin)
    page.fill("#id_lines-1-series", "U-11")
    page.fill("#id_lines-1-expiry", "2029-01-31")
    page.fill("#id_lines-1-quantity", "10")
    page.fill("#id_supplier_number", "ТН-5521")
    _shot(page, "receipt-new-reverse")
    page.get_by_role("button", name="Создать приходную накладную").click()
    page.wait_for_url("**/stock/documents/**")
    expect(page.locator(".messages")).to_contain_text("создан")
    for _ in range(2):
        _scan(page, wf.datamatrix(wf.sgtin(second)))
        page.wait_for_timeout(150)
    expect(page.locator("[data-testid=scanned]")).to_have_text("2")
    _shot(page, "receipt-reverse-scan")
    page.get_by_role("button", name="Провести приёмку").click()
    expect(page.locator(".messages")).to_contain_text("Приёмка проведена")

    # a direct receipt's form with a bad supplier's list: the row and the field are named
    page.goto(f"{url}/stock/receipts/new/")
    page.select_option("#id_contract", str(contract.pk))
    bad = tmp_path / "list.csv"
    bad.write_text(f"sgtin;sscc;parent_sscc;series;expiry\n{wf.sgtin(first)};;;S1;31.02.2028\n", encoding="utf-8")
    page.set_input_files("#id_supplier_list", str(bad))
    page.get_by_role("button", name="Создать приходную накладную").click()
    expect(page.locator(".alert-error")).to_contain_text("Строка 2, поле expiry")
    expect(page.locator(".reverse-only")).to_be_hidden()
    _shot(page, "receipt-new-bad-csv")

    # a shipment: the FEFO pick list first, then scanned against it and shipped
    page.goto(f"{url}/stock/shipments/new/")
    page.select_option("#id_destination", label="Аптека № 1 (центр)")
    page.fill("#id_wanted-0-package", first.gtin)
    page.fill("#id_wanted-0-quantity", "3")
    page.get_by_role("button", name="Показать лист подбора").click()
    expect(page.locator(".pick-table")).to_contain_text("F-EARLY")
    _shot(page, "shipment-new-pick-list")
    page.get_by_role("button", name="Создать отгрузку").click()
    page.wait_for_url("**/stock/documents/**")
    shipment = StockDocument.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    assert shipment.kind == "shipment"
    early = list(MarkedPack.objects.filter(series="F-EARLY").values_list("sgtin", flat=True))
    late = MarkedPack.objects.filter(series="F-LATE").values_list("sgtin", flat=True).first()
    for sgtin in [*early, late]:
        _scan(page, wf.datamatrix(sgtin))
        page.wait_for_timeout(150)
    expect(page.locator("[data-testid=scanned]")).to_have_text("3")
    _shot(page, "shipment-scan")
    page.get_by_role("button", name="Отгрузить").click()
    expect(page.locator(".messages")).to_contain_text("Отгружено")

    # storage: an address with its label, a pack put away, a box formed and its label
    page.goto(f"{url}/stock/storage/")
    for field, value in (("zone", "T"), ("rack", "09"), ("shelf", "08"), ("cell", "07")):
        page.fill(f"#addr_{field}", value)
    page.get_by_role("button", name="Добавить").click()
    expect(page.locator(".messages")).to_contain_text("Адрес T-09-08-07 добавлен")
    expect(page.locator(".address-card", has_text="T-09-08-07").locator("img")).to_have_count(1)
    _shot(page, "storage-addresses")
    rest = list(MarkedPack.objects.filter(series="F-LATE", state="in_stock").values_list("sgtin", flat=True))
    page.goto(f"{url}/stock/storage/put-away/")
    assert _focused(page) == "scan"
    page.keyboard.type(wf.datamatrix(rest[0]))
    page.keyboard.press("Enter")
    assert _focused(page) == "scan-address"
    _scan(page, "ADR-T-09-08-07")
    expect(page.locator(".scan-ok")).to_contain_text("Размещено в ячейку T-09-08-07")
    assert _focused(page) == "scan"
    _shot(page, "storage-put-away")
    page.goto(f"{url}/stock/storage/boxes/new/")
    for sgtin in rest[1:3]:
        _scan(page, wf.datamatrix(sgtin))
        page.wait_for_timeout(150)
    expect(page.locator("[data-testid=box-count]")).to_have_text("2")
    _scan(page, wf.datamatrix(rest[1]))
    expect(page.locator(".scan-bad")).to_contain_text("уже в списке")
    _shot(page, "storage-aggregation")
    page.get_by_role("button", name="Сформировать короб").click()
    page.wait_for_url("**/stock/storage/boxes/*/")
    expect(page.locator(".messages")).to_contain_text("Короб сформирован")
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    _shot(page, "storage-box")
    page.goto(f"{url}/stock/storage/boxes/open/")
    _shot(page, "storage-disaggregation")

    # write-off and a blind inventory
    page.goto(f"{url}/stock/write-off/new/")
    page.select_option("#id_reason", "damaged")
    page.get_by_role("button", name="Создать документ").click()
    page.wait_for_url("**/stock/documents/**")
    page.fill("#qty_package", unmarked.gtin)
    page.fill("#qty_series", "U-11")
    page.fill("#qty_quantity", "0")
    page.get_by_role("button", name="Добавить в документ").click()
    expect(page.locator(".scan-bad")).to_contain_text("Количество должно быть больше нуля")
    assert _focused(page) == "scan"
    page.fill("#qty_quantity", "2")
    page.get_by_role("button", name="Добавить в документ").click()
    expect(page.locator(".scan-ok")).to_contain_text("В документ")
    expect(page.locator("#qty_package")).to_have_value("")
    _shot(page, "write-off")
    page.goto(f"{url}/stock/inventory/new/")
    page.get_by_role("button", name="Начать инвентаризацию").click()
    page.wait_for_url("**/stock/documents/**")
    _scan(page, wf.datamatrix(rest[0]))
    expect(page.locator("[data-testid=scanned]")).to_have_text("1")
    _shot(page, "inventory-scan")
    page.get_by_role("link", name="Расхождения").click()
    expect(page.locator("main")).to_contain_text("Пересчёт слепой")
    _shot(page, "inventory-blind")
    differences = page.url

    page.goto(f"{url}/stock/documents/")
    page.select_option("select[name=kind]", "receipt")
    page.wait_for_url("**kind=receipt**")
    receipts = StockDocument.objects.filter(kind="receipt", place=clerk.organization).count()
    expect(page.locator("#document-rows tbody tr")).to_have_count(min(receipts, 50))
    assert set(page.locator("#document-rows tbody td:nth-child(2)").all_inner_texts()) == {"Приходная накладная"}
    _shot(page, "documents")
    page.goto(f"{url}/stock/")
    expect(page.locator(".stock-table")).to_contain_text("T-09-08-07")
    _shot(page, "stock")
    assert not page.problems, page.problems

    # the pharmacist receives the shipment
    pharmacist = pages("pharmacist")
    pharmacist.goto(f"{url}/stock/incoming/")
    expect(pharmacist.locator("main")).to_contain_text(shipment.number)
    _shot(pharmacist, "incoming")
    pharmacist.get_by_role("button", name="Принять").click()
    expect(pharmacist.locator(".messages")).to_contain_text("принята")
    _shot(pharmacist, "shipment-received")
    pharmacist.goto(f"{url}/stock/")
    expect(pharmacist.locator(".stock-table")).to_contain_text("F-EARLY")
    _shot(pharmacist, "stock-pharmacy")
    pharmacist.get_by_role("link", name="Сроки годности").click()
    pharmacist.get_by_text("60 дней").click()
    pharmacist.get_by_role("button", name="Показать").click()
    expect(pharmacist.locator(".stock-table")).to_contain_text("F-EARLY")
    _shot(pharmacist, "stock-expiring")
    assert not pharmacist.problems, pharmacist.problems

    analyst = pages("analyst")
    analyst.goto(f"{url}/stock/")
    expect(analyst.locator(".stock-table")).to_contain_text("Аптека № 1")
    _shot(analyst, "stock-ministry")
    analyst.goto(f"{url}/stock/documents/{shipment.pk}/")
    expect(analyst.locator("#scan")).to_have_count(0)
    _shot(analyst, "shipment-ministry")
    assert not analyst.problems, analyst.problems

    # a second clerk sees the inventory's differences and approves them (last: it withdraws the rest)
    f.user(Role.WAREHOUSE_CLERK, clerk.organization, username="warehouse2", password=DEMO_PASSWORD)
    second = pages("warehouse2")
    second.goto(differences)
    expect(second.locator("main")).to_contain_text("упаковок не найдено")
    expect(second.locator("main")).not_to_contain_text(rest[0])  # counted: no difference
    _shot(second, "inventory-differences")
    second.get_by_role("button", name="Утвердить результаты").click()
    expect(second.locator(".messages")).to_contain_text("Результаты инвентаризации утверждены")
    expect(second.locator("main")).to_contain_text("Выведены из оборота как недостача")
    assert not second.problems, second.problems
