from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction

from llo import services
from llo.access import organizations_for, staff_for
from llo.errors import ValidationFailed
from llo.models import Organization, Role
from llo.models.organizations import OrganizationKind as K
from tests.llo import factories as f

pytestmark = pytest.mark.django_db


def test_unit_takes_legal_entity_identifiers(mo):
    sub = f.organization(K.MO_SUBDIVISION, parent=mo)
    assert (sub.ogrn, sub.inn, sub.legal_entity_id) == (mo.ogrn, mo.inn, mo.pk)
    assert mo.legal_entity_id == mo.pk


@pytest.mark.parametrize("kind,parent_kind", [
    (K.MO_SUBDIVISION, None),
    (K.DISPENSING_POINT, K.MEDICAL_ORG),
    (K.MUNICIPAL_AUTHORITY, None),
    (K.MEDICAL_ORG, K.PHARMACY_ORG),
])
def test_hierarchy_rules(region, kind, parent_kind):
    parent = f.organization(parent_kind, region=region) if parent_kind else None
    before = Organization.objects.count()
    with pytest.raises(ValidationFailed) as err:
        f.organization(kind, parent=parent, region=region)
    assert err.value.code == "organization.bad_parent"
    assert Organization.objects.count() == before


def test_bad_identifiers_rejected_with_field_codes(region):
    with pytest.raises(ValidationFailed) as err:
        services.organization_create(region=region, kind=K.SUPPLIER, code="X1", name="X", ogrn="1027700132194",
                                     inn="7707083893")
    assert err.value.code == "organization.invalid_ogrn"
    with pytest.raises(ValidationFailed) as err:
        services.organization_create(region=region, kind=K.SUPPLIER, code="X1", name="X", ogrn="1027700132195",
                                     inn="7707083894")
    assert err.value.code == "organization.invalid_inn"
    assert not Organization.objects.filter(code="X1").exists()


def test_database_refuses_what_the_service_would(mo):
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.filter(pk=mo.pk).update(ogrn="12")
    other = f.organization(K.SUPPLIER, region=mo.region, mdlp_place_id="00000000000077")
    with pytest.raises(IntegrityError), transaction.atomic():
        Organization.objects.filter(pk=mo.pk).update(mdlp_place_id=other.mdlp_place_id)


def test_role_must_fit_organization(mo, point):
    with pytest.raises(ValidationFailed) as err:
        f.user(Role.PHARMACIST, mo)
    assert err.value.code == "user.role_not_for_organization"
    with pytest.raises(ValidationFailed):
        f.user(Role.DOCTOR, point)


def test_attachment_only_between_mo_and_point(mo, point, pharmacy_chain):
    services.attachment_create(medical_org=mo, dispensing_point=point, valid_from=date(2026, 1, 1))
    with pytest.raises(ValidationFailed):
        services.attachment_create(medical_org=mo, dispensing_point=pharmacy_chain, valid_from=date(2026, 1, 1))


class TestOrganizationAccess:
    """The access helper with users of the same organization, another one, and another role."""

    def test_same_organization_sees_own_tree(self, mo, doctor_user, colleague):
        sub = f.organization(K.MO_SUBDIVISION, parent=mo)
        for user in (doctor_user, colleague):
            assert set(organizations_for(user)) == {mo, sub}

    def test_subdivision_user_sees_its_mo(self, mo):
        sub = f.organization(K.MO_SUBDIVISION, parent=mo)
        user = f.user(Role.DOCTOR, sub)
        assert set(organizations_for(user)) == {mo, sub}

    def test_other_organization_hidden(self, mo, other_mo, outsider):
        assert mo not in organizations_for(outsider)
        assert other_mo in organizations_for(outsider)

    def test_attachment_opens_the_other_side_only_while_current(self, mo, point, doctor_user, pharmacist):
        assert point not in organizations_for(doctor_user)
        attachment = services.attachment_create(medical_org=mo, dispensing_point=point, valid_from=date(2026, 1, 1))
        assert point in organizations_for(doctor_user)
        assert mo in organizations_for(pharmacist)
        attachment.valid_to = date.today() - timedelta(days=1)
        attachment.save()
        assert point not in organizations_for(doctor_user)
        assert mo not in organizations_for(pharmacist)

    def test_ministry_roles_see_region_only(self, mo, point, analyst, ministry_admin):
        elsewhere = f.organization(K.SUPPLIER, region=f.RegionFactory(code="97"))
        for user in (analyst, ministry_admin):
            visible = set(organizations_for(user))
            assert {mo, point} <= visible
            assert elsewhere not in visible

    def test_staff_of_other_organizations_hidden(self, doctor_user, colleague, outsider):
        assert set(staff_for(doctor_user)) == {doctor_user, colleague}
        assert outsider not in staff_for(doctor_user)

    def test_detail_page_404_for_other_organization(self, client, mo, other_mo, doctor_user):
        client.force_login(doctor_user)
        assert client.get(f"/organizations/{mo.pk}/").status_code == 200
        assert client.get(f"/organizations/{other_mo.pk}/").status_code == 404

    def test_detail_api_404_for_other_organization(self, client, mo, other_mo, doctor_user):
        client.force_login(doctor_user)
        assert client.get(f"/api/v1/organizations/{mo.pk}/").json()["id"] == mo.pk
        response = client.get(f"/api/v1/organizations/{other_mo.pk}/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    def test_list_page_and_api_show_only_visible(self, client, mo, other_mo, doctor_user):
        client.force_login(doctor_user)
        page = client.get("/organizations/").content.decode()
        assert mo.short_name in page and other_mo.short_name not in page
        ids = {o["id"] for o in client.get("/api/v1/organizations/").json()["results"]}
        assert mo.pk in ids and other_mo.pk not in ids

    def test_api_list_rejects_unknown_kind(self, client, doctor_user):
        client.force_login(doctor_user)
        response = client.get("/api/v1/organizations/?kind=hospital")
        assert response.status_code == 422
        assert response.json()["code"] == "validation_failed"

    def test_list_api_query_count_is_fixed(self, client, ministry, analyst, django_assert_max_num_queries):
        for _ in range(30):
            f.organization(K.MEDICAL_ORG, parent=ministry)
        client.force_login(analyst)
        with django_assert_max_num_queries(6):
            response = client.get("/api/v1/organizations/?page_size=100")
        assert response.json()["count"] >= 31
