"""The stock operations through the REST API: documents of the user's place (another place's answers
404), receipts, scans, refusals, posting, shipments shipped and received, returns, write-offs,
inventory, put-away and boxes. Errors are {"code", "message", "details"} with 409/422 and change
nothing; the ministry reads, other roles get 403."""

import pytest

from llo.models import Role
from llo.models.organizations import OrganizationKind as K
from tests.llo import factories as f
from tests.warehouse import factories as wf
from warehouse import ledger
from warehouse.models import MarkedPack, StockDocument, StorageAddress, TransportPack

from .test_shipments import LATE, receive
from .test_views import snapshot

pytestmark = pytest.mark.django_db
EXPIRY = "2028-06-30"
API = "/api/v1/stock"


def post(client, url: str, data=None):
    return client.post(f"{API}{url}", data or {}, content_type="application/json")


@pytest.fixture
def api(client, clerk):
    client.force_login(clerk)
    return client


@pytest.fixture
def stocked(clerk, contract, marked, unmarked):
    return receive(clerk, contract, marked[0], "S", LATE, 4, unmarked)


@pytest.fixture
def direct(api, contract, marked):
    box, boxed = wf.sscc(5), [wf.sgtin(marked[0]) for _ in range(2)]
    singles = [wf.sgtin(marked[0]) for _ in range(2)]
    expected = [{"sscc": box}] + [{"sgtin": s, "parent_sscc": box, "series": "B1", "expiry": EXPIRY} for s in boxed]
    expected += [{"sgtin": s, "series": "S1", "expiry": "30.06.2028"} for s in singles]
    response = post(api, "/receipts/", {"contract": contract.pk, "acceptance": "direct", "supplier_number": "УПД-9",
                                        "supplier_date": "2026-11-20", "expected": expected})
    assert response.status_code == 201, response.json()
    return response.json(), box, boxed, singles


def test_a_direct_receipt_scanned_refused_and_posted(api, warehouse, contract, marked, direct):
    body, box, boxed, singles = direct
    assert (body["kind"], body["status"], body["supplier_number"], body["counterparty"]) == (
        "receipt", "draft", "УПД-9", contract.supplier_id)
    assert body["progress"] == {"expected": 4, "scanned": 0, "refused": 0}
    assert {(r["series"], r["quantity"]) for r in body["rows"]} == {("B1", 2), ("S1", 2)}
    url = f"/documents/{body['id']}/"
    response = post(api, url + "scan/", {"code": wf.datamatrix(singles[0])})
    assert response.status_code == 200
    assert response.json() == {"message": f"Принято: {marked[0]} серия S1", "sgtin": singles[0], "sscc": "",
                               "packs": 1}
    response = post(api, url + "scan/", {"code": f"]C100{box}"})
    assert response.json()["packs"] == 2 and response.json()["sscc"] == box
    response = post(api, url + "refuse/", {"sgtin": singles[1], "reason": "вскрыта"})
    assert response.json()["progress"] == {"expected": 4, "scanned": 3, "refused": 1}
    response = post(api, url + "post/")
    assert response.status_code == 200 and response.json()["status"] == "posted"
    assert ledger.balance_of(ledger.StockKey(warehouse.pk, None, marked[0].pk, "B1", "1", contract.pk)) == 2
    assert ledger.drift() == []
    response = post(api, url + "post/")
    assert response.status_code == 409 and response.json()["code"] == "stock.document_closed"


@pytest.mark.parametrize("code, status, error", [
    ("", 422, "scan.empty"),
    ("hello world", 422, "scan.not_a_code"),
    ("0104601234567890", 422, "scan.bad_check_digit"),
    ("\x1d\x1d", 422, "scan.empty"),
])
def test_a_bad_scan_is_refused_with_its_code_and_changes_nothing(api, direct, code, status, error):
    before = snapshot()
    response = post(api, f"/documents/{direct[0]['id']}/scan/", {"code": code})
    assert response.status_code == status
    assert response.json()["code"] == error and response.json()["message"]
    assert snapshot() == before


def test_a_scan_keeps_its_gs_and_costs_a_fixed_number_of_queries(api, direct, django_assert_num_queries):
    body, _, _, singles = direct
    raw = wf.datamatrix(singles[0])
    assert "\x1d" in raw
    with django_assert_num_queries(12):
        response = post(api, f"/documents/{body['id']}/scan/", {"code": raw})
    assert response.status_code == 200
    response = post(api, f"/documents/{body['id']}/scan/", {"code": raw})
    assert response.status_code == 409 and response.json()["code"] == "receipt.already_scanned"


