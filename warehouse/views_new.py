"""New stock documents: a receipt (the supplier's CSV list for direct acceptance, lines for reverse),
a shipment (with its FEFO pick list shown before it is made), a return to the supplier, a write-off
and an inventory. Each page checks its form, calls the service and opens the new document's page;
an error is shown next to the form and nothing is created."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from llo.errors import ApplicationError
from llo.views import role_required

from . import selectors
from .documents import place_of
from .forms import (
    InventoryForm, ReceiptForm, ReceiptLineForm, ReturnForm, ShipmentForm, WantedForm, WriteOffForm, filled_rows,
    rows_formset, valid,
)
from .inventory import inventory_start
from .models import Acceptance
from .outgoing import return_create, write_off_create
from .receipts import ReceiptLine, receipt_create
from .roles import ACT_ROLES
from .shipments import Wanted, pick_list, shipment_create


def _opened(request, document, text: str):
    messages.success(request, f"{document.get_kind_display()} № {document.number}: документ создан. {text}")
    return redirect("stock_document", pk=document.pk)


@role_required(ACT_ROLES)
def receipt_new(request):
    place = place_of(request.user)
    data = request.POST if request.method == "POST" else None
    form = ReceiptForm(data, request.FILES or None, place=place)
    lines = rows_formset(ReceiptLineForm, data, prefix="lines")
    error = None
    if data is not None and "more" not in data:
        try:
            fields = valid(form)
            rows = [] if fields["acceptance"] == Acceptance.DIRECT else filled_rows(
                lines, none_message="Добавьте хотя бы одну строку накладной: упаковка, серия, срок, количество")
            document = receipt_create(
                user=request.user, contract=fields["contract"], acceptance=fields["acceptance"],
                supplier_number=fields["supplier_number"], supplier_date=fields["supplier_date"],
                expected=fields.get("expected", []), lines=[ReceiptLine(**row) for row in rows])
        except ApplicationError as exc:
            error = exc
        else:
            return _opened(request, document, "Сканируйте поступившие упаковки.")
    contracts = form.fields["contract"].queryset
    context = {"form": form, "lines": lines, "error": error, "place": place,
               "contract_packages": selectors.contract_packages(contracts)}
    return render(request, "warehouse/receipt_new.html", context, status=error.http_status if error else 200)


@role_required(ACT_ROLES)
def shipment_new(request):
    place = place_of(request.user)
    data = request.POST if request.method == "POST" else None
    form = ShipmentForm(data, place=place)
    wanted = rows_formset(WantedForm, data, prefix="wanted")
    error, picks = None, []
    if data is not None and "more" not in data:
        try:
            destination = valid(form)["destination"]
            rows = [Wanted(**row) for row in filled_rows(wanted, none_message="Укажите препараты и количество")]
            if "preview" in data:
                picks = [(w, pick_list(place, w.package, w.quantity)) for w in rows]
            else:
                document = shipment_create(user=request.user, destination=destination, wanted=rows)
        except ApplicationError as exc:
            error = exc
        else:
            if not picks:
                return _opened(request, document, "Подберите упаковки по листу подбора и сканируйте их.")
    context = {"form": form, "wanted": wanted, "error": error, "picks": picks,
               "packages": selectors.packages_in_stock(place.pk)}
    return render(request, "warehouse/shipment_new.html", context, status=error.http_status if error else 200)


# kind in the URL → (form, service, page title, what to do next)
SIMPLE = {
    "return": (ReturnForm, return_create, "Возврат поставщику", "Сканируйте возвращаемые упаковки."),
    "write-off": (WriteOffForm, write_off_create, "Акт списания", "Сканируйте списываемые упаковки."),
    "inventory": (InventoryForm, inventory_start, "Инвентаризация",
                  "Сканируйте каждую упаковку и введите количество немаркированного товара."),
}


@role_required(ACT_ROLES)
def document_new(request, kind: str):
    if kind not in SIMPLE:
        raise Http404
    form_class, service, title, next_step = SIMPLE[kind]
    place = place_of(request.user)
    data = request.POST if request.method == "POST" else None
    form = form_class(data, place=place)
    error = None
    if data is not None:
        try:
            document = service(user=request.user, **valid(form))
        except ApplicationError as exc:
            error = exc
        else:
            return _opened(request, document, next_step)
    context = {"form": form, "error": error, "title": title, "kind": kind}
    return render(request, "warehouse/document_new.html", context, status=error.http_status if error else 200)
