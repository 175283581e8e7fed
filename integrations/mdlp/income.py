"""Incoming 601 notifications from ФГИС МДЛП: a supplier registered a shipment (its 415) to one of our places.

`fetch_incoming` lists the account's income documents of type 601, downloads each one not seen yet, reads it
with the safe parser and stores it once (`MdlpIncoming`, unique by MDLP's document_id) with the raw XML as
received. A document that cannot be read (hostile XML, another scheme, a missing element) is stored too, as
`ignored` with the reason, so it is looked at once and never again; nothing else changes. A receiver id no
organization carries is stored with no place and a note (it is matched later, once the id is filled in the
directory). The clerk then turns a 601 into a direct receipt (`integrations.mdlp.acceptance`).
"""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from django.db import IntegrityError, transaction

from llo.models import Organization

from ..models import IncomingState, MdlpIncoming
from . import xsd
from .documents.errors import DocumentIncomplete, WrongDocumentType
from .documents.parsers import parse_move_order_notification
from .errors import MdlpAnswerInvalid

logger = logging.getLogger(__name__)

DOC_TYPE = 601
PAGE = 100
LOOK_BACK = timedelta(days=7)  # list from the newest stored 601's date minus this (late-listed documents)
UNREADABLE = (xsd.DocumentMalformed, WrongDocumentType, DocumentIncomplete, ValueError)


def fetch_incoming(limit: int = 200, *, client=None) -> dict[str, int]:
    """Store up to `limit` 601s not seen yet; counts of what happened. MDLP errors other than an unreadable
    document (down, rate limited, refused) propagate: the beat task tries again next time."""
    from . import exchange

    client = client or exchange.client()
    counts = {"stored": 0, "unreadable": 0, "seen": 0, "matched": _match_places()}
    for info in _unseen(client, limit):
        if MdlpIncoming.objects.filter(mdlp_document_id=info.document_id).exists():
            counts["seen"] += 1
            continue
        try:
            xml = client.download(info.document_id)
        except MdlpAnswerInvalid as exc:  # the file is not safe XML: the client refused it, we keep the reason
            _store_unreadable(info, None, exc.message)
            counts["unreadable"] += 1
            continue
        try:
            notice = parse_move_order_notification(xml)
        except UNREADABLE as exc:
            _store_unreadable(info, xml, getattr(exc, "message", None) or str(exc))
            counts["unreadable"] += 1
            continue
        counts["stored" if _store(info, xml, notice) else "seen"] += 1
    return counts


def _unseen(client, limit: int):
    """Income 601s, newest first, whose document_id is not stored yet (at most `limit`)."""
    newest = MdlpIncoming.objects.filter(doc_type=DOC_TYPE).order_by("-received_at").values_list(
        "received_at", flat=True).first()
    query = {"doc_type": DOC_TYPE}
    if newest is not None:
        query["start_date"] = (newest - LOOK_BACK).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    found, start = 0, 0
    while found < limit:
        page = client.income(query, start_from=start, count=PAGE)
        ids = [d.document_id for d in page.documents]
        known = set(MdlpIncoming.objects.filter(mdlp_document_id__in=ids).values_list("mdlp_document_id", flat=True))
        for info in page.documents:
            if info.document_id not in known and info.doc_type == DOC_TYPE:
                found += 1
                yield info
                if found >= limit:
                    return
        start += len(page.documents)
        if not page.documents or start >= page.total:
            return


def _place(mdlp_id: str | None) -> Organization | None:
    if not mdlp_id:
        return None
    return Organization.objects.filter(mdlp_place_id=mdlp_id).first()


def _store(info, xml: bytes, notice) -> bool:
    place, sender = _place(notice.receiver_id), _place(notice.subject_id)
    notes = []
    if place is None:
        notes.append(f"Получатель {notice.receiver_id} не найден в справочнике организаций (ID места деятельности "
                     "МДЛП): укажите его у организации — накладная появится у её сотрудников")
    if sender is None:
        notes.append(f"Отправитель {notice.subject_id} не найден в справочнике организаций: укажите ID места "
                     "деятельности МДЛП у поставщика, иначе приёмка по накладной невозможна")
    fields = {
        "doc_type": DOC_TYPE, "sender_mdlp_id": notice.subject_id, "receiver_mdlp_id": notice.receiver_id,
        "place": place, "sender": sender, "doc_num": notice.doc_num, "doc_date": notice.doc_date,
        "operation_date": notice.operation_date, "contract_num": notice.contract_num or "",
        "contract_gos_num": notice.contract_gos_num or "", "contract_gos_date": notice.contract_gos_date,
        "sgtins": [{"sgtin": line.sgtin, "cost": str(line.cost), "vat_value": str(line.vat_value)}
                   for line in notice.sgtins],
        "ssccs": [{"sscc": line.sscc, "cost": str(line.cost), "vat_value": str(line.vat_value),
                   "details": [{"gtin": d.gtin, "series_number": d.series_number, "cost": str(d.cost),
                                "vat_value": str(d.vat_value)} for d in line.details]}
                  for line in notice.ssccs],
        "items": len(notice.sgtins) + len(notice.ssccs), "xml": xml, "note": "\n".join(notes),
    }
    return _create(info.document_id, fields)


def _store_unreadable(info, xml: bytes | None, reason: str) -> None:
    logger.warning("MDLP income %s is not a readable 601: %s", info.document_id, reason)
    _create(info.document_id, {
        "doc_type": info.doc_type or DOC_TYPE, "sender_mdlp_id": (info.sender_id or "")[:40],
        "receiver_mdlp_id": (info.receiver_id or "")[:40], "place": _place(info.receiver_id),
        "sender": _place(info.sender_id), "xml": xml, "state": IncomingState.IGNORED,
        "note": f"Документ не прочитан и пропущен: {reason}"[:4000]})


def _create(document_id: str, fields: dict) -> bool:
    """Store once: a second worker storing the same document loses quietly."""
    try:
        with transaction.atomic():
            MdlpIncoming.objects.create(mdlp_document_id=document_id, **fields)
    except IntegrityError:
        return False
    return True


def _match_places() -> int:
    """601s stored before their receiver's (or sender's) place id was in the directory: attach them now."""
    matched = 0
    waiting = MdlpIncoming.objects.filter(state=IncomingState.NEW)
    for field, id_field in (("place", "receiver_mdlp_id"), ("sender", "sender_mdlp_id")):
        ids = set(waiting.filter(**{f"{field}__isnull": True}).exclude(**{id_field: ""})
                  .values_list(id_field, flat=True))
        for org in Organization.objects.filter(mdlp_place_id__in=ids):
            matched += waiting.filter(**{f"{field}__isnull": True, id_field: org.mdlp_place_id}).update(**{field: org})
    return matched
