"""Past prescriptions for a synthetic region (`manage.py seed_region --prescriptions M`): the volume
the prescribing benchmark runs against (10,000,000 at 1,000,000 beneficiaries).

Written in one set-based INSERT per million rows from the region's persons, doctors, program lists
and diagnoses: issued in the three years before this one (their own series, so this year's
numbering never meets them), mostly dispensed or expired. They stand for volume: no signed
documents, no reservations, and — being generated load, not anyone's act — their audit history is
written set-based like every bulk load (llo.bulk_audit).
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from llo.audit import audit_context
from llo.bulk_audit import checks_and_indexes_rebuilt, history_in_bulk, history_of_rows_after
from llo.models import Region

from .models import Prescription

BATCH = 1_000_000
_INSERT = """
WITH persons AS (SELECT array_agg(id ORDER BY id) AS ids FROM registry_person WHERE merged_into_id IS NULL),
     doctors AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(organization_id ORDER BY id) AS mos,
                        array_agg(subdivision_id ORDER BY id) AS subs
                 FROM llo_doctor WHERE may_prescribe_subsidized),
     drugs AS (SELECT array_agg(d.drug_id ORDER BY d.id) AS ids FROM llo_programdrug d
               JOIN llo_program p ON p.id = d.program_id WHERE p.code = 'ONLP'),
     program AS (SELECT id, funding_source, payment_share, payment_percent FROM llo_program WHERE code = 'ONLP'),
     category AS (SELECT id, federal_code FROM llo_benefitcategory WHERE federal_code = '082'),
     diagnosis AS (SELECT id, code FROM llo_diagnosis WHERE code = 'I10' ORDER BY id LIMIT 1),
     writer AS (SELECT id FROM llo_user WHERE role = 'mis_client' ORDER BY id LIMIT 1),
     rows AS (
        SELECT g, make_date((%(year)s - 1 - g %% 3)::int, 1, 1) + (g / 7 %% 365)::int AS issued_on,
               1 + (g * 7919) %% array_length(doctors.ids, 1) AS d,
               1 + (g * 104729) %% array_length(persons.ids, 1) AS p,
               1 + g %% array_length(drugs.ids, 1) AS r
        FROM generate_series(%(first)s::bigint, %(last)s::bigint) g, doctors, persons, drugs
     )
INSERT INTO prescriptions_prescription (
    form, series, number, issued_on, urgency, validity_days, expires_on, print_method, organization_id,
    subdivision_id, doctor_id, person_id, program_id, category_id, category_code, funding_source, payment_share,
    payment_percent, diagnosis_id, icd10, drug_id, vk_protocol, dosage, quantity, signa, status, status_changed_at,
    cancel_reason, is_handwritten, created_by_id, created_at, request_fingerprint)
SELECT '148-1/у-04(л)', %(region)s || to_char(rows.issued_on, 'YY'), '9' || lpad(rows.g::text, 11, '0'),
       rows.issued_on, '', 30, rows.issued_on + 29, '2', doctors.mos[rows.d], doctors.subs[rows.d],
       doctors.ids[rows.d], persons.ids[rows.p], program.id, category.id, category.federal_code,
       program.funding_source, program.payment_share, program.payment_percent, diagnosis.id, diagnosis.code,
       drugs.ids[rows.r], '', '1 доза', 1 + rows.g %% 3, 'По 1 таблетке 1 раз в день',
       CASE WHEN rows.g %% 10 < 8 THEN 'dispensed' WHEN rows.g %% 10 = 8 THEN 'expired' ELSE 'cancelled' END,
       rows.issued_on + 5, CASE WHEN rows.g %% 10 = 9 THEN 'Ошибка при выписке' ELSE '' END, false, writer.id,
       rows.issued_on + time '10:00', ''
FROM rows, doctors, persons, drugs, program, category, diagnosis, writer
"""


def seed_prescription_history(count: int) -> int:
    """Add `count` past prescriptions (after any made before); returns how many were written. Into
    an empty table they go in one transaction with its indexes and constraints rebuilt after."""
    year = timezone.localdate().year
    region = Region.objects.order_by("pk").values_list("code", flat=True).first() or "99"
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(substr(number, 2)::bigint), 0) FROM prescriptions_prescription "
                       "WHERE number LIKE '9%%' AND length(number) = 12")
        (last,) = cursor.fetchone()
    empty = not Prescription.objects.exists()
    batches = [(first, min(first + BATCH, last + 1 + count) - 1) for first in range(last + 1, last + 1 + count, BATCH)]
    if empty:
        with transaction.atomic(), connection.cursor() as cursor, \
                checks_and_indexes_rebuilt(cursor, ["prescriptions_prescription"]):
            written = _insert(batches, year=year, region=region)
    else:
        written = sum(_insert([batch], year=year, region=region) for batch in batches)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE prescriptions_prescription")
    return written


def _insert(batches: list[tuple[int, int]], *, year: int, region: str) -> int:
    written = 0
    with transaction.atomic(), audit_context(source="seed_region"), connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM prescriptions_prescription")
        after = cursor.fetchone()[0]
        with history_in_bulk(cursor):
            for first, last in batches:
                cursor.execute(_INSERT, {"first": first, "last": last, "year": year, "region": region})
                written += cursor.rowcount
            cursor.execute(history_of_rows_after("prescriptions_prescription", "insert"), {"after_id": after})
    return written
