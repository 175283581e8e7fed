"""Prescribing over the API at region scale: 1,000,000 beneficiaries and 10,000,000 past
prescriptions (`seed_region`), then

* latency — `POST /api/v1/prescriptions/` one after another, server time (the whole Django stack:
  token, checks, numbering, СЭМД build and signature, insert), next to a raw-SQL INSERT of the same
  row;
* throughput — two processes (this machine has two cores) issuing at once for two MOs, next to the
  same rows INSERTed by raw SQL in two processes, one transaction each.

Targets: p95 ≤ 50 ms server time; ≥ 200 issues/s. BENCH_PERSONS, BENCH_PRESCRIPTIONS, BENCH_ISSUES
make it smaller for a quick look.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from llo.demo import DEMO_SEEDERS, demo_api_key, seed_demo
from llo.models import Doctor, Organization, Program, StandardizedDrug
from prescriptions.models import Prescription
from prescriptions.seeding import seed_prescription_history
from registry.seeding import seed_region
from registry.snils import format_snils

from .catalogue_bench import _percentiles

PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))
HISTORY = int(os.environ.get("BENCH_PRESCRIPTIONS", "10000000"))
ISSUES = int(os.environ.get("BENCH_ISSUES", "1000"))  # per measurement
MIS = {"10001": "mis_okb", "10002": "mis_gp1"}  # two MOs, one process each

_PATIENTS = """
    SELECT p.snils FROM registry_person p
    JOIN registry_benefitright r ON r.person_id = p.id AND r.program_id = %(program)s
     AND r.valid_from <= %(day)s AND (r.valid_to IS NULL OR r.valid_to >= %(day)s)
    WHERE p.attached_mo_id = %(mo)s AND p.merged_into_id IS NULL AND p.death_date IS NULL AND p.snils IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM registry_nsurefusal n WHERE n.person_id = p.id AND n.year = %(year)s AND n.refused)
    ORDER BY p.id LIMIT %(limit)s
"""
_RAW = """
    INSERT INTO prescriptions_prescription (
        form, series, number, issued_on, urgency, validity_days, expires_on, print_method, organization_id,
        subdivision_id, doctor_id, person_id, right_id, program_id, category_id, category_code, funding_source,
        payment_share, payment_percent, diagnosis_id, icd10, drug_id, vk_protocol, dosage, quantity, signa, status,
        status_changed_at, cancel_reason, is_handwritten, created_by_id, created_at, request_fingerprint, document,
        signature, signed_at)
    SELECT form, %(series)s, %(number)s, issued_on, urgency, validity_days, expires_on, print_method,
        organization_id, subdivision_id, doctor_id, person_id, right_id, program_id, category_id, category_code,
        funding_source, payment_share, payment_percent, diagnosis_id, icd10, drug_id, vk_protocol, dosage, quantity,
        signa, status, now(), cancel_reason, is_handwritten, created_by_id, now(), request_fingerprint, document,
        signature, now()
    FROM prescriptions_prescription WHERE id = %(source)s
"""


def _setup() -> None:
    seeders = dict(DEMO_SEEDERS)
    for name in ("registry", "prescriptions"):
        DEMO_SEEDERS.pop(name, None)
    try:
        seed_demo()
    finally:
        DEMO_SEEDERS.update(seeders)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-rx-") as tmp:
        seed_region(PERSONS, directory=Path(tmp), region_code="99")
    print(f"\nRegion: {PERSONS:,} beneficiaries in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    written = seed_prescription_history(HISTORY)
    print(f"History: {written:,} past prescriptions in {time.perf_counter() - started:.0f} s")


def _requests(mo_code: str, count: int) -> tuple[str, list[dict]]:
    """The bodies one MO's MIS sends: its doctors, its patients with an ОНЛП right, drugs of the list."""
    mo = Organization.objects.get(code=mo_code)
    program = Program.objects.get(code="ONLP")
    day = timezone.localdate()
    doctors = list(Doctor.objects.filter(organization=mo, may_prescribe_subsidized=True).values_list("pk", flat=True))
    drugs = list(StandardizedDrug.objects.filter(program_rows__program=program, control_list="").order_by("pk")
                 .values_list("pk", "dosage")[:20])
    with connection.cursor() as cursor:
        cursor.execute(_PATIENTS, {"program": program.pk, "day": day, "year": day.year, "mo": mo.pk, "limit": count})
        snilses = [row[0] for row in cursor.fetchall()]
    bodies = [{"beneficiary_snils": format_snils(snilses[n % len(snilses)]), "program": "ONLP",
               "drug": drugs[n % len(drugs)][0], "dosage": drugs[n % len(drugs)][1] or "1 таб.", "quantity": 1,
               "signa": "По 1 таблетке 1 раз в день", "icd10": "I10", "doctor": doctors[n % len(doctors)]}
              for n in range(count)]
    return demo_api_key(MIS[mo_code]), bodies


