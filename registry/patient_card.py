"""The patient card, form 030-Л/у, as a PDF (A4, reportlab).

«Карта гражданина, имеющего право на получение набора социальных услуг, по учету отпуска
лекарственных средств» (order of the Ministry of Health and Social Development No. 169 of
14.03.2007, in the regime of order No. 255 of 22.11.2004): the MO's header, the patient's data,
the rights in force on the card's date, the patient's QR code, and the table of prescriptions
(the doctor's part and the pharmacy's part). Fields and sources: docs/patient-card.md.
"""

from __future__ import annotations

import importlib.util
import io
import threading
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, NextPageTemplate, PageTemplate, Paragraph, Spacer
from reportlab.platypus import Table, TableStyle

from llo.models import Organization

from .models import Person
from .patient_token import patient_token_expires_on, patient_token_issue, token_qr
from .snils import format_snils

FORM_CODE = "030-Л/у"
FORM_APPROVAL = "Утверждена приказом Минздравсоцразвития России от 14.03.2007 № 169"
TITLE = ("гражданина, имеющего право на получение набора социальных услуг, "
         "по учету отпуска лекарственных средств")
FONT, FONT_BOLD = "LLOSans", "LLOSans-Bold"
DEBIAN_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")

PAGE_W, PAGE_H = A4
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 12 * mm, 10 * mm, 14 * mm
CONTENT_W = PAGE_W - 2 * MARGIN_X
RUNNING_HEADER_H = 9 * mm
GRID = colors.HexColor("#555555")
SHADE = colors.HexColor("#EDEDED")
LABEL_GREY = colors.HexColor("#555555")

# ---------------------------------------------------------------------------------------- fonts

