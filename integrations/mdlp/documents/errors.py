"""Errors of the document builders and parsers (the XML-level ones live in integrations.mdlp.xsd)."""

from llo.errors import ValidationFailed

from ..xsd import DocumentInvalid


class InvalidInput(ValidationFailed):
    """A builder's input breaks a rule of the scheme: nothing is built.

    `details` name the field (e.g. "sgtins[3]") and the value, so a handler can point at the item."""

    code = "mdlp.invalid_input"

    def __init__(self, message: str, *, field: str, value=None, **details):
        super().__init__(message, details={"field": field, "value": None if value is None else str(value)[:200],
                                           **details})


class WrongDocumentType(DocumentInvalid):
    """A parser got a document of another scheme (or not an MDLP document at all)."""

    code = "mdlp.wrong_document_type"


class DocumentIncomplete(DocumentInvalid):
    """An incoming document lacks an element the scheme requires, or a value has the wrong format."""

    code = "mdlp.document_incomplete"