@pytest.mark.parametrize("item, row, field", [
    ({"sgtin": "0460123456789", "series": "S", "expiry": EXPIRY}, 2, "sgtin"),
    ({"sgtin": "04607028393877ABCdef1234567", "series": "S", "expiry": "2028-13-01"}, 2, "expiry"),
    ({"sscc": "1" * 18}, 2, "sscc"),
    ({"sgtin": "04607028393877ABCdef1234567", "colour": "red"}, 2, "colour"),
])
def test_a_bad_expected_item_names_its_number_and_field(api, contract, marked, item, row, field):
    before = snapshot()
    good = {"sgtin": wf.sgtin(marked[0]), "series": "S", "expiry": EXPIRY}
    response = post(api, "/receipts/", {"contract": contract.pk, "acceptance": "direct", "expected": [good, item]})
    assert response.status_code == 422
    assert response.json()["code"] == "supplier_list.bad_row"
    assert response.json()["details"] == {"row": row, "field": field}
    assert snapshot() == before


def test_reverse_receipt_lines_are_checked_and_nothing_is_made(api, contract, marked, unmarked):
    before = snapshot()
    line = {"package": marked[0].pk, "series": "R", "expiry": EXPIRY, "quantity": 2}
    for lines, status, code in (
            ([line | {"package": 99_999_999}], 422, "validation_failed"),
            ([line | {"quantity": 0}], 422, "receipt.bad_quantity"),
            ([line | {"expiry": "2001-01-01"}], 422, "receipt.expired"),
            ([line | {"quantity": "два"}], 422, "validation_failed")):
        response = post(api, "/receipts/", {"contract": contract.pk, "acceptance": "reverse", "lines": lines})
        assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    response = post(api, "/receipts/", {"contract": 99_999_999, "acceptance": "reverse", "lines": [line]})
    assert response.status_code == 422 and response.json()["details"] == {
        "contract": ["Контракт не найден среди контрактов региона"]}
    response = post(api, "/receipts/", {"contract": contract.pk, "acceptance": "sideways"})
    assert response.status_code == 422 and "acceptance" in response.json()["details"]
    assert "Упаковка 99999999 не найдена в каталоге" in str(
        post(api, "/receipts/", {"contract": contract.pk, "acceptance": "reverse",
                                 "lines": [line | {"package": 99_999_999}]}).json()["details"])
    assert snapshot() == before
    response = post(api, "/receipts/", {"contract": contract.pk, "acceptance": "reverse",
                                        "lines": [line, line | {"package": unmarked.pk, "quantity": 5}]})
    assert response.status_code == 201 and response.json()["progress"]["expected"] == 2
    assert [r["scanned"] for r in response.json()["rows"]] == [0, None]  # unmarked: by quantity


def test_a_shipment_made_scanned_shipped_and_received_at_the_pharmacy(client, api, point, pharmacist, marked,
                                                                        unmarked, stocked):
    response = post(api, "/shipments/", {"destination": point.pk, "wanted": [
        {"package": marked[0].pk, "quantity": 2}, {"package": unmarked.pk, "quantity": 3}]})
    assert response.status_code == 201
    body = response.json()
    assert [(r["series"], r["quantity"], r["address"]) for r in body["rows"]] == [("S", 2, None), ("U1", 3, None)]
    response = post(api, f"/shipments/{body['id']}/ship/")
    assert response.status_code == 409 and response.json()["code"] == "shipment.not_fully_scanned"
    for sgtin in stocked[:2]:
        assert post(api, f"/documents/{body['id']}/scan/", {"code": wf.datamatrix(sgtin)}).status_code == 200
    assert post(api, f"/shipments/{body['id']}/ship/").json()["status"] == "shipped"

    client.force_login(pharmacist)
    listed = client.get(f"{API}/documents/", {"kind": "shipment", "status": "shipped"}).json()
    assert [d["number"] for d in listed["results"]] == [body["number"]]
    response = post(client, f"/shipments/{body['id']}/receive/")
    assert response.status_code == 200 and response.json()["status"] == "received"
    assert MarkedPack.objects.filter(place=point, state="in_stock").count() == 2
    response = post(client, f"/shipments/{body['id']}/receive/")
    assert response.status_code == 409 and response.json()["code"] == "stock.document_closed"


