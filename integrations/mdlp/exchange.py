"""Reporting operations to ФГИС МДЛП: register → send → follow → apply (docs/mdlp.md «Exchange»).

1. **Register.** The first time any worker handles an MDLP message, the documents of it *and of every
   earlier MDLP message not registered yet* are built and stored with their codes, in message order,
   under one advisory lock. So the per-code order of documents is the order of the operations.
2. **Send.** A document waits (`RetryLater`, no attempt spent) while an earlier document with one of its
   codes is not answered yet: a move never overtakes the receipt it depends on. It is sent with
   `request_id` = message key + part (+ revision), so a retry after a crash gets MDLP's same document.
   The message is done once all its documents are sent; dispensing and receipts never wait on any of it.
3. **Follow.** `poll_due` (a Celery beat task) asks MDLP about sent documents, fetches the 200 receipt
   and applies it to the document and to each code: accepted, rejected with MDLP's error, or partial.
A breaker in Redis stops every worker from calling while MDLP is down; the first success after it pulls
the postponed messages forward.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, timedelta
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from llo import outbox, prebuilt
from llo.models import OutboxMessage, OutboxStatus

from ..models import Channel, ItemStatus, MdlpDocument, MdlpDocumentItem, MdlpStatus
from . import breaker
from .client import MdlpClient
from .documents import InvalidInput, Recipe, build, scheme_of
from .documents.incoming import OperationResult
from .documents.parsers import parse_result
from .errors import MdlpError, MdlpNotConfigured, MdlpUnavailable
from .operations import KINDS, TOPICS, places_remembered, plan
from .registrar import RegistrarClient, RegistrarError, RegistrarUnavailable

logger = logging.getLogger(__name__)

_REGISTER_LOCK = 0x4D444C50  # "MDLP": one registrar of documents at a time


@cache
def _client(base_url: str, client_id: str) -> MdlpClient:
    return MdlpClient.from_settings()


def client() -> MdlpClient:
    """One client per process and configuration (its token and connection are reused)."""
    return _client(settings.MDLP_BASE_URL, settings.MDLP_CLIENT_ID)


def reset_client() -> None:
    """Forget the process's client (tests that change the MDLP settings)."""
    _client.cache_clear()


# --- 1. register -----------------------------------------------------------------------------------

def register_through(message: OutboxMessage) -> list[MdlpDocument]:
    """`message`'s documents, registering first every MDLP message up to it that has none yet — and, while
    the lock is held, a batch of the next ones (one lock for many messages when the queue is long)."""
    documents = _documents_of(message)
    if documents:
        return documents
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REGISTER_LOCK])
        unregistered = (OutboxMessage.objects.filter(topic__in=TOPICS)
                        .exclude(Exists(MdlpDocument.objects.filter(message=OuterRef("pk")))).order_by("pk"))
        open_ = Q(status__in=[OutboxStatus.PENDING, OutboxStatus.PROCESSING])
        batch = list(unregistered.filter(Q(pk=message.pk) | (open_ & Q(pk__lt=message.pk))))
        batch += unregistered.filter(open_, pk__gt=message.pk)[:settings.MDLP_REGISTER_AHEAD]
        with places_remembered():
            _store([pair for waiting in batch for pair in _built(waiting)])
    return _documents_of(message)


# The message's current documents, each with `blocked_by`: the request_id of an unanswered document of an
# earlier message (or an earlier part) sharing a code with it — through the per-code index, in one query.
_DOCUMENT = prebuilt.layout((MdlpDocument, "d"))
_DOCUMENTS_OF = f"""
    SELECT {_DOCUMENT.columns}, (
        SELECT e.request_id
        FROM integrations_mdlpdocumentitem i
        JOIN integrations_mdlpdocumentitem j ON j.code = i.code AND j.document_id <> i.document_id
        JOIN integrations_mdlpdocument e ON e.id = j.document_id
        WHERE i.document_id = d.id AND e.status IN ('queued', 'sent') AND e.superseded_at IS NULL
          AND (e.message_id < d.message_id OR (e.message_id = d.message_id AND e.part < d.part))
        ORDER BY e.message_id, e.part LIMIT 1
    ) AS blocked_by
    FROM integrations_mdlpdocument d
    WHERE d.message_id = %s AND d.superseded_at IS NULL
    ORDER BY d.part
"""


