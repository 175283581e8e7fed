"""What a place holds: balances by pack, series, expiry and address, the expiry monitor (30/60/90
days), slow-moving stock and where to move it; and a dispensing point's incoming shipments. Clerks
and pharmacists see their place; the ministry every place (and may pick one)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from llo.roles import has_role
from llo.views import role_required

from . import selectors
from .documents import READ_ALL_ROLES, place_of
from .forms import EXPIRY_WINDOWS, STOCK_VIEWS, StockFilterForm
from .roles import INCOMING_ROLES, READ_ROLES


def _rows(view: str, place_ids: list[int] | None, days: int) -> list[dict]:
    today = timezone.localdate()
    if view == "expiring":
        return selectors.with_addresses(selectors.expiring(place_ids=place_ids, today=today, days=days))
    if view == "slow":
        return selectors.with_names(selectors.slow_moving(place_ids=place_ids, today=today))
    if view == "redistribution":
        rows = selectors.redistribution(today=today)
        if place_ids is not None:
            rows = [r for r in rows if r["place_id"] in place_ids or r["to_place_id"] in place_ids]
        return selectors.with_names(rows)
    return selectors.with_addresses(selectors.stock(place_ids=place_ids))


@role_required(READ_ROLES)
def stock_overview(request):
    region_wide = has_role(request.user, READ_ALL_ROLES)
    organization = request.user.organization
    places = selectors.places_of_region(organization.region_id if organization else None) if region_wide else None
    form = StockFilterForm(request.GET, places=places)
    view, days, place = form.values()
    if region_wide:
        place_ids = [place.pk] if place else None
    else:
        place = place_of(request.user)
        place_ids = [place.pk]
    context = {"form": form, "view": view, "days": days, "place": place, "region_wide": region_wide,
               "views": STOCK_VIEWS, "windows": EXPIRY_WINDOWS, "today": timezone.localdate(),
               "rows": _rows(view, place_ids, days)}
    return render(request, "warehouse/stock.html", context)


@role_required(INCOMING_ROLES)
def incoming(request):
    place = place_of(request.user)
    return render(request, "warehouse/incoming.html",
                  {"place": place, "shipments": selectors.incoming_shipments(place.pk)[:100]})
