"""Stock: a receipt of 25,000 marked packs, a scan at the desk, and the stock of one drug across all
places over 10,000,000 ledger rows — each next to raw SQL doing the same work in the same run.

Targets: receipt ≤ 10 s; scan p95 ≤ 30 ms server time; stock of a drug p95 ≤ 10 ms.
"""

from __future__ import annotations

import os
import time
from datetime import date

from django.db import connection, transaction

from llo.demo import DEMO_SEEDERS, seed_demo
from llo.models import FundingSource, Organization, Package, Program, Role, User
from procurement.models import ContractItem, StateContract
from warehouse import selectors
from warehouse.models import Acceptance
from warehouse.receipts import ExpectedPack, receipt_create, receipt_post, receipt_scan

from .catalogue_bench import _percentiles
from .timing import report

PACKS = int(os.environ.get("BENCH_PACKS", "25000"))
LEDGER_ROWS = int(os.environ.get("BENCH_LEDGER_ROWS", "10000000"))
BOX = 1000
EXPIRY = date(2028, 6, 30)


def _setup() -> tuple[User, StateContract, list[Package]]:
    seeders = dict(DEMO_SEEDERS)
    DEMO_SEEDERS.clear()  # organizations and catalogue are enough
    try:
        seed_demo()
    finally:
        DEMO_SEEDERS.update(seeders)
    warehouse = Organization.objects.get(code="WH-01")
    clerk = User.objects.filter(organization=warehouse, role=Role.WAREHOUSE_CLERK).first()
    packages = list(Package.objects.filter(is_marked=True, gtin__isnull=False).order_by("pk")[:5])
    contract = StateContract.objects.create(
        number="BENCH-1", supplier=Organization.objects.get(code="SUP-01"), customer=Organization.objects.get(code="MZ"),
        program=Program.objects.get(code="ONLP"), funding_source=FundingSource.FEDERAL, signed_on=date(2026, 1, 1), valid_to=date(2026, 12, 31))
    for package in packages:
        ContractItem.objects.create(contract=contract, package=package, quantity=10**6, price=100)
    return clerk, contract, packages


def _sgtins(package: Package, start: int, count: int) -> list[str]:
    return [f"{package.gtin}{n:013d}" for n in range(start, start + count)]


def _sscc(n: int) -> str:
    from llo.barcodes import gs1_check_digit

    body = f"0460000001{n:07d}"
    return body + gs1_check_digit(body)


def run_receipt(clerk, contract, packages) -> None:
    package = packages[0]
    sgtins = _sgtins(package, 1, PACKS)
    expected = []
    for box_no, start in enumerate(range(0, PACKS, BOX), start=1):
        box = _sscc(box_no)
        expected.append(ExpectedPack(sscc=box))
        expected += [ExpectedPack(sgtin=s, parent_sscc=box, series="B1", expiry=EXPIRY) for s in sgtins[start:start + BOX]]
    results = {}
    started = time.perf_counter()
    document = receipt_create(user=clerk, contract=contract, acceptance=Acceptance.DIRECT, expected=expected)
    results["load the supplier's list (create)"] = time.perf_counter() - started
    started = time.perf_counter()
    for box_no in range(1, len(expected) // (BOX + 1) + 1):
        receipt_scan(user=clerk, document=document, raw=f"00{_sscc(box_no)}")
    results["scan every box (SSCC)"] = time.perf_counter() - started
    started = time.perf_counter()
    receipt_post(user=clerk, document=document)
    results["post: packs, ledger, history, outbox"] = time.perf_counter() - started
    results["receipt in all"] = sum(results.values())
    results["raw SQL: the same pack and event rows"] = _raw_receipt(package, PACKS)
    report(f"Receipt of one document with {PACKS:,} SGTINs (target ≤ 10 s)", PACKS, results,
           "raw SQL: the same pack and event rows")


def _raw_receipt(package: Package, count: int) -> float:
    """The floor: the same number of pack rows and history rows written by plain INSERT … SELECT."""
    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "WITH p AS (INSERT INTO warehouse_markedpack (sgtin, package_id, series, expiry, funding_source, state, "
            "place_id, updated_at) SELECT %s || lpad(n::text, 13, '0'), %s, 'RAW', %s, '1', 'in_stock', "
            "(SELECT id FROM llo_organization WHERE code = 'WH-01'), now() FROM generate_series(%s, %s) n RETURNING id, "
            "place_id) INSERT INTO warehouse_packevent (pack_id, from_state, to_state, place_id, reference, created_at) "
            "SELECT id, 'expected', 'in_stock', place_id, '', now() FROM p",
            [package.gtin, package.pk, EXPIRY, 10**9, 10**9 + count - 1])
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def run_scans(clerk, contract, packages, repeats: int = 500) -> None:
    package = packages[1]
    sgtins = _sgtins(package, 5 * 10**6, repeats)
    document = receipt_create(user=clerk, contract=contract, acceptance=Acceptance.DIRECT,
                              expected=[ExpectedPack(sgtin=s, series="S", expiry=EXPIRY) for s in sgtins])
    scans, bare = [], []
    for sgtin in sgtins:
        raw = f"]d201{sgtin[:14]}21{sgtin[14:]}\x1d91EE06\x1d92{'B' * 44}"
        started = time.perf_counter()
        receipt_scan(user=clerk, document=document, raw=raw)
        scans.append(time.perf_counter() - started)
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute("SELECT id FROM warehouse_documentcode WHERE document_id = %s AND sgtin = %s",
                           [document.pk, sgtin])
            cursor.fetchall()
            bare.append(time.perf_counter() - started)
    (p50, p95), (b50, b95) = _percentiles(scans), _percentiles(bare)
    print(f"\nA scan at the receiving desk ({repeats} scans; target p95 ≤ 30 ms)")
    print(f"  receipt_scan: parse, lock, checks, mark   p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  ×{p95 / b95:5.1f}")
    print(f"  bare SELECT of the listed code (baseline) p50 {b50:6.2f} ms  p95 {b95:6.2f} ms")


