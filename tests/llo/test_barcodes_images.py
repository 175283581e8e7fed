"""DataMatrix (libdmtx) and Code128 images: no database needed."""

import io
import re
import sys
import xml.etree.ElementTree as ET

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from llo.barcodes import (
    GS,
    BarcodeError,
    DataMatrixUnavailable,
    address_label,
    code128_modules,
    code128_png,
    code128_svg,
    datamatrix,
    datamatrix_available,
    decode_datamatrix,
    document_label,
    encode_datamatrix,
    parse_scan,
    prescription_label,
)
from llo.barcodes.code128 import QUIET_MODULES
from tests.llo.test_barcodes import CRYPTO, DrugCode, drug_codes, normalized

needs_libdmtx = pytest.mark.skipif(
    not datamatrix_available(),
    reason="libdmtx is not installed (apt-get install libdmtx0b): DataMatrix images not tested",
)

PACK = "0104607028393877" "2151BkLeHfrcTg0" + GS + "91EE07" + GS + "92" + CRYPTO


@needs_libdmtx
@settings(max_examples=25, deadline=None)
@given(drug_codes())
def test_datamatrix_round_trip_keeps_the_element_string(code: DrugCode):
    element_string = normalized(code.elements)
    png = encode_datamatrix(element_string)
    assert png.startswith(b"\x89PNG")
    [decoded] = decode_datamatrix(png)
    assert decoded == element_string
    assert parse_scan(decoded).sgtin == code.value("01") + code.value("21")


@needs_libdmtx
def test_the_symbol_is_gs1_fnc1_first_and_gs_as_fnc1():
    png = encode_datamatrix(PACK)
    # Read without the FNC1 property, libdmtx drops FNC1 codewords: no GS byte was written as
    # a plain character, every one of them (and the leading one) is an FNC1.
    from pylibdmtx.pylibdmtx import decode

    [plain] = decode(Image.open(io.BytesIO(png)).convert("L"))
    assert plain.data == PACK.replace(GS, "").encode()
    # With it, the first codeword comes back as GS: FNC1 in first position.
    assert datamatrix._decoded_bytes(png) == [(GS + PACK).encode()]


@needs_libdmtx
def test_a_scanner_rendering_encodes_as_its_normalized_string():
    scanned = parse_scan("]d20104607028393877" "2151BkLeHfrcTg0<GS>91EE07<GS>92" + CRYPTO)
    assert decode_datamatrix(encode_datamatrix(scanned.gs1)) == [PACK]


@needs_libdmtx
def test_plain_datamatrix_and_several_symbols_in_one_image():
    first = Image.open(io.BytesIO(encode_datamatrix("Привет, ЛЛО", gs1=False)))
    second = Image.open(io.BytesIO(encode_datamatrix(PACK)))
    sheet = Image.new("1", (first.width + second.width + 40, max(first.height, second.height)), 1)
    sheet.paste(first, (0, 0))
    sheet.paste(second, (first.width + 40, 0))
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    assert sorted(decode_datamatrix(out.getvalue())) == sorted(["Привет, ЛЛО", PACK])


@needs_libdmtx
def test_decoding_what_is_not_a_datamatrix():
    blank = io.BytesIO()
    Image.new("L", (120, 120), 255).save(blank, format="PNG")
    assert decode_datamatrix(blank.getvalue()) == []
    with pytest.raises(BarcodeError) as error:
        decode_datamatrix(b"not an image at all")
    assert error.value.code == "not_an_image"


@pytest.fixture
def without_libdmtx(monkeypatch):
    datamatrix._libdmtx.cache_clear()
    monkeypatch.setitem(sys.modules, "pylibdmtx", None)  # `import pylibdmtx` now fails
    yield
    monkeypatch.undo()
    datamatrix._libdmtx.cache_clear()


def test_without_libdmtx_parsing_works_and_images_fail_clearly(without_libdmtx):
    assert not datamatrix_available()
    assert parse_scan(PACK).verification_key == "EE07"
    for call in (lambda: encode_datamatrix(PACK), lambda: decode_datamatrix(b"")):
        with pytest.raises(DataMatrixUnavailable, match="libdmtx0b"):
            call()


