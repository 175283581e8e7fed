"""Programs of subsidized drug provision with their funding and dated lists.

A list row (a drug, a category, an ICD-10 code on a program) is itself dated; the database
refuses two rows of one list whose periods overlap, so "is it on the list on date D" has one
answer.
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeBoundary, RangeOperators
from django.db import models
from django.db.models import Func, Q

from .catalogue import StandardizedDrug
from .dated import Dated, touch_parent_trigger
from .reference import BenefitCategory, Diagnosis, reference_tracked


class ProgramKind(models.TextChoices):
    ONLP = "onlp", "ОНЛП (федеральные льготники, набор социальных услуг)"
    VZN = "vzn", "14 высокозатратных нозологий"
    REGIONAL_CATEGORY = "regional_category", "Региональная льгота по категории"
    REGIONAL_DISEASE = "regional_disease", "Региональная льгота по заболеванию (ПП 890)"
    KRUG_DOBRA = "krug_dobra", "Фонд «Круг добра»"
    OTHER = "other", "Иная программа"


class FundingSource(models.TextChoices):
    """Printed on the prescription as a digit."""

    FEDERAL = "1", "Федеральный бюджет"
    REGIONAL = "2", "Бюджет субъекта РФ"
    MUNICIPAL = "3", "Муниципальный бюджет"


class PaymentShare(models.TextChoices):
    """Printed on the prescription as a digit; the percent is on the program."""

    FREE = "1", "Бесплатно (100 %)"
    HALF = "2", "50 %"
    OTHER = "3", "Иной процент"


@reference_tracked
class Program(Dated):
    code = models.CharField("код", max_length=20, unique=True)
    name = models.CharField("наименование", max_length=500)
    kind = models.CharField("вид", max_length=24, choices=ProgramKind.choices)
    funding_source = models.CharField("источник финансирования", max_length=1, choices=FundingSource.choices)
    payment_share = models.CharField("размер оплаты", max_length=1, choices=PaymentShare.choices)
    payment_percent = models.DecimalField("процент оплаты", max_digits=5, decimal_places=2)
    requires_diagnosis = models.BooleanField(
        "только по диагнозам из перечня", default=False,
        help_text="Для программ по заболеваниям: рецепт выписывается только с кодом МКБ-10 из перечня программы.",
    )
    basis = models.CharField("нормативное основание", max_length=500, blank=True)

    class Meta(Dated.Meta):
        verbose_name = "программа ЛЛО"
        verbose_name_plural = "программы ЛЛО"
        ordering = ["code"]
        constraints = Dated.Meta.constraints + [
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z0-9_-]{2,20}$"), name="program_code_shape"),
            models.CheckConstraint(condition=Q(kind__in=ProgramKind.values), name="program_kind_known"),
            models.CheckConstraint(condition=Q(funding_source__in=FundingSource.values), name="program_funding_known"),
            models.CheckConstraint(
                condition=(Q(payment_share="1", payment_percent=100) | Q(payment_share="2", payment_percent=50)
                           | Q(payment_share="3", payment_percent__gt=0, payment_percent__lt=100)),
                name="program_percent_matches_share",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DateRange(Func):
    function = "daterange"
    output_field = DateRangeField()


def _no_overlap(item: str, name: str) -> ExclusionConstraint:
    """One list row per (program, item) on any date; NULL `valid_to` is an open end."""
    return ExclusionConstraint(
        name=name,
        expressions=[
            ("program", RangeOperators.EQUAL),
            (item, RangeOperators.EQUAL),
            (DateRange("valid_from", "valid_to", RangeBoundary(inclusive_lower=True, inclusive_upper=True)),
             RangeOperators.OVERLAPS),
        ],
    )


class ProgramListRow(Dated):
    """A dated row of one of a program's lists; a change of it re-publishes the program."""

    basis = models.CharField("основание (приказ, протокол)", max_length=300, blank=True)

    class Meta(Dated.Meta):
        abstract = True
        triggers = Dated.Meta.triggers + [touch_parent_trigger("republish_program", "llo_program", "program_id")]


@reference_tracked
class ProgramDrug(ProgramListRow):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="drug_rows", verbose_name="программа")
    drug = models.ForeignKey(StandardizedDrug, on_delete=models.PROTECT, related_name="program_rows", verbose_name="СМНН")

    class Meta(ProgramListRow.Meta):
        verbose_name = "позиция перечня программы"
        verbose_name_plural = "перечни препаратов программ"
        constraints = Dated.Meta.constraints + [_no_overlap("drug", "program_drug_no_overlap")]


@reference_tracked
class ProgramCategory(ProgramListRow):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="category_rows", verbose_name="программа")
    category = models.ForeignKey(
        BenefitCategory, on_delete=models.PROTECT, related_name="program_rows", verbose_name="категория"
    )

    class Meta(ProgramListRow.Meta):
        verbose_name = "категория программы"
        verbose_name_plural = "категории программ"
        constraints = Dated.Meta.constraints + [_no_overlap("category", "program_category_no_overlap")]


@reference_tracked
class ProgramDiagnosis(ProgramListRow):
    """An ICD-10 node allowed by a disease-based program; it covers the node's whole subtree."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="diagnosis_rows", verbose_name="программа")
    diagnosis = models.ForeignKey(Diagnosis, on_delete=models.PROTECT, related_name="program_rows", verbose_name="МКБ-10")

    class Meta(ProgramListRow.Meta):
        verbose_name = "диагноз программы"
        verbose_name_plural = "диагнозы программ"
        constraints = Dated.Meta.constraints + [_no_overlap("diagnosis", "program_diagnosis_no_overlap")]
