"""СЭМД kind 37 «Льготный рецепт на лекарственный препарат, изделие медицинского назначения и
специализированный продукт лечебного питания» (CDA R2, edition 4, templateId
1.2.643.5.1.13.13.14.37.9.4), built from a prescription, and its check against the official schema.

The document is what the doctor signs (prescriptions/signing.py) and EGISZ receives; its bytes are
stored as signed, so the same prescription always gives the same bytes. docs/semd.md says what goes
where and which code values still have to be checked against the published NSI.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone
from lxml import etree

from llo.errors import ValidationFailed
from llo.models import FundingSource, ProgramKind
from llo.models.catalogue import ProductKind
from llo.reference.nsi import dictionaries as nsi
from llo.selectors import region_of

from .models import Urgency

NS = {"hl7": "urn:hl7-org:v3", "xsi": "http://www.w3.org/2001/XMLSchema-instance",
      "identity": "urn:hl7-ru:identity", "address": "urn:hl7-ru:address", "fias": "urn:hl7-ru:fias"}
NSMAP = {None: NS["hl7"], **{prefix: uri for prefix, uri in NS.items() if prefix != "hl7"}}

TEMPLATE_ID = "1.2.643.5.1.13.13.14.37.9.4"
SNILS_ROOT = "1.2.643.100.3"
MINZDRAV_OID = "1.2.643.5.1.13"
TITLE = ("Льготный рецепт на лекарственный препарат, изделие медицинского назначения и специализированный "
         "продукт лечебного питания")


class CodeSystem(NamedTuple):
    oid: str
    name: str
    version: str


# The NSI dictionaries the document codes by (OID, name, version written into codeSystemVersion).
DOC_KINDS = CodeSystem("1.2.643.5.1.13.13.11.1522", "Виды медицинской документации", "5.15")
CONFIDENTIALITY = CodeSystem("1.2.643.5.1.13.13.99.2.285", "Уровень конфиденциальности медицинского документа", "1.2")
SEXES = CodeSystem("1.2.643.5.1.13.13.11.1040", "Пол пациента", "2.1")
ADDRESS_TYPES = CodeSystem("1.2.643.5.1.13.13.11.1504", "Тип адреса пациента", "1.3")
REGIONS = CodeSystem("1.2.643.5.1.13.13.99.2.206", "Субъекты Российской Федерации", "6.3")
POLICY_TYPES = CodeSystem("1.2.643.5.1.13.13.11.1035", "Виды полиса обязательного медицинского страхования", "1.1")
POSITIONS = CodeSystem("1.2.643.5.1.13.13.11.1002", "Должности медицинских и фармацевтических работников", "7.5")
EVENTS = CodeSystem("1.2.643.5.1.13.13.99.2.726", "Типы документированных событий", "3.1")
SECTIONS = CodeSystem("1.2.643.5.1.13.13.99.2.197", "Секции CDA документов", "2.1")
FIELDS = CodeSystem("1.2.643.5.1.13.13.99.2.166", "Кодируемые поля CDA документов", "2.1")
PRIORITIES = CodeSystem("1.2.643.5.1.13.13.99.2.609", "Приоритет исполнения рецепта", "1.1")
VALIDITY = CodeSystem(nsi.VALIDITY, "Сроки действия рецепта", "1.2")
ICD10 = CodeSystem(nsi.ICD10, "Международная статистическая классификация болезней и проблем, связанных со "
                   "здоровьем (10-й пересмотр)", "2.19")
CATEGORIES = CodeSystem(nsi.BENEFIT_CATEGORIES, "Льготные категории граждан", "6.14")
BENEFIT_SIZES = CodeSystem("1.2.643.5.1.13.13.99.2.605", "Виды предоставляемых льгот", "3.2")
UNITS = CodeSystem(nsi.UNITS, "Единицы измерения", "3.2")
ROUTES = CodeSystem(nsi.ROUTES, "Пути введения лекарственных препаратов, в том числе для льготного обеспечения "
                    "граждан лекарственными средствами", "2.3")
PRODUCTS = {  # a standardized drug's `source` -> the dictionary that codes it
    nsi.SMNN: CodeSystem(nsi.SMNN, "Узлы СМНН (стандартизованные наименования лекарственных препаратов)", "5.36"),
    nsi.NUTRITION: CodeSystem(nsi.NUTRITION, "Специализированные продукты лечебного питания", "1.1"),
    nsi.DEVICES: CodeSystem(nsi.DEVICES, "Медицинские изделия, отпускаемые по льготным рецептам", "1.1"),
}

# Code values of the dictionaries above. Values marked "verify" are working assumptions to be checked
# against the published dictionary before go-live (docs/semd.md, «Known gaps»).
DRUG_VALIDITY = {15: ("1", "15 дней"), 30: ("2", "30 дней"), 90: ("4", "90 дней")}
DEVICE_VALIDITY = {30: ("6", "30 дней (медицинские изделия)"), 90: ("7", "90 дней (медицинские изделия)")}  # verify
PRIORITY = {"cito": ("1", "Срочно (cito)"), "statim": ("2", "Немедленно (statim)")}  # verify
BENEFIT_SIZE = {"1": ("1", "Бесплатно"), "2": ("2", "50% стоимости"), "3": ("3", "Иной размер")}  # verify
POSITION_CODE = "109"  # verify: the doctor's position comes as text until ФРМР supplies its federal code
PACK_UNIT = ("128", "упаковка")  # 11.1358; the schematron fixes the code
PERCENT_UNIT = ("53", "%")  # 11.1358; the schematron fixes the code
VK_PROTOCOL_KIND = ("208", "Протокол врачебной комиссии")  # verify: the kind of the linked ВК protocol in 11.1522
PRESCRIPTION_EVENT = ("58", "Формирование рецепта на лекарственный препарат")

# Characters XML 1.0 cannot carry at all: refused, never silently dropped from a signed document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_POSTCODE = re.compile(r"^\s*(\d{6})\b")


class DocumentInvalid(ValidationFailed):
    code = "semd.invalid"


class SchemaMissing(RuntimeError):
    """The official XML Schemas are not where `SEMD_SCHEMA_DIR` points."""


def build_document(prescription) -> bytes:
    """The СЭМД of an issued (possibly not yet saved) prescription: UTF-8 XML with a declaration."""
    doc = Doc(prescription)
    root = etree.Element(q("ClinicalDocument"), nsmap=NSMAP)
    for part in (header, record_target, author, custodian, information_recipient, legal_authenticator,
                 documentation_of, component_of, body):
        part(root, doc)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


class Doc:
    """What every part of the document needs: the prescription, its MO's OID and region, the document's key."""

    def __init__(self, rx):
        self.rx = rx
        self.oid = rx.organization.frmo_oid or settings.SEMD_OID_ROOT
        self.region = region_of(rx.organization.region_id)
        self.key = f"{rx.series}-{rx.number}"
        self.created = timezone.localtime(rx.created_at)
        self.chronic = rx.program.kind in (ProgramKind.VZN, ProgramKind.REGIONAL_DISEASE) or (
            rx.right is not None and rx.right.diagnosis_id is not None)

    def local_id(self, kind: int) -> str:
        """`<MO OID>.100.<system number>.<instance>.<kind>`: the EGISZ rule for ids a system assigns
        (51 documents, 50 their version sets, 10 patients, 70 staff, 15 cases, 16 outpatient cards)."""
        return f"{self.oid}.100.{settings.SEMD_SYSTEM_NUMBER}.{kind}"


# --- small builders ----------------------------------------------------------------------------

def q(tag: str) -> str:
    prefix, _, name = tag.rpartition(":")
    return f"{{{NS[prefix or 'hl7']}}}{name}"


def add(parent, tag: str, text: str | None = None, /, **attrs) -> etree._Element:
    """A child element; `xsi_type` becomes xsi:type, attributes set to None are left out."""
    el = etree.SubElement(parent, q(tag))
    for name, value in attrs.items():
        if value is not None:
            el.set(q("xsi:type") if name == "xsi_type" else name, clean(value))
    if text is not None:
        el.text = clean(text)
    return el


def coded(parent, tag: str, system: CodeSystem, code: str, display: str, **attrs) -> etree._Element:
    return add(parent, tag, code=code, codeSystem=system.oid, codeSystemName=system.name,
               codeSystemVersion=system.version, displayName=display, **attrs)


def clean(value) -> str:
    text = str(value)
    bad = _NOT_XML.search(text)
    if bad:
        shown = _NOT_XML.sub("\ufffd", text[:40])
        raise DocumentInvalid(f"Текст «{shown}» содержит управляющий символ U+{ord(bad.group()):04X}, "
                              "недопустимый в электронном документе: уберите его и повторите",
                              code="semd.invalid_text", details={"char": f"U+{ord(bad.group()):04X}"})
    return text


def optional(parent, tag: str, text: str) -> etree._Element:
    """An element with the text, or marked «not applicable» when there is none."""
    return add(parent, tag, text) if text else add(parent, tag, nullFlavor="NA")


def ts(moment: datetime | date) -> str:
    """HL7 TS: a date as YYYYMMDD, a moment to the minute with the zone, as the schematron wants."""
    if isinstance(moment, datetime):
        return moment.strftime("%Y%m%d%H%M%z")
    return moment.strftime("%Y%m%d")


def snils(value: str) -> str:
    return f"{value[:3]}-{value[3:6]}-{value[6:9]} {value[9:]}"


def percent(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


# --- header ------------------------------------------------------------------------------------

def header(root, doc: Doc) -> None:
    rx = doc.rx
    add(root, "realmCode", code="RU")
    add(root, "typeId", root="2.16.840.1.113883.1.3", extension="POCD_MT000040")
    add(root, "templateId", root=TEMPLATE_ID)
    add(root, "id", root=doc.local_id(51), extension=doc.key)
    coded(root, "code", DOC_KINDS, "37", TITLE)
    add(root, "title", f"Льготный рецепт серия {rx.series} № {rx.number}")
    add(root, "effectiveTime", value=ts(doc.created))
    coded(root, "confidentialityCode", CONFIDENTIALITY, "N", "Обычный")
    add(root, "languageCode", code="ru-RU")
    add(root, "setId", root=doc.local_id(50), extension=doc.key)
    add(root, "versionNumber", value="1")


def record_target(root, doc: Doc) -> None:
    person = doc.rx.person
    if not person.snils:
        raise DocumentInvalid("Для электронного рецепта нужен СНИЛС пациента: внесите его в карточку гражданина "
                              "или выпишите рецепт на бланке", code="semd.patient_snils_missing")
    role = add(add(root, "recordTarget"), "patientRole")
    add(role, "id", root=doc.local_id(10), extension=str(person.pk))
    add(role, "id", root=SNILS_ROOT, extension=snils(person.snils))
    add(role, "identity:IdentityDoc", nullFlavor="NI")  # issuer and date of the ID are not kept
    insurance_policy(role, person.oms_policy)
    patient_address(role, doc)
    patient = add(role, "patient")
    name(patient, person)
    male = person.sex == "M"
    coded(patient, "administrativeGenderCode", SEXES, "1" if male else "2", "Мужской" if male else "Женский")
    add(patient, "birthTime", value=ts(person.birth_date))
    provider = add(role, "providerOrganization")
    add(provider, "id", root=doc.oid)
    props = add(provider, "identity:Props")
    ogrn = doc.rx.organization.ogrn  # 13 digits for a legal entity, 15 for an individual entrepreneur
    optional(props, "identity:Ogrn", ogrn if len(ogrn) == 13 else "")
    optional(props, "identity:Ogrnip", ogrn if len(ogrn) == 15 else "")
    add(provider, "name", doc.rx.organization.name)
    org_address(add(provider, "addr"), doc)


def insurance_policy(role, number: str) -> None:
    number = number.strip()
    if not number:
        add(role, "identity:InsurancePolicy", nullFlavor="NI")
        return
    policy = add(role, "identity:InsurancePolicy")
    unified = len(number) == 16 and number.isdigit()
    coded(policy, "identity:InsurancePolicyType", POLICY_TYPES, *(
        ("3", "Полис ОМС единого образца") if unified else ("1", "Полис ОМС старого образца")))
    add(policy, "identity:Number", number)


def patient_address(role, doc: Doc) -> None:
    person = doc.rx.person
    if not person.address.strip():
        add(role, "addr", nullFlavor="NI")
        return
    addr = add(role, "addr")
    coded(addr, "address:Type", ADDRESS_TYPES, "1", "Адрес по месту жительства (постоянной регистрации)")
    address_lines(addr, person.address, person.region_code or doc.region.code, doc)


def org_address(addr, doc: Doc) -> None:
    address_lines(addr, doc.rx.organization.address.strip() or doc.region.name, doc.region.code, doc)


def address_lines(addr, text: str, region_code: str, doc: Doc) -> None:
    add(addr, "streetAddressLine", text.strip())
    region_name = doc.region.name if region_code == doc.region.code else f"Субъект РФ с кодом {region_code}"
    coded(addr, "address:stateCode", REGIONS, region_code, region_name)
    postcode = _POSTCODE.match(text)
    if postcode:
        add(addr, "postalCode", postcode.group(1))
    else:
        add(addr, "postalCode", nullFlavor="NI")
    add(addr, "fias:Address", nullFlavor="NI")  # FIAS codes of addresses are not kept


def name(parent, who) -> None:
    pn = add(parent, "name")
    add(pn, "family", who.last_name)
    add(pn, "given", who.first_name)
    if who.patronymic:
        add(pn, "identity:Patronymic", who.patronymic)


def doctor_entity(entity, doc: Doc) -> None:
    """The doctor as author and legal authenticator: ids, position, name, workplace."""
    doctor = doc.rx.doctor
    add(entity, "id", root=doc.local_id(70), extension=str(doctor.pk))
    add(entity, "id", root=SNILS_ROOT, extension=snils(doctor.snils))
    coded(entity, "code", POSITIONS, POSITION_CODE, doctor.position)
    name(add(entity, "assignedPerson"), doctor)
    organization = add(entity, "representedOrganization", classCode="ORG")
    add(organization, "id", root=doc.oid)
    add(organization, "name", doc.rx.organization.name)
    org_address(add(organization, "addr"), doc)


def author(root, doc: Doc) -> None:
    element = add(root, "author")
    add(element, "time", nullFlavor="NI")
    doctor_entity(add(element, "assignedAuthor"), doc)


def custodian(root, doc: Doc) -> None:
    organization = add(add(add(root, "custodian"), "assignedCustodian"), "representedCustodianOrganization",
                       classCode="ORG")
    add(organization, "id", root=doc.oid)
    add(organization, "name", doc.rx.organization.name)
    org_address(add(organization, "addr"), doc)


def information_recipient(root, doc: Doc) -> None:
    organization = add(add(add(root, "informationRecipient"), "intendedRecipient"), "receivedOrganization")
    add(organization, "id", root=MINZDRAV_OID)
    add(organization, "name", "Министерство здравоохранения Российской Федерации")


def legal_authenticator(root, doc: Doc) -> None:
    element = add(root, "legalAuthenticator")
    add(element, "time", nullFlavor="NI")
    add(element, "signatureCode", nullFlavor="NI")
    doctor_entity(add(element, "assignedEntity"), doc)


def documentation_of(root, doc: Doc) -> None:
    event = add(add(root, "documentationOf"), "serviceEvent")
    coded(event, "code", EVENTS, *PRESCRIPTION_EVENT)
    add(event, "effectiveTime", value=ts(doc.created))


def component_of(root, doc: Doc) -> None:
    """The outpatient case: the system keeps no visits, so the prescription itself is the case and
    the patient's record stands for the medical card."""
    encounter = add(add(root, "componentOf"), "encompassingEncounter")
    add(encounter, "id", root=doc.local_id(15), extension=doc.key)
    add(encounter, "id", root=doc.local_id(16), extension=str(doc.rx.person.pk))
    add(add(encounter, "effectiveTime"), "low", value=ts(doc.rx.issued_on))