_fonts_lock = threading.Lock()
_font_source: str | None = None
_font_scale = 1.0
# The layout is drawn for Source Sans Pro; a wider fallback font is set smaller to keep it.
_SAMPLE, _SAMPLE_WIDTH = "Лекарственный препарат, таблетки 10.01.2026 Врачова А. П.", 265.3


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, without importing it."""
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def font_candidates() -> list[tuple[str, Path, Path]]:
    """(source, regular, bold) in order of preference: see docs/patient-card.md."""
    found = []
    if directory := _package_dir("font_source_sans_pro"):
        found.append(("font-source-sans-pro", directory / "files" / "SourceSansPro-Regular.ttf",
                      directory / "files" / "SourceSansPro-Bold.ttf"))
    if directory := _package_dir("matplotlib"):
        ttf = directory / "mpl-data" / "fonts" / "ttf"
        found.append(("matplotlib", ttf / "DejaVuSans.ttf", ttf / "DejaVuSans-Bold.ttf"))
    found.append(("fonts-dejavu-core", DEBIAN_DEJAVU / "DejaVuSansCondensed.ttf",
                  DEBIAN_DEJAVU / "DejaVuSansCondensed-Bold.ttf"))
    found.append(("fonts-dejavu-core", DEBIAN_DEJAVU / "DejaVuSans.ttf", DEBIAN_DEJAVU / "DejaVuSans-Bold.ttf"))
    return found


def register_fonts() -> str:
    """Register the Cyrillic font once per process; answers where it came from."""
    global _font_source, _font_scale
    with _fonts_lock:
        if _font_source is None:
            for source, regular, bold in font_candidates():
                if regular.is_file() and bold.is_file():
                    pdfmetrics.registerFont(TTFont(FONT, str(regular)))
                    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(bold)))
                    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT,
                                                  boldItalic=FONT_BOLD)
                    _font_source = f"{source}: {regular}"
                    _font_scale = min(1.0, _SAMPLE_WIDTH / pdfmetrics.stringWidth(_SAMPLE, FONT, 10))
                    break
            else:
                raise ImproperlyConfigured(
                    "No TTF font with Cyrillic for PDF forms: install the Python package "
                    "font-source-sans-pro (a project dependency) or the Debian package fonts-dejavu-core."
                )
        return _font_source


# --------------------------------------------------------------------------------------- styles

def _style(name: str, size: float, *, bold: bool = False, color=colors.black, align=0, leading=None):
    size, leading = size * _font_scale, (leading or size * 1.2) * _font_scale
    return ParagraphStyle(name, fontName=FONT_BOLD if bold else FONT, fontSize=size, leading=leading,
                          textColor=color, alignment=align)


def _styles() -> dict[str, ParagraphStyle]:
    return {
        "label": _style("label", 6.8, color=LABEL_GREY),
        "value": _style("value", 10),
        "value_bold": _style("value_bold", 11.5, bold=True),
        "org": _style("org", 10, bold=True),
        "form": _style("form", 7.5, align=TA_RIGHT, leading=9),
        "form_code": _style("form_code", 10, bold=True, align=TA_RIGHT),
        "title": _style("title", 15, bold=True, align=TA_CENTER, leading=18),
        "subtitle": _style("subtitle", 10, align=TA_CENTER, leading=12),
        "section": _style("section", 9, bold=True, leading=11),
        "cell": _style("cell", 8, leading=9.6),
        "head": _style("head", 7, bold=True, align=TA_CENTER, leading=8.4),
        "note": _style("note", 8, leading=10),
        "empty": _style("empty", 9, align=TA_CENTER, color=LABEL_GREY),
        "digit": _style("digit", 10, align=TA_CENTER),
        "qr": _style("qr", 7, align=TA_CENTER, leading=8.4),
    }


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _d(day: date | datetime | None) -> str:
    return f"{day:%d.%m.%Y}" if day else ""


def _field(row: object, name: str) -> object:
    value = row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)
    return "" if value is None else value


# ------------------------------------------------------------------------------------ flowables

class QrFlowable(Flowable):
    """The QR code drawn as vector squares (crisp when printed), with its quiet zone."""

    def __init__(self, token: str, size: float):
        super().__init__()
        self.matrix = token_qr(token).matrix
        self.size = size
        self.width = self.height = size

    def draw(self) -> None:
        modules = len(self.matrix) + 8  # 4 modules of quiet zone on each side
        unit = self.size / modules
        self.canv.setFillColor(colors.black)
        for y, row in enumerate(self.matrix):
            x = 0
            while x < len(row):
                if row[x]:
                    start = x
                    while x < len(row) and row[x]:
                        x += 1
                    self.canv.rect((start + 4) * unit, self.size - (y + 5) * unit, (x - start) * unit, unit,
                                   stroke=0, fill=1)
                else:
                    x += 1


def _box(label: str, value: object, s, *, value_style: str = "value") -> list:
    text = str(value).strip() if value not in (None, "") else "—"
    return [_p(label, s["label"]), Spacer(0, 1.2 * mm), _p(text, s[value_style])]


def _digit_cells(digits: str, s) -> Table:
    cells = Table([[_p(ch, s["digit"]) for ch in digits]], colWidths=[4.6 * mm] * len(digits),
                  rowHeights=[5.6 * mm])
    cells.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, GRID), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    return cells


_BOX_STYLE = [("BOX", (0, 0), (-1, -1), 0.8, colors.black), ("INNERGRID", (0, 0), (-1, -1), 0.5, GRID),
              ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 4),
              ("RIGHTPADDING", (0, 0), (-1, -1), 4), ("TOPPADDING", (0, 0), (-1, -1), 3),
              ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]


# --------------------------------------------------------------------------------------- blocks

def _header(organization: Organization, s) -> Table:
    ogrn = organization.ogrn or (organization.parent.ogrn if organization.parent_id else "")
    left = [_p("Наименование медицинской организации", s["label"]), Spacer(0, 1 * mm),
            _p(organization.name, s["org"]), Spacer(0, 2 * mm), _p("Код ОГРН", s["label"]), Spacer(0, 1 * mm),
            _digit_cells(ogrn, s) if ogrn else _p("—", s["value"])]
    approval = escape(FORM_APPROVAL).replace(" от ", "<br/>от ")
    right = [_p("Медицинская документация", s["form"]), _p(f"Учетная форма № {FORM_CODE}", s["form_code"]),
             Spacer(0, 1 * mm), Paragraph(approval, s["form"])]
    table = Table([[left, right]], colWidths=[CONTENT_W * 0.62, CONTENT_W * 0.38])
    table.setStyle(TableStyle(_BOX_STYLE + [("LINEAFTER", (0, 0), (0, 0), 0.5, GRID)]))
    return table


def _title(card_number: str, s) -> list:
    return [Spacer(0, 4 * mm), _p(f"КАРТА № {card_number}", s["title"]), _p(TITLE, s["subtitle"]),
            Spacer(0, 4 * mm)]


def _grouped(token: str) -> str:
    """The token in groups of four digits, two lines, for typing by hand."""
    groups = [token[i:i + 4] for i in range(0, len(token), 4)]
    half = (len(groups) + 1) // 2
    return " ".join(groups[:half]) + "<br/>" + " ".join(groups[half:])


def _patient(person: Person, rights: list, token: str, s) -> Table:
    codes = ", ".join(dict.fromkeys(r.category.federal_code for r in rights)) or "нет действующих прав"
    groups = ", ".join(dict.fromkeys(r.get_disability_group_display() for r in rights if r.disability_group))
    qr_size = 34 * mm
    qr = [QrFlowable(token, qr_size), _p("QR-код пациента для аптеки", s["qr"]),
          _p(f"действителен до {_d(patient_token_expires_on(token))}", s["qr"]), Spacer(0, 1 * mm),
          Paragraph(_grouped(token), s["qr"])]
    data_w = CONTENT_W - qr_size - 6 * mm
    rows = [
        [_box("1. Код категории льготы", codes, s, value_style="value_bold"),
         _box("2. СНИЛС", format_snils(person.snils) if person.snils else "не указан", s, value_style="value_bold"),
         _box("3. Полис ОМС", person.oms_policy or "не указан", s), qr],
        [_box("4. Фамилия, имя, отчество", person.full_name, s, value_style="value_bold"), "", "", ""],
        [_box("5. Пол", person.get_sex_display(), s), _box("6. Дата рождения", _d(person.birth_date), s),
         _box("7. Инвалидность", groups or "нет сведений", s), ""],
        [_box("8. Адрес регистрации", person.address, s), "", "", ""],
    ]
    table = Table(rows, colWidths=[data_w / 3] * 3 + [CONTENT_W - data_w])
    table.setStyle(TableStyle(_BOX_STYLE + [
        ("SPAN", (3, 0), (3, -1)), ("SPAN", (0, 1), (2, 1)), ("SPAN", (0, 3), (2, 3)),
        ("VALIGN", (3, 0), (3, -1), "MIDDLE"), ("ALIGN", (3, 0), (3, -1), "CENTER"),
    ]))
    return table


def _rights(person: Person, rights: list, on: date, s) -> list:
    heads = ["Код категории", "Льготная категория; программа", "Документ, подтверждающий право",
             "Номер", "Дата", "Право действует"]
    widths = [16 * mm, 62 * mm, 46 * mm, 22 * mm, 17 * mm, CONTENT_W - 163 * mm]
    rows: list[list] = [[_p(h, s["head"]) for h in heads]]
    for r in rights:
        period = f"с {_d(r.valid_from)}" + (f" по {_d(r.valid_to)}" if r.valid_to else ", бессрочно")
        rows.append([_p(r.category.federal_code, s["cell"]), _p(f"{r.category.name}; {r.program.name}", s["cell"]),
                     _p(r.document_name or "—", s["cell"]), _p(r.document_number or "—", s["cell"]),
                     _p(_d(r.document_date) or "—", s["cell"]), _p(period, s["cell"])])
    style = _BOX_STYLE + [("BACKGROUND", (0, 0), (-1, 0), SHADE), ("VALIGN", (0, 0), (-1, 0), "MIDDLE"),
                          ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]
    if not rights:
        rows.append([_p(f"На {_d(on)} действующих льготных прав нет: льготный рецепт выписать нельзя. "
                        "Проверьте сведения регистра или подайте заявку на включение в регистр.", s["empty"]),
                     "", "", "", "", ""])
        style.append(("SPAN", (0, 1), (-1, 1)))
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle(style))
    refusal = person.refusals.filter(year=on.year).first()
    nsu = ("нет сведений об отказе" if refusal is None else
           "отказ от лекарственной части НСУ" if refusal.refused else "лекарственная часть НСУ сохранена")
    return [Spacer(0, 4 * mm),
            _p(f"9. Документы, подтверждающие право на льготное лекарственное обеспечение "
               f"(права, действующие на {_d(on)})", s["section"]), Spacer(0, 1.5 * mm), table,
            Spacer(0, 1.2 * mm), _p(f"Набор социальных услуг на {on.year} год: {nsu}.", s["note"])]


PRESCRIPTION_COLUMNS = [  # (heading, width in mm); the last two are the pharmacy's part
    ("№ п/п", 8), ("Дата выписки рецепта", 17), ("Код МКБ-10", 13),
    ("Лекарственный препарат (МНН, лекарственная форма, дозировка)", 44), ("Кол-во", 13),
    ("Серия и номер рецепта", 24), ("Врач (Ф. И. О.)", 25),
    ("Аптечная организация; отпущенный препарат", 25), ("Дата отпуска", 17),
]
DOCTOR_COLUMNS = 7


def _prescription_row(n: int, row: object, s) -> list:
    series, number = _field(row, "series"), _field(row, "number")
    dispensed = "; ".join(str(v) for v in (_field(row, "pharmacy"), _field(row, "dispensed_drug")) if v)
    day, dispensed_on = _field(row, "date"), _field(row, "dispensed_on")
    return [_p(n, s["cell"]), _p(_d(day) if isinstance(day, date) else day, s["cell"]),
            _p(_field(row, "icd10"), s["cell"]), _p(_field(row, "drug"), s["cell"]),
            _p(_field(row, "quantity"), s["cell"]), _p(f"{series} № {number}" if number else series, s["cell"]),
            _p(_field(row, "doctor"), s["cell"]), _p(dispensed, s["cell"]),
            _p(_d(dispensed_on) if isinstance(dispensed_on, date) else dispensed_on, s["cell"])]


def _prescriptions(prescriptions: Sequence, s) -> list:
    widths = [w * mm for _, w in PRESCRIPTION_COLUMNS]
    widths[3] += CONTENT_W - sum(widths)
    group = [_p("Заполняется врачом, выписавшим рецепт", s["head"])] + [""] * (DOCTOR_COLUMNS - 2) + \
            [_p("Заполняется аптечной организацией", s["head"]), ""]
    rows: list[list] = [[_p("№ п/п", s["head"])] + group,
                        [""] + [_p(h, s["head"]) for h, _ in PRESCRIPTION_COLUMNS[1:]]]
    rows += [_prescription_row(n, row, s) for n, row in enumerate(prescriptions, 1)]
    style = _BOX_STYLE + [
        ("SPAN", (0, 0), (0, 1)), ("SPAN", (1, 0), (DOCTOR_COLUMNS - 1, 0)), ("SPAN", (DOCTOR_COLUMNS, 0), (-1, 0)),
        ("BACKGROUND", (0, 0), (-1, 1), SHADE), ("VALIGN", (0, 0), (-1, 1), "MIDDLE"),
        ("LINEAFTER", (DOCTOR_COLUMNS - 1, 0), (DOCTOR_COLUMNS - 1, -1), 1.2, colors.black),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5), ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if not prescriptions:
        rows.append([_p("Рецепты на льготные лекарственные препараты по этой карте не выписывались.", s["empty"])]
                    + [""] * (len(widths) - 1))
        style.append(("SPAN", (0, 2), (-1, 2)))
    table = Table(rows, colWidths=widths, repeatRows=2)
    table.setStyle(TableStyle(style))
    return [Spacer(0, 4 * mm), _p("10. Выписанные рецепты и отпуск лекарственных препаратов", s["section"]),
            Spacer(0, 1.5 * mm), table]


# ----------------------------------------------------------------------------------- document

def _fit(text: str, font: str, size: float, width: float) -> str:
    """`text` cut with an ellipsis to fit `width` points."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


