"""The desk pages: opening a prescription (barcode, series + number, patient QR), the stock and the
basket, every scan answered green or red, dispensing, deferring, the record and its slip; who may."""

import shutil
import subprocess
from datetime import timedelta

import pytest
from django.urls import reverse

from llo.barcodes import prescription_label
from llo.models import Package, Role
from pharmacy.models import Deferral, Dispensation
from prescriptions import services
from prescriptions.models import Status
from registry.patient_token import patient_token_issue
from tests.llo import factories as f
from tests.pharmacy import factories as pf
from tests.pharmacy.conftest import snapshot
from tests.warehouse.factories import datamatrix

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def desk(client, pharmacist):
    client.force_login(pharmacist)
    return client


def url(name, place, *args):
    return f"{reverse(name, args=args)}?place={place.pk}"


def scan(client, rx, place, raw, already=(), items=()):
    return client.post(reverse("pharmacy_desk_scan", args=[rx.pk]),
                       {"place": place.pk, "scan": raw, "already": list(already), "item": list(items)}, **HX)


# --- opening -------------------------------------------------------------------------------------

def test_the_desk_opens_for_pharmacists_only(client, desk, point, doctor_user, chain_pharmacist, foreign_point):
    page = desk.get(reverse("pharmacy_desk"))
    assert page.status_code == 200 and 'id="scan"' in page.content.decode() and point.short_name in page.content.decode()
    client.force_login(doctor_user)
    assert client.get(reverse("pharmacy_desk")).status_code == 403
    client.force_login(chain_pharmacist)  # the organization's account chooses a point first
    assert "Выберите пункт отпуска" in client.get(reverse("pharmacy_desk")).content.decode()
    assert client.get(url("pharmacy_desk", point)).status_code == 200
    assert client.get(url("pharmacy_desk", foreign_point)).status_code == 404


def test_a_prescription_barcode_opens_it(desk, issued, point):
    raw = "]d2" + prescription_label(issued.series, issued.number) + "\r\n"
    answer = desk.post(reverse("pharmacy_desk_open"), {"place": point.pk, "scan": raw}, **HX)
    assert answer.status_code == 200
    assert answer["HX-Redirect"] == url("pharmacy_desk_rx", point, issued.pk)


def test_series_and_number_open_it(desk, issued, point):
    answer = desk.get(reverse("pharmacy_desk_find"), {"place": point.pk, "series": issued.series.lower(),
                                                      "number": issued.number})
    assert answer.status_code == 302 and answer["Location"] == url("pharmacy_desk_rx", point, issued.pk)
    missing = desk.get(reverse("pharmacy_desk_find"), {"place": point.pk, "series": "XX", "number": "1"}, follow=True)
    assert "не найден" in missing.content.decode()


def test_a_patient_qr_lists_the_open_prescriptions(desk, issue, point, patient):
    mine, closed = issue(), issue()
    services.prescription_cancel(prescription=closed, user=closed.created_by, reason="ошибка")
    answer = desk.post(reverse("pharmacy_desk_open"), {"place": point.pk, "scan": patient_token_issue(person=patient)},
                       **HX)
    body = answer.content.decode()
    assert answer.status_code == 200 and patient.last_name in body
    assert url("pharmacy_desk_rx", point, mine.pk) in body and url("pharmacy_desk_rx", point, closed.pk) not in body


@pytest.mark.parametrize("raw, code", [
    ("01046070283938772151BkLeHfrcTg0", "desk.not_a_prescription"),
    ("hello", "scan.not_a_code"),
    ("RX-99-000000000001", "desk.prescription_not_found"),
    ("1" + "0" * 31, "patient_token.forged"),
])
def test_anything_else_is_answered_red(desk, point, raw, code):
    answer = desk.post(reverse("pharmacy_desk_open"), {"place": point.pk, "scan": raw}, **HX)
    assert answer.status_code in (404, 409, 422)
    assert f'data-error-code="{code}"' in answer.content.decode()


# --- the open prescription -----------------------------------------------------------------------

