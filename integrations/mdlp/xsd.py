"""Reading MDLP XML safely and checking documents against the official XSD (docs/mdlp.md, «Documents»).

The schemas are reference data outside the project: `settings.MDLP_SCHEMA_DIR` points at the folder
with `documents.xsd` (which includes every scheme). A compiled schema is kept once per process; the
compile and each validation run under a lock, so threads share it safely (lxml keeps the error log of
the last validation on the schema object).

Anything that comes from outside (MDLP answers, notifications, files) is read only through
`parse_safely`: no DTD, no entities, no network, a size limit.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from django.conf import settings
from lxml import etree

from llo.errors import ApplicationError

# Documents above this size are refused before parsing. A 25,000-item notification is about 5 MB;
# tests and callers may pass their own limit.
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
MAX_ERRORS = 20  # schema errors kept in DocumentInvalid.details

_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")


class DocumentInvalid(ApplicationError):
    """A document does not conform to the official XSD."""

    code = "mdlp.document_invalid"
    http_status = 422


class DocumentMalformed(ApplicationError):
    """Not well-formed XML, a DTD/entity declaration, or too large: refused before anything reads it."""

    code = "mdlp.xml_malformed"
    http_status = 422


class SchemaMissing(ApplicationError, RuntimeError):
    """The official schemas are not where `MDLP_SCHEMA_DIR` points."""

    code = "mdlp.schema_missing"
    http_status = 503


def schema_dir() -> Path:
    return Path(settings.MDLP_SCHEMA_DIR)


def schema_path() -> Path:
    return schema_dir() / "documents.xsd"


def schema_available() -> bool:
    return schema_path().is_file()


# --- safe parsing ------------------------------------------------------------------------------

def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not meant to be shared between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           dtd_validation=False, remove_comments=False)


def parse_safely(xml: bytes, *, max_bytes: int | None = None) -> etree._Element:
    """The root element of `xml`; DocumentMalformed for broken XML, any DOCTYPE/ENTITY declaration
    (XML bombs, external entities), or more than `max_bytes` (default MAX_DOCUMENT_BYTES)."""
    if isinstance(xml, (bytearray, memoryview)):
        xml = bytes(xml)
    if not isinstance(xml, bytes):
        raise TypeError("parse_safely expects bytes")
    limit = MAX_DOCUMENT_BYTES if max_bytes is None else max_bytes
    if len(xml) > limit:
        raise DocumentMalformed(
            f"Документ МДЛП слишком большой: {len(xml)} байт при пределе {limit}",
            details={"size": len(xml), "limit": limit})
    if not xml or xml.isspace():
        raise DocumentMalformed("Документ МДЛП пуст", details={"reason": "empty"})
    # A DTD is never legitimate in MDLP documents; refuse it before the parser sees it.
    if any(marker in xml for marker in _FORBIDDEN):
        raise DocumentMalformed("Документ МДЛП содержит объявление DOCTYPE/ENTITY: такие документы не принимаются",
                                details={"reason": "doctype"})
    try:
        root = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError as exc:
        raise DocumentMalformed(f"Документ МДЛП не разбирается как XML: {exc}",
                                details={"reason": "syntax", "error": str(exc)}) from None
    if root is None:  # pragma: no cover - lxml raises instead, kept for safety
        raise DocumentMalformed("Документ МДЛП пуст", details={"reason": "empty"})
    # Belt and braces: a DTD in another encoding (UTF-16) passes the byte check above.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise DocumentMalformed("Документ МДЛП содержит объявление DOCTYPE/ENTITY: такие документы не принимаются",
                                details={"reason": "doctype"})
    return root


# --- schemas -----------------------------------------------------------------------------------

class _Compiled:
    def __init__(self, schema: etree.XMLSchema):
        self.schema = schema
        self.lock = threading.Lock()


_cache: dict[tuple[str, str | None], _Compiled] = {}
_cache_lock = threading.Lock()


def _schema_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _wrapper(scheme: str) -> bytes:
    """A schema with only one document element: the scheme's own file (with base types it includes)
    and a `documents` root like documents.xsd's, whose choice holds `scheme` alone."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<xs:schema elementFormDefault="qualified" xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:include schemaLocation="{scheme_file(scheme).name}"/>
  <xs:element name="documents">
    <xs:complexType>
      <xs:choice><xs:element name="{scheme}" type="{scheme}"/></xs:choice>
      <xs:attribute name="version" type="xs:string" use="required"/>
      <xs:attribute name="session_ui" type="string200_type"/>
      <xs:attribute name="original_id" type="string200_type"/>
      <xs:attribute name="client_identifier" type="string200_type"/>
    </xs:complexType>
  </xs:element>
