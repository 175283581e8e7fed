import pghistory
import pgtrigger
from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Ожидает отправки"
    PROCESSING = "processing", "Обрабатывается"
    DONE = "done", "Выполнено"
    DEAD = "dead", "Не доставлено"


# Workers update messages constantly, so only the human act is audited: a re-send
# (dead/done -> pending), with the acting user in its context.
@pghistory.track(
    pghistory.UpdateEvent(
        "resend", condition=pgtrigger.Q(old__status__in=["dead", "done"], new__status="pending")
    ),
    fields=["status", "attempts", "last_error"],
    model_name="OutboxResendEvent",
)
class OutboxMessage(models.Model):
    """A message to the outside world (or to a higher app), written with the business change."""

    topic = models.CharField("тема", max_length=100)
    key = models.CharField("ключ идемпотентности", max_length=200, unique=True)
    payload = models.JSONField("содержимое")
    status = models.CharField("статус", max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField("попыток", default=0)
    available_at = models.DateTimeField("следующая попытка", default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True)
    last_error = models.TextField("последняя ошибка", blank=True)
    result = models.JSONField("результат", null=True, blank=True)
    created_at = models.DateTimeField("создано", default=timezone.now)
    processed_at = models.DateTimeField("обработано", null=True, blank=True)

    class Meta:
        verbose_name = "сообщение outbox"
        verbose_name_plural = "сообщения outbox"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=OutboxStatus.values), name="outbox_status_known"),
        ]
        indexes = [
            # The dispatcher's only query: due pending messages, oldest first.
            models.Index(
                fields=["available_at", "id"], condition=Q(status="pending"), name="outbox_due_idx"
            ),
            models.Index(fields=["claimed_at"], condition=Q(status="processing"), name="outbox_processing_idx"),
            models.Index(fields=["topic", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.key} ({self.status})"
