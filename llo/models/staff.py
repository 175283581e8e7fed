from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from llo.audit import tracked

from .organizations import Organization


class Role(models.TextChoices):
    DOCTOR = "doctor", "Врач"
    MO_DRUG_OFFICER = "mo_drug_officer", "Ответственный за ЛЛО в МО"
    PHARMACIST = "pharmacist", "Провизор"
    WAREHOUSE_CLERK = "warehouse_clerk", "Сотрудник регионального склада"
    MINISTRY_ANALYST = "ministry_analyst", "Аналитик министерства"
    MINISTRY_ADMIN = "ministry_admin", "Администратор министерства"
    MIS_CLIENT = "mis_client", "Информационная система МО (API)"
    SYSTEM_ADMIN = "system_admin", "Системный администратор"


@tracked(exclude=["password", "last_login"])
class User(AbstractUser):
    """A person (or a MIS) acting for one organization in one role."""

    patronymic = models.CharField("отчество", max_length=150, blank=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="users", verbose_name="организация"
    )
    role = models.CharField("роль", max_length=32, choices=Role.choices, blank=True)
    position = models.CharField("должность", max_length=200, blank=True)

    class Meta:
        verbose_name = "пользователь"
        verbose_name_plural = "пользователи"
        constraints = [
            models.CheckConstraint(condition=Q(role__in=[*Role.values, ""]), name="user_role_known"),
            # Everyone but a bootstrap superuser acts for an organization in a role.
            models.CheckConstraint(
                condition=Q(is_superuser=True) | (Q(organization__isnull=False) & ~Q(role="")),
                name="user_acts_for_organization",
            ),
        ]

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.patronymic) if p) or self.username

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else ""


@tracked()
class Doctor(models.Model):
    """A medical worker who writes prescriptions (ФРМР record); may or may not have a login."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="doctors", verbose_name="МО",
        limit_choices_to={"kind": "medical_org"},
    )
    subdivision = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="subdivision_doctors",
        verbose_name="подразделение", limit_choices_to={"kind": "mo_subdivision"},
    )
    user = models.OneToOneField(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="doctor", verbose_name="пользователь"
    )
    last_name = models.CharField("фамилия", max_length=150)
    first_name = models.CharField("имя", max_length=150)
    patronymic = models.CharField("отчество", max_length=150, blank=True)
    snils = models.CharField("СНИЛС", max_length=11, unique=True)
    code = models.CharField("код врача", max_length=20)
    position = models.CharField("должность", max_length=200)
    may_prescribe_subsidized = models.BooleanField("право выписки льготных рецептов", default=False)
    employed_from = models.DateField("работает с")
    employed_to = models.DateField("работает по", null=True, blank=True)

    class Meta:
        verbose_name = "врач"
        verbose_name_plural = "врачи"
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="doctor_code_unique_in_mo"),
            models.CheckConstraint(condition=Q(snils__regex=r"^\d{11}$"), name="doctor_snils_digits"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.patronymic) if p)


@tracked(exclude=["last_used_at"])
class ApiToken(models.Model):
    """A MIS client's key. Only a SHA-256 digest is stored; the key is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name="пользователь")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="api_tokens", verbose_name="организация"
    )
    name = models.CharField("назначение", max_length=200)
    prefix = models.CharField("начало ключа", max_length=8)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField("выдан", auto_now_add=True)
    last_used_at = models.DateTimeField("последнее использование", null=True, blank=True)
    revoked_at = models.DateTimeField("отозван", null=True, blank=True)

    class Meta:
        verbose_name = "API-ключ"
        verbose_name_plural = "API-ключи"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"