def test_bad_shipments_are_refused(api, clerk, point, marked, stocked):
    before = snapshot()
    for data, status, code in (
            ({"destination": clerk.organization_id, "wanted": [{"package": marked[0].pk, "quantity": 1}]}, 422,
             "shipment.bad_destination"),
            ({"destination": 99_999_999, "wanted": [{"package": marked[0].pk, "quantity": 1}]}, 422,
             "validation_failed"),
            ({"destination": point.pk, "wanted": [{"package": marked[0].pk, "quantity": 0}]}, 422, "shipment.empty"),
            ({"destination": point.pk, "wanted": [{"package": marked[0].pk, "quantity": 50}]}, 409, "shipment.short"),
            ({"destination": point.pk, "wanted": []}, 422, "shipment.empty")):
        response = post(api, "/shipments/", data)
        assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    assert snapshot() == before


def test_return_write_off_and_inventory(client, api, clerk, warehouse, contract, unmarked, stocked):
    returned = post(api, "/returns/", {"contract": contract.pk, "comment": "претензия"}).json()
    post(api, f"/documents/{returned['id']}/scan/", {"code": wf.datamatrix(stocked[0])})
    assert post(api, f"/documents/{returned['id']}/post/").json()["status"] == "posted"

    response = post(api, "/write-offs/", {"reason": "lost"})
    assert response.status_code == 422 and response.json()["code"] == "write_off.reason_missing"
    written = post(api, "/write-offs/", {"reason": "damaged"}).json()
    url = f"/documents/{written['id']}/quantity/"
    before = snapshot()
    for data, code in (({"package": unmarked.pk, "series": "U1", "quantity": 0}, "stock.bad_quantity"),
                       ({"package": unmarked.pk, "series": "U1", "quantity": 99}, "stock.insufficient"),
                       ({"package": unmarked.pk, "series": "U1"}, "validation_failed")):
        assert post(api, url, data).json()["code"] == code
    assert snapshot() == before
    response = post(api, url, {"package": unmarked.pk, "series": "U1", "quantity": 4})
    assert [(r["series"], r["quantity"]) for r in response.json()["rows"]] == [("U1", 4)]
    assert post(api, f"/documents/{written['id']}/post/").json()["status"] == "posted"

    counted = post(api, "/inventories/", {"comment": "квартальная"}).json()
    for sgtin in stocked[1:]:
        post(api, f"/documents/{counted['id']}/scan/", {"code": wf.datamatrix(sgtin)})
    response = post(api, f"/documents/{counted['id']}/quantity/", {"package": unmarked.pk, "series": "U1",
                                                                   "quantity": 16, "address": "Z-1-1-1"})
    assert response.status_code == 422 and response.json()["details"] == {"address": ["Адреса Z-1-1-1 нет в этом "
                                                                                      "месте хранения"]}
    post(api, f"/documents/{counted['id']}/quantity/", {"package": unmarked.pk, "series": "U1", "quantity": 16})
    detail = api.get(f"{API}/documents/{counted['id']}/").json()
    assert detail["progress"] == {"expected": None, "scanned": 3, "refused": 0}  # blind
    response = post(api, f"/documents/{counted['id']}/post/")
    assert response.status_code == 409 and response.json()["code"] == "inventory.same_person"
    client.force_login(f.user(Role.WAREHOUSE_CLERK, warehouse))
    assert post(client, f"/documents/{counted['id']}/post/").json()["status"] == "posted"
    assert ledger.drift() == []


def test_put_away_and_our_boxes(api, clerk, stocked):
    StorageAddress.objects.create(place=clerk.organization, zone="B", rack="1", shelf="1", cell="1")
    response = post(api, "/put-away/", {"pack": wf.datamatrix(stocked[0]), "address": "ADR-B-1-1-1"})
    assert response.status_code == 200 and response.json()["message"] == "Размещено в ячейку B-1-1-1"
    response = post(api, "/put-away/", {"pack": wf.datamatrix(stocked[0]), "address": "Q"})
    assert response.status_code == 422 and response.json()["code"] == "address.unknown"
    response = post(api, "/boxes/", {"codes": [wf.datamatrix(s) for s in stocked[1:3]]})
    assert response.status_code == 201 and response.json()["packs"] == 2
    sscc = response.json()["sscc"]
    assert TransportPack.objects.get(sscc=sscc).packs.count() == 2
    response = post(api, "/boxes/", {"codes": [wf.datamatrix(stocked[1])]})
    assert response.status_code == 409 and response.json()["code"] == "aggregation.not_free"
    assert post(api, "/boxes/disaggregate/", {"code": f"00{sscc}"}).json()["packs"] == 2
    assert post(api, "/boxes/disaggregate/", {"code": "garbage"}).status_code == 422


