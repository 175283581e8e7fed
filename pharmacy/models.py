"""Dispensing records: what a dispensing point gave out on which prescription — pack by pack
(SGTIN) or by series and quantity (unmarked goods) — at the state contract's price, under which
funding source. Written only by `pharmacy.dispensing.dispensation_create`.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from llo.audit import tracked
from llo.models import FundingSource, Organization, Package, User
from prescriptions.models import Prescription
from procurement.models import StateContract


@tracked()
class Dispensation(models.Model):
    """One dispensing of one prescription: a prescription is dispensed once (UNIQUE)."""

    prescription = models.OneToOneField(Prescription, on_delete=models.PROTECT, related_name="dispensation",
                                        verbose_name="рецепт")
    place = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", verbose_name="пункт отпуска")
    pharmacist = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name="провизор")
    at = models.DateTimeField("отпущено", default=timezone.now)
    total = models.DecimalField("сумма по ценам контрактов, ₽", max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = "отпуск по рецепту"
        verbose_name_plural = "отпуск по рецептам"
        indexes = [models.Index(fields=["place", "-at"], name="dispensation_place_at")]
        constraints = [models.CheckConstraint(condition=Q(total__gte=0), name="dispensation_total_not_negative")]

    def __str__(self) -> str:
        return f"Отпуск № {self.pk} по рецепту {self.prescription_id}"


@tracked()
class DispensedItem(models.Model):
    """A pack given out (SGTIN, quantity 1) or a quantity of one series of an unmarked pack."""

    dispensation = models.ForeignKey(Dispensation, on_delete=models.PROTECT, related_name="items",
                                     verbose_name="отпуск")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="+", verbose_name="упаковка")
    sgtin = models.CharField("SGTIN", max_length=27, null=True, blank=True)
    series = models.CharField("серия", max_length=40)
    expiry = models.DateField("годен до")
    quantity = models.PositiveIntegerField("количество, упак.")
    price = models.DecimalField("цена за упаковку по контракту, ₽", max_digits=12, decimal_places=2, null=True,
                                blank=True)
    contract = models.ForeignKey(StateContract, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                 verbose_name="контракт")
    funding_source = models.CharField("источник финансирования", max_length=1, choices=FundingSource.choices)

    class Meta:
        verbose_name = "отпущенная упаковка"
        verbose_name_plural = "отпущенные упаковки"
        constraints = [
            models.UniqueConstraint(fields=["sgtin"], condition=Q(sgtin__isnull=False), name="dispensed_sgtin_once"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="dispensed_quantity_positive"),
            models.CheckConstraint(condition=Q(sgtin__isnull=True) | Q(quantity=1), name="dispensed_sgtin_one_pack"),
        ]


class NonWorkingDayOverride(models.Model):
    """The ministry's word on one day, over the federal calendar (`pharmacy.workdays`): a working
    Saturday, or a regional day off."""

    date = models.DateField("дата", unique=True)
    is_working = models.BooleanField("рабочий день")
    reason = models.CharField("основание", max_length=200, blank=True)

    class Meta:
        verbose_name = "исключение производственного календаря"
        verbose_name_plural = "исключения производственного календаря"
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%d.%m.%Y}: {'рабочий' if self.is_working else 'нерабочий'}"


class DeferralStatus(models.TextChoices):
    """Open and overdue are active (waiting to be served); served and cancelled are closed."""

    OPEN = "open", "На обслуживании"
    SERVED = "served", "Обслужен"
    CANCELLED = "cancelled", "Снят"
    OVERDUE = "overdue", "Срок нарушен"


class Deferral(models.Model):
    """A prescription put on deferred service at a point: no stock there when the patient came; the
    point must serve it by `deadline` (working days by the dated rules, `pharmacy.deferrals`)."""

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="deferrals",
                                     verbose_name="рецепт")
    place = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", verbose_name="пункт отпуска")
    registered_at = models.DateTimeField("поставлен на отсроченное обслуживание", default=timezone.now)
    registered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name="провизор")
    deadline = models.DateField("обслужить до")
    purchase = models.BooleanField("требуется закупка", default=False)
    status = models.CharField("состояние", max_length=10, choices=DeferralStatus.choices, default=DeferralStatus.OPEN)
    reserved_at = models.DateTimeField("товар поступил и забронирован", null=True, blank=True)
    served_at = models.DateTimeField("обслужен", null=True, blank=True)
    outcome = models.CharField("итог", max_length=300, blank=True)

    class Meta:
        verbose_name = "отсроченное обслуживание"
        verbose_name_plural = "отсроченное обслуживание"
        indexes = [models.Index(fields=["place", "status", "deadline"], name="deferral_place_open")]
        constraints = [models.UniqueConstraint(fields=["prescription"],
                                               condition=Q(status__in=["open", "overdue"]),
                                               name="deferral_one_open")]

    def __str__(self) -> str:
        return f"Отсроченное обслуживание рецепта {self.prescription_id} до {self.deadline:%d.%m.%Y}"


class DeferralEventKind(models.TextChoices):
    REGISTERED = "registered", "Поставлен на отсроченное обслуживание"
    VISIT = "visit", "Повторное обращение"
    RESERVED = "reserved", "Товар поступил, забронирован"
    NOTIFIED = "notified", "Гражданин уведомлён"
    SERVED = "served", "Отпущен"
    OVERDUE = "overdue", "Срок нарушен"
    CLOSED = "closed", "Снят с обслуживания"


class DeferralEvent(models.Model):
    """The journal of a deferral: each change (and each repeat visit of the patient) is a row written
    in the transaction of the change; `by` is empty for the system's periodic tasks."""

    deferral = models.ForeignKey(Deferral, on_delete=models.PROTECT, related_name="events",
                                 verbose_name="отсроченное обслуживание")
    at = models.DateTimeField("когда", default=timezone.now)
    kind = models.CharField("событие", max_length=10, choices=DeferralEventKind.choices)
    by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                           verbose_name="кто (пусто — система)")
    text = models.CharField("примечание", max_length=300, blank=True)

    class Meta:
        verbose_name = "событие отсроченного обслуживания"
        verbose_name_plural = "журнал отсроченного обслуживания"
        ordering = ["at", "pk"]
        constraints = [models.CheckConstraint(condition=Q(kind__in=DeferralEventKind.values),
                                              name="deferral_event_kind_known")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%d.%m.%Y %H:%M}"


class NotificationChannel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Электронная почта"
    NONE = "none", "Не отправляется"


class Notification(models.Model):
    """A message to the patient, written in the transaction of the event; sent later by the sender
    named in `settings.PHARMACY_NOTIFICATION_SENDERS` (`pharmacy.deferrals.notifications_send`)."""

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="+", verbose_name="рецепт")
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name="гражданин")
    channel = models.CharField("канал", max_length=5, choices=NotificationChannel.choices)
    text = models.TextField("текст")
    created_at = models.DateTimeField("создано", default=timezone.now)
    sent_at = models.DateTimeField("отправлено", null=True, blank=True)

    class Meta:
        verbose_name = "уведомление гражданина"
        verbose_name_plural = "уведомления граждан"
        indexes = [models.Index(fields=["channel", "created_at"], condition=Q(sent_at__isnull=True),
                                name="notification_unsent")]
