"""Stock as a ledger (architecture.md §4): immutable movements, a balance row per place, address,
pack, series, funding and contract kept in the same transaction, marked packs by SGTIN with their
state, SSCC transport packs as a tree, and the documents that move them.

Places are organizations: the regional warehouse and every dispensing point. A place may have
storage addresses (zone / rack / shelf / cell); stock without an address is "at the place" (a
pharmacy's shelf, the warehouse's receiving area).
"""

from django.db import models
from django.db.models import F, Q

from llo.audit import tracked
from llo.models import FundingSource, Organization, Package, User
from procurement.models import StateContract

PLACE_KINDS = ("regional_warehouse", "dispensing_point")


class StorageAddress(models.Model):
    place = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="storage_addresses",
                              verbose_name="место")
    zone = models.CharField("зона", max_length=10)
    rack = models.CharField("стеллаж", max_length=10)
    shelf = models.CharField("полка", max_length=10)
    cell = models.CharField("ячейка", max_length=10)
    code = models.CharField("код адреса", max_length=50, editable=False)
    is_active = models.BooleanField("используется", default=True)

    class Meta:
        verbose_name = "адрес хранения"
        verbose_name_plural = "адреса хранения"
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["place", "code"], name="address_code_per_place")]

    def save(self, *args, **kwargs):
        self.code = f"{self.zone}-{self.rack}-{self.shelf}-{self.cell}"
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.code


class Reason(models.TextChoices):
    RECEIPT = "receipt", "приёмка от поставщика"
    MOVE = "move", "перемещение между адресами"
    SHIPMENT = "shipment", "отгрузка в пункт отпуска"
    SHIPMENT_RECEIPT = "shipment_receipt", "приёмка в пункте отпуска"
    RETURN = "return", "возврат поставщику"
    WRITE_OFF = "write_off", "списание"
    ADJUSTMENT = "adjustment", "корректировка по инвентаризации"
    DISPENSING = "dispensing", "отпуск по рецепту"


class DocumentKind(models.TextChoices):
    RECEIPT = "receipt", "Приходная накладная"
    SHIPMENT = "shipment", "Расходная накладная (отгрузка)"
    MOVE = "move", "Перемещение"
    RETURN = "return", "Возврат поставщику"
    WRITE_OFF = "write_off", "Акт списания"
    INVENTORY = "inventory", "Инвентаризация"


class DocumentStatus(models.TextChoices):
    DRAFT = "draft", "черновик"
    POSTED = "posted", "проведён"
    SHIPPED = "shipped", "отгружен, в пути"
    RECEIVED = "received", "принят получателем"
    CANCELLED = "cancelled", "отменён"


class Acceptance(models.TextChoices):
    DIRECT = "direct", "прямой порядок (по документу поставщика)"
    REVERSE = "reverse", "обратный порядок (по нашей приёмке)"


class WriteOffReason(models.TextChoices):
    EXPIRED = "expired", "истёк срок годности"
    DAMAGED = "damaged", "повреждение упаковки"
    RECALLED = "recalled", "забракованная серия"
    DESTRUCTION = "destruction", "передача на уничтожение"


