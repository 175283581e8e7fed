"""SNILS: the personal insurance number (11 digits, `XXX-XXX-XXX YY`, the last two a checksum)."""

from llo.validators import format_snils, snils_check_digits, snils_complete, validate_snils

__all__ = ["format_snils", "snils_check_digits", "snils_complete", "validate_snils"]
