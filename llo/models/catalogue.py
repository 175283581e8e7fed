"""The drug catalogue, modelled on ЕСКЛП: INN → standardized drug → trade name → package.

Medical devices and special nutrition sit in the same tree: their «INN» is the grouping name
and their standardized node has no dosage. Records come from NSI dictionaries (`source` is
the dictionary's OID, `nsi_code` the record's key in it); the ministry curates flags on top,
and a flag it set by hand is listed in `curated_fields`, which later imports leave alone.
"""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Collate, Lower

from .dated import Dated, touch_children_trigger
from .reference import Route, Unit, reference_tracked


class ProductKind(models.TextChoices):
    DRUG = "drug", "Лекарственный препарат"
    DEVICE = "device", "Медицинское изделие"
    NUTRITION = "nutrition", "Специализированное питание"


class ControlList(models.TextChoices):
    """Lists of narcotic and psychotropic substances (Resolution 681). List II drugs are
    prescribed for at most 15 days (except transdermal systems)."""

    NONE = "", "—"
    NARCOTIC_II = "narcotic_ii", "Список II, наркотические"
    PSYCHOTROPIC_II = "psychotropic_ii", "Список II, психотропные"
    PSYCHOTROPIC_III = "psychotropic_iii", "Список III, психотропные"


LIST_II = frozenset({ControlList.NARCOTIC_II, ControlList.PSYCHOTROPIC_II})


def name_indexes(prefix: str) -> list:
    """Name search (llo/reference/search.py): the trigram index serves «contains» (ILIKE) and
    «similar» (`<%`); the btree on the lower-cased name in byte order reads names starting with
    two letters in order, without sorting the thousands that may qualify."""
    return [
        GinIndex(fields=["name"], opclasses=["gin_trgm_ops"], name=f"{prefix}_name_trgm"),
        models.Index(Collate(Lower("name"), "C"), name=f"{prefix}_name_lower"),
    ]


@reference_tracked
class Inn(Dated):
    """An international nonproprietary name (МНН), or the grouping name of a device or nutrition."""

    name = models.CharField("наименование", max_length=500, unique=True)

    class Meta(Dated.Meta):
        verbose_name = "МНН / группировочное наименование"
        verbose_name_plural = "МНН"
        ordering = ["name"]
        indexes = name_indexes("inn")
        triggers = Dated.Meta.triggers + [touch_children_trigger("republish_drugs", "llo_standardizeddrug", "inn_id")]

    def __str__(self) -> str:
        return self.name


