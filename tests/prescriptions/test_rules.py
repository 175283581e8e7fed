"""Each check before issue refuses the case it exists for, with its own code, and writes nothing."""

from datetime import date, timedelta

import pytest

from llo.models import Diagnosis, Package, Program, ProgramDrug, StandardizedDrug
from prescriptions import rules
from prescriptions.models import Numerator, Prescription
from registry.models import BenefitRight, DisabilityGroup, NsuRefusal


def refused(draft) -> rules.PrescriptionRefused:
    with pytest.raises(rules.PrescriptionRefused) as caught:
        rules.check(draft)
    return caught.value


def test_a_valid_draft_passes_and_learns_its_right_and_validity(draft, patient):
    checked = rules.check(draft())
    assert checked.right == BenefitRight.objects.get(person=patient)
    assert checked.validity_days == 30


@pytest.mark.parametrize("field", ["person", "program", "drug", "doctor", "diagnosis", "dosage", "quantity", "signa"])
def test_every_mandatory_field(draft, field):
    error = refused(draft(**{field: None if field not in ("dosage", "signa") else ""}))
    assert error.code == "prescription.field_missing"
    assert error.details["fields"] == [field]


def test_doctor_without_the_right_to_prescribe_subsidized(draft, doctor):
    doctor.may_prescribe_subsidized = False
    assert refused(draft(doctor=doctor)).code == "doctor.not_authorized"


def test_doctor_no_longer_employed(draft, doctor, today):
    doctor.employed_to = today - timedelta(days=1)
    assert refused(draft(doctor=doctor)).code == "doctor.not_employed"


def test_doctor_of_another_mo(draft, other_mo):
    from tests.llo import factories as f

    assert refused(draft(doctor=f.doctor(other_mo))).code == "doctor.other_mo"


def test_deceased_patient(draft, patient, today):
    patient.death_date = today - timedelta(days=3)
    assert refused(draft(person=patient)).code == "person.deceased"


def test_program_not_valid_on_the_date(draft, onlp, today):
    onlp.valid_to = today - timedelta(days=1)
    error = refused(draft(program=onlp))
    assert (error.code, error.details["field"]) == ("reference.not_valid", "program")


def test_retired_drug(draft, drug, today):
    drug.valid_to = today - timedelta(days=1)
    assert refused(draft(drug=drug)).details["field"] == "drug"


def test_no_right_under_the_program(draft, reference):
    other = Program.objects.get(code="REG-CAT")
    error = refused(draft(program=other))
    assert (error.code, error.details["program"]) == ("right.not_found", "REG-CAT")


def test_right_ended_before_the_date(draft, patient, today):
    BenefitRight.objects.filter(person=patient).update(valid_to=today - timedelta(days=1))
    assert refused(draft()).code == "right.not_found"


def test_nsu_refused_for_the_year(draft, patient, today):
    NsuRefusal.objects.create(person=patient, year=today.year, refused=True, source="sfr")
    assert refused(draft()).code == "right.nsu_refused"


def test_drug_not_on_the_program_list(draft, onlp, today):
    off_list = StandardizedDrug.objects.exclude(program_rows__program=onlp).order_by("pk").first()
    assert refused(draft(drug=off_list)).code == "drug.not_on_list"


def test_drug_taken_off_the_list_yesterday(draft, onlp, drug, today):
    ProgramDrug.objects.filter(program=onlp, drug=drug).update(valid_to=today - timedelta(days=1))
    assert refused(draft()).code == "drug.not_on_list"


def test_diagnosis_outside_a_disease_program(draft, patient, reference, today):
    program = Program.objects.get(code="REG-DIS")
    BenefitRight.objects.create(person=patient, program=program, category=BenefitRight.objects.get(
        person=patient).category, valid_from=date(2020, 1, 1), source="regional")
    listed = StandardizedDrug.objects.filter(program_rows__program=program).order_by("pk").first()
    error = refused(draft(program=program, drug=listed, diagnosis=Diagnosis.objects.get(code="I10")))
    assert (error.code, error.details["icd10"]) == ("diagnosis.not_allowed", "I10")
    within = Diagnosis.objects.filter(code__startswith="E11").order_by("code").last()  # E11.x is under E11
    assert rules.check(draft(program=program, drug=listed, diagnosis=within)).right.program == program


def test_trade_name_without_a_commission_protocol(draft, package):
    assert refused(draft(package=package)).code == "prescription.vk_protocol_required"
    assert rules.check(draft(package=package, vk_protocol="ВК-12")).package == package


def test_package_of_another_drug(draft, drug):
    foreign = Package.objects.exclude(trade_name__drug=drug).order_by("pk").first()
    assert refused(draft(package=foreign, vk_protocol="ВК-1")).code == "package.not_of_drug"


def test_protocol_without_trade_name(draft):
    assert refused(draft(vk_protocol="ВК-1")).code == "prescription.vk_without_trade_name"


@pytest.mark.parametrize("quantity", [0, 13, 1000])
def test_quantity_out_of_bounds(draft, quantity):
    assert refused(draft(quantity=quantity)).code == "prescription.quantity_invalid"


def test_ninety_days_only_for_the_entitled(draft, patient):
    error = refused(draft(validity_days=90))
    assert (error.code, error.details["allowed"]) == ("prescription.validity_not_allowed", [30])
    BenefitRight.objects.filter(person=patient).update(disability_group=DisabilityGroup.FIRST)
    assert rules.check(draft(validity_days=90)).validity_days == 90


def test_ninety_days_for_a_pensioner_by_age(draft, patient):
    patient.birth_date, patient.sex = date(1950, 1, 1), "F"
    assert rules.check(draft(person=patient, validity_days=90)).validity_days == 90


def test_list_ii_is_fifteen_days_except_patches(draft, onlp):
    tablets = StandardizedDrug.objects.filter(control_list="narcotic_ii").exclude(
        dosage_form__icontains="трансдермал").order_by("pk").first()
    patch = StandardizedDrug.objects.filter(dosage_form__icontains="трансдермал").order_by("pk").first()
    for d in (tablets, patch):
        ProgramDrug.objects.get_or_create(program=onlp, drug=d, defaults={"valid_from": date(2020, 1, 1)})
    assert rules.check(draft(drug=tablets)).validity_days == 15
    assert refused(draft(drug=tablets, validity_days=30)).details["allowed"] == [15]
    assert rules.check(draft(drug=patch)).validity_days == 30


def test_a_refused_draft_writes_nothing(draft, doctor_user, doctor):
    from prescriptions import services

    doctor.may_prescribe_subsidized = False
    with pytest.raises(rules.PrescriptionRefused):
        services.prescription_issue(user=doctor_user, draft=draft(doctor=doctor))
    assert not Prescription.objects.exists()
    assert not Numerator.objects.exists()
