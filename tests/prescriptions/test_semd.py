"""СЭМД kind 37 of a prescription: valid against the official XSD, fields read back, deterministic,
hostile text escaped or refused."""

import re

import pytest
from lxml import etree

from llo.models import StandardizedDrug
from llo.models.catalogue import ProductKind
from prescriptions import semd
from prescriptions.models import Prescription

NS = semd.NS
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@pytest.fixture
def schemas():
    if not semd.schema_path().is_file():
        pytest.skip(f"СЭМД schemas not found at {semd.schema_path().parent.parent} (setting SEMD_SCHEMA_DIR)")


def parse(xml: bytes):
    return etree.fromstring(xml, SAFE)


def one(tree, path: str):
    found = tree.xpath(path, namespaces=NS)
    assert len(found) == 1, f"{path}: {len(found)} found"
    return found[0]


def value(tree, code: str):
    """The value of the coded field (NSI 99.2.166) `code`."""
    return one(tree, f"//hl7:observation[hl7:code/@code='{code}']/hl7:value")


def test_the_document_of_an_issued_prescription_is_valid(issued, schemas):
    semd.validate_document(bytes(issued.document))


def test_key_fields_read_back(issued, patient, doctor, drug):
    tree = parse(bytes(issued.document))
    assert one(tree, "/hl7:ClinicalDocument/hl7:templateId/@root") == semd.TEMPLATE_ID
    assert one(tree, "/hl7:ClinicalDocument/hl7:code/@code") == "37"
    assert one(tree, "/hl7:ClinicalDocument/hl7:id/@extension") == f"{issued.series}-{issued.number}"
    assert value(tree, "6001").text == issued.series
    assert value(tree, "6002").text == issued.number
    snils = f"{patient.snils[:3]}-{patient.snils[3:6]}-{patient.snils[6:9]} {patient.snils[9:]}"
    assert one(tree, "//hl7:patientRole/hl7:id[@root='1.2.643.100.3']/@extension") == snils
    assert one(tree, "//hl7:patient/hl7:name/hl7:family").text == patient.last_name
    assert one(tree, "//hl7:patient/hl7:birthTime/@value") == patient.birth_date.strftime("%Y%m%d")
    assert one(tree, "//hl7:assignedAuthor/hl7:id[@root='1.2.643.100.3']/@extension").replace("-", "").replace(
        " ", "") == doctor.snils
    icd = value(tree, "809")
    assert (icd.get("code"), icd.get("codeSystem")) == ("I10", "1.2.643.5.1.13.13.11.1005")
    material = one(tree, "//hl7:consumable//hl7:manufacturedMaterial/hl7:code")
    assert (material.get("code"), material.get("codeSystem")) == (drug.nsi_code, "1.2.643.5.1.13.13.99.2.611")
    quantity = value(tree, "6011")
    assert (quantity.get("value"), one(quantity, "hl7:translation/@code")) == (str(issued.quantity), "128")
    term = one(tree, "//hl7:observation[hl7:code/@code='6004']")
    assert one(term, "hl7:effectiveTime/@value") == issued.expires_on.strftime("%Y%m%d")
    assert one(term, "hl7:value/@code") == "2"  # 30 days
    assert value(tree, "811").get("codeSystem") == "1.2.643.5.1.13.13.99.2.541"
    assert value(tree, "6010").get("value") == "100"
    assert issued.signa in one(tree, "//hl7:section[hl7:code/@code='RECIPE']/hl7:text").xpath("string()")
    assert not tree.xpath("//hl7:section[hl7:code/@code='LINKDOCS']", namespaces=NS)


