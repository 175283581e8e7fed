"""The pharmacist's desk: open a prescription (its printed barcode, series + number, or the patient's
QR code), scan each pack — every scan answered green or red at once —, dispense, print the slip; or
put the prescription on deferred service. A scanner is a keyboard: the scan field keeps the focus
and Enter submits (static/js/stock.js, the page is `data-stock`).

The packs accepted so far travel with the page (hidden inputs of the basket), not in the session:
two desks, two tabs, a reload — nothing is kept on the server until the dispensing, which checks
everything again in one transaction (`dispensing.dispensation_create`)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from llo.barcodes import BarcodeError, Kind, parse_scan
from llo.errors import ApplicationError, ValidationFailed
from llo.models import Organization
from llo.views import role_required
from prescriptions.selectors import open_of_person
from registry.patient_token import patient_token_resolve

from . import deferrals, desk, slip
from .dispensing import UnmarkedItem, dispensation_create, scan_check
from .selectors import (
    DESK_RELATED,
    DISPENSING_ROLES,
    dispensation_for,
    place_for,
    places_for,
    prescription_for_desk,
)

OPEN_HINT = ("Штрихкод рецепта (DataMatrix на бланке) или QR-код пациента. Без сканера: серия и номер рецепта "
             "ниже.")


def desk_place(request) -> Organization | None:
    """The point the desk works for: the pharmacist's own, or — an account of the pharmacy
    organization — the one named by `place` (404 when not theirs); None until one is chosen."""
    raw = request.POST.get("place") or request.GET.get("place") or ""
    try:
        return place_for(request.user, int(raw) if raw.isdigit() else None)
    except ValidationFailed:
        return None


def _url(name: str, place: Organization, *args) -> str:
    return f"{reverse(name, args=args)}?place={place.pk}"


def _go(request, url: str):
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _answer(request, *, ok: bool, message: str, code: str = "", status: int = 200, back: str = "",
            extra: dict | None = None, template: str = "warehouse/partials/scan_result.html"):
    """The green or red line under the scan field (htmx); without JavaScript, a message on the page."""
    if not request.htmx:
        (messages.success if ok else messages.error)(request, message)
        return redirect(back)
    return render(request, template, {"ok": ok, "message": message, "code": code} | (extra or {}), status=status)


# --- opening a prescription ----------------------------------------------------------------------

@role_required(DISPENSING_ROLES)
def desk_page(request):
    place = desk_place(request)
    context = {"place": place, "places": list(places_for(request.user).order_by("short_name")),
               "hint": OPEN_HINT}
    if place is not None:
        context["recent"] = desk.dispensed_today(place)
    return render(request, "pharmacy/desk.html", context)


@require_POST
@role_required(DISPENSING_ROLES)
def desk_open(request):
    """One scan at the opening step: a prescription's barcode opens it, a patient's QR code lists the
    patient's open prescriptions; anything else is answered red."""
    place = desk_place(request)
    if place is None:
        raise Http404
    back = _url("pharmacy_desk", place)
    try:
        scanned = parse_scan(request.POST.get("scan", ""))
        if scanned.kind == Kind.PRESCRIPTION:
            rx = _find(request, scanned.prescription_series, scanned.prescription_number)
            return _go(request, _url("pharmacy_desk_rx", place, rx.pk))
        if scanned.kind == Kind.PATIENT:
            person = patient_token_resolve(scanned.value)
            found = open_of_person(person.pk)
            return render(request, "pharmacy/partials/patient_prescriptions.html",
                          {"person": person, "found": found, "place": place})
        raise ValidationFailed("Это код упаковки, а не рецепта: сначала откройте рецепт — отсканируйте штрихкод на "
                               "бланке рецепта или QR-код пациента", code="desk.not_a_prescription")
    except BarcodeError as exc:
        return _answer(request, ok=False, message=exc.message, code=f"scan.{exc.code}", status=422, back=back)
    except ApplicationError as exc:
        return _answer(request, ok=False, message=exc.message, code=exc.code, status=exc.http_status, back=back)


def _find(request, series: str, number: str):
    try:
        return prescription_for_desk(request.user, series=series, number=number)
    except Http404:
        raise ValidationFailed(f"Рецепт серии {series} № {number} не найден в регионе: проверьте серию и номер",
                               code="desk.prescription_not_found") from None


@role_required(DISPENSING_ROLES)
def desk_find(request):
    """Series and number typed by hand (the form without a scanner)."""
    place = desk_place(request)
    if place is None:
        raise Http404
    series, number = request.GET.get("series", "").strip(), request.GET.get("number", "").strip()
    if not series or not number:
        messages.error(request, "Укажите серию и номер рецепта")
        return redirect(_url("pharmacy_desk", place))
    try:
        rx = _find(request, series[:12], number[:20])
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(_url("pharmacy_desk", place))
    return redirect(_url("pharmacy_desk_rx", place, rx.pk))


# --- the open prescription -----------------------------------------------------------------------

def _open(request, pk: int, related: tuple[str, ...] = ("doctor",)):
    place = desk_place(request)
    if place is None:
        raise Http404
    return prescription_for_desk(request.user, pk=pk, related=related), place


def _basket(request, rx, *, drop: str = "") -> desk.Basket:
    sgtins = [s for s in request.POST.getlist("already") if s and s != drop]
    items = [i for i in request.POST.getlist("item") if i and i != drop]
    return desk.basket_of(rx, sgtins=sgtins, items=items)