# --- body --------------------------------------------------------------------------------------

def body(root, doc: Doc) -> None:
    structured = add(add(root, "component"), "structuredBody")
    docinfo(structured, doc)
    benefits(structured, doc)
    recipe(structured, doc)
    if doc.rx.vk_protocol:
        linked_documents(structured, doc)


def section(structured, code: str, display: str, title: str, rows: list[tuple[str, str]]) -> etree._Element:
    """A section with its narrative: a table of what the form prints, which the coded entries follow."""
    sec = add(add(structured, "component"), "section")
    coded(sec, "code", SECTIONS, code, display)
    add(sec, "title", title)
    tbody = add(add(add(sec, "text"), "table"), "tbody")
    for label, value in rows:
        tr = add(tbody, "tr")
        add(tr, "th", label)
        add(tr, "td", value)
    return sec


def field(parent, code: str, display: str) -> etree._Element:
    """An observation of a coded field (NSI 99.2.166) in a new entry or entry relationship."""
    observation = add(parent, "observation", classCode="OBS", moodCode="EVN")
    coded(observation, "code", FIELDS, code, display)
    return observation


def docinfo(structured, doc: Doc) -> None:
    rx = doc.rx
    validity_code, validity_name = validity(rx)
    rows = [("Серия", rx.series), ("Номер", rx.number), ("Дата выписки", f"{rx.issued_on:%d.%m.%Y}"),
            ("Срок действия", validity_name), ("Действителен по", f"{rx.expires_on:%d.%m.%Y}"),
            ("Диагноз (МКБ-10)", f"{rx.icd10} {rx.diagnosis.name}")]
    if rx.urgency:
        rows.append(("Отметка", Urgency(rx.urgency).label))
    sec = section(structured, "DOCINFO", "Сведения о документе", "Сведения о рецепте", rows)
    if rx.urgency:
        priority = field(add(sec, "entry"), "6000", "Приоритет исполнения рецепта")
        coded(priority, "value", PRIORITIES, *PRIORITY[rx.urgency], xsi_type="CD")
    add(field(add(sec, "entry"), "6001", "Серия рецепта"), "value", rx.series, xsi_type="ST")
    add(field(add(sec, "entry"), "6002", "Номер рецепта"), "value", rx.number, xsi_type="ST")
    term = field(add(sec, "entry"), "6004", "Срок действия рецепта")
    add(term, "effectiveTime", value=ts(rx.expires_on))
    coded(term, "value", VALIDITY, validity_code, validity_name, xsi_type="CD")
    add(field(add(sec, "entry"), "6006", "По специальному назначению (отметка)"), "value", xsi_type="BL",
        value="false")
    add(field(add(sec, "entry"), "11001", "Наличие хронических заболеваний"), "value", xsi_type="BL",
        value="true" if doc.chronic else "false")
    coded(field(add(sec, "entry"), "809", "Шифр по МКБ-10"), "value", ICD10, rx.icd10, rx.diagnosis.name,
          xsi_type="CD")


