"""MDLP documents: one 25,000-item 415 move_order (the scheme's maximum) built and checked against the
official XSD, next to baselines doing less of the work:

* the same XML written by plain string joining (no checks, no tree) — the floor for writing;
* lxml parse + validate of the finished bytes only — the floor for checking;
* the builder alone, and builder + validation against documents.xsd (all ~100 schemes) or against the
  one-scheme schema (415-move_order.xsd with the base types);
* compiling documents.xsd once (cold, what the first validation of a process pays);
* split of a 60,001-item operation into 3 documents, each built and validated;
* reading the 601 notification of 25,000 items (parse_move_order_notification).

Target: build and validate one 25,000-item document ≤ 5 s. No database is used. Each figure is the best
of BENCH_MDLP_REPEAT runs (default 3).
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from lxml import etree

from integrations.mdlp import xsd
from integrations.mdlp.documents import (
    MAX_ITEMS,
    ContractType,
    MoveOrder,
    SgtinLine,
    Source,
    TurnoverType,
    build,
    split,
)
from integrations.mdlp.documents.parsers import parse_move_order_notification
from llo.barcodes import with_check_digit

from .timing import report

TARGET_SECONDS = 5.0
REPEAT = int(os.environ.get("BENCH_MDLP_REPEAT", "3"))
GTINS = [with_check_digit(f"460700000{n:04d}") for n in range(1, 51)]  # 50 products in one shipment
OPERATION = datetime(2025, 3, 14, 9, 30, tzinfo=timezone(timedelta(hours=3)))


def _document(count: int) -> MoveOrder:
    lines = [SgtinLine(sgtin=f"{GTINS[i % len(GTINS)]}{i:013d}", cost=Decimal("1234.50"),
                       vat_value=Decimal("112.23")) for i in range(count)]
    return MoveOrder(subject_id="00000000012345", receiver_id="00000000067890", operation_date=OPERATION,
                     doc_num="РН-000123", doc_date=date(2025, 3, 14), turnover_type=TurnoverType.SALE,
                     source=Source.FEDERAL, contract_type=ContractType.STATE_DRUG_PROVISION,
                     contract_num="0373200000125000001", sgtins=lines)


def _string_join(doc: MoveOrder) -> bytes:
    """The same document by string formatting: what a builder without checks or a tree costs."""
    unions = "".join(
        f"      <union>\n        <sgtin>{line.sgtin}</sgtin>\n        <cost>{line.cost:.2f}</cost>\n"
        f"        <vat_value>{line.vat_value:.2f}</vat_value>\n      </union>\n" for line in doc.sgtins)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<documents version="1.38">\n  <move_order action_id="415">\n'
        f"    <subject_id>{doc.subject_id}</subject_id>\n    <receiver_id>{doc.receiver_id}</receiver_id>\n"
        f"    <operation_date>{doc.operation_date.isoformat()}</operation_date>\n"
        f"    <doc_num>{doc.doc_num}</doc_num>\n    <doc_date>{doc.doc_date:%d.%m.%Y}</doc_date>\n"
        f"    <turnover_type>{int(doc.turnover_type)}</turnover_type>\n    <source>{int(doc.source)}</source>\n"
        f"    <contract_type>{int(doc.contract_type)}</contract_type>\n"
        f"    <contract_num>{doc.contract_num}</contract_num>\n    <order_details>\n{unions}"
        "    </order_details>\n  </move_order>\n</documents>\n").encode()


def _best(function, repeat: int = REPEAT) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def _parse_and_validate(xml: bytes, schema: etree.XMLSchema) -> None:
    if not schema.validate(xsd.parse_safely(xml)):
        raise AssertionError(schema.error_log.last_error)


def run() -> None:
    if not xsd.schema_available():
        print(f"\nMDLP documents: skipped, schemas not found at {xsd.schema_path().parent} (MDLP_SCHEMA_DIR)")
        return
    doc = _document(MAX_ITEMS)
    xml = build(doc)
    joined = _string_join(doc)
    assert etree.tostring(xsd.parse_safely(joined), method="c14n") == etree.tostring(
        xsd.parse_safely(xml), method="c14n"), "the baseline must write the same document"

    xsd._cache.clear()
    started = time.perf_counter()
    full = xsd.load_schema()
    compile_full = time.perf_counter() - started
    started = time.perf_counter()
    one = xsd.load_schema("move_order")
    compile_one = time.perf_counter() - started

    results = {
        "string join, no checks (baseline)": _best(lambda: _string_join(doc)),
        "lxml parse+validate of the bytes (documents.xsd)": _best(lambda: _parse_and_validate(xml, full)),
        "lxml parse+validate of the bytes (415 scheme)": _best(lambda: _parse_and_validate(xml, one)),
        "build (checks + lxml tree + bytes)": _best(lambda: build(doc)),
        "build + validate (documents.xsd)": _best(lambda: xsd.validate(build(doc))),
        "build + validate (415 scheme only)": _best(lambda: xsd.validate(build(doc), scheme="move_order")),
    }
    report(f"MDLP 415 move_order, {len(xml) / 1e6:.1f} MB", MAX_ITEMS, results,
           "string join, no checks (baseline)")
    print(f"  compile documents.xsd once (cold)            {compile_full * 1000:9.1f} ms")
    print(f"  compile the 415 one-scheme schema once       {compile_one * 1000:9.1f} ms")
    worst = results["build + validate (documents.xsd)"] + compile_full
    verdict = "OK" if worst <= TARGET_SECONDS else "MISSED"
    print(f"  target: build and validate one {MAX_ITEMS}-item document ≤ {TARGET_SECONDS:.0f} s "
          f"(with a cold schema {worst:.2f} s): {verdict}")

    big = _document(60_001)

    def split_build_validate() -> None:
        for part in split(big):
            xsd.validate(build(part))

    notification = xml.replace(b'<move_order action_id="415">', b'<move_order_notification action_id="601">') \
        .replace(b"</move_order>", b"</move_order_notification>")
    results = {
        "build + validate one 25,000 document (baseline)": results["build + validate (documents.xsd)"],
        "split 60,001 → 3 documents, build + validate each": _best(split_build_validate, 1),
    }
    report("MDLP split of a 60,001-item operation", 60_001, results,
           "build + validate one 25,000 document (baseline)")
    results = {
        "lxml parse only (baseline)": _best(lambda: xsd.parse_safely(notification)),
        "parse_move_order_notification": _best(lambda: parse_move_order_notification(notification)),
        "parse_move_order_notification, validate=True": _best(
            lambda: parse_move_order_notification(notification, validate=True)),
    }
    report("MDLP 601 move_order_notification read", MAX_ITEMS, results, "lxml parse only (baseline)")
