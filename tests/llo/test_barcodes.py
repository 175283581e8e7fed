"""parse_scan and the helpers around it: no database, no libdmtx needed."""

import calendar
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from llo.barcodes import (
    GS,
    GS1_CHARS,
    MAX_INPUT,
    BarcodeError,
    Kind,
    address_label,
    as_typed_in_russian_layout,
    document_label,
    fix_russian_layout,
    gs1_check_digit,
    gs1_date,
    is_valid_gtin,
    is_valid_sscc,
    make_sscc,
    parse_scan,
    prescription_label,
    sscc_capacity,
    with_check_digit,
)

ALPHABET = "".join(sorted(GS1_CHARS))
CRYPTO = "cyTxjTmzSZ7Sp8SxvShv6ZbbCb3a4Wus7VNHbhFdcm0="
CRYPTO2 = "dGVzdC1jcnlwdG8tY29kZS1mb3ItbGxvLXRlc3RzMTI="
PATIENT = "1" + "000000000042" + "20819" + "12345678901234"

# GS1 fields that a normalized element string ends with a GS (not of predefined length).
VARIABLE = {"10", "21", "91", "92"}


def digits(n: int):
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def gs1_text(size: int, max_size: int | None = None):
    return st.text(alphabet=ALPHABET, min_size=size, max_size=max_size or size)


def normalized(elements: list[tuple[str, str]]) -> str:
    """The element string as the module must give it back, written independently of it."""
    return "".join(ai + value + (GS if ai in VARIABLE and i < len(elements) - 1 else "")
                   for i, (ai, value) in enumerate(elements))


@dataclass
class DrugCode:
    elements: list[tuple[str, str]]
    expiry: date | None
    batch: str | None

    def value(self, ai):
        return dict(self.elements).get(ai)


def _expiry_range():
    year = date.today().year
    return date(year - 45, 1, 1), date(year + 45, 12, 31)


@st.composite
def drug_codes(draw) -> DrugCode:
    """A marked drug pack's code: 01, 21, then 91, 92 and optional 17, 10 in any order."""
    gtin = with_check_digit(draw(digits(13)))
    tail = [("91", draw(gs1_text(4))), ("92", draw(gs1_text(44)))]
    expiry = draw(st.none() | st.dates(*_expiry_range()))
    if expiry:
        last_day = calendar.monthrange(expiry.year, expiry.month)[1]
        day = "00" if expiry.day == last_day and draw(st.booleans()) else f"{expiry.day:02d}"
        tail.append(("17", f"{expiry:%y%m}{day}"))
    batch = draw(st.none() | gs1_text(1, 20))
    if batch:
        tail.append(("10", batch))
    elements = [("01", gtin), ("21", draw(gs1_text(13)))] + draw(st.permutations(tail))
    # `<GS>` and `<FNC1>` are GS1 characters, read as GS wherever they stand (docs/barcodes.md)
    assume(not any(r in "".join(v for _, v in elements).upper() for r in ("<GS>", "<FNC1>")))
    return DrugCode(elements, expiry, batch)


SEPARATORS = [GS, "", "<GS>", "{GS}", "[FNC1]", "^]", "\\x1d", "\\u001D", "\u241d", "\u2194",
              "\u00e8"]
PREFIXES = {"": None, "]d2": "]d2", "]C1": "]C1", "]Q3": "]Q3", GS: None, "\u00e8": None,
            "]d2" + GS: "]d2"}
WHITESPACE = ["", " ", "\r\n", "\n", "\t", "\r"]


@st.composite
def renderings(draw, code: DrugCode) -> tuple[str, str | None, bool]:
    """(what a scanner sends for `code`, the AIM prefix it sent, whether GS was lost)."""
    separator = draw(st.sampled_from(SEPARATORS))
    prefix = draw(st.sampled_from(sorted(PREFIXES)))
    text = prefix + normalized(code.elements).replace(GS, separator)
    if draw(st.booleans()):
        text = as_typed_in_russian_layout(text)
        assume(text != fix_russian_layout(text))  # no letter at all: the layout is invisible
    cut = draw(st.integers(0, len(text)))
    text = text[:cut] + draw(st.sampled_from(["", " "])) + text[cut:]
    text = draw(st.sampled_from(WHITESPACE)) + text + draw(st.sampled_from(WHITESPACE))
    return text, PREFIXES[prefix], separator == ""