def validity(rx) -> tuple[str, str]:
    table = DEVICE_VALIDITY if rx.drug.kind == ProductKind.DEVICE else DRUG_VALIDITY
    if rx.validity_days not in table:
        raise DocumentInvalid(f"Срок действия {rx.validity_days} дней не предусмотрен справочником сроков "
                              "действия рецепта (99.2.608) для этого вида назначения: выберите другой срок",
                              code="semd.validity_unsupported", details={"validity_days": rx.validity_days})
    return table[rx.validity_days]


def benefits(structured, doc: Doc) -> None:
    rx = doc.rx
    category = rx.category.nsi_category
    if category is None:
        raise DocumentInvalid(f"Льготная категория {rx.category_code} не сопоставлена со справочником НСИ "
                              "99.2.541: сопоставьте её в справочнике льготных категорий и повторите",
                              code="semd.category_not_mapped", details={"category": rx.category_code})
    size_code, size_name = BENEFIT_SIZE[rx.payment_share]
    share = percent(rx.payment_percent)
    rows = [("Льготная категория", f"{rx.category_code} {rx.category.name}"),
            ("Источник финансирования", FundingSource(rx.funding_source).label),
            ("Размер льготы", f"{size_name} ({share} %)")]
    sec = section(structured, "BENEFITS", "Льготы", "Сведения о льготе", rows)
    coded(field(add(sec, "entry"), "811", "Льготная категория"), "value", CATEGORIES, category.nsi_code,
          category.name, xsi_type="CD")
    coded(field(add(sec, "entry"), "6009", "Размер льготы"), "value", BENEFIT_SIZES, size_code, size_name,
          xsi_type="CD")
    value = add(field(add(sec, "entry"), "6010", "Размер льготы (значение в процентах)"), "value",
                xsi_type="PQ", value=share, unit="%")
    coded(value, "translation", UNITS, *PERCENT_UNIT, value=share)


