"""Writes of the core: organizations, attachments, staff, API tokens."""

import secrets
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .api_auth import token_digest
from .errors import ValidationFailed
from .models import ApiToken, Doctor, Organization, PharmacyAttachment, Region, Role, User
from .models.organizations import ALLOWED_PARENTS, UNIT_KINDS
from .models.organizations import OrganizationKind as K
from .validators import validate_inn, validate_kpp, validate_mdlp_place_id, validate_ogrn, validate_oid, validate_snils


def _check(field: str, validator, value):
    try:
        return validator(value)
    except ValidationError as exc:
        raise ValidationFailed(exc.messages[0], code=f"organization.invalid_{field}", details={"field": field}) from None


def organization_create(
    *,
    region: Region,
    kind: str,
    code: str,
    name: str,
    short_name: str = "",
    parent: Organization | None = None,
    ogrn: str = "",
    inn: str = "",
    kpp: str = "",
    frmo_oid: str | None = None,
    mdlp_place_id: str | None = None,
    address: str = "",
) -> Organization:
    """Create an organization in its place in the hierarchy. A unit (MO subdivision, dispensing
    point) takes its legal entity's ОГРН and ИНН; its own КПП may differ."""
    if kind not in K.values:
        raise ValidationFailed(f"Неизвестный вид организации: {kind}", code="organization.unknown_kind")
    parent_kind = parent.kind if parent else None
    if parent_kind not in ALLOWED_PARENTS[kind]:
        raise ValidationFailed(
            f"«{K(kind).label}» не может входить в «{K(parent_kind).label if parent_kind else 'верхний уровень'}»",
            code="organization.bad_parent",
        )
    if parent and parent.region_id != region.pk:
        raise ValidationFailed("Вышестоящая организация из другого региона", code="organization.bad_parent")
    if kind in UNIT_KINDS:
        ogrn, inn = parent.ogrn, parent.inn
        kpp = kpp or parent.kpp
    org = Organization(
        region=region,
        kind=kind,
        parent=parent,
        code=code,
        name=name,
        short_name=short_name or name,
        ogrn=_check("ogrn", validate_ogrn, ogrn),
        inn=_check("inn", validate_inn, inn),
        kpp=_check("kpp", validate_kpp, kpp) if kpp else "",
        frmo_oid=_check("frmo_oid", validate_oid, frmo_oid) if frmo_oid else None,
        mdlp_place_id=_check("mdlp_place_id", validate_mdlp_place_id, mdlp_place_id) if mdlp_place_id else None,
        address=address,
    )
    org.full_clean()
    org.save()
    return org


def attachment_create(
    *, medical_org: Organization, dispensing_point: Organization, valid_from: date, valid_to: date | None = None
) -> PharmacyAttachment:
    if medical_org.kind != K.MEDICAL_ORG or dispensing_point.kind != K.DISPENSING_POINT:
        raise ValidationFailed(
            "Прикрепляется медицинская организация к пункту отпуска", code="attachment.bad_kinds"
        )
    attachment = PharmacyAttachment(
        medical_org=medical_org, dispensing_point=dispensing_point, valid_from=valid_from, valid_to=valid_to
    )
    attachment.full_clean()
    attachment.save()
    return attachment


ROLE_ORGANIZATION_KINDS = {
    Role.DOCTOR: {K.MEDICAL_ORG, K.MO_SUBDIVISION},
    Role.MO_DRUG_OFFICER: {K.MEDICAL_ORG},
    Role.PHARMACIST: {K.DISPENSING_POINT, K.PHARMACY_ORG},
    Role.WAREHOUSE_CLERK: {K.REGIONAL_WAREHOUSE},
    Role.MINISTRY_ANALYST: {K.MINISTRY, K.MUNICIPAL_AUTHORITY},
    Role.MINISTRY_ADMIN: {K.MINISTRY},
    Role.MIS_CLIENT: {K.MEDICAL_ORG},
    Role.SYSTEM_ADMIN: {K.MINISTRY},
}


def user_create(
    *,
    username: str,
    organization: Organization,
    role: str,
    last_name: str = "",
    first_name: str = "",
    patronymic: str = "",
    position: str = "",
    password: str | None = None,
) -> User:
    """A user acts for one organization in one role; the role must fit the organization's kind."""
    if role not in Role.values:
        raise ValidationFailed(f"Неизвестная роль: {role}", code="user.unknown_role")
    if organization.kind not in ROLE_ORGANIZATION_KINDS[role]:
        raise ValidationFailed(
            f"Роль «{Role(role).label}» не назначается в «{K(organization.kind).label}»",
            code="user.role_not_for_organization",
        )
    user = User(
        username=username,
        organization=organization,
        role=role,
        last_name=last_name,
        first_name=first_name,
        patronymic=patronymic,
        position=position,
        is_staff=role == Role.SYSTEM_ADMIN,
        is_superuser=role == Role.SYSTEM_ADMIN,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


def doctor_create(
    *,
    organization: Organization,
    last_name: str,
    first_name: str,
    patronymic: str = "",
    snils: str,
    code: str,
    position: str,
    may_prescribe_subsidized: bool,
    employed_from: date,
    subdivision: Organization | None = None,
    user: User | None = None,
) -> Doctor:
    if organization.kind != K.MEDICAL_ORG:
        raise ValidationFailed("Врач работает в медицинской организации", code="doctor.bad_organization")
    if subdivision is not None and subdivision.parent_id != organization.pk:
        raise ValidationFailed("Подразделение другой МО", code="doctor.bad_subdivision")
    try:
        snils = validate_snils(snils)
    except ValidationError as exc:
        raise ValidationFailed(exc.messages[0], code="doctor.invalid_snils") from None
    doctor = Doctor(
        organization=organization,
        subdivision=subdivision,
        user=user,
        last_name=last_name,
        first_name=first_name,
        patronymic=patronymic,
        snils=snils,
        code=code,
        position=position,
        may_prescribe_subsidized=may_prescribe_subsidized,
        employed_from=employed_from,
    )
    doctor.full_clean()
    doctor.save()
    return doctor


def may_hold_api_token(user: User) -> bool:
    """A MO's MIS account, or the account of a pharmacy organization's system: a pharmacist
    account of the pharmacy organization itself, which acts for all its dispensing points."""
    if not user.organization_id:
        return False
    return user.role == Role.MIS_CLIENT or (user.role == Role.PHARMACIST
                                            and user.organization.kind == K.PHARMACY_ORG)


def api_token_issue(*, user: User, name: str, key: str | None = None) -> tuple[ApiToken, str]:
    """Issue a key for a MIS client or a pharmacy system; returns the token row and the key (shown only now)."""
    if not may_hold_api_token(user):
        raise ValidationFailed("Ключ API выдаётся учётной записи МИС медицинской организации или учётной "
                               "системы аптечной организации", code="api_token.not_allowed")
    key = key or secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, organization_id=user.organization_id, name=name, prefix=key[:8], digest=token_digest(key)
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> None:
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
