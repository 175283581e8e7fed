"""The patient's QR code: a signed, expiring token that a pharmacy scans to find the patient.

The token is 32 ASCII digits and nothing else, because a barcode scanner is a keyboard: in the
Russian layout it turns Latin letters into Cyrillic ones, but the digit row types the same in
every layout. Digits also use the QR code's numeric mode, the densest one (version 1, 21×21).

    1 PPPPPPPPPPPP DDDDD MMMMMMMMMMMMMM
    │ │            │     └ 14 digits: HMAC-SHA256 of the first 18 digits, reduced mod 10**14
    │ │            └ 5 digits: the last day of validity, counted from 1970-01-01
    │ └ 12 digits: the person's internal id (a surrogate key, no personal data), zero-padded
    └ format version

The key is derived from SECRET_KEY with this module's own salt (`salted_hmac`), so a token is
useless for any other purpose and a signature made for anything else is useless here; keys in
SECRET_KEY_FALLBACKS still verify, so rotating the secret does not void printed cards at once.
Without the key a forger has one chance in 10**14 per attempt. See docs/patient-card.md.
"""

from __future__ import annotations

import hmac
import io
import re
from datetime import date, datetime, timedelta

import segno
from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac

from llo.errors import ValidationFailed

from .models import Person

VERSION = "1"
ID_DIGITS = 12
DAY_DIGITS = 5
MAC_DIGITS = 14
TOKEN_LENGTH = len(VERSION) + ID_DIGITS + DAY_DIGITS + MAC_DIGITS  # 32
MAX_INPUT = 200  # longer input is refused before any other work
EPOCH = date(1970, 1, 1)
SALT = "registry.patient_token.v1"
QR_ERROR = "m"  # 15 % of the symbol may be damaged; 32 digits still fit version 1
MAX_MERGE_HOPS = 50

_TOKEN = re.compile(r"[0-9]{%d}" % TOKEN_LENGTH, re.ASCII)
# The AIM symbology identifier some scanners send first (]Q1, ]Q3 …), also as a scanner in the
# Russian layout types it: `]` → `ъ`, `Q` → `й`.
_AIM_PREFIX = re.compile(r"^[\]ъЪ][QqЙй][0-9]")
_WHITESPACE = re.compile(r"\s+")


def _today(now: datetime | date | None) -> date:
    if now is None:
        return timezone.localdate()
    if isinstance(now, datetime):
        return timezone.localdate(now) if timezone.is_aware(now) else now.date()
    return now


def _mac(payload: str, secret: str) -> str:
    digest = salted_hmac(SALT, payload, secret=secret, algorithm="sha256").digest()
    return f"{int.from_bytes(digest, 'big') % 10 ** MAC_DIGITS:0{MAC_DIGITS}d}"


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def patient_token_expiry(*, now: datetime | date | None = None) -> date:
    """The last day a token issued `now` is accepted."""
    return _today(now) + timedelta(days=int(getattr(settings, "PATIENT_TOKEN_TTL_DAYS", 365)))


def patient_token_issue(*, person: Person, now: datetime | date | None = None) -> str:
    """A fresh token for `person`, valid through today + PATIENT_TOKEN_TTL_DAYS."""
    if person.pk is None or not 0 < person.pk < 10 ** ID_DIGITS:
        raise ValueError(f"person id {person.pk!r} does not fit a patient token")
    expires = patient_token_expiry(now=now)
    payload = f"{VERSION}{person.pk:0{ID_DIGITS}d}{(expires - EPOCH).days:0{DAY_DIGITS}d}"
    return payload + _mac(payload, settings.SECRET_KEY)


def patient_token_expires_on(token: str) -> date:
    """The last valid day written in a well-formed token (not verified: for display only)."""
    return EPOCH + timedelta(days=int(token[1 + ID_DIGITS:1 + ID_DIGITS + DAY_DIGITS]))


def _malformed(details: dict | None = None) -> ValidationFailed:
    return ValidationFailed(
        "Это не QR-код пациента. Отсканируйте QR-код с карты пациента ещё раз или найдите "
        "пациента по СНИЛС или полису ОМС.",
        code="patient_token.malformed", details=details or {},
    )


def patient_token_clean(raw: object) -> str:
    """What a scanner typed, reduced to the token's digits; raises `patient_token.malformed`."""
    if not isinstance(raw, str) or len(raw) > MAX_INPUT:
        raise _malformed()
    text = _WHITESPACE.sub("", raw)
    text = _AIM_PREFIX.sub("", text, count=1)
    if not _TOKEN.fullmatch(text):
        raise _malformed()
    if not text.startswith(VERSION):
        raise _malformed({"version": text[0]})
    return text


def patient_token_resolve(token: str, *, now: datetime | date | None = None) -> Person:
    """The person a scanned token names (the survivor, if that record was merged)."""
    token = patient_token_clean(token)
    payload, mac = token[:-MAC_DIGITS], token[-MAC_DIGITS:]
    if not any(hmac.compare_digest(mac, _mac(payload, secret)) for secret in _secrets()):
        raise ValidationFailed(
            "QR-код не прошёл проверку подписи: он повреждён или подделан. Найдите пациента по "
            "СНИЛС или полису ОМС и распечатайте новую карту с QR-кодом.",
            code="patient_token.forged",
        )
    expires = patient_token_expires_on(token)
    if _today(now) > expires:
        raise ValidationFailed(
            f"Срок действия QR-кода истёк {expires:%d.%m.%Y}. Найдите пациента по СНИЛС или полису "
            "ОМС и распечатайте новую карту пациента с QR-кодом.",
            code="patient_token.expired", details={"expired_on": expires.isoformat()},
        )
    person_id = int(token[1:1 + ID_DIGITS])
    person = Person.objects.filter(pk=person_id).first()
    seen: set[int] = set()
    while person is not None and person.merged_into_id is not None and len(seen) < MAX_MERGE_HOPS:
        seen.add(person.pk)
        if person.merged_into_id in seen:  # a loop of merges: the data is broken, do not guess
            person = None
            break
        person = Person.objects.filter(pk=person.merged_into_id).first()
    if person is None or person.merged_into_id is not None:
        raise ValidationFailed(
            "Пациент по этому QR-коду не найден в регистре. Найдите пациента по СНИЛС или полису ОМС.",
            code="patient_token.unknown",
        )
    return person


def token_qr(token: str) -> segno.QRCode:
    """The QR symbol of a token: numeric mode, version 1, error level M."""
    # make_qr: never a Micro QR, which many pharmacy scanners do not read
    return segno.make_qr(token, error=QR_ERROR, mode="numeric")


def patient_qr(*, person: Person, now: datetime | date | None = None) -> segno.QRCode:
    return token_qr(patient_token_issue(person=person, now=now))


def patient_qr_svg(*, person: Person, now: datetime | date | None = None, scale: int = 4) -> str:
    """The patient's QR code as an SVG document (for a page)."""
    buf = io.BytesIO()
    patient_qr(person=person, now=now).save(buf, kind="svg", scale=scale, border=4, xmldecl=False,
                                            title="QR-код пациента")
    return buf.getvalue().decode("utf-8")


def patient_qr_png(*, person: Person, now: datetime | date | None = None, scale: int = 5) -> bytes:
    """The patient's QR code as PNG bytes."""
    buf = io.BytesIO()
    patient_qr(person=person, now=now).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()
