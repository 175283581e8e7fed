"""State contracts (ГК) — the minimum the stock ledger needs: who supplies what under which program
and funding, at what price, on which schedule. The request campaign comes in a later issue."""

from django.db import models
from django.db.models import F, Q

from llo.audit import tracked
from llo.models import FundingSource, Organization, Package, Program


class ContractStatus(models.TextChoices):
    ACTIVE = "active", "исполняется"
    FULFILLED = "fulfilled", "исполнен"
    TERMINATED = "terminated", "расторгнут"


@tracked()
class StateContract(models.Model):
    number = models.CharField("номер контракта", max_length=50)
    registry_number = models.CharField("реестровый номер в ЕИС", max_length=19, blank=True)
    purchase_code = models.CharField("ИКЗ", max_length=36, blank=True)
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="supplier_contracts",
                                 verbose_name="поставщик", limit_choices_to={"kind": "supplier"})
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="customer_contracts",
                                 verbose_name="заказчик")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="contracts", verbose_name="программа")
    funding_source = models.CharField("источник финансирования", max_length=1, choices=FundingSource.choices)
    signed_on = models.DateField("дата заключения")
    valid_to = models.DateField("срок действия")
    status = models.CharField("состояние", max_length=12, choices=ContractStatus.choices,
                              default=ContractStatus.ACTIVE)

    class Meta:
        verbose_name = "государственный контракт"
        verbose_name_plural = "государственные контракты"
        constraints = [
            models.UniqueConstraint(fields=["supplier", "number"], name="contract_number_per_supplier"),
            models.UniqueConstraint(fields=["registry_number"], condition=~Q(registry_number=""),
                                    name="contract_registry_number_unique"),
            models.CheckConstraint(condition=Q(registry_number="") | Q(registry_number__regex=r"^\d{19}$"),
                                   name="contract_registry_number_digits"),
            models.CheckConstraint(condition=Q(purchase_code="") | Q(purchase_code__regex=r"^\d{36}$"),
                                   name="contract_purchase_code_digits"),
            models.CheckConstraint(condition=Q(valid_to__gte=F("signed_on")), name="contract_dates_ordered"),
        ]

    def __str__(self) -> str:
        return f"ГК № {self.number} от {self.signed_on:%d.%m.%Y}"


@tracked()
class ContractItem(models.Model):
    contract = models.ForeignKey(StateContract, on_delete=models.PROTECT, related_name="items",
                                 verbose_name="контракт")
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="contract_items",
                                verbose_name="упаковка")
    quantity = models.PositiveIntegerField("количество, упак.")
    price = models.DecimalField("цена за упаковку с НДС, ₽", max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = "позиция контракта"
        verbose_name_plural = "позиции контракта"
        constraints = [
            models.UniqueConstraint(fields=["contract", "package"], name="contract_item_package_once"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="contract_item_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gte=0), name="contract_item_price_not_negative"),
        ]


class ContractDelivery(models.Model):
    """One stage of the delivery schedule of an item."""

    item = models.ForeignKey(ContractItem, on_delete=models.CASCADE, related_name="schedule", verbose_name="позиция")
    due_on = models.DateField("поставить до")
    quantity = models.PositiveIntegerField("количество, упак.")

    class Meta:
        verbose_name = "этап поставки"
        verbose_name_plural = "график поставки"
        ordering = ["due_on"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="delivery_quantity_positive")]
