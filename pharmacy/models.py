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
