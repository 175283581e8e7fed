"""The doctor's pages: the MO's list with its filters and the register of hand-written
prescriptions, finding the patient, the form (drug search, stock, issue, refusal, copy,
hand-written), the prescription page, print and cancel — and who may do what."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from django.urls import reverse

from llo.models import BenefitCategory, Role
from prescriptions import page_selectors
from prescriptions.models import Prescription, PrintMethod, Status
from registry.models import BenefitRight, NsuRefusal, PersonLookup, RightSource
from registry.snils import format_snils
from tests.llo import factories as f
from tests.registry.factories import person as make_person
from warehouse import ledger
from warehouse.ledger import Move, StockKey

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
LIST, NEW = "/prescriptions/", "/prescriptions/new/"


def text(response) -> str:
    return response.content.decode()


def stock(point, package, quantity=5, series="S1"):
    with transaction.atomic():
        ledger.post([Move(StockKey(point.pk, None, package.pk, series, "1", None), date.today() + timedelta(days=400),
                          quantity)], reason="receipt")


@pytest.fixture
def as_doctor(client, doctor, doctor_user):
    client.force_login(doctor_user)
    return client


@pytest.fixture
def form_data(patient, onlp, drug):
    """A valid POST of the new-prescription form."""

    def make(**fields):
        data = {"person": patient.pk, "program": onlp.pk, "drug": drug.pk, "icd10": "I10",
                "dosage": drug.dosage or "1 таб.", "quantity": 2, "signa": "По 1 таблетке 2 раза в день",
                "validity_days": "", "urgency": "", "reserve_at": "", "reserve_days": 3, "token": "t1"}
        data.update(fields)
        return {k: v for k, v in data.items() if v is not None}

    return make


# --- the list ------------------------------------------------------------------------------------

def test_the_list_shows_the_mos_prescriptions_newest_first(as_doctor, issue, other_mo, drug):
    older = issue()
    newer = issue(quantity=1)
    page = text(as_doctor.get(LIST))
    assert page.index(f"{newer.series} № {newer.number}") < page.index(f"{older.series} № {older.number}")
    assert "Выписать рецепт" in page and "Реестр рецептов, выписанных от руки" in page


def test_the_filters_narrow_the_list(as_doctor, issue, patient, mo, doctor, drug, diagnosis, today):
    first = issue()
    other_patient = make_person(attached_mo=mo, birth_date=date(1970, 1, 1), sex="F")
    BenefitRight.objects.create(person=other_patient, program=first.program,
                                category=BenefitCategory.objects.get(federal_code="010"),
                                valid_from=date(2020, 1, 1), source=RightSource.SFR, disability_group="2")
    second = issue(person=other_patient)
    cancelled = issue(quantity=3)
    Prescription.objects.filter(pk=cancelled.pk).update(status=Status.CANCELLED, cancel_reason="ошибка")

    def found(**params):
        page = text(as_doctor.get(LIST, params, **HX))
        return {rx.pk for rx in (first, second, cancelled) if f"{rx.series} № {rx.number}<" in page}

    assert found() == {first.pk, second.pk, cancelled.pk}
    assert found(number=second.number) == {second.pk}
    assert found(series=first.series.lower()) == {first.pk, second.pk, cancelled.pk}
    assert found(status="cancelled") == {cancelled.pk}
    assert found(snils=format_snils(other_patient.snils)) == {second.pk}
    assert found(doctor=doctor.pk) == {first.pk, second.pk, cancelled.pk}
    assert found(program="ONLP") == {first.pk, second.pk, cancelled.pk}
    assert found(inn=drug.inn.name[:5].upper()) == {first.pk, second.pk, cancelled.pk}
    assert found(inn="нет-такого-препарата") == set()
    assert found(issued_from=today.isoformat(), issued_to=today.isoformat()) == {first.pk, second.pk, cancelled.pk}
    assert found(issued_to=(today - timedelta(days=1)).isoformat()) == set()
    assert found(handwritten="1") == set()
    assert found(handwritten="0") == {first.pk, second.pk, cancelled.pk}
    bad = as_doctor.get(LIST, {"snils": "123-456-789 00"}, **HX)
    assert bad.status_code == 200 and "СНИЛС" in text(bad) and 'role="alert"' in text(bad)


def test_the_list_pages_without_counting(as_doctor, issue, monkeypatch):
    monkeypatch.setattr(page_selectors, "PAGE_SIZE", 2)
    made = [issue(quantity=n) for n in (1, 2, 3)]
    first = text(as_doctor.get(LIST))
    assert "Следующая страница" in first and f"{made[0].series} № {made[0].number}<" not in first
    second = text(as_doctor.get(LIST, {"page": 2}))
    assert f"{made[0].series} № {made[0].number}<" in second and "Следующая страница" not in second
    assert "← Предыдущая" in second


def test_the_list_hides_other_mos_prescriptions(client, outsider, issued):
    f.doctor(outsider.organization, user=outsider)
    client.force_login(outsider)
    assert issued.number not in text(client.get(LIST))


# --- step 1: the patient -------------------------------------------------------------------------

def test_a_snils_opens_the_form_and_is_logged(as_doctor, patient, doctor_user):
    response = as_doctor.get(NEW, {"q": format_snils(patient.snils)})
    assert response.status_code == 302 and response["Location"] == f"{NEW}?person={patient.pk}"
    assert PersonLookup.objects.filter(person=patient, user=doctor_user, method="snils").exists()
    page = text(as_doctor.get(response["Location"]))
    assert patient.full_name in page and "ONLP" in page and "действует" in page


def test_a_name_finds_the_mos_patients_live(as_doctor, patient):
    response = as_doctor.get(NEW, {"q": "иванова мар"}, **HX)
    assert patient.full_name in text(response) and f"?person={patient.pk}" in text(response)


def test_a_wrong_snils_says_so(as_doctor):
    response = as_doctor.get(NEW, {"q": "123-456-789 00"})
    assert response.status_code == 400 and "контрольн" in text(response)


def test_the_patient_card_offers_the_prescription_to_doctors_only(client, as_doctor, patient, colleague):
    assert f"{NEW}?person={patient.pk}" in text(as_doctor.get(f"/register/persons/{patient.pk}/"))
    client.force_login(colleague)
    assert f"{NEW}?person={patient.pk}" not in text(client.get(f"/register/persons/{patient.pk}/"))


# --- step 2: the form, its fragments, issue --------------------------------------------------------

def test_the_form_offers_the_rights_in_force_and_the_attached_pharmacies(as_doctor, patient, onlp, attached_point):
    page = text(as_doctor.get(NEW, {"person": patient.pk}))
    assert f'<option value="{onlp.pk}" selected>' in page  # the only program is chosen
    assert attached_point.short_name in page
    assert 'id="drug_q"' in page


def test_a_refused_onlp_right_is_shown_not_in_force(as_doctor, patient, today):
    NsuRefusal.objects.create(person=patient, year=today.year, refused=True)
    page = text(as_doctor.get(NEW, {"person": patient.pk}))
    assert "не действует: отказ от НСУ" in page and "нет действующих льготных прав" in page
    assert 'id="rx-form"' not in page


def test_the_drug_search_lists_the_programs_drugs(as_doctor, onlp, drug):
    response = as_doctor.get(reverse("prescription_drugs"), {"program": onlp.pk, "q": drug.inn.name[:6]}, **HX)
    assert f"?drug={drug.pk}" in text(response)
    nothing = as_doctor.get(reverse("prescription_drugs"), {"q": drug.inn.name[:6]}, **HX)
    assert "Сначала выберите программу" in text(nothing)


def test_choosing_a_drug_shows_its_stock_and_fills_the_dosage(as_doctor, onlp, drug, package, attached_point):
    stock(attached_point, package, quantity=7)
    response = as_doctor.get(reverse("prescription_drug"), {"program": onlp.pk, "drug": drug.pk, "dosage": ""}, **HX)
    page = text(response)
    assert f'name="drug" value="{drug.pk}"' in page
    assert attached_point.short_name in page and "S1" in page and "7 уп." in page
    assert 'id="field-dosage" hx-swap-oob="true"' in page
    assert package.trade_name.name in page  # the trade-name packages to choose from
    typed = text(as_doctor.get(reverse("prescription_drug"), {"program": onlp.pk, "drug": drug.pk,
                                                              "dosage": "своя"}, **HX))
    assert 'id="field-dosage"' not in typed  # what the doctor typed stays


def test_a_valid_prescription_is_issued_and_opens_its_page(as_doctor, form_data, mo, doctor_user):
    response = as_doctor.post(NEW, form_data())
    rx = Prescription.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/prescriptions/{rx.pk}/"
    assert rx.print_method == PrintMethod.SYSTEM and rx.created_by == doctor_user and rx.status == Status.ISSUED
    assert rx.number.startswith(mo.code + PrintMethod.SYSTEM)
    page = text(as_doctor.get(response["Location"]))
    assert f"Рецепт серия {rx.series} № {rx.number} выписан" in page
    assert rx.dosage in page and rx.signa in page and "I10" in page and "Печать" in page


def test_a_double_submit_issues_one_prescription(as_doctor, form_data):
    first = as_doctor.post(NEW, form_data(token="same"))
    second = as_doctor.post(NEW, form_data(token="same"))
    assert first["Location"] == second["Location"] and Prescription.objects.count() == 1


def test_the_doctor_reserves_at_an_attached_pharmacy(as_doctor, form_data, attached_point, package):
    stock(attached_point, package)
    as_doctor.post(NEW, form_data(reserve_at=attached_point.pk, reserve_days=3))
    rx = Prescription.objects.get()
    assert rx.status == Status.RESERVED and rx.reserved_at == attached_point
    page = text(as_doctor.get(f"/prescriptions/{rx.pk}/"))
    assert "Забронирован" in page and attached_point.short_name in page


def test_a_refused_check_shows_the_message_keeps_the_input_and_writes_nothing(as_doctor, form_data):
    response = as_doctor.post(NEW, form_data(validity_days=90, signa="Особая сигна"))
    page = text(response)
    assert response.status_code == 422 and Prescription.objects.count() == 0
    assert "срок действия рецепта — 30 дней" in page
    assert 'has-error" id="field-validity_days"' in page
    assert "Особая сигна" in page


def test_missing_fields_are_named_and_marked(as_doctor, form_data):
    response = as_doctor.post(NEW, form_data(drug="", signa=""))
    page = text(response)
    assert response.status_code == 422 and "Заполните обязательные поля: препарат, способ применения" in page
    assert 'drug-picker span-2 has-error' in page and 'has-error" id="field-signa"' in page


def test_an_unknown_icd10_code_is_refused_by_the_form(as_doctor, form_data):
    response = as_doctor.post(NEW, form_data(icd10="Q99.99"))
    assert response.status_code == 422 and "Кода МКБ-10 «Q99.99» нет в справочнике" in text(response)
    assert Prescription.objects.count() == 0


def test_not_enough_stock_for_the_reservation_writes_nothing(as_doctor, form_data, attached_point, package):
    stock(attached_point, package, quantity=1)
    response = as_doctor.post(NEW, form_data(reserve_at=attached_point.pk, quantity=2))
    assert response.status_code == 409 and "свободно 1 упак." in text(response)
    assert Prescription.objects.count() == 0


def test_a_handwritten_prescription_goes_to_its_register(as_doctor, form_data):
    response = as_doctor.post(NEW, form_data(handwritten="on", blank_series="9926", blank_number="100023000001"))
    rx = Prescription.objects.get()
    assert response.status_code == 302 and rx.is_handwritten and rx.print_method == PrintMethod.HANDWRITTEN
    assert (rx.series, rx.number) == ("9926", "100023000001")
    register = text(as_doctor.get(LIST, {"handwritten": "1"}))
    assert "9926 № 100023000001" in register and "от руки" in register
    missing = as_doctor.post(NEW, form_data(handwritten="on", token="t2"))
    assert missing.status_code == 422 and "Укажите серию бланка" in text(missing)


def test_copy_prefills_the_form_and_links_the_copy(as_doctor, issue, form_data, package, drug):
    original = issue(package=package, vk_protocol="ВК-7", dosage="особая дозировка", signa="сигна оригинала",
                     quantity=3)
    page = text(as_doctor.get(NEW, {"copy": original.pk}))
    for shown in ("особая дозировка", "сигна оригинала", 'value="ВК-7"', f'name="drug" value="{drug.pk}"',
                  f'<option value="{package.pk}" selected>', 'name="copied_from" value="%d"' % original.pk,
                  'name="quantity" value="3"', original.series):
        assert shown in page, shown
    as_doctor.post(NEW, form_data(copied_from=original.pk, package=package.pk, vk_protocol="ВК-7"))
    copy = Prescription.objects.exclude(pk=original.pk).get()
    assert copy.copied_from == original and copy.package == package


# --- the prescription page, print, cancel --------------------------------------------------------

def test_the_page_shows_the_prescription_as_printed(as_doctor, issued):
    page = text(as_doctor.get(f"/prescriptions/{issued.pk}/"))
    for shown in (issued.series, issued.number, issued.person.full_name, format_snils(issued.person.snils),
                  "ONLP", issued.category_code, "Федеральный бюджет", "I10", issued.drug.inn.name, issued.dosage,
                  issued.signa, "30 дней", issued.doctor.full_name, "Выписан", "Аннулировать", "Копировать"):
        assert shown in page, shown


def test_print_answers_the_pdf(as_doctor, issued):
    response = as_doctor.get(f"/prescriptions/{issued.pk}/print.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content[:4] == b"%PDF" and response["Content-Disposition"].startswith("inline")


def test_cancel_needs_a_reason(as_doctor, issued, doctor_user):
    url = f"/prescriptions/{issued.pk}/cancel/"
    refused = as_doctor.post(url, {"reason": "  "})
    assert refused.status_code == 422 and "Укажите причину аннулирования" in text(refused)
    issued.refresh_from_db()
    assert issued.status == Status.ISSUED
    done = as_doctor.post(url, {"reason": "ошибка в дозировке"})
    assert done.status_code == 302
    issued.refresh_from_db()
    assert issued.status == Status.CANCELLED and issued.cancel_reason == "ошибка в дозировке"
    page = text(as_doctor.get(f"/prescriptions/{issued.pk}/"))
    assert "ошибка в дозировке" in page and "Аннулировать рецепт" not in page


# --- access --------------------------------------------------------------------------------------

def test_a_doctor_of_another_mo_gets_404(client, outsider, issued):
    f.doctor(outsider.organization, user=outsider)
    client.force_login(outsider)
    assert client.get(f"/prescriptions/{issued.pk}/").status_code == 404
    assert client.get(f"/prescriptions/{issued.pk}/print.pdf").status_code == 404
    assert client.post(f"/prescriptions/{issued.pk}/cancel/", {"reason": "чужой"}).status_code == 404
    assert client.get(NEW, {"copy": issued.pk}).status_code == 404


def test_a_doctor_cannot_open_the_form_for_another_mos_patient(client, outsider, patient):
    f.doctor(outsider.organization, user=outsider)
    client.force_login(outsider)
    assert client.get(NEW, {"person": patient.pk}).status_code == 404
    assert client.get(NEW, {"q": format_snils(patient.snils)}).status_code == 302  # an exact look-up opens it
    assert client.get(NEW, {"person": patient.pk}).status_code == 200


@pytest.mark.parametrize("who", ["pharmacist", "analyst"])
def test_pharmacists_and_analysts_get_403(client, request, who, issued):
    client.force_login(request.getfixturevalue(who))
    for url in (LIST, NEW, f"/prescriptions/{issued.pk}/"):
        response = client.get(url)
        assert response.status_code == 403 and "Раздел недоступен вашей роли" in text(response)


def test_the_drug_officer_reads_but_cannot_issue(client, colleague, issued, form_data):
    client.force_login(colleague)
    assert issued.number in text(client.get(LIST))
    page = text(client.get(f"/prescriptions/{issued.pk}/"))
    assert issued.number in page and "Копировать" not in page and "Аннулировать" not in page
    assert "Выписать рецепт" not in text(client.get(LIST))
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, form_data(token="x")).status_code == 403
    assert client.post(f"/prescriptions/{issued.pk}/cancel/", {"reason": "нет"}).status_code == 403
    assert Prescription.objects.count() == 1


def test_a_doctor_without_a_frmr_record_is_told_so(client, mo):
    user = f.user(Role.DOCTOR, mo)
    client.force_login(user)
    response = client.get(NEW)
    assert response.status_code == 403 and "не связана с записью врача" in text(response)


def test_the_sidebar_has_the_section(as_doctor):
    page = text(as_doctor.get("/"))
    assert 'href="/prescriptions/"' in page and ">Рецепты<" in page


def test_the_list_reads_a_fixed_number_of_queries(as_doctor, issue, django_assert_max_num_queries):
    for n in (1, 2, 3):
        issue(quantity=n)
    with django_assert_max_num_queries(7):
        assert as_doctor.get(LIST).status_code == 200


def test_another_drug_brings_the_search_back(as_doctor, onlp, drug):
    page = text(as_doctor.get(reverse("prescription_drug"), {"program": onlp.pk, "was": drug.pk}, **HX))
    assert 'id="drug_q"' in page and f'id="drug-was" name="was" value="{drug.pk}"' in page
    assert "Выберите препарат" in page  # the stock panel is emptied out of band


def test_the_ministry_admin_reads_the_regions_prescriptions(client, ministry_admin, issued):
    client.force_login(ministry_admin)
    assert issued.number in text(client.get(LIST))
    page = text(client.get(f"/prescriptions/{issued.pk}/"))
    assert issued.number in page and "Копировать" not in page and "Аннулировать рецепт" not in page
    assert client.get(NEW).status_code == 403
