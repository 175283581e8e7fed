"""Reads of the core for pages and the API."""

from functools import cache

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from .models import (
    ApiToken,
    Doctor,
    Organization,
    OutboxMessage,
    OutboxStatus,
    PharmacyAttachment,
    Region,
)


@cache
def region_of(region_id: int) -> Region:
    """A region (code, name) is fixed while the system runs: read once per process on hot paths."""
    return Region.objects.get(pk=region_id)


def current_attachments(*, on=None) -> QuerySet[PharmacyAttachment]:
    on = on or timezone.localdate()
    return PharmacyAttachment.objects.filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=on), valid_from__lte=on
    ).select_related("medical_org", "dispensing_point", "dispensing_point__parent")


def attachments_of(org: Organization) -> QuerySet[PharmacyAttachment]:
    """Today's attachments seen from either side (an MO and its points, or a point and its MOs)."""
    entity = org.legal_entity_id
    if org.kind in ("medical_org", "mo_subdivision"):
        return current_attachments().filter(medical_org_id=entity).order_by("dispensing_point__short_name")
    if org.kind == "dispensing_point":
        return current_attachments().filter(dispensing_point=org).order_by("medical_org__short_name")
    if org.kind == "pharmacy_org":
        return current_attachments().filter(dispensing_point__parent=org).order_by("dispensing_point__short_name")
    return PharmacyAttachment.objects.none()


def organizations_search(organizations: QuerySet[Organization], *, kind: str = "", q: str = "") -> QuerySet[Organization]:
    """Filter what the caller may see by kind and by name, ОГРН, ИНН or code."""
    if kind:
        organizations = organizations.filter(kind=kind)
    q = q.strip()
    if q:
        organizations = organizations.filter(
            Q(name__icontains=q) | Q(short_name__icontains=q) | Q(ogrn=q) | Q(inn=q) | Q(code__iexact=q)
        )
    return organizations.order_by("kind", "short_name", "id")


def outbox_search(messages: QuerySet[OutboxMessage], *, status: str = "", topic: str = "") -> QuerySet[OutboxMessage]:
    if status:
        messages = messages.filter(status=status)
    if topic.strip():
        messages = messages.filter(topic=topic.strip())
    return messages


def organization_counts(organizations: QuerySet[Organization]) -> list[dict]:
    return list(organizations.order_by().values("kind").annotate(n=Count("id")).order_by("kind"))


def doctors_of(org: Organization) -> QuerySet[Doctor]:
    if org.kind == "medical_org":
        return Doctor.objects.filter(organization=org).select_related("subdivision")
    if org.kind == "mo_subdivision":
        return Doctor.objects.filter(subdivision=org).select_related("subdivision")
    return Doctor.objects.none()


def outbox_summary() -> dict[str, int]:
    counts = dict(OutboxMessage.objects.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in OutboxStatus.values}


def tokens_of(user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")
