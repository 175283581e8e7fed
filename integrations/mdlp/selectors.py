"""Reads of the MDLP reconciliation (docs/mdlp-reconciliation.md): which documents a user may see, the
filters of the page and the API, counts by status, a document's rejected codes with a hint of what to do.

Access (`documents_for`, the one helper of this resource): the ministry's roles read every document of the
region (and those not tied to a place: built without one); warehouse clerks and pharmacists see the documents
whose place of activity is their organization or a place under it (a pharmacy organization's account sees
its points). Anyone else gets nothing — a view answers 403 by role, an id outside the queryset 404.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from llo.access import get_for
from llo.errors import ApplicationError
from llo.models import Organization, Role
from llo.roles import has_role

from ..models import (
    OPEN_STATUSES,
    ItemStatus,
    MdlpDocument,
    MdlpDocumentItem,
    MdlpStatus,
    OperationKind,
)
from .exchange import RESENDABLE

READ_ALL_ROLES = frozenset({Role.MINISTRY_ADMIN, Role.MINISTRY_ANALYST, Role.SYSTEM_ADMIN})
STAFF_ROLES = frozenset({Role.WAREHOUSE_CLERK, Role.PHARMACIST})
PAGE_ROLES = READ_ALL_ROLES | STAFF_ROLES
# Re-sending changes the exchange: the places' own staff and the ministry's administrators, not the analyst.
RESEND_ROLES = STAFF_ROLES | frozenset({Role.MINISTRY_ADMIN, Role.SYSTEM_ADMIN})
LIST_FIELDS_DEFERRED = ("xml", "ticket")  # the bytes are read only by the download endpoints


class BadFilter(ApplicationError):
    """A filter value that cannot be applied: the API answers 400 with the field and what to pass."""

    code = "mdlp.bad_filter"
    http_status = 400


def unconfirmed_hours() -> int:
    return int(getattr(settings, "MDLP_UNCONFIRMED_AFTER_HOURS", 24))


def documents_for(user) -> QuerySet[MdlpDocument]:
    """Every document `user` may see (the list's and the detail's only source)."""
    qs = MdlpDocument.objects.select_related("place")
    if not (user and user.is_authenticated and user.organization_id):
        return qs.none()
    if has_role(user, READ_ALL_ROLES):
        region = Organization.objects.filter(pk=user.organization_id).values("region_id")[:1]
        return qs.filter(Q(place__region_id=Subquery(region)) | Q(place__isnull=True))
    if has_role(user, STAFF_ROLES):
        org = user.organization_id
        return qs.filter(Q(place_id=org) | Q(place__parent_id=org))
    return qs.none()


def places_for(user) -> QuerySet[Organization]:
    """The places of activity the place filter offers: the user's own and those under it; the region's
    places with an MDLP id for the ministry."""
    qs = Organization.objects.order_by("short_name", "pk")
    if not (user and user.is_authenticated and user.organization_id):
        return qs.none()
    if has_role(user, READ_ALL_ROLES):
        region = Organization.objects.filter(pk=user.organization_id).values("region_id")[:1]
        return qs.filter(region_id=Subquery(region), mdlp_place_id__isnull=False)
    if has_role(user, STAFF_ROLES):
        return qs.filter(Q(pk=user.organization_id) | Q(parent_id=user.organization_id))
    return qs.none()


# --- filters -------------------------------------------------------------------------------------

TRUE, FALSE = ("true", "1", "yes", "on", "да"), ("false", "0", "no", "off", "нет", "")


@dataclass(frozen=True)
class DocumentFilter:
    scheme: int | None = None
    status: str | None = None
    place: int | None = None
    operation_kind: str | None = None
    operation_id: str | None = None
    unconfirmed: bool = False
    all_revisions: bool = False

    @classmethod
    def parse(cls, params) -> tuple[DocumentFilter, dict[str, str]]:
        """The filter of a query string and, per bad field, a message saying what to pass instead (the bad
        field is left out of the filter)."""
        values, errors = {}, {}

        def text(name: str) -> str:
            return (params.get(name) or "").strip()

        if raw := text("scheme"):
            if raw.isdigit() and 0 < int(raw) < 10000:
                values["scheme"] = int(raw)
            else:
                errors["scheme"] = f"Схема «{raw}» — не номер схемы МДЛП: укажите число, например 521 или 415."
        if raw := text("status"):
            if raw in MdlpStatus.values:
                values["status"] = raw
            else:
                errors["status"] = f"Состояния «{raw}» нет: допустимы {', '.join(MdlpStatus.values)}."
        if raw := text("place"):
            if raw.isdigit() and int(raw) > 0:
                values["place"] = int(raw)
            else:
                errors["place"] = f"Место деятельности «{raw}» — не id организации: укажите целое число."
        if raw := text("operation_kind"):
            if raw in OperationKind.values:
                values["operation_kind"] = raw
            else:
                errors["operation_kind"] = f"Операции «{raw}» нет: допустимы {', '.join(OperationKind.values)}."
        if raw := text("operation_id"):
            if len(raw) <= 40:
                values["operation_id"] = raw
            else:
                errors["operation_id"] = "Номер операции длиннее 40 символов: проверьте, что скопировали его целиком."
        for flag in ("unconfirmed", "all_revisions"):
            raw = text(flag).lower()
            if raw in TRUE:
                values[flag] = True
            elif raw not in FALSE:
                errors[flag] = f"«{text(flag)}» — не логическое значение: укажите {flag}=true или {flag}=false."
        return cls(**values), errors

    @classmethod
    def strict(cls, params) -> DocumentFilter:
        """The filter, or `BadFilter` naming the first bad field (the API's 400)."""
        found, errors = cls.parse(params)
        if errors:
            field, message = next(iter(errors.items()))
            raise BadFilter(message, details={"field": field, "value": params.get(field), "errors": errors})
        return found


def documents_filtered(documents: QuerySet[MdlpDocument], flt: DocumentFilter, *, status: bool = True,
                       now=None) -> QuerySet[MdlpDocument]:
    """`documents` narrowed by `flt` (`status=False`: all but the status, for the counts of the tabs)."""
    qs = documents
    if not flt.all_revisions:
        qs = qs.filter(superseded_at__isnull=True)
    if flt.scheme is not None:
        qs = qs.filter(scheme=flt.scheme)
    if status and flt.status:
        qs = qs.filter(status=flt.status)
    if flt.place is not None:
        qs = qs.filter(place_id=flt.place)
    if flt.operation_kind:
        qs = qs.filter(operation_kind=flt.operation_kind)
    if flt.operation_id:
        qs = qs.filter(operation_id=flt.operation_id)
    if flt.unconfirmed:
        cutoff = (now or timezone.now()) - timedelta(hours=unconfirmed_hours())
        qs = qs.filter(status__in=OPEN_STATUSES, created_at__lt=cutoff)
    return qs


def with_rejected_count(documents: QuerySet[MdlpDocument]) -> QuerySet[MdlpDocument]:
    """Rows for a list: without the XML and receipt bytes, each with `rejected` (codes MDLP refused) and
    `has_xml`/`has_ticket` — one query for a page, whatever its size."""
    rejected = (MdlpDocumentItem.objects.filter(document=OuterRef("pk"), status=ItemStatus.REJECTED)
                .order_by().values("document").annotate(n=Count("pk")).values("n"))
    return (documents.defer(*LIST_FIELDS_DEFERRED)
            .annotate(rejected=Coalesce(Subquery(rejected, output_field=IntegerField()), Value(0)),
                      has_xml=ExpressionWrapper(Q(xml__isnull=False), output_field=BooleanField()),
                      has_ticket=ExpressionWrapper(Q(ticket__isnull=False), output_field=BooleanField()))
            .order_by("-created_at", "-id"))


def documents_list(user, flt: DocumentFilter) -> QuerySet[MdlpDocument]:
    """The documents of the page and of `GET /api/v1/mdlp/documents/`, newest first."""
    return with_rejected_count(documents_filtered(documents_for(user), flt))


def status_counts(user, flt: DocumentFilter) -> dict[str, int]:
    """{status: n} of the documents the filter shows regardless of its status (the tabs), every status present."""
    rows = (documents_filtered(documents_for(user), flt, status=False).order_by()
            .values("status").annotate(n=Count("pk")).values_list("status", "n"))
    found = dict(rows)
    return {s: found.get(s, 0) for s in MdlpStatus.values}


def unconfirmed_count(user, flt: DocumentFilter) -> int:
    return documents_filtered(documents_for(user), replace(flt, unconfirmed=True, status=None)).count()


# --- one document --------------------------------------------------------------------------------

def document_for(user, pk: int) -> MdlpDocument:
    """One document the user may see, without its bytes (404 otherwise); `rejected` is set."""
    return get_for(with_rejected_count(documents_for(user)), pk=pk)


def document_row(pk: int) -> MdlpDocument:
    """A document just made by the caller's re-send of one they may see (its rebuilt part may have lost the
    place when the data is still wrong), as a list row."""
    return with_rejected_count(MdlpDocument.objects.select_related("place")).get(pk=pk)


def document_bytes(user, pk: int, field: str) -> tuple[MdlpDocument, bytes | None]:
    """The document (its request_id and status) and its stored `xml` or `ticket`, exactly as kept."""
    assert field in LIST_FIELDS_DEFERRED
    document = get_for(documents_for(user).select_related(None).only("pk", "request_id", "status", field), pk=pk)
    value = getattr(document, field)
    return document, (bytes(value) if value is not None else None)


def is_resendable(document: MdlpDocument) -> bool:
    return document.status in RESENDABLE and document.superseded_at is None


@dataclass(frozen=True)
class Hint:
    title: str
    todo: str


# MDLP's error codes in a receipt (the emulator's are the same numbers) → what the place should do.
ERROR_HINTS: dict[str, Hint] = {
    "2": Hint("Код не найден в МДЛП",
              "Проверьте код на упаковке: отсканируйте её ещё раз. Если код верный — товар не введён в оборот или "
              "приёмка не отражена в МДЛП: обратитесь к поставщику, затем отправьте документ повторно."),
    "3": Hint("Упаковка числится за другим местом деятельности",
              "В МДЛП упаковка не на вашем балансе: убедитесь, что приёмка (701) от отправителя принята, или "
              "уточните у отправителя, отгрузил ли он её вам; после этого отправьте документ повторно."),
    "4": Hint("Упаковка не в обороте",
              "Упаковка уже выбыла (отпущена, списана) или в пути. Сверьте движение упаковки в учёте; если её "
              "выбытие отражено ошибочно — оформите исправление, иначе изымите упаковку из операции."),
    "5": Hint("Упаковка лежит в коробе",
              "Сначала расформируйте транспортную упаковку (или изымите из неё упаковку), затем отправьте "
              "документ повторно."),
    "6": Hint("Товар не отгружался в ваш адрес",
              "Отправитель не передал в МДЛП отгрузку (415) в ваш адрес: свяжитесь с ним; после его отгрузки "
              "отправьте приёмку повторно."),
    "7": Hint("Короб с таким номером уже зарегистрирован",
              "Сформируйте новую транспортную упаковку с другим SSCC и отправьте документ повторно."),
    "8": Hint("Упаковка не вложена в короб",
              "Изымать из короба нечего: проверьте состав короба в учёте и исправьте операцию."),
    "9": Hint("Тип документа не принимается",
              "Документ этой схемы МДЛП не обрабатывает: обратитесь к администратору системы."),
    "10": Hint("Отправитель и получатель совпадают",
               "Укажите в операции другое место назначения и отправьте документ повторно."),
}
GENERIC_HINT = Hint("Ошибка МДЛП",
                    "Прочитайте текст ошибки МДЛП, исправьте данные операции и отправьте документ повторно; если "
                    "непонятно, что исправить, — обратитесь к администратору системы с номером документа.")
STATUS_HINTS: dict[str, str] = {
    MdlpStatus.INVALID: "Документ не сформирован: в данных операции ошибка (чаще всего — у места деятельности нет "
                        "ID МДЛП или у товара нет GTIN). Исправьте данные в справочнике и нажмите «Отправить "
                        "повторно».",
    MdlpStatus.FAILED: "МДЛП не смог обработать документ. Проверьте документ (скачайте XML) и отправьте его "
                       "повторно; если ошибка повторится — обратитесь в поддержку МДЛП.",
    MdlpStatus.REJECTED: "МДЛП отклонил документ целиком: исправьте причины, указанные ниже, и отправьте повторно.",
    MdlpStatus.PARTIAL: "Часть кодов принята, часть отклонена: исправьте причины по отклонённым кодам и отправьте "
                        "повторно — уйдут только они.",
    MdlpStatus.QUEUED: "Документ ждёт отправки: он уйдёт, когда МДЛП ответит на предыдущие документы с теми же "
                       "кодами. Если ждёт дольше суток — проверьте «Очередь обмена».",
    MdlpStatus.SENT: "МДЛП обрабатывает документ; система сама запросит квитанцию.",
}


def hint_for(error_code: str) -> Hint:
    return ERROR_HINTS.get((error_code or "").strip(), GENERIC_HINT)


def rejected_codes(document: MdlpDocument, *, limit: int = 1000) -> list[MdlpDocumentItem]:
    """The document's rejected codes (one query), each with `hint` (title and what to do) and `reason` (MDLP's
    text without the code it starts with)."""
    rows = list(document.codes.filter(status=ItemStatus.REJECTED).order_by("pk")[:limit])
    for row in rows:
        row.hint = hint_for(row.error_code)
        prefix = f"{row.error_code}: "
        row.reason = row.error_text[len(prefix):] if row.error_code and row.error_text.startswith(prefix) \
            else row.error_text
    return rows


def codes_of(document: MdlpDocument, *, limit: int = 1000) -> list[MdlpDocumentItem]:
    """Every code of the document (rejected first), with `hint` on the rejected ones (one query)."""
    rank = {ItemStatus.REJECTED: 0, ItemStatus.PENDING: 1, ItemStatus.ACCEPTED: 2}
    rows = sorted(document.codes.order_by("pk")[:limit], key=lambda r: rank.get(r.status, 3))
    for row in rows:
        row.hint = hint_for(row.error_code) if row.status == ItemStatus.REJECTED else None
    return rows
