"""The stock pages: documents of the user's place, the scan pages of every document kind, the forms
that create documents, storage and boxes, the stock page.

Access: a clerk or pharmacist works at their place (another place's document answers 404), the
ministry reads (403 on every action), other roles 403, anonymous to the login page. Every form's bad
input shows its specific Russian message and changes nothing; a scan costs a fixed number of queries.
"""

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from llo.models import Role
from llo.models.organizations import OrganizationKind as K
from tests.llo import factories as f
from tests.warehouse import factories as wf
from warehouse import ledger
from warehouse.models import (
    Acceptance, CodeStatus, DocumentCode, DocumentLine, MarkedPack, StockBalance, StockDocument, StockMovement,
    StorageAddress, TransportPack, WriteOffReason,
)
from warehouse.receipts import ExpectedPack, receipt_create

from .test_shipments import LATE, receive

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
EXPIRY = date(2028, 6, 30)


def snapshot():
    return (StockDocument.objects.count(), DocumentCode.objects.count(), DocumentLine.objects.count(),
            MarkedPack.objects.count(), StockBalance.objects.count(), StockMovement.objects.count(),
            TransportPack.objects.count(), StorageAddress.objects.count(),
            sorted(DocumentCode.objects.values_list("sgtin", "status")),
            sorted(StockDocument.objects.values_list("number", "status")))


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def direct(clerk, contract, marked):
    """A supplier's list of three packs, to be accepted directly."""
    packs = [wf.sgtin(marked[0]) for _ in range(3)]
    document = receipt_create(user=clerk, contract=contract, acceptance=Acceptance.DIRECT, supplier_number="УПД-1",
                              expected=[ExpectedPack(sgtin=s, series="S1", expiry=EXPIRY) for s in packs])
    return document, packs


@pytest.fixture
def other_clerk(region):
    return f.user(Role.WAREHOUSE_CLERK, f.organization(K.REGIONAL_WAREHOUSE, region=region))


@pytest.fixture
def stocked(clerk, contract, marked, unmarked):
    """Four marked packs of series S and 20 unmarked of U1 at the warehouse."""
    return receive(clerk, contract, marked[0], "S", LATE, 4, unmarked)


# --- access ---------------------------------------------------------------------------------------

def _read_urls(document) -> list[str]:
    return ["/stock/", "/stock/?view=expiring&days=60", "/stock/?view=slow", "/stock/?view=redistribution",
            "/stock/documents/", "/stock/documents/?kind=receipt&status=draft", f"/stock/documents/{document.pk}/"]


def test_the_clerk_sees_every_page_of_the_place(client, clerk, direct):
    client.force_login(clerk)
    for url in [*_read_urls(direct[0]), "/stock/receipts/new/", "/stock/shipments/new/", "/stock/return/new/",
                "/stock/write-off/new/", "/stock/inventory/new/", "/stock/storage/", "/stock/storage/put-away/",
                "/stock/storage/boxes/new/", "/stock/storage/boxes/open/"]:
        assert client.get(url).status_code == 200, url
    page = text(client.get(f"/stock/documents/{direct[0].pk}/"))
    assert 'id="scan"' in page and "autofocus" in page and "Провести приёмку" in page and "Отказ от упаковки" in page
    assert direct[0].number in text(client.get("/stock/documents/"))


def test_another_places_document_is_not_found(client, other_clerk, direct):
    document, packs = direct
    client.force_login(other_clerk)
    before = snapshot()
    assert client.get(f"/stock/documents/{document.pk}/").status_code == 404
    for action in ("scan", "refuse", "quantity", "post", "receive"):
        assert client.post(f"/stock/documents/{document.pk}/{action}/", {"scan": wf.datamatrix(packs[0])},
                           **HX).status_code == 404, action
    assert document.number not in text(client.get("/stock/documents/"))
    assert snapshot() == before


@pytest.mark.parametrize("role", ["doctor_user", "system_admin"])
def test_other_roles_are_refused(request, client, role, direct):
    document, packs = direct
    client.force_login(request.getfixturevalue(role))
    before = snapshot()
    for url in [*_read_urls(document), "/stock/receipts/new/", "/stock/storage/", "/stock/incoming/"]:
        assert client.get(url).status_code == 403, url
    assert client.post(f"/stock/documents/{document.pk}/scan/", {"scan": wf.datamatrix(packs[0])}).status_code == 403
    assert snapshot() == before


