"""Parsers of what MDLP sends (200, 211, 601, 602, 607, 617): realistic samples that are valid against
documents.xsd read into dataclasses; hostile or foreign input refused with its own error, nothing returned."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from integrations.mdlp import xsd
from integrations.mdlp.documents import DocumentIncomplete, WrongDocumentType, build
from integrations.mdlp.documents.incoming import (
    AcceptNotification,
    KizInfo,
    MoveOrderNotification,
    OperationResult,
    ReceiveOrderErrorsNotification,
    ReceiveOrderNotification,
    Result,
)
from integrations.mdlp.documents.parsers import (
    document_element,
    parse,
    parse_accept_notification,
    parse_kiz_info,
    parse_move_order_notification,
    parse_receive_order_errors_notification,
    parse_receive_order_notification,
    parse_result,
)

from .documents_data import (
    GTIN,
    OTHER_GTIN,
    RECEIVER,
    SAMPLES,
    SENDER,
    move_order,
    needs_schemas,
    priced,
    sgtin,
    sgtins,
    sscc,
)

MSK = timezone(timedelta(hours=3))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@needs_schemas
@pytest.mark.parametrize("name", sorted(path.name for path in SAMPLES.glob("*.xml")))
def test_the_samples_are_valid_against_documents_xsd(name):
    xsd.validate(sample(name))


# --- 200 result -------------------------------------------------------------------------------

def test_result_accepted():
    result = parse_result(sample("200-accepted.xml"))
    assert result.operation_result is OperationResult.ACCEPTED and result.accepted
    assert result.operation_id == "4a3d9c8e-2f1b-4e6a-9d0c-7b5e1f2a3c4d"
    assert result.operation.startswith("Регистрация в ИС МДЛП сведений об отгрузке")
    assert result.accept_time == datetime(2025, 3, 14, 9, 31, 2, 513000, tzinfo=MSK)
    assert result.errors == () and result.warnings == () and result.comment is None


def test_result_rejected_with_an_error_per_sgtin():
    result = parse_result(sample("200-rejected.xml"))
    assert result.rejected and not result.accepted
    assert result.accept_time == datetime(2025, 3, 14, 9, 31, 2, tzinfo=UTC)
    assert result.comment == "Операция не выполнена: ошибки в 2 из 2 записей"
    assert [(e.code, e.object_id) for e in result.errors] == [("4", sgtin(1)), ("6", sgtin(2))]
    assert result.errors_by_object()[sgtin(2)][0].description.startswith("Некорректный статус SGTIN")


def test_result_partial_with_warnings_and_an_error_without_object():
    result = parse_result(sample("200-partial.xml"))
    assert result.partial
    assert result.warnings == ("Часть записей не обработана",)
    assert [e.object_id for e in result.errors] == [sscc(2), None]
    assert list(result.errors_by_object()) == [sscc(2)]
    # a time without an offset is read as UTC
    assert result.accept_time == datetime(2025, 3, 14, 9, 31, 2, tzinfo=UTC)


# --- 211 kiz_info -----------------------------------------------------------------------------

def test_kiz_info_of_an_sgtin():
    info = parse_kiz_info(sample("211-sgtin.xml"))
    assert isinstance(info, KizInfo) and info.found and info.sgtin == sgtin(1) and info.sscc is None
    assert info.sgtin_info.status == "in_circulation"
    assert info.sgtin_info.sgtin == sgtin(1)
    assert (info.sgtin_info.gtin, info.sgtin_info.series_number) == (GTIN, "A123")
    assert info.sgtin_info.expiration_date == date(2027, 12, 31)
    assert info.sgtin_info.sscc == sscc(1)
    assert info.sgtin_info.decision.doc_date == date(2025, 3, 10)


def test_kiz_info_down_and_up_and_not_found():
    down = parse_kiz_info(sample("211-sscc-down.xml"))
    assert down.sscc == sscc(1)
    assert [(node.sscc, node.parent_sscc) for node in down.sscc_down] == [(sscc(2), sscc(1)), (None, sscc(2))]
    assert down.sscc_down[1].sgtin.sgtin == sgtin(2)
    up = parse_kiz_info(sample("211-sscc-up.xml"))
    assert [(level.sscc, level.level) for level in up.sscc_up] == [(sscc(1), 1), (sscc(3), 2)]
    assert up.warnings == ("Упаковка находится в обороте у другого субъекта",)
    missing = parse_kiz_info(sample("211-not-found.xml"))
    assert not missing.found and missing.sgtin_info is None and missing.sgtin == sgtin(3)


# --- notifications ----------------------------------------------------------------------------

def test_move_order_notification():
    note = parse_move_order_notification(sample("601.xml"))
    assert isinstance(note, MoveOrderNotification)
    assert (note.subject_id, note.receiver_id) == (SENDER, RECEIVER)
    assert note.operation_date == datetime(2025, 3, 14, 9, 30, 15, tzinfo=MSK)
    assert (note.doc_num, note.doc_date) == ("РН-000123", date(2025, 3, 14))
    assert (note.turnover_type, note.source, note.contract_type) == (1, 2, 6)
    assert (note.contract_num, note.contract_gos_num, note.contract_gos_date) == (
        "0373200000125000001", "ГК-15/2025", date(2025, 1, 20))
    assert [(line.sgtin, line.cost, line.vat_value) for line in note.sgtins] == [
        (sgtin(1), Decimal("1234.50"), Decimal("112.23")), (sgtin(2), Decimal("1234.50"), Decimal("112.23"))]
    box = note.ssccs[0]
    assert (box.sscc, box.cost, box.vat_value) == (sscc(1), Decimal("99.90"), Decimal("9.08"))
    assert [(d.gtin, d.series_number, d.cost) for d in box.details] == [
        (GTIN, "A123", Decimal("99.90")), (OTHER_GTIN, "B-77", Decimal("10.00"))]


def test_receive_order_notification():
    note = parse_receive_order_notification(sample("602.xml"))
    assert isinstance(note, ReceiveOrderNotification)
    assert (note.subject_id, note.shipper_id, note.receive_type, note.source) == (RECEIVER, SENDER, 1, 3)
    assert note.operation_date.utcoffset() == timedelta(hours=5)
    assert note.contract_num is None
    assert [line.sgtin for line in note.sgtins] == [sgtin(3)]
    assert note.ssccs[0].sscc == sscc(2) and note.ssccs[0].details == ()


def test_accept_notification():
    note = parse_accept_notification(sample("607.xml"))
    assert isinstance(note, AcceptNotification)
    assert (note.subject_id, note.counterparty_id) == (RECEIVER, SENDER)
    assert note.sgtins == (sgtin(1), sgtin(2)) and note.ssccs == (sscc(1),)
    assert note.confirm_paused is None


def test_receive_order_errors_notification():
    note = parse_receive_order_errors_notification(sample("617.xml"))
    assert isinstance(note, ReceiveOrderErrorsNotification)
    assert [(e.code, e.object_id) for e in note.errors] == [("6", sgtin(3))]


@pytest.mark.parametrize(("name", "kind"), [
    ("200-rejected.xml", Result), ("211-sscc-up.xml", KizInfo), ("601.xml", MoveOrderNotification),
    ("602.xml", ReceiveOrderNotification), ("607.xml", AcceptNotification),
    ("617.xml", ReceiveOrderErrorsNotification),
])
def test_parse_dispatches_by_element(name, kind):
    assert isinstance(parse(sample(name)), kind)


@needs_schemas
def test_a_full_601_of_25000_items_reads_back():
    """The notification of a supplier's largest document: our own 415 under the 601 element."""
    codes = sgtins(25_000)
    xml = build(move_order(sgtins=priced(codes), n_ssccs=0)).replace(
        b"<move_order action_id=\"415\">", b"<move_order_notification action_id=\"601\">").replace(
        b"</move_order>", b"</move_order_notification>")
    note = parse_move_order_notification(xml, validate=True)
    assert [line.sgtin for line in note.sgtins] == codes