@tracked(exclude=["updated_at"])
class StockDocument(models.Model):
    """A warehouse or pharmacy document: what moved, from where to where, under which contract."""

    kind = models.CharField("вид", max_length=12, choices=DocumentKind.choices)
    number = models.CharField("номер", max_length=40, unique=True)
    status = models.CharField("состояние", max_length=10, choices=DocumentStatus.choices,
                              default=DocumentStatus.DRAFT)
    place = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="stock_documents",
                              verbose_name="место")
    counterparty = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name="контрагент (поставщик или получатель)")
    contract = models.ForeignKey(StateContract, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="documents", verbose_name="контракт")
    acceptance = models.CharField("порядок приёмки", max_length=8, choices=Acceptance.choices, blank=True)
    supplier_number = models.CharField("номер документа поставщика", max_length=50, blank=True)
    supplier_date = models.DateField("дата документа поставщика", null=True, blank=True)
    write_off_reason = models.CharField("причина списания", max_length=12, choices=WriteOffReason.choices,
                                        blank=True)
    comment = models.CharField("комментарий", max_length=500, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name="создал")
    created_at = models.DateTimeField("создан", auto_now_add=True)
    posted_at = models.DateTimeField("проведён", null=True, blank=True)
    updated_at = models.DateTimeField("изменён", auto_now=True)

    class Meta:
        verbose_name = "складской документ"
        verbose_name_plural = "складские документы"
        indexes = [models.Index(fields=["place", "kind", "-created_at"], name="stockdoc_place_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} № {self.number}"


class DocumentLine(models.Model):
    """Unmarked goods by quantity, and the expected quantities of a supplier's document."""

    document = models.ForeignKey(StockDocument, on_delete=models.CASCADE, related_name="lines",
                                 verbose_name="документ")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+", verbose_name="упаковка")
    series = models.CharField("серия", max_length=40)
    expiry = models.DateField("годен до")
    funding_source = models.CharField("источник финансирования", max_length=1, choices=FundingSource.choices)
    contract = models.ForeignKey(StateContract, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    address = models.ForeignKey(StorageAddress, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quantity = models.IntegerField("количество, упак.")

    class Meta:
        verbose_name = "строка документа"
        verbose_name_plural = "строки документа"
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="line_quantity_not_zero")]


class CodeStatus(models.TextChoices):
    EXPECTED = "expected", "ожидается"
    SCANNED = "scanned", "отсканирован"
    ACCEPTED = "accepted", "принят"
    REFUSED = "refused", "отказ"


class DocumentCode(models.Model):
    """A marked pack (SGTIN) or a transport pack (SSCC) in a document: listed by the supplier, scanned by us."""

    document = models.ForeignKey(StockDocument, on_delete=models.CASCADE, related_name="codes",
                                 verbose_name="документ")
    line = models.ForeignKey(DocumentLine, on_delete=models.CASCADE, null=True, blank=True, related_name="codes",
                             verbose_name="строка (обратная приёмка, отгрузка)")
    sgtin = models.CharField("SGTIN", max_length=27, blank=True)
    sscc = models.CharField("SSCC", max_length=18, blank=True)
    parent_sscc = models.CharField("в коробе SSCC", max_length=18, blank=True)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    series = models.CharField("серия", max_length=40, blank=True)
    expiry = models.DateField("годен до", null=True, blank=True)
    status = models.CharField("состояние", max_length=8, choices=CodeStatus.choices, default=CodeStatus.EXPECTED)
    refusal_reason = models.CharField("причина отказа", max_length=300, blank=True)
    scanned_at = models.DateTimeField("отсканирован", null=True, blank=True)

    class Meta:
        verbose_name = "код в документе"
        verbose_name_plural = "коды в документе"
        constraints = [
            models.CheckConstraint(condition=(Q(sgtin="") & ~Q(sscc="")) | (~Q(sgtin="") & Q(sscc="")),
                                   name="doc_code_sgtin_or_sscc"),
            models.UniqueConstraint(fields=["document", "sgtin"], condition=~Q(sgtin=""), name="doc_code_sgtin_once"),
            models.UniqueConstraint(fields=["document", "sscc"], condition=~Q(sscc=""), name="doc_code_sscc_once"),
        ]


class StockMovement(models.Model):
    """One immutable line of the ledger (a trigger refuses UPDATE and DELETE)."""

    place = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", db_index=False)
    address = models.ForeignKey(StorageAddress, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                db_index=False)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+", db_index=False)
    series = models.CharField(max_length=40)
    expiry = models.DateField()
    funding_source = models.CharField(max_length=1, choices=FundingSource.choices)
    contract = models.ForeignKey(StateContract, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                 db_index=False)
    quantity = models.IntegerField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    document = models.ForeignKey(StockDocument, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="movements")
    reference = models.CharField("основание (например, рецепт)", max_length=60, blank=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "движение"
        verbose_name_plural = "движения (журнал)"
        indexes = [models.Index(fields=["place", "package", "series"], name="movement_key_idx")]
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="movement_quantity_not_zero")]


class StockBalance(models.Model):
    """What is at a place now, per address, pack, series, funding and contract; the ledger's sum."""

    place = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", db_index=False)
    address = models.ForeignKey(StorageAddress, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                db_index=False)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+")
    series = models.CharField("серия", max_length=40)
    expiry = models.DateField("годен до")
    funding_source = models.CharField("источник", max_length=1, choices=FundingSource.choices)
    contract = models.ForeignKey(StateContract, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                 db_index=False)
    quantity = models.IntegerField("количество, упак.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "остаток"
        verbose_name_plural = "остатки"
        constraints = [
            models.UniqueConstraint(fields=["place", "address", "package", "series", "funding_source", "contract"],
                                    nulls_distinct=False, name="balance_key"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="balance_not_negative"),
        ]
        indexes = [models.Index(fields=["package", "place"], condition=Q(quantity__gt=0), name="balance_stock_idx")]


class PackState(models.TextChoices):
    EXPECTED = "expected", "ожидается"
    IN_STOCK = "in_stock", "в наличии"
    RESERVED = "reserved", "зарезервирован"
    SHIPPED = "shipped", "отгружен, в пути"
    DISPENSED = "dispensed", "выдан пациенту"
    WITHDRAWN = "withdrawn", "выведен из оборота (списан)"
    RETURNED = "returned", "возвращён поставщику"


# from -> the states a pack may move to (every move goes through warehouse.packs.pack_transition)
PACK_TRANSITIONS: dict[str, frozenset[str]] = {
    PackState.EXPECTED: frozenset({PackState.IN_STOCK}),
    PackState.IN_STOCK: frozenset({PackState.RESERVED, PackState.SHIPPED, PackState.DISPENSED, PackState.WITHDRAWN,
                                   PackState.RETURNED, PackState.IN_STOCK}),
    PackState.RESERVED: frozenset({PackState.IN_STOCK, PackState.DISPENSED}),
    PackState.SHIPPED: frozenset({PackState.IN_STOCK}),
    PackState.RETURNED: frozenset({PackState.IN_STOCK}),
    PackState.DISPENSED: frozenset(),
    PackState.WITHDRAWN: frozenset(),
}


class TransportPack(models.Model):
    """An SSCC box or pallet; boxes nest (a pallet of boxes of packs)."""

    sscc = models.CharField("SSCC", max_length=18, unique=True)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name="в составе")
    place = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, related_name="+", db_index=False)
    is_ours = models.BooleanField("наш короб (SSCC сгенерирован нами)", default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    disaggregated_at = models.DateTimeField("расформирован", null=True, blank=True)

    class Meta:
        verbose_name = "транспортная упаковка"
        verbose_name_plural = "транспортные упаковки"
        constraints = [
            models.CheckConstraint(condition=Q(sscc__regex=r"^\d{18}$"), name="sscc_digits"),
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="sscc_not_inside_itself"),
        ]


