"""The printed prescription, form 148-1/у-04(л), as a PDF (A5 portrait, drawn on a reportlab canvas).

The blank of order 1094н of 24.11.2021: the MO's stamp, the place for the barcode (a DataMatrix
holding `RX-<series>-<number>`, which the pharmacy scanner's `parse_scan` reads as a prescription),
the code rows (MO code = ОГРН, benefit category, ICD-10), funding source and payment share with the
chosen option marked, «РЕЦЕПТ Серия … № …» and its date, the patient and the doctor, «Rp:» with the
quantity and Signa, the validity, the signature and stamp places, and under the tear line the
pharmacy's part to fill in by hand. A cancelled prescription is crossed by «АННУЛИРОВАН».

Every region of the blank is a row of LAYOUT (millimetres from the page's top-left corner); texts
are fitted into their region — smaller type, then wrapping, and only past the model's field
lengths an ellipsis — so nothing leaves the page. Layout and checks: docs/print-form.md.
"""

from __future__ import annotations

import io
import logging
import math
import re
from dataclasses import dataclass
from datetime import date

from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from PIL import Image
from reportlab.lib import colors
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from llo.barcodes import DataMatrixUnavailable, encode_datamatrix, prescription_label
from llo.models import FundingSource, PaymentShare
from llo.russian import plural
from llo.validators import format_snils
from registry.patient_card import FONT, FONT_BOLD, register_fonts

from .models import Prescription, Status, Urgency

FORM_CODE = "148-1/у-04 (л)"
FORM_APPROVAL = ("Утверждена приказом Министерства здравоохранения Российской Федерации "
                 "от 24 ноября 2021 г. № 1094н")
MINISTRY = "Министерство здравоохранения Российской Федерации"

log = logging.getLogger(__name__)

# What render_pdf reads besides the prescription's own fields: select_related(*PRINT_RELATED).
PRINT_RELATED = ("organization__parent", "subdivision", "doctor", "person", "drug__inn", "package__trade_name")

PAGE_W, PAGE_H = A5
INK = colors.black
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#777777")
RED = colors.HexColor("#C0001A")
MIN_SIZE = 5.0  # the smallest type a text is shrunk to before it is cut
LEADING = 1.18  # line height as a share of the type size


@dataclass(frozen=True)
class Box:
    """A region of the blank: left and top edges from the page's top-left corner, width, height (mm)."""

    x: float
    top: float
    w: float
    h: float

    @property
    def left(self) -> float:
        return self.x * mm

    @property
    def right(self) -> float:
        return (self.x + self.w) * mm

    @property
    def upper(self) -> float:  # reportlab's y grows upwards
        return PAGE_H - self.top * mm

    @property
    def lower(self) -> float:
        return PAGE_H - (self.top + self.h) * mm

    @property
    def width(self) -> float:
        return self.w * mm

    @property
    def height(self) -> float:
        return self.h * mm


LAYOUT = {
    "stamp": Box(6, 5, 62, 25),        # MO stamp: ministry, MO name, subdivision, address
    "barcode": Box(71, 5, 25, 25),     # «место для штрих-кода»: the DataMatrix and its text
    "form": Box(99, 5, 43, 25),        # «Медицинская документация, форма № …, утверждена …»
    "notes": Box(6, 31, 136, 4.5),     # cancelled / hand-written banner (empty otherwise)
    "mo_code": Box(6, 36.5, 136, 6),   # «Код медицинской организации» = ОГРН in cells
    "codes": Box(6, 43.5, 136, 6),     # benefit category code, ICD-10 code in cells
    "terms": Box(6, 51, 136, 17),      # funding source | payment share, chosen options marked
    "title": Box(6, 69.5, 136, 11),    # «РЕЦЕПТ Серия … № …», date of issue, cito/statim mark
    "people": Box(6, 81.5, 136, 31),   # patient and doctor, one field per ruled line
    "rp": Box(6, 114, 136, 39),        # Rp: drug, ВК decision, quantity, Signa
    "validity": Box(6, 154.5, 136, 5),  # «Рецепт действителен в течение N дней (по …)»
    "signature": Box(6, 160, 136, 13),  # doctor's signature, stamp circle, ЭП note
    "tear": Box(3, 174.5, 142, 3),     # dashed tear line
    "stub": Box(6, 178.5, 136, 26),    # «Корешок»: the pharmacy's part, blank lines to fill
}

