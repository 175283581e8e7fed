"""«Входящие накладные МДЛП»: the supplier's 601s addressed to the user's place, «Принять по накладной»,
which makes the direct receipt under the chosen contract and opens it for scanning, and «Не принимать»
(with the reason) for one that is taken in another way or is not ours."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from llo.errors import ApplicationError, ValidationFailed
from llo.views import role_required
from procurement.models import StateContract

from ..models import IncomingState, MdlpIncoming
from .acceptance import contracts_for, ignore_incoming, incoming_for, receipt_from_incoming


def _roles():
    from warehouse.roles import ACT_ROLES

    return ACT_ROLES


def _rows(user) -> list[dict]:
    rows = []
    for incoming in incoming_for(user).order_by("state", "-received_at", "-pk")[:200]:
        contracts = list(contracts_for(incoming)) if incoming.state == IncomingState.NEW else []
        rows.append({"incoming": incoming, "contracts": contracts,
                     "suggested": contracts[0].pk if contracts else None,
                     "packs": len(incoming.sgtins), "boxes": len(incoming.ssccs)})
    return rows


def _page(request, error: ApplicationError | None = None, status: int = 200):
    from warehouse.documents import place_of

    place = place_of(request.user)
    return render(request, "mdlp/incoming.html", {"place": place, "rows": _rows(request.user), "error": error},
                  status=error.http_status if error else status)


@role_required(_roles())
def incoming_list(request):
    return _page(request)


@role_required(_roles())
@require_POST
def incoming_accept(request, pk: int):
    incoming = get_object_or_404(MdlpIncoming.objects.select_related("place", "sender"), pk=pk)
    try:
        contract_id = request.POST.get("contract", "")
        contract = StateContract.objects.filter(pk=int(contract_id)).first() if contract_id.isdigit() else None
        if contract is None:
            raise ValidationFailed("Выберите государственный контракт, по которому принимается поставка",
                                   code="mdlp_income.contract_missing")
        document = receipt_from_incoming(user=request.user, incoming=incoming, contract=contract)
    except ApplicationError as exc:
        if exc.http_status == 403:
            raise
        return _page(request, exc)
    messages.success(request, f"Приходная накладная № {document.number} создана по накладной МДЛП "
                              f"№ {incoming.doc_num}. Сканируйте поступившие упаковки; не поступившие и "
                              "непригодные будут отклонены (252) при проведении.")
    return redirect("stock_document", pk=document.pk)


@role_required(_roles())
@require_POST
def incoming_ignore(request, pk: int):
    incoming = get_object_or_404(MdlpIncoming.objects.select_related("place", "sender"), pk=pk)
    try:
        ignore_incoming(user=request.user, incoming=incoming, reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        if exc.http_status == 403:
            raise
        return _page(request, exc)
    messages.success(request, f"Накладная МДЛП № {incoming.doc_num} отмечена как не принимаемая: подтверждение "
                              "приёмки (701) по ней отправлено не будет.")
    return redirect("mdlp_incoming")