def test_a_trade_name_prescription_names_the_commission_protocol(issue, package, schemas):
    rx = issue(package=package, vk_protocol="ВК-17 от 02.03.2026")
    semd.validate_document(bytes(rx.document))
    tree = parse(bytes(rx.document))
    assert one(tree, "//hl7:consumable//hl7:manufacturedMaterial/hl7:name").text == package.trade_name.name
    linked = one(tree, "//hl7:section[hl7:code/@code='LINKDOCS']")
    assert value(linked, "11002").text == "ВК-17 от 02.03.2026"
    assert "ВК-17 от 02.03.2026" in one(tree, "//hl7:section[hl7:code/@code='RECIPE']/hl7:text").xpath("string()")


def test_a_medical_device_is_requested_as_a_supply(issue, onlp, schemas):
    device = StandardizedDrug.objects.filter(program_rows__program=onlp, kind=ProductKind.DEVICE).first()
    rx = issue(drug=device, dosage="1 упаковка", signa="Для контроля гликемии 4 раза в день")
    semd.validate_document(bytes(rx.document))
    tree = parse(bytes(rx.document))
    supply = one(tree, "//hl7:section[hl7:code/@code='RECIPE']/hl7:entry/hl7:supply")
    assert one(supply, ".//hl7:manufacturedMaterial/hl7:code/@codeSystem") == "1.2.643.5.1.13.13.99.2.604"
    assert one(supply, "hl7:quantity/@value") == str(rx.quantity)
    assert one(tree, "//hl7:observation[hl7:code/@code='6004']/hl7:value/@code") in ("6", "7")


def test_the_same_prescription_gives_the_same_bytes(issued):
    again = Prescription.objects.select_related("person", "doctor", "organization").get(pk=issued.pk)
    assert semd.build_document(again) == semd.build_document(again) == bytes(issued.document)
    assert bytes(issued.document).startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_hostile_text_is_escaped(issue, schemas):
    signa = "По 1 таб. <script>alert(\"x\")</script> & 'ещё' ]]> &amp; <!-- -->"
    rx = issue(signa=signa, dosage="<b>5 мг</b>")
    xml = bytes(rx.document)
    assert b"<script>" not in xml and b"<b>" not in xml
    semd.validate_document(xml)
    cells = parse(xml).xpath("//hl7:section[hl7:code/@code='RECIPE']//hl7:td/text()", namespaces=NS)
    assert signa in cells and "<b>5 мг</b>" in cells


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\ufffe"])
def test_control_characters_are_refused_and_nothing_is_issued(issue, char):
    before = Prescription.objects.count()
    with pytest.raises(semd.DocumentInvalid) as refused:
        issue(signa=f"По 1 таблетке{char} утром")
    assert refused.value.code == "semd.invalid_text"
    assert "уберите" in refused.value.message
    assert Prescription.objects.count() == before


def test_a_patient_without_snils_gets_no_electronic_prescription(issue, patient):
    patient.snils = None
    patient.save(update_fields=["snils"])
    with pytest.raises(semd.DocumentInvalid) as refused:
        issue()
    assert refused.value.code == "semd.patient_snils_missing"


def test_validation_says_what_is_wrong(issued, schemas):
    tree = parse(bytes(issued.document))
    tree.remove(one(tree, "hl7:templateId"))
    with pytest.raises(semd.DocumentInvalid) as invalid:
        semd.validate_document(etree.tostring(tree))
    assert "templateId" in invalid.value.message and invalid.value.details["errors"]
    with pytest.raises(semd.DocumentInvalid, match="не разбирается как XML"):
        semd.validate_document(b"<ClinicalDocument><unclosed></ClinicalDocument>")


def test_validation_never_resolves_entities(tmp_path, schemas):
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret")
    xml = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file://{secret}">]>'
           '<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&e;</title></ClinicalDocument>').encode()
    with pytest.raises(semd.DocumentInvalid) as invalid:
        semd.validate_document(xml)
    assert "top-secret" not in str(invalid.value.details)


def test_missing_schemas_are_reported(settings, tmp_path, issued):
    settings.SEMD_SCHEMA_DIR = tmp_path
    with pytest.raises(semd.SchemaMissing, match="SEMD_SCHEMA_DIR"):
        semd.validate_document(bytes(issued.document))