# The people block: rows of (label, key of _people(), share of the row's width).
PEOPLE_ROWS = [
    [("Ф. И. О. пациента", "patient", 1.0)],
    [("Дата рождения", "birth_date", 0.38), ("СНИЛС", "snils", 0.62)],
    [("Полис ОМС", "policy", 0.5), ("Номер медицинской карты", "card", 0.5)],
    [("Ф. И. О. лечащего врача (фельдшера, акушерки)", "doctor", 1.0)],
    [("Код лечащего врача", "doctor_code", 1.0)],
]

PAYMENT_SHARE_TEXT = {PaymentShare.FREE: "100 % (бесплатно)", PaymentShare.HALF: "50 %", PaymentShare.OTHER: "иной"}
URGENCY_MARK = {Urgency.CITO: ("cito!", "срочно"), Urgency.STATIM: ("statim!", "немедленно")}
MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
          "ноября", "декабря")


# ------------------------------------------------------------------------------- text fitting

def _break_word(word: str, font: str, size: float, width: float) -> list[str]:
    """A word wider than the line, in pieces that fit (at least one character each)."""
    pieces = []
    while len(word) > 1 and stringWidth(word, font, size) > width:
        cut = 1
        while cut < len(word) and stringWidth(word[:cut + 1], font, size) <= width:
            cut += 1
        pieces.append(word[:cut])
        word = word[cut:]
    return pieces + [word]


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap; a word wider than the line is broken between characters."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if stringWidth(candidate, font, size) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        *full, line = _break_word(word, font, size, width)
        lines += full
    if line:
        lines.append(line)
    return lines


def _baseline(top: float, size: float) -> float:
    """The baseline of a line of `size` whose line box starts at `top`."""
    return top - size * (1 - 0.18)