class _NumberedCanvas(canvas.Canvas):
    """Holds pages back until the end, so each footer can say «лист N из M»."""

    def __init__(self, *args, footer: str, running: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []
        self._footer, self._running = footer, running

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for page in self._pages:
            self.__dict__.update(page)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        n = self._pageNumber
        self.setFont(FONT, 7.5)
        self.setFillColor(LABEL_GREY)
        self.drawString(MARGIN_X, MARGIN_BOTTOM - 6 * mm, _fit(self._footer, FONT, 7.5, CONTENT_W - 25 * mm))
        self.drawRightString(PAGE_W - MARGIN_X, MARGIN_BOTTOM - 6 * mm, f"Лист {n} из {total}")
        if n > 1:
            y = PAGE_H - MARGIN_TOP - 5 * mm
            self.setFont(FONT_BOLD, 9)
            self.setFillColor(colors.black)
            self.drawString(MARGIN_X, y, _fit(self._running, FONT_BOLD, 9, CONTENT_W - 50 * mm))
            self.setFont(FONT, 7.5)
            self.drawRightString(PAGE_W - MARGIN_X, y, f"Учетная форма № {FORM_CODE} (продолжение)")
            self.setStrokeColor(GRID)
            self.setLineWidth(0.5)
            self.line(MARGIN_X, y - 2.5 * mm, PAGE_W - MARGIN_X, y - 2.5 * mm)


def _valid_rights(person: Person, on: date) -> list:
    return list(person.rights.select_related("program", "category")
                .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on), valid_from__lte=on)
                .order_by("category__federal_code", "program__code", "valid_from"))


