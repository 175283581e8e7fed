"""Stock documents: the list of the user's place, the document page (the scan page while a draft) and
the operations on it — scan, refuse a pack, add by quantity, post, receive at the pharmacy, inventory
differences and their approval.

Access: documents come only through `documents_for` (another place's document answers 404); acting
needs `ACT_ROLES`, reading `READ_ROLES` (other roles 403); the services check the place again.
A domain error of a post/receive answers through `ApplicationErrorMiddleware`; scans and lines
answer with their own green or red message (`answer`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from llo.access import get_for
from llo.errors import ApplicationError
from llo.roles import has_role
from llo.views import paginate, role_required

from . import operations, selectors
from .documents import documents_for
from .forms import DocumentFilterForm, QuantityForm, RefuseForm, valid
from .models import Acceptance, DocumentKind as K, DocumentStatus, StockDocument
from .receipts import receipt_refuse
from .roles import ACT_ROLES, READ_ROLES
from .shipments import shipment_receive

POSTED = {
    K.RECEIPT: "Приёмка проведена: отсканированные упаковки поступили в остатки, остальные — отказ",
    K.SHIPMENT: "Отгружено: упаковки списаны с остатков и в пути в пункт отпуска",
    K.RETURN: "Возврат поставщику проведён",
    K.WRITE_OFF: "Списание проведено: упаковки выведены из оборота",
    K.INVENTORY: "Результаты инвентаризации утверждены: расхождения проведены",
}
POST_LABEL = {K.RECEIPT: "Провести приёмку", K.SHIPMENT: "Отгрузить", K.RETURN: "Провести возврат",
              K.WRITE_OFF: "Провести списание"}
POST_CONFIRM = {
    K.RECEIPT: "Провести приёмку? Отсканированные упаковки поступят в остатки, неотсканированные получат отказ "
               "«не поступила». Изменить документ после этого нельзя.",
    K.SHIPMENT: "Отгрузить? Упаковки спишутся с остатков склада и будут в пути до пункта отпуска.",
    K.RETURN: "Провести возврат? Упаковки спишутся с остатков и вернутся поставщику.",
    K.WRITE_OFF: "Провести списание? Упаковки будут выведены из оборота, отменить это нельзя.",
}

SCAN_LABEL = {  # (label, hint) of the scan field
    "direct": ("Сканируйте упаковку или короб", "DataMatrix упаковки или SSCC короба поставщика: короб принимает все "
                                                "упаковки, перечисленные в нём."),
    K.RECEIPT: ("Сканируйте упаковку", "DataMatrix каждой упаковки: она встанет в строку накладной с её GTIN."),
    K.SHIPMENT: ("Сканируйте упаковку или короб", "Берите упаковки по листу подбора: адрес, серия, количество."),
    K.RETURN: ("Сканируйте упаковку", "Упаковки, поставленные по этому контракту."),
    K.WRITE_OFF: ("Сканируйте упаковку", "Немаркированный товар добавьте количеством справа."),
    K.INVENTORY: ("Сканируйте каждую упаковку", "Слепой пересчёт: ожидаемые остатки не показываются."),
}


@dataclass(frozen=True)
class Abilities:
    """What the user may do with the document on its page."""

    scan: bool = False
    post: bool = False
    refuse: bool = False
    quantity: bool = False
    receive: bool = False
    differences: bool = False
    approve: bool = False


def abilities(user, document: StockDocument) -> Abilities:
    acting = has_role(user, ACT_ROLES)
    own = acting and document.place_id == user.organization_id
    draft = document.status == DocumentStatus.DRAFT
    counter = document.created_by_id == user.pk  # the inventory is blind for the one who counts
    scan = own and draft and document.kind in operations.SCAN
    return Abilities(
        scan=scan,
        post=scan and document.kind != K.INVENTORY,
        refuse=scan and document.kind == K.RECEIPT and document.acceptance == Acceptance.DIRECT,
        quantity=scan and document.kind in operations.BY_QUANTITY,
        receive=(acting and document.kind == K.SHIPMENT and document.status == DocumentStatus.SHIPPED
                 and document.counterparty_id == user.organization_id),
        differences=document.kind == K.INVENTORY and not (draft and counter),
        approve=own and draft and document.kind == K.INVENTORY and not counter,
    )


def document_of(request, pk: int) -> StockDocument:
    return get_for(documents_for(request.user), pk=pk)


def to_page(request, url: str):
    """After a post: the page again (htmx follows with a full load so the messages show)."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def answer(request, *, back: str, message: str = "", error: ApplicationError | None = None, progress=None,
           template: str = "warehouse/partials/scan_answer.html", context: dict | None = None):
    """The green or red message of a scan or a line, at once; with htmx the document's progress
    comes along (out of band) when something changed. Without htmx: back to the page."""
    if not request.htmx:
        if error:
            messages.error(request, error.message)
        else:
            messages.success(request, message)
        return redirect(back)
    context = (context or {}) | {"ok": error is None, "message": error.message if error else message,
                                 "code": error.code if error else "", "progress": progress}
    return render(request, template, context, status=error.http_status if error else 200)


