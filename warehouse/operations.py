"""One entry per operation on a stock document, whatever its kind: the pages and the API call these,
and each hands over to the service of the document's kind (receipts, shipments, outgoing,
inventory). Nothing here decides anything the services decide."""

from __future__ import annotations

from llo.errors import ValidationFailed
from llo.models import Package

from .inventory import inventory_approve, inventory_count, inventory_scan
from .models import DocumentKind, StockDocument, StorageAddress
from .outgoing import outgoing_add_quantity, outgoing_post, outgoing_scan
from .receipts import ScanOutcome, receipt_post, receipt_scan
from .shipments import shipment_scan, shipment_ship

K = DocumentKind
SCAN = {K.RECEIPT: receipt_scan, K.SHIPMENT: shipment_scan, K.RETURN: outgoing_scan, K.WRITE_OFF: outgoing_scan,
        K.INVENTORY: inventory_scan}
# posting a shipment ships it; "posting" an inventory is its approval by a second person
POST = {K.RECEIPT: receipt_post, K.SHIPMENT: shipment_ship, K.RETURN: outgoing_post, K.WRITE_OFF: outgoing_post,
        K.INVENTORY: inventory_approve}
BY_QUANTITY = frozenset({K.RETURN, K.WRITE_OFF, K.INVENTORY})


def document_scan(*, user, document: StockDocument, raw: str) -> ScanOutcome:
    service = SCAN.get(document.kind)
    if service is None:
        raise ValidationFailed("В этот документ упаковки не сканируют", code="stock.not_scannable")
    return service(user=user, document=document, raw=raw)


def document_post(*, user, document: StockDocument) -> None:
    service = POST.get(document.kind)
    if service is None:
        raise ValidationFailed("Этот документ так не проводится", code="stock.wrong_kind")
    service(user=user, document=document)


def document_add_quantity(*, user, document: StockDocument, package: Package, series: str, quantity: int,
                          address: StorageAddress | None = None) -> None:
    """Unmarked goods by quantity: into a return or write-off, or the counted quantity of an inventory."""
    if document.kind == K.INVENTORY:
        inventory_count(user=user, document=document, package=package, series=series, quantity=quantity,
                        address=address)
    elif document.kind in BY_QUANTITY:
        outgoing_add_quantity(user=user, document=document, package=package, series=series, quantity=quantity)
    else:
        raise ValidationFailed("По количеству добавляют строки возврата, списания и инвентаризации",
                               code="stock.wrong_kind")
