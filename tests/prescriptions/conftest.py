"""A ready prescribing scenario: an MO with a doctor who may prescribe, a patient with an ОНЛП right,
a drug on the ОНЛП list, and a dispensing point attached to the MO with that drug in stock."""

from datetime import date

import pytest
from django.utils import timezone

from llo import services as llo_services
from llo.models import BenefitCategory, Diagnosis, Package, Program, StandardizedDrug
from llo.models.organizations import OrganizationKind as K
from prescriptions import services
from registry.models import BenefitRight, RightSource
from tests.llo import factories as f
from tests.registry import factories as rf


@pytest.fixture
def onlp(reference):
    return Program.objects.get(code="ONLP")


@pytest.fixture
def drug(onlp):
    """A plain (not List II) drug on the ОНЛП list with at least one marked package."""
    return (StandardizedDrug.objects.filter(program_rows__program=onlp, control_list="",
                                            trade_names__packages__is_marked=True)
            .select_related("inn").order_by("pk").first())


@pytest.fixture
def package(drug):
    return Package.objects.filter(trade_name__drug=drug, is_marked=True).select_related("trade_name").order_by("pk")[0]


@pytest.fixture
def diagnosis(reference):
    return Diagnosis.objects.get(code="I10")


@pytest.fixture
def doctor(mo, doctor_user):
    sub = f.organization(K.MO_SUBDIVISION, parent=mo)
    return f.doctor(mo, subdivision=sub, user=doctor_user)


@pytest.fixture
def patient(mo, onlp):
    person = rf.person(attached_mo=mo, birth_date=date(1980, 5, 17), sex="M")
    BenefitRight.objects.create(person=person, program=onlp, category=BenefitCategory.objects.get(federal_code="010"),
                                valid_from=date(2020, 1, 1), source=RightSource.SFR, disability_group="2")
    return person


@pytest.fixture
def attached_point(mo, point):
    llo_services.attachment_create(medical_org=mo, dispensing_point=point, valid_from=date(2020, 1, 1))
    return point


@pytest.fixture
def draft(mo, doctor, patient, onlp, drug, diagnosis):
    """Make a draft of a valid prescription; keyword arguments override its fields."""

    def make(**fields):
        values = dict(organization=mo, doctor=doctor, person=patient, program=onlp, drug=drug, diagnosis=diagnosis,
                      dosage=drug.dosage or "1 таб.", quantity=2, signa="По 1 таблетке 2 раза в день")
        values.update(fields)
        return services.draft_for(**values)

    return make


@pytest.fixture
def issue(draft, doctor_user):
    """Issue a valid prescription (fields override the draft's)."""

    def make(user=None, **fields):
        rx, _ = services.prescription_issue(user=user or doctor_user, draft=draft(**fields))
        return rx

    return make


@pytest.fixture
def issued(issue):
    return issue()


@pytest.fixture
def mis(mo):
    user, _token, key = f.mis_client(mo)
    return user, key


@pytest.fixture
def today():
    return timezone.localdate()


