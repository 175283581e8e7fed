"""The doctor's electronic signature over a СЭМД: a detached CMS (PKCS#7) SignedData, as EGISZ expects.

`signer()` gives the configured `Signer` (setting PRESCRIPTION_SIGNER). `DemoSigner` signs with ECDSA
P-256 keys it makes itself, certified by a demo CA; in production a GOST provider implements the same two
methods and the key never leaves the doctor's token (docs/signature.md). A pharmacy calls
`verify_prescription` before dispensing.

The demo signer's revocation read (`revoked_at` by serial) is kept per process for
PRESCRIPTION_REVOCATION_CACHE_SECONDS: a certificate revoked by `certificate_revoke` is refused at once
in that process and within that time in every other one; `revocations_forget()` empties the cache.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Protocol

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier
from django.conf import settings
from django.core.signals import setting_changed
from django.utils import timezone
from django.utils.module_loading import import_string

from llo.errors import ValidationFailed

from .models import SigningCertificate

SNILS_OID = ObjectIdentifier("1.2.643.100.3")  # СНИЛС in the subject of Russian qualified certificates
CERTIFICATE_DAYS = 365
CA_YEARS = 10
CLOCK_SKEW = timedelta(minutes=5)
DIGESTS = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


@dataclass(frozen=True)
class SignerInfo:
    """Who signed: the certificate's serial (hex) and subject, the SNILS in it, the signing time."""

    serial: str
    subject: str
    snils: str
    signed_at: datetime


class SignatureInvalid(ValidationFailed):
    code = "prescription.signature_invalid"

    def __init__(self, reason: str, **details):
        super().__init__(f"Электронная подпись рецепта недействительна: {reason}. Рецепт не отпускайте — "
                         "пациенту нужно обратиться в медицинскую организацию за новым рецептом",
                         details={"reason": reason, **details})


class Signer(Protocol):
    def sign(self, *, doctor, data: bytes) -> bytes:
        """A detached DER CMS SignedData over `data` by the doctor, with the signer's certificate."""

    def verify(self, *, data: bytes, signature: bytes) -> SignerInfo:
        """Who signed `data`; raises SignatureInvalid for anything but a valid signature by a trusted,
        unexpired, unrevoked certificate."""


def signer() -> Signer:
    return _signer(settings.PRESCRIPTION_SIGNER)


@cache
def _signer(path: str) -> Signer:
    return import_string(path)()


def verify_prescription(prescription) -> SignerInfo:
    """Check the prescription's signature over its stored document, and that its doctor signed it."""
    if not prescription.document or not prescription.signature:
        raise SignatureInvalid("рецепт не подписан электронной подписью")
    info = signer().verify(data=bytes(prescription.document), signature=bytes(prescription.signature))
    if info.snils != prescription.doctor.snils:
        raise SignatureInvalid("рецепт подписан не тем врачом, который его выписал", signer_snils=info.snils)
    return info


