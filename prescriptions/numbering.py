"""Series and number of a new prescription.

Each MO has a numerator per year (and, where the ministry configured one, per program). The next
value is taken by one `UPDATE … RETURNING` in the issuing transaction: concurrent issues of one
MO wait on that row for each other, never get the same value, and a rolled-back issue gives its
value back, so the numbers have no gaps. `UNIQUE (series, number)` stays the backstop.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection

from llo.errors import ConflictError
from llo.models import Organization, Program
from llo.selectors import region_of

from .models import Numerator, PrintMethod

_TAKE = """
    UPDATE prescriptions_numerator SET last_value = last_value + 1
    WHERE id = (SELECT id FROM prescriptions_numerator
                WHERE organization_id = %(mo)s AND year = %(year)s AND (program_id = %(program)s OR program_id IS NULL)
                ORDER BY program_id NULLS LAST LIMIT 1)
    RETURNING series_pattern, number_pattern, last_value
"""
# a new year starts with the patterns of the MO's latest year (program-specific ones included)
_OPEN_YEAR = """
    INSERT INTO prescriptions_numerator (organization_id, program_id, year, series_pattern, number_pattern, last_value)
    SELECT %(mo)s, program_id, %(year)s, series_pattern, number_pattern, 0 FROM (
        SELECT DISTINCT ON (program_id) program_id, series_pattern, number_pattern
        FROM prescriptions_numerator WHERE organization_id = %(mo)s AND year < %(year)s
        ORDER BY program_id, year DESC) latest
    UNION ALL
    SELECT %(mo)s, NULL, %(year)s, %(series)s, %(number)s, 0
    WHERE NOT EXISTS (SELECT 1 FROM prescriptions_numerator
                      WHERE organization_id = %(mo)s AND program_id IS NULL AND year < %(year)s)
    ON CONFLICT DO NOTHING
"""
SERIES_SHAPE = re.compile(r"^[0-9A-Z]{1,12}$")
NUMBER_SHAPE = re.compile(r"^\d{1,20}$")


class NumberingError(ConflictError):
    code = "numbering.misconfigured"


def take_number(*, organization: Organization, program: Program, year: int, method: str) -> tuple[str, str]:
    """The next (series, number) for a prescription of this MO and program in `year`."""
    params = {"mo": organization.pk, "year": year, "program": program.pk}
    with connection.cursor() as cursor:
        cursor.execute(_TAKE, params)
        row = cursor.fetchone()
        if row is None:
            cursor.execute(_OPEN_YEAR, {**params, "series": settings.PRESCRIPTION_SERIES_PATTERN,
                                        "number": settings.PRESCRIPTION_NUMBER_PATTERN})
            cursor.execute(_TAKE, params)
            row = cursor.fetchone()
    series_pattern, number_pattern, value = row
    return render(series_pattern, number_pattern, organization=organization, program=program, year=year,
                  method=method, value=value)


def render(series_pattern: str, number_pattern: str, *, organization: Organization, program: Program, year: int,
           method: str, value: int) -> tuple[str, str]:
    fields = {"region": region_of(organization.region_id).code, "yy": f"{year % 100:02d}", "yyyy": str(year),
              "mo": organization.code, "program": program.code, "method": method, "seq": value}
    try:
        series, number = series_pattern.format(**fields), number_pattern.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise NumberingError(f"Шаблон нумерации рецептов задан с ошибкой ({exc}): сообщите администратору",
                             details={"series_pattern": series_pattern, "number_pattern": number_pattern}) from None
    if not SERIES_SHAPE.match(series) or not NUMBER_SHAPE.match(number):
        raise NumberingError(
            f"Нумерация дала серию «{series}» и номер «{number}»: серия — до 12 цифр и заглавных латинских букв, "
            "номер — до 20 цифр. Код МО и шаблон нумерации проверяет администратор",
            details={"series": series, "number": number})
    return series, number


def numerator_configure(*, organization: Organization, program: Program | None, year: int, series_pattern: str,
                        number_pattern: str) -> Numerator:
    """Set the patterns of an MO's (program's) numbering for a year, checked on a sample."""
    render(series_pattern, number_pattern, organization=organization,
           program=program or Program(code="X"), year=year, method=PrintMethod.SYSTEM, value=1)
    numerator, _ = Numerator.objects.update_or_create(
        organization=organization, program=program, year=year,
        defaults={"series_pattern": series_pattern, "number_pattern": number_pattern})
    return numerator
