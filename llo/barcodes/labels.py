"""The system's own Code128 labels: prescriptions, storage addresses, documents.

Each text starts with a Latin prefix and a hyphen, so a scan always holds a letter and a
Russian keyboard layout is always detected and repaired (keyboard.py); apart from that only
digits, Latin capitals and `-` — the same keys in every layout:

    RX-<series>-<number>   prescription: series 1–12 of [0-9A-Z], number 1–20 digits
    ADR-<address>          storage address: 1–6 parts of [0-9A-Z]{1,6} joined by `-`
    DOC-<type>-<number>    document: type 1–10 of [A-Z], number 1–20 of [0-9A-Z]

Scans are read ignoring case (Caps Lock on the scanner's computer inverts it).
"""

import re

from .errors import BarcodeError

PRESCRIPTION_PREFIX = "RX-"
ADDRESS_PREFIX = "ADR-"
DOCUMENT_PREFIX = "DOC-"

_SERIES = re.compile(r"[0-9A-Z]{1,12}")
_NUMBER = re.compile(r"[0-9]{1,20}")
_ADDRESS = re.compile(r"[0-9A-Z]{1,6}(?:-[0-9A-Z]{1,6}){0,5}")
_DOC_TYPE = re.compile(r"[A-Z]{1,10}")
_DOC_NUMBER = re.compile(r"[0-9A-Z]{1,20}")

_PRESCRIPTION = re.compile(rf"RX-({_SERIES.pattern})-({_NUMBER.pattern})")
_DOCUMENT = re.compile(rf"DOC-({_DOC_TYPE.pattern}-{_DOC_NUMBER.pattern})")
_LABEL = re.compile(r"(RX|ADR|DOC)-", re.IGNORECASE)


def _check(pattern: re.Pattern, value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{what} {value!r} does not match {pattern.pattern}")
    return value


def prescription_label(series: str, number: str) -> str:
    """The text of a prescription's barcode; raises ValueError for a series or number that
    cannot be printed in it."""
    return (f"{PRESCRIPTION_PREFIX}{_check(_SERIES, series, 'series')}-"
            f"{_check(_NUMBER, number, 'number')}")


def address_label(address: str) -> str:
    """The text of a storage address label, e.g. `A-01-02-03` (zone-rack-shelf-cell)."""
    return ADDRESS_PREFIX + _check(_ADDRESS, address, "address")


def document_label(doc_type: str, number: str) -> str:
    """The text of a document's barcode, e.g. ("SHIP", "000123") → `DOC-SHIP-000123`."""
    return (f"{DOCUMENT_PREFIX}{_check(_DOC_TYPE, doc_type, 'document type')}-"
            f"{_check(_DOC_NUMBER, number, 'document number')}")


def is_label(text: str) -> bool:
    return _LABEL.match(text) is not None


def parse_label(text: str) -> tuple[str, dict[str, str]]:
    """(kind, fields) of a label text that `is_label`; raises BarcodeError."""
    text = text.upper()
    if text.startswith(PRESCRIPTION_PREFIX):
        if match := _PRESCRIPTION.fullmatch(text):
            return "prescription", {"prescription_series": match[1],
                                    "prescription_number": match[2]}
        what = "рецепта"
    elif text.startswith(ADDRESS_PREFIX):
        if _ADDRESS.fullmatch(address := text[len(ADDRESS_PREFIX):]):
            return "address", {"value": address}
        what = "адреса хранения"
    else:
        if match := _DOCUMENT.fullmatch(text):
            return "document", {"value": match[1]}
        what = "документа"
    raise BarcodeError(
        "bad_label",
        f"Штрихкод {what} «{text}» повреждён или напечатан не этой системой. Отсканируйте его ещё "
        "раз или найдите объект по номеру.",
    )