</xs:schema>""".encode()


def scheme_file(scheme: str) -> Path:
    """The official file of a document element, e.g. 'move_order' -> <dir>/415-move_order.xsd."""
    if not re.fullmatch(r"[a-z_]{1,64}", scheme):
        raise ValueError(f"not an MDLP document element: {scheme!r}")
    found = sorted(schema_dir().glob(f"*-{scheme}.xsd"))
    found = [path for path in found if path.name.split("-", 1)[0].isdigit()]
    if len(found) != 1:
        raise SchemaMissing(f"Схема документа МДЛП «{scheme}» не найдена в {schema_dir()} "
                            "(настройка MDLP_SCHEMA_DIR)")
    return found[0]


def _compiled(scheme: str | None) -> _Compiled:
    path = schema_path()
    key = (str(path), scheme)
    compiled = _cache.get(key)
    if compiled is not None:
        return compiled
    with _cache_lock:
        compiled = _cache.get(key)
        if compiled is None:
            if not path.is_file():
                raise SchemaMissing(f"Схемы МДЛП не найдены: {path} (настройка MDLP_SCHEMA_DIR)")
            if scheme is None:
                doc = etree.parse(str(path), _schema_parser())
            else:
                doc = etree.fromstring(_wrapper(scheme), _schema_parser(),
                                       base_url=str(schema_dir()) + "/").getroottree()
            compiled = _cache[key] = _Compiled(etree.XMLSchema(doc))
    return compiled


def load_schema(scheme: str | None = None) -> etree.XMLSchema:
    """The compiled documents.xsd (or, with `scheme`, the one-scheme schema); compiled once per process."""
    return _compiled(scheme).schema


def validate_tree(root: etree._Element, *, scheme: str | None = None) -> None:
    """Check a parsed document; raise DocumentInvalid naming the first error line.

    By default against documents.xsd. `scheme` ('move_order', ...) validates against that scheme's own
    file plus the base types: the same rules for that document, a smaller schema to compile."""
    compiled = _compiled(scheme)
    with compiled.lock:
        if compiled.schema.validate(root):
            return
        errors = [f"строка {e.line}: {e.message}" for e in list(compiled.schema.error_log)[:MAX_ERRORS]]
    if not errors:  # pragma: no cover - libxml2 always logs a reason
        errors = ["строка ?: документ не соответствует схеме"]
    raise DocumentInvalid(f"Документ МДЛП не соответствует схеме ({scheme_label(scheme)}): {errors[0]}",
                          details={"errors": errors})


def validate(xml: bytes, *, scheme: str | None = None) -> None:
    """Check a document against the official XSD (documents.xsd, loaded once per process).

    DocumentMalformed if it is not safe well-formed XML, DocumentInvalid (first error line in the
    message, up to MAX_ERRORS in details["errors"]) if it breaks the schema, SchemaMissing if
    MDLP_SCHEMA_DIR has no documents.xsd."""
    validate_tree(parse_safely(xml), scheme=scheme)


def scheme_label(scheme: str | None) -> str:
    return "documents.xsd" if scheme is None else scheme_file(scheme).name