def _ellipsize(text: str, font: str, size: float, width: float) -> str:
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _fit_lines(text: str, font: str, width: float, height: float, size: float,
               min_size: float = MIN_SIZE) -> tuple[float, list[str]]:
    """The largest size (down to `min_size`) at which `text` wraps into the box, and its lines;
    at `min_size` the lines that do not fit are dropped and the last one ends with «…»."""
    while True:
        lines = _wrap(text, font, size, width)
        if len(lines) * size * LEADING <= height or size <= min_size:
            break
        size = max(min_size, size - 0.25)
    room = max(1, int(height // (size * LEADING)))
    if len(lines) > room:
        lines = lines[:room]
        lines[-1] = _ellipsize(lines[-1] + " …", font, size, width)
    return size, lines


def _draw_lines(c: canvas.Canvas, lines: list[str], x: float, top: float, font: str, size: float, *,
                align: str = "left", color=INK) -> float:
    """Lines from `top` downwards; answers the y below the last one."""
    c.setFont(font, size)
    c.setFillColor(color)
    y = top
    for line in lines:
        baseline = _baseline(y, size)
        y -= size * LEADING
        if align == "right":
            c.drawRightString(x, baseline, line)
        elif align == "center":
            c.drawCentredString(x, baseline, line)
        else:
            c.drawString(x, baseline, line)
    return y


def _text(c: canvas.Canvas, text: str, x: float, y: float, width: float, font: str = FONT, size: float = 8,
          *, align: str = "left", color=INK) -> float:
    """One line on baseline `y`, made smaller (then cut) to fit `width`; answers its width."""
    while size > MIN_SIZE and stringWidth(text, font, size) > width:
        size = max(MIN_SIZE, size - 0.25)
    text = _ellipsize(text, font, size, width)
    c.setFont(font, size)
    c.setFillColor(color)
    {"left": c.drawString, "right": c.drawRightString, "center": c.drawCentredString}[align](x, y, text)
    return stringWidth(text, font, size)


def _label(c: canvas.Canvas, text: str, x: float, y: float, width: float, size: float = 6.2) -> float:
    return _text(c, text, x, y, width, FONT, size, color=GREY)


def _rule(c: canvas.Canvas, x0: float, x1: float, y: float) -> None:
    c.setStrokeColor(RULE)
    c.setLineWidth(0.4)
    c.line(x0, y, x1, y)


def _field(c: canvas.Canvas, x: float, y: float, width: float, label: str, value: str, *, bold: bool = False) -> None:
    """«Label ____value____»: the value on a ruled line after its label."""
    used = _label(c, label, x, y, width * 0.6)
    start = x + used + 1.5 * mm
    _rule(c, start, x + width - 2 * mm, y - 1.2)
    _text(c, value, start + 1 * mm, y + 0.3, x + width - start - 3 * mm, FONT_BOLD if bold else FONT, 9)


def _cells(c: canvas.Canvas, x: float, y: float, text: str, count: int, cell_w: float, cell_h: float) -> float:
    """`count` boxed cells from (x, y = bottom), one character in each; answers the right edge."""
    c.setStrokeColor(INK)
    c.setLineWidth(0.6)
    for i in range(count):
        c.rect(x + i * cell_w, y, cell_w, cell_h)
    for i, char in enumerate(text[:count]):
        _text(c, char, x + (i + 0.5) * cell_w, y + cell_h * 0.25, cell_w, FONT_BOLD, 9, align="center")
    return x + count * cell_w


def _mark(c: canvas.Canvas, x: float, baseline: float, width: float, size: float) -> None:
    """«Нужное подчеркнуть»: the chosen option underlined and ringed."""
    c.setStrokeColor(INK)
    c.setLineWidth(0.8)
    c.line(x, baseline - 1.2, x + width, baseline - 1.2)
    c.setLineWidth(0.6)
    low, high = baseline - 0.75 * mm, baseline + size * 0.85
    c.roundRect(x - 1.3 * mm, low, width + 2.6 * mm, high - low, (high - low) / 2)


def _choices(c: canvas.Canvas, x: float, top: float, width: float, title: str,
             options: list[tuple[str, str]], chosen: str, row_h: float) -> None:
    """A titled list «1. …, 2. …, 3. …» with the chosen option (by its digit) marked."""
    _text(c, title, x, top - 3.2 * mm, width, FONT_BOLD, 7)
    _label(c, "(нужное подчеркнуть)", x + stringWidth(title, FONT_BOLD, 7) + 1.5 * mm, top - 3.2 * mm,
           width * 0.4, 5.5)
    for i, (digit, text) in enumerate(options):
        baseline = top - 3.2 * mm - (i + 1) * row_h
        is_chosen = digit == chosen
        drawn = _text(c, f"{digit}. {text}", x + 2 * mm, baseline, width - 6 * mm,
                      FONT_BOLD if is_chosen else FONT, 7.5)
        if is_chosen:
            _mark(c, x + 2 * mm, baseline, drawn, 7.5)


# ------------------------------------------------------------------------------------ values

def _d(day: date | None) -> str:
    return f"{day:%d.%m.%Y}" if day else "—"


def _long_date(day: date) -> str:
    return f"«{day.day:02d}» {MONTHS[day.month - 1]} {day.year} г."


def _initials(doctor) -> str:
    return " ".join([doctor.last_name] + [f"{part[0]}." for part in (doctor.first_name, doctor.patronymic) if part])


_UNITS = ("", "одна", "две", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять")
_TEENS = ("десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать", "шестнадцать",
          "семнадцать", "восемнадцать", "девятнадцать")
_TENS = ("", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят", "восемьдесят",
         "девяносто")
_HUNDREDS = ("", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот", "восемьсот",
             "девятьсот")


def _words_below_1000(n: int) -> list[str]:
    words = [_HUNDREDS[n // 100]]
    n %= 100
    words += [_TEENS[n - 10]] if 10 <= n < 20 else [_TENS[n // 10], _UNITS[n % 10]]
    return [w for w in words if w]


def in_words(n: int) -> str:
    """A count of feminine nouns (упаковка, тысяча) in words: 2 → «две», 1021 → «одна тысяча двадцать одна»."""
    if n == 0:
        return "ноль"
    thousands, rest = divmod(n, 1000)
    words = []
    if thousands:
        words += _words_below_1000(thousands) + [plural(thousands, "тысяча", "тысячи", "тысяч")]
    return " ".join(words + _words_below_1000(rest))


def quantity_text(n: int) -> str:
    """«2 (две) упаковки»: the quantity also in words, as prescriptions write it."""
    return f"{n} ({in_words(n)}) {plural(n, 'упаковка', 'упаковки', 'упаковок')}"


def drug_text(rx: Prescription) -> str:
    """INN, dosage form, dosage — or the trade name first when the medical commission chose it."""
    inn_line = ", ".join(part for part in (rx.drug.inn.name, rx.drug.dosage_form, rx.dosage) if part)
    if rx.package_id:
        return f"{rx.package.trade_name.name} (МНН: {inn_line})"
    return inn_line


def _ogrn(rx: Prescription) -> str:
    org = rx.organization
    return org.ogrn or (org.parent.ogrn if org.parent_id else "")


def _people(rx: Prescription) -> dict[str, str]:
    person, doctor = rx.person, rx.doctor
    card = getattr(person, "card_number", "") or (str(person.pk) if person.pk else "")
    return {
        "patient": person.full_name,
        "birth_date": _d(person.birth_date),
        "snils": format_snils(person.snils) if person.snils else "не указан",
        "policy": person.oms_policy or "не указан",
        "card": card or "—",
        "doctor": doctor.full_name,
        "doctor_code": doctor.code or "—",
    }


def _notes(rx: Prescription) -> list[tuple[str, object]]:
    notes = []
    if rx.status == Status.CANCELLED:
        when = timezone.localtime(rx.status_changed_at).date() if rx.status_changed_at else None
        reason = f": {rx.cancel_reason}" if rx.cancel_reason else ""
        notes.append((f"РЕЦЕПТ АННУЛИРОВАН {_d(when)}{reason}", RED))
    if rx.is_handwritten:
        notes.append(("Выписан от руки: копия записи реестра рецептов, выписанных от руки", INK))
    return notes


# -------------------------------------------------------------------------------- the barcode

def barcode_text(rx: Prescription) -> str | None:
    """`RX-<series>-<number>`, or None for a series/number the label cannot hold."""
    try:
        return prescription_label(rx.series, rx.number)
    except ValueError:
        return None


def datamatrix_modules(text: str) -> list[list[bool]]:
    """The modules of the smallest square DataMatrix holding `text` (libdmtx; a plain symbol, not
    GS1), rows top to bottom, True for dark. Raises DataMatrixUnavailable without libdmtx."""
    png = encode_datamatrix(text, gs1=False, module_size=1, margin=0)
    image = Image.open(io.BytesIO(png)).convert("1")
    pixels = image.load()
    return [[pixels[x, y] == 0 for x in range(image.width)] for y in range(image.height)]


def _draw_modules(c: canvas.Canvas, modules: list[list[bool]], x: float, y: float, side: float) -> None:
    """Vector squares (crisp at any printer resolution), each run of dark modules one rectangle."""
    unit = side / len(modules)
    c.setFillColor(INK)
    for r, row in enumerate(modules):
        top = y + side - (r + 1) * unit
        col = 0
        while col < len(row):
            if not row[col]:
                col += 1
                continue
            start = col
            while col < len(row) and row[col]:
                col += 1
            c.rect(x + start * unit, top, (col - start) * unit, unit, stroke=0, fill=1)


# ----------------------------------------------------------------------------------- sections

def _stamp(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    org = rx.organization
    c.setStrokeColor(RULE)
    c.setLineWidth(0.5)
    c.setDash(2, 1.5)
    c.roundRect(box.left, box.lower, box.width, box.height, 2 * mm)
    c.setDash()
    inner_x, inner_w = box.left + 2 * mm, box.width - 4 * mm
    y = box.upper - 1.2 * mm
    y = _draw_lines(c, [_ellipsize(MINISTRY, FONT, 5.6, inner_w)], inner_x, y, FONT, 5.6, color=GREY)
    y = _draw_lines(c, ["Наименование (штамп) медицинской организации"], inner_x, y, FONT, 5.6, color=GREY)
    y -= 0.6 * mm
    size, lines = _fit_lines(org.name, FONT_BOLD, inner_w, 10.5 * mm, 8)
    y = _draw_lines(c, lines, inner_x, y, FONT_BOLD, size)
    details = [rx.subdivision.name if rx.subdivision_id else "", org.address,
               f"тел. {org.phone}" if org.phone else ""]
    details_text = "; ".join(part for part in details if part)
    if details_text:
        room = y - box.lower - 1 * mm
        size, lines = _fit_lines(details_text, FONT, inner_w, room, 6.5)
        _draw_lines(c, lines, inner_x, y - 0.4 * mm, FONT, size)


def _barcode(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    # corner marks only: a full frame would eat the symbol's quiet zone
    c.setStrokeColor(INK)
    c.setLineWidth(0.6)
    arm = 2.5 * mm
    for x, y, dx, dy in ((box.left, box.upper, 1, -1), (box.right, box.upper, -1, -1),
                         (box.left, box.lower, 1, 1), (box.right, box.lower, -1, 1)):
        c.line(x, y, x + dx * arm, y)
        c.line(x, y, x, y + dy * arm)
    centre = (box.left + box.right) / 2
    _text(c, "МЕСТО ДЛЯ ШТРИХ-КОДА", centre, box.upper - 2.4 * mm, box.width - 2 * arm, FONT, 4.8,
          align="center", color=GREY)
    text = barcode_text(rx)
    problem = "" if text else "Штрихкод не формируется: серия или номер не по формату"
    if text:
        try:
            modules = datamatrix_modules(text)
        except DataMatrixUnavailable as error:
            # the form still prints (the pharmacy finds it by series and number); admins must fix it
            log.error("prescription %s printed without its DataMatrix: %s", rx.pk, error)
            problem = "Штрихкод не напечатан: на сервере не установлена библиотека libdmtx"
    if problem:
        size, lines = _fit_lines(problem, FONT, box.width - 4 * mm, box.height - 9 * mm, 6.5)
        _draw_lines(c, lines, centre, box.upper - 4.5 * mm, FONT, size, align="center", color=RED)
    else:
        side = 16 * mm
        _draw_modules(c, modules, centre - side / 2, box.lower + 3.6 * mm, side)
    if text:
        _text(c, text, centre, box.lower + 1.2 * mm, box.width - 1 * mm, FONT, 5.4, align="center")


def _form(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    y = _draw_lines(c, ["Медицинская документация"], box.right, box.upper - 0.6 * mm, FONT, 6.5, align="right")
    y = _draw_lines(c, [f"Форма № {FORM_CODE}"], box.right, y, FONT_BOLD, 10, align="right")
    size, lines = _fit_lines(FORM_APPROVAL, FONT, box.width, y - box.lower - 5 * mm, 6)
    _draw_lines(c, lines, box.right, y - 0.5 * mm, FONT, size, align="right", color=GREY)


def _notes_strip(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    notes = _notes(rx)
    if not notes:
        return
    c.setStrokeColor(notes[0][1])
    c.setLineWidth(0.7)
    c.rect(box.left, box.lower, box.width, box.height)
    x, width = box.left + 1.5 * mm, box.width - 3 * mm
    for i, (text, color) in enumerate(notes):
        share = width / len(notes)
        _text(c, text, x + i * share, box.lower + 1.35 * mm, share - 2 * mm, FONT_BOLD, 7, color=color)


def _mo_code(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    baseline = box.lower + 1.6 * mm
    used = _text(c, "Код медицинской организации (ОГРН)", box.left, baseline, 60 * mm, FONT, 7.5)
    ogrn = _ogrn(rx)
    _cells(c, box.left + used + 3 * mm, box.lower, ogrn, max(13, len(ogrn)), 4.6 * mm, box.height)


def _codes(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    baseline = box.lower + 1.6 * mm
    used = _text(c, "Код категории граждан", box.left, baseline, 40 * mm, FONT, 7.5)
    right = _cells(c, box.left + used + 3 * mm, box.lower, rx.category_code, max(3, len(rx.category_code)),
                   4.6 * mm, box.height)
    label_x = right + 6 * mm
    used = _text(c, "Код нозологической формы (по МКБ-10)", label_x, baseline, 52 * mm, FONT, 7.5)
    icd = rx.icd10
    count = max(5, len(icd))
    start = label_x + used + 3 * mm
    _cells(c, start, box.lower, icd, count, min(4.6 * mm, (box.right - start) / count), box.height)


def _terms(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    half = box.width / 2
    c.setStrokeColor(INK)
    c.setLineWidth(0.6)
    c.rect(box.left, box.lower, box.width, box.height)
    c.line(box.left + half, box.lower, box.left + half, box.upper)
    row_h = (box.height - 5.6 * mm) / 3
    funding = [(value, label) for value, label in FundingSource.choices]
    _choices(c, box.left + 1.5 * mm, box.upper, half - 3 * mm, "Источник финансирования", funding,
             rx.funding_source, row_h)
    shares = [(value, PAYMENT_SHARE_TEXT[value]) for value in PaymentShare.values]
    if rx.payment_share == PaymentShare.OTHER and rx.payment_percent is not None:
        shares[-1] = (PaymentShare.OTHER, f"иной: {rx.payment_percent.normalize():f} %")
    _choices(c, box.left + half + 1.5 * mm, box.upper, half - 3 * mm, "% оплаты", shares, rx.payment_share, row_h)


def _title(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    mark = URGENCY_MARK.get(rx.urgency)
    mark_w = 28 * mm if mark else 0
    centre = box.left + (box.width - mark_w) / 2
    title_baseline = box.upper - 5 * mm
    _text(c, f"РЕЦЕПТ   Серия {rx.series}   № {rx.number}", centre, title_baseline, box.width - mark_w,
          FONT_BOLD, 12.5, align="center")
    date_baseline = box.lower + 1.2 * mm
    used = _text(c, f"от {_long_date(rx.issued_on)}", centre, date_baseline, box.width - mark_w, FONT, 9,
                 align="center")
    _label(c, "(дата оформления рецепта)", centre + used / 2 + 2 * mm, date_baseline, 30 * mm, 5.6)
    if mark:
        word, meaning = mark
        x = box.right - mark_w
        c.setStrokeColor(INK)
        c.setLineWidth(1.1)
        c.roundRect(x + 1 * mm, box.lower + 1 * mm, mark_w - 1 * mm, box.height - 2 * mm, 1.5 * mm)
        _text(c, word, x + mark_w / 2 + 0.5 * mm, box.upper - 5.6 * mm, mark_w - 3 * mm, FONT_BOLD, 14, align="center")
        _text(c, f"({meaning})", x + mark_w / 2 + 0.5 * mm, box.lower + 2.4 * mm, mark_w - 3 * mm, FONT, 6.5,
              align="center")


def _people_block(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    values = _people(rx)
    row_h = box.height / len(PEOPLE_ROWS)
    for r, row in enumerate(PEOPLE_ROWS):
        baseline = box.upper - (r + 1) * row_h + 1.6 * mm
        x = box.left
        for label, key, share in row:
            width = box.width * share
            _field(c, x, baseline, width, label, values[key], bold=key in ("patient", "doctor"))
            x += width


def _rp_paragraphs(rx: Prescription) -> list[tuple[str, str, str]]:
    """(label, text, font) of the Rp block, in order."""
    paragraphs = [("Rp.:", drug_text(rx), FONT_BOLD)]
    if rx.package_id:
        paragraphs.append(("", f"Торговое наименование — по решению ВК, протокол № {rx.vk_protocol or '—'}", FONT))
    pack = rx.package.pack_description if rx.package_id else ""
    paragraphs.append(("D. t. d.", quantity_text(rx.quantity) + (f" ({pack})" if pack else ""), FONT))
    paragraphs.append(("Signa:", rx.signa or "—", FONT))
    return paragraphs


def _rp(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    c.setStrokeColor(INK)
    c.setLineWidth(0.6)
    c.rect(box.left, box.lower, box.width, box.height)
    label_w, pad, gap = 13 * mm, 2 * mm, 1.2 * mm
    text_x = box.left + pad + label_w
    text_w, room = box.right - pad - text_x, box.height - 2 * pad
    paragraphs = _rp_paragraphs(rx)
    size = 9.5
    while True:  # one size for the whole block: shrink until every paragraph fits together
        wrapped = [_wrap(text, font, size, text_w) for _, text, font in paragraphs]
        needed = sum(len(lines) for lines in wrapped) * size * LEADING + gap * (len(paragraphs) - 1)
        if needed <= room or size <= MIN_SIZE:
            break
        size = max(MIN_SIZE, size - 0.25)
    if needed > room:  # past the model's lengths only: cut the longest paragraph
        longest = max(range(len(wrapped)), key=lambda i: len(wrapped[i]))
        others = sum(len(lines) for i, lines in enumerate(wrapped) if i != longest)
        keep = max(1, int((room - gap * (len(paragraphs) - 1)) // (size * LEADING)) - others)
        font = paragraphs[longest][2]
        wrapped[longest] = wrapped[longest][:keep]
        wrapped[longest][-1] = _ellipsize(wrapped[longest][-1] + " …", font, size, text_w)
    y = box.upper - pad
    for (label, _, font), lines in zip(paragraphs, wrapped):
        if label:
            _text(c, label, box.left + pad, _baseline(y, size), label_w - 1 * mm, FONT_BOLD, size)
        y = _draw_lines(c, lines, text_x, y, font, size) - gap


def _validity(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    baseline = box.lower + 1.4 * mm
    x = box.left
    x += _text(c, "Рецепт действителен в течение", x, baseline, box.width / 2, FONT, 8.5) + 2.5 * mm
    days = f"{rx.validity_days} {plural(rx.validity_days, 'дня', 'дней', 'дней')}"
    used = _text(c, days, x, baseline, 25 * mm, FONT_BOLD, 9)
    _mark(c, x, baseline, used, 9)
    x += used + 2.5 * mm
    _text(c, f"(по {_d(rx.expires_on)} включительно)", x, baseline, box.right - x, FONT, 8.5)


def _signature(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    line_y = box.upper - 6 * mm
    _label(c, "Подпись и печать лечащего врача", box.left, line_y + 1 * mm, 40 * mm)
    _label(c, "(подпись фельдшера, акушерки)", box.left, line_y - 1.6 * mm, 40 * mm)
    sign_x0, sign_x1 = box.left + 42 * mm, box.left + 88 * mm
    _rule(c, sign_x0, sign_x1, line_y)
    _text(c, f"/ {_initials(rx.doctor)} /", sign_x1 + 1.5 * mm, line_y + 0.8 * mm, 24 * mm, FONT, 8)
    # the stamp's place: a dashed circle with «М. П.»
    cx, cy, r = box.right - 9 * mm, box.lower + box.height / 2, 5.8 * mm
    c.setStrokeColor(RULE)
    c.setLineWidth(0.5)
    c.setDash(1.5, 1.5)
    c.circle(cx, cy, r)
    c.setDash()
    _text(c, "М. П.", cx, cy - 1 * mm, 2 * r, FONT, 7, align="center", color=GREY)
    if rx.signed_at:
        signed = timezone.localtime(rx.signed_at)
        _label(c, f"Электронный рецепт (СЭМД) подписан ЭП врача {signed:%d.%m.%Y %H:%M}", box.left,
               box.lower + 1 * mm, box.width - 2 * r - 8 * mm, 6)


def _tear(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    y = box.lower + box.height / 2
    text = "линия отрыва"
    text_w = stringWidth(text, FONT, 5.5) + 3 * mm
    centre = (box.left + box.right) / 2
    c.setStrokeColor(GREY)
    c.setLineWidth(0.5)
    c.setDash(3, 2)
    c.line(box.left, y, centre - text_w / 2, y)
    c.line(centre + text_w / 2, y, box.right, y)
    c.setDash()
    _text(c, text, centre, y - 0.7 * mm, text_w, FONT, 5.5, align="center", color=GREY)


def _stub(c: canvas.Canvas, rx: Prescription, box: Box) -> None:
    row_h = box.height / 5.4
    baseline = box.upper - 3.6 * mm
    used = _text(c, "КОРЕШОК РЕЦЕПТА", box.left, baseline, 40 * mm, FONT_BOLD, 9)
    _label(c, "отметка аптечной организации об отпуске", box.left + used + 2 * mm, baseline, 50 * mm)
    _text(c, f"Серия {rx.series}  № {rx.number}  от {_d(rx.issued_on)}", box.right, baseline, box.width * 0.42,
          FONT_BOLD, 8, align="right")
    prescribed = f"Выписано: {drug_text(rx)}; {quantity_text(rx.quantity)}"
    size, lines = _fit_lines(prescribed, FONT, box.width, row_h * 1.25, 6.5)
    top = _draw_lines(c, lines, box.left, baseline - 1.2 * mm, FONT, size, color=GREY)
    rows = [
        [("Отпущено (торговое наименование)", 1.0)],
        [("Дозировка", 0.5), ("Количество, уп.", 0.5)],
        [("Дата отпуска", 0.5), ("Подпись фармацевтического работника", 0.5)],
    ]
    row_h = (top - box.lower) / len(rows)
    for r, row in enumerate(rows):
        y = top - (r + 1) * row_h + 1.4 * mm
        x = box.left
        for label, share in row:
            _field(c, x, y, box.width * share, label, "")
            x += box.width * share


def _cancelled_overlay(c: canvas.Canvas, rx: Prescription) -> None:
    """A stamp-like «АННУЛИРОВАН» across the whole blank, translucent so the form stays readable."""
    word = "АННУЛИРОВАН"
    angle = math.degrees(math.atan2(PAGE_H, PAGE_W))
    size = min(60.0, 0.62 * math.hypot(PAGE_W, PAGE_H) / (stringWidth(word, FONT_BOLD, 1) or 1))
    width = stringWidth(word, FONT_BOLD, size)
    c.saveState()
    c.translate(PAGE_W / 2, PAGE_H / 2)
    c.rotate(angle)
    c.setFillColor(RED)
    c.setStrokeColor(RED)
    c.setFillAlpha(0.33)
    c.setStrokeAlpha(0.45)
    c.setLineWidth(3)
    c.roundRect(-width / 2 - 4 * mm, -size * 0.42 - 4 * mm, width + 8 * mm, size * 0.42 * 2 + 7 * mm, 3 * mm)
    c.setFont(FONT_BOLD, size)
    c.drawCentredString(0, -size * 0.35, word)
    c.restoreState()


SECTIONS = [  # (region of LAYOUT, drawing function), in drawing order
    ("stamp", _stamp), ("barcode", _barcode), ("form", _form), ("notes", _notes_strip), ("mo_code", _mo_code),
    ("codes", _codes), ("terms", _terms), ("title", _title), ("people", _people_block), ("rp", _rp),
    ("validity", _validity), ("signature", _signature), ("tear", _tear), ("stub", _stub),
]


# ----------------------------------------------------------------------------------- document

def render_pdf(prescription: Prescription) -> bytes:
    """The prescription on form 148-1/у-04(л): one A5 page. Reads the relations in PRINT_RELATED."""
    register_fonts()
    rx = prescription
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A5, pageCompression=1)
    c.setTitle(f"Рецепт {FORM_CODE}, серия {rx.series} № {rx.number}")
    c.setAuthor(rx.organization.short_name or rx.organization.name)
    c.setCreator("ЛЛО")
    c.setSubject(FORM_APPROVAL)
    for region, draw in SECTIONS:
        draw(c, rx, LAYOUT[region])
    if rx.status == Status.CANCELLED:
        _cancelled_overlay(c, rx)
    c.showPage()
    c.save()
    return buf.getvalue()


def pdf_filename(prescription: Prescription) -> str:
    safe = re.compile(r"[^0-9A-Za-z]+")
    return f"recept-{safe.sub('_', prescription.series)}-{safe.sub('_', prescription.number)}.pdf"


def prescription_pdf_response(prescription: Prescription) -> HttpResponse:
    """The form as an inline PDF (opens in the browser's viewer, prints from there); for the page
    and the API alike. The caller checks access; the answer is never cached (personal data)."""
    response = HttpResponse(render_pdf(prescription), content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, pdf_filename(prescription))
    response["Cache-Control"] = "private, no-store"
    return response