def act(request, action: Callable[[], str], *, document: StockDocument | None = None, back: str = ""):
    """Run an operation and answer with its message or its error; on a document, with its progress."""
    back = back or reverse("stock_document", args=[document.pk])
    try:
        message = action()
    except ApplicationError as exc:
        return answer(request, back=back, error=exc)
    progress = selectors.document_progress(document) if document is not None else None
    return answer(request, back=back, message=message, progress=progress, context={"doc": document})


# --- pages --------------------------------------------------------------------------------------

@role_required(READ_ROLES)
def document_list(request):
    form = DocumentFilterForm(request.GET)
    kind, status = form.values()
    documents = documents_for(request.user).order_by("-created_at", "-pk")
    if kind:
        documents = documents.filter(kind=kind)
    if status:
        documents = documents.filter(status=status)
    context = {"page": paginate(request, documents), "form": form, "kind": kind, "status": status,
               "can_act": has_role(request.user, ACT_ROLES)}
    template = "warehouse/partials/document_rows.html" if request.htmx else "warehouse/documents.html"
    return render(request, template, context)


@role_required(READ_ROLES)
def document_detail(request, pk: int):
    document = document_of(request, pk)
    can = abilities(request.user, document)
    context = {
        "doc": document, "can": can, "progress": selectors.document_progress(document),
        "post_label": POST_LABEL.get(document.kind, ""), "post_confirm": POST_CONFIRM.get(document.kind, ""),
        "scan_label": SCAN_LABEL.get("direct" if can.refuse else document.kind, ("", "")),
        "movements": selectors.document_movements(document) if document.status != DocumentStatus.DRAFT else [],
    }
    if can.quantity:
        context["quantity_form"] = QuantityForm(place_id=document.place_id, auto_id="qty_%s")
    if can.refuse:
        context["refuse_form"] = RefuseForm(auto_id="refuse_%s")
    return render(request, "warehouse/document.html", context)


# --- operations ---------------------------------------------------------------------------------

@require_POST
@role_required(ACT_ROLES)
def document_scan(request, pk: int):
    document = document_of(request, pk)
    raw = request.POST.get("scan", "")
    return act(request, lambda: operations.document_scan(user=request.user, document=document, raw=raw).message,
               document=document)


@require_POST
@role_required(ACT_ROLES)
def document_refuse(request, pk: int):
    document = document_of(request, pk)

    def refuse() -> str:
        data = valid(RefuseForm(request.POST))
        receipt_refuse(user=request.user, document=document, sgtin=data["sgtin"], reason=data["reason"])
        return f"Отказ от упаковки {data['sgtin']}: {data['reason']}"

    return act(request, refuse, document=document)


@require_POST
@role_required(ACT_ROLES)
def document_quantity(request, pk: int):
    document = document_of(request, pk)

    def add() -> str:
        data = valid(QuantityForm(request.POST, place_id=document.place_id))
        operations.document_add_quantity(user=request.user, document=document, **data)
        verb = "Посчитано" if document.kind == K.INVENTORY else "В документ"
        return f"{verb}: {data['package']} серия {data['series']} — {data['quantity']} упак."

    return act(request, add, document=document)


@require_POST
@role_required(ACT_ROLES)
def document_post(request, pk: int):
    document = document_of(request, pk)
    operations.document_post(user=request.user, document=document)
    messages.success(request, f"№ {document.number}. {POSTED[document.kind]}")
    page = "stock_differences" if document.kind == K.INVENTORY else "stock_document"  # the approved result
    return to_page(request, reverse(page, args=[pk]))


@require_POST
@role_required(ACT_ROLES)
def document_receive(request, pk: int):
    document = document_of(request, pk)
    shipment_receive(user=request.user, document=document)
    messages.success(request, f"Накладная № {document.number} принята: упаковки поступили в остатки пункта отпуска")
    return to_page(request, reverse("stock_document", args=[pk]))


@role_required(READ_ROLES)
def inventory_differences(request, pk: int):
    document = document_of(request, pk)
    if document.kind != K.INVENTORY:
        raise Http404
    can = abilities(request.user, document)
    posted = document.status == DocumentStatus.POSTED
    withdrawn = selectors.withdrawn_packs(document) if posted else []
    context = {"doc": document, "can": can, "posted": posted,
               "differences": selectors.differences_of(document) if can.differences and not posted else None,
               "withdrawn": withdrawn, "withdrawn_groups": selectors.pack_groups(withdrawn),
               "movements": selectors.document_movements(document) if posted else []}
    return render(request, "warehouse/differences.html", context)