def _truly_ambiguous(code: DrugCode) -> bool:
    """With GS lost, a batch in the middle may end in more than one place: count the ends for
    which the code, rewritten with that batch first and a GS after it, parses."""
    ais = [ai for ai, _ in code.elements]
    if not code.batch or ais[-1] == "10":
        return False
    text = normalized(code.elements).replace(GS, "")
    start = len("".join(ai + v for ai, v in code.elements[:ais.index("10")])) + 2
    ends = 0
    for end in range(start + 1, min(start + 20, len(text)) + 1):
        try:
            parse_scan("10" + text[start:end] + GS + text[:start - 2] + text[end:])
        except BarcodeError:
            continue
        ends += 1
    return ends > 1


@settings(max_examples=400)
@given(st.data(), drug_codes())
def test_drug_codes_parse_back_however_the_scanner_sends_them(data, code):
    text, symbology, gs_lost = data.draw(renderings(code))
    try:
        scanned = parse_scan(text)
    except BarcodeError as error:
        assert gs_lost and error.code == "ambiguous" and _truly_ambiguous(code), (error.code, text)
        return
    gtin, serial = code.value("01"), code.value("21")
    assert scanned.kind == Kind.SGTIN == "sgtin"
    assert (scanned.gtin, scanned.serial, scanned.sgtin) == (gtin, serial, gtin + serial)
    assert scanned.verification_key == code.value("91")
    assert scanned.crypto_code == code.value("92")
    assert scanned.expiry == code.expiry
    assert scanned.batch == code.batch
    assert scanned.sscc is None
    assert scanned.gs1 == normalized(code.elements)
    assert scanned.elements == tuple(code.elements)
    assert scanned.symbology == symbology


@given(digits(12), st.sampled_from(["", "]E0", "]e0", "]C1"]), st.sampled_from(WHITESPACE))
def test_a_bare_ean13_is_a_gtin(body, prefix, tail):
    ean = with_check_digit(body)
    scanned = parse_scan(prefix + ean + tail)
    assert scanned.kind == Kind.GTIN
    assert scanned.gtin == "0" + ean and is_valid_gtin(scanned.gtin)
    assert scanned.gs1 == "010" + ean and scanned.serial is None


@given(digits(17), st.sampled_from(["", "]C1", "]d2", GS]), st.booleans())
def test_an_sscc_parses_with_or_without_its_ai(body, prefix, with_ai):
    sscc = with_check_digit(body)
    scanned = parse_scan(prefix + ("00" if with_ai else "") + sscc + "\r\n")
    assert scanned.kind == Kind.SSCC
    assert scanned.sscc == sscc and scanned.gs1 == "00" + sscc and scanned.gtin is None


@given(st.sampled_from([7, 11, 12, 13, 17]).flatmap(digits), st.integers(1, 9))
def test_any_wrong_check_digit_is_refused(body, delta):
    value = body + str((int(gs1_check_digit(body)) + delta) % 10)
    text = "00" + value if len(value) == 18 else value
    with pytest.raises(BarcodeError) as error:
        parse_scan(text)
    assert error.value.code == "bad_check_digit"


@given(st.text(max_size=600))
@example("01" * 300)
@example("10" + "1" * 19 + "17" * 20)
def test_any_text_parses_or_fails_with_a_barcode_error(text):
    try:
        parse_scan(text)
    except BarcodeError as error:
        assert error.code and error.message


# What scanners at pharmacy desks and warehouses really send, and what it must give.
SGTIN_1 = dict(kind="sgtin", gtin="04607028393877", serial="51BkLeHfrcTg0",
               sgtin="0460702839387751BkLeHfrcTg0", verification_key="EE07", crypto_code=CRYPTO)
SGTIN_2 = dict(kind="sgtin", gtin="04603066602117", serial="5Kq2Ln8Ws/3xR",
               verification_key="FFD0", crypto_code=CRYPTO2)