# --- wrong type and incomplete documents ------------------------------------------------------

def test_a_parser_refuses_a_document_of_another_scheme():
    with pytest.raises(WrongDocumentType) as caught:
        parse_result(sample("601.xml"))
    assert caught.value.code == "mdlp.wrong_document_type"
    assert caught.value.details["received"] == "move_order_notification"
    assert "200 (result)" in caught.value.message


def test_a_wrong_action_id_is_refused():
    with pytest.raises(WrongDocumentType):
        parse_accept_notification(sample("607.xml").replace(b'action_id="607"', b'action_id="701"'))


@pytest.mark.parametrize("xml", [
    b"<html><body>502 Bad Gateway</body></html>",
    b'<documents xmlns="urn:other" version="1.38"><result action_id="200"/></documents>',
    b'<documents version="1.38"/>',
    b'<documents version="1.38"><result action_id="200"/><result action_id="200"/></documents>',
])
def test_not_one_mdlp_operation_is_refused(xml):
    with pytest.raises(WrongDocumentType):
        parse_result(xml)


def test_the_generic_parse_refuses_documents_the_system_does_not_read():
    with pytest.raises(WrongDocumentType) as caught:
        parse(build(move_order()))
    assert caught.value.details["received"] == "move_order"
    assert document_element(sample("607.xml")) == "accept_notification"


