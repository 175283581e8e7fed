"""The doctor's detached CMS signature over the СЭМД: round trip, and every way a signature must be refused."""

import time
from datetime import timedelta

import pytest
from asn1crypto import cms
from cryptography import x509
from django.utils import timezone

from prescriptions import signing
from prescriptions.models import SigningCertificate
from tests.llo import factories as f


@pytest.fixture
def demo():
    return signing.signer()


def certificate_of(prescription) -> SigningCertificate:
    serial = signing.signer().verify(data=bytes(prescription.document), signature=bytes(prescription.signature)).serial
    return SigningCertificate.objects.get(serial=serial)


def assert_refused(call, reason: str):
    with pytest.raises(signing.SignatureInvalid) as refused:
        call()
    assert refused.value.code == "prescription.signature_invalid"
    assert refused.value.message.startswith("Электронная подпись рецепта недействительна")
    assert "Рецепт не отпускайте" in refused.value.message
    assert reason in refused.value.message, refused.value.message
    return refused.value


def test_round_trip(issued, doctor):
    info = signing.verify_prescription(issued)
    assert info.snils == doctor.snils
    assert doctor.last_name in info.subject
    assert abs(info.signed_at - issued.signed_at) < timedelta(minutes=1)


def test_the_signature_is_a_detached_cms_with_the_signer_certificate(issued, doctor):
    content = cms.ContentInfo.load(bytes(issued.signature))
    assert content["content_type"].native == "signed_data"
    signed = content["content"]
    assert signed["encap_content_info"]["content"].native is None
    (certificate,) = signed["certificates"]
    subject = x509.load_der_x509_certificate(certificate.chosen.dump()).subject
    assert subject.get_attributes_for_oid(signing.SNILS_OID)[0].value == doctor.snils


def test_one_certificate_serves_many_prescriptions(issue, doctor):
    first, second = issue(), issue()
    assert certificate_of(first).pk == certificate_of(second).pk
    assert SigningCertificate.objects.filter(doctor=doctor).count() == 1


def test_a_tampered_document_is_refused(issued):
    document = bytearray(issued.document)
    middle = document.index(issued.number.encode())
    document[middle] = ord("9") if document[middle] != ord("9") else ord("8")
    issued.document = bytes(document)
    assert_refused(lambda: signing.verify_prescription(issued), "документ изменён после подписания")


def test_a_signature_of_another_doctor_is_refused_for_this_prescription(issued, mo, demo):
    other = f.doctor(mo)
    issued.signature = demo.sign(doctor=other, data=bytes(issued.document))
    assert demo.verify(data=bytes(issued.document), signature=bytes(issued.signature)).snils == other.snils
    assert_refused(lambda: signing.verify_prescription(issued), "не тем врачом")


@pytest.mark.parametrize("damage", [
    lambda sig: b"",
    lambda sig: b"not a signature at all",
    lambda sig: sig[: len(sig) // 2],
    lambda sig: sig[:-1],
    lambda sig: sig + b"\x00",
    lambda sig: bytes(range(256)),
], ids=["empty", "text", "half", "one-byte-short", "trailing-byte", "noise"])
def test_garbage_or_truncated_der_is_refused_with_a_clear_error(issued, demo, damage):
    signature = damage(bytes(issued.signature))
    assert_refused(lambda: demo.verify(data=bytes(issued.document), signature=signature),
                   "подпись повреждена или не является подписью CMS")


def test_an_unsigned_prescription_is_refused(issued):
    issued.signature = None
    assert_refused(lambda: signing.verify_prescription(issued), "не подписан")


def test_an_expired_certificate_is_refused(issued, doctor, demo):
    expired = demo.certificate_issue(doctor=doctor, valid_from=timezone.now() - timedelta(days=400), days=365)
    issued.signature = demo.sign_with(certificate=expired, data=bytes(issued.document))
    assert_refused(lambda: signing.verify_prescription(issued), "не действовал")


def test_a_revoked_certificate_is_refused_and_the_next_prescription_gets_a_new_one(issued, issue, demo):
    certificate = certificate_of(issued)
    signing.certificate_revoke(certificate=certificate)
    assert_refused(lambda: signing.verify_prescription(issued), "отозван")
    later = issue()
    assert signing.verify_prescription(later).serial != certificate.serial


def test_the_revocation_read_is_kept_for_the_ttl_and_a_revocation_takes_effect_within_it(
        issued, settings, django_assert_num_queries):
    settings.PRESCRIPTION_REVOCATION_CACHE_SECONDS = 0.3  # a changed TTL empties the cache
    certificate = certificate_of(issued)  # reads the row and keeps «not revoked»
    with django_assert_num_queries(0):
        signing.verify_prescription(issued)
    # revoked by another process: this one trusts its read until the TTL runs out, then refuses
    SigningCertificate.objects.filter(pk=certificate.pk).update(revoked_at=timezone.now())
    signing.verify_prescription(issued)
    time.sleep(0.35)
    assert_refused(lambda: signing.verify_prescription(issued), "отозван")
    assert_refused(lambda: signing.verify_prescription(issued), "отозван")  # a revoked one is never kept


def test_a_revocation_in_this_process_takes_effect_at_once_and_the_cache_can_be_emptied(
        issued, django_assert_num_queries):
    certificate = certificate_of(issued)
    signing.certificate_revoke(certificate=certificate)
    assert_refused(lambda: signing.verify_prescription(issued), "отозван")
    SigningCertificate.objects.filter(pk=certificate.pk).update(revoked_at=None)
    signing.verify_prescription(issued)
    signing.revocations_forget()
    with django_assert_num_queries(1):
        signing.verify_prescription(issued)


def test_no_ttl_reads_every_time(issued, settings, django_assert_num_queries):
    settings.PRESCRIPTION_REVOCATION_CACHE_SECONDS = 0
    signing.verify_prescription(issued)
    with django_assert_num_queries(1):
        signing.verify_prescription(issued)


def test_a_certificate_from_a_foreign_ca_is_refused(issued, doctor, demo, tmp_path):
    foreign = signing.DemoSigner(ca_file=tmp_path / "foreign-ca.pem")
    issued.signature = foreign.sign(doctor=doctor, data=bytes(issued.document))
    assert foreign.verify(data=bytes(issued.document), signature=bytes(issued.signature)).snils == doctor.snils
    assert_refused(lambda: signing.verify_prescription(issued), "не доверенным удостоверяющим центром")
    # the doctor's newest certificate is now the foreign one: the demo signer issues its own again
    signature = demo.sign(doctor=doctor, data=b"data")
    assert demo.verify(data=b"data", signature=signature).snils == doctor.snils


def test_the_demo_ca_is_made_once_and_shared(tmp_path):
    path = tmp_path / "ca" / "demo-ca.pem"
    first, second = signing.DemoSigner(ca_file=path), signing.DemoSigner(ca_file=path)
    assert first.authority()[1] == second.authority()[1]
    assert path.stat().st_mode & 0o777 == 0o600
    assert list(path.parent.iterdir()) == [path]


class FakeSigner:
    def sign(self, *, doctor, data):
        return b"fake"

    def verify(self, *, data, signature):
        raise signing.SignatureInvalid("тестовая подпись")


def test_the_signer_comes_from_the_setting(settings):
    settings.PRESCRIPTION_SIGNER = "tests.prescriptions.test_signing.FakeSigner"
    assert isinstance(signing.signer(), FakeSigner)
    settings.PRESCRIPTION_SIGNER = "prescriptions.signing.DemoSigner"
    assert isinstance(signing.signer(), signing.DemoSigner)
