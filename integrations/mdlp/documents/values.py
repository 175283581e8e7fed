"""The simple types of base_types.xsd: enumerations, and the checks and formats builders write.

Every `check_*` returns the text to write or raises InvalidInput naming the field; they are cheap, so
a builder can run them for each of 25,000 items.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import IntEnum

from llo.barcodes import gs1_check_digit, is_valid_sscc

from .errors import InvalidInput

# An operation may be dated a little ahead of this machine's clock (clock skew), never more.
FUTURE_TOLERANCE = timedelta(minutes=10)


class TurnoverType(IntEnum):
    """turnover_type_enum (415/601)."""

    SALE = 1
    RETURN = 2


class ReceiveType(IntEnum):
    """receive_type_enum (416 allows 1 and 2; 602 also 3)."""

    ARRIVAL = 1
    RETURN = 2
    RESORT = 3


class Source(IntEnum):
    """source_type: the funding source."""

    OWN = 1
    FEDERAL = 2
    REGIONAL = 3
    OFF_BUDGET = 4
    MIXED = 5


class ContractType(IntEnum):
    """contract_type_enum."""

    SALE = 1
    COMMISSION = 2
    AGENCY = 3
    FREE_OF_CHARGE = 4
    RETURN_TO_CONTRACT_MANUFACTURER = 5
    STATE_DRUG_PROVISION = 6
    CONSIGNMENT = 7
    OWN_FUNDS = 8


class WithdrawalType(IntEnum):
    """withdrawal_type_enum (552)."""

    SAMPLE_CONTROL = 6
    CUSTOMS_CONTROL = 7
    FEDERAL_SUPERVISION = 8
    CLINICAL_TRIALS = 9
    PHARMACEUTICAL_EXPERTISE = 10
    SHORTAGE = 11
    DEMO_SAMPLES = 12
    WRITE_OFF_WITHOUT_DESTRUCTION = 13
    EXPERIMENT_CODES = 14
    PRODUCTION_DEFECT = 15
    BROKEN_CONSUMER_PACK = 16
    MEDICAL_DEVICES_PRODUCTION = 17
    MEDICINES_PRODUCTION = 18
    QUALITY_CONTROL_SAMPLES = 19
    ARCHIVE_SAMPLES = 20
    THEFT = 21
    EXPIRED_AUTO = 22
    NO_INFORMATION = 23
    EXPORT = 24
    HUMANITARIAN_AID = 26


class DestructionType(IntEnum):
    """destruction_type_enum (541): on whose decision."""

    OWNER = 1
    ROSZDRAVNADZOR = 2
    COURT = 3


class DestructionReason(IntEnum):
    """reason_for_destruction_type_enum (541)."""

    SUBSTANDARD = 1
    COUNTERFEIT = 2
    FALSIFIED = 3
    LOST_PROPERTIES = 4
    EXPIRED = 5
    RECALLED = 6
    DEREGISTERED = 7


_SUBJECT = re.compile(r"[0-9]{14}")
_GUID = re.compile(r"[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}")
_SGTIN = re.compile(r"[0-9]{14}[a-zA-Z0-9]{13}")
_GTIN = re.compile(r"[0-9]{14}")
_SSCC = re.compile(r"[0-9]{18}")
_PART = re.compile(r"([1-9][0-9]*)/([1-9][0-9]*)")
_COUNTRY = re.compile(r"[A-Z]{2}")
_INN_UL = re.compile(r"([0-9][1-9]|[1-9][0-9])[0-9]{8}")
_INN_FL = re.compile(r"([0-9][1-9]|[1-9][0-9])[0-9]{10}")
_KPP = re.compile(r"([0-9][1-9]|[1-9][0-9])[0-9]{7}")
# XML 1.0 cannot carry these at all; XSD's "." does not match line ends (string_clear_type).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_PRICE_LIMIT = Decimal(10) ** 14  # price_type: 16 digits in all, 2 after the point


def check_subject_id(value, field: str = "subject_id") -> str:
    """A place of activity or organization id: 14 digits (subject_id_type)."""
    if not isinstance(value, str) or not _SUBJECT.fullmatch(value):
        raise InvalidInput(f"{field}: идентификатор места деятельности МДЛП — 14 цифр, получено «{value}»",
                           field=field, value=value)
    return value


def check_subject_any(value, field: str = "subject_id") -> str:
    """subject_any_type: 14 digits, or a GUID of a subject."""
    if not isinstance(value, str) or not (_SUBJECT.fullmatch(value) or _GUID.fullmatch(value)):
        raise InvalidInput(f"{field}: ожидается идентификатор МДЛП из 14 цифр или GUID, получено «{value}»",
                           field=field, value=value)
    return value


def check_guid(value, field: str) -> str:
    if not isinstance(value, str) or not _GUID.fullmatch(value):
        raise InvalidInput(f"{field}: ожидается GUID (36 символов), получено «{value}»", field=field, value=value)
    return value


class CodeChecker:
    """Checks SGTINs and SSCCs of one document; GTIN check digits are computed once per GTIN."""

    def __init__(self):
        self._gtins: set[str] = set()

    def gtin(self, value, field: str) -> str:
        if not isinstance(value, str) or not _GTIN.fullmatch(value):
            raise InvalidInput(f"{field}: GTIN — 14 цифр, получено «{value}»", field=field, value=value)
        if value not in self._gtins:
            if gs1_check_digit(value[:13]) != value[13]:
                raise InvalidInput(f"{field}: у GTIN {value} неверная контрольная цифра", field=field, value=value)
            self._gtins.add(value)
        return value

    def sgtin(self, value, field: str) -> str:
        if not isinstance(value, str) or not _SGTIN.fullmatch(value):
            raise InvalidInput(
                f"{field}: SGTIN — 27 символов (GTIN из 14 цифр и серийный номер из 13 латинских букв и цифр), "
                f"получено «{value}»", field=field, value=value)
        gtin = value[:14]
        if gtin not in self._gtins:
            if gs1_check_digit(gtin[:13]) != gtin[13]:
                raise InvalidInput(f"{field}: в SGTIN {value} у GTIN неверная контрольная цифра",
                                   field=field, value=value)
            self._gtins.add(gtin)
        return value

    def sscc(self, value, field: str) -> str:
        if not isinstance(value, str) or not _SSCC.fullmatch(value):
            raise InvalidInput(f"{field}: SSCC — 18 цифр, получено «{value}»", field=field, value=value)
        if not is_valid_sscc(value):
            raise InvalidInput(f"{field}: у SSCC {value} неверная контрольная цифра", field=field, value=value)
        return value


def check_unique(values, field: str) -> None:
    """The schemes declare SGTINs and SSCCs unique within a document."""
    seen: set = set()
    for index, value in enumerate(values):
        if value in seen:
            raise InvalidInput(f"{field}: код {value} указан в документе дважды", field=f"{field}[{index}]",
                               value=value)
        seen.add(value)


def format_datetime(value, field: str = "operation_date", *, now: datetime | None = None) -> str:
    """datetimeoffset: `yyyy-mm-ddThh:mm:ss+hh:mm`, from an aware datetime (its own offset is kept)."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{field}: ожидается дата и время, получено «{value}»", field=field, value=value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field}: дата и время без часового пояса не допускаются", field=field, value=value)
    offset = value.utcoffset()
    if abs(offset) > timedelta(hours=14) or offset % timedelta(minutes=1):
        raise InvalidInput(f"{field}: недопустимое смещение часового пояса {offset}", field=field, value=value)
    if value.year < 1000:
        raise InvalidInput(f"{field}: недопустимый год {value.year}", field=field, value=value)
    current = now or datetime.now(UTC)
    if value > current + FUTURE_TOLERANCE:
        raise InvalidInput(f"{field}: дата операции {value.isoformat(timespec='seconds')} ещё не наступила",
                           field=field, value=value.isoformat())
    return value.replace(microsecond=0).isoformat()


