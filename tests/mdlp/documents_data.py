"""Inputs for the MDLP document tests: valid codes, one sample document per scheme, XML helpers."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from integrations.mdlp import xsd
from integrations.mdlp.documents import (
    Accept,
    ContractType,
    DestructionOrg,
    DestructionReason,
    DestructionType,
    HealthCare,
    MoveDestruction,
    MoveOrder,
    MovePlace,
    QueryKizInfo,
    ReceiveOrder,
    ReceiveType,
    Recipe,
    SgtinLine,
    SgtinPart,
    Source,
    SsccDetail,
    SsccLine,
    TurnoverType,
    UnitAppend,
    UnitExtract,
    UnitPack,
    UnitUnpack,
    Withdrawal,
    WithdrawalType,
)
from llo.barcodes import make_sscc, with_check_digit

SAMPLES = Path(__file__).parent / "samples"
MSK = timezone(timedelta(hours=3))
OPERATION = datetime(2025, 3, 14, 9, 30, 15, 123456, tzinfo=MSK)
SENDER = "00000000012345"  # places of activity: 14 digits
RECEIVER = "00000000067890"
GTIN = with_check_digit("0460700000001")
OTHER_GTIN = with_check_digit("0460700000002")
FIAS = "0c5b2444-70a0-4932-980c-b4dc0d3f02b5"


def sgtin(n: int, gtin: str = GTIN) -> str:
    return f"{gtin}{n:013d}"


def sscc(n: int) -> str:
    return make_sscc(extension_digit=1, company_prefix="4607000", serial_reference=n)


def sgtins(count: int, start: int = 0) -> list[str]:
    return [sgtin(start + i) for i in range(count)]


def ssccs(count: int, start: int = 0) -> list[str]:
    return [sscc(start + i) for i in range(count)]


def priced(codes) -> list[SgtinLine]:
    return [SgtinLine(sgtin=code, cost=Decimal("1234.50"), vat_value=Decimal("112.23")) for code in codes]


def priced_boxes(codes) -> list[SsccLine]:
    return [SsccLine(sscc=code, cost=Decimal("99.90"), vat_value=Decimal("9.08"), details=[
        SsccDetail(gtin=GTIN, series_number="A123", cost=Decimal("99.90"), vat_value=Decimal("9.08")),
        SsccDetail(gtin=OTHER_GTIN, series_number="B-77", cost=Decimal(10), vat_value=Decimal("0.91")),
    ]) for code in codes]


def move_order(n_sgtins: int = 3, n_ssccs: int = 2, **changes) -> MoveOrder:
    fields = {"subject_id": SENDER, "receiver_id": RECEIVER, "operation_date": OPERATION, "doc_num": "РН-000123",
              "doc_date": date(2025, 3, 14), "turnover_type": TurnoverType.SALE, "source": Source.FEDERAL,
              "contract_type": ContractType.STATE_DRUG_PROVISION, "contract_num": "0373200000125000001",
              "sgtins": priced(sgtins(n_sgtins)), "ssccs": priced_boxes(ssccs(n_ssccs))}
    return MoveOrder(**{**fields, **changes})


def one_of_each() -> dict[str, object]:
    """A realistic document of every scheme the system writes."""
    return {
        "415": move_order(contract_gos_num="ГК-15/2025", contract_gos_date=date(2025, 1, 20)),
        "415-return": move_order(turnover_type=TurnoverType.RETURN, contract_num=None, n_ssccs=0),
        "416": ReceiveOrder(subject_id=RECEIVER, shipper_id=SENDER, operation_date=OPERATION, doc_num="ПН-77",
                            doc_date=date(2025, 3, 13), receive_type=ReceiveType.ARRIVAL, source=Source.REGIONAL,
                            contract_type=ContractType.STATE_DRUG_PROVISION, sgtins=priced(sgtins(2)),
                            ssccs=priced_boxes(ssccs(1))),
        "701": Accept(subject_id=RECEIVER, counterparty_id=SENDER, operation_date=OPERATION,
                      sgtins=sgtins(2), ssccs=ssccs(2)),
        "701-paused": Accept(subject_id=RECEIVER, counterparty_id=SENDER, operation_date=OPERATION,
                             sgtins=sgtins(1), confirm_paused=True),
        "431": MovePlace(subject_id=SENDER, receiver_id=RECEIVER, operation_date=OPERATION, doc_num="ВП-5",
                         doc_date=date(2025, 3, 14), sgtins=sgtins(2), ssccs=ssccs(1)),
        "521": Recipe(subject_id=SENDER, operation_date=OPERATION, doc_date=date(2025, 3, 1), doc_series="0225",
                      doc_num="0101000123", sgtins=[sgtin(1), SgtinPart(sgtin(2), "1/3")]),
        "531": HealthCare(subject_id=SENDER, operation_date=OPERATION, doc_date=date(2025, 3, 14),
                          doc_num="ТН-9", sgtins=[SgtinPart(sgtin(5), "2/10"), sgtin(6)]),
        "552": Withdrawal(subject_id=SENDER, operation_date=OPERATION, withdrawal_type=WithdrawalType.THEFT,
                          doc_num="АКТ-1", doc_date=date(2025, 3, 14), sgtins=[SgtinPart(sgtin(7), "1/2"), sgtin(8)],
                          ssccs=ssccs(1)),
        "541": MoveDestruction(subject_id=SENDER, operation_date=OPERATION,
                               destruction_org=DestructionOrg(fias_addr=FIAS, inn="7701234567", kpp="770101001"),
                               doc_num="Д-3", doc_date=date(2025, 2, 1), act_number="АП-3", act_date=date(2025, 3, 14),
                               destruction_type=DestructionType.OWNER, reason_for_destruction=DestructionReason.EXPIRED,
                               sgtins=sgtins(2), ssccs=ssccs(1)),
        "541-ip": MoveDestruction(subject_id=SENDER, operation_date=OPERATION,
                                  destruction_org=DestructionOrg(fias_addr=FIAS, inn="770123456789"),
                                  doc_num="Д-4", doc_date=date(2025, 2, 1), act_number="АП-4",
                                  act_date=date(2025, 3, 14), destruction_type=DestructionType.ROSZDRAVNADZOR,
                                  decision="РЗН-01-2025", sgtins=sgtins(1)),
        "911": UnitPack(subject_id=SENDER, sscc=sscc(900), operation_date=OPERATION, sgtins=sgtins(3),
                        ssccs=ssccs(1)),
        "912": UnitUnpack(subject_id=SENDER, operation_date=OPERATION, ssccs=ssccs(2), is_recursive=True),
        "913": UnitExtract(subject_id=SENDER, operation_date=OPERATION, sgtins=sgtins(2)),
        "914": UnitAppend(subject_id=SENDER, operation_date=OPERATION, sscc=sscc(900), sgtins=sgtins(2),
                          ssccs=ssccs(1, start=5)),
        "210-sgtin": QueryKizInfo(subject_id=SENDER, sgtin=sgtin(1)),
        "210-down": QueryKizInfo(subject_id=SENDER, sscc_down=sscc(1)),
        "210-up": QueryKizInfo(subject_id=SENDER, sscc_up=sscc(1)),
    }


needs_schemas = pytest.mark.skipif(
    not xsd.schema_available(),
    reason=f"MDLP schemas not found at {xsd.schema_path().parent} (setting MDLP_SCHEMA_DIR)")


SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml, SAFE)


def texts(tree, path: str) -> list[str]:
    return [el.text for el in tree.xpath(path)]


def one(tree, path: str) -> str:
    found = tree.xpath(path)
    assert len(found) == 1, f"{path}: {len(found)} found"
    value = found[0]
    return value if isinstance(value, str) else value.text