@reference_tracked
class StandardizedDrug(Dated):
    """A standardized drug (the «Узел СМНН», NSI 99.2.611): INN + dosage form + dosage; for devices
    (99.2.604) and nutrition (99.2.603), the catalogue position. Program lists name these."""

    kind = models.CharField("вид", max_length=16, choices=ProductKind.choices, default=ProductKind.DRUG)
    source = models.CharField("справочник НСИ (OID)", max_length=64)
    nsi_code = models.CharField("код в справочнике", max_length=50)
    inn = models.ForeignKey(Inn, on_delete=models.PROTECT, related_name="drugs", verbose_name="МНН")
    dosage_form = models.CharField("лекарственная форма", max_length=300, blank=True)
    dosage = models.CharField("дозировка", max_length=200, blank=True)
    atc_code = models.CharField("код АТХ", max_length=7, blank=True)
    control_list = models.CharField(
        "список НС и ПВ", max_length=20, choices=ControlList.choices, blank=True, default=ControlList.NONE
    )
    route = models.ForeignKey(
        Route, on_delete=models.PROTECT, null=True, blank=True, related_name="drugs", verbose_name="путь введения"
    )
    curated_fields = ArrayField(models.CharField(max_length=40), default=list, blank=True, editable=False)

    class Meta(Dated.Meta):
        verbose_name = "стандартизованное наименование"
        verbose_name_plural = "стандартизованные наименования"
        ordering = ["inn__name", "dosage_form", "dosage"]
        constraints = Dated.Meta.constraints + [
            models.UniqueConstraint(fields=["source", "nsi_code"], name="drug_nsi_key_unique"),
            models.CheckConstraint(condition=Q(kind__in=ProductKind.values), name="drug_kind_known"),
            models.CheckConstraint(condition=Q(control_list__in=ControlList.values), name="drug_control_list_known"),
            models.CheckConstraint(
                condition=Q(atc_code="") | Q(atc_code__regex=r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"),
                name="drug_atc_code_shape",
            ),
        ]
        triggers = Dated.Meta.triggers + [touch_children_trigger("republish_trade_names", "llo_tradename", "drug_id")]

    def __str__(self) -> str:
        return " ".join(part for part in (self.inn.name, self.dosage_form, self.dosage) if part)

    @property
    def is_list_ii(self) -> bool:
        return self.control_list in LIST_II


@reference_tracked
class TradeName(Dated):
    """A trade name of one standardized drug (the ЛП level of ЕСКЛП)."""

    drug = models.ForeignKey(StandardizedDrug, on_delete=models.PROTECT, related_name="trade_names", verbose_name="СМНН")
    name = models.CharField("торговое наименование", max_length=500)

    class Meta(Dated.Meta):
        verbose_name = "торговое наименование"
        verbose_name_plural = "торговые наименования"
        ordering = ["name"]
        constraints = Dated.Meta.constraints + [
            models.UniqueConstraint(fields=["drug", "name"], name="trade_name_unique_per_drug"),
        ]
        indexes = name_indexes("trade_name")
        triggers = Dated.Meta.triggers + [touch_children_trigger("republish_packages", "llo_package", "trade_name_id")]

    def __str__(self) -> str:
        return self.name


@reference_tracked
class Package(Dated):
    """A consumer pack (КЛП): what a pharmacy receives, stores and dispenses."""

    source = models.CharField("справочник НСИ (OID)", max_length=64)
    nsi_code = models.CharField("код КЛП", max_length=50)
    trade_name = models.ForeignKey(TradeName, on_delete=models.PROTECT, related_name="packages", verbose_name="ТН")
    gtin = models.CharField("GTIN", max_length=14, null=True, blank=True, db_index=True)
    pack_quantity = models.DecimalField("количество в упаковке", max_digits=12, decimal_places=3)
    pack_unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="packages", verbose_name="единица")
    pack_description = models.CharField("описание упаковки", max_length=500, blank=True)
    manufacturer = models.CharField("производитель", max_length=500)
    manufacturer_country = models.CharField("страна производителя", max_length=100, blank=True)
    registration_certificate = models.CharField("регистрационное удостоверение", max_length=100)
    is_marked = models.BooleanField("подлежит маркировке", default=True)
    is_jnvlp = models.BooleanField("ЖНВЛП", default=False)
    price_cap = models.DecimalField(
        "предельная цена производителя, руб.", max_digits=12, decimal_places=2, null=True, blank=True
    )
    curated_fields = ArrayField(models.CharField(max_length=40), default=list, blank=True, editable=False)

    class Meta(Dated.Meta):
        verbose_name = "упаковка"
        verbose_name_plural = "упаковки"
        ordering = ["trade_name__name", "pack_quantity"]
        constraints = Dated.Meta.constraints + [
            models.UniqueConstraint(fields=["source", "nsi_code"], name="package_nsi_key_unique"),
            models.CheckConstraint(condition=Q(gtin__regex=r"^\d{14}$"), name="package_gtin_14_digits"),
            models.CheckConstraint(condition=Q(is_marked=False) | Q(gtin__isnull=False), name="package_marked_has_gtin"),
            models.CheckConstraint(condition=Q(pack_quantity__gt=0), name="package_quantity_positive"),
            models.CheckConstraint(
                condition=Q(price_cap__isnull=True) | (Q(is_jnvlp=True) & Q(price_cap__gt=0)),
                name="package_price_cap_only_jnvlp",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trade_name.name}, {self.pack_description or self.pack_quantity}"