def _issue_all(key: str, bodies: list[dict], tag: str) -> list[float]:
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    timings = []
    for n, body in enumerate(bodies):
        started = time.perf_counter()
        response = client.post("/api/v1/prescriptions/", body, content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY=f"{tag}-{n}")
        timings.append(time.perf_counter() - started)
        if response.status_code != 201:
            raise RuntimeError(f"issue refused: {response.status_code} {response.content[:300]!r}")
    return timings


def _raw_all(sources: list[int], tag: str) -> list[float]:
    timings = []
    with connection.cursor() as cursor:
        for n, source in enumerate(sources):
            started = time.perf_counter()
            # autocommit: one transaction each; a series of its own keeps the number unique
            cursor.execute(_RAW, {"series": f"RAW{tag}", "number": f"{n:012d}", "source": source})
            timings.append(time.perf_counter() - started)
    return timings


def run_latency() -> None:
    key, bodies = _requests("10002", ISSUES)
    _issue_all(key, bodies[:20], "warm")
    timings = _issue_all(key, bodies, "lat")
    sources = list(Prescription.objects.filter(request_fingerprint__gt="").order_by("-pk")
                   .values_list("pk", flat=True)[:ISSUES])
    bare = _raw_all(sources, "L")
    (p50, p95), (b50, b95) = _percentiles(timings), _percentiles(bare)
    print(f"\nPOST /api/v1/prescriptions/ one after another ({ISSUES} issues over "
          f"{Prescription.objects.count():,} prescriptions; target p95 ≤ 50 ms)")
    print(f"  API: token, checks, number, СЭМД + signature, insert p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
          f"×{p95 / b95:5.1f}")
    print(f"  raw SQL INSERT of the same row (baseline)          p50 {b50:6.2f} ms  p95 {b95:6.2f} ms")


def _worker(job) -> float:
    kind, payload, tag = job
    connections.close_all()  # a forked child must not share the parent's connection
    started = time.perf_counter()
    if kind == "api":
        _issue_all(*payload, tag)
    else:
        _raw_all(payload, tag)
    elapsed = time.perf_counter() - started
    connections.close_all()
    return elapsed


def _parallel(jobs: list) -> float:
    connections.close_all()
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        pool.map(_worker, jobs)
    return time.perf_counter() - started


def run_throughput() -> None:
    jobs = [("api", _requests(code, ISSUES), f"tp{code}") for code in MIS]
    seconds = _parallel(jobs)
    issued = ISSUES * len(jobs)
    sources = list(Prescription.objects.filter(request_fingerprint__gt="").order_by("-pk")
                   .values_list("pk", flat=True)[:issued])
    raw_seconds = _parallel([("raw", sources[n::len(jobs)], f"T{n}") for n in range(len(jobs))])
    rate, raw_rate = issued / seconds, issued / raw_seconds
    print(f"\nIssues in {len(jobs)} processes at once ({issued} prescriptions; target ≥ 200 issues/s)")
    print(f"  API                                     {rate:8.0f} issues/s   ×{raw_rate / rate:5.1f} slower than raw")
    print(f"  raw SQL INSERT, one transaction each    {raw_rate:8.0f} rows/s")


def run() -> None:
    _setup()
    run_latency()
    run_throughput()

