"""GS1 mod-10 check digits: GTIN-8/12/13/14 and SSCC share one rule."""

from django.core.exceptions import ValidationError

GTIN_LENGTHS = (8, 12, 13, 14)
SSCC_LENGTH = 18


def gs1_check_digit(body: str) -> str:
    """The check digit for the digits before it: weights 3, 1, 3, … from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def with_check_digit(body: str) -> str:
    """`body` followed by its check digit."""
    if not body.isascii() or not body.isdigit():
        raise ValueError(f"not digits: {body!r}")
    return body + gs1_check_digit(body)


def has_valid_check_digit(value: str) -> bool:
    return (len(value) > 1 and value.isascii() and value.isdigit()
            and gs1_check_digit(value[:-1]) == value[-1])


def is_valid_gtin(value: str) -> bool:
    """A GTIN-14 (the form the system stores) with a correct check digit."""
    return len(value) == 14 and has_valid_check_digit(value)


def is_valid_sscc(value: str) -> bool:
    """An SSCC: 18 digits (without the AI 00) with a correct check digit."""
    return len(value) == SSCC_LENGTH and has_valid_check_digit(value)


def validate_gtin(value: str) -> str:
    """A GTIN-14 (shorter GTINs are zero-padded); raises ValidationError naming the problem."""
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) not in GTIN_LENGTHS:
        raise ValidationError("GTIN: ожидается 8, 12, 13 или 14 цифр", code="invalid_format")
    value = value.zfill(14)
    if gs1_check_digit(value[:-1]) != value[-1]:
        raise ValidationError(f"GTIN {value}: неверная контрольная цифра", code="bad_check_digit")
    return value