_FILL = """
    INSERT INTO warehouse_stockmovement (place_id, package_id, series, expiry, funding_source, quantity, reason,
                                         reference, created_at)
    SELECT places[1 + n %% array_length(places, 1)], packages[1 + (n / 7) %% array_length(packages, 1)],
           'L' || (n %% 50), DATE '2027-01-01' + (n %% 50), '1', CASE WHEN n %% 3 = 0 THEN -1 ELSE 2 END,
           CASE WHEN n %% 3 = 0 THEN 'dispensing' ELSE 'receipt' END, '', now()
    FROM generate_series(1, %(rows)s) n,
         (SELECT array_agg(id) AS places FROM llo_organization WHERE kind IN ('regional_warehouse', 'dispensing_point')) o,
         (SELECT array_agg(id ORDER BY id) AS packages FROM llo_package) p
"""
_BALANCES = """
    INSERT INTO warehouse_stockbalance (place_id, package_id, series, expiry, funding_source, quantity, updated_at)
    SELECT place_id, package_id, series, min(expiry), funding_source, sum(quantity), now()
    FROM warehouse_stockmovement WHERE reason IN ('dispensing', 'receipt') AND reference = ''
      AND document_id IS NULL AND contract_id IS NULL
    GROUP BY place_id, package_id, series, funding_source
    ON CONFLICT ON CONSTRAINT balance_key DO UPDATE SET quantity = EXCLUDED.quantity
"""


def run_stock(packages, repeats: int = 300) -> None:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(_FILL, {"rows": LEDGER_ROWS})
        cursor.execute(_BALANCES)
        cursor.execute("VACUUM ANALYZE warehouse_stockmovement")
        cursor.execute("VACUUM ANALYZE warehouse_stockbalance")
        cursor.execute("SELECT count(*) FROM warehouse_stockmovement")
        (ledger_rows,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM warehouse_stockbalance")
        (balances,) = cursor.fetchone()
    print(f"\nLedger: {ledger_rows:,} movements, {balances:,} balances (setup {time.perf_counter() - started:.0f} s)")
    drugs = list(Package.objects.filter(pk__in=[p.pk for p in packages]).values_list("trade_name__drug_id", flat=True))
    timings, bare = [], []
    for n in range(repeats):
        drug = drugs[n % len(drugs)]
        started = time.perf_counter()
        rows = selectors.stock(drug_id=drug)
        timings.append(time.perf_counter() - started)
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute("SELECT b.place_id, b.series, b.quantity FROM warehouse_stockbalance b JOIN llo_package p "
                           "ON p.id = b.package_id JOIN llo_tradename t ON t.id = p.trade_name_id "
                           "WHERE t.drug_id = %s AND b.quantity > 0", [drug])
            cursor.fetchall()
            bare.append(time.perf_counter() - started)
    (p50, p95), (b50, b95) = _percentiles(timings), _percentiles(bare)
    print(f"Stock of one drug across all places ({len(rows)} rows an answer; target p95 ≤ 10 ms)")
    print(f"  selectors.stock(drug=…)                  p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  ×{p95 / b95:5.1f}")
    print(f"  bare SELECT of its balances (baseline)   p50 {b50:6.2f} ms  p95 {b95:6.2f} ms")


def run() -> None:
    clerk, contract, packages = _setup()
    run_receipt(clerk, contract, packages)
    run_scans(clerk, contract, packages)
    run_stock(packages)
