"""Receipt under a state contract: direct acceptance against the supplier's list (packs and SSCC
boxes, refusals), reverse acceptance into lines, unmarked goods, recalled series, and every bad scan
refused with its own code and nothing changed."""

from datetime import date

import pytest

from llo.errors import ApplicationError
from llo.models import OutboxMessage, Role
from llo.models.organizations import OrganizationKind as K
from tests.llo import factories as f
from tests.warehouse import factories as wf
from warehouse import ledger
from warehouse.models import (
    Acceptance, CodeStatus, DocumentCode, MarkedPack, PackEvent, RecalledSeries, StockBalance, StockMovement,
    TransportPack,
)
from warehouse.receipts import ExpectedPack, ReceiptLine, receipt_create, receipt_post, receipt_refuse, receipt_scan

pytestmark = pytest.mark.django_db
EXPIRY = date(2028, 6, 30)


def snapshot():
    return (MarkedPack.objects.count(), StockBalance.objects.count(), StockMovement.objects.count(),
            PackEvent.objects.count(), sorted(DocumentCode.objects.values_list("sgtin", "status")))


@pytest.fixture
def direct(clerk, contract, marked):
    """A supplier's document: five packs one by one and a box of three."""
    singles = [wf.sgtin(marked[0]) for _ in range(5)]
    box, boxed = wf.sscc(1), [wf.sgtin(marked[0]) for _ in range(3)]
    expected = [ExpectedPack(sgtin=s, series="S1", expiry=EXPIRY) for s in singles]
    expected += [ExpectedPack(sscc=box)] + [ExpectedPack(sgtin=s, parent_sscc=box, series="S1", expiry=EXPIRY)
                                            for s in boxed]
    document = receipt_create(user=clerk, contract=contract, acceptance=Acceptance.DIRECT, supplier_number="УПД-17",
                              supplier_date=date(2026, 11, 20), expected=expected)
    return document, singles, box, boxed


def test_direct_acceptance_takes_what_was_scanned_and_refuses_the_rest(clerk, warehouse, contract, marked, direct):
    document, singles, box, boxed = direct
    for sgtin in singles[:3]:
        assert "Принято" in receipt_scan(user=clerk, document=document, raw=wf.datamatrix(sgtin)).message
    assert receipt_scan(user=clerk, document=document, raw=f"]C100{box}\r\n").packs == 3
    receipt_refuse(user=clerk, document=document, sgtin=singles[3], reason="упаковка повреждена")
    receipt_post(user=clerk, document=document)

    in_stock = set(MarkedPack.objects.filter(place=warehouse, state="in_stock").values_list("sgtin", flat=True))
    assert in_stock == set(singles[:3]) | set(boxed)
    key = ledger.StockKey(warehouse.pk, None, marked[0].pk, "S1", "1", contract.pk)
    assert ledger.balance_of(key) == 6 and ledger.drift() == []
    statuses = dict(DocumentCode.objects.filter(document=document).exclude(sgtin="").values_list("sgtin", "status"))
    assert statuses[singles[3]] == statuses[singles[4]] == CodeStatus.REFUSED
    assert DocumentCode.objects.get(document=document, sgtin=singles[4]).refusal_reason == "не поступила"
    box_pack = TransportPack.objects.get(sscc=box)  # a whole box arrived: it stays a box here
    assert set(box_pack.packs.values_list("sgtin", flat=True)) == set(boxed) and box_pack.place == warehouse
    message = OutboxMessage.objects.get(topic="warehouse.receipt")
    assert message.payload["document_id"] == document.pk and message.payload["accepted"] == 6
    arrived = OutboxMessage.objects.get(topic="warehouse.stock_arrived")
    assert arrived.payload == {"place_id": warehouse.pk, "package_ids": [marked[0].pk]}
    document.refresh_from_db()
    assert document.status == "posted" and document.posted_at is not None
    with pytest.raises(ApplicationError) as caught:
        receipt_post(user=clerk, document=document)
    assert caught.value.code == "stock.document_closed"


