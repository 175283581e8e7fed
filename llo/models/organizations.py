from django.db import models
from django.db.models import Q

from llo.audit import tracked


@tracked()
class Region(models.Model):
    code = models.CharField("код субъекта", max_length=2, unique=True)
    name = models.CharField("наименование", max_length=200)

    class Meta:
        verbose_name = "регион"
        verbose_name_plural = "регионы"
        constraints = [models.CheckConstraint(condition=Q(code__regex=r"^\d{2}$"), name="region_code_2_digits")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class OrganizationKind(models.TextChoices):
    MINISTRY = "ministry", "Министерство здравоохранения"
    MUNICIPAL_AUTHORITY = "municipal_authority", "Муниципальный орган здравоохранения"
    MEDICAL_ORG = "medical_org", "Медицинская организация"
    MO_SUBDIVISION = "mo_subdivision", "Подразделение МО"
    PHARMACY_ORG = "pharmacy_org", "Аптечная организация"
    DISPENSING_POINT = "dispensing_point", "Пункт отпуска"
    REGIONAL_WAREHOUSE = "regional_warehouse", "Региональный склад"
    SUPPLIER = "supplier", "Поставщик"


K = OrganizationKind

# Which kind may sit under which; None means "top level". A subdivision or a dispensing point
# is a unit of its legal entity (its parent) and shares its ОГРН and ИНН.
ALLOWED_PARENTS: dict[str, set[str | None]] = {
    K.MINISTRY: {None},
    K.MUNICIPAL_AUTHORITY: {K.MINISTRY},
    K.MEDICAL_ORG: {None, K.MINISTRY, K.MUNICIPAL_AUTHORITY},
    K.MO_SUBDIVISION: {K.MEDICAL_ORG},
    K.PHARMACY_ORG: {None},
    K.DISPENSING_POINT: {K.PHARMACY_ORG},
    K.REGIONAL_WAREHOUSE: {None},
    K.SUPPLIER: {None},
}
UNIT_KINDS = {K.MO_SUBDIVISION, K.DISPENSING_POINT}


@tracked()
class Organization(models.Model):
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="organizations", verbose_name="регион")
    kind = models.CharField("вид", max_length=32, choices=OrganizationKind.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name="вышестоящая"
    )
    code = models.CharField("код в системе", max_length=20, unique=True)
    name = models.CharField("полное наименование", max_length=500)
    short_name = models.CharField("краткое наименование", max_length=200)
    ogrn = models.CharField("ОГРН", max_length=15)
    inn = models.CharField("ИНН", max_length=12)
    kpp = models.CharField("КПП", max_length=9, blank=True)
    frmo_oid = models.CharField("OID ФРМО", max_length=100, null=True, blank=True)
    mdlp_place_id = models.CharField("ID места деятельности МДЛП", max_length=14, null=True, blank=True)
    address = models.CharField("адрес", max_length=500, blank=True)
    phone = models.CharField("телефон", max_length=50, blank=True)
    is_active = models.BooleanField("действует", default=True)

    class Meta:
        verbose_name = "организация"
        verbose_name_plural = "организации"
        ordering = ["kind", "short_name"]
        constraints = [
            models.CheckConstraint(condition=Q(ogrn__regex=r"^(\d{13}|\d{15})$"), name="org_ogrn_digits"),
            models.CheckConstraint(condition=Q(inn__regex=r"^(\d{10}|\d{12})$"), name="org_inn_digits"),
            models.CheckConstraint(condition=Q(mdlp_place_id__regex=r"^\d{14}$"), name="org_mdlp_place_14_digits"),
            models.CheckConstraint(condition=Q(kind__in=OrganizationKind.values), name="org_kind_known"),
            models.CheckConstraint(condition=~Q(parent=models.F("pk")), name="org_not_own_parent"),
            models.UniqueConstraint(fields=["frmo_oid"], name="org_frmo_oid_unique"),
            models.UniqueConstraint(fields=["mdlp_place_id"], name="org_mdlp_place_unique"),
        ]
        indexes = [models.Index(fields=["kind", "region"]), models.Index(fields=["ogrn"])]

    def __str__(self) -> str:
        return self.short_name

    @property
    def is_unit(self) -> bool:
        return self.kind in UNIT_KINDS

    @property
    def legal_entity_id(self) -> int:
        return self.parent_id if self.is_unit else self.pk

    @property
    def legal_entity(self) -> "Organization":
        return self.parent if self.is_unit else self


@tracked()
class PharmacyAttachment(models.Model):
    """A medical organization's patients are served at this dispensing point."""

    medical_org = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="pharmacy_attachments", verbose_name="МО"
    )
    dispensing_point = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="mo_attachments", verbose_name="пункт отпуска"
    )
    valid_from = models.DateField("действует с")
    valid_to = models.DateField("действует по", null=True, blank=True)

    class Meta:
        verbose_name = "прикрепление МО к пункту отпуска"
        verbose_name_plural = "прикрепления МО к пунктам отпуска"
        constraints = [
            models.UniqueConstraint(
                fields=["medical_org", "dispensing_point", "valid_from"], name="attachment_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="attachment_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.medical_org} → {self.dispensing_point}"