class MarkedPack(models.Model):
    """A drug pack with its DataMatrix: where it is and in which state."""

    sgtin = models.CharField("SGTIN", max_length=27, unique=True)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+", db_index=False)
    series = models.CharField("серия", max_length=40)
    expiry = models.DateField("годен до")
    funding_source = models.CharField("источник", max_length=1, choices=FundingSource.choices)
    contract = models.ForeignKey(StateContract, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                 db_index=False)
    state = models.CharField("состояние", max_length=10, choices=PackState.choices)
    place = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", db_index=False)
    address = models.ForeignKey(StorageAddress, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                db_index=False)
    transport_pack = models.ForeignKey(TransportPack, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="packs", verbose_name="в коробе")
    document = models.ForeignKey(StockDocument, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                 db_index=False, verbose_name="последний документ")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "маркированная упаковка"
        verbose_name_plural = "маркированные упаковки"
        indexes = [models.Index(fields=["place", "package", "state"], name="pack_place_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(sgtin__regex=r"^\d{14}.{13}$"), name="sgtin_shape"),
            models.CheckConstraint(condition=Q(state__in=PackState.values), name="pack_state_known"),
        ]


class PackEvent(models.Model):
    """The history of a pack's states, with the acting user and document."""

    pack = models.ForeignKey(MarkedPack, on_delete=models.PROTECT, related_name="events")
    from_state = models.CharField(max_length=10, choices=PackState.choices)
    to_state = models.CharField(max_length=10, choices=PackState.choices)
    place = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", db_index=False)
    document = models.ForeignKey(StockDocument, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                 db_index=False)
    reference = models.CharField(max_length=60, blank=True)
    user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)


@tracked()
class RecalledSeries(models.Model):
    """A series rejected by Roszdravnadzor or the manufacturer: it may be neither received nor issued."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+", verbose_name="упаковка")
    series = models.CharField("серия", max_length=40)
    letter = models.CharField("основание (письмо Росздравнадзора)", max_length=200)
    recalled_on = models.DateField("дата")
    is_active = models.BooleanField("действует", default=True)

    class Meta:
        verbose_name = "забракованная серия"
        verbose_name_plural = "забракованные серии"
        constraints = [models.UniqueConstraint(fields=["package", "series"], condition=Q(is_active=True),
                                               name="recall_active_once")]


class ReservationState(models.TextChoices):
    ACTIVE = "active", "действует"
    CONSUMED = "consumed", "выдано по брони"
    RELEASED = "released", "снята"
    EXPIRED = "expired", "истекла"


@tracked()
class StockReservation(models.Model):
    """Packs set aside at a place for one prescription (`reference`) until a deadline: the balance
    stays, others see it minus the active reservations (warehouse.reservations)."""

    place = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", verbose_name="аптека")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+", verbose_name="упаковка")
    series = models.CharField("серия", max_length=40)
    expiry = models.DateField("годен до")
    quantity = models.IntegerField("количество, упак.")
    reference = models.CharField("основание (рецепт)", max_length=60)
    until = models.DateTimeField("действует до")
    state = models.CharField("состояние", max_length=10, choices=ReservationState.choices,
                             default=ReservationState.ACTIVE)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "бронь"
        verbose_name_plural = "брони"
        indexes = [
            models.Index(fields=["place", "package", "series"], condition=Q(state="active"), name="reservation_active"),
            models.Index(fields=["reference"], name="reservation_reference"),
            models.Index(fields=["until"], condition=Q(state="active"), name="reservation_until"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_positive"),
            models.CheckConstraint(condition=Q(state__in=ReservationState.values), name="reservation_state_known"),
        ]
