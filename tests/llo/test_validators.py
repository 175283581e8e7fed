import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from llo.validators import (
    format_snils,
    inn10_complete,
    ogrn_complete,
    snils_complete,
    validate_inn,
    validate_kpp,
    validate_mdlp_place_id,
    validate_ogrn,
    validate_oid,
    validate_snils,
)

digits = lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)  # noqa: E731


@given(digits(12))
def test_ogrn_completed_is_valid_and_any_other_check_digit_is_not(body):
    ogrn = ogrn_complete(body)
    assert validate_ogrn(ogrn) == ogrn
    for wrong in set("0123456789") - {ogrn[-1]}:
        with pytest.raises(ValidationError):
            validate_ogrn(body + wrong)


@given(digits(9))
def test_inn10_completed_is_valid_and_other_check_digits_are_not(body):
    inn = inn10_complete(body)
    assert validate_inn(inn) == inn
    for wrong in set("0123456789") - {inn[-1]}:
        with pytest.raises(ValidationError):
            validate_inn(body + wrong)


@pytest.mark.parametrize("inn", ["7707083893", "500100732259", "7830002293"])
def test_real_inns_pass(inn):
    assert validate_inn(inn) == inn


@pytest.mark.parametrize("ogrn", ["1027700132195", "1027739609391", "304500116000157"])
def test_real_ogrns_pass(ogrn):
    assert validate_ogrn(ogrn) == ogrn


@pytest.mark.parametrize("bad", ["", "123", "10277001321951", "102770013219a", "1027700132194"])
def test_bad_ogrn_rejected_with_specific_code(bad):
    with pytest.raises(ValidationError) as err:
        validate_ogrn(bad)
    assert err.value.code in {"invalid_length", "bad_check_digit"}


@pytest.mark.parametrize("value,normalized", [
    ("112-233-445 95", "11223344595"),
    ("11223344595", "11223344595"),
    ("  112-233-445 95 ", "11223344595"),
    ("001-001-998 00", "00100199800"),  # below the checksum threshold
])
def test_snils_accepts_both_shapes(value, normalized):
    assert validate_snils(value) == normalized


@pytest.mark.parametrize("bad,code", [
    ("112-233-445 96", "bad_check_digit"),
    ("1122334459", "invalid_format"),
    ("112-233-445-95x", "invalid_format"),
    ("", "invalid_format"),
])
def test_snils_rejects(bad, code):
    with pytest.raises(ValidationError) as err:
        validate_snils(bad)
    assert err.value.code == code


@given(digits(9).filter(lambda d: int(d) > 1001998))
def test_snils_round_trip(body):
    snils = snils_complete(body)
    assert validate_snils(format_snils(snils)) == snils


def test_kpp_mdlp_oid():
    assert validate_kpp("7701AB001") == "7701AB001"
    assert validate_mdlp_place_id("00000993000001") == "00000993000001"
    assert validate_oid("1.2.643.5.1.13.13.12.2.99.1")
    for func, bad in [(validate_kpp, "77010"), (validate_mdlp_place_id, "1234"), (validate_oid, "1..2")]:
        with pytest.raises(ValidationError):
            func(bad)
