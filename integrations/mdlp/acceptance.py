"""Direct acceptance by a supplier's 601: the stored notification becomes a direct receipt.

`receipt_from_incoming(user=, incoming=, contract=)` makes the receipt the clerk then scans against
(`warehouse.receipts.receipt_create(acceptance="direct", expected=…)`): one expected pack per SGTIN of the
601, and for each SSCC the box with the packs inside it. A 601 names packs only by SGTIN/SSCC: the series
and expiry of each pack, and the content of each box, are read from the MDLP registry (`client.sgtins`,
`client.sscc_hierarchy`) when the receipt is made. A pack the registry gives no series or expiry for stops
the whole receipt with a clear error (nothing is created): the clerk then takes the supplier's CSV list
(«Приёмка от поставщика»). Posting the receipt sends the 701 for the scanned packs and the 252 refusal for
the rest (integrations/mdlp/operations.py `_receipt`).
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When

from llo.errors import ApplicationError, ConflictError, ValidationFailed
from llo.roles import has_role
from procurement.models import StateContract

from ..models import IncomingState, MdlpIncoming


class NotYourPlace(ApplicationError):
    """The 601 is addressed to another place: only its own clerks or pharmacists accept it (403)."""

    code = "mdlp_income.not_your_place"
    http_status = 403


def incoming_for(user) -> QuerySet[MdlpIncoming]:
    """The 601s addressed to the user's place (a warehouse clerk or a pharmacist); nothing for others."""
    from warehouse.documents import STOCK_ROLES

    if not has_role(user, STOCK_ROLES) or not user.organization_id:
        return MdlpIncoming.objects.none()
    return MdlpIncoming.objects.filter(place_id=user.organization_id).select_related("sender", "receipt")


def contracts_for(incoming: MdlpIncoming) -> QuerySet[StateContract]:
    """Active contracts of the receiving place's region with the 601's sender as the supplier, the one the
    601 names (by number or registry number) first."""
    from warehouse.selectors import contracts_for as place_contracts

    if incoming.place is None or incoming.sender is None:
        return StateContract.objects.none()
    numbers = [n for n in (incoming.contract_gos_num, incoming.contract_num) if n]
    named = Case(When(number__in=numbers, then=Value(0)), When(registry_number__in=numbers, then=Value(0)),
                 default=Value(1), output_field=IntegerField())
    return (place_contracts(incoming.place).filter(supplier=incoming.sender).select_related("supplier")
            .annotate(named=named).order_by("named", "-signed_on", "pk"))


def suggested_contract(incoming: MdlpIncoming) -> StateContract | None:
    return contracts_for(incoming).first()


def _check_access(user, incoming: MdlpIncoming) -> None:
    from warehouse.documents import STOCK_ROLES

    if not has_role(user, STOCK_ROLES) or incoming.place_id is None or user.organization_id != incoming.place_id:
        raise NotYourPlace("Накладная МДЛП адресована другому месту деятельности: принять её могут только сотрудники "
                           "склада или пункта отпуска, которому она адресована",
                           details={"incoming": incoming.pk})


def _check_open(incoming: MdlpIncoming) -> None:
    if incoming.state != IncomingState.NEW:
        raise ConflictError(f"По накладной {incoming.doc_num or incoming.mdlp_document_id} уже "
                            f"{'создана приходная накладная' if incoming.receipt_id else 'работа не ведётся'}",
                            code="mdlp_income.already_processed",
                            details={"state": incoming.state, "receipt": incoming.receipt_id})


def _check_contract(incoming: MdlpIncoming, contract: StateContract) -> None:
    if not contracts_for(incoming).filter(pk=contract.pk).exists():
        raise ValidationFailed(f"{contract}: не исполняемый контракт региона с поставщиком — отправителем накладной "
                               f"({incoming.sender_mdlp_id})", code="mdlp_income.wrong_contract",
                               details={"contract": contract.pk})


def _expiry(value: str | None) -> date | None:
    if not value:
        return None
    for text in (value[:10], value):
        try:
            return date.fromisoformat(text)
        except ValueError:
            continue
    try:
        day, month, year = value[:10].split(".")
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def expected_of(incoming: MdlpIncoming, *, client=None) -> list:
    """The packs and boxes of the 601 as the supplier's list, with series and expiry from the registry."""
    from warehouse.receipts import ExpectedPack

    from . import exchange

    client = client or exchange.client()
    rows: list[tuple[str, str, str]] = [("sgtin", line["sgtin"], "") for line in incoming.sgtins]

    def walk(node, parent: str) -> None:
        rows.append(("sscc", node.sscc, parent))
        rows.extend(("sgtin", code, node.sscc) for code in node.sgtins)
        for box in node.boxes:
            walk(box, node.sscc)

    for line in incoming.ssccs:
        walk(client.sscc_hierarchy(line["sscc"]).down, "")
    sgtins = [code for kind, code, _ in rows if kind == "sgtin"]
    infos = {info.sgtin: info for info in client.sgtins(sgtins)} if sgtins else {}
    missing = [code for code in sgtins if code not in infos or not infos[code].series_number
               or _expiry(infos[code].expiration_date) is None]
    if missing:
        raise ValidationFailed(f"МДЛП не сообщил серию и срок годности упаковки {missing[0]} (всего таких "
                               f"{len(missing)}): примите поставку по списку упаковок поставщика (CSV)",
                               code="mdlp_income.series_unknown", details={"sgtins": missing[:20]})
    expected = []
    for kind, code, parent in rows:
        if kind == "sscc":
            expected.append(ExpectedPack(sscc=code, parent_sscc=parent))
        else:
            info = infos[code]
            expected.append(ExpectedPack(sgtin=code, parent_sscc=parent, series=info.series_number,
                                         expiry=_expiry(info.expiration_date)))
    return expected


def receipt_from_incoming(*, user, incoming: MdlpIncoming, contract: StateContract, client=None):
    """A direct receipt of the 601's packs under `contract`; the 601 is marked receipt_created. The registry is
    read before anything is written; the 601 is locked while the receipt is made (a second click fails)."""
    from warehouse.models import Acceptance
    from warehouse.receipts import receipt_create

    _check_access(user, incoming)
    _check_open(incoming)
    _check_contract(incoming, contract)
    expected = expected_of(incoming, client=client)
    with transaction.atomic():
        incoming = MdlpIncoming.objects.select_for_update().get(pk=incoming.pk)
        _check_open(incoming)
        document = receipt_create(user=user, contract=contract, acceptance=Acceptance.DIRECT,
                                  supplier_number=incoming.doc_num[:50], supplier_date=incoming.doc_date,
                                  expected=expected)
        MdlpIncoming.objects.filter(pk=incoming.pk).update(state=IncomingState.RECEIPT_CREATED, receipt=document)
    return document


def ignore_incoming(*, user, incoming: MdlpIncoming, reason: str) -> None:
    """Set a 601 aside (e.g. accepted from the supplier's CSV instead); it leaves the list of new ones."""
    _check_access(user, incoming)
    if not reason.strip():
        raise ValidationFailed("Укажите, почему накладная не принимается", code="mdlp_income.reason_missing")
    with transaction.atomic():
        incoming = MdlpIncoming.objects.select_for_update().get(pk=incoming.pk)
        _check_open(incoming)
        MdlpIncoming.objects.filter(pk=incoming.pk).update(
            state=IncomingState.IGNORED, note=(f"{incoming.note}\n" if incoming.note else "")
            + f"Не принимается: {reason.strip()[:500]}")
