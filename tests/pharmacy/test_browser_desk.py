"""The pharmacist's desk in headless Chromium on the demo region, with the scanner typing like a
keyboard (no GS, Enter at the end): open a prescription by its barcode, a wrong pack answered red,
the right packs green, Ctrl+Enter dispenses, the record and its printed slip; a patient's QR code
lists their prescriptions; a prescription without stock goes on deferred service."""

import shutil
import subprocess

import pytest
from django.utils import timezone

from llo.barcodes import prescription_label
from llo.models import Organization
from pharmacy.models import Deferral, Dispensation
from prescriptions.models import Prescription, Status
from registry.patient_token import patient_token_issue
from tests.browser import BROWSER_MARKS, browser, demo, login, shot  # noqa: F401 (fixtures)
from tests.pharmacy.demo_scenes import prescriptions_without_stock
from tests.test_browser import SCREENSHOTS
from warehouse.models import MarkedPack, PackState
from warehouse.reservations import free_stock

pytestmark = BROWSER_MARKS
CRYPTO = "A" * 40 + "Zq8="


def typed(sgtin: str) -> str:
    """A pack's DataMatrix as a keyboard-wedge scanner types it: the GS separators lost."""
    return f"01{sgtin[:14]}21{sgtin[14:]}91EE0692{CRYPTO}"


def _in_stock(rx, point) -> list[str]:
    packs = MarkedPack.objects.filter(place=point, state=PackState.IN_STOCK, package__trade_name__drug_id=rx.drug_id)
    if rx.package_id:
        packs = packs.filter(package_id=rx.package_id)
    free = {(lot.package_id, lot.series): lot.quantity for lot in
            free_stock(place_ids=[point.pk], package_ids=list(packs.values_list("package_id", flat=True).distinct()),
                       today=timezone.localdate())}
    chosen = []
    for pack in packs.order_by("expiry", "sgtin"):
        if free.get((pack.package_id, pack.series), 0) > sum(1 for p in chosen if p[1] == (pack.package_id,
                                                                                           pack.series)):
            chosen.append((pack.sgtin, (pack.package_id, pack.series)))
    return [sgtin for sgtin, _ in chosen]


def _prescription_with_stock(point):
    for rx in Prescription.objects.filter(status=Status.ISSUED, expires_on__gte=timezone.localdate(),
                                          is_handwritten=False).order_by("pk"):
        sgtins = _in_stock(rx, point)
        if len(sgtins) >= rx.quantity:
            return rx, sgtins[:rx.quantity]
    pytest.fail("the demo region has no open prescription with marked stock at the pharmacist's point")


def test_pharmacist_dispenses_by_scanning(login, live_server, demo):
    from playwright.sync_api import expect

    point = Organization.objects.get(code="AP-01-01")
    rx, sgtins = _prescription_with_stock(point)
    wrong = MarkedPack.objects.filter(place=point, state=PackState.IN_STOCK).exclude(
        package__trade_name__drug_id=rx.drug_id).first()
    page = login("pharmacist")

    page.locator(".sidebar").get_by_role("link", name="Отпуск по рецепту").click()
    page.wait_for_url("**/pharmacy/desk/")
    assert page.evaluate("document.activeElement.id") == "scan"
    shot(page, "desk-open.png")

    page.keyboard.type("]d2" + prescription_label(rx.series, rx.number), delay=2)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/pharmacy/desk/{rx.pk}/?place={point.pk}")
    expect(page.locator("h1")).to_contain_text(f"Рецепт {rx.series} № {rx.number}")
    expect(page.locator(".desk-stock")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "scan"
    expect(page.locator("#dispense")).to_be_disabled()

    if wrong is not None:
        page.keyboard.type(typed(wrong.sgtin), delay=1)
        page.keyboard.press("Enter")
        expect(page.locator("#scan-result .scan-bad")).to_have_attribute("data-error-code", "pack.mismatch")
        assert page.evaluate("document.activeElement.id") == "scan"
        shot(page, "desk-red.png")

    for n, sgtin in enumerate(sgtins, start=1):
        page.keyboard.type(typed(sgtin), delay=1)
        page.keyboard.press("Enter")
        expect(page.locator('[data-testid="scanned"]')).to_have_text(str(n))
        expect(page.locator("#scan-result .scan-ok")).to_be_visible()
        assert page.evaluate("document.activeElement.id") == "scan"
    expect(page.locator("#dispense")).to_be_enabled()
    shot(page, "desk-green.png")

    page.keyboard.press("Control+Enter")
    page.wait_for_url("**/pharmacy/dispensations/*/")
    dispensation = Dispensation.objects.get(prescription=rx)
    assert sorted(dispensation.items.values_list("sgtin", flat=True)) == sorted(sgtins)
    expect(page.locator(".messages")).to_contain_text(f"Рецепт {rx.series} № {rx.number} отпущен")
    shot(page, "desk-dispensed.png")

    slip_url = page.locator("#print-slip").get_attribute("href")
    answer = page.request.get(f"{live_server.url}{slip_url}")
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    pdf = SCREENSHOTS / "desk-slip.pdf"
    pdf.write_bytes(answer.body())
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf), str(SCREENSHOTS / "desk-slip")],
                       check=True, timeout=60)

    # the same prescription again: red at once, no scan field
    page.goto(f"{live_server.url}/pharmacy/desk/{rx.pk}/?place={point.pk}")
    expect(page.locator(".scan-bad")).to_have_attribute("data-error-code", "prescription.already_dispensed")
    expect(page.locator("#scan")).to_have_count(0)

    # the patient's QR code: their open prescriptions
    page.goto(f"{live_server.url}/pharmacy/desk/")
    page.keyboard.type(patient_token_issue(person=rx.person), delay=2)
    page.keyboard.press("Enter")
    expect(page.locator("#scan-result .scan-ok")).to_contain_text(rx.person.last_name)
    shot(page, "desk-patient.png")
    assert not [p for p in page.problems if "422" not in p and "409" not in p], page.problems


def test_pharmacist_defers_a_prescription_without_stock(login, live_server, demo):
    from playwright.sync_api import expect

    point = Organization.objects.get(code="AP-01-01")
    made = prescriptions_without_stock(point, 1)
    if not made:
        pytest.fail("no demo patient may be prescribed a drug that the point does not stock")
    rx = made[0]
    page = login("pharmacist")
    page.goto(f"{live_server.url}/pharmacy/desk/")
    page.fill("#series", rx.series)
    page.fill("#number", rx.number)
    page.get_by_role("button", name="Найти рецепт").click()
    page.wait_for_url(f"**/pharmacy/desk/{rx.pk}/?place={point.pk}")
    shot(page, "desk-no-stock.png")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="На отсроченное обслуживание").click()
    expect(page.locator(".messages")).to_contain_text("поставлен на отсроченное обслуживание")
    deferral = Deferral.objects.get(prescription=rx)
    expect(page.locator(".doc-side")).to_contain_text(f"{deferral.deadline:%d.%m.%Y}")
    shot(page, "desk-deferred.png")
