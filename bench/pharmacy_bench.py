"""The pharmacy desk over the API, server time (the whole Django stack in process: session, lookups,
checks, transaction):

* latency — `POST /api/v1/dispensations/check/` (one scan → verdict) and `POST /api/v1/dispensations/`
  (two DataMatrix scans → the dispensing confirmed) one after another, next to a bare SELECT of the
  pack and to the same rows written by one raw-SQL statement;
* throughput — two processes (this machine has two cores), each a desk at its own point, dispensing
  at once, next to the same row writes by raw SQL in two processes, one transaction each.

Targets: scan p95 ≤ 30 ms, dispensing p95 ≤ 50 ms, ≥ 200 dispensings/s. BENCH_DESK_SCANS (latency
samples) and BENCH_DISPENSINGS (per process) make it smaller for a quick look.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import date, timedelta

from django.db import connection, connections, transaction
from django.test import Client, override_settings
from django.utils import timezone

from llo import services as llo_services
from llo.demo import DEMO_SEEDERS, seed_demo
from llo.errors import ApplicationError
from llo.models import (
    Diagnosis,
    Doctor,
    FundingSource,
    Organization,
    Package,
    ProgramDrug,
    Role,
    User,
)
from prescriptions import services as rx_services
from prescriptions.models import Prescription
from procurement.models import ContractItem, StateContract
from registry.models import Person
from registry.selectors import rights_on
from warehouse import ledger
from warehouse.models import Reason, StockBalance
from warehouse.packs import NewPack, packs_create

from .catalogue_bench import _percentiles

SCANS = int(os.environ.get("BENCH_DESK_SCANS", "500"))
DISPENSINGS = int(os.environ.get("BENCH_DISPENSINGS", "1000"))  # per process
EXPIRY = date.today() + timedelta(days=700)
SERIES = "BENCH"


def _datamatrix(sgtin: str) -> str:
    return f"]d201{sgtin[:14]}21{sgtin[14:]}\x1d91EE06\x1d92{'B' * 40}Zq8="


class Desk:
    """A dispensing point with its pharmacist, its packs of the drug and the prescriptions to serve."""

    def __init__(self, place: Organization, user: User, tag: str):
        self.place, self.user, self.tag = place, user, tag  # user: the pharmacy organization's system
        self.key = ""
        self.prescriptions: list[int] = []
        self.sgtins: list[str] = []

    def pairs(self):
        return [(rx, self.sgtins[2 * n:2 * n + 2]) for n, rx in enumerate(self.prescriptions)]


def _template() -> Prescription:
    """One prescription of two packs issued through the service (checked, numbered, signed)."""
    mo = Organization.objects.get(code="10002")
    doctor = Doctor.objects.filter(organization=mo, may_prescribe_subsidized=True).select_related("user").first()
    writer = User.objects.get(username="mis_gp1")
    today = timezone.localdate()
    for person in Person.objects.filter(attached_mo=mo, merged_into__isnull=True, death_date__isnull=True):
        for right in (r for r in rights_on(person, today) if r.in_force):
            drug_ids = ProgramDrug.objects.valid_on(today).filter(program=right.program, drug__control_list="")
            package = (Package.objects.filter(trade_name__drug_id__in=drug_ids.values("drug_id"), is_marked=True)
                       .select_related("trade_name__drug").order_by("pk").first())
            if package is None:
                continue
            diagnosis = right.diagnosis or Diagnosis.objects.get(code="I10")
            draft = rx_services.draft_for(organization=mo, doctor=doctor, person=person, program=right.program,
                                          drug=package.trade_name.drug, diagnosis=diagnosis, quantity=2,
                                          dosage=package.trade_name.drug.dosage or "1 таб.", signa="По 1 таблетке")
            try:
                return rx_services.prescription_issue(user=writer, draft=draft)[0]
            except ApplicationError:
                continue
    raise RuntimeError("no demo patient can be given a prescription")


def _clone(template: Prescription, series: str, count: int) -> list[int]:
    columns = [f.column for f in Prescription._meta.concrete_fields if f.column not in ("id", "series", "number")]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO prescriptions_prescription (series, number, {', '.join(columns)}) "
            f"SELECT %s, lpad(n::text, 12, '0'), {', '.join(columns)} FROM prescriptions_prescription, "
            "generate_series(1, %s) n WHERE id = %s RETURNING id", [series, count, template.pk])
        return sorted(row[0] for row in cursor.fetchall())


def _stock(desk: Desk, package: Package, contract: StateContract, count: int) -> None:
    sgtins = [f"{package.gtin}{desk.tag}{n:0{13 - len(desk.tag)}d}" for n in range(count)]
    for start in range(0, count, 5000):
        with transaction.atomic():
            packs_create([NewPack(s, package.pk, SERIES, EXPIRY, FundingSource.FEDERAL, contract.pk)
                          for s in sgtins[start:start + 5000]],
                         place_id=desk.place.pk, address_id=None, document_id=None, user_id=None)
    with transaction.atomic():
        ledger.post([ledger.Move(ledger.StockKey(desk.place.pk, None, package.pk, SERIES, FundingSource.FEDERAL,
                                                 contract.pk), EXPIRY, count)], reason=Reason.RECEIPT)
    desk.sgtins = sgtins


def _setup() -> dict[str, Desk]:
    seeders = dict(DEMO_SEEDERS)
    for name in ("warehouse", "prescriptions"):
        DEMO_SEEDERS.pop(name, None)
    try:
        seed_demo()
    finally:
        DEMO_SEEDERS.update(seeders)
    template = _template()
    package = Package.objects.filter(trade_name__drug=template.drug, is_marked=True).order_by("pk").first()
    contract = StateContract.objects.create(
        number="BENCH-DESK", supplier=Organization.objects.get(code="SUP-01"),
        customer=Organization.objects.get(code="MZ"), program=template.program, funding_source=FundingSource.FEDERAL,
        signed_on=date.today() - timedelta(days=30), valid_to=date.today() + timedelta(days=365))
    ContractItem.objects.create(contract=contract, package=package, quantity=10**7, price=123)
    points = list(Organization.objects.filter(kind="dispensing_point").order_by("code")[:2])
    # the pharmacy organization's own system with its API key, as pharmacy systems call the API
    users = [User.objects.filter(organization_id=p.parent_id, role=Role.PHARMACIST).first() for p in points]
    # latency: one desk and its raw baseline; throughput: a desk at each of two points, and the raw ones
    desks = {"lat": Desk(points[0], users[0], "L"), "rawlat": Desk(points[0], users[0], "Q"),
             "api0": Desk(points[0], users[0], "A"), "api1": Desk(points[1], users[1], "B"),
             "raw0": Desk(points[0], users[0], "R"), "raw1": Desk(points[1], users[1], "S")}
    keys = {user.pk: llo_services.api_token_issue(user=user, name="bench")[1] for user in users}
    started = time.perf_counter()
    for name, desk in desks.items():
        desk.key = keys[desk.user.pk]
        count = SCANS if name in ("lat", "rawlat") else DISPENSINGS
        desk.prescriptions = _clone(template, f"B{desk.tag}", count)
        _stock(desk, package, contract, 2 * count)
    with connection.cursor() as cursor:
        for table in ("prescriptions_prescription", "warehouse_markedpack", "warehouse_stockbalance"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"\nDesk: {sum(len(d.prescriptions) for d in desks.values()):,} prescriptions, "
          f"{sum(len(d.sgtins) for d in desks.values()):,} packs at 2 points ({time.perf_counter() - started:.0f} s)")
    return desks


def _client(desk: Desk) -> Client:
    client = Client(HTTP_AUTHORIZATION=f"Token {desk.key}")
    client.place = desk.place.pk
    return client


def _post(client: Client, url: str, body: dict):
    return client.post(url, body | {"place": client.place}, content_type="application/json")


def _dispense(client: Client, rx: int, sgtins: list[str]) -> float:
    started = time.perf_counter()
    response = _post(client, "/api/v1/dispensations/", {"prescription": rx, "codes": [_datamatrix(s) for s in sgtins]})
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"dispensing refused: {response.status_code} {response.content[:300]!r}")
    return elapsed


def _dispense_all(desk: Desk) -> list[float]:
    client = _client(desk)
    return [_dispense(client, rx, sgtins) for rx, sgtins in desk.pairs()]


_RAW = """
    WITH rx AS (
        UPDATE prescriptions_prescription SET status = 'dispensed', status_changed_at = now()
        WHERE id = %(rx)s AND status = 'issued' RETURNING id
    ), sc AS (
        INSERT INTO prescriptions_statuschange (prescription_id, from_status, to_status, at, user_id, comment)
        SELECT id, 'issued', 'dispensed', now(), %(user)s, '' FROM rx
    ), packs AS (
        UPDATE warehouse_markedpack SET state = 'dispensed', updated_at = now()
        WHERE sgtin = ANY(%(sgtins)s) AND state = 'in_stock' AND place_id = %(place)s
        RETURNING id, place_id, package_id, sgtin, series, expiry, funding_source, contract_id
    ), events AS (
        INSERT INTO warehouse_packevent (pack_id, from_state, to_state, place_id, reference, user_id, created_at)
        SELECT id, 'in_stock', 'dispensed', place_id, %(ref)s, %(user)s, now() FROM packs
    ), balance AS (
        UPDATE warehouse_stockbalance SET quantity = quantity - 2, updated_at = now() WHERE id = %(balance)s
    ), movement AS (
        INSERT INTO warehouse_stockmovement (place_id, package_id, series, expiry, funding_source, contract_id,
                                             quantity, reason, reference, user_id, created_at)
        SELECT place_id, package_id, series, expiry, funding_source, contract_id, -2, 'dispensing', %(ref)s,
               %(user)s, now() FROM packs LIMIT 1
    ), record AS (
        INSERT INTO pharmacy_dispensation (prescription_id, place_id, pharmacist_id, at, total)
        SELECT id, %(place)s, %(user)s, now(), 246 FROM rx RETURNING id
    ), items AS (
        INSERT INTO pharmacy_dispenseditem (dispensation_id, package_id, sgtin, series, expiry, quantity, price,
                                            contract_id, funding_source)
        SELECT r.id, p.package_id, p.sgtin, p.series, p.expiry, 1, 123, p.contract_id, p.funding_source
        FROM record r, packs p
    )
    INSERT INTO llo_outboxmessage (topic, key, payload, status, attempts, available_at, claimed_by, last_error,
                                   created_at)
    SELECT 'mdlp.recipe', 'raw-dispensation-' || id, '{}'::jsonb, 'pending', 0, now(), '', '', now() FROM record
