"""Form 148-1/у-04(л) as a PDF: read back with poppler (pdftotext, pdftoppm) and libdmtx."""

import io
import re
import shutil
import subprocess
from dataclasses import dataclass

import pypdf
import pytest
from django.utils import timezone
from PIL import Image
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm

from llo.barcodes import (
    DataMatrixUnavailable,
    Kind,
    datamatrix_available,
    decode_datamatrix,
    parse_scan,
)
from llo.validators import format_snils
from prescriptions import print_form, services
from prescriptions.models import Prescription
from prescriptions.print_form import (
    LAYOUT,
    PRINT_RELATED,
    in_words,
    prescription_pdf_response,
    quantity_text,
    render_pdf,
)

POPPLER = shutil.which("pdftotext") and shutil.which("pdftoppm")
needs_poppler = pytest.mark.skipif(
    not POPPLER, reason="poppler-utils (pdftotext, pdftoppm) is not installed: apt-get install poppler-utils")
needs_libdmtx = pytest.mark.skipif(
    not datamatrix_available(), reason="libdmtx is not installed (apt-get install libdmtx0b): cannot decode DataMatrix")

LONG_SIGNA = " ".join(["Принимать по 1 таблетке утром и вечером во время еды, запивая водой; при тошноте или "
                       "боли в животе снизить дозу и обратиться к врачу; контроль глюкозы натощак ежедневно."] * 3)
LONG_SIGNA = LONG_SIGNA[:500].rsplit(" ", 1)[0]


def _fresh(rx: Prescription) -> Prescription:
    """The prescription as a view loads it for printing."""
    return Prescription.objects.select_related(*PRINT_RELATED).get(pk=rx.pk)


def _text(pdf: bytes) -> str:
    """The page's text as pdftotext -layout reads it, runs of spaces made one."""
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    return "\n".join(" ".join(line.split()) for line in out.decode().splitlines())


def _flat(pdf: bytes) -> str:
    return " ".join(_text(pdf).split())


@dataclass
class Word:
    text: str
    x0: float
    y0: float  # from the page's top, points
    x1: float
    y1: float


def _words(pdf: bytes) -> list[Word]:
    html = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    pattern = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')
    return [Word(text, float(x0), float(y0), float(x1), float(y1)) for x0, y0, x1, y1, text in pattern.findall(html)]


def _page_png(pdf: bytes, tmp_path, dpi: int = 200) -> bytes:
    source = tmp_path / "rx.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(source), str(tmp_path / "rx")], check=True)
    return (tmp_path / "rx.png").read_bytes()


# ------------------------------------------------------------------------------ without poppler

@pytest.mark.parametrize(("n", "text"), [
    (1, "1 (одна) упаковка"), (2, "2 (две) упаковки"), (5, "5 (пять) упаковок"), (11, "11 (одиннадцать) упаковок"),
    (12, "12 (двенадцать) упаковок"), (21, "21 (двадцать одна) упаковка"), (24, "24 (двадцать четыре) упаковки"),
    (100, "100 (сто) упаковок"), (112, "112 (сто двенадцать) упаковок"),
    (1002, "1002 (одна тысяча две) упаковки"), (32767, "32767 (тридцать две тысячи семьсот шестьдесят семь) упаковок"),
])
def test_quantity_is_also_written_in_words(n, text):
    assert quantity_text(n) == text
    assert in_words(2000) == "две тысячи" and in_words(5000) == "пять тысяч"


@pytest.mark.django_db
def test_one_a5_page_with_the_form_in_its_metadata(issued):
    pdf = render_pdf(_fresh(issued))
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A5, abs=0.01)
    assert reader.metadata.title == f"Рецепт 148-1/у-04 (л), серия {issued.series} № {issued.number}"


@pytest.mark.django_db
def test_response_is_an_inline_pdf_named_after_the_prescription(issued):
    response = prescription_pdf_response(_fresh(issued))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="recept-{issued.series}-{issued.number}.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")


@pytest.mark.django_db
def test_render_reads_only_the_relations_it_is_given(issued, django_assert_num_queries):
    rx = _fresh(issued)
    with django_assert_num_queries(0):
        render_pdf(rx)


# --------------------------------------------------------------------------------- text read back

