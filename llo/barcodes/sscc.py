"""SSCC for the system's own transport packs: extension digit + GS1 company prefix + serial
reference + check digit, 18 digits.

The serial reference comes from the caller; `warehouse/sscc.py` takes it from a PostgreSQL
sequence and the company prefix from settings (`LLO_GS1_COMPANY_PREFIX`).
"""

from .check_digits import SSCC_LENGTH, with_check_digit


def sscc_capacity(company_prefix: str) -> int:
    """How many serial references a company prefix leaves room for."""
    return 10 ** (SSCC_LENGTH - 2 - len(company_prefix))


def make_sscc(*, extension_digit: int, company_prefix: str, serial_reference: int) -> str:
    """The 18-digit SSCC (without the AI 00); raises ValueError for parts that do not fit."""
    if not 0 <= extension_digit <= 9:
        raise ValueError(f"extension digit {extension_digit} is not 0-9")
    if not (company_prefix.isascii() and company_prefix.isdigit()
            and 4 <= len(company_prefix) <= 12):
        raise ValueError(f"GS1 company prefix {company_prefix!r} is not 4-12 digits")
    if not 0 <= serial_reference < sscc_capacity(company_prefix):
        raise ValueError(
            f"serial reference {serial_reference} does not fit beside prefix {company_prefix}")
    width = SSCC_LENGTH - 2 - len(company_prefix)
    return with_check_digit(f"{extension_digit}{company_prefix}{serial_reference:0{width}d}")
