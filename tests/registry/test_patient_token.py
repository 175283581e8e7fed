import io
import re
import shutil
import subprocess
from datetime import date, datetime, timedelta

import pytest
import segno
from django.utils import timezone

from llo.errors import ValidationFailed
from llo.validators import snils_complete
from registry.models import Person
from registry.patient_token import (
    TOKEN_LENGTH, patient_qr_png, patient_qr_svg, patient_token_expires_on, patient_token_issue,
    patient_token_resolve, token_qr,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 2)


def _person(n: int = 1, **extra) -> Person:
    fields = {"snils": snils_complete(f"{112233440 + n:09d}"), "last_name": "Соколова", "first_name": "Мария",
              "patronymic": "Ильинична", "birth_date": date(1948, 5, 17), "sex": "F",
              "oms_policy": "7755443322110099", "address": "г. Тестовск, ул. Садовая, д. 4, кв. 12"}
    return Person.objects.create(**{**fields, **extra})


def _code(token, **kw) -> str:
    with pytest.raises(ValidationFailed) as err:
        patient_token_resolve(token, **kw)
    return err.value.code


def test_round_trip_digits_only():
    person = _person()
    token = patient_token_issue(person=person, now=TODAY)
    assert re.fullmatch(r"[0-9]{32}", token) and len(token) == TOKEN_LENGTH
    assert patient_token_resolve(token, now=TODAY) == person
    assert patient_token_expires_on(token) == TODAY + timedelta(days=365)


def test_a_scanner_s_keystrokes_are_accepted():
    person = _person()
    token = patient_token_issue(person=person, now=TODAY)
    grouped = " ".join(token[i:i + 4] for i in range(0, 32, 4))
    for typed in (f" {token}\r\n", f"]Q1{token}\n", f"]Q3{token}", f"ъЙ1{token}\r", f"\t{grouped}\n"):
        assert patient_token_resolve(typed, now=TODAY) == person, typed


def test_aware_datetime_uses_the_local_date(settings):
    person = _person()
    token = patient_token_issue(person=person, now=timezone.make_aware(datetime(2026, 3, 2, 23, 30)))
    assert patient_token_expires_on(token) == date(2027, 3, 2)


def test_every_tampered_digit_is_forged():
    token = patient_token_issue(person=_person(), now=TODAY)
    for i in range(1, len(token)):  # the first digit is the format version: another one is malformed
        for d in {str((int(token[i]) + 1) % 10), str((int(token[i]) + 7) % 10)}:
            assert _code(token[:i] + d + token[i + 1:], now=TODAY) == "patient_token.forged", i


def test_forged_with_another_key_or_purpose(settings):
    person = _person()
    settings.SECRET_KEY = "another-deployment-secret-key-0123456789-abcdefghijklmnop"
    foreign = patient_token_issue(person=person, now=TODAY)
    settings.SECRET_KEY = "test-only-secret-key-not-for-any-real-deployment-0123456789"
    assert _code(foreign, now=TODAY) == "patient_token.forged"


def test_old_secret_still_verifies_after_rotation(settings):
    person = _person()
    old = settings.SECRET_KEY
    token = patient_token_issue(person=person, now=TODAY)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated-secret-key-" + "x" * 40, [old]
    assert patient_token_resolve(token, now=TODAY) == person


def test_expiry(settings):
    settings.PATIENT_TOKEN_TTL_DAYS = 30
    person = _person()
    token = patient_token_issue(person=person, now=TODAY)
    assert patient_token_resolve(token, now=TODAY + timedelta(days=30)) == person
    with pytest.raises(ValidationFailed) as err:
        patient_token_resolve(token, now=TODAY + timedelta(days=31))
    assert err.value.code == "patient_token.expired"
    assert "новую карту" in err.value.message and "01.04.2026" in err.value.message


@pytest.mark.parametrize("raw", [
    "", "   ", "\r\n", None, 12345, "abc", "LLOP1234", "1234", "1" * 31, "1" * 33, "9" * 5000,
    "0" * 32, "2" + "0" * 31,  # unknown format versions
    "1' OR '1'='1' --", "<script>alert(1)</script>", "1" * 16 + "\x00" + "1" * 15, "١" * 32, "１" * 32,
    "ЙЦУКЕН", "]Q1", "]Q1ABC", "1111-2222-3333-4444-5555-6666-7777-8888",
])
def test_malformed_inputs(raw):
    assert _code(raw, now=TODAY) == "patient_token.malformed"


def test_letters_or_a_second_token_glued_on_are_malformed():
    token = patient_token_issue(person=_person(), now=TODAY)
    assert _code(token + "A", now=TODAY) == "patient_token.malformed"
    assert _code(token + token, now=TODAY) == "patient_token.malformed"


def test_merged_person_resolves_to_the_survivor():
    survivor = _person(1)
    middle = _person(2, snils=None)
    first = _person(3, snils=None)
    token = patient_token_issue(person=first, now=TODAY)
    Person.objects.filter(pk=middle.pk).update(merged_into=survivor)
    Person.objects.filter(pk=first.pk).update(merged_into=middle)
    assert patient_token_resolve(token, now=TODAY) == survivor


def test_a_merge_loop_is_unknown_not_an_endless_loop():
    a, b = _person(1), _person(2)
    token = patient_token_issue(person=a, now=TODAY)
    Person.objects.filter(pk=a.pk).update(merged_into=b)
    Person.objects.filter(pk=b.pk).update(merged_into=a)
    assert _code(token, now=TODAY) == "patient_token.unknown"


def test_unknown_person():
    person = _person()
    token = patient_token_issue(person=person, now=TODAY)
    Person.objects.filter(pk=person.pk).delete()
    assert _code(token, now=TODAY) == "patient_token.unknown"


def test_no_personal_data_in_the_token():
    person = _person(7)
    token = patient_token_issue(person=person, now=TODAY)
    birth = person.birth_date
    for secret in (person.snils, person.snils[:9], person.oms_policy, person.last_name, person.first_name,
                   f"{birth:%Y%m%d}", f"{birth:%d%m%Y}", f"{birth:%d%m%y}", f"{birth:%y%m%d}"):
        assert secret not in token, secret


def test_qr_encodes_exactly_the_token(tmp_path):
    person = _person()
    token = patient_token_issue(person=person)
    qr = token_qr(token)
    assert (qr.mode, qr.designator, qr.is_micro) == ("numeric", "1-M", False)
    again = segno.make_qr(token, error="m", mode="numeric")
    assert again.matrix == qr.matrix and again.designator == qr.designator
    # what the helpers draw is that symbol: re-encoding the token gives the same SVG and PNG
    png = patient_qr_png(person=person)
    svg = patient_qr_svg(person=person)
    assert png.startswith(b"\x89PNG") and svg.lstrip().startswith("<svg")
    assert token not in svg and person.last_name not in svg
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=5, border=4)
    assert buf.getvalue() == png
    if shutil.which("zbarimg"):  # a real decoder when the machine has one (Debian zbar-tools)
        (tmp_path / "qr.png").write_bytes(png)
        out = subprocess.run(["zbarimg", "--quiet", "--raw", tmp_path / "qr.png"], capture_output=True, check=True)
        assert out.stdout.decode().strip() == token