def format_date(value, field: str) -> str:
    """date_type: `dd.mm.yyyy` (years 1900-9999)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(f"{field}: ожидается дата (без времени), получено «{value}»", field=field, value=value)
    if value.year < 1900:
        raise InvalidInput(f"{field}: недопустимый год {value.year}", field=field, value=value)
    return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"


def check_text(value, field: str, max_length: int = 200) -> str:
    """string_clear_type of up to `max_length` characters; surrounding spaces are trimmed, a line break,
    a control character or nothing left is refused."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: ожидается строка, получено «{value}»", field=field, value=value)
    text = value.strip()
    if not text:
        raise InvalidInput(f"{field}: значение не может быть пустым", field=field, value=value)
    if len(text) > max_length:
        raise InvalidInput(f"{field}: не более {max_length} символов, получено {len(text)}", field=field, value=value)
    if _NOT_XML.search(text) or "\n" in text or "\r" in text:
        raise InvalidInput(f"{field}: недопустимый символ (перевод строки или управляющий)", field=field,
                           value=value)
    return text


def check_enum(value, enum: type[IntEnum], field: str, allowed=None) -> str:
    try:
        member = enum(value)
    except ValueError:
        member = None
    if member is None or isinstance(value, bool) or (allowed is not None and member not in allowed):
        choices = ", ".join(str(int(m)) for m in (allowed or enum))
        raise InvalidInput(f"{field}: недопустимое значение «{value}», допустимы: {choices}", field=field,
                           value=value)
    return str(int(member))


