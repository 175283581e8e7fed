"""Direct acceptance through ФГИС МДЛП over the emulator (real HTTP): a supplier's 601 is fetched and stored
once, the clerk makes the receipt from it, scans, refuses, posts; the 701 of the accepted packs and the 252 of
the refused ones go out through the outbox and are accepted; the registry then shows the accepted packs at our
place and the refused one back with the supplier. And what must not work: a hostile or malformed 601, a clerk
of another place, an unknown receiver, a 601 whose packs the registry knows no series for."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.mdlp import exchange, xsd
from integrations.mdlp.acceptance import receipt_from_incoming, suggested_contract
from integrations.mdlp.documents import InvalidInput, build
from integrations.mdlp.documents.outgoing import RefusalReceiver
from integrations.mdlp.income import fetch_incoming
from integrations.mdlp.tasks_income import fetch as fetch_task
from integrations.models import IncomingState, ItemStatus, MdlpDocument, MdlpIncoming, MdlpStatus
from llo import outbox
from llo.errors import ApplicationError
from llo.models import OutboxMessage, OutboxStatus, Package, Role
from llo.models.organizations import OrganizationKind as K
from tests.llo import factories as f
from tests.warehouse import factories as wf
from warehouse.models import CodeStatus, DocumentCode, MarkedPack, StockDocument
from warehouse.receipts import receipt_post, receipt_refuse, receipt_scan

from .conftest import SUPPLIER, WAREHOUSE, requires_schemas

pytestmark = [pytest.mark.django_db, requires_schemas]

EXPIRY = (date.today() + timedelta(days=700)).isoformat()
OTHER_WAREHOUSE = "00000993000002"
UNKNOWN_PLACE = "00000999000009"


@pytest.fixture
def mdlp(mdlp_exchange):
    return mdlp_exchange


@pytest.fixture
def warehouse(region):
    return f.organization(K.REGIONAL_WAREHOUSE, region=region, mdlp_place_id=WAREHOUSE)


@pytest.fixture
def supplier(region):
    return f.organization(K.SUPPLIER, region=region, mdlp_place_id=SUPPLIER)


@pytest.fixture
def clerk(warehouse):
    return f.user(Role.WAREHOUSE_CLERK, warehouse)


@pytest.fixture
def marked(reference):
    return list(Package.objects.filter(is_marked=True, gtin__isnull=False).order_by("pk")[:1])


@pytest.fixture
def contract(supplier, ministry, marked):
    return wf.contract(supplier, ministry, marked)


def publish(mdlp, *, receiver=WAREHOUSE, packs, boxes=None, **extra) -> str:
    payload = {"sender": SUPPLIER, "receiver": receiver, "sgtins": packs, "boxes": boxes or {},
               "series_number": "S-601", "expiration_date": EXPIRY, **extra}
    return mdlp("publish", payload)["document_id"]


def settle(timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while MdlpDocument.objects.filter(status=MdlpStatus.SENT).exists():
        assert time.monotonic() < deadline, "MDLP did not answer in time"
        MdlpDocument.objects.filter(status=MdlpStatus.SENT).update(next_check_at=timezone.now())
        exchange.poll_due()
        time.sleep(0.03)


def state():
    return (MdlpIncoming.objects.count(), StockDocument.objects.count(), DocumentCode.objects.count(),
            MdlpDocument.objects.count(), OutboxMessage.objects.count(), MarkedPack.objects.count())


def test_a_601_is_stored_once_accepted_refused_in_part_and_mdlp_agrees(mdlp, clerk, warehouse, supplier,
                                                                       contract, marked):
    loose = [wf.sgtin(marked[0]) for _ in range(4)]
    box, boxed = wf.sscc(601), [wf.sgtin(marked[0]) for _ in range(2)]
    document_id = publish(mdlp, packs=loose, boxes={box: boxed}, doc_num="УПД-601", contract_num=contract.number)

    assert fetch_incoming(50)["stored"] == 1
    assert fetch_incoming(50)["stored"] == 0  # fetched twice, stored once
    incoming = MdlpIncoming.objects.get()
    assert (incoming.mdlp_document_id, incoming.doc_type, incoming.state) == (document_id, 601, IncomingState.NEW)
    assert (incoming.place, incoming.sender, incoming.doc_num) == (warehouse, supplier, "УПД-601")
    assert incoming.contract_num == contract.number and incoming.doc_date == date.today()
    assert [line["sgtin"] for line in incoming.sgtins] == loose
    assert [line["sscc"] for line in incoming.ssccs] == [box]
    assert b"move_order_notification" in bytes(incoming.xml) and incoming.note == ""
    assert suggested_contract(incoming) == contract

    receipt = receipt_from_incoming(user=clerk, incoming=incoming, contract=contract)
    incoming.refresh_from_db()
    assert (incoming.state, incoming.receipt) == (IncomingState.RECEIPT_CREATED, receipt)
    assert (receipt.acceptance, receipt.counterparty, receipt.supplier_number) == ("direct", supplier, "УПД-601")
    codes = {c.sgtin or c.sscc: c for c in DocumentCode.objects.filter(document=receipt)}
    assert set(codes) == {*loose, box, *boxed}
    assert codes[boxed[0]].parent_sscc == box and codes[loose[0]].series == "S-601"
    with pytest.raises(ApplicationError) as caught:  # the second click
        receipt_from_incoming(user=clerk, incoming=incoming, contract=contract)
    assert caught.value.code == "mdlp_income.already_processed"

    for code in loose[:2]:
        receipt_scan(user=clerk, document=receipt, raw=wf.datamatrix(code))
    receipt_scan(user=clerk, document=receipt, raw=box)
    receipt_refuse(user=clerk, document=receipt, sgtin=loose[2], reason="упаковка повреждена")
    receipt_post(user=clerk, document=receipt)  # loose[3] never arrived: refused as «не поступила»
    accepted, refused = [*loose[:2], *boxed], loose[2:]

    message = OutboxMessage.objects.get(topic="warehouse.receipt")
    OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
    assert outbox.process(message.pk, worker="test") == OutboxStatus.DONE
    accept, refusal = MdlpDocument.objects.filter(message=message).order_by("part")
    assert (accept.scheme, accept.part, refusal.scheme, refusal.part) == (701, 1, 252, 2)
    assert set(accept.codes.values_list("code", flat=True)) == set(accepted)
    assert set(refusal.codes.values_list("code", flat=True)) == set(refused)
    xsd.validate(bytes(accept.xml))
    xsd.validate(bytes(refusal.xml))
    assert "упаковка повреждена — 1 уп.; не поступила — 1 уп." in bytes(refusal.xml).decode()

    settle()
    for document in (accept, refusal):
        document.refresh_from_db()
        assert document.status == MdlpStatus.ACCEPTED, document.error
        assert set(document.codes.values_list("status", flat=True)) == {ItemStatus.ACCEPTED}
    client = exchange.client()
    for code in accepted:
        info = client.sgtin(code)
        assert (info.owner_id, info.status) == (WAREHOUSE, "in_circulation")
    for code in refused:
        info = client.sgtin(code)
        assert (info.owner_id, info.status) == (SUPPLIER, "in_circulation")
    assert set(MarkedPack.objects.filter(place=warehouse).values_list("sgtin", flat=True)) == set(accepted)
    assert DocumentCode.objects.get(document=receipt, sgtin=loose[3]).status == CodeStatus.REFUSED


def test_the_page_lists_the_place_s_601s_and_opens_the_receipt_for_scanning(mdlp, client, clerk, region,
                                                                           contract, marked):
    publish(mdlp, packs=[wf.sgtin(marked[0]) for _ in range(2)], doc_num="УПД-77")
    fetch_incoming()
    incoming = MdlpIncoming.objects.get()
    other = f.user(Role.WAREHOUSE_CLERK, f.organization(K.REGIONAL_WAREHOUSE, region=region,
                                                        mdlp_place_id=OTHER_WAREHOUSE))

    client.force_login(other)
    page = client.get(reverse("mdlp_incoming"))
    assert page.status_code == 200 and "УПД-77" not in page.content.decode()
    before = state()
    answer = client.post(reverse("mdlp_incoming_accept", args=[incoming.pk]), {"contract": contract.pk})
    assert answer.status_code == 403 and state() == before
    with pytest.raises(ApplicationError) as caught:
        receipt_from_incoming(user=other, incoming=incoming, contract=contract)
    assert (caught.value.code, caught.value.http_status) == ("mdlp_income.not_your_place", 403)

    client.force_login(clerk)
    page = client.get(reverse("mdlp_incoming")).content.decode()
    assert "Входящие накладные МДЛП" in page and "УПД-77" in page and "Принять по накладной" in page
    assert f'<option value="{contract.pk}" selected>' in page
    answer = client.post(reverse("mdlp_incoming_accept", args=[incoming.pk]), {"contract": ""})
    assert answer.status_code == 422 and 'data-error-code="mdlp_income.contract_missing"' in answer.content.decode()
    answer = client.post(reverse("mdlp_incoming_accept", args=[incoming.pk]), {"contract": contract.pk})
    receipt = StockDocument.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse("stock_document", args=[receipt.pk])
    assert DocumentCode.objects.filter(document=receipt).count() == 2
    assert "Приходная накладная" in client.get(reverse("mdlp_incoming")).content.decode()


def test_a_601_not_taken_is_set_aside_with_its_reason_by_its_place_only(mdlp, client, clerk, region, ministry,
                                                                        contract, marked):
    publish(mdlp, packs=[wf.sgtin(marked[0])], doc_num="УПД-78")
    fetch_incoming()
    incoming = MdlpIncoming.objects.get()
    url = reverse("mdlp_incoming_ignore", args=[incoming.pk])
    other = f.user(Role.WAREHOUSE_CLERK, f.organization(K.REGIONAL_WAREHOUSE, region=region,
                                                        mdlp_place_id=OTHER_WAREHOUSE))
    analyst = f.user(Role.MINISTRY_ANALYST, ministry)  # reads every place's documents, acts on none

    before = state()
    for outsider in (other, analyst):  # another place's clerk, a role that may only read
        client.force_login(outsider)
        assert client.post(url, {"reason": "не наша"}).status_code == 403 and state() == before

    client.force_login(clerk)
    assert url in client.get(reverse("mdlp_incoming")).content.decode()
    answer = client.post(url, {"reason": "   "})
    assert answer.status_code == 422 and 'data-error-code="mdlp_income.reason_missing"' in answer.content.decode()
    assert state() == before
    answer = client.post(url, {"reason": "принята по бумажной накладной"})
    assert answer.status_code == 302 and answer["Location"] == reverse("mdlp_incoming")
    incoming.refresh_from_db()
    assert incoming.state == IncomingState.IGNORED and "принята по бумажной накладной" in incoming.note
    page = client.get(reverse("mdlp_incoming")).content.decode()
    assert "Не принимается: принята по бумажной накладной" in page
    assert url not in page and reverse("mdlp_incoming_accept", args=[incoming.pk]) not in page  # no actions left
    again = client.post(url, {"reason": "ещё раз"})
    assert again.status_code == 409 and 'data-error-code="mdlp_income.already_processed"' in again.content.decode()
    assert not StockDocument.objects.exists() and not MdlpDocument.objects.exists()


BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
        b"<documents><move_order_notification action_id=\"601\">&lol2;</move_order_notification></documents>")
INCOMPLETE = (b'<?xml version="1.0" encoding="UTF-8"?>\n<documents version="1.38"><move_order_notification '
              b'action_id="601"><subject_id>' + SUPPLIER.encode() + b"</subject_id><receiver_id>" + WAREHOUSE.encode()
              + b"</receiver_id></move_order_notification></documents>")


def test_hostile_and_malformed_601s_are_recorded_with_the_reason_and_skipped(mdlp, mdlp_emulator, warehouse,
                                                                             supplier, marked):
    bomb = mdlp_emulator.mdlp.add_income(doc_type=601, xml=BOMB, sender_id=SUPPLIER, receiver_id=WAREHOUSE)
    broken = mdlp_emulator.mdlp.add_income(doc_type=601, xml=INCOMPLETE, sender_id=SUPPLIER, receiver_id=WAREHOUSE)
    good = publish(mdlp, packs=[wf.sgtin(marked[0])])
    before = (StockDocument.objects.count(), MdlpDocument.objects.count(), OutboxMessage.objects.count())

    counts = fetch_incoming()
    assert (counts["stored"], counts["unreadable"]) == (1, 2)
    assert fetch_incoming()["unreadable"] == 0  # looked at once, never again
    rows = {row.mdlp_document_id: row for row in MdlpIncoming.objects.all()}
    assert rows[good].state == IncomingState.NEW
    assert rows[bomb].state == IncomingState.IGNORED and rows[bomb].xml is None and rows[bomb].place == warehouse
    assert "DOCTYPE" in rows[bomb].note
    assert rows[broken].state == IncomingState.IGNORED and bytes(rows[broken].xml) == INCOMPLETE
    assert "нет обязательного элемента /documents/move_order_notification/" in rows[broken].note
    assert (StockDocument.objects.count(), MdlpDocument.objects.count(), OutboxMessage.objects.count()) == before


def test_an_unknown_receiver_is_stored_without_a_place_and_matched_once_known(mdlp, clerk, region, contract, marked):
    publish(mdlp, receiver=UNKNOWN_PLACE, packs=[wf.sgtin(marked[0])])
    fetch_incoming()
    incoming = MdlpIncoming.objects.get()
    assert incoming.place is None and UNKNOWN_PLACE in incoming.note and incoming.state == IncomingState.NEW
    with pytest.raises(ApplicationError) as caught:
        receipt_from_incoming(user=clerk, incoming=incoming, contract=contract)
    assert caught.value.code == "mdlp_income.not_your_place"

    place = f.organization(K.REGIONAL_WAREHOUSE, region=region, mdlp_place_id=UNKNOWN_PLACE)
    assert fetch_incoming()["matched"] == 1
    incoming.refresh_from_db()
    assert incoming.place == place


def test_a_601_whose_packs_the_registry_does_not_know_makes_no_receipt(mdlp, mdlp_emulator, clerk, contract, marked):
    from integrations.mdlp.emulator import xmldocs

    xml = xmldocs.move_order_601(sender=SUPPLIER, receiver=WAREHOUSE, sgtins=[wf.sgtin(marked[0])], boxes={},
                                 doc_num="УПД-0", doc_date=date.today().strftime("%d.%m.%Y"), source=2,
                                 contract_type=6, contract_num=None, cost="100.00", vat_value="9.09")
    mdlp_emulator.mdlp.add_income(doc_type=601, xml=xml, sender_id=SUPPLIER, receiver_id=WAREHOUSE)
    fetch_incoming()
    incoming = MdlpIncoming.objects.get()
    before = state()
    with pytest.raises(ApplicationError) as caught:
        receipt_from_incoming(user=clerk, incoming=incoming, contract=contract)
    assert caught.value.code == "mdlp_income.series_unknown"
    assert state() == before and MdlpIncoming.objects.get().state == IncomingState.NEW


def test_the_task_does_nothing_without_mdlp(settings):
    settings.MDLP_BASE_URL = ""
    assert fetch_task() == {}


def test_refusal_receiver_is_valid_against_documents_xsd_and_checks_its_input():
    now = timezone.now()
    doc = RefusalReceiver(subject_id=WAREHOUSE, shipper_id=SUPPLIER, operation_date=now, reason=" повреждена ",
                          sgtins=[wf_sgtin()], ssccs=[wf.sscc(5)], confirm_paused=False)
    xml = build(doc)
    xsd.validate(xml)
    text = xml.decode()
    assert '<refusal_receiver action_id="252">' in text and "<reason>повреждена</reason>" in text
    assert text.index("<operation_date>") < text.index("<shipper_id>") < text.index("<reason>")
    for bad, field in (({"shipper_id": WAREHOUSE}, "shipper_id"), ({"reason": "\n"}, "reason"),
                       ({"reason": "x" * 1001}, "reason"), ({"sgtins": [], "ssccs": []}, "sgtins")):
        with pytest.raises(InvalidInput) as caught:
            build(RefusalReceiver(**{**doc.__dict__, **bad}))
        assert caught.value.details["field"] == field


def wf_sgtin() -> str:
    from llo.barcodes import gs1_check_digit

    gtin = "0460123456789" + gs1_check_digit("0460123456789")
    return f"{gtin}R252TEST00001"