@role_required(DISPENSING_ROLES)
def desk_rx(request, pk: int):
    rx, place = _open(request, pk, DESK_RELATED)
    view = desk.desk_view(rx, place)
    context = {"v": view, "rx": rx, "place": place, "basket": desk.Basket(rows=[], needed=rx.quantity),
               "today": timezone.localdate()}
    return render(request, "pharmacy/desk_rx.html", context)


@require_POST
@role_required(DISPENSING_ROLES)
def desk_scan(request, pk: int):
    """One pack scanned: the verdict at once; when green, the basket again (out of band) with it."""
    rx, place = _open(request, pk)
    already = request.POST.getlist("already")
    verdict = scan_check(user=request.user, prescription=rx, place=place, raw=request.POST.get("scan", ""),
                         already=already)
    extra = {"rx": rx, "place": place}
    if verdict.ok:
        basket = desk.basket_of(rx, sgtins=[*already, verdict.sgtin], items=request.POST.getlist("item"))
        message = verdict.message + (". Все упаковки отсканированы: нажмите «Отпустить»" if basket.complete else "")
        extra["basket"] = basket
    else:
        message = verdict.message
    return _answer(request, ok=verdict.ok, message=message, code=verdict.code, status=verdict.http_status,
                   back=_url("pharmacy_desk_rx", place, rx.pk), extra=extra,
                   template="pharmacy/partials/scan_answer.html")


@require_POST
@role_required(DISPENSING_ROLES)
def desk_item(request, pk: int):
    """Unmarked goods: a quantity of one series, checked like a pack (drug, recall) — the stock itself
    is checked when dispensing."""
    rx, place = _open(request, pk)
    back = _url("pharmacy_desk_rx", place, rx.pk)
    try:
        package_id, series, quantity = _unmarked(request)
        basket = desk.basket_of(rx, sgtins=request.POST.getlist("already"), items=request.POST.getlist("item"))
        if any(row.package.pk == package_id and row.series == series for row in basket.rows):
            raise ValidationFailed(f"Серия {series} уже в списке к отпуску: уберите строку и добавьте заново",
                                   code="pack.duplicate")
        if basket.count + quantity > rx.quantity:
            raise ValidationFailed(f"Выписано {rx.quantity} упак., к отпуску получилось бы {basket.count + quantity}",
                                   code="quantity.mismatch")
        basket = desk.basket_of(rx, sgtins=basket.sgtins, items=[*request.POST.getlist("item"),
                                                                  desk.unmarked_key(package_id, series, quantity)])
        row = basket.rows[-1]
        desk.check_unmarked(row, rx=rx)
    except ApplicationError as exc:
        return _answer(request, ok=False, message=exc.message, code=exc.code, status=exc.http_status, back=back,
                       template="pharmacy/partials/scan_answer.html")
    message = f"Добавлено: {row.package}, серия {series} — {quantity} упак."
    return _answer(request, ok=True, message=message, back=back, template="pharmacy/partials/scan_answer.html",
                   extra={"rx": rx, "place": place, "basket": basket})


def _unmarked(request) -> tuple[int, str, int]:
    parsed = desk.parse_unmarked(request.POST.get("lot", "") + "|" + request.POST.get("quantity", "").strip())
    if parsed is None or parsed[2] <= 0:
        raise ValidationFailed("Выберите серию и укажите количество — целое число упаковок больше нуля",
                               code="item.bad_quantity")
    return parsed


@require_POST
@role_required(DISPENSING_ROLES)
def desk_drop(request, pk: int):
    """Take one pack (or unmarked line) off the basket."""
    rx, place = _open(request, pk)
    basket = _basket(request, rx, drop=request.POST.get("drop", ""))
    return render(request, "pharmacy/partials/basket.html", {"rx": rx, "place": place, "basket": basket})


@require_POST
@role_required(DISPENSING_ROLES)
def desk_dispense(request, pk: int):
    rx, place = _open(request, pk)
    basket = _basket(request, rx)
    back = _url("pharmacy_desk_rx", place, rx.pk)
    items = [UnmarkedItem(row.package, row.series, row.quantity) for row in basket.rows if not row.sgtin]
    try:
        dispensation = dispensation_create(user=request.user, prescription=rx, place=place,
                                           codes=[f"01{s[:14]}21{s[14:]}" for s in basket.sgtins], items=items)
    except ApplicationError as exc:
        return _answer(request, ok=False, message=exc.message, code=exc.code, status=exc.http_status, back=back)
    messages.success(request, f"Рецепт {rx.series} № {rx.number} отпущен")
    return _go(request, reverse("pharmacy_dispensation", args=[dispensation.pk]))


@require_POST
@role_required(DISPENSING_ROLES)
def desk_defer(request, pk: int):
    rx, place = _open(request, pk)
    back = _url("pharmacy_desk_rx", place, rx.pk)
    try:
        deferral = deferrals.prescription_defer(user=request.user, prescription=rx, place=place,
                                                purchase=request.POST.get("purchase") == "1")
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _go(request, back)
    messages.success(request, f"Рецепт {rx.series} № {rx.number} поставлен на отсроченное обслуживание: обслужить до "
                              f"{deferral.deadline:%d.%m.%Y}. Когда препарат поступит, он будет забронирован, "
                              "а пациент получит уведомление")
    return _go(request, back)


# --- after dispensing ----------------------------------------------------------------------------

@role_required(DISPENSING_ROLES)
def dispensation_page(request, pk: int):
    dispensation = dispensation_for(request.user, pk)
    return render(request, "pharmacy/dispensation.html", {"d": dispensation, "place": dispensation.place})


@role_required(DISPENSING_ROLES)
def dispensation_slip(request, pk: int):
    return slip.slip_pdf_response(dispensation_for(request.user, pk))
