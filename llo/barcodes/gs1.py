from django.core.exceptions import ValidationError


def gs1_check_digit(body: str) -> str:
    """GS1 mod-10 check digit for the digits before it (GTIN-8/12/13/14, SSCC)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def is_valid_gtin(value: str) -> bool:
    return len(value) == 14 and value.isdigit() and gs1_check_digit(value[:-1]) == value[-1]


def validate_gtin(value: str) -> str:
    """A GTIN-14 (shorter GTINs are zero-padded); raises ValidationError naming the problem."""
    value = (value or "").strip()
    if not value.isdigit() or len(value) not in (8, 12, 13, 14):
        raise ValidationError("GTIN: ожидается 8, 12, 13 или 14 цифр", code="invalid_format")
    value = value.zfill(14)
    if gs1_check_digit(value[:-1]) != value[-1]:
        raise ValidationError(f"GTIN {value}: неверная контрольная цифра", code="bad_check_digit")
    return value
