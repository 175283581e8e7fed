import itertools
from datetime import date

import factory

from llo import services
from llo.models import Organization, Region, Role
from llo.models.organizations import OrganizationKind as K
from llo.validators import inn10_complete, ogrn_complete, snils_complete

_seq = itertools.count(1)


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = "98"
    name = "Тестовая область"


def organization(kind: str, *, parent: Organization | None = None, region: Region | None = None, **extra) -> Organization:
    """An organization created through the service, with valid identifiers."""
    n = next(_seq)
    region = region or (parent.region if parent else RegionFactory())
    ids = {} if kind in (K.MO_SUBDIVISION, K.DISPENSING_POINT) else {
        "ogrn": ogrn_complete(f"1029800{n:05d}"),
        "inn": inn10_complete(f"9800{n:05d}"),
    }
    return services.organization_create(
        region=region, kind=kind, parent=parent,
        code=extra.pop("code", f"{90000 + n}" if kind == K.MEDICAL_ORG else f"T{n:05d}"),  # MO codes: 5 digits
        name=extra.pop("name", f"Тестовая организация {n}"), **ids, **extra,
    )


def user(role: str, org: Organization, *, username: str | None = None, password: str = "Test-pass-2026"):
    n = next(_seq)
    return services.user_create(
        username=username or f"{role}_{n}", organization=org, role=role,
        last_name="Тестов", first_name=f"Пользователь{n}", password=password,
    )


def doctor(org: Organization, **extra):
    n = next(_seq)
    return services.doctor_create(
        organization=org, last_name="Врачова", first_name="Анна", snils=snils_complete(f"{300000000 + n:09d}"),
        code=f"D{n:04d}", position="врач-терапевт", may_prescribe_subsidized=True,
        employed_from=date(2020, 1, 1), **extra,
    )


def mis_client(org: Organization):
    u = user(Role.MIS_CLIENT, org)
    token, key = services.api_token_issue(user=u, name="test")
    return u, token, key
