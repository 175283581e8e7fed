"""Which federal NSI dictionaries the region loads, which version is in force, and each import run."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from llo.audit import tracked

from .staff import User


class ImportMode(models.TextChoices):
    AUTOMATIC = "auto", "Автоматически"
    MANUAL = "manual", "Вручную"


@tracked(exclude=["portal_version", "portal_checked_at", "portal_error"])
class NsiDictionary(models.Model):
    oid = models.CharField("OID", max_length=64, unique=True)
    name = models.CharField("наименование", max_length=300)
    load_order = models.PositiveSmallIntegerField("порядок загрузки", default=100)
    mode = models.CharField("режим обновления", max_length=8, choices=ImportMode.choices, default=ImportMode.MANUAL)
    loaded_version = models.CharField("загруженная версия", max_length=20, blank=True)
    loaded_at = models.DateTimeField("загружена", null=True, blank=True)
    portal_version = models.CharField("версия на портале", max_length=20, blank=True)
    portal_checked_at = models.DateTimeField("проверено на портале", null=True, blank=True)
    portal_error = models.CharField("ошибка проверки", max_length=1000, blank=True)

    class Meta:
        verbose_name = "справочник НСИ"
        verbose_name_plural = "справочники НСИ"
        ordering = ["load_order", "oid"]
        constraints = [models.CheckConstraint(condition=Q(mode__in=ImportMode.values), name="nsi_mode_known")]

    def __str__(self) -> str:
        return f"{self.name} ({self.oid})"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "В очереди"
    RUNNING = "running", "Выполняется"
    SUCCEEDED = "succeeded", "Загружено"
    FAILED = "failed", "Ошибка"


ACTIVE_RUN = Q(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])


class NsiImportRun(models.Model):
    """One attempt to bring a dictionary to a version. Live progress is kept in the cache."""

    dictionary = models.ForeignKey(NsiDictionary, on_delete=models.PROTECT, related_name="runs", verbose_name="справочник")
    version = models.CharField("версия", max_length=20, blank=True)
    status = models.CharField("статус", max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    source = models.CharField("способ загрузки", max_length=20, blank=True)
    requested_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="запросил"
    )
    requested_at = models.DateTimeField("запрошено", default=timezone.now)
    started_at = models.DateTimeField("начато", null=True, blank=True)
    finished_at = models.DateTimeField("завершено", null=True, blank=True)
    rows_total = models.PositiveIntegerField("записей в версии", default=0)
    added = models.PositiveIntegerField("добавлено", default=0)
    changed = models.PositiveIntegerField("изменено", default=0)
    retired = models.PositiveIntegerField("выведено из действия", default=0)
    tables = models.JSONField("изменения по таблицам", default=list, blank=True)
    error = models.TextField("ошибка", blank=True)
    error_rows = models.JSONField("ошибки в записях", default=list, blank=True)

    class Meta:
        verbose_name = "загрузка справочника НСИ"
        verbose_name_plural = "загрузки справочников НСИ"
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="nsi_run_status_known"),
            # one import of a dictionary at a time: a second click or a second worker is refused here
            models.UniqueConstraint(fields=["dictionary"], condition=ACTIVE_RUN, name="nsi_one_active_run"),
        ]
        indexes = [models.Index(fields=["dictionary", "-requested_at"])]

    def __str__(self) -> str:
        return f"{self.dictionary.oid} {self.version} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (RunStatus.QUEUED, RunStatus.RUNNING)
