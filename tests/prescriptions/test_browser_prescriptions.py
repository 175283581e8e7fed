"""Prescribing in headless Chromium on the demo region: the doctor opens «Рецепты», finds the patient
by scanning a SNILS, picks the program and the drug by typing in the live search, sees the stock at
an attached pharmacy, is refused once (too many packs), reserves, issues, lands on the prescription
page and opens the print form."""

import shutil
import subprocess

import pytest
from django.utils import timezone

from llo.models import ProgramDrug, User
from prescriptions import selectors
from prescriptions.models import Prescription, Status
from registry.models import Person
from registry.snils import format_snils
from tests.browser import BROWSER_MARKS, browser, demo, login, shot  # noqa: F401 (fixtures)
from tests.test_browser import SCREENSHOTS

pytestmark = BROWSER_MARKS


def _drug_in_stock(doctor_user, program_code: str):
    """A drug of the program's list with free stock at a pharmacy attached to the doctor's MO."""
    mo, today = doctor_user.organization.legal_entity, timezone.localdate()
    for row in (ProgramDrug.objects.valid_on(today).filter(program__code=program_code)
                .select_related("drug__inn").order_by("drug__inn__name", "pk")):
        lines = selectors.stock_for_prescribing(organization=mo, drug=row.drug, day=today)
        if lines:
            return row.drug, lines[0].place
    pytest.fail("the demo region has no stock of an ONLP drug at the doctor's pharmacies")


def test_doctor_issues_a_reserved_prescription_and_prints_it(login, live_server, demo):
    from playwright.sync_api import expect

    page = login("doctor")
    drug, pharmacy = _drug_in_stock(User.objects.get(username="doctor"), "ONLP")
    patient = Person.objects.get(last_name="Смирнова", first_name="Галина", patronymic="Ивановна")
    before = set(Prescription.objects.values_list("pk", flat=True))  # the demo region's own

    page.locator(".sidebar").get_by_role("link", name="Рецепты", exact=True).click()
    page.wait_for_url("**/prescriptions/")
    expect(page.locator("h1")).to_have_text("Рецепты")
    shot(page, "rx-list-before.png")

    page.locator(".head-actions").get_by_role("link", name="Выписать рецепт").click()
    page.wait_for_url("**/prescriptions/new/")
    assert page.evaluate("document.activeElement.id") == "q"  # the scanner types here
    page.keyboard.type(format_snils(patient.snils), delay=5)
    shot(page, "rx-find.png")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/prescriptions/new/?person={patient.pk}")
    expect(page.locator(".rx-patient h2")).to_have_text("Смирнова Галина Ивановна")
    expect(page.locator(".rx-rights")).to_contain_text("ONLP")
    expect(page.locator(".rx-side")).to_contain_text("Выберите препарат")
    shot(page, "rx-new-patient.png")

    page.select_option("#id_program", label=page.locator("#id_program option", has_text="ONLP").inner_text())
    expect(page.locator("#drug_q")).to_be_enabled()
    page.locator("#drug_q").press_sequentially(drug.inn.name[:6].lower(), delay=60)
    option = page.locator(".drug-option", has_text=drug.inn.name).filter(
        has_text=drug.dosage or drug.inn.name).first
    expect(option).to_be_visible()
    shot(page, "rx-new-drug-search.png")

    option.click()
    expect(page.locator(".drug-chosen")).to_contain_text(drug.inn.name)
    stock_panel = page.locator("#rx-stock")
    expect(stock_panel).to_contain_text(pharmacy.short_name)
    expect(stock_panel.locator(".stock-lines").first).to_be_visible()
    if drug.dosage:
        expect(page.locator("#id_dosage")).to_have_value(drug.dosage)
    shot(page, "rx-new-drug-stock.png")

    page.fill("#id_icd10", "I10")
    if not drug.dosage:
        page.fill("#id_dosage", "1 таблетка")
    page.fill("#id_quantity", "99")
    page.fill("#id_signa", "По 1 таблетке 2 раза в день после еды")
    page.select_option("#id_reserve_at", label=pharmacy.short_name)
    page.fill("#id_reserve_days", "3")
    page.get_by_role("button", name="Выписать рецепт").click()
    expect(page.locator(".rx-error")).to_contain_text("Количество — от 1 до")
    expect(page.locator("#field-quantity")).to_have_class("field has-error")
    expect(page.locator("#id_signa")).to_have_value("По 1 таблетке 2 раза в день после еды")  # kept
    expect(page.locator(".drug-chosen")).to_contain_text(drug.inn.name)
    assert set(Prescription.objects.values_list("pk", flat=True)) == before  # nothing written
    shot(page, "rx-new-refused.png")

    # a paper blank: its series and number instead of the reservation (CSS only, no script)
    page.check("#id_handwritten")
    expect(page.locator("#id_blank_series")).to_be_visible()
    expect(page.locator("#id_reserve_at")).to_be_hidden()
    expect(page.get_by_role("button", name="Зарегистрировать рецепт")).to_be_visible()
    shot(page, "rx-new-handwritten.png")
    page.uncheck("#id_handwritten")
    expect(page.locator("#id_blank_series")).to_be_hidden()

    page.fill("#id_quantity", "1")
    page.get_by_role("button", name="Выписать рецепт").click()
    page.wait_for_url("**/prescriptions/*/")
    rx = Prescription.objects.exclude(pk__in=before).get()
    assert rx.status == Status.RESERVED and rx.reserved_at == pharmacy and rx.person == patient
    expect(page.locator(".messages")).to_contain_text(f"Рецепт серия {rx.series} № {rx.number} выписан")
    expect(page.locator("h1")).to_contain_text(f"Рецепт серия {rx.series} № {rx.number}")
    expect(page.locator(".doc-side")).to_contain_text(pharmacy.short_name)
    shot(page, "rx-detail.png")

    with page.context.expect_event("response", lambda r: r.url.endswith("/print.pdf")) as answer:
        page.get_by_role("link", name="Печать").click()
    response = answer.value
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    pdf = SCREENSHOTS / "rx-print.pdf"
    pdf.write_bytes(page.request.get(response.url).body())
    assert pdf.read_bytes()[:4] == b"%PDF"
    if shutil.which("pdftoppm"):  # the print form as an image, next to the page screenshots
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf), str(SCREENSHOTS / "rx-print")],
                       check=True, timeout=60)

    page.get_by_role("link", name="Копировать").click()
    page.wait_for_url(f"**/prescriptions/new/?copy={rx.pk}")
    expect(page.locator(".drug-chosen")).to_contain_text(drug.inn.name)
    expect(page.locator("#id_signa")).to_have_value("По 1 таблетке 2 раза в день после еды")
    expect(page.locator("#rx-stock")).to_contain_text(pharmacy.short_name)
    shot(page, "rx-copy.png")

    page.goto(f"{live_server.url}/prescriptions/")
    expect(page.locator(".rx-table")).to_contain_text(f"{rx.series} № {rx.number}")
    shot(page, "rx-list.png")

    # the patient's card leads to the same form
    page.goto(f"{live_server.url}/register/persons/{patient.pk}/")
    page.locator(".head-actions").get_by_role("link", name="Выписать рецепт").click()
    page.wait_for_url(f"**/prescriptions/new/?person={patient.pk}")
    expect(page.locator(".rx-patient h2")).to_have_text("Смирнова Галина Ивановна")
    assert not [p for p in page.problems if "422" not in p], page.problems
