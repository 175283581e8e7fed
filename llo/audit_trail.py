"""Reading the audit trail (selectors): events of one object, recent events, names resolved."""

from django.db.models import QuerySet
from django.urls import reverse
from pghistory.models import Events

from .models import Organization, User

LABELS = {"insert": "создание", "update": "изменение", "delete": "удаление", "resend": "повторная отправка"}


def _annotate(events: list) -> list:
    """Resolve context user and organization ids to names in two queries for the whole page."""
    contexts = [e.pgh_context or {} for e in events]
    users = User.objects.in_bulk({c.get("user") for c in contexts if c.get("user")})
    orgs = Organization.objects.in_bulk({c.get("organization") for c in contexts if c.get("organization")})
    for event, ctx in zip(events, contexts):
        event.actor = users.get(ctx.get("user"))
        event.actor_org = orgs.get(ctx.get("organization"))
        event.ctx = ctx
        event.reference = ctx.get("request_id") or ctx.get("task_id") or ctx.get("source") or ""
        event.obj_url = _object_history_url(event.pgh_obj_model, event.pgh_obj_id)
        event.label_ru = LABELS.get(event.pgh_label, event.pgh_label)
        diff = event.pgh_diff or {}
        event.changes = sorted((field, values[0], values[1]) for field, values in diff.items())
    return events


def _object_history_url(model_label: str | None, pk) -> str:
    if not model_label or pk is None:
        return ""
    app_label, _, model_name = model_label.partition(".")
    return reverse("audit_object", args=[app_label, model_name.lower(), pk])


def events_for_object(obj) -> list:
    return _annotate(list(Events.objects.tracks(obj).order_by("-pgh_created_at", "-pgh_id")))


def recent_events(*, model_label: str = "") -> "EventList":
    """Newest events across every tracked table, optionally of one model (`app.Model`)."""
    qs = Events.objects.all()
    if model_label:
        qs = qs.filter(pgh_obj_model=model_label)
    return EventList(qs.order_by("-pgh_created_at"))


class EventList:
    """A lazily sliced, annotated view of the events queryset, for Paginator."""

    def __init__(self, queryset: QuerySet):
        self.queryset = queryset

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item):
        return _annotate(list(self.queryset[item]))
