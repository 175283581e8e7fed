"""The MDLP reconciliation page (`/mdlp/`) for warehouse staff, pharmacists and the ministry: documents sent
to ФГИС МДЛП, counts by status as tabs, filters, a document's rejected codes with what to do, the XML as
sent, and «Отправить повторно» after a fix (docs/mdlp-reconciliation.md).

Access: documents come only through `selectors.documents_for` (another organization's answer 404); reading
needs `PAGE_ROLES`, re-sending `RESEND_ROLES` (other roles 403). A bad filter value is left out with a note.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from llo.errors import ApplicationError
from llo.roles import has_role
from llo.views import paginate, role_required

from ..models import MdlpStatus, OperationKind
from . import api, exchange, selectors
from .selectors import PAGE_ROLES, READ_ALL_ROLES, RESEND_ROLES, DocumentFilter

PER_PAGE = 50
FILTER_LABELS = {"scheme": "Схема", "status": "Состояние", "place": "Место деятельности",
                 "operation_kind": "Операция", "operation_id": "Номер операции",
                 "unconfirmed": "Не подтверждены", "all_revisions": "Все версии"}

BADGES = {MdlpStatus.INVALID: "badge-bad", MdlpStatus.QUEUED: "badge-queued", MdlpStatus.SENT: "badge-info",
          MdlpStatus.ACCEPTED: "badge-ok", MdlpStatus.PARTIAL: "badge-warn", MdlpStatus.REJECTED: "badge-rejected",
          MdlpStatus.FAILED: "badge-failed"}


def _query(request, **changes) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    for key, value in changes.items():
        query.pop(key, None)
        if value not in (None, ""):
            query[key] = value
    return query.urlencode()


@role_required(PAGE_ROLES)
def documents(request):
    user = request.user
    flt, errors = DocumentFilter.parse(request.GET)
    notes = [f"Фильтр «{FILTER_LABELS[name]}»: {text} Фильтр не применён." for name, text in errors.items()]
    counts = selectors.status_counts(user, flt)
    page = paginate(request, selectors.documents_list(user, flt), per_page=PER_PAGE)
    for row in page.object_list:
        row.badge = BADGES.get(row.status, "")
    places = list(selectors.places_for(user))
    tabs = [{"status": "", "label": "Все", "n": sum(counts.values()), "active": not flt.status and not flt.unconfirmed,
             "query": _query(request, status=None, unconfirmed=None)}]
    tabs += [{"status": s.value, "label": s.label, "n": counts[s.value], "active": flt.status == s.value,
              "query": _query(request, status=s.value, unconfirmed=None)} for s in MdlpStatus]
    context = {
        "page": page, "flt": flt, "notes": notes, "tabs": tabs, "places": places,
        "statuses": MdlpStatus.choices, "kinds": OperationKind.choices, "hours": selectors.unconfirmed_hours(),
        "unconfirmed_n": selectors.unconfirmed_count(user, flt), "query": _query(request),
        "unconfirmed_query": _query(request, unconfirmed="true", status=None),
        "region_wide": has_role(user, READ_ALL_ROLES), "show_place": has_role(user, READ_ALL_ROLES) or len(places) > 1,
    }
    return render(request, "mdlp/documents.html", context)


@role_required(PAGE_ROLES)
def document_detail(request, pk: int):
    document = selectors.document_for(request.user, pk)
    rejected = selectors.rejected_codes(document)
    document.badge = BADGES.get(document.status, "")
    context = {
        "d": document, "rejected_codes": rejected, "status_hint": selectors.STATUS_HINTS.get(document.status, ""),
        "can_resend": has_role(request.user, RESEND_ROLES) and selectors.is_resendable(document),
        "resendable": selectors.is_resendable(document),
    }
    return render(request, "mdlp/document.html", context)


def _download(request, pk: int, field: str):
    try:
        return api.download(request, pk, field)
    except api.NotBuilt as exc:
        raise Http404(exc.message) from exc


@role_required(PAGE_ROLES)
def document_xml(request, pk: int):
    """«Скачать XML»: the same bytes as `GET /api/v1/mdlp/documents/{id}/xml`."""
    return _download(request, pk, "xml")


@role_required(PAGE_ROLES)
def document_ticket(request, pk: int):
    return _download(request, pk, "ticket")


@require_POST
@role_required(RESEND_ROLES)
def document_resend(request, pk: int):
    document = selectors.document_for(request.user, pk)
    try:
        again = exchange.resend(document)
    except ApplicationError as exc:
        messages.error(request, f"{exc.message}. Документ уже обработан или заменён: откройте его последнюю версию "
                                "в списке.")
        return redirect("mdlp_document", pk=document.pk)
    messages.success(request, f"Документ поставлен в очередь на повторную отправку: {again.request_id}. "
                              "Итог появится здесь, когда МДЛП его обработает.")
    if not selectors.documents_for(request.user).filter(pk=again.pk).exists():  # rebuilt without a place
        return redirect("mdlp_documents")
    return redirect("mdlp_document", pk=again.pk)
