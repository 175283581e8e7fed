"""Access helpers: one per resource, each returning exactly what a user may see.

Views and API views fetch objects only through these; an object outside the returned
queryset answers 404, never 403, so another organization's ids reveal nothing.
"""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import Organization, OutboxMessage, PharmacyAttachment, User
from .models.organizations import OrganizationKind as K
from .roles import AUDIT_ROLES, CURATOR_ROLES, NSI_ROLES, OUTBOX_ROLES, REGION_WIDE_ROLES, has_role


def organizations_for(user) -> QuerySet[Organization]:
    """Ministry roles: the whole region. Everyone else: their legal entity with its units,
    plus the other side of today's MO ↔ dispensing point attachments."""
    qs = Organization.objects.select_related("parent", "region")
    if not (user and user.is_authenticated and user.organization_id):
        return qs.none()
    org = user.organization
    if has_role(user, REGION_WIDE_ROLES):
        return qs.filter(region_id=org.region_id)
    entity = org.legal_entity_id
    own = Q(pk=entity) | Q(parent_id=entity)
    today = timezone.localdate()
    current = PharmacyAttachment.objects.filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=today), valid_from__lte=today
    )
    if org.kind in (K.MEDICAL_ORG, K.MO_SUBDIVISION):
        linked = Q(pk__in=current.filter(medical_org_id=entity).values("dispensing_point_id"))
    elif org.kind in (K.PHARMACY_ORG, K.DISPENSING_POINT):
        points = Organization.objects.filter(Q(pk=entity) | Q(parent_id=entity)).values("pk")
        linked = Q(pk__in=current.filter(dispensing_point_id__in=points).values("medical_org_id"))
    else:
        linked = Q(pk__in=[])
    return qs.filter(own | linked)


def staff_for(user) -> QuerySet[User]:
    """Users: ministry roles see the region's; others see their own legal entity's."""
    orgs = organizations_for(user)
    if not has_role(user, REGION_WIDE_ROLES):
        entity = user.organization.legal_entity_id if user and user.is_authenticated and user.organization_id else None
        orgs = orgs.filter(Q(pk=entity) | Q(parent_id=entity))
    return User.objects.filter(organization__in=orgs).select_related("organization")


def outbox_messages_for(user) -> QuerySet[OutboxMessage]:
    if not has_role(user, OUTBOX_ROLES):
        return OutboxMessage.objects.none()
    return OutboxMessage.objects.all()


def can_view_audit(user) -> bool:
    return has_role(user, AUDIT_ROLES)


def can_curate_reference(user) -> bool:
    """Reference data is one for the region: everyone reads it, the ministry's admins change it."""
    return has_role(user, CURATOR_ROLES)


def can_view_nsi_imports(user) -> bool:
    return has_role(user, NSI_ROLES)


def get_for(queryset: QuerySet, **lookup):
    """The one object of `queryset` or 404 (not 403: others' ids reveal nothing)."""
    return get_object_or_404(queryset, **lookup)
