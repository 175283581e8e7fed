"""What an issue request names, resolved in one statement: the patient by SNILS, the program by
code, the drug (or the trade-name package and its drug), the ICD-10 code and the doctor — each
None when not found. The API's hot path (`POST /api/v1/prescriptions/`) costs one round trip
here instead of five compiled querysets (llo.prebuilt)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from llo import prebuilt
from llo.models import Diagnosis, Doctor, Inn, Package, Program, Route, StandardizedDrug, TradeName
from registry.models import Person

_SHAPE = prebuilt.layout((Person, "p"), (Program, "g"), (Package, "k"), (TradeName, "t"), (StandardizedDrug, "d"),
                         (Inn, "i"), (Route, "rt"), (Diagnosis, "x"), (Doctor, "doc"))


@dataclass
class Named:
    person: Person | None
    program: Program | None
    package: Package | None
    drug: StandardizedDrug | None
    diagnosis: Diagnosis | None
    doctor: Doctor | None


@cache
def _sql() -> str:
    return (
        f"SELECT {_SHAPE.columns} FROM (SELECT 1) one "
        "LEFT JOIN registry_person p ON p.snils = %(snils)s AND p.merged_into_id IS NULL "
        "LEFT JOIN llo_program g ON g.code = %(program)s "
        "LEFT JOIN llo_package k ON k.id = %(package)s::bigint "
        "LEFT JOIN llo_tradename t ON t.id = k.trade_name_id "
        "LEFT JOIN llo_standardizeddrug d ON d.id = coalesce(%(drug)s::bigint, t.drug_id) "
        "LEFT JOIN llo_inn i ON i.id = d.inn_id "
        "LEFT JOIN llo_route rt ON rt.id = d.route_id "
        "LEFT JOIN LATERAL (SELECT * FROM llo_diagnosis WHERE code = %(icd10)s "
        "                   ORDER BY valid_from DESC, id LIMIT 1) x ON true "
        "LEFT JOIN llo_doctor doc ON doc.organization_id = %(mo)s AND (doc.id = %(doctor)s::bigint "
        "     OR (%(doctor)s::bigint IS NULL AND doc.user_id = %(user)s::bigint))"
    )


def resolve(*, snils: str, program: str, drug: int | None, package: int | None, icd10: str, mo_id: int,
            doctor: int | None, user_id: int | None) -> Named:
    """`doctor` by id among the MO's doctors, or — when None — the doctor record of `user_id`."""
    (person, prog, pack, trade_name, drug_row, inn, route, diagnosis, doc), = prebuilt.fetch(_sql(), {
        "snils": snils, "program": program, "drug": drug, "package": package, "icd10": icd10, "mo": mo_id,
        "doctor": doctor, "user": user_id}, _SHAPE)
    if pack is not None:
        pack.trade_name = trade_name
    if drug_row is not None:
        drug_row.inn, drug_row.route = inn, route
    return Named(person=person, program=prog, package=pack, drug=drug_row, diagnosis=diagnosis, doctor=doc)
