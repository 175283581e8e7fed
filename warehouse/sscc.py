"""SSCC numbers for the transport packs the regional warehouse forms (aggregation, shipment).

The serial reference is the next value of the PostgreSQL sequence `warehouse_sscc_serial`
(migration 0003): unique across concurrent transactions and never reused, even when a
transaction rolls back (a gap in SSCC numbers is harmless; a repeat is not).
"""

from django.conf import settings
from django.db import connection

from llo.barcodes import make_sscc, sscc_capacity


def sscc_next(*, extension_digit: int | None = None) -> str:
    """A new 18-digit SSCC (without the AI 00) under the region's GS1 company prefix."""
    prefix = settings.LLO_GS1_COMPANY_PREFIX
    if extension_digit is None:
        extension_digit = settings.LLO_SSCC_EXTENSION_DIGIT
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('warehouse_sscc_serial')")
        (serial_reference,) = cursor.fetchone()
    if serial_reference >= sscc_capacity(prefix):
        raise RuntimeError(
            f"SSCC serial references under prefix {prefix} are used up: set another "
            "LLO_SSCC_EXTENSION_DIGIT or LLO_GS1_COMPANY_PREFIX")
    return make_sscc(extension_digit=extension_digit, company_prefix=prefix,
                     serial_reference=serial_reference)
