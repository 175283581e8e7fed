"""Inside a place and out of it: putting packs away, our own SSCC boxes, return to the supplier,
write-off, inventory with approval by a second person; the drift check."""

from datetime import date

import pytest

from llo.errors import ApplicationError
from llo.models import OutboxMessage, Role
from tests.llo import factories as f
from tests.warehouse import factories as wf
from warehouse import ledger
from warehouse.inventory import inventory_approve, inventory_count, inventory_differences, inventory_scan, inventory_start
from warehouse.models import MarkedPack, StockMovement, TransportPack, WriteOffReason
from warehouse.outgoing import outgoing_add_quantity, outgoing_post, outgoing_scan, return_create, write_off_create
from warehouse.shipments import Wanted, shipment_create, shipment_scan
from warehouse.storage import address_create, aggregate, disaggregate, pack_put_away
from warehouse.tasks import stock_drift_check

from .test_shipments import LATE, receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def packs(clerk, contract, marked, unmarked):
    return receive(clerk, contract, marked[0], "S", LATE, 4, unmarked)


def balance(place, package, contract, series, address=None):
    return ledger.balance_of(ledger.StockKey(place.pk, address, package.pk, series, "1", contract.pk))


def test_a_pack_put_away_moves_with_its_stock_to_the_cell(clerk, warehouse, contract, marked, packs):
    cell = address_create(user=clerk, zone="a", rack="01", shelf="02", cell="03")
    assert cell.code == "A-01-02-03"
    with pytest.raises(ApplicationError) as caught:
        address_create(user=clerk, zone="A", rack="01", shelf="02", cell="03")
    assert caught.value.code == "address.exists"
    pack_put_away(user=clerk, raw_pack=wf.datamatrix(packs[0]), raw_address="ADR-A-01-02-03")
    assert MarkedPack.objects.get(sgtin=packs[0]).address == cell
    assert (balance(warehouse, marked[0], contract, "S"), balance(warehouse, marked[0], contract, "S", cell.pk)) == (3, 1)
    with pytest.raises(ApplicationError) as caught:
        pack_put_away(user=clerk, raw_pack=wf.datamatrix(packs[1]), raw_address="Z-9-9-9")
    assert caught.value.code == "address.unknown"
    # shipped later from the cell: the pick list names it, the ledger takes it from there
    document = shipment_create(user=clerk, destination=f.organization("dispensing_point", parent=f.organization(
        "pharmacy_org", region=warehouse.region)), wanted=[Wanted(marked[0], 4)])
    assert sorted((line.address_id or 0) for line in document.lines.all()) == [0, cell.pk]
    assert ledger.drift() == []


def test_our_box_is_formed_shipped_whole_and_taken_apart(clerk, warehouse, point, marked, packs):
    box = aggregate(user=clerk, raws=[wf.datamatrix(s) for s in packs[:3]])
    assert len(box.sscc) == 18 and box.is_ours and box.packs.count() == 3
    assert OutboxMessage.objects.get(topic="warehouse.aggregation").payload["sgtins"] == sorted(packs[:3])
    with pytest.raises(ApplicationError) as caught:  # a pack already in a box
        aggregate(user=clerk, raws=[wf.datamatrix(packs[0])])
    assert caught.value.code == "aggregation.not_free"
    document = shipment_create(user=clerk, destination=point, wanted=[Wanted(marked[0], 3)])
    assert shipment_scan(user=clerk, document=document, raw=f"00{box.sscc}").packs == 3
    assert disaggregate(user=clerk, raw=f"00{box.sscc}") == 3
    assert TransportPack.objects.get(pk=box.pk).disaggregated_at is not None


def test_return_to_the_supplier_and_write_off_take_packs_out(clerk, warehouse, contract, marked, unmarked, packs):
    returned = return_create(user=clerk, contract=contract, comment="претензия № 5")
    outgoing_scan(user=clerk, document=returned, raw=wf.datamatrix(packs[0]))
    with pytest.raises(ApplicationError) as caught:
        outgoing_scan(user=clerk, document=returned, raw=wf.datamatrix(packs[0]))
    assert caught.value.code == "stock.already_scanned"
    outgoing_post(user=clerk, document=returned)
    assert MarkedPack.objects.get(sgtin=packs[0]).state == "returned"

    with pytest.raises(ApplicationError) as caught:
        write_off_create(user=clerk, reason="because")
    assert caught.value.code == "write_off.reason_missing"
    written = write_off_create(user=clerk, reason=WriteOffReason.DAMAGED)
    with pytest.raises(ApplicationError) as caught:  # returned already: not here any more
        outgoing_scan(user=clerk, document=written, raw=wf.datamatrix(packs[0]))
    assert caught.value.code == "stock.pack_not_here"
    outgoing_scan(user=clerk, document=written, raw=wf.datamatrix(packs[1]))
    with pytest.raises(ApplicationError) as caught:
        outgoing_add_quantity(user=clerk, document=written, package=unmarked, series="U1", quantity=21)
    assert caught.value.code == "stock.insufficient"
    outgoing_add_quantity(user=clerk, document=written, package=unmarked, series="U1", quantity=5)
    outgoing_post(user=clerk, document=written)
    assert MarkedPack.objects.get(sgtin=packs[1]).state == "withdrawn"
    assert (balance(warehouse, marked[0], contract, "S"), balance(warehouse, unmarked, contract, "U1")) == (2, 15)
    assert {m.topic for m in OutboxMessage.objects.all()} >= {"warehouse.return", "warehouse.withdrawal"}
    assert ledger.drift() == []


