"""Shipment to a dispensing point: FEFO pick list, scanning against it, shipping, receipt at the
pharmacy; and many clerks shipping the same packs at once."""

import threading
from datetime import date

import pytest
from django.db import connection

from llo.errors import ApplicationError
from llo.models import OutboxMessage, Role
from tests.llo import factories as f
from tests.warehouse import factories as wf
from warehouse import ledger
from warehouse.models import Acceptance, DocumentLine, MarkedPack, PackEvent, StockMovement
from warehouse.receipts import ReceiptLine, receipt_create, receipt_post, receipt_scan
from warehouse.shipments import Wanted, shipment_create, shipment_receive, shipment_scan, shipment_ship

pytestmark = pytest.mark.django_db
LATE, EARLY = date(2028, 6, 30), date(2027, 2, 28)


def receive(clerk, contract, package, series, expiry, count, unmarked=None):
    document = receipt_create(user=clerk, contract=contract, acceptance=Acceptance.REVERSE, lines=[
        ReceiptLine(package=package, series=series, expiry=expiry, quantity=count),
        *([ReceiptLine(package=unmarked, series="U1", expiry=LATE, quantity=20)] if unmarked else [])])
    packs = [wf.sgtin(package) for _ in range(count)]
    for sgtin in packs:
        receipt_scan(user=clerk, document=document, raw=wf.datamatrix(sgtin))
    receipt_post(user=clerk, document=document)
    return packs


@pytest.fixture
def stocked(clerk, contract, marked, unmarked):
    late = receive(clerk, contract, marked[0], "LATE", LATE, 4, unmarked)
    early = receive(clerk, contract, marked[0], "EARLY", EARLY, 2)
    return {"late": late, "early": early}


def test_pick_list_is_first_expired_first_out_and_the_packs_travel_to_the_pharmacy(
        clerk, warehouse, point, contract, marked, unmarked, stocked):
    document = shipment_create(user=clerk, destination=point, wanted=[Wanted(marked[0], 3), Wanted(unmarked, 5)])
    lines = list(DocumentLine.objects.filter(document=document).order_by("pk").values_list("series", "quantity"))
    assert lines == [("EARLY", 2), ("LATE", 1), ("U1", 5)]
    with pytest.raises(ApplicationError) as caught:
        shipment_ship(user=clerk, document=document)
    assert caught.value.code == "shipment.not_fully_scanned"
    for sgtin in stocked["early"] + stocked["late"][:1]:
        shipment_scan(user=clerk, document=document, raw=wf.datamatrix(sgtin))
    with pytest.raises(ApplicationError) as caught:  # the LATE line is full
        shipment_scan(user=clerk, document=document, raw=wf.datamatrix(stocked["late"][1]))
    assert caught.value.code == "shipment.not_in_pick_list"
    shipment_ship(user=clerk, document=document)

    shipped = set(stocked["early"] + stocked["late"][:1])
    assert set(MarkedPack.objects.filter(state="shipped", place=point).values_list("sgtin", flat=True)) == shipped
    wh = lambda series, package=marked[0]: ledger.balance_of(  # noqa: E731
        ledger.StockKey(warehouse.pk, None, package.pk, series, "1", contract.pk))
    at_point = lambda series, package=marked[0]: ledger.balance_of(  # noqa: E731
        ledger.StockKey(point.pk, None, package.pk, series, "1", contract.pk))
    assert (wh("EARLY"), wh("LATE"), wh("U1", unmarked), at_point("EARLY")) == (0, 3, 15, 0)
    assert OutboxMessage.objects.filter(topic="warehouse.shipment").count() == 1

    pharmacist = f.user(Role.PHARMACIST, point)
    with pytest.raises(ApplicationError) as caught:
        shipment_receive(user=f.user(Role.PHARMACIST, f.organization("dispensing_point", parent=point.parent)),
                         document=document)
    assert caught.value.code == "shipment.not_for_you"
    shipment_receive(user=pharmacist, document=document)
    assert set(MarkedPack.objects.filter(state="in_stock", place=point).values_list("sgtin", flat=True)) == shipped
    assert (at_point("EARLY"), at_point("LATE"), at_point("U1", unmarked)) == (2, 1, 5)
    assert ledger.drift() == []
    arrived = OutboxMessage.objects.get(topic="warehouse.stock_arrived", payload__place_id=point.pk)  # deferrals wait
    assert arrived.payload == {"place_id": point.pk, "package_ids": sorted([marked[0].pk, unmarked.pk])}
    with pytest.raises(ApplicationError) as caught:
        shipment_receive(user=pharmacist, document=document)
    assert caught.value.code == "stock.document_closed"