@pytest.mark.parametrize("raw, code", [
    ("", "scan.empty"),
    ("hello world", "scan.not_a_code"),
    ("0104601234567890", "scan.bad_check_digit"),
    ("4601234567893", "scan.not_a_pack"),  # a bare EAN: not a marked pack
])
def test_bad_scans_are_refused_with_their_code_and_change_nothing(clerk, direct, raw, code):
    document = direct[0]
    before = snapshot()
    with pytest.raises(ApplicationError) as caught:
        receipt_scan(user=clerk, document=document, raw=raw)
    assert caught.value.code == code, caught.value.message
    assert snapshot() == before


def test_a_pack_not_listed_or_scanned_twice_or_already_received_is_refused(clerk, contract, marked, direct):
    document, singles, _, _ = direct
    before = snapshot()
    with pytest.raises(ApplicationError) as caught:
        receipt_scan(user=clerk, document=document, raw=wf.datamatrix(wf.sgtin(marked[0])))
    assert caught.value.code == "receipt.not_expected" and snapshot() == before
    receipt_scan(user=clerk, document=document, raw=wf.datamatrix(singles[0]))
    with pytest.raises(ApplicationError) as caught:
        receipt_scan(user=clerk, document=document, raw=wf.datamatrix(singles[0]))
    assert caught.value.code == "receipt.already_scanned"
    receipt_post(user=clerk, document=document)
    again = receipt_create(user=clerk, contract=contract, acceptance=Acceptance.DIRECT,
                           expected=[ExpectedPack(sgtin=singles[0], series="S1", expiry=EXPIRY)])
    with pytest.raises(ApplicationError) as caught:
        receipt_scan(user=clerk, document=again, raw=wf.datamatrix(singles[0]))
    assert caught.value.code == "receipt.already_received"


def test_reverse_acceptance_scans_packs_into_lines_and_takes_unmarked_goods_by_quantity(
        clerk, warehouse, contract, marked, unmarked):
    document = receipt_create(user=clerk, contract=contract, acceptance=Acceptance.REVERSE, lines=[
        ReceiptLine(package=marked[0], series="S2", expiry=EXPIRY, quantity=2),
        ReceiptLine(package=unmarked, series="U1", expiry=EXPIRY, quantity=10)])
    packs = [wf.sgtin(marked[0]) for _ in range(3)]
    assert "1 из 2" in receipt_scan(user=clerk, document=document, raw=wf.datamatrix(packs[0])).message
    receipt_scan(user=clerk, document=document, raw=wf.datamatrix(packs[1]))
    with pytest.raises(ApplicationError) as caught:
        receipt_scan(user=clerk, document=document, raw=wf.datamatrix(packs[2]))
    assert caught.value.code == "receipt.over_quantity"
    with pytest.raises(ApplicationError) as caught:
        receipt_scan(user=clerk, document=document, raw=wf.datamatrix(wf.sgtin(marked[1])))
    assert caught.value.code == "receipt.not_expected"
    receipt_post(user=clerk, document=document)
    assert ledger.balance_of(ledger.StockKey(warehouse.pk, None, marked[0].pk, "S2", "1", contract.pk)) == 2
    assert ledger.balance_of(ledger.StockKey(warehouse.pk, None, unmarked.pk, "U1", "1", contract.pk)) == 10


def test_a_recalled_series_can_be_neither_scanned_nor_posted(clerk, marked, direct):
    document, singles, _, _ = direct
    receipt_scan(user=clerk, document=document, raw=wf.datamatrix(singles[0]))
    RecalledSeries.objects.create(package=marked[0], series="S1", letter="Письмо РЗН № 01И-123/26",
                                  recalled_on=date(2026, 11, 1))
    before = snapshot()
    with pytest.raises(ApplicationError) as caught:
        receipt_scan(user=clerk, document=document, raw=wf.datamatrix(singles[1]))
    assert caught.value.code == "stock.series_recalled"
    with pytest.raises(ApplicationError) as caught:
        receipt_post(user=clerk, document=document)
    assert caught.value.code == "stock.series_recalled" and snapshot() == before