@needs_schemas
def test_a_missing_element_is_named():
    xml = sample("200-accepted.xml").replace(
        b"<operation_id>4a3d9c8e-2f1b-4e6a-9d0c-7b5e1f2a3c4d</operation_id>", b"")
    with pytest.raises(DocumentIncomplete) as caught:
        parse_result(xml)
    assert "/documents/result/operation_id" in caught.value.message
    with pytest.raises(xsd.DocumentInvalid) as caught:
        parse_result(xml, validate=True)
    assert "operation_id" in caught.value.details["errors"][0]


@pytest.mark.parametrize(("old", "new"), [
    (b"<doc_date>14.03.2025</doc_date>", b"<doc_date>2025-03-14</doc_date>"),
    (b"<operation_date>2025-03-14T09:30:15+03:00</operation_date>", "<operation_date>вчера</operation_date>".encode()),
    (b"<cost>1234.50</cost>", b"<cost>12,50</cost>"),
    (b"<turnover_type>1</turnover_type>", b"<turnover_type>one</turnover_type>"),
])
def test_a_malformed_value_is_refused(old, new):
    xml = sample("601.xml").replace(old, new, 1)
    with pytest.raises(DocumentIncomplete):
        parse_move_order_notification(xml)


def test_an_unknown_operation_result_is_refused():
    with pytest.raises(DocumentIncomplete):
        parse_result(sample("200-accepted.xml").replace(b">Accepted<", b">Maybe<"))


# --- hostile input ----------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE documents [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<documents version="1.38"><result action_id="200" accept_time="2025-03-14T09:31:02Z">
<operation>&lol9;</operation><operation_id>1</operation_id><operation_result>Accepted</operation_result>
</result></documents>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE documents [<!ENTITY passwd SYSTEM "file:///etc/passwd">]>
<documents version="1.38"><result action_id="200" accept_time="2025-03-14T09:31:02Z">
<operation>&passwd;</operation><operation_id>1</operation_id><operation_result>Accepted</operation_result>
</result></documents>"""

HOSTILE = {
    "billion laughs": BILLION_LAUGHS,
    "external entity": XXE,
    "external entity in UTF-16": XXE.decode().replace('<?xml version="1.0"?>',
                                                      '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16"),
    "external DTD": b'<?xml version="1.0"?><!DOCTYPE documents SYSTEM "http://127.0.0.1:9/evil.dtd">'
                    b'<documents version="1.38"/>',
    "parameter entity": b'<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><documents/>',
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_dtd_and_entities_are_refused(case):
    with pytest.raises(xsd.DocumentMalformed) as caught:
        parse_result(HOSTILE[case])
    assert caught.value.code == "mdlp.xml_malformed"
    assert caught.value.details["reason"] == "doctype"
    assert "root:" not in caught.value.message  # nothing of /etc/passwd leaks into the message


@pytest.mark.parametrize("xml", [
    b"", b"   ", b"<documents version=\"1.38\"><result>", b"not xml at all", b"<documents>&undeclared;</documents>",
    "<documents/>".encode("cp1251")[:-3] + b"\xff\xfe",
])
def test_broken_xml_is_refused(xml):
    with pytest.raises(xsd.DocumentMalformed) as caught:
        parse(xml)
    assert caught.value.code == "mdlp.xml_malformed"


def test_a_document_over_the_size_limit_is_refused_before_parsing(monkeypatch):
    xml = sample("601.xml")
    with pytest.raises(xsd.DocumentMalformed) as caught:
        parse_move_order_notification(xml, max_bytes=len(xml) - 1)
    assert caught.value.details == {"size": len(xml), "limit": len(xml) - 1}
    assert parse_move_order_notification(xml, max_bytes=len(xml)).doc_num == "РН-000123"
    monkeypatch.setattr(xsd, "MAX_DOCUMENT_BYTES", 1024)
    with pytest.raises(xsd.DocumentMalformed):
        parse(xml)
    with pytest.raises(xsd.DocumentMalformed):
        xsd.validate(xml)


def test_text_is_not_accepted_instead_of_bytes():
    with pytest.raises(TypeError):
        xsd.parse_safely(sample("607.xml").decode())
