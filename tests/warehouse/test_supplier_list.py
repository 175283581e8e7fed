"""The supplier's CSV list for direct acceptance: what Excel and suppliers' systems really save, and
every malformed row refused with its row number and field (no database needed)."""

from datetime import date

import pytest

from llo.errors import ValidationFailed
from warehouse.receipts import ExpectedPack
from warehouse.supplier_list import parse_supplier_list

from . import factories as wf

GTIN = "04607028393877"  # a valid check digit
PACK = GTIN + "ABCdef1234567"
BOX = wf.sscc(11)


def test_packs_and_boxes_in_utf8_with_bom_or_windows_1251_with_a_header_and_excel_leftovers():
    body = (f"SGTIN;SSCC;PARENT_SSCC;SERIES;EXPIRY\r\n\r\n;{BOX};;;;\r\n"
            f"{PACK};;{BOX};Серия-1;30.06.2028;;\r\n\"{GTIN}A;B\"\"cdef12345\";;;S2;2028-07-31\r\n")
    expected = [ExpectedPack(sscc=BOX), ExpectedPack(sgtin=PACK, parent_sscc=BOX, series="Серия-1",
                                                     expiry=date(2028, 6, 30)),
                ExpectedPack(sgtin=f'{GTIN}A;B"cdef12345', series="S2", expiry=date(2028, 7, 31))]
    assert parse_supplier_list(b"\xef\xbb\xbf" + body.encode("utf-8")) == expected
    assert parse_supplier_list(body.encode("cp1251")) == expected
    assert parse_supplier_list(f"{PACK};;;S;2028-06-30".encode()) == [ExpectedPack(sgtin=PACK, series="S",
                                                                                 expiry=date(2028, 6, 30))]


@pytest.mark.parametrize("rows, row, field, words", [
    ([f"{PACK};{BOX};;S;2028-06-30"], 1, "sscc", "и SGTIN, и SSCC"),
    ([f"{GTIN}ABC;;;S;2028-06-30"], 1, "sgtin", "не SGTIN"),
    ([f"{GTIN[:13]}0ABCdef1234567;;;S;2028-06-30"], 1, "sgtin", "контрольная цифра GTIN"),
    ([f"{GTIN}ABCdef123456 ;;;S;2028-06-30"], 1, "sgtin", "не SGTIN"),  # 12 characters once stripped
    ([f"{GTIN}ABCdef12345й7;;;S;2028-06-30"], 1, "sgtin", "недопустимые знаки"),
    ([";123456789012345678;;;"], 1, "sscc", "контрольная цифра SSCC"),
    ([f"{PACK};;{BOX[:17]}X;S;2028-06-30"], 1, "parent_sscc", "18 цифр"),
    ([f";{BOX};{BOX};;"], 1, "parent_sscc", "сам в себе"),
    ([f"{PACK};;;;2028-06-30"], 1, "series", "пусто"),
    ([f"{PACK};;;{'S' * 41};2028-06-30"], 1, "series", "длиннее 40"),
    ([f"{PACK};;;S;"], 1, "expiry", "пусто"),
    ([f"{PACK};;;S;2028-02-30"], 1, "expiry", "не дата"),
    (["sgtin;sscc;parent;series;expiry"], 1, None, "заголовок"),
    (["", f"{PACK};;;S"], 2, None, "нужно 5 полей"),
    ([f"{PACK};;;S;2028-06-30", "", f"{PACK};;;S;2028-06-30"], 3, "sgtin", "уже указан в строке 1"),
    ([f";{BOX};;;", f";{BOX};;;"], 2, "sscc", "уже указан в строке 1"),
])
def test_a_bad_row_is_named_with_its_number_and_field(rows, row, field, words):
    with pytest.raises(ValidationFailed) as caught:
        parse_supplier_list("\n".join(rows).encode())
    error = caught.value
    assert error.code == "supplier_list.bad_row" and error.details == {"row": row, "field": field}
    assert error.message.startswith(f"Строка {row}" + (f", поле {field}: " if field else ": "))
    assert words in error.message


@pytest.mark.parametrize("data, code", [
    (b"", "supplier_list.empty"),
    (b"sgtin;sscc;parent_sscc;series;expiry\n\n", "supplier_list.empty"),
    (b"\x00\x81\x98\xff" * 10, "supplier_list.not_text"),
    (b"x" * (20 * 1024 * 1024 + 1), "supplier_list.too_large"),
])
def test_files_that_are_no_list_at_all(data, code):
    with pytest.raises(ValidationFailed) as caught:
        parse_supplier_list(data)
    assert caught.value.code == code