REAL_SCANS = [
    # GS1 DataMatrix, AIM identifiers on, GS kept
    ("]d2010460702839387721" "51BkLeHfrcTg0" "\x1d91EE07\x1d92" + CRYPTO,
     SGTIN_1 | {"symbology": "]d2"}),
    # keyboard wedge: GS lost, CR/LF suffix
    ("010460702839387721" "51BkLeHfrcTg0" "91EE0792" + CRYPTO + "\r\n", SGTIN_1),
    # keyboard wedge in the Russian layout, AIM on, GS lost
    ("ъв201046070283938772151ИлДуРаксЕп091УУ0792снЕчоЕьяЫЯ7Ыз8ЫчмЫрм6ЯииСи3ф4Цгы7МТРирАвсь0=",
     SGTIN_1 | {"symbology": "]d2"}),
    # Russian layout: `/` in the serial arrives as `.`
    ("0104603066602117215Лй2Дт8Цы.3чК91ААВ092вПМявС1остдцвП8еН29лЯЫ1ьи3ШеиПчмДЧКдс3КяЬЕШ=",
     SGTIN_2),
    # FNC1 sent as 0xE8 first, GS kept
    ("\u00e80104603066602117215Kq2Ln8Ws/3xR\x1d91FFD0\x1d92" + CRYPTO2, SGTIN_2),
    # scanner "show control characters" mode
    ("0104603066602117215Kq2Ln8Ws/3xR<GS>91FFD0<GS>92" + CRYPTO2, SGTIN_2),
    # caret notation (Ctrl+])
    ("0104603066602117215Kq2Ln8Ws/3xR^]91FFD0^]92" + CRYPTO2, SGTIN_2),
    # copied from a log or JSON
    ("0104603066602117215Kq2Ln8Ws/3xR\\x1d91FFD0\\u001d92" + CRYPTO2, SGTIN_2),
    # Windows Alt+29 in a CP437 console: ↔
    ("0104603066602117215Kq2Ln8Ws/3xR\u219491FFD0\u219492" + CRYPTO2, SGTIN_2),
    # expiry and batch, GS kept; day 00 = last day of the month
    ("]d2010462001760012121" "51aB7cEnPqHxZ" "\x1d1727110010A3012\x1d91EE11\x1d92" + CRYPTO,
     {"kind": "sgtin", "gtin": "04620017600121", "serial": "51aB7cEnPqHxZ",
      "expiry": date(2027, 11, 30), "batch": "A3012", "verification_key": "EE11"}),
    # the same with GS lost: the batch runs to the next field that makes the rest parse
    ("01046200176001212151aB7cEnPqHxZ172711001012A301291EE1192" + CRYPTO,
     {"serial": "51aB7cEnPqHxZ", "expiry": date(2027, 11, 30), "batch": "12A3012",
      "verification_key": "EE11", "crypto_code": CRYPTO}),
    # the batch last, GS lost
    ("010462001760012121" "51aB7cEnPqHxZ" "91EE1192" + CRYPTO + "17260315" "10AB-1/2",
     {"batch": "AB-1/2", "expiry": date(2026, 3, 15), "crypto_code": CRYPTO}),
    # an SSCC on a transport pack (GS1-128), with and without the AIM identifier
    ("]C100146070011234567898", {"kind": "sscc", "sscc": "146070011234567898",
                                 "gs1": "00146070011234567898", "symbology": "]C1"}),
    ("00146070011234567898\n", {"kind": "sscc", "sscc": "146070011234567898"}),
    # EAN-13 on an unmarked product, EAN-8, GTIN-14 typed by hand with spaces
    ("]E04601234567893", {"kind": "gtin", "gtin": "04601234567893", "symbology": "]E0"}),
    ("4601234567893\r\n", {"kind": "gtin", "gtin": "04601234567893"}),
    ("46012340", {"kind": "gtin", "gtin": "00000046012340"}),
    (" 0460 7028 3938 77 ", {"kind": "gtin", "gtin": "04607028393877"}),
    # GS1-128 of an unmarked product with expiry and batch
    ("]C1010400599818001317261231" "10L0T-7", {"kind": "gtin", "gtin": "04005998180013",
                                              "expiry": date(2026, 12, 31), "batch": "L0T-7"}),
    # our prescription barcode, in both layouts and with Caps Lock on
    ("RX-0325-050011000123", {"kind": "prescription", "prescription_series": "0325",
                              "prescription_number": "050011000123"}),
    ("]C0КЧ-0325-050011000123\r", {"kind": "prescription", "prescription_series": "0325",
                                    "symbology": "]C0"}),
    ("rx-ab12-7", {"kind": "prescription", "prescription_series": "AB12",
                   "prescription_number": "7"}),
    # storage address and document labels
    ("ADR-A-01-02-03", {"kind": "address", "value": "A-01-02-03"}),
    ("ФВК-Ф-01-02-03\n", {"kind": "address", "value": "A-01-02-03"}),
    ("DOC-SHIP-000123", {"kind": "document", "value": "SHIP-000123"}),
    # the patient's QR code (registry/patient_token.py), AIM on
    ("]Q1" + PATIENT + "\r\n", {"kind": "patient", "value": PATIENT, "symbology": "]Q1"}),
]