# A Code128 reader for the tests: module widths → symbol values → text (code sets B and C).
def _read_code128(modules: list[tuple[bool, int]]) -> str:
    from reportlab.graphics.barcode.code128 import _patterns

    by_pattern = {p: v for v, p in _patterns.items()}
    widths = "".join(chr((ord("A") if bar else ord("a")) + n - 1) for bar, n in modules)
    values = [by_pattern[widths[i:i + 6]] for i in range(0, len(widths) - 7, 6)]
    assert by_pattern[widths[-7:]] == 106  # stop
    start, *data, check = values
    assert check == (start + sum(i * v for i, v in enumerate(data, 1))) % 103
    code_set, text = {104: "B", 105: "C"}[start], ""
    for v in data:  # 99 switches B → C, 100 switches C → B; in set C, 99 is the digits "99"
        if (code_set, v) in (("B", 99), ("C", 100)):
            code_set = "C" if v == 99 else "B"
        else:
            text += f"{v:02d}" if code_set == "C" else chr(v + 32)
    return text


LABELS = [prescription_label("0325", "050011000123"), address_label("A-01-02-03"),
          document_label("SHIP", "000123"), "DOC-X-1"]


@pytest.mark.parametrize("text", LABELS)
def test_code128_symbols_read_back(text):
    assert _read_code128(code128_modules(text)) == text


@given(st.from_regex(r"[ -~]{1,40}", fullmatch=True))
@example("99")  # code set C from the start: 99 is data there, not the switch to C
def test_code128_any_printable_ascii_reads_back(text):
    assert _read_code128(code128_modules(text)) == text


def _runs(row: list[int]) -> list[tuple[bool, int]]:
    runs: list[tuple[bool, int]] = []
    for pixel in row:
        dark = pixel == 0
        if runs and runs[-1][0] == dark:
            runs[-1] = (dark, runs[-1][1] + 1)
        else:
            runs.append((dark, 1))
    return runs


@pytest.mark.parametrize("text", LABELS)
def test_code128_png_draws_the_modules(text):
    module = 3
    image = Image.open(io.BytesIO(code128_png(text, module=module, height=50)))
    assert image.format == "PNG" and image.height > 50  # bars and the text under them
    row = [image.getpixel((x, 10)) for x in range(image.width)]
    runs = _runs(row)
    quiet = (False, QUIET_MODULES * module)
    assert runs[0] == quiet and runs[-1] == quiet
    assert [(dark, n // module) for dark, n in runs[1:-1]] == code128_modules(text)
    plain = Image.open(io.BytesIO(code128_png(text, human_readable=False, height=40)))
    assert plain.height == 40


def test_code128_svg_draws_the_modules():
    text = address_label("A-01-02-03")
    svg = ET.fromstring(code128_svg(text, module=2, height=40))
    bars = [r for r in svg.iter("{http://www.w3.org/2000/svg}rect") if r.get("x") is not None]
    expected, x = [], QUIET_MODULES * 2
    for is_bar, n in code128_modules(text):
        if is_bar:
            expected.append((x, n * 2))
        x += n * 2
    assert [(float(r.get("x")), float(r.get("width"))) for r in bars] == expected
    assert re.search(r">ADR-A-01-02-03</text>", code128_svg(text))


@pytest.mark.parametrize("bad", ["", "ЛЛО", "a\x1db", "x" * 81])
def test_code128_refuses_what_it_cannot_encode(bad):
    with pytest.raises(ValueError):
        code128_modules(bad)


def test_the_command_line_helper(tmp_path, capsys):
    from llo.barcodes.__main__ import main

    assert main(["parse", "]C100146070011234567898"]) == 0
    assert "sscc                   146070011234567898" in capsys.readouterr().out
    assert main(["parse", "4601234567894"]) == 1
    assert capsys.readouterr().err.startswith("bad_check_digit: ")
    assert main(["code128", "ADR-A-01-02-03", str(tmp_path / "label.svg")]) == 0
    assert (tmp_path / "label.svg").read_text().startswith("<svg")
    if datamatrix_available():
        png = tmp_path / "pack.png"
        assert main(["datamatrix", PACK.replace(GS, "<GS>"), str(png)]) == 0
        assert main(["decode", str(png)]) == 0
        assert capsys.readouterr().out.strip() == PACK.replace(GS, "<GS>")
