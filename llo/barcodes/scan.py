"""`parse_scan`: whatever a scanner typed into a field → one `ScannedCode`, or BarcodeError."""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from .check_digits import GTIN_LENGTHS, SSCC_LENGTH
from .errors import BarcodeError
from .gs1 import Elements, gs1_date, is_digits, join_elements, split_elements
from .labels import is_label, parse_label
from .scanner import normalize_scan

PATIENT_TOKEN_LENGTH = 32  # registry/patient_token.py: 32 digits, format version "1" first
PATIENT_TOKEN_VERSION = "1"


class Kind(StrEnum):
    SGTIN = "sgtin"                # a marked drug pack: GTIN + serial (+ key, crypto code)
    GTIN = "gtin"                  # a product without a serial: EAN-8/13, UPC, GTIN-14, AI 01
    SSCC = "sscc"                  # a transport pack
    PRESCRIPTION = "prescription"  # our prescription barcode (labels.py)
    PATIENT = "patient"            # the patient's QR token (registry/patient_token.py)
    ADDRESS = "address"            # our storage address label
    DOCUMENT = "document"          # our document label


@dataclass(frozen=True, slots=True)
class ScannedCode:
    kind: Kind
    gs1: str | None = None                # normalized GS1 element string, GS between fields
    elements: tuple[tuple[str, str], ...] = ()  # its (AI, value) pairs in order
    gtin: str | None = None               # always 14 digits
    serial: str | None = None
    sgtin: str | None = None              # gtin + serial, 27 characters
    verification_key: str | None = None   # AI 91
    crypto_code: str | None = None        # AI 92
    sscc: str | None = None               # 18 digits, without the AI 00
    expiry: date | None = None            # AI 17
    batch: str | None = None              # AI 10 (the drug's «серия»)
    prescription_series: str | None = None
    prescription_number: str | None = None
    value: str | None = None              # address, document (TYPE-NUMBER) or patient token
    symbology: str | None = None          # the AIM identifier the scanner sent, e.g. "]d2"


def parse_scan(raw: str) -> ScannedCode:
    """Parse one scan; raises BarcodeError with a stable `code` and a Russian message."""
    text, symbology = normalize_scan(raw)
    if is_label(text):
        kind, fields = parse_label(text)
        return ScannedCode(kind=Kind(kind), symbology=symbology, **fields)
    if is_digits(text):
        if len(text) == PATIENT_TOKEN_LENGTH and text.startswith(PATIENT_TOKEN_VERSION):
            return ScannedCode(kind=Kind.PATIENT, value=text, symbology=symbology)
        if len(text) in GTIN_LENGTHS:  # a bare EAN/UPC/ITF-14
            text = "01" + text.zfill(14)
        elif len(text) == SSCC_LENGTH:  # an SSCC typed or printed without its AI
            text = "00" + text
    if text[0].isdigit():
        return _from_elements(split_elements(text), symbology)
    raise BarcodeError(
        "not_a_code",
        "Это не код, который понимает система. Отсканируйте DataMatrix на упаковке, SSCC "
        "транспортной упаковки, штрихкод рецепта, QR-код пациента или этикетку адреса.",
    )


def _from_elements(elements: Elements, symbology: str | None) -> ScannedCode:
    values = dict(elements)
    expiry = gs1_date(values["17"]) if "17" in values else None
    gtin, serial, sscc = values.get("01"), values.get("21"), values.get("00")
    if sscc:
        kind = Kind.SSCC
    elif serial and gtin:
        kind = Kind.SGTIN
    elif gtin and not {"21", "91", "92"} & values.keys():
        kind = Kind.GTIN
    else:
        missing = "GTIN (01)" if not gtin else "серийного номера (21)"
        raise BarcodeError(
            "incomplete",
            f"В коде нет {missing}: это не код упаковки. Отсканируйте DataMatrix на упаковке "
            "целиком или SSCC транспортной упаковки.",
        )
    return ScannedCode(
        kind=kind, gs1=join_elements(elements), elements=tuple(elements), gtin=gtin,
        serial=serial, sgtin=gtin + serial if kind == Kind.SGTIN else None,
        verification_key=values.get("91"), crypto_code=values.get("92"), sscc=sscc,
        expiry=expiry, batch=values.get("10"), symbology=symbology,
    )