@pytest.mark.parametrize("text, expected", REAL_SCANS)
def test_real_scanner_renderings(text, expected):
    scanned = parse_scan(text)
    assert {name: getattr(scanned, name) for name in expected} == expected


def test_the_normalized_element_string_has_gs_after_variable_fields_only():
    scanned = parse_scan(REAL_SCANS[10][0])
    assert scanned.gs1 == ("0104620017600121" "2151aB7cEnPqHxZ\x1d" "17271100" "1012A3012\x1d"
                           "91EE11\x1d" "92" + CRYPTO)


BAD_SCANS = [
    ("", "empty"),
    (" \r\n", "empty"),
    ("]d2\r\n", "empty"),
    ("x" * (MAX_INPUT + 1), "too_long"),
    ("\x00\x01\x02\xff\xfe\x7f", "not_a_code"),
    (b"0104607028393877".decode("utf-16-le", errors="replace"), "not_a_code"),
    ("hello world", "not_a_code"),
    ("4601234567894", "bad_check_digit"),                        # EAN-13
    ("0104607028393878" "2151BkLeHfrcTg0", "bad_check_digit"),   # GTIN in a DataMatrix
    ("00146070011234567899", "bad_check_digit"),                 # SSCC
    ("010460702839387721" "51BkLeHfrcTg0" "91EE0792" + CRYPTO[:-1], "truncated"),
    ("010460702839387721" "51BkLeHfrcTg0" "\x1d91EE0\x1d92" + CRYPTO, "truncated"),
    ("0104607028393877" "21" "51BkLeHf", "truncated"),
    ("010460702839387", "truncated"),
    ("010460702839387721" "51BkLeHfrcTg0" "91EE07" "93" + "A" * 4, "unknown_ai"),
    ("0104607028393877" "240" "ABC", "unknown_ai"),
    ("0104607028393877" "17261341", "bad_expiry"),
    ("0104607028393877" "17260230", "bad_expiry"),
    ("0104607028393877" "172612AB", "bad_expiry"),
    ("0104607028393877" "11261341", "bad_date"),
    ("0104607028393877" "21" "51BkLeHfrc~g0", "serial_bad_chars"),
    ("0104607028393877" "21" "51BkLeHfrc#g0", "serial_bad_chars"),
    ("0104607028393877" "10" + "A" * 21, "field_too_long"),
    ("0104607028393877" "10" + "A" * 21 + "91EE07", "field_too_long"),
    ("0104607028393877" "10AB17261231", "ambiguous"),
    ("0104607028393877" "0104607028393877", "duplicate_ai"),
    ("21" "51BkLeHfrcTg0" "91EE07", "incomplete"),
    ("0104607028393877" "91EE07", "incomplete"),
    ("17261231" "10ABC", "incomplete"),
    ("01ABCDEFGHIJKLMN", "not_numeric"),
    ("RX-03/25-1", "bad_label"),
    ("ADR-", "bad_label"),
    ("DOC-12-34", "bad_label"),
]