def test_inventory_is_blind_and_a_second_person_posts_the_differences(clerk, warehouse, contract, marked, unmarked,
                                                                       packs):
    document = inventory_start(user=clerk)
    for sgtin in packs[:3]:
        inventory_scan(user=clerk, document=document, raw=wf.datamatrix(sgtin))
    stranger = wf.sgtin(marked[0])
    inventory_scan(user=clerk, document=document, raw=wf.datamatrix(stranger))
    with pytest.raises(ApplicationError) as caught:
        inventory_scan(user=clerk, document=document, raw=wf.datamatrix(stranger))
    assert caught.value.code == "inventory.already_counted"
    inventory_count(user=clerk, document=document, package=unmarked, series="U1", quantity=18)
    differences = inventory_differences(document)
    assert differences.missing == [packs[3]] and differences.found_elsewhere == [stranger]
    assert differences.unmarked == {(unmarked.pk, "U1"): (20, 18)}
    with pytest.raises(ApplicationError) as caught:
        inventory_approve(user=clerk, document=document)
    assert caught.value.code == "inventory.same_person"
    inventory_approve(user=f.user(Role.WAREHOUSE_CLERK, warehouse), document=document)
    assert MarkedPack.objects.get(sgtin=packs[3]).state == "withdrawn"
    assert not MarkedPack.objects.filter(sgtin=stranger).exists()  # found, not posted: needs a receipt
    assert (balance(warehouse, marked[0], contract, "S"), balance(warehouse, unmarked, contract, "U1")) == (3, 18)
    assert StockMovement.objects.filter(reason="adjustment").count() == 2
    assert ledger.drift() == []


def test_the_drift_check_reports_a_balance_that_left_the_ledger(warehouse, contract, marked, packs, clean_cache):
    from django.core.cache import cache

    from warehouse.models import StockBalance

    assert stock_drift_check() == 0
    StockBalance.objects.filter(package=marked[0]).update(quantity=99)
    assert stock_drift_check() == 1
    assert cache.get("warehouse:drift")["count"] == 1


def test_boxes_nest_into_a_pallet_that_ships_whole(clerk, point, marked, packs):
    first = aggregate(user=clerk, raws=[wf.datamatrix(s) for s in packs[:2]])
    second = aggregate(user=clerk, raws=[wf.datamatrix(s) for s in packs[2:4]])
    pallet = aggregate(user=clerk, raws=[f"00{first.sscc}", f"00{second.sscc}"])
    assert set(TransportPack.objects.filter(parent=pallet).values_list("sscc", flat=True)) == {first.sscc, second.sscc}
    with pytest.raises(ApplicationError) as caught:  # already on a pallet
        aggregate(user=clerk, raws=[f"00{first.sscc}"])
    assert caught.value.code == "aggregation.not_free"
    document = shipment_create(user=clerk, destination=point, wanted=[Wanted(marked[0], 4)])
    assert shipment_scan(user=clerk, document=document, raw=f"00{pallet.sscc}").packs == 4


def test_unmarked_goods_move_between_cells_by_quantity(clerk, warehouse, contract, unmarked, marked, packs):
    from warehouse.storage import quantity_move

    cell = address_create(user=clerk, zone="B", rack="1", shelf="1", cell="1")
    quantity_move(user=clerk, package=unmarked, series="U1", quantity=12, from_address=None, to_address=cell)
    assert (balance(warehouse, unmarked, contract, "U1"), balance(warehouse, unmarked, contract, "U1", cell.pk)) == (
        8, 12)
    with pytest.raises(ApplicationError) as caught:
        quantity_move(user=clerk, package=unmarked, series="U1", quantity=13, from_address=cell, to_address=None)
    assert caught.value.code == "stock.insufficient"
    with pytest.raises(ApplicationError) as caught:
        quantity_move(user=clerk, package=marked[0], series="S", quantity=1, from_address=None, to_address=cell)
    assert caught.value.code == "stock.marked_by_scan"
    assert ledger.drift() == []


def test_a_registered_recall_lists_where_the_series_lies_and_blocks_shipping(clerk, warehouse, point, marked, packs,
                                                                            ministry_admin):
    from warehouse.recalls import recall_register

    with pytest.raises(ApplicationError) as caught:
        recall_register(user=f.user(Role.DOCTOR, f.organization("medical_org", region=warehouse.region)),
                        package=marked[0], series="S", letter="Письмо", recalled_on=date(2026, 11, 1))
    assert caught.value.code == "recall.not_allowed"
    where = recall_register(user=ministry_admin, package=marked[0], series="S", letter="Письмо РЗН № 01И-7/26",
                            recalled_on=date(2026, 11, 1))
    assert [(row["place_id"], row["quantity"]) for row in where] == [(warehouse.pk, 4)]
    with pytest.raises(ApplicationError) as caught:
        recall_register(user=ministry_admin, package=marked[0], series="S", letter="ещё раз", recalled_on=date(2026, 11, 1))
    assert caught.value.code == "recall.exists"
    with pytest.raises(ApplicationError) as caught:  # the pick list skips it: nothing left to ship
        shipment_create(user=clerk, destination=point, wanted=[Wanted(marked[0], 1)])
    assert caught.value.code == "shipment.short"