def _documents_of(message: OutboxMessage) -> list[MdlpDocument]:
    documents = []
    for document, blocked_by in prebuilt.fetch(_DOCUMENTS_OF, [message.pk], _DOCUMENT):  # prepared: per message
        document.blocked_by = blocked_by
        documents.append(document)
    return documents


def _store(built: list[tuple[MdlpDocument, list[str]]]) -> None:
    """Save built documents and their codes: two statements however many there are."""
    MdlpDocument.objects.bulk_create([document for document, _ in built])
    MdlpDocumentItem.objects.bulk_create([MdlpDocumentItem(document=document, code=code)
                                          for document, codes in built for code in codes], batch_size=5000)


def _built(message: OutboxMessage, *, revision: int = 1, parts: set[int] | None = None,
           only_codes: dict[int, set[str]] | None = None) -> list[tuple[MdlpDocument, list[str]]]:
    """The message's documents (unsaved) with their codes; one INVALID document when the operation's data
    cannot make a valid one (the reason is kept; a re-send after the fix builds it again)."""
    try:
        planned = plan(message)
        docs = [(number, doc) for number, doc in enumerate(planned.documents, start=1)
                if parts is None or number in parts]
        if only_codes:
            docs = [(number, _only(doc, only_codes[number]) if number in only_codes else doc) for number, doc in docs]
        built = [(number, doc, build(doc)) for number, doc in docs]
    except (InvalidInput, LookupError, ValueError, KeyError) as exc:
        part = min(parts or {1})
        return [(MdlpDocument(message=message, part=part, revision=revision,
                              request_id=_request_id(message, part, revision), scheme=0,
                              operation_kind=KINDS[message.topic], operation_id=_operation_of(message),
                              place_id=_place_of(message), status=MdlpStatus.INVALID, error=_reason(exc)), [])]
    result = []
    for number, doc, xml in built:
        codes = _codes_of(doc)
        result.append((MdlpDocument(
            message=message, part=number, revision=revision, request_id=_request_id(message, number, revision),
            scheme=scheme_of(doc)[1], operation_kind=KINDS[message.topic], operation_id=planned.operation_id,
            place=planned.place, xml=xml, items=len(codes), channel=_channel(planned, doc)), codes))
    return result


def _channel(planned, doc) -> str:
    """A dispensing at a point with a withdrawal registrar is reported through the device."""
    if isinstance(doc, Recipe) and registrar_url(planned.place) is not None:
        return Channel.REGISTRAR
    return Channel.MDLP


def registrar_url(place) -> str | None:
    return settings.MDLP_REGISTRARS.get(place.mdlp_place_id) if place is not None else None


def _request_id(message: OutboxMessage, part: int, revision: int) -> str:
    return f"{message.key}.{part}" + (f".r{revision}" if revision > 1 else "")


def _codes_of(doc) -> list[str]:
    codes = [getattr(item, "sgtin", item) for item in getattr(doc, "sgtins", ())]
    codes += [getattr(item, "sscc", item) for item in getattr(doc, "ssccs", ())]
    if getattr(doc, "sscc", None) and not codes:
        codes.append(doc.sscc)
    elif getattr(doc, "sscc", None):
        codes.insert(0, doc.sscc)
    return list(dict.fromkeys(codes))


def _only(doc, codes: set[str]):
    """The same document for a subset of its codes (a re-send of the rejected ones)."""
    changes = {}
    for field in ("sgtins", "ssccs"):
        if hasattr(doc, field):
            changes[field] = [item for item in getattr(doc, field) if getattr(item, field[:-1], item) in codes]
    return replace(doc, **changes)


def _operation_of(message: OutboxMessage) -> str:
    payload = message.payload
    return str(payload.get("dispensation_id") or payload.get("document_id") or payload.get("sscc") or "")[:40]