def format_price(value, field: str) -> str:
    """price_type: a non-negative decimal with at most 2 places after the point, roubles."""
    if isinstance(value, (float, bool)):
        raise InvalidInput(f"{field}: сумма передаётся как Decimal, не float", field=field, value=value)
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput(f"{field}: ожидается сумма, получено «{value}»", field=field, value=value) from None
    if not amount.is_finite() or amount < 0 or amount >= _PRICE_LIMIT:
        raise InvalidInput(f"{field}: недопустимая сумма «{value}»", field=field, value=value)
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(f"{field}: сумма «{value}» точнее копеек", field=field, value=value)
    return f"{amount:.2f}"


def check_part(value, field: str) -> str:
    """part_type: `n/m` with 0 < n <= m, the part of a secondary pack."""
    match = _PART.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) > int(match.group(2)):
        raise InvalidInput(f"{field}: доля упаковки записывается как «n/m» (n ≤ m), получено «{value}»",
                           field=field, value=value)
    return value


def check_country(value, field: str) -> str:
    if not isinstance(value, str) or not _COUNTRY.fullmatch(value):
        raise InvalidInput(f"{field}: код страны — две латинские заглавные буквы, получено «{value}»",
                           field=field, value=value)
    return value


def check_inn_kpp(inn, kpp, field: str) -> tuple[str, str | None]:
    """An organization's INN (10 digits, with KPP) or an individual entrepreneur's (12 digits, no KPP)."""
    if isinstance(inn, str) and _INN_UL.fullmatch(inn):
        if not isinstance(kpp, str) or not _KPP.fullmatch(kpp):
            raise InvalidInput(f"{field}: для ИНН юридического лица нужен КПП из 9 цифр, получено «{kpp}»",
                               field=f"{field}.kpp", value=kpp)
        return inn, kpp
    if isinstance(inn, str) and _INN_FL.fullmatch(inn):
        if kpp:
            raise InvalidInput(f"{field}: у ИНН физического лица (12 цифр) КПП не указывается",
                               field=f"{field}.kpp", value=kpp)
        return inn, None
    raise InvalidInput(f"{field}: ИНН — 10 цифр (юридическое лицо) или 12 цифр (ИП), получено «{inn}»",
                       field=f"{field}.inn", value=inn)
