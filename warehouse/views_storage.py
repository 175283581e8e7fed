"""Inside the warehouse (the clerk's pages): storage addresses with their Code128 labels, putting a
pack away (scan the pack, then the cell), forming our own SSCC box from scanned packs (its page shows
the Code128 and GS1 DataMatrix labels) and taking a box apart."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from llo.access import get_for
from llo.barcodes import (
    DataMatrixUnavailable, address_label, code128_svg, datamatrix_available, encode_datamatrix, parse_scan,
)
from llo.errors import ApplicationError, ConflictError, ValidationFailed
from llo.views import paginate, role_required

from . import selectors
from .access import addresses_for, boxes_for
from .documents import place_of
from .forms import AddressForm, valid
from .models import MarkedPack
from .roles import STORAGE_ROLES
from .storage import address_create, aggregate, disaggregate, pack_put_away
from .views import act, answer


def _label_text(code: str) -> str:
    """The address label's text, or "" when the code cannot be printed (Cyrillic, parts too long)."""
    try:
        return address_label(code)
    except ValueError:
        return ""


@role_required(STORAGE_ROLES)
def addresses(request):
    place = place_of(request.user)
    form = AddressForm(request.POST if request.method == "POST" else None, auto_id="addr_%s")
    error = None
    if form.is_bound:
        try:
            address = address_create(user=request.user, **valid(form))
        except ApplicationError as exc:
            error = exc
        else:
            messages.success(request, f"Адрес {address.code} добавлен: распечатайте этикетку ячейки")
            return redirect("stock_addresses")
    page = paginate(request, addresses_for(request.user).filter(place=place).order_by("code"), per_page=100)
    for address in page:
        address.label_text = _label_text(address.code)
    return render(request, "warehouse/addresses.html", {"form": form, "error": error, "page": page, "tab": "addresses"},
                  status=error.http_status if error else 200)


@role_required(STORAGE_ROLES)
def address_label_svg(request, pk: int):
    text = _label_text(get_for(addresses_for(request.user), pk=pk).code)
    if not text:
        raise Http404
    return HttpResponse(code128_svg(text), content_type="image/svg+xml")


@role_required(STORAGE_ROLES)
def put_away(request):
    if request.method == "POST":
        raw_pack, raw_address = request.POST.get("scan", ""), request.POST.get("address", "")
        return act(request, lambda: pack_put_away(user=request.user, raw_pack=raw_pack, raw_address=raw_address)
                   .message, back=reverse("stock_put_away"))
    return render(request, "warehouse/put_away.html", {"tab": "put_away"})


# --- our SSCC boxes -------------------------------------------------------------------------------

def _element(sgtin: str) -> str:
    """A pack's SGTIN as the element string `aggregate` reads (01 GTIN 21 serial)."""
    return f"01{sgtin[:14]}21{sgtin[14:]}"


def _listed(request) -> list[str]:
    return [s for s in request.POST.getlist("packs") if len(s) == 27][:1000]


@require_POST
@role_required(STORAGE_ROLES)
def box_add(request):
    """One scan onto the list of the box being formed (the list travels with the form, no state here)."""
    listed = _listed(request)
    place_id = place_of(request.user).pk
    error = None
    try:
        scanned = parse_scan(request.POST.get("scan", ""))
        if scanned.kind != "sgtin":
            raise ValidationFailed("В короб кладут упаковки: отсканируйте их DataMatrix", code="scan.not_a_pack")
        if scanned.sgtin in listed:
            raise ConflictError(f"Упаковка {scanned.sgtin} уже в списке", code="aggregation.already_listed")
        if not selectors.free_packs(place_id, [scanned.sgtin]):
            raise ConflictError(f"Упаковки {scanned.sgtin} нет в наличии на этом складе вне коробов",
                                code="aggregation.not_free")
        listed.append(scanned.sgtin)
    except ApplicationError as exc:
        error = exc
    packs = selectors.free_packs(place_id, listed)
    context = {"packs": [packs.get(s) or s for s in listed]}
    return answer(request, back=reverse("stock_aggregation"), error=error,
                  message="" if error else f"В короб: {packs[listed[-1]].package}",
                  template="warehouse/partials/box_packs.html", context=context)


@role_required(STORAGE_ROLES)
def aggregation(request):
    error = None
    listed = _listed(request) if request.method == "POST" else []
    if request.method == "POST":
        try:
            box = aggregate(user=request.user, raws=[_element(s) for s in listed])
        except ApplicationError as exc:
            error = exc
        else:
            messages.success(request, f"Короб сформирован: SSCC {box.sscc}, упаковок {len(listed)}. "
                                      "Наклейте этикетку на короб.")
            return redirect("stock_box", pk=box.pk)
    packs = selectors.free_packs(place_of(request.user).pk, listed)
    context = {"packs": [packs.get(s) or s for s in listed], "error": error, "tab": "aggregation"}
    return render(request, "warehouse/aggregation.html", context, status=error.http_status if error else 200)


@role_required(STORAGE_ROLES)
def box_detail(request, pk: int):
    box = get_for(boxes_for(request.user), pk=pk)
    packs = MarkedPack.objects.filter(transport_pack=box).select_related("package__trade_name").order_by("sgtin")
    context = {"box": box, "packs": packs, "label": f"00{box.sscc}", "datamatrix": datamatrix_available(),
               "tab": "aggregation"}
    return render(request, "warehouse/box.html", context)


@role_required(STORAGE_ROLES)
def box_label(request, pk: int, symbol: str):
    box = get_for(boxes_for(request.user), pk=pk)
    if symbol == "code128.svg":
        return HttpResponse(code128_svg(f"00{box.sscc}"), content_type="image/svg+xml")
    try:
        return HttpResponse(encode_datamatrix(f"00{box.sscc}", module_size=6), content_type="image/png")
    except DataMatrixUnavailable:
        raise Http404 from None


@role_required(STORAGE_ROLES)
def disaggregation(request):
    if request.method == "POST":
        raw = request.POST.get("scan", "")
        return act(request, lambda: f"Короб расформирован: упаковок {disaggregate(user=request.user, raw=raw)}",
                   back=reverse("stock_disaggregation"))
    return render(request, "warehouse/disaggregation.html", {"tab": "disaggregation"})