def recipe(structured, doc: Doc) -> None:
    rx, drug = doc.rx, doc.rx.drug
    system = PRODUCTS.get(drug.source)
    if system is None:
        raise DocumentInvalid(f"«{drug}» не из справочников НСИ 99.2.611, 99.2.603 или 99.2.604: такой препарат "
                              "нельзя указать в электронном рецепте", code="semd.product_not_coded",
                              details={"source": drug.source})
    rows = [("Назначено", str(drug))]
    if rx.package is not None:
        rows.append(("Торговое наименование", f"{rx.package.trade_name.name} (по решению врачебной комиссии, "
                                              f"протокол № {rx.vk_protocol})"))
    rows += [("Дозировка", rx.dosage), ("Количество", f"{rx.quantity} уп."), ("Способ применения (Signa)", rx.signa)]
    sec = section(structured, "RECIPE", "Рецепт", "Назначение", rows)
    if drug.kind == ProductKind.DEVICE:
        supply(add(sec, "entry"), rx, system)
    else:
        substance(add(sec, "entry"), rx, system)


def substance(entry, rx, system: CodeSystem) -> None:
    """A drug or nutrition product: substanceAdministration requested (RQO)."""
    administration = add(entry, "substanceAdministration", classCode="SBADM", moodCode="RQO")
    add(administration, "code", nullFlavor="NI")
    add(administration, "effectiveTime", xsi_type="IVL_TS", nullFlavor="NI")  # the course length is not recorded
    route = rx.drug.route
    if route is not None:
        coded(administration, "routeCode", ROUTES, route.nsi_code, route.name)
    else:
        add(administration, "routeCode", nullFlavor="NI")
    material = product(add(administration, "consumable", typeCode="CSM"), rx, system)
    if rx.package is not None:
        add(material, "name", rx.package.trade_name.name)
    packs(add(field(add(administration, "entryRelationship", typeCode="COMP"), "6011", "Количество"),
              "value", xsi_type="PQ", value=str(rx.quantity), unit="U"), rx.quantity)


