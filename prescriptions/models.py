"""Subsidized prescriptions, their numbering, status history and the doctors' signing keys.

A prescription copies what was printed on it (category code, funding source, payment share,
ICD-10 code) at issue: the form is a legal document and must read the same after the reference
data changes.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from llo.audit import tracked
from llo.models import (
    BenefitCategory,
    Diagnosis,
    Doctor,
    FundingSource,
    Organization,
    Package,
    PaymentShare,
    Program,
    StandardizedDrug,
    User,
)
from registry.models import BenefitRight, Person


class Form(models.TextChoices):
    SUBSIDIZED = "148-1/у-04(л)", "148-1/у-04(л) — льготный"
    ORDINARY = "107-1/у", "107-1/у"


class Urgency(models.TextChoices):
    NONE = "", "—"
    CITO = "cito", "cito (срочно)"
    STATIM = "statim", "statim (немедленно)"


class PrintMethod(models.TextChoices):
    """The digit of the number after the MO code: how the blank was produced."""

    SYSTEM = "1", "Напечатан из системы"
    MIS = "2", "Выписан в МИС через API"
    HANDWRITTEN = "3", "Выписан от руки"


class Status(models.TextChoices):
    ISSUED = "issued", "Выписан"
    RESERVED = "reserved", "Забронирован"
    DEFERRED = "deferred", "На отсроченном обслуживании"
    DISPENSED = "dispensed", "Отпущен"
    CANCELLED = "cancelled", "Аннулирован"
    EXPIRED = "expired", "Истёк срок действия"


OPEN_STATUSES = (Status.ISSUED, Status.RESERVED, Status.DEFERRED)


@tracked()
class Numerator(models.Model):
    """Numbering of one MO (optionally one program) for one year: the patterns are settings
    (`PRESCRIPTION_SERIES_PATTERN`, `PRESCRIPTION_NUMBER_PATTERN`) copied here when the row is
    made, so a change of settings starts with the next year and never renumbers."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", verbose_name="МО")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name="программа (пусто — все)")
    year = models.PositiveSmallIntegerField("год")
    series_pattern = models.CharField("шаблон серии", max_length=60)
    number_pattern = models.CharField("шаблон номера", max_length=60)
    last_value = models.PositiveIntegerField("последний номер", default=0)

    class Meta:
        verbose_name = "нумератор рецептов"
        verbose_name_plural = "нумераторы рецептов"
        constraints = [
            models.UniqueConstraint(fields=["organization", "program", "year"], nulls_distinct=False,
                                    name="numerator_unique"),
        ]