def patient_card_pdf(*, person: Person, organization: Organization, on: date, prescriptions: Sequence = (),
                     card_number: str | None = None, now: datetime | None = None) -> bytes:
    """Form 030-Л/у for `person` as printed by `organization` on `on`: rights valid that day,
    the patient's QR code (a token issued `now`), and the prescriptions given (dicts or objects
    with date, icd10, drug, quantity, series, number, doctor; optionally pharmacy,
    dispensed_drug, dispensed_on)."""
    register_fonts()
    s = _styles()
    card_number = card_number or str(person.pk)
    rights = _valid_rights(person, on)
    token = patient_token_issue(person=person, now=now)
    snils = format_snils(person.snils) if person.snils else "СНИЛС не указан"
    running = f"Карта № {card_number} — {person.full_name}, СНИЛС {snils}"
    footer = f"Форма № {FORM_CODE} · карта № {card_number} · на {_d(on)} · {organization.short_name}"

    buf = io.BytesIO()
    doc = BaseDocTemplate(buf, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
                          bottomMargin=MARGIN_BOTTOM, title=f"Карта пациента, форма № {FORM_CODE}",
                          author=organization.short_name, creator="ЛЛО", subject=FORM_APPROVAL)
    first = Frame(MARGIN_X, MARGIN_BOTTOM, CONTENT_W, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM, id="first",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    later = Frame(MARGIN_X, MARGIN_BOTTOM, CONTENT_W, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM - RUNNING_HEADER_H,
                  id="later", leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate("first", [first]), PageTemplate("later", [later])])
    story = [NextPageTemplate("later"), _header(organization, s), *_title(card_number, s),
             _patient(person, rights, token, s), *_rights(person, rights, on, s),
             *_prescriptions(prescriptions, s)]
    doc.build(story, canvasmaker=lambda *a, **kw: _NumberedCanvas(*a, footer=footer, running=running, **kw))
    return buf.getvalue()