def _place_of(message: OutboxMessage) -> int | None:
    """The place an operation happened at, for a document that could not be built (so that its staff see it)."""
    from pharmacy.models import Dispensation
    from warehouse.models import StockDocument, TransportPack

    payload = message.payload
    if "dispensation_id" in payload:
        found = Dispensation.objects.filter(pk=payload["dispensation_id"])
    elif "document_id" in payload:
        found = StockDocument.objects.filter(pk=payload["document_id"])
    else:
        found = TransportPack.objects.filter(sscc=payload.get("sscc"))
    return found.values_list("place_id", flat=True).first()


def _reason(exc: Exception) -> str:
    return (getattr(exc, "message", None) or str(exc) or type(exc).__name__)[:2000]


# --- 2. send ---------------------------------------------------------------------------------------

def deliver(message: OutboxMessage) -> dict:
    """The outbox handler of every MDLP topic."""
    documents = register_through(message)
    invalid = [d for d in documents if d.status == MdlpStatus.INVALID]
    if invalid:
        raise outbox.PermanentError(f"Документ МДЛП не сформирован: {invalid[0].error}")
    for document in documents:
        if document.status == MdlpStatus.QUEUED:
            _send(document)
    return {"documents": [d.pk for d in documents]}


def _send(document: MdlpDocument) -> None:
    if document.blocked_by:  # read with the document (an earlier part sent since then is still unanswered)
        raise outbox.RetryLater(f"Ждёт ответа МДЛП на документ {document.blocked_by} с теми же кодами",
                                delay=settings.MDLP_ORDER_WAIT, count=False)
    if document.channel == Channel.REGISTRAR:  # the device, not MDLP's API: the breaker is not its
        _send_to_registrar(document)
        return
    is_open, was_tripped = breaker.state()
    if is_open:
        raise outbox.RetryLater("МДЛП недоступен; отправка отложена", delay=_retry_delay(document), count=True)
    try:
        document_id = client().send(bytes(document.xml), request_id=document.request_id)
    except MdlpNotConfigured as exc:
        raise outbox.RetryLater(f"Обмен с МДЛП не настроен: {exc.message}", delay=settings.MDLP_RETRY_CAP) from exc
    except MdlpUnavailable as exc:
        breaker.trip()
        raise outbox.RetryLater(f"МДЛП недоступен: {exc.message}", delay=_retry_delay(document)) from exc
    _sent(document, document_id)
    if was_tripped and breaker.close():
        _release_postponed()


_SENT = """
    UPDATE integrations_mdlpdocument SET status = 'sent', mdlp_document_id = %s, sent_at = %s, error = '',
                                         next_check_at = %s
    WHERE id = %s AND status = 'queued'
"""


def _sent(document: MdlpDocument, document_id: str) -> None:
    now = timezone.now()
    with prebuilt.cursor() as cursor:
        cursor.execute(_SENT, [document_id, now, now + timedelta(seconds=settings.MDLP_POLL_FIRST), document.pk])
    document.status, document.mdlp_document_id = MdlpStatus.SENT, document_id


def _registrar(document: MdlpDocument) -> RegistrarClient:
    url = registrar_url(document.place)
    if url is None:
        raise outbox.PermanentError(f"Регистратор выбытия для {document.place} больше не настроен (MDLP_REGISTRARS)")
    return RegistrarClient.for_url(url)


def _send_to_registrar(document: MdlpDocument) -> None:
    """The device reports the dispensing to MDLP itself; we queue it there and follow its request."""
    rx = OutboxMessage.objects.values_list("payload", flat=True).get(pk=document.message_id)["prescription"]
    codes = list(document.codes.values_list("code", flat=True))
    with _registrar(document) as device:
        try:
            request_id = device.register_by_prescription(
                codes, prescription_date=date.fromisoformat(rx["date"]), series=rx.get("series") or None,
                number=rx["number"], request_id=document.request_id)
        except RegistrarUnavailable as exc:
            raise outbox.RetryLater(f"Регистратор выбытия недоступен: {exc.message}",
                                    delay=_retry_delay(document)) from exc
    _sent(document, request_id)


