"""Every warehouse operation reported to MDLP (the emulator, over HTTP) by the outbox: a reverse receipt
(416, priced from the contract), a shipment to another legal entity's point (415) and the point's
acceptance (701, after the 415), a box made and broken (911, 912), a return to the supplier (415 with
turnover_type 2), a write-off (552) and an inventory shortage (552, type 11) — each document valid
against the official XSD and accepted, and the emulator's registry where our stock says the packs are."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.mdlp import exchange, xsd
from integrations.mdlp.operations import TOPICS
from integrations.models import MdlpDocument, MdlpStatus
from llo import outbox
from llo.models import OutboxMessage, OutboxStatus, Role
from llo.models.organizations import OrganizationKind as K
from tests.llo import factories as f
from tests.mdlp.conftest import mdlp_control, mdlp_emulator, mdlp_exchange, mdlp_url  # noqa: F401
from tests.warehouse import factories as wf
from warehouse.inventory import inventory_approve, inventory_scan, inventory_start
from warehouse.models import WriteOffReason
from warehouse.outgoing import outgoing_post, outgoing_scan, return_create, write_off_create
from warehouse.shipments import (
    Wanted,
    shipment_create,
    shipment_receive,
    shipment_scan,
    shipment_ship,
)
from warehouse.storage import aggregate, disaggregate

from .test_shipments import LATE, receive

pytestmark = [pytest.mark.django_db, pytest.mark.skipif(not xsd.schema_available(), reason="MDLP XSD not found")]

SUPPLIER_ID, POINT_ID = "00000994000009", "00000992000009"


@pytest.fixture
def mdlp(mdlp_exchange, supplier):  # noqa: F811 — the imported fixture
    supplier.mdlp_place_id = SUPPLIER_ID
    supplier.save()
    return mdlp_exchange


def deliver_all() -> list[MdlpDocument]:
    """Run the outbox and the polling until every MDLP report is answered; the new documents."""
    before = set(MdlpDocument.objects.values_list("pk", flat=True))
    messages = OutboxMessage.objects.filter(topic__in=TOPICS)
    deadline = time.monotonic() + 30
    while messages.exclude(status__in=[OutboxStatus.DONE, OutboxStatus.DEAD]).exists() or \
            MdlpDocument.objects.filter(status__in=[MdlpStatus.QUEUED, MdlpStatus.SENT]).exists():
        assert time.monotonic() < deadline, list(messages.values_list("topic", "status", "last_error"))
        messages.filter(status=OutboxStatus.PENDING).update(available_at=timezone.now())
        outbox.dispatch()
        MdlpDocument.objects.filter(status=MdlpStatus.SENT).update(next_check_at=timezone.now())
        exchange.poll_due()
        time.sleep(0.03)
    assert not messages.filter(status=OutboxStatus.DEAD).exists(), list(messages.values_list("topic", "last_error"))
    return list(MdlpDocument.objects.exclude(pk__in=before).order_by("pk"))


def owner(mdlp, sgtin: str) -> tuple[str, str]:
    pack = exchange.client().sgtin(sgtin)
    return pack.owner_id, pack.status


def test_every_warehouse_operation_is_reported_and_accepted(mdlp, region, clerk, warehouse, contract, marked):
    packs = receive(clerk, contract, marked[0], "S", LATE, 8)
    mdlp("sgtins", {"place": SUPPLIER_ID, "sgtins": packs})  # the supplier's, in circulation, before our 416

    [receipt] = deliver_all()
    assert (receipt.scheme, receipt.status, receipt.items) == (416, MdlpStatus.ACCEPTED, 8)
    xml = bytes(receipt.xml)
    xsd.validate(xml)
    price = contract.items.get(package=marked[0]).price
    vat = (price * 10 / 110).quantize(Decimal("0.01"))
    assert f"<cost>{price:.2f}</cost>".encode() in xml and f"<vat_value>{vat:.2f}</vat_value>".encode() in xml
    assert owner(mdlp, packs[0])[0] == warehouse.mdlp_place_id

    point = f.organization(K.DISPENSING_POINT, parent=f.organization(K.PHARMACY_ORG, region=region),
                           mdlp_place_id=POINT_ID)
    shipment = shipment_create(user=clerk, destination=point, wanted=[Wanted(marked[0], 2)])
    for sgtin in packs[:2]:
        shipment_scan(user=clerk, document=shipment, raw=wf.datamatrix(sgtin))
    shipment_ship(user=clerk, document=shipment)
    shipment_receive(user=f.user(Role.PHARMACIST, point), document=shipment)
    move, accept = deliver_all()
    assert [(move.scheme, move.status), (accept.scheme, accept.status)] == [(415, "accepted"), (701, "accepted")]
    shipped = list(accept.codes.values_list("code", flat=True))
    assert {owner(mdlp, s)[0] for s in shipped} == {POINT_ID}

    left = [s for s in packs if s not in shipped]
    box = aggregate(user=clerk, raws=[wf.datamatrix(s) for s in left[:2]])
    disaggregate(user=clerk, raw=f"00{box.sscc}")
    made, broken = deliver_all()
    assert [(made.scheme, made.status), (broken.scheme, broken.status)] == [(911, "accepted"), (912, "accepted")]

    returned = return_create(user=clerk, contract=contract)
    outgoing_scan(user=clerk, document=returned, raw=wf.datamatrix(left[0]))
    outgoing_post(user=clerk, document=returned)
    written = write_off_create(user=clerk, reason=WriteOffReason.DAMAGED)
    outgoing_scan(user=clerk, document=written, raw=wf.datamatrix(left[1]))
    outgoing_post(user=clerk, document=written)
    back, withdrawn = deliver_all()
    assert (back.scheme, back.status, withdrawn.scheme, withdrawn.status) == (415, "accepted", 552, "accepted")
    assert b"<turnover_type>2</turnover_type>" in bytes(back.xml)
    assert b"<withdrawal_type>16</withdrawal_type>" in bytes(withdrawn.xml)
    assert owner(mdlp, left[0]) == (warehouse.mdlp_place_id, "in_transit")  # until the supplier's 701
    assert owner(mdlp, left[1]) == (warehouse.mdlp_place_id, "withdrawn")

    check = inventory_start(user=clerk)
    for sgtin in left[3:]:  # left[2] is not found on the shelves
        inventory_scan(user=clerk, document=check, raw=wf.datamatrix(sgtin))
    inventory_approve(user=f.user(Role.WAREHOUSE_CLERK, warehouse), document=check)
    [shortage] = deliver_all()
    assert (shortage.scheme, shortage.status) == (552, "accepted")
    assert b"<withdrawal_type>11</withdrawal_type>" in bytes(shortage.xml)
    assert list(shortage.codes.values_list("code", flat=True)) == [left[2]]


def test_a_shipment_within_one_legal_entity_is_a_431_and_needs_no_acceptance(mdlp, region, clerk, warehouse,
                                                                              contract, marked):
    packs = receive(clerk, contract, marked[0], "S", LATE, 2)
    mdlp("sgtins", {"place": SUPPLIER_ID, "sgtins": packs})
    deliver_all()
    sibling = f.organization(K.DISPENSING_POINT, parent=f.organization(K.PHARMACY_ORG, region=region),
                             mdlp_place_id=POINT_ID)
    sibling.inn = warehouse.inn  # the same legal entity (ИНН) as the warehouse
    sibling.save()
    shipment = shipment_create(user=clerk, destination=sibling, wanted=[Wanted(marked[0], 2)])
    for sgtin in packs:
        shipment_scan(user=clerk, document=shipment, raw=wf.datamatrix(sgtin))
    shipment_ship(user=clerk, document=shipment)
    shipment_receive(user=f.user(Role.PHARMACIST, sibling), document=shipment)
    [move] = deliver_all()
    assert (move.scheme, move.status) == (431, MdlpStatus.ACCEPTED)
    assert OutboxMessage.objects.get(topic="warehouse.shipment_received").status == OutboxStatus.DONE
    assert {owner(mdlp, s)[0] for s in packs} == {POINT_ID}


def test_a_receipt_from_a_supplier_without_an_mdlp_id_is_shown_to_its_warehouse(mdlp, clerk, warehouse, supplier,
                                                                                 contract, marked):
    supplier.mdlp_place_id = None
    supplier.save()
    receive(clerk, contract, marked[0], "S", LATE, 1)
    message = OutboxMessage.objects.get(topic="warehouse.receipt")
    assert outbox.process(message.pk, worker="test") == OutboxStatus.DEAD
    invalid = MdlpDocument.objects.get(message=message)
    assert (invalid.status, invalid.place, invalid.xml) == (MdlpStatus.INVALID, warehouse, None)
    assert "Поставщик" in invalid.error and "ID места деятельности МДЛП" in invalid.error
