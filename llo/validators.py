"""Check digits of Russian identifiers: ОГРН, ИНН, КПП, СНИЛС, MDLP place id, OID."""

import re

from django.core.exceptions import ValidationError


def _digits(value: str, lengths: tuple[int, ...], label: str) -> str:
    value = (value or "").strip()
    if not value.isdigit() or len(value) not in lengths:
        expected = " или ".join(str(n) for n in lengths)
        raise ValidationError(f"{label}: ожидается {expected} цифр", code="invalid_length")
    return value


def validate_ogrn(value: str) -> str:
    """ОГРН (13 digits) or ОГРНИП (15 digits): the last digit is a remainder check."""
    value = _digits(value, (13, 15), "ОГРН")
    body, check = int(value[:-1]), int(value[-1])
    modulus = 11 if len(value) == 13 else 13
    if body % modulus % 10 != check:
        raise ValidationError("ОГРН: неверная контрольная цифра", code="bad_check_digit")
    return value


_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _inn_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights)) % 11 % 10


def validate_inn(value: str) -> str:
    """ИНН of a legal entity (10 digits) or of a person (12 digits)."""
    value = _digits(value, (10, 12), "ИНН")
    if len(value) == 10:
        ok = _inn_digit(value, _INN10) == int(value[9])
    else:
        ok = _inn_digit(value, _INN12_1) == int(value[10]) and _inn_digit(value, _INN12_2) == int(value[11])
    if not ok:
        raise ValidationError("ИНН: неверная контрольная цифра", code="bad_check_digit")
    return value


_KPP = re.compile(r"^\d{4}[0-9A-Z]{2}\d{3}$")


def validate_kpp(value: str) -> str:
    value = (value or "").strip().upper()
    if not _KPP.match(value):
        raise ValidationError("КПП: ожидается 9 знаков (NNNNPPNNN)", code="invalid_format")
    return value


def snils_check_digits(first_nine: str) -> str:
    d = first_nine.encode()  # digits as bytes, unrolled: it runs for every record of a register of millions
    total = (d[0] * 9 + d[1] * 8 + d[2] * 7 + d[3] * 6 + d[4] * 5 + d[5] * 4 + d[6] * 3 + d[7] * 2 + d[8]
             - 48 * 45)
    if total < 100:
        return f"{total:02d}"
    if total in (100, 101):
        return "00"
    rest = total % 101
    return "00" if rest == 100 else f"{rest:02d}"


def validate_snils(value: str) -> str:
    """11 normalized digits from `123-456-789 01` or `12345678901`; raises ValidationError."""
    raw = (value or "").strip()
    if not re.fullmatch(r"\d{3}-?\d{3}-?\d{3}[ -]?\d{2}", raw):
        raise ValidationError("СНИЛС: ожидается 11 цифр в виде XXX-XXX-XXX YY", code="invalid_format")
    digits = re.sub(r"\D", "", raw)
    if int(digits[:9]) > 1001998 and snils_check_digits(digits[:9]) != digits[9:]:
        raise ValidationError("СНИЛС: неверная контрольная сумма", code="bad_check_digit")
    return digits


def format_snils(digits: str) -> str:
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:]}" if len(digits) == 11 else digits


def validate_mdlp_place_id(value: str) -> str:
    """Place of activity id in MDLP: 14 characters (the registry issues digits in practice)."""
    value = (value or "").strip()
    if not re.fullmatch(r"\d{14}", value):
        raise ValidationError("Идентификатор места деятельности МДЛП: ожидается 14 цифр", code="invalid_format")
    return value


def validate_oid(value: str) -> str:
    value = (value or "").strip()
    if not re.fullmatch(r"[0-2](\.(0|[1-9]\d*))+", value):
        raise ValidationError("OID: ожидается вида 1.2.643.5.1.13.13.12.…", code="invalid_format")
    return value


# --- Completing identifiers with their check digits (demo data, factories) ----------------

def ogrn_complete(first_twelve: str) -> str:
    return first_twelve + str(int(first_twelve) % 11 % 10)


def inn10_complete(first_nine: str) -> str:
    return first_nine + str(_inn_digit(first_nine, _INN10))


def snils_complete(first_nine: str) -> str:
    return first_nine + snils_check_digits(first_nine)
