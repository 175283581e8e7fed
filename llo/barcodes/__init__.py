"""GS1 identifiers and scanner input. Check digits live here; the scan parser and DataMatrix
encoding come with the stock issue."""

from .gs1 import gs1_check_digit, is_valid_gtin, validate_gtin

__all__ = ["gs1_check_digit", "is_valid_gtin", "validate_gtin"]