OID = r"[0-2](\.([1-9][0-9]*|0))+"
LOCAL_IDS = {  # the schematron's id rules: <MO OID>.100.<system>.<instance>.<kind>
    "/hl7:ClinicalDocument/hl7:id": 51, "/hl7:ClinicalDocument/hl7:setId": 50,
    "//hl7:patientRole/hl7:id[1]": 10, "//hl7:assignedAuthor/hl7:id[1]": 70, "//hl7:assignedEntity/hl7:id[1]": 70,
    "//hl7:encompassingEncounter/hl7:id[1]": 15, "//hl7:encompassingEncounter/hl7:id[2]": 16,
}


@pytest.mark.parametrize("trade_name", [False, True])
def test_the_schematron_rules_the_xsd_cannot_check(issue, package, trade_name):
    """A subset of schematron.sch (XSLT 2, which lxml cannot run) translated to XPath 1 and regexes."""
    rx = issue(package=package, vk_protocol="5") if trade_name else issue()
    tree = parse(bytes(rx.document))
    for path, kind in LOCAL_IDS.items():
        assert re.fullmatch(rf"{OID}\.100(\.([1-9][0-9]*|0))+\.{kind}", one(tree, f"{path}/@root")), path
    for root in tree.xpath("//hl7:id[not(@nullFlavor)]/@root", namespaces=NS):
        assert re.fullmatch(OID, root)
    for snils in tree.xpath("//hl7:id[@root='1.2.643.100.3']/@extension", namespaces=NS):
        assert re.fullmatch(r"([0-9]{3}[-\s]?){3}[0-9]{2}", snils)
    moment = r"[12][0-9]{3}[01][0-9][0-3][0-9]([0-2][0-9][0-5][0-9]([0-5][0-9])?\+[0-2][0-9][0-5]0)?"
    for when in tree.xpath("//hl7:effectiveTime/@value | //hl7:low/@value | //hl7:birthTime/@value", namespaces=NS):
        assert re.fullmatch(moment, when), when
    coded = ("//hl7:code[not(parent::hl7:substanceAdministration | parent::hl7:supply)]"
             " | //hl7:value[@xsi:type='CD'] | //hl7:translation | //address:stateCode | //address:Type"
             " | //identity:InsurancePolicyType | //hl7:confidentialityCode | //hl7:administrativeGenderCode")
    for element in tree.xpath(coded, namespaces=NS):
        for attribute in ("code", "codeSystem", "codeSystemName", "codeSystemVersion", "displayName"):
            assert element.get(attribute), f"{element.tag} without {attribute}"
    for translation in tree.xpath("//hl7:translation", namespaces=NS):
        assert translation.get("codeSystem") == "1.2.643.5.1.13.13.11.1358" and translation.get("value")
    for text in tree.xpath("//hl7:text | //hl7:title | //hl7:streetAddressLine | //hl7:family | //hl7:given",
                           namespaces=NS):
        assert text.xpath("normalize-space()"), text.tag
    assert all(e.get("typeCode") == "COMP" for e in tree.xpath("//hl7:entryRelationship", namespaces=NS))
    sections = tree.xpath("//hl7:section/hl7:code/@code", namespaces=NS)
    assert sections == ["DOCINFO", "BENEFITS", "RECIPE"] + (["LINKDOCS"] if trade_name else [])
    docinfo = one(tree, "//hl7:section[hl7:code/@code='DOCINFO']")
    for code in ("6001", "6002", "6004", "6006", "11001", "809"):
        value(docinfo, code)
    assert one(tree, "//hl7:substanceAdministration/hl7:effectiveTime/@xsi:type") == "IVL_TS"
    assert one(tree, "//hl7:observation[hl7:code/@code='6010']/hl7:value/hl7:translation/@code") == "53"
