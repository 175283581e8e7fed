"""Stock documents: who may see and work on which, their numbers, and the draft → posted step."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from llo import outbox
from llo.errors import ConflictError, ValidationFailed
from llo.models import Organization, Role
from llo.roles import has_role

from .models import PLACE_KINDS, DocumentKind, DocumentStatus, StockDocument

PREFIX = {DocumentKind.RECEIPT: "ПН", DocumentKind.SHIPMENT: "РН", DocumentKind.MOVE: "ПМ",
          DocumentKind.RETURN: "ВП", DocumentKind.WRITE_OFF: "АС", DocumentKind.INVENTORY: "ИНВ"}
STOCK_ROLES = frozenset({Role.WAREHOUSE_CLERK, Role.PHARMACIST})
READ_ALL_ROLES = frozenset({Role.MINISTRY_ADMIN, Role.MINISTRY_ANALYST})


def place_of(user) -> Organization:
    """The place a clerk or pharmacist works at: their warehouse or dispensing point."""
    org = user.organization
    if not has_role(user, STOCK_ROLES) or org is None or org.kind not in PLACE_KINDS:
        raise ValidationFailed("Складские операции выполняют сотрудники склада или пункта отпуска",
                               code="stock.not_a_place")
    return org


def documents_for(user) -> QuerySet[StockDocument]:
    """Documents of the user's place (where it acts or where goods go to); the ministry reads all."""
    documents = StockDocument.objects.select_related("place", "counterparty", "contract", "created_by")
    if has_role(user, READ_ALL_ROLES):
        return documents
    if has_role(user, STOCK_ROLES) and user.organization_id:
        return documents.filter(Q(place_id=user.organization_id) | Q(counterparty_id=user.organization_id))
    return documents.none()


def next_number(kind: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('warehouse_document_number')")
        (value,) = cursor.fetchone()
    return f"{PREFIX[kind]}-{timezone.localdate():%y}-{value:07d}"


def document_create(*, user, kind: str, place: Organization, **fields) -> StockDocument:
    return StockDocument.objects.create(kind=kind, number=next_number(kind), place=place, created_by=user, **fields)


def editable(document: StockDocument, user) -> StockDocument:
    """The document, locked, if `user` may still change it (a draft of their place)."""
    locked = StockDocument.objects.select_for_update().get(pk=document.pk)
    if locked.place_id != user.organization_id:
        raise ConflictError("Документ другого места хранения", code="stock.document_of_another_place")
    if locked.status != DocumentStatus.DRAFT:
        raise ConflictError(f"Документ № {locked.number} уже {locked.get_status_display()}: изменить нельзя",
                            code="stock.document_closed")
    return locked


def document_transition(document: StockDocument, *, from_status: str, to_status: str) -> None:
    """Compare-and-swap of the document's status: exactly one of two racing posts wins."""
    now = timezone.now()
    posting = from_status == DocumentStatus.DRAFT and to_status != DocumentStatus.CANCELLED
    done = StockDocument.objects.filter(pk=document.pk, status=from_status).update(
        status=to_status, updated_at=now, **({"posted_at": now} if posting else {}))
    if done != 1:
        raise ConflictError(f"Документ № {document.number} уже обработан", code="stock.document_closed")
    document.status = to_status


STOCK_ARRIVED_TOPIC = "warehouse.stock_arrived"


def stock_arrived(*, place_id: int, package_ids: set[int], key: str) -> None:
    """Tell whoever waits for stock at a place (the pharmacy's deferred prescriptions) that these
    packages arrived; in the caller's transaction, handled by a higher app (pharmacy/handlers.py)."""
    if package_ids:
        outbox.publish(STOCK_ARRIVED_TOPIC, {"place_id": place_id, "package_ids": sorted(package_ids)}, key=key)