def test_the_page_shows_the_stock_earliest_expiry_first(desk, issued, point, package, today,
                                                          django_assert_max_num_queries):
    pf.stock(point, package, 2, series="LATE", expiry=today + timedelta(days=700))
    pf.stock(point, package, 3, series="EARLY", expiry=today + timedelta(days=90))
    with django_assert_max_num_queries(9):
        page = desk.get(url("pharmacy_desk_rx", point, issued.pk))
    body = page.content.decode()
    assert page.status_code == 200 and 'id="scan"' in body
    assert body.index("EARLY") < body.index("LATE") and "ЭП врача верна" in body
    assert 'id="dispense"' in body and "disabled" in body[body.index('id="dispense"'):][:120]


@pytest.mark.parametrize("close, code", [
    (lambda rx, user: services.prescription_cancel(prescription=rx, user=user, reason="ошибка врача"),
     "prescription.cancelled"),
    (lambda rx, user: services.prescription_transition(prescription=rx, to=Status.EXPIRED, user=user),
     "prescription.expired"),
])
def test_a_closed_prescription_is_red_and_has_no_scan_field(desk, issued, point, package, close, code):
    pf.stock(point, package, 2)
    close(issued, issued.created_by)
    body = desk.get(url("pharmacy_desk_rx", point, issued.pk)).content.decode()
    assert f'data-error-code="{code}"' in body and 'id="scan"' not in body


def test_a_page_of_a_point_not_yours_is_404(desk, client, issued, foreign_point, doctor_user, point):
    assert desk.get(url("pharmacy_desk_rx", foreign_point, issued.pk)).status_code == 404
    client.force_login(doctor_user)
    assert client.get(url("pharmacy_desk_rx", point, issued.pk)).status_code == 403


def test_scans_fill_the_basket_and_red_ones_do_not(desk, issued, point, package, drug, django_assert_max_num_queries):
    sgtins = pf.stock(point, package, 2)
    with django_assert_max_num_queries(7):
        first = scan(desk, issued, point, datamatrix(sgtins[0]))
    body = first.content.decode()
    assert first.status_code == 200 and "scan-ok" in body and f'name="already" value="{sgtins[0]}"' in body
    assert 'data-testid="scanned">1<' in body
    again = scan(desk, issued, point, datamatrix(sgtins[0]), already=[sgtins[0]])
    assert again.status_code == 422 and 'data-error-code="pack.duplicate"' in again.content.decode()
    assert "desk-basket" not in again.content.decode()  # a red scan leaves the basket as it was
    another_drug = Package.objects.filter(is_marked=True, gtin__isnull=False).exclude(trade_name__drug=drug).first()
    other = pf.stock(point, another_drug, 1)
    wrong = scan(desk, issued, point, datamatrix(other[0]), already=[sgtins[0]])
    assert wrong.status_code == 422 and 'data-error-code="pack.mismatch"' in wrong.content.decode()
    second = scan(desk, issued, point, datamatrix(sgtins[1]), already=[sgtins[0]])
    assert 'data-testid="scanned">2<' in second.content.decode() and "Все упаковки отсканированы" in second.content.decode()


def test_a_pack_can_be_taken_off_the_basket(desk, issued, point, package):
    sgtins = pf.stock(point, package, 2)
    answer = desk.post(reverse("pharmacy_desk_drop", args=[issued.pk]),
                       {"place": point.pk, "already": sgtins, "drop": sgtins[0]}, **HX)
    body = answer.content.decode()
    assert sgtins[0] not in body and sgtins[1] in body and 'data-testid="scanned">1<' in body


def test_dispensing_from_the_page_and_the_slip(desk, issued, point, package, contract):
    sgtins = pf.stock(point, package, 2, contract=contract)
    answer = desk.post(reverse("pharmacy_desk_dispense", args=[issued.pk]), {"place": point.pk, "already": sgtins},
                       **HX)
    dispensation = Dispensation.objects.get(prescription=issued)
    assert answer["HX-Redirect"] == reverse("pharmacy_dispensation", args=[dispensation.pk])
    page = desk.get(answer["HX-Redirect"]).content.decode()
    assert sgtins[0] in page and "246.90" in page.replace(",", ".")
    slip = desk.get(reverse("pharmacy_dispensation_slip", args=[dispensation.pk]))
    assert slip["Content-Type"] == "application/pdf" and slip["Cache-Control"] == "private, no-store"
    if shutil.which("pdftotext"):
        text = " ".join(subprocess.run(["pdftotext", "-layout", "-", "-"], input=slip.content, capture_output=True,
                                       check=True).stdout.decode().split())
        assert f"серия {issued.series} № {issued.number}" in text and sgtins[0] in text and "246,90" in text
        assert "Корешок рецепта" in text and issued.signa in text


