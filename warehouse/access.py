"""Access helpers of the stock resources besides documents (`documents.documents_for`): storage
addresses and transport packs (SSCC boxes). A clerk or pharmacist sees their place's, the ministry
every place's; anything else is outside the queryset and answers 404."""

from __future__ import annotations

from django.db.models import QuerySet

from llo.roles import has_role

from .documents import READ_ALL_ROLES, STOCK_ROLES
from .models import StorageAddress, TransportPack


def _of_place(user, queryset: QuerySet) -> QuerySet:
    if has_role(user, READ_ALL_ROLES):
        return queryset
    if has_role(user, STOCK_ROLES) and user.organization_id:
        return queryset.filter(place_id=user.organization_id)
    return queryset.none()


def addresses_for(user) -> QuerySet[StorageAddress]:
    return _of_place(user, StorageAddress.objects.all())


def boxes_for(user) -> QuerySet[TransportPack]:
    return _of_place(user, TransportPack.objects.select_related("place"))
