"""The supplier's list of packs for direct acceptance, uploaded as CSV.

One pack or one box a row, five fields separated by `;` (a field holding `;` or `"` is quoted):

    sgtin;sscc;parent_sscc;series;expiry
    04601234567893ABCDEFGHIJ123;;146000000000000019;S123;2028-06-30   a pack, in a box
    ;146000000000000019;;;                                            the box itself

A header row with exactly these names may come first; empty rows are skipped. UTF-8 (with or
without BOM) or Windows-1251, as Excel saves it. The first malformed row stops the upload with its
row number and field (`ValidationFailed`, code `supplier_list.bad_row`): nothing is created.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from llo.barcodes import GS1_CHARS, is_valid_gtin, is_valid_sscc
from llo.errors import ValidationFailed

from .receipts import ExpectedPack

FIELDS = ("sgtin", "sscc", "parent_sscc", "series", "expiry")
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")


def _fail(row: int, field: str | None, message: str) -> ValidationFailed:
    where = f"Строка {row}, поле {field}" if field else f"Строка {row}"
    return ValidationFailed(f"{where}: {message}", code="supplier_list.bad_row",
                            details={"row": row, "field": field})


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="strict")


def _sgtin(value: str, row: int) -> str:
    gtin, serial = value[:14], value[14:]
    if len(value) != 27 or not gtin.isdigit():
        raise _fail(row, "sgtin", f"«{value}» — не SGTIN: нужны GTIN (14 цифр) и серийный номер (13 знаков)")
    if not is_valid_gtin(gtin):
        raise _fail(row, "sgtin", f"«{value}» — неверная контрольная цифра GTIN {gtin}")
    if not set(serial) <= GS1_CHARS:
        raise _fail(row, "sgtin", f"«{value}» — в серийном номере недопустимые знаки")
    return value


def _sscc(value: str, row: int, field: str) -> str:
    if len(value) != 18 or not value.isdigit():
        raise _fail(row, field, f"«{value}» — SSCC состоит из 18 цифр")
    if not is_valid_sscc(value):
        raise _fail(row, field, f"«{value}» — неверная контрольная цифра SSCC")
    return value


def _expiry(value: str, row: int) -> date:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise _fail(row, "expiry", f"«{value}» — не дата: ожидается ГГГГ-ММ-ДД или ДД.ММ.ГГГГ")


def parse_supplier_list(data: bytes) -> list[ExpectedPack]:
    """The packs and boxes of the supplier's document; raises `ValidationFailed` naming the row."""
    if len(data) > MAX_BYTES:
        raise ValidationFailed(f"Файл больше {MAX_BYTES // (1024 * 1024)} МБ: разделите документ",
                               code="supplier_list.too_large")
    try:
        text = _decode(data)
    except UnicodeDecodeError:
        raise ValidationFailed("Файл не текстовый: сохраните список как CSV (UTF-8 или Windows-1251)",
                               code="supplier_list.not_text") from None
    packs: list[ExpectedPack] = []
    seen: dict[str, int] = {}
    rows = enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=";"), start=1)
    row = 0
    try:
        for row, cells in rows:
            _take(cells, row, packs, seen)
    except csv.Error:
        raise _fail(row + 1, None, "строка не разобрана как CSV (кавычки или служебные знаки)") from None
    if not packs:
        raise ValidationFailed("В файле нет ни одной строки с упаковкой", code="supplier_list.empty")
    return packs


def expected_packs(items: list[dict]) -> list[ExpectedPack]:
    """The same list given as objects (the API): `{"sgtin", "sscc", "parent_sscc", "series", "expiry"}`,
    each key optional; the row number of an error is the item's number from 1."""
    packs: list[ExpectedPack] = []
    seen: dict[str, int] = {}
    for row, item in enumerate(items, start=1):
        unknown = set(item) - set(FIELDS)
        if unknown:
            raise _fail(row, sorted(unknown)[0], "неизвестное поле: допустимы sgtin, sscc, parent_sscc, series, expiry")
        packs.append(_pack({name: str(item.get(name) or "").strip() for name in FIELDS}, row, seen))
    return packs


def _take(cells: list[str], row: int, packs: list[ExpectedPack], seen: dict[str, int]) -> None:
    cells = [cell.strip() for cell in cells]
    while len(cells) > len(FIELDS) and not cells[-1]:  # Excel adds empty columns at the end
        cells.pop()
    if not any(cells):
        return
    if not packs and cells[0].lower() == "sgtin":
        if tuple(cell.lower() for cell in cells) != FIELDS:
            raise _fail(row, None, "заголовок должен быть sgtin;sscc;parent_sscc;series;expiry")
        return
    if len(cells) != len(FIELDS):
        raise _fail(row, None, f"нужно {len(FIELDS)} полей через «;» (sgtin;sscc;parent_sscc;series;expiry), "
                               f"а их {len(cells)}")
    if len(packs) >= MAX_ROWS:
        raise _fail(row, None, f"больше {MAX_ROWS} строк в одном документе: разделите его")
    packs.append(_pack(dict(zip(FIELDS, cells)), row, seen))


def _pack(cells: dict[str, str], row: int, seen: dict[str, int]) -> ExpectedPack:
    sgtin, sscc, parent = cells["sgtin"], cells["sscc"], cells["parent_sscc"]
    if sgtin and sscc:
        raise _fail(row, "sscc", "в строке и SGTIN, и SSCC: упаковка и короб — разные строки")
    if not sgtin and not sscc:
        raise _fail(row, "sgtin", "пусто: укажите SGTIN упаковки или SSCC короба")
    code = _sgtin(sgtin, row) if sgtin else _sscc(sscc, row, "sscc")
    if code in seen:
        raise _fail(row, "sgtin" if sgtin else "sscc", f"{code} уже указан в строке {seen[code]}")
    seen[code] = row
    if parent:
        _sscc(parent, row, "parent_sscc")
        if parent == sscc:
            raise _fail(row, "parent_sscc", "короб не может лежать сам в себе")
    if sscc:
        return ExpectedPack(sscc=sscc, parent_sscc=parent)
    if not cells["series"]:
        raise _fail(row, "series", "пусто: укажите серию упаковки")
    if len(cells["series"]) > 40:
        raise _fail(row, "series", "серия длиннее 40 знаков")
    if not cells["expiry"]:
        raise _fail(row, "expiry", "пусто: укажите срок годности")
    return ExpectedPack(sgtin=sgtin, parent_sscc=parent, series=cells["series"], expiry=_expiry(cells["expiry"], row))
