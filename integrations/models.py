"""What the exchanges keep: the MDLP documents the system sent, byte for byte, and each code's outcome."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from llo.models import Organization, OutboxMessage


class OperationKind(models.TextChoices):
    DISPENSATION = "dispensation", "Отпуск по рецепту"
    RECEIPT = "receipt", "Приёмка от поставщика"
    SHIPMENT = "shipment", "Отгрузка в пункт отпуска"
    SHIPMENT_RECEIPT = "shipment_receipt", "Приёмка отгрузки пунктом"
    RETURN = "return", "Возврат поставщику"
    WRITE_OFF = "write_off", "Списание"
    INVENTORY = "inventory", "Недостача по инвентаризации"
    AGGREGATION = "aggregation", "Упаковка в короб"
    DISAGGREGATION = "disaggregation", "Расформирование короба"


class MdlpStatus(models.TextChoices):
    INVALID = "invalid", "не сформирован (ошибка данных)"
    QUEUED = "queued", "ждёт отправки"
    SENT = "sent", "отправлен, обрабатывается"
    ACCEPTED = "accepted", "принят"
    PARTIAL = "partial", "принят частично"
    REJECTED = "rejected", "отклонён"
    FAILED = "failed", "ошибка обработки в МДЛП"


class Channel(models.TextChoices):
    MDLP = "mdlp", "API МДЛП"
    REGISTRAR = "registrar", "регистратор выбытия"


OPEN_STATUSES = (MdlpStatus.QUEUED, MdlpStatus.SENT)
TROUBLE_STATUSES = (MdlpStatus.INVALID, MdlpStatus.PARTIAL, MdlpStatus.REJECTED, MdlpStatus.FAILED)


class MdlpDocument(models.Model):
    """One XML document for ФГИС МДЛП: built from an outbox message (an operation may need several
    documents: more than 25,000 codes, or a box and its continuation), sent with `request_id` as the
    idempotency key, then followed until MDLP's receipt (the 200 `result`) says what became of it."""

    message = models.ForeignKey(OutboxMessage, on_delete=models.PROTECT, related_name="+",
                                verbose_name="сообщение outbox")
    part = models.PositiveSmallIntegerField("часть", default=1)
    revision = models.PositiveSmallIntegerField("попытка отправки", default=1)
    superseded_at = models.DateTimeField("заменён повторной отправкой", null=True, blank=True)
    request_id = models.CharField("request_id", max_length=200, unique=True)
    scheme = models.PositiveSmallIntegerField("схема")
    operation_kind = models.CharField("операция", max_length=20, choices=OperationKind.choices)
    operation_id = models.CharField("номер операции", max_length=40)
    place = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                              verbose_name="место деятельности")
    status = models.CharField("состояние", max_length=10, choices=MdlpStatus.choices, default=MdlpStatus.QUEUED)
    channel = models.CharField("канал", max_length=10, choices=Channel.choices, default=Channel.MDLP)
    xml = models.BinaryField("документ (как отправлен)", null=True)
    items = models.PositiveIntegerField("кодов", default=0)
    mdlp_document_id = models.CharField("document_id в МДЛП (id запроса регистратора)", max_length=200, blank=True)
    mdlp_status = models.CharField("статус в МДЛП", max_length=40, blank=True)
    ticket = models.BinaryField("квитанция (200 result)", null=True)
    error = models.TextField("ошибка", blank=True)
    created_at = models.DateTimeField("сформирован", auto_now_add=True)
    sent_at = models.DateTimeField("отправлен", null=True, blank=True)
    next_check_at = models.DateTimeField("следующая проверка", null=True, blank=True)
    finished_at = models.DateTimeField("обработан", null=True, blank=True)

    class Meta:
        verbose_name = "документ МДЛП"
        verbose_name_plural = "документы МДЛП"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "part", "revision"], name="mdlp_document_part_unique"),
            models.CheckConstraint(condition=Q(status__in=MdlpStatus.values), name="mdlp_document_status_known"),
            models.CheckConstraint(condition=Q(status="invalid") | Q(xml__isnull=False), name="mdlp_document_has_xml"),
            models.CheckConstraint(condition=Q(status__in=["invalid", "queued"]) | ~Q(mdlp_document_id=""),
                                   name="mdlp_document_sent_has_id"),
        ]
        indexes = [
            models.Index(fields=["next_check_at"], condition=Q(status="sent"), name="mdlp_document_poll_idx"),
            models.Index(fields=["operation_kind", "operation_id"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.scheme} {self.request_id}"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "ждёт ответа"
    ACCEPTED = "accepted", "принят"
    REJECTED = "rejected", "отклонён"


class MdlpDocumentItem(models.Model):
    """A code (SGTIN or SSCC) in a document and what MDLP said about it. The per-code index also keeps
    the order: a document waits while an earlier document with one of its codes is unanswered."""

    document = models.ForeignKey(MdlpDocument, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField("код", max_length=27)
    status = models.CharField("состояние", max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    error_code = models.CharField("код ошибки", max_length=20, blank=True)
    error_text = models.CharField("ошибка", max_length=1000, blank=True)

    class Meta:
        verbose_name = "код в документе МДЛП"
        verbose_name_plural = "коды в документах МДЛП"
        constraints = [
            models.UniqueConstraint(fields=["document", "code"], name="mdlp_item_code_unique"),
            models.CheckConstraint(condition=Q(status__in=ItemStatus.values), name="mdlp_item_status_known"),
        ]
        indexes = [models.Index(fields=["code"], name="mdlp_item_code_idx")]


class IncomingState(models.TextChoices):
    NEW = "new", "ждёт приёмки"
    RECEIPT_CREATED = "receipt_created", "создана приходная накладная"
    IGNORED = "ignored", "не обрабатывается"


class MdlpIncoming(models.Model):
    """A document MDLP delivered to our account (for now the 601 move_order_notification: a supplier's 415
    addressed to one of our places), stored once as received; the clerk turns it into a direct receipt."""

    mdlp_document_id = models.CharField("document_id в МДЛП", max_length=200, unique=True)
    doc_type = models.PositiveSmallIntegerField("тип документа")
    sender_mdlp_id = models.CharField("ID отправителя в МДЛП", max_length=40, blank=True)
    receiver_mdlp_id = models.CharField("ID получателя в МДЛП", max_length=40, blank=True)
    place = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                              verbose_name="место приёмки")
    sender = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name="отправитель")
    doc_num = models.CharField("номер документа отправителя", max_length=200, blank=True)
    doc_date = models.DateField("дата документа отправителя", null=True, blank=True)
    operation_date = models.DateTimeField("дата операции", null=True, blank=True)
    contract_num = models.CharField("реестровый номер контракта", max_length=200, blank=True)
    contract_gos_num = models.CharField("номер государственного контракта", max_length=200, blank=True)
    contract_gos_date = models.DateField("дата государственного контракта", null=True, blank=True)
    sgtins = models.JSONField("SGTIN", default=list, blank=True)  # [{"sgtin", "cost", "vat_value"}]
    ssccs = models.JSONField("SSCC", default=list, blank=True)  # [{"sscc", "cost", "vat_value", "details": [...]}]
    items = models.PositiveIntegerField("позиций", default=0)
    xml = models.BinaryField("документ (как получен)", null=True)
    state = models.CharField("состояние", max_length=20, choices=IncomingState.choices, default=IncomingState.NEW)
    note = models.TextField("примечание", blank=True)
    receipt = models.ForeignKey("warehouse.StockDocument", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+", verbose_name="приходная накладная")
    received_at = models.DateTimeField("получен", auto_now_add=True)

    class Meta:
        verbose_name = "входящий документ МДЛП"
        verbose_name_plural = "входящие документы МДЛП"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=IncomingState.values), name="mdlp_incoming_state_known"),
            models.CheckConstraint(condition=~Q(state="receipt_created") | Q(receipt__isnull=False),
                                   name="mdlp_incoming_created_has_receipt"),
        ]
        indexes = [models.Index(fields=["place", "state"], name="mdlp_incoming_place_idx")]

    def __str__(self) -> str:
        return f"{self.doc_type} {self.doc_num or self.mdlp_document_id}"
