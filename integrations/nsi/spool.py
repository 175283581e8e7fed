"""Reading a spooled dictionary file: a plain CSV (UTF-8, optional BOM, ";" delimiter, header
line first), checked line by line so that damage is reported where it is."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import NsiFormatError


class _Position:
    line = 0


@contextmanager
def read_spool(path: Path) -> Iterator[tuple[list[str], Iterator[list[str]]]]:
    """The header and the records of a spooled CSV file. A malformed file (broken quoting, NUL
    bytes, bytes that are not UTF-8) raises NsiFormatError naming the line, possibly while the
    records are being iterated. Blank lines are skipped."""
    with Path(path).open("rb") as handle:
        position = _Position()
        reader = csv.reader(_lines(handle, position), delimiter=";", strict=True)
        header = _next_record(reader, position)
        if not header:
            raise NsiFormatError("Файл справочника пуст: нет строки заголовка")
        yield header, _records(reader, position)


def _damaged(line: int, reason: str) -> NsiFormatError:
    return NsiFormatError(f"Файл справочника повреждён: строка {line}: {reason}")


def _lines(handle, position: _Position) -> Iterator[str]:
    for number, raw in enumerate(handle, start=1):
        position.line = number
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if b"\0" in raw:
            raise _damaged(number, "нулевой байт (NUL) в тексте")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _damaged(number, f"байты не в кодировке UTF-8 (позиция {exc.start + 1})") from None


def _next_record(reader, position: _Position) -> list[str] | None:
    start = position.line + 1  # a quoted field may span lines: name the line where its record begins
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise _damaged(start, _csv_reason(str(exc))) from None


def _records(reader, position: _Position) -> Iterator[list[str]]:
    while (record := _next_record(reader, position)) is not None:
        if record:
            yield record


def _csv_reason(text: str) -> str:
    if "unexpected end of data" in text:
        return "кавычка не закрыта до конца файла"
    if "expected after" in text:
        return "после закрывающей кавычки ожидался разделитель «;»"
    if "field larger than field limit" in text:
        return "слишком длинное поле"
    if "new-line character" in text:
        return "перевод строки внутри поля без кавычек"
    return f"ошибка разбора CSV ({text})"