@needs_poppler
@pytest.mark.django_db
def test_every_field_of_the_blank_is_printed(issue):
    rx = _fresh(issue(quantity=3))
    text, lines = _flat(render_pdf(rx)), _text(render_pdf(rx)).splitlines()
    person, doctor = rx.person, rx.doctor
    for expected in (
        "Форма № 148-1/у-04 (л)", "от 24 ноября 2021 г. № 1094н", rx.organization.name.split()[0],
        f"РЕЦЕПТ Серия {rx.series} № {rx.number}", f"{rx.issued_on:%Y} г.",
        f"Ф. И. О. пациента {person.full_name}", f"Дата рождения {person.birth_date:%d.%m.%Y}",
        f"СНИЛС {format_snils(person.snils)}", f"Полис ОМС {person.oms_policy}", f"Номер медицинской карты {person.pk}",
        f"Ф. И. О. лечащего врача (фельдшера, акушерки) {doctor.full_name}", f"Код лечащего врача {doctor.code}",
        f"Rp.: {rx.drug.inn.name}", rx.dosage, "D. t. d. 3 (три) упаковки", f"Signa: {rx.signa}",
        f"Рецепт действителен в течение {rx.validity_days} дней (по {rx.expires_on:%d.%m.%Y} включительно)",
        "Источник финансирования", "% оплаты", "1. Федеральный бюджет", "1. 100 % (бесплатно)",
        "Подпись и печать лечащего врача", "М. П.", "КОРЕШОК РЕЦЕПТА", "Отпущено (торговое наименование)",
        "Дозировка", "Количество, уп.", "Дата отпуска", "Подпись фармацевтического работника",
        f"Серия {rx.series} № {rx.number} от {rx.issued_on:%d.%m.%Y}", f"RX-{rx.series}-{rx.number}",
    ):
        assert expected in text, expected
    # the codes sit one character to a cell
    assert f"Код медицинской организации (ОГРН) {' '.join(rx.organization.ogrn)}" in lines
    [codes] = [line for line in lines if line.startswith("Код категории граждан")]
    assert codes == (f"Код категории граждан {' '.join(rx.category_code)} Код нозологической формы (по МКБ-10) "
                     f"{' '.join(rx.icd10)}")
    assert "АННУЛИРОВАН" not in text and "cito" not in text


@needs_poppler
@pytest.mark.django_db
def test_trade_name_is_printed_with_the_medical_commission_protocol(issue, package):
    rx = _fresh(issue(package=package, vk_protocol="17/2026 от 05.03.2026"))
    text = _flat(render_pdf(rx))
    assert package.trade_name.name in text
    assert f"(МНН: {rx.drug.inn.name}" in text
    assert "по решению ВК, протокол № 17/2026 от 05.03.2026" in text


@needs_poppler
@pytest.mark.django_db
def test_by_inn_there_is_no_commission_line(issued):
    assert "ВК" not in _flat(render_pdf(_fresh(issued)))


@needs_poppler
@pytest.mark.django_db
def test_long_signa_wraps_inside_the_rp_box(issue):
    rx = _fresh(issue(signa=LONG_SIGNA))
    pdf = render_pdf(rx)
    assert " ".join(LONG_SIGNA.split()) in _flat(pdf).replace("- ", "-")  # every word, in order
    box = LAYOUT["rp"]
    words = _words(pdf)
    signa = [w for w in words if w.y0 > box.top * mm and w.y1 < (box.top + box.h) * mm]
    assert {w.text for w in signa} >= set(LONG_SIGNA.split())
    assert len({round(w.y0) for w in signa if w.text in LONG_SIGNA.split()}) >= 3  # wrapped over lines
    for w in signa:
        assert box.left <= w.x0 and w.x1 <= box.right, w


@needs_poppler
@pytest.mark.django_db
def test_overlong_values_never_leave_the_page(issue, mo, patient):
    mo.name = ("Государственное бюджетное учреждение здравоохранения «Тестовская областная клиническая "
               "больница имени академика " + "Очень-Длинная-Фамилия " * 20)[:500]
    mo.address = ("г. Тестовск, " + "улица Очень Длинная, " * 30)[:500]
    mo.phone = "+7 (495) 123-45-67"
    mo.save()
    patient.last_name = "Константинопольская-Переяславская-Залесская-" * 2
    patient.save()
    rx = _fresh(issue(signa="Я" * 500, dosage="850 мг " * 28))  # a 500-character «word» too
    pdf = render_pdf(rx)
    width, height = A5
    for w in _words(pdf):
        assert 0 <= w.x0 and w.x1 <= width and 0 <= w.y0 and w.y1 <= height, w
    text = _flat(pdf)
    assert f"Серия {rx.series} № {rx.number}" in text and "КОРЕШОК РЕЦЕПТА" in text


@needs_poppler
@pytest.mark.django_db
def test_missing_optional_values_are_marked_not_given(issued):
    person = issued.person
    person.snils, person.oms_policy = None, ""
    person.save()
    rx = _fresh(issued)
    rx.subdivision = None
    text = _flat(render_pdf(rx))
    assert "СНИЛС не указан" in text and "Полис ОМС не указан" in text
    assert f"Ф. И. О. пациента {person.full_name}" in text


