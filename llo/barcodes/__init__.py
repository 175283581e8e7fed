"""Barcodes: what scanners send (parse_scan), GS1 DataMatrix images, SSCC, our Code128 labels.

No Django models here: the package works on strings, numbers and bytes. See docs/barcodes.md.
"""

from .check_digits import (
    gs1_check_digit,
    has_valid_check_digit,
    is_valid_gtin,
    is_valid_sscc,
    validate_gtin,
    with_check_digit,
)
from .code128 import code128_modules, code128_png, code128_svg
from .datamatrix import (
    DataMatrixUnavailable,
    datamatrix_available,
    decode_datamatrix,
    encode_datamatrix,
)
from .errors import BarcodeError
from .gs1 import GS1_CHARS, gs1_date, join_elements, split_elements
from .keyboard import as_typed_in_russian_layout, fix_russian_layout
from .labels import address_label, document_label, prescription_label
from .scan import Kind, ScannedCode, parse_scan
from .scanner import GS, GS_RENDERINGS, MAX_INPUT, normalize_scan
from .sscc import make_sscc, sscc_capacity

__all__ = [
    "GS", "GS1_CHARS", "GS_RENDERINGS", "MAX_INPUT",
    "BarcodeError", "DataMatrixUnavailable", "Kind", "ScannedCode",
    "address_label", "as_typed_in_russian_layout", "code128_modules", "code128_png",
    "code128_svg", "datamatrix_available", "decode_datamatrix", "document_label",
    "encode_datamatrix", "fix_russian_layout", "gs1_check_digit", "gs1_date",
    "has_valid_check_digit", "is_valid_gtin", "is_valid_sscc", "join_elements", "make_sscc",
    "normalize_scan", "parse_scan", "prescription_label", "split_elements", "sscc_capacity",
    "validate_gtin", "with_check_digit",
]
