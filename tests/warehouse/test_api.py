"""GET /api/v1/stock/: balances by place, series and expiry for MIS and pharmacy systems."""

from datetime import date

import pytest
from django.db import transaction

from llo.models import Role
from tests.llo import factories as f
from warehouse import ledger
from warehouse.models import Reason

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(warehouse, point, marked, contract):
    def key(place, package, series, address=None):
        return ledger.StockKey(place.pk, address, package.pk, series, "1", contract.pk)

    with transaction.atomic():
        ledger.post([ledger.Move(key(warehouse, marked[0], "A1"), date(2027, 3, 31), 40),
                     ledger.Move(key(warehouse, marked[0], "A2"), date(2028, 1, 31), 10),
                     ledger.Move(key(point, marked[0], "A1"), date(2027, 3, 31), 3),
                     ledger.Move(key(warehouse, marked[1], "B1"), date(2027, 5, 31), 7)], reason=Reason.RECEIPT)
        ledger.post([ledger.Move(key(point, marked[0], "A1"), date(2027, 3, 31), -3)], reason=Reason.DISPENSING)
    return marked


def get(client, key, **params):
    return client.get("/api/v1/stock/", params, HTTP_AUTHORIZATION=f"Token {key}")


def test_stock_of_a_drug_across_places_by_series_and_expiry(client, mo, stocked, warehouse,
                                                             django_assert_num_queries):
    _, _, key = f.mis_client(mo)
    drug_id = stocked[0].trade_name.drug_id
    with django_assert_num_queries(3):  # the token, its user, the stock statement
        body = get(client, key, drug=drug_id).json()
    rows = [(r["place_id"], r["series"], r["expiry"], r["quantity"]) for r in body["results"]
            if r["package_id"] == stocked[0].pk]
    assert rows == [(warehouse.pk, "A1", "2027-03-31", 40), (warehouse.pk, "A2", "2028-01-31", 10)]  # the point: 0
    assert all(r["drug_id"] == drug_id for r in body["results"])
    body = get(client, key, place=warehouse.pk).json()
    assert sum(r["quantity"] for r in body["results"]) == 57


@pytest.mark.parametrize("params", [{}, {"drug": "abc"}, {"drug": "0"}, {"place": "-5"}])
def test_bad_parameters_are_refused_with_the_field_named(client, mo, params):
    _, _, key = f.mis_client(mo)
    response = get(client, key, **params)
    assert response.status_code == 422
    assert set(response.json()["details"]) & {"drug", "place"}


def test_stock_needs_an_account(client, stocked, point):
    assert client.get("/api/v1/stock/", {"drug": stocked[0].trade_name.drug_id}).status_code in (401, 403)
    client.force_login(f.user(Role.PHARMACIST, point))
    assert client.get("/api/v1/stock/", {"drug": stocked[0].trade_name.drug_id}).status_code == 200