def test_a_refused_dispensing_changes_nothing(desk, issued, point, package):
    sgtins = pf.stock(point, package, 2)
    before = snapshot()
    answer = desk.post(reverse("pharmacy_desk_dispense", args=[issued.pk]), {"place": point.pk,
                                                                             "already": sgtins[:1]}, **HX)
    assert answer.status_code == 422 and 'data-error-code="quantity.mismatch"' in answer.content.decode()
    assert snapshot() == before


def test_unmarked_goods_by_series_and_quantity(desk, issue, point, package):
    plain = pf.package_like(package, marked=False)
    pf.stock_unmarked(point, plain, 5, series="U1")
    rx = issue(quantity=2)
    page = desk.get(url("pharmacy_desk_rx", point, rx.pk)).content.decode()
    assert f'value="{plain.pk}|U1"' in page
    added = desk.post(reverse("pharmacy_desk_item", args=[rx.pk]), {"place": point.pk, "lot": f"{plain.pk}|U1",
                                                                    "quantity": "2"}, **HX)
    assert added.status_code == 200 and f'name="item" value="{plain.pk}|U1|2"' in added.content.decode()
    too_many = desk.post(reverse("pharmacy_desk_item", args=[rx.pk]), {"place": point.pk, "lot": f"{plain.pk}|U1",
                                                                       "quantity": "3"}, **HX)
    assert too_many.status_code == 422 and "quantity.mismatch" in too_many.content.decode()
    bad = desk.post(reverse("pharmacy_desk_item", args=[rx.pk]), {"place": point.pk, "lot": "x", "quantity": "-1"},
                    **HX)
    assert bad.status_code == 422 and "item.bad_quantity" in bad.content.decode()
    marked = desk.post(reverse("pharmacy_desk_item", args=[rx.pk]), {"place": point.pk, "lot": f"{package.pk}|S1",
                                                                     "quantity": "1"}, **HX)
    assert marked.status_code == 422 and "pack.needs_scan" in marked.content.decode()
    done = desk.post(reverse("pharmacy_desk_dispense", args=[rx.pk]), {"place": point.pk, "item": [f"{plain.pk}|U1|2"]},
                     **HX)
    assert done.status_code == 200 and Dispensation.objects.get(prescription=rx).items.get().quantity == 2


def test_no_stock_offers_deferred_service(desk, issued, point, package):
    page = desk.get(url("pharmacy_desk_rx", point, issued.pk)).content.decode()
    assert "Подходящего препарата в этом пункте нет" in page and "На отсроченное обслуживание" in page
    answer = desk.post(reverse("pharmacy_desk_defer", args=[issued.pk]), {"place": point.pk, "purchase": "1"},
                       follow=True)
    deferral = Deferral.objects.get(prescription=issued)
    assert deferral.purchase and deferral.place == point
    assert f"обслужить до {deferral.deadline:%d.%m.%Y}" in answer.content.decode()


def test_deferring_when_the_stock_is_here_is_refused(desk, issued, point, package):
    pf.stock(point, package, 2)
    answer = desk.post(reverse("pharmacy_desk_defer", args=[issued.pk]), {"place": point.pk}, follow=True)
    assert "есть в наличии" in answer.content.decode() and not Deferral.objects.exists()


def test_the_record_of_another_point_is_404(client, desk, issued, point, other_point, package):
    sgtins = pf.stock(point, package, 2)
    desk.post(reverse("pharmacy_desk_dispense", args=[issued.pk]), {"place": point.pk, "already": sgtins}, **HX)
    dispensation = Dispensation.objects.get()
    client.force_login(f.user(Role.PHARMACIST, other_point))
    assert client.get(reverse("pharmacy_dispensation", args=[dispensation.pk])).status_code == 404
    assert client.get(reverse("pharmacy_dispensation_slip", args=[dispensation.pk])).status_code == 404
