"""The pharmacy's part of a dispensing, printed at the desk (A5): the «отпущено» mark that stays with
the prescription at the pharmacy — point, prescription, patient, benefit, each pack with series,
code, contract price and funding source, the total, the pharmacist — and below the cut line the
patient's stub (what was given and how to take it)."""

from __future__ import annotations

import io
import re

from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from reportlab.lib import colors
from reportlab.lib.pagesizes import A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import HRFlowable

from llo.validators import format_snils
from registry.patient_card import FONT, FONT_BOLD, register_fonts

from .models import Dispensation

MARGIN = 10 * mm
GREY = colors.HexColor("#555555")
SAFE = re.compile(r"[^0-9A-Za-z-]+")


def _styles() -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=FONT_BOLD, fontSize=11, leading=14, spaceAfter=2 * mm),
        "text": ParagraphStyle("text", fontName=FONT, fontSize=8, leading=10),
        "label": ParagraphStyle("label", fontName=FONT, fontSize=6.5, leading=8, textColor=GREY),
        "cell": ParagraphStyle("cell", fontName=FONT, fontSize=7, leading=8.5),
        "bold": ParagraphStyle("bold", fontName=FONT_BOLD, fontSize=8, leading=10),
    }


def _esc(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _money(value) -> str:
    return "—" if value is None else f"{value:,.2f}".replace(",", " ").replace(".", ",")


def render_slip(dispensation: Dispensation) -> bytes:
    register_fonts()
    s, d = _styles(), dispensation
    rx, place = d.prescription, d.place
    at = timezone.localtime(d.at)

    def field(label: str, value: str) -> list:
        return [Paragraph(_esc(label), s["label"]), Paragraph(value, s["text"])]

    head = Table([
        field("Аптечная организация (пункт отпуска)", _esc(place.name) + (f", {_esc(place.address)}" if place.address
                                                                           else "")),
        field("Рецепт", f"форма {_esc(rx.form)}, серия <b>{_esc(rx.series)}</b> № <b>{_esc(rx.number)}</b> "
                        f"от {rx.issued_on:%d.%m.%Y}"),
        field("Пациент", f"{_esc(rx.person.full_name)}, {rx.person.birth_date:%d.%m.%Y} г. р., СНИЛС "
                         f"{_esc(format_snils(rx.person.snils) if rx.person.snils else '—')}"),
        field("Льгота", f"код категории {_esc(rx.category_code)}; {_esc(rx.get_funding_source_display())}; "
                        f"{_esc(rx.get_payment_share_display())}"),
        field("Выписано", f"{_esc(rx.drug)} — {rx.quantity} упак."),
    ], colWidths=[32 * mm, None])
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                              ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))

    rows = [[Paragraph(h, s["label"]) for h in ("Упаковка", "Серия, годен до", "Код (SGTIN)", "Кол.", "Цена, ₽",
                                               "Сумма, ₽")]]
    for item in d.item_rows:
        amount = None if item.price is None else item.price * item.quantity
        rows.append([Paragraph(_esc(item.package), s["cell"]),
                     Paragraph(f"{_esc(item.series)}<br/>{item.expiry:%d.%m.%Y}", s["cell"]),
                     Paragraph(_esc(item.sgtin or "без маркировки"), s["cell"]),
                     Paragraph(str(item.quantity), s["cell"]), Paragraph(_money(item.price), s["cell"]),
                     Paragraph(_money(amount), s["cell"])])
    rows.append(["", "", Paragraph("<b>Итого</b>", s["cell"]), "", "", Paragraph(f"<b>{_money(d.total)}</b>",
                                                                                 s["cell"])])
    items = Table(rows, colWidths=[35 * mm, 17 * mm, 43 * mm, 7 * mm, 12 * mm, 14 * mm], repeatRows=1)
    items.setStyle(TableStyle([("GRID", (0, 0), (-1, -2), 0.4, colors.HexColor("#999999")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 2),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 2)]))

    sign = Table([field("Дата и время отпуска", f"{at:%d.%m.%Y %H:%M}"),
                  field("Провизор", f"{_esc(d.pharmacist.full_name)} &nbsp;&nbsp; подпись ____________")],
                 colWidths=[32 * mm, None])
    sign.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0)]))

    given = "; ".join(f"{item.package} — {item.quantity} упак." for item in d.item_rows)
    stub = [
        Paragraph("Корешок рецепта — выдаётся пациенту", s["bold"]),
        Paragraph(f"Рецепт серия {_esc(rx.series)} № {_esc(rx.number)} от {rx.issued_on:%d.%m.%Y} · "
                  f"{_esc(rx.person.full_name)}", s["text"]),
        Paragraph(f"Отпущено: {_esc(given)}", s["text"]),
        Paragraph(f"Способ применения: {_esc(rx.signa)}", s["text"]),
        Paragraph(f"{_esc(place.short_name)}, {at:%d.%m.%Y}", s["text"]),
    ]

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A5, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN, title=f"Отпуск по рецепту {rx.series} № {rx.number}",
                            author=place.short_name)
    doc.build([
        Paragraph("Отметка об отпуске по льготному рецепту", s["title"]), head, Spacer(1, 3 * mm), items,
        Spacer(1, 3 * mm), sign, Spacer(1, 6 * mm),
        HRFlowable(width="100%", thickness=0.6, dash=(3, 2), color=GREY), Paragraph("линия отреза", s["label"]),
        Spacer(1, 2 * mm), *stub,
    ])
    return buffer.getvalue()


def slip_pdf_response(dispensation: Dispensation) -> HttpResponse:
    """Inline PDF (printed from the browser's viewer); personal data, never cached."""
    rx = dispensation.prescription
    response = HttpResponse(render_slip(dispensation), content_type="application/pdf")
    name = SAFE.sub("_", f"otpusk-{rx.series}-{rx.number}")
    response["Content-Disposition"] = content_disposition_header(False, f"{name}.pdf")
    response["Cache-Control"] = "private, no-store"
    return response