@pytest.mark.parametrize("text, code", BAD_SCANS)
def test_bad_scans_fail_with_a_specific_code_and_a_russian_message(text, code):
    with pytest.raises(BarcodeError) as error:
        parse_scan(text)
    assert error.value.code == code
    assert any("а" <= ch <= "я" for ch in error.value.message.lower())
    assert error.value.as_dict()["code"] == code  # the API's error body


def test_not_a_string_is_not_a_code():
    with pytest.raises(BarcodeError) as error:
        parse_scan(b"0104607028393877")
    assert error.value.code == "not_a_code"


def test_the_keyboard_layout_repair():
    assert fix_russian_layout("ФИС") == "ABC"
    assert fix_russian_layout("фис.,\"№;:?/") == "abc/?@#$^&|"
    assert fix_russian_layout("ABC./") == "ABC./"  # no Cyrillic: typed in the US layout
    assert as_typed_in_russian_layout("]d2") == "ъв2"
    assert fix_russian_layout(as_typed_in_russian_layout(ALPHABET + "@#$^&|[]{}`~")) == (
        ALPHABET + "@#$^&|[]{}`~")


def test_gs1_dates():
    today = date(2026, 5, 1)
    assert gs1_date("270200", today=today) == date(2027, 2, 28)
    assert gs1_date("280200", today=today) == date(2028, 2, 29)
    assert gs1_date("991231", today=today) == date(1999, 12, 31)
    assert gs1_date("761231", today=today) == date(2076, 12, 31)
    assert gs1_date("771231", today=today) == date(1977, 12, 31)
    assert gs1_date("400101", today=date(2090, 1, 1)) == date(2140, 1, 1)
    assert gs1_date("410101", today=date(2090, 1, 1)) == date(2041, 1, 1)
    for bad in ("271301", "270231", "27010", "2701AA"):
        with pytest.raises(ValueError):
            gs1_date(bad, today=today)


@given(digits(13))
def test_check_digits(body):
    gtin = with_check_digit(body)
    assert is_valid_gtin(gtin)
    assert not is_valid_gtin(body + str((int(gtin[-1]) + 1) % 10))
    assert not is_valid_sscc(gtin)


@given(st.integers(0, 9), st.integers(0, 10**9 - 1))
def test_made_ssccs_are_valid_and_parse(extension, serial_reference):
    sscc = make_sscc(extension_digit=extension, company_prefix="4607001",
                     serial_reference=serial_reference)
    assert len(sscc) == 18 and is_valid_sscc(sscc)
    assert sscc.startswith(f"{extension}4607001")
    assert parse_scan("00" + sscc).sscc == sscc


def test_sscc_parts_that_do_not_fit_are_refused():
    assert sscc_capacity("4607001") == 10**9
    for kwargs in (dict(extension_digit=10, company_prefix="4607001", serial_reference=1),
                   dict(extension_digit=0, company_prefix="46A7001", serial_reference=1),
                   dict(extension_digit=0, company_prefix="4607001", serial_reference=10**9),
                   dict(extension_digit=0, company_prefix="4607001", serial_reference=-1)):
        with pytest.raises(ValueError):
            make_sscc(**kwargs)


@given(st.from_regex(r"[0-9A-Z]{1,12}", fullmatch=True),
       st.from_regex(r"[0-9]{1,20}", fullmatch=True), st.booleans())
def test_prescription_labels_parse_back_in_either_layout(series, number, russian):
    text = prescription_label(series, number)
    scanned = parse_scan(as_typed_in_russian_layout(text) if russian else text)
    assert scanned.kind == Kind.PRESCRIPTION
    assert (scanned.prescription_series, scanned.prescription_number) == (series, number)


def test_label_builders_refuse_what_they_cannot_print():
    assert address_label("A-01-02-03") == "ADR-A-01-02-03"
    assert document_label("SHIP", "000123") == "DOC-SHIP-000123"
    for build, args in ((prescription_label, ("03-25", "1")), (prescription_label, ("0325", "1A")),
                        (prescription_label, ("серия", "1")), (address_label, ("a-1",)),
                        (document_label, ("SHIP1", "1"))):
        with pytest.raises(ValueError):
            build(*args)