"""


def _raw_all(desk: Desk) -> list[float]:
    balance = StockBalance.objects.get(place=desk.place, series=SERIES, contract__number="BENCH-DESK").pk
    timings = []
    with connection.cursor() as cursor:
        for rx, sgtins in desk.pairs():
            started = time.perf_counter()  # autocommit: one transaction each
            cursor.execute(_RAW, {"rx": rx, "user": desk.user.pk, "sgtins": sgtins, "place": desk.place.pk,
                                  "ref": f"RX-RAW-{rx}", "balance": balance})
            timings.append(time.perf_counter() - started)
    return timings


def _queries(call) -> int:
    """Statements a call sends (Django clears its own query log at each request's start)."""
    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        call()
    return count


def run_latency(desk: Desk, raw_desk: Desk) -> None:
    client, pairs = _client(desk), desk.pairs()
    for rx, sgtins in pairs[:20]:  # warm-up: connections, caches, the signer's keys
        _post(client, "/api/v1/dispensations/check/", {"prescription": rx, "code": _datamatrix(sgtins[0])})
    scans, bare = [], []
    for rx, sgtins in pairs:
        started = time.perf_counter()
        verdict = _post(client, "/api/v1/dispensations/check/", {"prescription": rx, "code": _datamatrix(sgtins[0])})
        scans.append(time.perf_counter() - started)
        if not verdict.json()["ok"]:
            raise RuntimeError(f"scan refused: {verdict.json()}")
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute("SELECT id, state, place_id FROM warehouse_markedpack WHERE sgtin = %s", [sgtins[0]])
            cursor.fetchall()
            bare.append(time.perf_counter() - started)
    scan_queries = _queries(lambda: _post(client, "/api/v1/dispensations/check/",
                                          {"prescription": pairs[0][0], "code": _datamatrix(pairs[0][1][0])}))
    _dispense(client, *pairs[0])  # warm-up: the process's revocation read of the doctor's certificate
    dispense_queries = _queries(lambda: _dispense(client, *pairs[1]))
    timings = [_dispense(client, rx, sgtins) for rx, sgtins in pairs[2:]]
    raw = _raw_all(raw_desk)
    (s50, s95), (b50, b95) = _percentiles(scans), _percentiles(bare)
    (d50, d95), (r50, r95) = _percentiles(timings), _percentiles(raw)
    print(f"\nScan → verdict, POST /api/v1/dispensations/check/ ({len(scans)} scans, {scan_queries} queries "
          "each; target p95 ≤ 30 ms)")
    print(f"  API: key, prescription with point, packs, free stock   p50 {s50:6.2f} ms  p95 {s95:6.2f} ms  "
          f"×{s95 / b95:5.1f}")
    print(f"  bare SELECT of the pack (baseline)                      p50 {b50:6.2f} ms  p95 {b95:6.2f} ms")
    print(f"Dispensing confirmed, POST /api/v1/dispensations/ with 2 DataMatrix ({len(timings)}, "
          f"{dispense_queries} queries each; target p95 ≤ 50 ms)")
    print(f"  API: checks, signature, CAS, packs, ledger, record, outbox p50 {d50:6.2f} ms  p95 {d95:6.2f} ms  "
          f"×{d95 / r95:5.1f}")
    print(f"  raw SQL: the same row writes in one statement (baseline) p50 {r50:6.2f} ms  p95 {r95:6.2f} ms")


def _worker(job) -> float:
    kind, desk = job
    connections.close_all()  # a forked child must not share the parent's connection
    started = time.perf_counter()
    (_dispense_all if kind == "api" else _raw_all)(desk)
    elapsed = time.perf_counter() - started
    connections.close_all()
    return elapsed


def _parallel(jobs: list) -> float:
    connections.close_all()
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        pool.map(_worker, jobs)
    return time.perf_counter() - started


def run_throughput(desks: dict[str, Desk]) -> None:
    seconds = _parallel([("api", desks["api0"]), ("api", desks["api1"])])
    raw_seconds = _parallel([("raw", desks["raw0"]), ("raw", desks["raw1"])])
    done = 2 * DISPENSINGS
    rate, raw_rate = done / seconds, done / raw_seconds
    print(f"\nDispensings in 2 processes at once, a desk at each of 2 points ({done}; target ≥ 200/s)")
    print(f"  API (2 DataMatrix each)                 {rate:8.0f} dispensings/s  ×{raw_rate / rate:5.1f} slower "
          "than raw")
    print(f"  raw SQL, the same row writes, one transaction each {raw_rate:8.0f} dispensings/s")
    print(f"  ledger drift after the run: {len(ledger.drift())} balances")


def run() -> None:
    with override_settings(DEBUG=False):
        desks = _setup()
        run_latency(desks["lat"], desks["rawlat"])
        run_throughput(desks)