class DemoSigner:
    """Keys and certificates made here, for demos and tests. The demo CA (key and certificate) lives in a
    file shared by all processes (PRESCRIPTION_DEMO_CA_FILE); each doctor's key and certificate is a
    SigningCertificate row made on first use and cached in the process by its serial."""

    def __init__(self, ca_file: Path | str | None = None):
        self.ca_file = Path(ca_file or settings.PRESCRIPTION_DEMO_CA_FILE)
        self._ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None
        self._keys: dict[str, tuple[ec.EllipticCurvePrivateKey, x509.Certificate]] = {}
        self._lock = threading.Lock()

    def sign(self, *, doctor, data: bytes) -> bytes:
        now = timezone.now()
        serial = (SigningCertificate.objects.filter(doctor=doctor, revoked_at=None, valid_from__lte=now,
                                                    valid_to__gt=now)
                  .order_by("-valid_from", "-pk").values_list("serial", flat=True).first())
        key = self._load(serial)
        if key is None:
            key = self._load(self.certificate_issue(doctor=doctor).serial)
        return _sign(data, *key)

    def sign_with(self, *, certificate: SigningCertificate, data: bytes) -> bytes:
        """Sign with this very certificate of the demo CA, whatever its state (tests make expired and
        revoked ones)."""
        key = self._load(certificate.serial)
        if key is None:
            raise ValueError(f"Сертификат {certificate.serial} выдан не демо-УЦ этой системы")
        return _sign(data, *key)

    def verify(self, *, data: bytes, signature: bytes) -> SignerInfo:
        info = verify_cms(data=data, signature=signature, trusted=self.authority()[1])
        row = _revocation(info.serial)
        if row is None:
            raise SignatureInvalid("сертификат подписи не выдавался этой системой", serial=info.serial)
        if row["revoked_at"] is not None:
            raise SignatureInvalid(f"сертификат подписи отозван {timezone.localtime(row['revoked_at']):%d.%m.%Y}",
                                   serial=info.serial)
        return info

    def certificate_issue(self, *, doctor, valid_from: datetime | None = None,
                          days: int = CERTIFICATE_DAYS) -> SigningCertificate:
        """A new key and certificate for the doctor, certified by the demo CA."""
        ca_key, ca_cert = self.authority()
        key = ec.generate_private_key(ec.SECP256R1())
        valid_from = valid_from or timezone.now() - CLOCK_SKEW
        cert = (x509.CertificateBuilder().subject_name(doctor_subject(doctor)).issuer_name(ca_cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(valid_from).not_valid_after(valid_from + timedelta(days=days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_key_usage(signer=True), critical=True)
                .sign(ca_key, hashes.SHA256()))
        self._keys[f"{cert.serial_number:x}"] = (key, cert)
        return SigningCertificate.objects.create(
            doctor=doctor, serial=f"{cert.serial_number:x}", valid_from=cert.not_valid_before_utc,
            valid_to=cert.not_valid_after_utc, certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            private_key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode())

    def authority(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        if self._ca is None:
            with self._lock:
                if self._ca is None:
                    self._ca = load_or_create_authority(self.ca_file)
        return self._ca

    def _load(self, serial: str | None):
        """The key of a stored certificate, if it is one of the current CA's (a CA file made anew leaves
        older certificates useless: the caller then issues a new one)."""
        if serial is None:
            return None
        if serial not in self._keys:
            row = SigningCertificate.objects.filter(serial=serial).values("certificate_pem", "private_key_pem").first()
            if row is None or not row["private_key_pem"]:
                return None
            cert = x509.load_pem_x509_certificate(row["certificate_pem"].encode())
            try:
                cert.verify_directly_issued_by(self.authority()[1])
            except (ValueError, TypeError, InvalidSignature):
                return None
            if len(self._keys) > 10_000:  # a bound, not a policy: keys load again from the rows
                self._keys.clear()
            self._keys[serial] = (serialization.load_pem_private_key(row["private_key_pem"].encode(), None), cert)
        return self._keys[serial]


def certificate_revoke(*, certificate: SigningCertificate, at: datetime | None = None) -> SigningCertificate:
    """Revoke a certificate: signatures made with it are refused from now on in this process, and in every
    other one within PRESCRIPTION_REVOCATION_CACHE_SECONDS (their cached «not revoked»)."""
    certificate.revoked_at = at or timezone.now()
    certificate.save(update_fields=["revoked_at"])
    _revocations.pop(certificate.serial, None)
    return certificate


# serial -> (monotonic time read, the row's values) of certificates known and not revoked when read; an
# unknown or revoked certificate is read every time (a refused dispensing need not be fast)
_revocations: dict[str, tuple[float, dict]] = {}


def _revocation(serial: str) -> dict | None:
    """The certificate's `revoked_at` by its serial (None: not issued by this system), read at most every
    PRESCRIPTION_REVOCATION_CACHE_SECONDS in this process while it is not revoked (docs/pharmacy.md)."""
    ttl, now = settings.PRESCRIPTION_REVOCATION_CACHE_SECONDS, time.monotonic()
    cached = _revocations.get(serial)
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    row = SigningCertificate.objects.filter(serial=serial).values("revoked_at").first()
    if row is not None and row["revoked_at"] is None and ttl > 0:
        if len(_revocations) > 10_000:  # a bound, not a policy: entries are read again
            _revocations.clear()
        _revocations[serial] = (now, row)
    else:
        _revocations.pop(serial, None)
    return row


def revocations_forget() -> None:
    """Empty this process's cache of revocation reads (tests; a revocation made outside `certificate_revoke`)."""
    _revocations.clear()


def _forget_on_setting(*, setting: str, **kwargs) -> None:
    if setting == "PRESCRIPTION_REVOCATION_CACHE_SECONDS":
        revocations_forget()


setting_changed.connect(_forget_on_setting)


def doctor_subject(doctor) -> x509.Name:
    """The subject of a doctor's certificate, as in Russian qualified certificates of employees."""
    attributes = [
        (NameOID.COUNTRY_NAME, "RU"), (NameOID.ORGANIZATION_NAME, doctor.organization.name),
        (NameOID.TITLE, doctor.position), (NameOID.SURNAME, doctor.last_name),
        (NameOID.GIVEN_NAME, f"{doctor.first_name} {doctor.patronymic}".strip()),
        (NameOID.COMMON_NAME, doctor.full_name),
    ]
    # X.520 bounds names at 64, which `cryptography` counts in UTF-8 bytes
    names = [x509.NameAttribute(oid, value.encode()[:64].decode(errors="ignore")) for oid, value in attributes
             if value]
    names.append(x509.NameAttribute(SNILS_OID, doctor.snils, _type=_ASN1Type.NumericString))
    return x509.Name(names)


def load_or_create_authority(path: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The demo CA from its file (key and certificate in PEM), made on first use. Processes racing to make
    it each write a file of their own and link it into place: the first link wins, the others read it."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        draft.write_bytes(_new_authority())
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    blob = path.read_bytes()
    return serialization.load_pem_private_key(blob, None), x509.load_pem_x509_certificate(blob)


def _new_authority() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ЦСУ ЛЛО (демо)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Демо-УЦ подписи рецептов")])
    now = timezone.now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(signer=False), critical=True)
            .sign(key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))


def _key_usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=signer, content_commitment=signer, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=not signer,
                         crl_sign=not signer, encipher_only=False, decipher_only=False)


def _sign(data: bytes, key, cert: x509.Certificate) -> bytes:
    return (pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]))