# --- access -------------------------------------------------------------------------------------------

def test_another_places_document_is_not_found(client, region, direct, marked):
    body, *_ = direct
    before = snapshot()
    client.force_login(f.user(Role.WAREHOUSE_CLERK, f.organization(K.REGIONAL_WAREHOUSE, region=region)))
    assert client.get(f"{API}/documents/{body['id']}/").status_code == 404
    for action in ("scan/", "refuse/", "quantity/", "post/"):
        response = post(client, f"/documents/{body['id']}/{action}", {"code": "x"})
        assert response.status_code == 404 and response.json()["code"] == "not_found", action
    assert post(client, f"/shipments/{body['id']}/receive/").status_code == 404
    assert client.get(f"{API}/documents/").json()["count"] == 0
    assert snapshot() == before


def test_the_ministry_reads_every_place_other_roles_and_anonymous_are_refused(client, mo, doctor_user, analyst,
                                                                              direct, contract):
    body, *_ = direct
    client.force_login(analyst)
    assert client.get(f"{API}/documents/{body['id']}/").status_code == 200
    assert client.get(f"{API}/documents/", {"kind": "receipt"}).json()["count"] == 1
    assert client.get(f"{API}/documents/", {"kind": "parcel"}).status_code == 422
    before = snapshot()
    assert post(client, f"/documents/{body['id']}/scan/", {"code": "x"}).status_code == 403
    assert post(client, "/receipts/", {"contract": contract.pk, "acceptance": "reverse"}).status_code == 403
    client.force_login(doctor_user)
    assert client.get(f"{API}/documents/").status_code == 403
    response = post(client, f"/documents/{body['id']}/scan/", {"code": "x"})
    assert response.status_code == 403 and response.json()["code"] == "auth.forbidden"
    _, _, key = f.mis_client(mo)
    client.logout()
    assert client.get(f"{API}/documents/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 403
    assert client.get(f"{API}/documents/").status_code in (401, 403)
    assert post(client, f"/documents/{body['id']}/post/").status_code in (401, 403)
    assert snapshot() == before
    assert StockDocument.objects.get(pk=body["id"]).status == "draft"


def test_the_schema_describes_the_operations_in_russian(client, analyst):
    import yaml

    client.force_login(analyst)
    schema = yaml.safe_load(client.get("/api/schema/").content)
    paths = schema["paths"]
    assert {f"/api/v1/stock/{p}" for p in ("documents/", "documents/{id}/", "documents/{id}/scan/", "receipts/",
                                             "shipments/", "shipments/{id}/ship/", "shipments/{id}/receive/",
                                             "returns/", "write-offs/", "inventories/", "boxes/")} <= set(paths)
    assert paths["/api/v1/stock/documents/{id}/scan/"]["post"]["summary"].startswith("Сканировать упаковку")


def test_scanning_an_emptied_box_into_a_shipment_is_refused_not_a_server_error(api, point, marked, stocked):
    """Bug found here: shipment_scan took the packs of a box that had none left (taken apart, or its
    packs shipped one by one) and failed with IndexError (HTTP 500)."""
    sscc = post(api, "/boxes/", {"codes": [wf.datamatrix(s) for s in stocked[:2]]}).json()["sscc"]
    post(api, "/boxes/disaggregate/", {"code": sscc})
    shipment = post(api, "/shipments/", {"destination": point.pk, "wanted": [{"package": marked[0].pk,
                                                                               "quantity": 2}]}).json()
    before = snapshot()
    response = post(api, f"/documents/{shipment['id']}/scan/", {"code": f"00{sscc}"})
    assert response.status_code == 409 and response.json()["code"] == "shipment.empty_box"
    assert snapshot() == before