def test_only_the_clerks_of_the_place_work_on_its_receipt(region, direct, pharmacist, contract):
    document, singles, _, _ = direct
    other_clerk = f.user(Role.WAREHOUSE_CLERK, f.organization(K.REGIONAL_WAREHOUSE, region=region))
    before = snapshot()
    for user, code in ((other_clerk, "stock.document_of_another_place"),
                       (pharmacist, "stock.document_of_another_place")):
        with pytest.raises(ApplicationError) as caught:
            receipt_scan(user=user, document=document, raw=wf.datamatrix(singles[0]))
        assert caught.value.code == code
    analyst = f.user(Role.MINISTRY_ANALYST, contract.customer)
    with pytest.raises(ApplicationError) as caught:
        receipt_create(user=analyst, contract=contract, acceptance=Acceptance.REVERSE)
    assert caught.value.code == "stock.not_a_place"
    assert snapshot() == before


def test_a_supplier_list_with_a_pack_outside_the_contract_is_refused(clerk, contract, reference):
    from llo.models import Package

    stranger = Package.objects.filter(is_marked=True, gtin__isnull=False).exclude(
        pk__in=contract.items.values("package_id")).first()
    with pytest.raises(ApplicationError) as caught:
        receipt_create(user=clerk, contract=contract, acceptance=Acceptance.DIRECT,
                       expected=[ExpectedPack(sgtin=wf.sgtin(stranger), series="X", expiry=EXPIRY)])
    assert caught.value.code == "receipt.not_in_contract"


@pytest.mark.django_db(transaction=True)
def test_two_clerks_receiving_the_same_packs_at_once_take_them_in_once(warehouse, clerk, contract, marked):
    import threading

    from django.db import connection

    packs = [wf.sgtin(marked[0]) for _ in range(5)]
    clerks = [clerk, f.user(Role.WAREHOUSE_CLERK, warehouse), f.user(Role.WAREHOUSE_CLERK, warehouse)]
    documents = []
    for who in clerks:
        document = receipt_create(user=who, contract=contract, acceptance=Acceptance.DIRECT,
                                  expected=[ExpectedPack(sgtin=s, series="S1", expiry=EXPIRY) for s in packs])
        for sgtin in packs:
            receipt_scan(user=who, document=document, raw=wf.datamatrix(sgtin))
        documents.append((who, document))
    barrier, outcomes = threading.Barrier(len(documents)), []

    def post(who, document):
        try:
            barrier.wait()
            receipt_post(user=who, document=document)
            outcomes.append("posted")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=pair) for pair in documents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["pack.not_available", "pack.not_available", "posted"]
    assert MarkedPack.objects.count() == 5 and PackEvent.objects.count() == 5
    assert ledger.balance_of(ledger.StockKey(warehouse.pk, None, marked[0].pk, "S1", "1", contract.pk)) == 5
    assert ledger.drift() == []


def test_expired_goods_are_not_received(clerk, contract, marked, unmarked):
    from datetime import timedelta

    from django.utils import timezone

    yesterday = timezone.localdate() - timedelta(days=1)
    for kwargs in ({"acceptance": Acceptance.REVERSE, "lines": [ReceiptLine(unmarked, "OLD", yesterday, 5)]},
                   {"acceptance": Acceptance.DIRECT,
                    "expected": [ExpectedPack(sgtin=wf.sgtin(marked[0]), series="OLD", expiry=yesterday)]}):
        with pytest.raises(ApplicationError) as caught:
            receipt_create(user=clerk, contract=contract, **kwargs)
        assert caught.value.code == "receipt.expired"