@tracked(exclude=["status_changed_at", "document", "signature"])  # the signed bytes never change
class Prescription(models.Model):
    form = models.CharField("форма", max_length=16, choices=Form.choices, default=Form.SUBSIDIZED)
    series = models.CharField("серия", max_length=12)
    number = models.CharField("номер", max_length=20)
    issued_on = models.DateField("дата выписки")
    urgency = models.CharField("отметка", max_length=6, choices=Urgency.choices, blank=True)
    validity_days = models.PositiveSmallIntegerField("срок действия, дней")
    expires_on = models.DateField("действителен по")
    print_method = models.CharField("способ выписки", max_length=1, choices=PrintMethod.choices)

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+", verbose_name="МО")
    subdivision = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                    verbose_name="подразделение")
    doctor = models.ForeignKey(Doctor, on_delete=models.PROTECT, related_name="prescriptions", verbose_name="врач")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="prescriptions",
                               verbose_name="пациент")
    right = models.ForeignKey(BenefitRight, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                              verbose_name="льготное право")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+", verbose_name="программа")
    category = models.ForeignKey(BenefitCategory, on_delete=models.PROTECT, related_name="+",
                                 verbose_name="категория")
    category_code = models.CharField("код категории", max_length=3)
    funding_source = models.CharField("источник финансирования", max_length=1, choices=FundingSource.choices)
    payment_share = models.CharField("размер оплаты", max_length=1, choices=PaymentShare.choices)
    payment_percent = models.DecimalField("процент оплаты", max_digits=5, decimal_places=2)
    diagnosis = models.ForeignKey(Diagnosis, on_delete=models.PROTECT, related_name="+", verbose_name="МКБ-10")
    icd10 = models.CharField("код МКБ-10", max_length=20)

    drug = models.ForeignKey(StandardizedDrug, on_delete=models.PROTECT, related_name="+", verbose_name="МНН")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name="торговое наименование (упаковка)")
    vk_protocol = models.CharField("протокол ВК", max_length=60, blank=True)
    dosage = models.CharField("дозировка", max_length=200)
    quantity = models.PositiveSmallIntegerField("количество, упак.")
    signa = models.CharField("способ применения (Signa)", max_length=500)

    status = models.CharField("статус", max_length=10, choices=Status.choices, default=Status.ISSUED)
    status_changed_at = models.DateTimeField("статус изменён", default=timezone.now)
    cancel_reason = models.CharField("причина аннулирования", max_length=300, blank=True)
    reserved_at = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                    verbose_name="бронь в аптеке")
    reserved_until = models.DateTimeField("бронь до", null=True, blank=True)
    is_handwritten = models.BooleanField("выписан от руки", default=False)
    copied_from = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                    verbose_name="копия рецепта")

    document = models.BinaryField("СЭМД вида 37 (CDA)", null=True, editable=False)
    signature = models.BinaryField("открепленная подпись CMS", null=True, editable=False)
    signed_at = models.DateTimeField("подписан", null=True, blank=True)

    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", verbose_name="создал")
    created_at = models.DateTimeField("создан", default=timezone.now)
    idempotency_key = models.CharField("ключ идемпотентности", max_length=100, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = "рецепт"
        verbose_name_plural = "рецепты"
        constraints = [
            models.UniqueConstraint(fields=["series", "number"], name="prescription_series_number_unique"),
            models.UniqueConstraint(fields=["created_by", "idempotency_key"], name="prescription_idempotency_unique"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="prescription_status_known"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="prescription_quantity_positive"),
            models.CheckConstraint(condition=Q(expires_on__gte=models.F("issued_on")),
                                   name="prescription_expires_after_issue"),
            models.CheckConstraint(condition=Q(package__isnull=True) | ~Q(vk_protocol=""),
                                   name="prescription_trade_name_needs_vk"),
            models.CheckConstraint(condition=~Q(status="cancelled") | ~Q(cancel_reason=""),
                                   name="prescription_cancel_has_reason"),
        ]
        indexes = [
            models.Index(fields=["organization", "-issued_on", "-id"], name="rx_mo_issued"),
            models.Index(fields=["person", "-issued_on"], name="rx_person_issued"),
            models.Index(fields=["doctor", "-issued_on"], name="rx_doctor_issued"),
            models.Index(fields=["expires_on"], condition=Q(status__in=["issued", "reserved", "deferred"]),
                         name="rx_open_expiry"),
            models.Index(fields=["reserved_until"], condition=Q(status="reserved"), name="rx_reserved_until"),
        ]

    def __str__(self) -> str:
        return f"{self.series} № {self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class StatusChange(models.Model):
    """One status move, with who made it and why (the state machine's history)."""

    prescription = models.ForeignKey(Prescription, on_delete=models.CASCADE, related_name="status_changes",
                                     verbose_name="рецепт")
    from_status = models.CharField("было", max_length=10, blank=True)
    to_status = models.CharField("стало", max_length=10)
    at = models.DateTimeField("когда", default=timezone.now)
    user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name="кто")
    comment = models.CharField("комментарий", max_length=300, blank=True)

    class Meta:
        verbose_name = "смена статуса рецепта"
        verbose_name_plural = "история статусов рецептов"
        ordering = ["at", "id"]


@tracked(exclude=["private_key_pem"])
class SigningCertificate(models.Model):
    """A doctor's certificate for signing СЭМД. The private key is kept only by the demo signer
    (docs/signature.md): in production the key never leaves the doctor's token."""

    doctor = models.ForeignKey(Doctor, on_delete=models.PROTECT, related_name="certificates", verbose_name="врач")
    serial = models.CharField("серийный номер", max_length=64, unique=True)
    certificate_pem = models.TextField("сертификат")
    private_key_pem = models.TextField("закрытый ключ (только демо)", blank=True)
    valid_from = models.DateTimeField("действует с")
    valid_to = models.DateTimeField("действует по")
    revoked_at = models.DateTimeField("отозван", null=True, blank=True)

    class Meta:
        verbose_name = "сертификат подписи"
        verbose_name_plural = "сертификаты подписи"