# --- verification --------------------------------------------------------------------------------

def verify_cms(*, data: bytes, signature: bytes, trusted: x509.Certificate) -> SignerInfo:
    """Verify a detached CMS signature: one signer, the message digest over `data`, the signature over the
    signed attributes, a certificate issued by `trusted` and valid when signed. Revocation is the caller's."""
    try:
        signer_info, cert_der = _parse(signature)
        attributes = _attributes(signer_info)
        digest = signer_info["digest_algorithm"]["algorithm"].native
        to_verify = b"\x31" + signer_info["signed_attrs"].dump()[1:]  # [0] IMPLICIT back to SET OF, as signed
        signature_value = signer_info["signature"].native
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise SignatureInvalid("подпись повреждена или не является подписью CMS") from None
    if digest not in DIGESTS:
        raise SignatureInvalid(f"алгоритм хэширования {digest} не поддерживается")
    if not hmac.compare_digest(hashlib.new(digest, data).digest(), attributes.get("message_digest") or b""):
        raise SignatureInvalid("документ изменён после подписания")
    cert = x509.load_der_x509_certificate(cert_der)
    _check_signature(cert.public_key(), signature_value, to_verify, DIGESTS[digest]())
    if not _issued_by(cert_der, trusted):
        raise SignatureInvalid("сертификат подписи выдан не доверенным удостоверяющим центром")
    signed_at = attributes.get("signing_time")
    if signed_at is None:
        raise SignatureInvalid("в подписи нет времени подписания")
    if not cert.not_valid_before_utc <= signed_at <= cert.not_valid_after_utc:
        raise SignatureInvalid(f"сертификат подписи не действовал {timezone.localtime(signed_at):%d.%m.%Y %H:%M}, "
                               "в момент подписания", serial=f"{cert.serial_number:x}")
    if signed_at > timezone.now() + CLOCK_SKEW:
        raise SignatureInvalid("время подписания ещё не наступило")
    snils = [attribute.value for attribute in cert.subject.get_attributes_for_oid(SNILS_OID)]
    if not snils:
        raise SignatureInvalid("в сертификате подписи нет СНИЛС владельца")
    return SignerInfo(serial=f"{cert.serial_number:x}", subject=cert.subject.rfc4514_string(), snils=snils[0],
                      signed_at=signed_at)


@lru_cache(maxsize=4096)
def _issued_by(cert_der: bytes, trusted: x509.Certificate) -> bool:
    """Whether the certificate (DER) is directly issued by `trusted`, its signature checked with the CA's key:
    the answer for the same two certificates never changes, and a doctor's one signs many prescriptions."""
    try:
        x509.load_der_x509_certificate(cert_der).verify_directly_issued_by(trusted)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _parse(signature: bytes):
    """The only signer of a detached SignedData and the DER of its certificate from the SignedData."""
    content = cms.ContentInfo.load(signature, strict=True)
    if content["content_type"].native != "signed_data":
        raise SignatureInvalid("это не подпись CMS SignedData")
    signed = content["content"]
    if signed["encap_content_info"]["content"].native is not None:
        raise SignatureInvalid("подпись должна быть открепленной")
    if len(signed["signer_infos"]) != 1:
        raise SignatureInvalid("в подписи должен быть ровно один подписант")
    signer_info = signed["signer_infos"][0]
    sid = signer_info["sid"]
    if sid.name != "issuer_and_serial_number":
        raise SignatureInvalid("подписант указан не издателем и серийным номером сертификата")
    issuer = sid.chosen["issuer"]
    for choice in signed["certificates"] or []:
        cert = choice.chosen
        # the same DER first: asn1crypto's normalizing Name comparison is slow and rarely needed
        if (choice.name == "certificate" and cert.serial_number == sid.chosen["serial_number"].native
                and (cert.issuer.dump() == issuer.dump() or cert.issuer == issuer)):
            return signer_info, cert.dump()
    raise SignatureInvalid("в подписи нет сертификата подписанта")


def _attributes(signer_info) -> dict:
    if not signer_info["signed_attrs"]:
        raise SignatureInvalid("в подписи нет подписанных атрибутов")
    attributes = {attribute["type"].native: attribute["values"][0].native for attribute in signer_info["signed_attrs"]}
    if attributes.get("content_type") != "data":
        raise SignatureInvalid("подписан не документ (тип содержимого не data)")
    return attributes


def _check_signature(public_key, value: bytes, signed: bytes, digest: hashes.HashAlgorithm) -> None:
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(value, signed, ec.ECDSA(digest))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(value, signed, padding.PKCS1v15(), digest)
        else:
            raise SignatureInvalid("алгоритм ключа подписи не поддерживается")
    except InvalidSignature:
        raise SignatureInvalid("подпись не соответствует документу и сертификату") from None
