"""Parsers of NSI field values. Each takes the raw text and returns a typed value or raises
ValueError with a Russian message that says what is wrong; the loader adds dictionary, record
and field."""

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from llo.barcodes import validate_gtin
from llo.models import ControlList

_TRUE = {"1", "true", "да", "y", "yes", "t"}
_FALSE = {"0", "false", "нет", "n", "no", "f"}
_ATC = re.compile(r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$")
_SPACES = re.compile(r"\s+")


def text(raw: str) -> str:
    return _SPACES.sub(" ", raw).strip()


def integer(raw: str) -> int:
    value = raw.strip()
    if not re.fullmatch(r"-?\d{1,9}", value):
        raise ValueError(f"ожидается целое число, получено «{raw}»")
    return int(value)


def decimal(raw: str) -> Decimal:
    value = raw.strip().replace(" ", "").replace(",", ".")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"ожидается число, получено «{raw}»") from None
    if not number.is_finite() or number < 0 or number >= Decimal("1e9"):
        raise ValueError(f"число вне допустимого диапазона: «{raw}»")
    return number


def day(raw: str) -> date:
    value = raw.strip()
    for pattern in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value[:10], pattern).date()
        except ValueError:
            continue
    raise ValueError(f"ожидается дата ДД.ММ.ГГГГ, получено «{raw}»")


def flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"ожидается 1 или 0, получено «{raw}»")


def gtin(raw: str) -> str:
    try:
        return validate_gtin(raw)
    except ValidationError as exc:
        raise ValueError(exc.messages[0]) from None


def atc(raw: str) -> str:
    value = raw.strip().upper()
    if not _ATC.match(value):
        raise ValueError(f"код АТХ «{raw}» не соответствует формату (например, A10BA02)")
    return value


# How the portal writes the lists of narcotic and psychotropic substances.
CONTROL_LIST_CODES = {
    "II-Н": ControlList.NARCOTIC_II,
    "II-П": ControlList.PSYCHOTROPIC_II,
    "III": ControlList.PSYCHOTROPIC_III,
}


def control_list(raw: str) -> str:
    value = raw.strip().upper().replace("H", "Н").replace("P", "П")  # Latin look-alikes
    if value not in CONTROL_LIST_CODES:
        raise ValueError(f"неизвестный список НС и ПВ «{raw}»; допустимы: {', '.join(CONTROL_LIST_CODES)}")
    return CONTROL_LIST_CODES[value].value
