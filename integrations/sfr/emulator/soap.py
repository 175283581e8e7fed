"""SOAP 1.1 of the emulated service: the WSDL, reading a request (safely, and checked against the
WSDL's schema) and writing answers and faults with lxml."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree

from ..dbf import PERSON_FIELDS
from .store import BENEFIT_FIELDS, Entry

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
TNS = "urn:ru:sfr:frl:changes:1"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL_FILE = Path(__file__).with_name("FrlChangesService.wsdl")
ADDRESS_MARK = b'"{{SERVICE_ADDRESS}}"'
OPERATIONS = {f"{{{TNS}}}GetCurrentVersionRequest": "GetCurrentVersion", f"{{{TNS}}}GetChangesRequest": "GetChanges"}
CONTENT_TYPE = "text/xml; charset=utf-8"
NSMAP = {"soap": SOAP_ENV, "tns": TNS}


class SoapFault(Exception):
    """A SOAP Fault to answer: faultcode Client (the request is wrong) or Server (our trouble)."""

    def __init__(self, side: str, text: str, code: str):
        super().__init__(text)
        self.side = side  # "Client" | "Server"
        self.text = text
        self.code = code  # FrlFault/code: a stable identifier


@dataclass(frozen=True)
class Request:
    operation: str  # GetCurrentVersion | GetChanges
    values: dict[str, str]  # child elements of the request element by local name


def wsdl(address: str) -> bytes:
    """The WSDL with the service address filled in."""
    return _wsdl_text().replace(ADDRESS_MARK, quoteattr(address).encode())


@cache
def _wsdl_text() -> bytes:
    return WSDL_FILE.read_bytes()


@cache
def _schema() -> etree.XMLSchema:
    root = etree.fromstring(_wsdl_text(), _parser())
    # serialised on its own, the schema keeps the namespace declarations it inherits (tns:)
    return etree.XMLSchema(_detached(root.find(f".//{{{XSD}}}schema")))


def _parser() -> etree.XMLParser:
    # no entity expansion, no DTD, no network, no huge trees
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True)


def parse_request(body: bytes) -> Request:
    if not body.strip():
        raise SoapFault("Client", "Пустой запрос: ожидается конверт SOAP 1.1", "BAD_REQUEST")
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Client", f"Запрос не является корректным XML: {exc.msg}", "BAD_REQUEST") from None
    if root.getroottree().docinfo.doctype:
        raise SoapFault("Client", "DTD в запросе не допускается", "BAD_REQUEST")
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        raise SoapFault("VersionMismatch", "Сервис принимает только SOAP 1.1", "BAD_REQUEST")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("Client", "Корневой элемент запроса должен быть soap:Envelope (SOAP 1.1)", "BAD_REQUEST")
    bodies = root.findall(f"{{{SOAP_ENV}}}Body")
    if len(bodies) != 1:
        raise SoapFault("Client", "В конверте SOAP должен быть ровно один элемент soap:Body", "BAD_REQUEST")
    payload = [child for child in bodies[0] if isinstance(child.tag, str)]
    if len(payload) != 1:
        raise SoapFault("Client", "В soap:Body должен быть ровно один элемент запроса", "BAD_REQUEST")
    element = payload[0]
    operation = OPERATIONS.get(element.tag)
    if operation is None:
        raise SoapFault("Client", f"Неизвестная операция {etree.QName(element).localname}: сервис выполняет "
                                  "GetCurrentVersion и GetChanges", "UNKNOWN_OPERATION")
    try:
        _schema().assertValid(_detached(element))
    except etree.DocumentInvalid as exc:
        raise SoapFault("Client", f"Запрос {operation} не соответствует схеме сервиса (WSDL): {exc}",
                        "BAD_REQUEST") from None
    values = {etree.QName(child).localname: (child.text or "").strip()
              for child in element if isinstance(child.tag, str)}
    return Request(operation, values)


def _detached(element):
    """A copy of `element` as a document of its own."""
    return etree.fromstring(etree.tostring(element), _parser())


# --- answers --------------------------------------------------------------------------------


def _envelope(payload) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=NSMAP)
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _sub(parent, name: str, text: str | None = None):
    child = etree.SubElement(parent, f"{{{TNS}}}{name}")
    if text is not None:
        child.text = text
    return child


def current_version_answer(version: int, day: date, *, extra: bool = False) -> bytes:
    """`extra` adds an element the WSDL does not know (the emulator's `corrupt: schema`)."""
    answer = etree.Element(f"{{{TNS}}}GetCurrentVersionResponse", nsmap={"tns": TNS})
    _sub(answer, "version", str(version))
    _sub(answer, "date", day.isoformat())
    if extra:
        _sub(answer, "SURPRISE", "поле, которого нет в WSDL")
    return _envelope(answer)


def changes_answer(version: int, next_token: str | None, entries: list[Entry], *, extra: bool = False) -> bytes:
    """`extra` adds an element the WSDL does not know (the emulator's `corrupt: schema`)."""
    answer = etree.Element(f"{{{TNS}}}GetChangesResponse", nsmap={"tns": TNS})
    _sub(answer, "version", str(version))
    if next_token:
        _sub(answer, "nextPageToken", next_token)
    for entry in entries:
        person = _sub(answer, "person")
        person.set("action", entry.action)
        for name in PERSON_FIELDS:
            if name in entry.person:
                _sub(person, name, entry.person[name])
        if extra:
            _sub(person, "SURPRISE", "поле, которого нет в WSDL")
        for benefit in entry.benefits:
            element = _sub(person, "benefit")
            for name in BENEFIT_FIELDS:
                if name in benefit:
                    _sub(element, name, benefit[name])
    if extra and not entries:
        _sub(answer, "SURPRISE", "поле, которого нет в WSDL")
    return _envelope(answer)


def fault_answer(fault: SoapFault) -> bytes:
    element = etree.Element(f"{{{SOAP_ENV}}}Fault", nsmap=NSMAP)
    # faultcode, faultstring and detail are unqualified in SOAP 1.1
    etree.SubElement(element, "faultcode").text = f"soap:{fault.side}"
    etree.SubElement(element, "faultstring").text = fault.text
    detail = etree.SubElement(etree.SubElement(element, "detail"), f"{{{TNS}}}FrlFault", nsmap={"tns": TNS})
    _sub(detail, "code", fault.code)
    return _envelope(element)


# --- hostile answers (the emulator's `hostile` control) -----------------------------------------

_BOMB_DTD = "".join(
    [' <!ENTITY lol0 "lol">\n']
    + [f' <!ENTITY lol{n} "{"".join(f"&lol{n - 1};" for _ in range(10))}">\n' for n in range(1, 10)]
)
HOSTILE_DTD = {
    # a billion laughs: ten levels of ten references, 10^9 copies of "lol" if expanded
    "bomb": (f"<!DOCTYPE soap:Envelope [\n{_BOMB_DTD}]>", "&lol9;"),
    # an external entity: the contents of /etc/passwd if fetched
    "xxe": ('<!DOCTYPE soap:Envelope [\n <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>', "&xxe;"),
}


def hostile_answer(kind: str, operation: str) -> bytes:
    doctype, reference = HOSTILE_DTD[kind]
    if operation == "GetCurrentVersion":
        payload = (f"<tns:GetCurrentVersionResponse><tns:version>{reference}</tns:version>"
                   "<tns:date>2026-11-23</tns:date></tns:GetCurrentVersionResponse>")
    else:
        payload = (f'<tns:GetChangesResponse><tns:version>2</tns:version><tns:person action="upsert">'
                   f"<tns:SS>{reference}</tns:SS><tns:FAM>{reference}</tns:FAM></tns:person></tns:GetChangesResponse>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n<soap:Envelope xmlns:soap="{SOAP_ENV}" '
            f'xmlns:tns="{TNS}"><soap:Body>{payload}</soap:Body></soap:Envelope>').encode()