def _retry_delay(document: MdlpDocument) -> float:
    attempts = OutboxMessage.objects.filter(pk=document.message_id).values_list("attempts", flat=True).first() or 1
    return min(outbox.backoff_seconds(attempts), settings.MDLP_RETRY_CAP)


def _release_postponed() -> int:
    """MDLP answers again: the messages put off while it was down are due now."""
    released = OutboxMessage.objects.filter(topic__in=TOPICS, status=OutboxStatus.PENDING,
                                            available_at__gt=timezone.now()).update(available_at=timezone.now())
    if released:
        logger.info("MDLP is back: %s postponed messages are due again", released)
    return released


# --- 3. follow -------------------------------------------------------------------------------------

def poll_due(*, limit: int = 100) -> dict[str, int]:
    """Ask MDLP about sent documents whose check is due; apply the receipts that are ready."""
    counts = {"finished": 0, "waiting": 0, "errors": 0}
    if breaker.is_open():
        return counts
    for document in _claim_due(limit):
        try:
            finished = check(document)
        except MdlpError as exc:
            counts["errors"] += 1
            _later(document, error=_reason(exc))
            if isinstance(exc, MdlpUnavailable):
                breaker.trip()
                break
            continue
        counts["finished" if finished else "waiting"] += 1
    return counts