def test_shipping_more_than_there_is_or_a_pack_from_elsewhere_is_refused(clerk, point, marked, stocked):
    with pytest.raises(ApplicationError) as caught:
        shipment_create(user=clerk, destination=point, wanted=[Wanted(marked[0], 7)])
    assert caught.value.code == "shipment.short" and caught.value.details["available"] == 6
    document = shipment_create(user=clerk, destination=point, wanted=[Wanted(marked[0], 1)])
    with pytest.raises(ApplicationError) as caught:
        shipment_scan(user=clerk, document=document, raw=wf.datamatrix(wf.sgtin(marked[0])))
    assert caught.value.code == "shipment.unknown_pack"


@pytest.mark.django_db(transaction=True)
def test_many_clerks_shipping_the_same_packs_at_once_never_put_a_pack_in_two_places(
        region, warehouse, clerk, contract, marked, reference):
    from llo.models.organizations import OrganizationKind as K

    packs = receive(clerk, contract, marked[0], "S", LATE, 6)
    chain = f.organization(K.PHARMACY_ORG, region=region)
    points = [f.organization(K.DISPENSING_POINT, parent=chain) for _ in range(6)]
    clerks = [f.user(Role.WAREHOUSE_CLERK, warehouse) for _ in points]
    documents = []
    for n, (point, who) in enumerate(zip(points, clerks)):
        document = shipment_create(user=who, destination=point, wanted=[Wanted(marked[0], 3)])
        chosen = packs[:3] if n % 2 else packs[3:]  # every pack wanted by three clerks
        for sgtin in chosen:
            shipment_scan(user=who, document=document, raw=wf.datamatrix(sgtin))
        documents.append((who, document))
    barrier, outcomes = threading.Barrier(len(documents)), []

    def ship(who, document):
        try:
            barrier.wait()
            shipment_ship(user=who, document=document)
            outcomes.append("shipped")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=ship, args=pair) for pair in documents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("shipped") == 2, outcomes  # one per half of the packs
    assert set(outcomes) <= {"shipped", "pack.not_available", "stock.insufficient"}
    assert MarkedPack.objects.filter(state="shipped").count() == 6
    assert MarkedPack.objects.filter(place=warehouse).count() == 0
    assert PackEvent.objects.filter(to_state="shipped").count() == 6
    assert ledger.balance_of(ledger.StockKey(warehouse.pk, None, marked[0].pk, "S", "1", contract.pk)) == 0
    assert StockMovement.objects.filter(reason="shipment").count() == 2
    assert ledger.drift() == []


def test_an_expired_pack_is_not_shipped(clerk, point, contract, marked, stocked):
    from datetime import timedelta

    from django.utils import timezone

    document = shipment_create(user=clerk, destination=point, wanted=[Wanted(marked[0], 1)])
    MarkedPack.objects.filter(sgtin=stocked["early"][0]).update(expiry=timezone.localdate() - timedelta(days=1))
    with pytest.raises(ApplicationError) as caught:
        shipment_scan(user=clerk, document=document, raw=wf.datamatrix(stocked["early"][0]))
    assert caught.value.code == "shipment.expired"
