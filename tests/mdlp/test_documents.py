"""MDLP documents the system writes: valid against the official documents.xsd, fields read back in the
scheme's formats, bad input refused by the builder, large operations split into valid documents."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from integrations.mdlp import xsd
from integrations.mdlp.documents import (
    MAX_ITEMS,
    Accept,
    DestructionOrg,
    Envelope,
    InvalidInput,
    MovePlace,
    QueryKizInfo,
    ReceiveOrder,
    Recipe,
    SgtinLine,
    SgtinPart,
    SsccDetail,
    SsccLine,
    UnitAppend,
    UnitPack,
    UnitUnpack,
    Withdrawal,
    build,
    item_count,
    scheme_of,
    split,
)

from .documents_data import (
    GTIN,
    OPERATION,
    RECEIVER,
    SENDER,
    move_order,
    needs_schemas,
    one,
    one_of_each,
    parse,
    priced,
    sgtin,
    sgtins,
    sscc,
    ssccs,
    texts,
)

DOCUMENTS = one_of_each()


# --- valid against the official schema ---------------------------------------------------------

@needs_schemas
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_builder_writes_a_document_valid_against_documents_xsd(name):
    xsd.validate(build(DOCUMENTS[name]))


@needs_schemas
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_one_scheme_schema_agrees(name):
    doc = DOCUMENTS[name]
    xsd.validate(build(doc), scheme=scheme_of(doc)[0])


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_envelope_and_action_id(name):
    doc = DOCUMENTS[name]
    xml = build(doc)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<documents version="1.38">')
    tree = parse(xml)
    element, action_id = scheme_of(doc)
    assert [child.tag for child in tree] == [element]
    assert tree[0].get("action_id") == str(action_id)


@needs_schemas
def test_session_attributes_go_on_the_root():
    xml = build(DOCUMENTS["701"], envelope=Envelope(session_ui="c0ffee00-1111-2222-3333-444455556666",
                                                    client_identifier="outbox-42"))
    tree = parse(xml)
    assert tree.get("session_ui") == "c0ffee00-1111-2222-3333-444455556666"
    assert tree.get("client_identifier") == "outbox-42"
    xsd.validate(xml)


# --- fields and formats ------------------------------------------------------------------------

def test_move_order_fields_read_back():
    doc = move_order(contract_gos_num="ГК-15/2025", contract_gos_date=date(2025, 1, 20))
    tree = parse(build(doc))
    body = "/documents/move_order"
    assert one(tree, f"{body}/subject_id") == SENDER
    assert one(tree, f"{body}/receiver_id") == RECEIVER
    # datetimeoffset: the operation's own offset kept, microseconds dropped
    assert one(tree, f"{body}/operation_date") == "2025-03-14T09:30:15+03:00"
    assert one(tree, f"{body}/doc_num") == "РН-000123"
    assert one(tree, f"{body}/doc_date") == "14.03.2025"  # date_type: dd.mm.yyyy
    assert one(tree, f"{body}/turnover_type") == "1"
    assert one(tree, f"{body}/source") == "2"
    assert one(tree, f"{body}/contract_type") == "6"
    assert one(tree, f"{body}/contract_num") == "0373200000125000001"
    assert one(tree, f"{body}/contract_gos_date") == "20.01.2025"
    # the scheme's element order
    assert [el.tag for el in tree[0]] == [
        "subject_id", "receiver_id", "operation_date", "doc_num", "doc_date", "turnover_type", "source",
        "contract_type", "contract_num", "contract_gos_num", "contract_gos_date", "order_details"]
    assert texts(tree, f"{body}/order_details/union/sgtin") == sgtins(3)
    assert texts(tree, f"{body}/order_details/union[sgtin]/cost") == ["1234.50"] * 3
    assert texts(tree, f"{body}/order_details/union[sgtin]/vat_value") == ["112.23"] * 3
    assert texts(tree, f"{body}/order_details/union/sscc_detail/sscc") == ssccs(2)
    assert texts(tree, f"{body}/order_details/union[sscc_detail]/cost") == ["99.90"] * 2
    first_box = tree.xpath(f"{body}/order_details/union[sscc_detail]")[0]
    assert texts(first_box, "sscc_detail/detail/gtin")[0] == GTIN
    assert texts(first_box, "sscc_detail/detail/cost") == ["99.90", "10.00"]


def test_a_time_in_another_zone_keeps_its_offset_and_utc_is_written_with_zero_offset():
    tree = parse(build(move_order(operation_date=datetime(2025, 3, 14, 6, 30, tzinfo=UTC))))
    assert one(tree, "/documents/move_order/operation_date") == "2025-03-14T06:30:00+00:00"
    krasnoyarsk = datetime(2025, 3, 14, 13, 30, tzinfo=OPERATION.tzinfo).astimezone(timezone(timedelta(hours=7)))
    tree = parse(build(move_order(operation_date=krasnoyarsk)))
    assert one(tree, "/documents/move_order/operation_date") == "2025-03-14T17:30:00+07:00"


def test_recipe_has_the_prescription_date_series_and_number_and_sold_parts():
    tree = parse(build(DOCUMENTS["521"]))
    body = tree[0]
    assert [el.tag for el in body] == ["subject_id", "operation_date", "doc_date", "doc_series", "doc_num",
                                       "order_details"]
    assert one(tree, "/documents/recipe/doc_date") == "01.03.2025"
    assert one(tree, "/documents/recipe/doc_series") == "0225"
    assert one(tree, "/documents/recipe/doc_num") == "0101000123"
    unions = tree.xpath("/documents/recipe/order_details/union")
    assert [u.findtext("sgtin") for u in unions] == [sgtin(1), sgtin(2)]
    assert [u.findtext("sold_part") for u in unions] == [None, "1/3"]


@needs_schemas
def test_recipe_without_a_series_leaves_the_element_out():
    xml = build(replace(DOCUMENTS["521"], doc_series=None))
    assert b"doc_series" not in xml
    xsd.validate(xml)


def test_withdrawal_part_is_an_attribute_of_the_sgtin():
    tree = parse(build(DOCUMENTS["552"]))
    items = tree.xpath("/documents/withdrawal/order_details/sgtin")
    assert [(el.text, el.get("withdrawal_part")) for el in items] == [(sgtin(7), "1/2"), (sgtin(8), None)]
    assert one(tree, "/documents/withdrawal/withdrawal_type") == "21"


def test_destruction_org_of_an_individual_entrepreneur_has_no_kpp():
    tree = parse(build(DOCUMENTS["541-ip"]))
    assert one(tree, "/documents/move_destruction/destruction_org/fl/inn") == "770123456789"
    assert tree.xpath("//ul") == []
    assert one(tree, "//detail/decision") == "РЗН-01-2025"


def test_unpack_recursive_flag():
    assert one(parse(build(DOCUMENTS["912"])), "/documents/unit_unpack/is_recursive") == "true"
    assert b"is_recursive" not in build(replace(DOCUMENTS["912"], is_recursive=False))


@needs_schemas
def test_accept_with_confirm_paused_and_text_is_trimmed():
    tree = parse(build(DOCUMENTS["701-paused"]))
    assert one(tree, "/documents/accept/confirm_paused") == "true"
    xml = build(replace(DOCUMENTS["431"], doc_num="  ВП-5  "))
    assert one(parse(xml), "/documents/move_place/doc_num") == "ВП-5"
    xsd.validate(xml)


@needs_schemas
def test_special_characters_are_escaped():
    xml = build(replace(DOCUMENTS["431"], doc_num='<a href="x">&</a>'))
    assert one(parse(xml), "/documents/move_place/doc_num") == '<a href="x">&</a>'
    xsd.validate(xml)


# --- bad input: refused, nothing built --------------------------------------------------------

NOW = datetime.now(UTC)

BAD = {
    "sgtin too short": (lambda: Accept(subject_id=SENDER, counterparty_id=RECEIVER, operation_date=OPERATION,
                                       sgtins=[sgtin(1)[:26]]), "sgtins[0]"),
    "sgtin with cyrillic": (lambda: Accept(subject_id=SENDER, counterparty_id=RECEIVER, operation_date=OPERATION,
                                           sgtins=[sgtin(1)[:-1] + "А"]), "sgtins[0]"),
    "sgtin with bad gtin check digit": (lambda: Accept(
        subject_id=SENDER, counterparty_id=RECEIVER, operation_date=OPERATION,
        sgtins=[sgtin(1), GTIN[:13] + str((int(GTIN[13]) + 1) % 10) + "0000000000001"]), "sgtins[1]"),
    "sscc bad check digit": (lambda: MovePlace(
        subject_id=SENDER, receiver_id=RECEIVER, operation_date=OPERATION, doc_num="1", doc_date=date(2025, 1, 1),
        ssccs=[sscc(1), sscc(2)[:17] + str((int(sscc(2)[17]) + 1) % 10)]), "ssccs[1]"),
    "sscc 17 digits": (lambda: UnitUnpack(subject_id=SENDER, operation_date=OPERATION, ssccs=[sscc(1)[:17]]),
                       "ssccs[0]"),
    "empty item list": (lambda: Accept(subject_id=SENDER, counterparty_id=RECEIVER, operation_date=OPERATION),
                        "sgtins"),
    "subject id of 13 digits": (lambda: move_order(subject_id="0000000012345"), "subject_id"),
    "receiver id with letters": (lambda: move_order(receiver_id="0000000006789X"), "receiver_id"),
    "counterparty neither 14 digits nor guid": (lambda: Accept(
        subject_id=SENDER, counterparty_id="123", operation_date=OPERATION, sgtins=[sgtin(1)]), "counterparty_id"),
    "naive operation date": (lambda: move_order(operation_date=datetime(2025, 3, 14, 9, 30)), "operation_date"),
    "operation in the future": (lambda: move_order(operation_date=NOW + timedelta(days=1)), "operation_date"),
    "doc_date with time": (lambda: move_order(doc_date=datetime(2025, 3, 14, 9, 30, tzinfo=UTC)), "doc_date"),
    "empty doc_num": (lambda: move_order(doc_num="   "), "doc_num"),
    "doc_num with a line break": (lambda: move_order(doc_num="РН\n1"), "doc_num"),
    "doc_num of 201 characters": (lambda: move_order(doc_num="Н" * 201), "doc_num"),
    "doc_num with a control character": (lambda: move_order(doc_num="РН\x001"), "doc_num"),
    "turnover type 3": (lambda: move_order(turnover_type=3), "turnover_type"),
    "source 0": (lambda: move_order(source=0), "source"),
    "contract type 9": (lambda: move_order(contract_type=9), "contract_type"),
    "receive type 3 (resort) in a 416": (lambda: replace(one_of_each()["416"], receive_type=3), "receive_type"),
    "price as float": (lambda: move_order(sgtins=[SgtinLine(sgtin=sgtin(1), cost=10.5, vat_value=Decimal(1))]),
                       "sgtins[0].cost"),
    "price finer than kopecks": (lambda: move_order(sgtins=[SgtinLine(
        sgtin=sgtin(1), cost=Decimal("10.005"), vat_value=Decimal(1))]), "sgtins[0].cost"),
    "negative vat": (lambda: move_order(sgtins=[SgtinLine(
        sgtin=sgtin(1), cost=Decimal(10), vat_value=Decimal(-1))]), "sgtins[0].vat_value"),
    "more than 100 price rows in a box": (lambda: move_order(n_sgtins=0, ssccs=[SsccLine(
        sscc=sscc(1), cost=Decimal(1), vat_value=Decimal(0), details=[SsccDetail(
            gtin=GTIN, series_number="A", cost=Decimal(1), vat_value=Decimal(0))] * 101)]), "ssccs[0].details"),
    "duplicate sgtin": (lambda: move_order(sgtins=priced([sgtin(1), sgtin(2), sgtin(1)])), "sgtins[2]"),
    "duplicate sscc": (lambda: UnitUnpack(subject_id=SENDER, operation_date=OPERATION,
                                          ssccs=[sscc(1), sscc(1)]), "ssccs[1]"),
    "part over the whole": (lambda: Recipe(subject_id=SENDER, operation_date=OPERATION, doc_date=date(2025, 3, 1),
                                           doc_num="1", sgtins=[SgtinPart(sgtin(1), "3/2")]), "sgtins[0].part"),
    "part written as a decimal": (lambda: Withdrawal(
        subject_id=SENDER, operation_date=OPERATION, withdrawal_type=21, sgtins=[SgtinPart(sgtin(1), "0.5")]),
        "sgtins[0].part"),
    "withdrawal type 25": (lambda: Withdrawal(subject_id=SENDER, operation_date=OPERATION, withdrawal_type=25,
                                              sgtins=[sgtin(1)]), "withdrawal_type"),
    "export country in lower case": (lambda: Withdrawal(
        subject_id=SENDER, operation_date=OPERATION, withdrawal_type=24, export_country_code="kz",
        sgtins=[sgtin(1)]), "export_country_code"),
    "legal entity without kpp": (lambda: replace(one_of_each()["541"], destruction_org=DestructionOrg(
        fias_addr="0c5b2444-70a0-4932-980c-b4dc0d3f02b5", inn="7701234567")), "destruction_org.kpp"),
    "fias address not a guid": (lambda: replace(one_of_each()["541"], destruction_org=DestructionOrg(
        fias_addr="Москва", inn="7701234567", kpp="770101001")), "destruction_org.fias_addr"),
    "query with two codes": (lambda: QueryKizInfo(subject_id=SENDER, sgtin=sgtin(1), sscc_up=sscc(1)), "sgtin"),
    "query with no code": (lambda: QueryKizInfo(subject_id=SENDER), "sgtin"),
    "pack into itself": (lambda: UnitPack(subject_id=SENDER, sscc=sscc(1), operation_date=OPERATION,
                                          ssccs=[sscc(1)]), "ssccs"),
    "append into itself": (lambda: UnitAppend(subject_id=SENDER, sscc=sscc(1), operation_date=OPERATION,
                                              ssccs=[sscc(1)]), "ssccs"),
    "move to the same place": (lambda: replace(one_of_each()["431"], receiver_id=SENDER), "receiver_id"),
    "more than 25,000 items": (lambda: Accept(subject_id=SENDER, counterparty_id=RECEIVER,
                                              operation_date=OPERATION, sgtins=sgtins(MAX_ITEMS + 1)), "sgtins"),
    "more than 1,500 boxes to unpack": (lambda: UnitUnpack(subject_id=SENDER, operation_date=OPERATION,
                                                           ssccs=ssccs(1501)), "ssccs"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_with_the_field_named(case):
    make, field = BAD[case]
    with pytest.raises(InvalidInput) as caught:
        build(make())
    error = caught.value
    assert error.code == "mdlp.invalid_input"
    assert error.details["field"] == field
    assert error.message and error.message.isascii() is False  # a Russian message for the user


def test_not_a_document_is_a_programming_error():
    with pytest.raises(TypeError):
        build(object())


def test_the_clock_can_be_given():
    doc = move_order(operation_date=datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput):
        build(doc)
    assert b"2030-01-01T00:00:00+00:00" in build(doc, now=datetime(2030, 1, 1, tzinfo=UTC))


# --- the 25,000-item rule ---------------------------------------------------------------------

@needs_schemas
def test_60001_items_make_three_valid_documents():
    codes = sgtins(60_000)
    doc = move_order(sgtins=priced(codes), ssccs=move_order(n_ssccs=1).ssccs)
    parts = split(doc)
    assert [item_count(part) for part in parts] == [25_000, 25_000, 10_001]
    assert all(part.doc_num == doc.doc_num and part.operation_date == doc.operation_date for part in parts)
    written = []
    for part in parts:
        xml = build(part)
        xsd.validate(xml)
        tree = parse(xml)
        written += texts(tree, "//union/sgtin") + texts(tree, "//union/sscc_detail/sscc")
    assert written == codes + [doc.ssccs[0].sscc]


def test_a_split_boundary_inside_the_ssccs():
    doc = Accept(subject_id=SENDER, counterparty_id=RECEIVER, operation_date=OPERATION, sgtins=sgtins(4),
                 ssccs=ssccs(3))
    parts = split(doc, limit=3)
    assert [(list(p.sgtins), list(p.ssccs)) for p in parts] == [
        (sgtins(3), []), (sgtins(1, start=3), ssccs(2)), ([], ssccs(1, start=2))]


def test_a_document_within_the_limit_is_returned_as_is():
    doc = DOCUMENTS["415"]
    assert split(doc) == [doc]
    assert split(DOCUMENTS["210-sgtin"]) == [DOCUMENTS["210-sgtin"]]


@needs_schemas
def test_a_large_pack_becomes_a_pack_and_appends_to_the_same_sscc():
    doc = UnitPack(subject_id=SENDER, sscc=sscc(999), operation_date=OPERATION, sgtins=sgtins(5), ssccs=ssccs(2))
    parts = split(doc, limit=3)
    assert [type(p) for p in parts] == [UnitPack, UnitAppend, UnitAppend]
    assert {p.sscc for p in parts} == {sscc(999)}
    assert [item_count(p) for p in parts] == [3, 3, 1]
    for part in parts:
        xsd.validate(build(part))


def test_unpack_splits_by_1500_boxes():
    doc = UnitUnpack(subject_id=SENDER, operation_date=OPERATION, ssccs=ssccs(3001), is_recursive=True)
    parts = split(doc)
    assert [len(p.ssccs) for p in parts] == [1500, 1500, 1]
    assert all(p.is_recursive for p in parts)


def test_split_needs_a_positive_limit():
    with pytest.raises(ValueError):
        split(DOCUMENTS["415"], limit=0)


# --- validation itself ------------------------------------------------------------------------

@needs_schemas
def test_an_invalid_document_names_its_first_error_line():
    xml = build(DOCUMENTS["416"]).replace(b"<receive_type>1</receive_type>", b"<receive_type>7</receive_type>")
    with pytest.raises(xsd.DocumentInvalid) as caught:
        xsd.validate(xml)
    error = caught.value
    assert error.code == "mdlp.document_invalid"
    assert error.message.startswith("Документ МДЛП не соответствует схеме (documents.xsd): строка 9:")
    assert "receive_type" in error.details["errors"][0]


def test_missing_schemas_are_reported(settings, tmp_path):
    settings.MDLP_SCHEMA_DIR = tmp_path
    assert not xsd.schema_available()
    with pytest.raises(xsd.SchemaMissing) as caught:
        xsd.validate(build(DOCUMENTS["701"]))
    assert caught.value.code == "mdlp.schema_missing"
    assert "MDLP_SCHEMA_DIR" in caught.value.message


@needs_schemas
def test_threads_share_the_schema():
    good = build(DOCUMENTS["415"])
    bad = good.replace(b"<turnover_type>1</turnover_type>", b"<turnover_type>5</turnover_type>")
    failures: list = []

    def work(xml: bytes, valid: bool) -> None:
        for _ in range(20):
            try:
                xsd.validate(xml)
                ok = True
            except xsd.DocumentInvalid as exc:
                ok = False
                if "turnover_type" not in exc.details["errors"][0]:
                    failures.append(exc.details)
            if ok != valid:
                failures.append((valid, ok))

    threads = [threading.Thread(target=work, args=(xml, valid))
               for xml, valid in ((good, True), (bad, False)) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_receive_order_in_reverse_acceptance_names_the_shipper():
    doc: ReceiveOrder = DOCUMENTS["416"]
    tree = parse(build(doc))
    assert one(tree, "/documents/receive_order/shipper_id") == SENDER
    assert one(tree, "/documents/receive_order/subject_id") == RECEIVER