def supply(entry, rx, system: CodeSystem) -> None:
    """A medical device: supply requested (RQO), with the instructions as its text."""
    request = add(entry, "supply", classCode="SPLY", moodCode="RQO")
    add(request, "code", nullFlavor="NI")
    add(request, "text", rx.signa)
    packs(add(request, "quantity", value=str(rx.quantity), unit="U"), rx.quantity)
    material = product(add(request, "product", typeCode="PRD"), rx, system)
    add(material, "name", rx.package.trade_name.name if rx.package is not None else rx.drug.inn.name)


def product(parent, rx, system: CodeSystem) -> etree._Element:
    material = add(add(parent, "manufacturedProduct", classCode="MANU"), "manufacturedMaterial", classCode="MMAT",
                   determinerCode="KIND")
    coded(material, "code", system, rx.drug.nsi_code, str(rx.drug))
    return material


def packs(quantity, count: int) -> None:
    coded(quantity, "translation", UNITS, *PACK_UNIT, value=str(count))


def linked_documents(structured, doc: Doc) -> None:
    """The medical commission's protocol that allowed a trade name. The system keeps its number (as the
    doctor typed it), not its date or РЭМД id, so the act is dated by the prescription."""
    rx = doc.rx
    sec = section(structured, "LINKDOCS", "Связанные документы", "Связанные документы",
                  [("Протокол врачебной комиссии", f"№ {rx.vk_protocol}")])
    act = add(add(sec, "entry"), "act", classCode="ACT", moodCode="EVN")
    coded(act, "code", DOC_KINDS, *VK_PROTOCOL_KIND)
    add(act, "effectiveTime", value=ts(rx.issued_on))
    add(field(add(act, "entryRelationship", typeCode="COMP"), "11002", "Номер документа"), "value", rx.vk_protocol,
        xsi_type="ST")
    external = add(add(act, "reference", typeCode="REFR"), "externalDocument", classCode="DOCCLIN", moodCode="EVN")
    add(external, "id", nullFlavor="NI")
    add(external, "id", nullFlavor="NI")


# --- validation --------------------------------------------------------------------------------

def schema_path() -> Path:
    return Path(settings.SEMD_SCHEMA_DIR) / "37-ed4" / "CDA.xsd"


@cache
def _schema(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


def validate_document(xml: bytes) -> None:
    """Check a document against the official XSD (loaded once); raise DocumentInvalid saying what is wrong.
    Not for the issuing path: tests and checks call it."""
    path = schema_path()
    if not path.is_file():
        raise SchemaMissing(f"Схемы СЭМД не найдены: {path} (настройка SEMD_SCHEMA_DIR)")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        tree = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise DocumentInvalid(f"СЭМД не разбирается как XML: {exc}") from None
    schema = _schema(path)
    if not schema.validate(tree):
        errors = [f"строка {e.line}: {e.message}" for e in list(schema.error_log)[:10]]
        raise DocumentInvalid(f"СЭМД не соответствует схеме вида 37 (ред. 4): {errors[0]}",
                              details={"errors": errors})