def _reddish_share(png: bytes) -> float:
    """The share of the page's middle third that is red or pink (the overlay, not the black form)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = image.size
    middle = image.crop((w // 6, h // 3, w * 5 // 6, h * 2 // 3))
    data = middle.tobytes()
    reddish = sum(1 for r, g, b in zip(data[0::3], data[1::3], data[2::3]) if r - g > 40 and r - b > 40)
    return reddish / (middle.width * middle.height)


@needs_poppler
@pytest.mark.django_db
def test_cancelled_prescription_is_crossed_out(issued, doctor_user, tmp_path):
    before = render_pdf(_fresh(issued))
    services.prescription_cancel(prescription=issued, user=doctor_user, reason="Ошибка в дозировке")
    rx = _fresh(issued)
    pdf = render_pdf(rx)
    text = _flat(pdf)
    assert f"РЕЦЕПТ АННУЛИРОВАН {timezone.localtime(rx.status_changed_at):%d.%m.%Y}: Ошибка в дозировке" in text
    assert rx.signa in text  # the form under the overlay stays readable
    # the overlay is diagonal: poppler breaks such text apart, pypdf reads it whole
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert page.count("АННУЛИРОВАН") == 2  # the banner and the overlay
    assert _reddish_share(_page_png(pdf, tmp_path, dpi=40)) > 0.05
    assert _reddish_share(_page_png(before, tmp_path, dpi=40)) == 0


@needs_poppler
@pytest.mark.django_db
@pytest.mark.parametrize(("urgency", "mark"), [("cito", "cito! (срочно)"), ("statim", "statim! (немедленно)")])
def test_urgency_is_marked(issue, urgency, mark):
    assert mark in _flat(render_pdf(_fresh(issue(urgency=urgency))))


@needs_poppler
@pytest.mark.django_db
def test_handwritten_prescription_says_so(draft, doctor_user, mo):
    rx = services.prescription_register_handwritten(user=doctor_user, draft=draft(), series="9926",
                                                    number=f"{mo.code}3000042")
    text = _flat(render_pdf(_fresh(rx)))
    assert "Выписан от руки" in text
    assert f"РЕЦЕПТ Серия 9926 № {mo.code}3000042" in text
    assert "подписан ЭП" not in text


# ------------------------------------------------------------------------------------- barcode

@needs_poppler
@needs_libdmtx
@pytest.mark.django_db
def test_datamatrix_on_the_printed_page_opens_the_prescription(issued, tmp_path):
    rx = _fresh(issued)
    png = _page_png(render_pdf(rx), tmp_path)
    [decoded] = decode_datamatrix(png, max_count=1)
    assert decoded == f"RX-{rx.series}-{rx.number}"
    scan = parse_scan(decoded)
    assert scan.kind == Kind.PRESCRIPTION
    assert (scan.prescription_series, scan.prescription_number) == (rx.series, rx.number)
    assert Prescription.objects.get(series=scan.prescription_series, number=scan.prescription_number) == rx


@needs_poppler
@needs_libdmtx
@pytest.mark.django_db
def test_datamatrix_lies_inside_the_barcode_area(issued):
    rx = _fresh(issued)
    symbol = print_form.datamatrix_modules(f"RX-{rx.series}-{rx.number}")
    assert len(symbol) == len(symbol[0]) >= 10  # square, the smallest size that holds the text
    box = LAYOUT["barcode"]
    [caption] = [w for w in _words(render_pdf(rx)) if w.text == f"RX-{rx.series}-{rx.number}"]
    assert box.left <= caption.x0 and caption.x1 <= box.right
    assert box.top * mm <= caption.y0 and caption.y1 <= (box.top + box.h) * mm


@needs_poppler
@pytest.mark.django_db
def test_without_libdmtx_the_form_still_prints_and_says_why(issued, monkeypatch, caplog):
    def unavailable(*args, **kwargs):
        raise DataMatrixUnavailable("no libdmtx")

    monkeypatch.setattr(print_form, "encode_datamatrix", unavailable)
    rx = _fresh(issued)
    pdf = render_pdf(rx)
    text, words = _flat(pdf), {w.text for w in _words(pdf)}  # the note wraps in the narrow area
    assert {"Штрихкод", "не", "напечатан:", "libdmtx"} <= words
    assert f"RX-{rx.series}-{rx.number}" in text  # the label text is still there to type in
    assert "printed without its DataMatrix" in caplog.text
