"""The register of rejected series (recalls): a series Roszdravnadzor or the manufacturer
withdrew may be neither received, shipped nor dispensed; where it lies is listed for write-off."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from llo.audit import audit_context
from llo.errors import ConflictError, ValidationFailed
from llo.models import Package, Role
from llo.roles import has_role

from . import selectors
from .models import RecalledSeries

RECALL_ROLES = frozenset({Role.MINISTRY_ADMIN, Role.WAREHOUSE_CLERK})


def recall_register(*, user, package: Package, series: str, letter: str, recalled_on: date) -> list[dict]:
    """Register a recall; returns where the series is in stock now (to be written off)."""
    if not has_role(user, RECALL_ROLES):
        raise ValidationFailed("Забракованные серии вносят министерство или склад", code="recall.not_allowed")
    if not series.strip() or not letter.strip():
        raise ValidationFailed("Укажите серию и основание (письмо Росздравнадзора)", code="recall.incomplete")
    if recalled_on > timezone.localdate():
        raise ValidationFailed("Дата письма в будущем", code="recall.date_in_future")
    try:
        with transaction.atomic(), audit_context(user=user, action="recall.register"):
            RecalledSeries.objects.create(package=package, series=series.strip(), letter=letter.strip(),
                                          recalled_on=recalled_on)
    except IntegrityError:
        raise ConflictError(f"Серия {series} уже забракована", code="recall.exists") from None
    return [row for row in selectors.stock(package_id=package.pk) if row["series"] == series.strip()]


def recall_lift(*, user, recall: RecalledSeries) -> None:
    if not has_role(user, {Role.MINISTRY_ADMIN}):
        raise ValidationFailed("Снять отметку о браке может только министерство", code="recall.not_allowed")
    with transaction.atomic(), audit_context(user=user, action="recall.lift"):
        RecalledSeries.objects.filter(pk=recall.pk).update(is_active=False)
