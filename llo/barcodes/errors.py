"""The one error every barcode parser raises: a stable English code and a Russian message."""

from llo.errors import ValidationFailed


class BarcodeError(ValidationFailed):
    """A scan or a label text that cannot be used; `message` tells the user what to do.

    A `ValidationFailed` (HTTP 422), so views and the API show it like any domain error.
    """

    def __init__(self, code: str, message: str, **details):
        super().__init__(message, code=code, details=details)