def _claim_due(limit: int) -> list[MdlpDocument]:
    """Take due documents for this worker (others skip them) by moving their next check a lease ahead."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(MdlpDocument.objects.select_for_update(skip_locked=True)
                   .filter(status=MdlpStatus.SENT, next_check_at__lte=now)
                   .order_by("next_check_at").values_list("pk", flat=True)[:limit])
        MdlpDocument.objects.filter(pk__in=ids).update(next_check_at=now + timedelta(seconds=settings.MDLP_POLL_LEASE))
    return list(MdlpDocument.objects.filter(pk__in=ids).defer("xml", "ticket").order_by("pk"))


def check(document: MdlpDocument) -> bool:
    """One look at a sent document; True when its outcome is final and applied."""
    if document.channel == Channel.REGISTRAR:
        return _check_registrar(document)
    mdlp = client()
    status = mdlp.document(document.mdlp_document_id)
    if not status.finished:
        _later(document, mdlp_status=status.doc_status)
        return False
    if not status.result_ready:
        _finish(document, MdlpStatus.FAILED, status.doc_status, None, {}, rejected_all=True,
                error="МДЛП не смог обработать документ (FAILED) и не выдал квитанцию: проверьте документ и "
                      "отправьте повторно")
        return True
    ticket = mdlp.ticket(document.mdlp_document_id)
    try:
        result = parse_result(ticket)
    except Exception as exc:  # a ticket we refuse to read is an answer we cannot apply: look again later
        _later(document, error=f"Квитанция МДЛП не прочитана: {_reason(exc)}")
        return False
    _apply(document, status.doc_status, ticket, result)
    return True


def _check_registrar(document: MdlpDocument) -> bool:
    try:
        with _registrar(document) as device:
            request = device.request(document.mdlp_document_id)
    except RegistrarError as exc:
        _later(document, error=_reason(exc))
        return False
    if not request.finished:
        _later(document, mdlp_status=request.status)
        return False
    errors = {e.sgtin: f"{e.code}: {e.description}" for e in request.codes_errors}
    if request.error_code or not request.registered:
        _finish(document, MdlpStatus.REJECTED if errors else MdlpStatus.FAILED, request.status, None, errors,
                rejected_all=True, error=request.error_description or "; ".join(errors.values())
                or "Регистратор не передал ни одного кода")
    else:
        _finish(document, MdlpStatus.PARTIAL if errors else MdlpStatus.ACCEPTED, request.status, None, errors,
                rejected_all=False, error=f"Отклонено кодов: {len(errors)}" if errors else "")
    return True


def _later(document: MdlpDocument, *, mdlp_status: str | None = None, error: str | None = None) -> None:
    age = (timezone.now() - (document.sent_at or timezone.now())).total_seconds()
    wait = min(max(settings.MDLP_POLL_FIRST, age / 4), settings.MDLP_POLL_MAX)
    fields = {"next_check_at": timezone.now() + timedelta(seconds=wait)}
    if mdlp_status is not None:
        fields["mdlp_status"] = mdlp_status
    if error is not None:
        fields["error"] = error[:2000]
    MdlpDocument.objects.filter(pk=document.pk, status=MdlpStatus.SENT).update(**fields)


def _apply(document: MdlpDocument, mdlp_status: str, ticket: bytes, result) -> None:
    errors = {code: "; ".join(f"{e.code}: {e.description}" for e in found)
              for code, found in result.errors_by_object().items()}
    outcome = {OperationResult.ACCEPTED: MdlpStatus.ACCEPTED, OperationResult.PARTIAL: MdlpStatus.PARTIAL}.get(
        result.operation_result, MdlpStatus.REJECTED)
    general = "; ".join(f"{e.code}: {e.description}" for e in result.errors if not e.object_id)
    _finish(document, outcome, mdlp_status, ticket, errors, rejected_all=outcome == MdlpStatus.REJECTED,
            error=general or (f"Отклонено кодов: {len(errors)}" if errors else ""))


def _finish(document: MdlpDocument, status: str, mdlp_status: str, ticket: bytes | None, errors: dict[str, str],
            *, rejected_all: bool, error: str) -> None:
    with transaction.atomic():
        updated = MdlpDocument.objects.filter(pk=document.pk, status=MdlpStatus.SENT).update(
            status=status, mdlp_status=mdlp_status, ticket=ticket, error=error[:2000], finished_at=timezone.now(),
            next_check_at=None)
        if not updated:
            return
        items = MdlpDocumentItem.objects.filter(document=document)
        if rejected_all:
            items.update(status=ItemStatus.REJECTED, error_text=error[:1000] or "документ отклонён")
        else:
            items.exclude(code__in=errors).update(status=ItemStatus.ACCEPTED)
        rejected = [MdlpDocumentItem(pk=pk, status=ItemStatus.REJECTED, error_code=text.split(":", 1)[0][:20],
                                     error_text=text[:1000])
                    for pk, text in ((pk, errors[code]) for pk, code in items.filter(code__in=errors)
                                     .values_list("pk", "code"))]
        MdlpDocumentItem.objects.bulk_update(rejected, ["status", "error_code", "error_text"], batch_size=2000)
    logger.info("MDLP document %s (%s): %s", document.request_id, document.scheme, status)


# --- re-send after a fix ---------------------------------------------------------------------------

RESENDABLE = (MdlpStatus.INVALID, MdlpStatus.REJECTED, MdlpStatus.FAILED, MdlpStatus.PARTIAL)


def resend(document: MdlpDocument) -> MdlpDocument:
    """Build the part again from the operation as it is now (after the fix) — for a partial receipt only
    its rejected codes — and queue it under a new request_id; the old document stays as it was sent."""
    from llo.errors import ConflictError

    with transaction.atomic():
        document = MdlpDocument.objects.select_for_update().get(pk=document.pk)
        if document.status not in RESENDABLE or document.superseded_at is not None:
            raise ConflictError("Повторно отправляется только отклонённый, не сформированный или не обработанный "
                                "документ, и только последняя его версия", code="mdlp.not_resendable",
                                details={"status": document.status})
        only = None
        if document.status == MdlpStatus.PARTIAL:
            only = {document.part: set(document.codes.filter(status=ItemStatus.REJECTED).values_list("code", flat=True))}
        MdlpDocument.objects.filter(pk=document.pk).update(superseded_at=timezone.now())
        message = OutboxMessage.objects.select_for_update().get(pk=document.message_id)
        _store(_built(message, revision=document.revision + 1, parts={document.part}, only_codes=only))
        OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxStatus.PENDING, attempts=0,
                                                          available_at=timezone.now(), processed_at=None)
        outbox.wake_after_commit()
    return MdlpDocument.objects.get(message_id=document.message_id, part=document.part,
                                    revision=document.revision + 1)
