"""The organization's signature for MDLP: a detached CMS (PKCS#7) SignedData over the authorization code
(`POST token`) and over every document sent (`documents/send`, field `sign`).

`signer()` gives the configured `Signer` (setting MDLP_SIGNER). In production it is a GOST provider
(CryptoPro CSP; docs/mdlp.md, «Client and emulator»); the key never leaves the token or HSM. `DemoSigner`
signs with an ECDSA P-256 key certified by the same demo CA as the doctors' demo signatures
(prescriptions/signing.py, PRESCRIPTION_DEMO_CA_FILE), so the MDLP emulator trusts it the way MDLP trusts
an accredited CA. The certificate's SHA-1 thumbprint is the `user_id` of the SIGNED_CODE authorization.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

SNILS_OID = ObjectIdentifier("1.2.643.100.3")
OGRN_OID = ObjectIdentifier("1.2.643.100.1")
INN_LE_OID = ObjectIdentifier("1.2.643.100.4")  # ИНН ЮЛ
CERTIFICATE_DAYS = 365 * 2
CLOCK_SKEW = timedelta(minutes=5)


@runtime_checkable
class Signer(Protocol):
    def sign(self, data: bytes) -> bytes:
        """A detached DER CMS SignedData over `data`, with the signer's certificate inside."""


def thumbprint(certificate: x509.Certificate) -> str:
    """The SHA-1 thumbprint of a certificate (40 lowercase hex digits): MDLP's `user_id`."""
    return hashlib.sha1(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def signer() -> Signer:
    from django.conf import settings

    return _signer(settings.MDLP_SIGNER)


@cache
def _signer(path: str) -> Signer:
    from django.utils.module_loading import import_string

    return import_string(path)()


class DemoSigner:
    """One organization key and certificate (C, O, CN, ОГРН, ИНН ЮЛ, the head's SNILS, as in a qualified
    certificate of a legal entity), issued by the demo CA and kept with its key in one PEM file
    (MDLP_DEMO_KEY_FILE, mode 0600), made on first use; processes racing to make it link their own file into
    place and the first one wins. For demos and tests: nothing it makes is a legal signature."""

    def __init__(self, key_file: Path | str | None = None, ca_file: Path | str | None = None):
        if key_file is None or ca_file is None:
            from django.conf import settings

            key_file = key_file or settings.MDLP_DEMO_KEY_FILE
            ca_file = ca_file or settings.PRESCRIPTION_DEMO_CA_FILE
        self.key_file = Path(key_file)
        self.ca_file = Path(ca_file)
        self._loaded: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None
        self._lock = threading.Lock()

    def sign(self, data: bytes) -> bytes:
        key, cert = self._key()
        return (pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
                .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature,
                                                   pkcs7.PKCS7Options.Binary]))

    @property
    def certificate(self) -> x509.Certificate:
        return self._key()[1]

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.certificate)

    def _key(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load_or_create()
        return self._loaded

    def _load_or_create(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        from prescriptions.signing import load_or_create_authority

        ca_key, ca_cert = load_or_create_authority(self.ca_file)
        if self.key_file.exists():
            blob = self.key_file.read_bytes()
            key, cert = serialization.load_pem_private_key(blob, None), x509.load_pem_x509_certificate(blob)
            try:
                cert.verify_directly_issued_by(ca_cert)
                return key, cert
            except (ValueError, TypeError, InvalidSignature):  # a CA made anew since: make a new certificate
                self.key_file.unlink(missing_ok=True)
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        draft = self.key_file.with_name(f".{self.key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
        draft.write_bytes(_new_key(ca_key, ca_cert))
        draft.chmod(0o600)
        try:
            os.link(draft, self.key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        blob = self.key_file.read_bytes()
        return serialization.load_pem_private_key(blob, None), x509.load_pem_x509_certificate(blob)


def _new_key(ca_key, ca_cert: x509.Certificate) -> bytes:
    from django.utils import timezone

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ЦСУ ЛЛО (демо-участник МДЛП)"),
        x509.NameAttribute(NameOID.COMMON_NAME, "ЦСУ ЛЛО: обмен с МДЛП (демо)"),
        x509.NameAttribute(OGRN_OID, "1027700000000", _type=_ASN1Type.NumericString),
        x509.NameAttribute(INN_LE_OID, "7700000000", _type=_ASN1Type.NumericString),
        x509.NameAttribute(SNILS_OID, "00000000000", _type=_ASN1Type.NumericString),
    ])
    now = timezone.now() - CLOCK_SKEW
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=CERTIFICATE_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))


def verify(*, data: bytes, signature: bytes, trusted: x509.Certificate) -> str:
    """The thumbprint of the certificate that made `signature` over `data`, checked with the demo
    verification of prescriptions/signing.py (`verify_cms`: digest, signature, issued by `trusted`,
    valid when signed). Raises prescriptions.signing.SignatureInvalid (its details["reason"] says why)."""
    from asn1crypto import cms

    from prescriptions.signing import SignatureInvalid, verify_cms

    verify_cms(data=data, signature=signature, trusted=trusted)
    try:
        signed = cms.ContentInfo.load(signature, strict=True)["content"]
        sid = signed["signer_infos"][0]["sid"].chosen
        for choice in signed["certificates"] or []:
            cert = choice.chosen
            if choice.name == "certificate" and cert.serial_number == sid["serial_number"].native:
                return hashlib.sha1(cert.dump()).hexdigest()
    except (ValueError, TypeError, KeyError, IndexError):
        pass
    raise SignatureInvalid("в подписи нет сертификата подписанта")