def test_anonymous_goes_to_the_login_page(client, direct):
    for url in ("/stock/", f"/stock/documents/{direct[0].pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.post(f"/stock/documents/{direct[0].pk}/scan/", {"scan": "x"}).status_code == 302


@pytest.mark.parametrize("role", ["analyst", "ministry_admin"])
def test_the_ministry_reads_every_place_and_changes_nothing(request, client, role, direct, stocked, warehouse):
    document, packs = direct
    client.force_login(request.getfixturevalue(role))
    for url in _read_urls(document):
        assert client.get(url).status_code == 200, url
    page = text(client.get(f"/stock/documents/{document.pk}/"))
    assert 'id="scan"' not in page and "Провести приёмку" not in page
    assert "Приёмка</a>" not in text(client.get("/stock/documents/"))  # no "new document" buttons
    stock = text(client.get("/stock/"))
    assert warehouse.short_name in stock and "Все места" in stock
    before = snapshot()
    for action in ("scan", "post"):
        assert client.post(f"/stock/documents/{document.pk}/{action}/", {"scan": wf.datamatrix(packs[0])},
                           **HX).status_code == 403
    assert client.get("/stock/receipts/new/").status_code == 403
    assert snapshot() == before


# --- receipt: create, scan, refuse, post ---------------------------------------------------------

def _csv(*rows: str, header: bool = True) -> SimpleUploadedFile:
    body = "\n".join((["sgtin;sscc;parent_sscc;series;expiry"] if header else []) + list(rows))
    return SimpleUploadedFile("list.csv", body.encode("utf-8"), content_type="text/csv")


def test_a_direct_receipt_is_made_from_the_suppliers_csv_and_opens_its_scan_page(client, clerk, contract, marked):
    client.force_login(clerk)
    box, packs = wf.sscc(7), [wf.sgtin(marked[0]) for _ in range(3)]
    upload = _csv(f";{box};;;", *[f"{s};;{box};S1;30.06.2028" for s in packs[:2]], f"{packs[2]};;;S2;2028-07-31")
    response = client.post("/stock/receipts/new/", {
        "contract": contract.pk, "acceptance": "direct", "supplier_number": "УПД-77", "supplier_date": "2026-11-20",
        "supplier_list": upload, "lines-TOTAL_FORMS": "5", "lines-INITIAL_FORMS": "0"})
    document = StockDocument.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/stock/documents/{document.pk}/"
    assert (document.acceptance, document.supplier_number, document.counterparty) == ("direct", "УПД-77",
                                                                                       contract.supplier)
    assert sorted(document.codes.values_list("sgtin", "sscc", "parent_sscc", "series")) == sorted(
        [("", box, "", ""), (packs[0], "", box, "S1"), (packs[1], "", box, "S1"), (packs[2], "", "", "S2")])
    page = text(client.get(response["Location"]))
    assert "создан" in page and 'data-testid="expected">3<' in page


@pytest.mark.parametrize("row, message", [
    ("04601234567890ABCDEFGHIJKLM;;;S1;2028-06-30", "Строка 2, поле sgtin: «04601234567890ABCDEFGHIJKLM» — неверная "
                                                    "контрольная цифра GTIN"),
    ("{sgtin};;;S1;31.02.2028", "Строка 2, поле expiry: «31.02.2028» — не дата"),
    ("{sgtin};;;;2028-06-30", "Строка 2, поле series: пусто"),
    ("{sgtin};;;S1", "Строка 2: нужно 5 полей"),
    ("{sgtin};;12345;S1;2028-06-30", "Строка 2, поле parent_sscc: «12345» — SSCC состоит из 18 цифр"),
    (";;;S1;2028-06-30", "Строка 2, поле sgtin: пусто: укажите SGTIN упаковки или SSCC короба"),
])
def test_a_bad_csv_row_is_named_with_its_field_and_nothing_is_made(client, clerk, contract, marked, row, message):
    client.force_login(clerk)
    before = snapshot()
    response = client.post("/stock/receipts/new/", {
        "contract": contract.pk, "acceptance": "direct", "supplier_list": _csv(row.format(sgtin=wf.sgtin(marked[0]))),
        "lines-TOTAL_FORMS": "5", "lines-INITIAL_FORMS": "0"})
    assert response.status_code == 422
    assert message in text(response)
    assert snapshot() == before


def _reverse(contract, *rows) -> dict:
    data = {"contract": contract.pk, "acceptance": "reverse", "lines-TOTAL_FORMS": "3", "lines-INITIAL_FORMS": "0"}
    for i, (package, series, expiry, quantity) in enumerate(rows):
        data |= {f"lines-{i}-package": package, f"lines-{i}-series": series, f"lines-{i}-expiry": expiry,
                 f"lines-{i}-quantity": quantity}
    return data


def test_a_reverse_receipt_takes_its_lines_by_gtin_or_a_scanned_pack(client, clerk, contract, marked, unmarked):
    client.force_login(clerk)
    scanned = wf.datamatrix(wf.sgtin(marked[1]))  # a pack scanned into the package field
    response = client.post("/stock/receipts/new/", _reverse(
        contract, (marked[0].gtin, "R1", "2028-06-30", "2"), (scanned, "R2", "2028-07-31", "3"),
        (unmarked.gtin or unmarked.nsi_code, "U1", "2028-06-30", "10")))
    document = StockDocument.objects.get()
    assert response.status_code == 302
    assert list(document.lines.order_by("pk").values_list("package_id", "series", "quantity")) == [
        (marked[0].pk, "R1", 2), (marked[1].pk, "R2", 3), (unmarked.pk, "U1", 10)]
    page = text(client.get(response["Location"]))
    assert 'data-testid="expected">5<' in page and "без маркировки" in page


@pytest.mark.parametrize("row, message", [
    (("99999999999999", "R1", "2028-06-30", "2"), "Строка 1: Упаковка «99999999999999» не найдена в каталоге"),
    (("{gtin}", "R1", "2028-06-30", "0"), "Количество должно быть больше нуля"),
    (("{gtin}", "R1", "2028-06-30", "-3"), "Количество должно быть больше нуля"),
    (("{gtin}", "R1", "2028-06-30", "два"), "Строка 1: Количество — целое число упаковок"),
    (("{gtin}", "", "2028-06-30", "2"), "Строка 1: Обязательное поле"),
    (("{gtin}", "R1", "30/06/2028", "2"), "Строка 1: Введите дату в формате ДД.ММ.ГГГГ"),
])
def test_bad_receipt_lines_say_what_is_wrong_and_nothing_is_made(client, clerk, contract, marked, row, message):
    client.force_login(clerk)
    before = snapshot()
    package, *rest = row
    response = client.post("/stock/receipts/new/", _reverse(contract, (package.format(gtin=marked[0].gtin), *rest)))
    assert response.status_code == 422
    assert message in text(response)
    assert snapshot() == before


def test_a_receipt_needs_a_list_or_lines_and_a_contract(client, clerk, contract, marked):
    client.force_login(clerk)
    before = snapshot()
    empty = {"lines-TOTAL_FORMS": "3", "lines-INITIAL_FORMS": "0"}
    for data, message in (
            ({"contract": contract.pk, "acceptance": "direct"} | empty,
             "Для прямой приёмки загрузите список упаковок поставщика (CSV)"),
            ({"contract": contract.pk, "acceptance": "reverse"} | empty, "Добавьте хотя бы одну строку накладной"),
            ({"acceptance": "reverse"} | empty, "Выберите контракт"),
            ({"contract": 999999, "acceptance": "reverse"} | empty, "Контракт не найден среди исполняемых")):
        response = client.post("/stock/receipts/new/", data)
        assert response.status_code == 422 and message in text(response), message
    more = client.post("/stock/receipts/new/", _reverse(contract, (marked[0].gtin, "R1", "", "")) | {"more": "1"})
    assert more.status_code == 200 and 'name="lines-7-package"' in text(more)  # five rows more, typed rows kept
    assert f'value="{marked[0].gtin}"' in text(more)
    assert snapshot() == before


def test_a_scan_answers_green_with_the_count_in_a_fixed_number_of_queries(client, clerk, direct,
                                                                          django_assert_num_queries):
    document, packs = direct
    client.force_login(clerk)
    client.get("/stock/documents/")  # the session is warm
    with django_assert_num_queries(15):
        response = client.post(f"/stock/documents/{document.pk}/scan/", {"scan": wf.datamatrix(packs[0])}, **HX)
    assert response.status_code == 200
    body = text(response)
    assert "scan-ok" in body and "Принято:" in body
    assert 'hx-swap-oob="true"' in body and 'data-testid="scanned">1<' in body and 'data-testid="expected">3<' in body
    with django_assert_num_queries(15):  # the same for the next one
        client.post(f"/stock/documents/{document.pk}/scan/", {"scan": wf.datamatrix(packs[1])}, **HX)
    assert DocumentCode.objects.filter(document=document, status=CodeStatus.SCANNED).count() == 2


@pytest.mark.parametrize("raw, code, message", [
    ("", "scan.empty", "Сканер ничего не передал. Отсканируйте код ещё раз."),
    ("hello world", "scan.not_a_code", "Это не код, который понимает система."),
    ("0104601234567890", "scan.bad_check_digit", "Неверная контрольная цифра GTIN 04601234567890"),
    ("4601234567893", "scan.not_a_pack", "Отсканируйте код DataMatrix упаковки или SSCC короба"),
    ("\x00\x01garbage", "scan.not_a_code", "Сканер передал непечатаемые или посторонние символы"),
])
def test_a_bad_scan_answers_red_with_the_services_message_and_changes_nothing(client, clerk, direct, raw, code,
                                                                             message):
    document, _ = direct
    client.force_login(clerk)
    before = snapshot()
    response = client.post(f"/stock/documents/{document.pk}/scan/", {"scan": raw}, **HX)
    assert response.status_code == 422
    body = text(response)
    assert "scan-bad" in body and 'role="alert"' in body and "hx-swap-oob" not in body
    assert f'data-error-code="{code}"' in body and message in body
    assert snapshot() == before


def test_a_pack_not_in_the_list_or_scanned_twice_is_refused_in_red(client, clerk, direct, marked):
    document, packs = direct
    client.force_login(clerk)
    client.post(f"/stock/documents/{document.pk}/scan/", {"scan": wf.datamatrix(packs[0])}, **HX)
    before = snapshot()
    for raw, message in ((wf.datamatrix(packs[0]), f"Упаковка {packs[0]} уже отсканирована"),
                         (wf.datamatrix(wf.sgtin(marked[0])), "нет в документе поставщика")):
        response = client.post(f"/stock/documents/{document.pk}/scan/", {"scan": raw}, **HX)
        assert response.status_code == 409 and message in text(response)
    assert snapshot() == before


def test_without_htmx_a_scan_comes_back_to_the_page_with_its_message(client, clerk, direct):
    document, packs = direct
    client.force_login(clerk)
    response = client.post(f"/stock/documents/{document.pk}/scan/", {"scan": wf.datamatrix(packs[0])}, follow=True)
    assert response.redirect_chain[-1][0] == f"/stock/documents/{document.pk}/"
    assert "Принято:" in text(response)


def test_refusing_a_pack_and_posting_the_receipt(client, clerk, direct, warehouse, marked, contract):
    document, packs = direct
    client.force_login(clerk)
    before = snapshot()
    response = client.post(f"/stock/documents/{document.pk}/refuse/", {"sgtin": wf.datamatrix(packs[2])}, **HX)
    assert response.status_code == 422 and "Укажите причину отказа от упаковки" in text(response)
    response = client.post(f"/stock/documents/{document.pk}/refuse/", {"sgtin": "", "reason": "x"}, **HX)
    assert response.status_code == 422 and "Отсканируйте упаковку или введите её SGTIN" in text(response)
    assert snapshot() == before
    response = client.post(f"/stock/documents/{document.pk}/refuse/",
                           {"sgtin": wf.datamatrix(packs[2]), "reason": "повреждена"}, **HX)
    assert response.status_code == 200 and f"Отказ от упаковки {packs[2]}" in text(response)
    assert 'badge badge-bad">отказ: 1' in text(response)

    response = client.post(f"/stock/documents/{document.pk}/post/", **HX)  # nothing scanned yet
    assert response.status_code == 422 and "Не отсканировано ни одной упаковки" in text(response)
    client.post(f"/stock/documents/{document.pk}/scan/", {"scan": wf.datamatrix(packs[0])}, **HX)
    response = client.post(f"/stock/documents/{document.pk}/post/", **HX)
    assert response.status_code == 200 and response["HX-Redirect"] == f"/stock/documents/{document.pk}/"
    page = text(client.get(f"/stock/documents/{document.pk}/"))
    assert "Приёмка проведена" in page and 'id="scan"' not in page and "проведён" in page
    assert ledger.balance_of(ledger.StockKey(warehouse.pk, None, marked[0].pk, "S1", "1", contract.pk)) == 1
    response = client.post(f"/stock/documents/{document.pk}/scan/", {"scan": wf.datamatrix(packs[1])}, **HX)
    assert response.status_code == 409 and "уже проведён" in text(response)


# --- shipment: pick list, scan, ship; the pharmacy receives ----------------------------------------

def _wanted(point, *rows, **extra) -> dict:
    data = {"destination": point.pk, "wanted-TOTAL_FORMS": "3", "wanted-INITIAL_FORMS": "0"} | extra
    for i, (package, quantity) in enumerate(rows):
        data |= {f"wanted-{i}-package": package, f"wanted-{i}-quantity": quantity}
    return data


def test_a_shipment_shows_its_fefo_pick_list_is_scanned_shipped_and_received(client, clerk, point, pharmacist,
                                                                              marked, unmarked, stocked):
    cell = StorageAddress.objects.create(place=clerk.organization, zone="A", rack="01", shelf="02", cell="03")
    client.force_login(clerk)
    client.post("/stock/storage/put-away/", {"scan": wf.datamatrix(stocked[0]), "address": "ADR-A-01-02-03"}, **HX)
    before = snapshot()
    preview = client.post("/stock/shipments/new/", _wanted(point, (marked[0].gtin, "3"), (unmarked.gtin, "5"),
                                                           preview="1"))
    assert preview.status_code == 200 and "Лист подбора" in text(preview) and cell.code in text(preview)
    assert snapshot() == before  # a preview makes nothing
    response = client.post("/stock/shipments/new/", _wanted(point, (marked[0].gtin, "3"), (unmarked.gtin, "5")))
    document = StockDocument.objects.get(kind="shipment")
    page = text(client.get(response["Location"]))
    assert cell.code in page and "зона приёмки" in page and 'data-testid="expected">3<' in page  # the pick list
    url = f"/stock/documents/{document.pk}/"
    response = client.post(url + "post/", **HX)
    assert response.status_code == 409 and "отсканировано 0 из" in text(response)
    for sgtin in stocked[:3]:
        assert client.post(url + "scan/", {"scan": wf.datamatrix(sgtin)}, **HX).status_code == 200
    response = client.post(url + "scan/", {"scan": wf.datamatrix(stocked[3])}, **HX)
    assert response.status_code == 409 and "нет в листе подбора" in text(response)
    assert client.post(url + "post/", **HX)["HX-Redirect"] == url

    client.force_login(pharmacist)
    incoming = text(client.get("/stock/incoming/"))
    assert document.number in incoming and "Принять" in incoming
    assert "Принять</button>" in text(client.get(url))
    assert client.post(url + "scan/", {"scan": wf.datamatrix(stocked[3])}, **HX).status_code == 409  # not theirs
    response = client.post(url + "receive/", follow=True)
    assert "принята: упаковки поступили в остатки" in text(response)
    assert set(MarkedPack.objects.filter(place=point, state="in_stock").values_list("sgtin", flat=True)) == set(
        stocked[:3])
    assert "Поставок в пути нет" not in text(client.get("/stock/incoming/"))  # the received one stays listed
    response = client.post(url + "receive/", **HX)
    assert response.status_code == 409 and "уже обработан" in text(response)


@pytest.mark.parametrize("rows, message", [
    (((("{gtin}", "0"),), "Строка 1: Количество должно быть больше нуля")),
    (((("00000000000000", "1"),), "Строка 1: Упаковка «00000000000000» не найдена в каталоге")),
    (((("{gtin}", "500"),), "на складе 4 упак. годных, нужно 500")),
    (((), "Укажите препараты и количество")),
])
def test_bad_shipment_rows_say_what_is_wrong_and_nothing_is_made(client, clerk, point, marked, stocked, rows,
                                                                 message):
    client.force_login(clerk)
    before = snapshot()
    for extra in ({}, {"preview": "1"}):
        data = _wanted(point, *[(p.format(gtin=marked[0].gtin), q) for p, q in rows], **extra)
        response = client.post("/stock/shipments/new/", data)
        assert response.status_code in (409, 422) and message in text(response)
    response = client.post("/stock/shipments/new/", _wanted(clerk.organization, (marked[0].gtin, "1")))
    assert response.status_code == 422 and "Пункт отпуска не найден" in text(response)
    assert snapshot() == before


# --- return, write-off, inventory ----------------------------------------------------------------------

def test_a_write_off_by_scan_and_quantity(client, clerk, warehouse, contract, marked, unmarked, stocked):
    client.force_login(clerk)
    before = snapshot()
    response = client.post("/stock/write-off/new/", {"reason": "", "comment": "акт 5"})
    assert response.status_code == 422 and "Укажите причину списания" in text(response)
    assert snapshot() == before
    response = client.post("/stock/write-off/new/", {"reason": WriteOffReason.DAMAGED, "comment": "акт 5"})
    document = StockDocument.objects.get(kind="write_off")
    url = f"/stock/documents/{document.pk}/"
    assert response["Location"] == url
    page = text(client.get(url))
    assert "Немаркированный товар" in page and "Провести списание" in page
    assert client.post(url + "scan/", {"scan": wf.datamatrix(stocked[0])}, **HX).status_code == 200
    before = snapshot()
    for data, status, message in (
            ({"package": unmarked.gtin, "series": "U1", "quantity": "0"}, 422, "Количество должно быть больше нуля"),
            ({"package": unmarked.gtin, "series": "U1", "quantity": "21"}, 409, "в наличии 20 упак."),
            ({"package": "нет такого", "series": "U1", "quantity": "2"}, 422, "Упаковка «нет такого» не найдена"),
            ({"package": marked[0].gtin, "series": "S", "quantity": "2"}, 422, "Маркированные упаковки сканируйте"),
            ({"package": unmarked.gtin, "series": "", "quantity": "2"}, 422, "Обязательное поле")):
        response = client.post(url + "quantity/", data, **HX)
        assert response.status_code == status and message in text(response), message
    assert snapshot() == before
    response = client.post(url + "quantity/", {"package": unmarked.gtin, "series": "U1", "quantity": "5"}, **HX)
    assert response.status_code == 200 and "В документ:" in text(response) and "hx-swap-oob" in text(response)
    client.post(url + "post/", **HX)
    assert MarkedPack.objects.get(sgtin=stocked[0]).state == "withdrawn"
    assert ledger.balance_of(ledger.StockKey(warehouse.pk, None, unmarked.pk, "U1", "1", contract.pk)) == 15


def test_a_return_is_made_under_a_contract(client, clerk, contract, stocked):
    client.force_login(clerk)
    response = client.post("/stock/return/new/", {"contract": "", "comment": ""})
    assert response.status_code == 422 and "Выберите контракт" in text(response)
    response = client.post("/stock/return/new/", {"contract": contract.pk, "comment": "претензия 1"})
    document = StockDocument.objects.get(kind="return")
    assert (document.contract, document.counterparty, document.comment) == (contract, contract.supplier,
                                                                             "претензия 1")
    url = response["Location"]
    client.post(url + "scan/", {"scan": wf.datamatrix(stocked[0])}, **HX)
    client.post(url + "post/", **HX)
    assert MarkedPack.objects.get(sgtin=stocked[0]).state == "returned"
    assert client.get("/stock/nothing/new/").status_code == 404


def test_the_inventory_is_blind_for_the_counter_and_approved_by_a_colleague(client, clerk, warehouse, unmarked,
                                                                            stocked):
    colleague = f.user(Role.WAREHOUSE_CLERK, warehouse)
    client.force_login(clerk)
    client.post("/stock/inventory/new/", {"comment": "годовая"})
    document = StockDocument.objects.get(kind="inventory")
    url = f"/stock/documents/{document.pk}/"
    for sgtin in stocked[:3]:
        client.post(url + "scan/", {"scan": wf.datamatrix(sgtin)}, **HX)
    response = client.post(url + "quantity/", {"package": unmarked.gtin, "series": "U1", "quantity": "-1"}, **HX)
    assert response.status_code == 422 and "не может быть отрицательным" in text(response)
    client.post(url + "quantity/", {"package": unmarked.gtin, "series": "U1", "quantity": "18"}, **HX)
    page = text(client.get(url))
    assert 'data-testid="scanned">3<' in page and 'data-testid="expected"' not in page  # nothing expected shown
    assert "Утвердить" not in page
    differences = text(client.get(url + "differences/"))
    assert "Пересчёт слепой" in differences and stocked[3] not in differences
    response = client.post(url + "post/", **HX)
    assert response.status_code == 409 and "другой сотрудник" in text(response)

    client.force_login(colleague)
    differences = text(client.get(url + "differences/"))
    assert stocked[3] in differences and "Утвердить результаты" in differences and "-2" in differences
    client.post(url + "post/", **HX)
    assert MarkedPack.objects.get(sgtin=stocked[3]).state == "withdrawn"
    client.force_login(clerk)
    assert stocked[3] in text(client.get(url + "differences/"))  # approved: no longer blind


# --- storage: addresses, put-away, our boxes ---------------------------------------------------------

def test_addresses_put_away_and_their_labels(client, clerk, warehouse, other_clerk, stocked):
    client.force_login(clerk)
    before = snapshot()
    for data, message in (({"zone": "A", "rack": "0 1", "shelf": "1", "cell": "1"}, "буквы и цифры"),
                          ({"zone": "", "rack": "01", "shelf": "1", "cell": "1"}, "Обязательное поле")):
        response = client.post("/stock/storage/", data)
        assert response.status_code == 422 and message in text(response)
    assert snapshot() == before
    response = client.post("/stock/storage/", {"zone": "a", "rack": "01", "shelf": "02", "cell": "03"}, follow=True)
    assert "Адрес A-01-02-03 добавлен" in text(response)
    address = StorageAddress.objects.get()
    label = client.get(f"/stock/storage/addresses/{address.pk}/label.svg")
    assert label["Content-Type"] == "image/svg+xml" and b"ADR-A-01-02-03" in label.content
    response = client.post("/stock/storage/", {"zone": "A", "rack": "01", "shelf": "02", "cell": "03"})
    assert response.status_code == 409 and "Адрес A-01-02-03 уже есть" in text(response)

    before = snapshot()
    for data, message in (({"scan": wf.datamatrix(stocked[0]), "address": "Z-9-9-9"}, "Адреса Z-9-9-9 нет"),
                          ({"scan": "мусор", "address": "ADR-A-01-02-03"}, "scan-bad"),
                          ({"scan": wf.datamatrix(wf.sgtin(stocked and MarkedPack.objects.get(sgtin=stocked[0])
                                                           .package)), "address": "A-01-02-03"}, "нет в наличии")):
        response = client.post("/stock/storage/put-away/", data, **HX)
        assert response.status_code in (409, 422) and message in text(response), message
    assert snapshot() == before
    response = client.post("/stock/storage/put-away/", {"scan": wf.datamatrix(stocked[0]),
                                                        "address": "ADR-A-01-02-03"}, **HX)
    assert response.status_code == 200 and "Размещено в ячейку A-01-02-03" in text(response)
    assert MarkedPack.objects.get(sgtin=stocked[0]).address == address
    stock = text(client.get("/stock/"))
    assert '<span class="mono">A-01-02-03</span> · 1' in stock and "без адреса · 3" in stock

    client.force_login(other_clerk)
    assert client.get(f"/stock/storage/addresses/{address.pk}/label.svg").status_code == 404


def test_a_box_is_formed_from_scanned_packs_labelled_and_taken_apart(client, clerk, other_clerk, stocked):
    client.force_login(clerk)
    listed = []
    for sgtin in stocked[:2]:
        response = client.post("/stock/storage/boxes/new/add/", {"scan": wf.datamatrix(sgtin), "packs": listed}, **HX)
        assert response.status_code == 200 and "scan-ok" in text(response)
        listed.append(sgtin)
        assert f'data-testid="box-count">{len(listed)}<' in text(response)
    for raw, message in ((wf.datamatrix(stocked[0]), "уже в списке"), ("00" + wf.sscc(3), "В короб кладут упаковки"),
                         (wf.datamatrix("04601234567890" + "X" * 13), "контрольн")):
        response = client.post("/stock/storage/boxes/new/add/", {"scan": raw, "packs": listed}, **HX)
        assert response.status_code in (409, 422) and message in text(response), message
        assert 'data-testid="box-count">2<' in text(response)  # the list is kept
    assert TransportPack.objects.count() == 0

    response = client.post("/stock/storage/boxes/new/", {"packs": listed})
    box = TransportPack.objects.get()
    assert response["Location"] == f"/stock/storage/boxes/{box.pk}/"
    page = text(client.get(response["Location"]))
    assert box.sscc in page and stocked[0] in page and "code128.svg" in page
    assert b"00" + box.sscc.encode() in client.get(f"/stock/storage/boxes/{box.pk}/code128.svg").content
    png = client.get(f"/stock/storage/boxes/{box.pk}/datamatrix.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    response = client.post("/stock/storage/boxes/new/", {"packs": listed})  # already in a box now
    assert response.status_code == 409 and "Не все упаковки" in text(response)

    client.force_login(other_clerk)
    assert client.get(f"/stock/storage/boxes/{box.pk}/").status_code == 404
    client.force_login(clerk)
    response = client.post("/stock/storage/boxes/open/", {"scan": box.sscc}, **HX)
    assert response.status_code == 200 and "Короб расформирован: упаковок 2" in text(response)
    response = client.post("/stock/storage/boxes/open/", {"scan": box.sscc}, **HX)
    assert response.status_code == 409 and "нет на этом складе" in text(response)


def test_storage_pages_are_the_clerks(client, pharmacist, analyst):
    for user in (pharmacist, analyst):
        client.force_login(user)
        for url in ("/stock/storage/", "/stock/storage/put-away/", "/stock/storage/boxes/new/"):
            assert client.get(url).status_code == 403


# --- the stock page -------------------------------------------------------------------------------------

def test_the_stock_page_by_series_expiry_and_address_and_the_expiry_monitor(client, clerk, point, contract, marked,
                                                                           warehouse, analyst, stocked):
    with transaction.atomic():  # expired yesterday: no receipt takes it any more, the ledger still may hold it
        ledger.post([ledger.Move(ledger.StockKey(warehouse.pk, None, marked[1].pk, "SOON", "1", contract.pk),
                                 timezone.localdate() - timedelta(days=1), 2)], reason="receipt")
    client.force_login(clerk)
    page = text(client.get("/stock/"))
    assert "SOON" in page and "просрочен" in page
    assert str(marked[0]) in page and "Федеральный бюджет" in page
    assert "Все места" not in page  # the clerk sees the own place only
    expiring = text(client.get("/stock/?view=expiring&days=30"))
    assert "SOON" in expiring and ">S<" not in expiring  # LATE series is years away
    assert "Неликвидов нет" in text(client.get("/stock/?view=slow"))
    assert "Предложений нет" in text(client.get("/stock/?view=redistribution"))
    client.force_login(analyst)
    assert warehouse.short_name in text(client.get("/stock/"))
    assert "Остатков нет" in text(client.get(f"/stock/?place={point.pk}"))
    assert client.get("/stock/?place=abc&view=nonsense&days=7").status_code == 200  # bad filters: the defaults
