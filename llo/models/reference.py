"""Reference books of the region: units, routes, prescription validity, benefit categories, ICD-10.

Each is loaded from its federal NSI dictionary (the OID in the docstring) by its `nsi_code`
and never deleted: a record that leaves the dictionary is retired (`valid_to`).
"""

from django.db import models
from django.db.models import Q

from llo.audit import tracked

from .dated import Dated

def reference_tracked(model):
    """Audited, except the publication version that triggers renumber on every change."""
    return tracked(exclude=["sync_version"])(model)


class NsiCoded(Dated):
    nsi_code = models.CharField("код НСИ", max_length=50, unique=True)
    name = models.CharField("наименование", max_length=500)

    class Meta(Dated.Meta):
        abstract = True

    def __str__(self) -> str:
        return self.name


@reference_tracked
class Unit(NsiCoded):
    """Units of measure (NSI 1.2.643.5.1.13.13.11.1358)."""

    short_name = models.CharField("сокращение", max_length=50)

    class Meta(NsiCoded.Meta):
        verbose_name = "единица измерения"
        verbose_name_plural = "единицы измерения"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.short_name


@reference_tracked
class Route(NsiCoded):
    """Routes of administration (NSI 1.2.643.5.1.13.13.11.1468)."""

    class Meta(NsiCoded.Meta):
        verbose_name = "путь введения"
        verbose_name_plural = "пути введения"
        ordering = ["name"]


@reference_tracked
class ValidityPeriod(NsiCoded):
    """Prescription validity values (NSI 1.2.643.5.1.13.13.99.2.608)."""

    days = models.PositiveIntegerField("дней", null=True, blank=True)

    class Meta(NsiCoded.Meta):
        verbose_name = "срок действия рецепта"
        verbose_name_plural = "сроки действия рецепта"
        ordering = ["days", "name"]


@reference_tracked
class NsiBenefitCategory(NsiCoded):
    """The federal NSI list «Льготные категории граждан» (1.2.643.5.1.13.13.99.2.541), as published."""

    class Meta(NsiCoded.Meta):
        verbose_name = "льготная категория НСИ"
        verbose_name_plural = "льготные категории НСИ (99.2.541)"
        ordering = ["nsi_code"]

    def __str__(self) -> str:
        return f"{self.nsi_code} {self.name}"


@reference_tracked
class BenefitCategory(Dated):
    """A benefit category by its federal 3-digit code (printed on prescriptions), mapped to the
    NSI list entry that codes the same category differently (used in СЭМД and federal exchanges)."""

    federal_code = models.CharField("федеральный код", max_length=3, unique=True)
    name = models.CharField("наименование", max_length=500)
    nsi_category = models.ForeignKey(
        NsiBenefitCategory, on_delete=models.PROTECT, null=True, blank=True, related_name="federal_categories",
        verbose_name="категория НСИ 99.2.541",
    )

    class Meta(Dated.Meta):
        verbose_name = "льготная категория"
        verbose_name_plural = "льготные категории"
        ordering = ["federal_code"]
        constraints = Dated.Meta.constraints + [
            models.CheckConstraint(condition=Q(federal_code__regex=r"^\d{3}$"), name="category_code_3_digits"),
        ]

    def __str__(self) -> str:
        return f"{self.federal_code} {self.name}"


@reference_tracked
class Diagnosis(NsiCoded):
    """ICD-10 (NSI 1.2.643.5.1.13.13.11.1005) as a tree: chapter → block → category → subcategory."""

    code = models.CharField("код МКБ-10", max_length=20, db_index=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name="раздел"
    )

    class Meta(NsiCoded.Meta):
        verbose_name = "диагноз МКБ-10"
        verbose_name_plural = "МКБ-10"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
