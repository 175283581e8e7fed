"""DBF (dBase III) files of the Social Fund's federal register: C_REGO (persons) and C_REGL
(benefits). A streaming writer (the synthetic region generator, tests) and a streaming reader
(the importer).

The reader checks the file as a whole before it yields anything — the header, the fields the
caller needs, the size against the record count, the code page against the text — and raises
`DbfError` with a Russian message naming the file. The content of a record (a bad SNILS, an
impossible date) is not its business: values are yielded as stripped strings. See docs/sfr.md.
"""

from __future__ import annotations

import codecs
import importlib
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from llo.russian import plural

from .errors import DbfError

__all__ = ["DbfError", "DbfField", "PERSONS_LAYOUT", "RIGHTS_LAYOUT", "read_dbf", "write_dbf"]


@dataclass(frozen=True)
class DbfField:
    name: str
    type: str  # C text, N number, D date (YYYYMMDD), L logical; others are read as text
    length: int
    decimals: int = 0


PERSONS_LAYOUT: tuple[DbfField, ...] = (
    DbfField("SS", "C", 14), DbfField("SN_POL", "C", 25), DbfField("FAM", "C", 40), DbfField("IM", "C", 40),
    DbfField("OT", "C", 40), DbfField("W", "C", 1), DbfField("DR", "D", 8), DbfField("SN_DOC", "C", 25),
    DbfField("C_DOC", "C", 2), DbfField("ADRES", "C", 200), DbfField("OKATO_REG", "C", 11),
    DbfField("C_KAT1", "C", 3), DbfField("C_KAT2", "C", 3), DbfField("DATE_RSB", "C", 10),
    DbfField("DATE_RSE", "C", 10), DbfField("U_TYPE", "N", 1), DbfField("D_TYPE", "C", 10),
    DbfField("C_REG", "C", 2),
)
RIGHTS_LAYOUT: tuple[DbfField, ...] = (
    DbfField("SS", "C", 14), DbfField("C_KATL", "C", 3), DbfField("NAME_DL", "C", 100), DbfField("SN_DL", "C", 40),
    DbfField("DATE_BL", "C", 10), DbfField("DATE_EL", "C", 10),
)
PERSON_FIELDS = tuple(f.name for f in PERSONS_LAYOUT)
RIGHT_FIELDS = tuple(f.name for f in RIGHTS_LAYOUT)

# dBase III, with memo, dBase IV with memo, FoxPro 2 with memo, Visual FoxPro
VERSIONS = frozenset({0x03, 0x83, 0x8B, 0xF5, 0x30})
# language driver id (header byte 29) -> code page; 0 = not stated, read as cp866
LDID_CODEPAGES = {0x26: "cp866", 0x65: "cp866", 0x57: "cp1251", 0xC9: "cp1251"}
WRITE_LDID = {"cp866": 0x65, "cp1251": 0xC9}
DEFAULT_CODEPAGE = "cp866"
TEXT_TYPES = frozenset("CNDLF")
DATE_FIELDS = {"DR": 8}  # must be D, or C of at least this length
DESCRIPTOR = 32
TERMINATOR = 0x0D
EOF_MARK = b"\x1a"
CHUNK_RECORDS = 4096
WRITE_BATCH = 2048
SAMPLE_RECORDS = 200
ODD_SHARE = 0.05  # above this share of odd characters the code page is wrong

_RUSSIAN = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя"
# non-ASCII characters that Russian register data may hold; any other is "odd" (pseudographics,
# letters of other alphabets, signs that decoding with the wrong code page produces)
_USUAL = frozenset(_RUSSIAN + "№«»–—“”„…")
_OTHER_CODEPAGE = {"cp866": "cp1251", "cp1251": "cp866"}
# The stdlib cp866 codec encodes through a dict, ten times slower than a charmap table: both
# code pages go through tables built once.
_DECODING = {name: importlib.import_module(f"encodings.{name}").decoding_table for name in ("cp866", "cp1251")}
_ENCODING = {name: codecs.charmap_build(table) for name, table in _DECODING.items()}


def _count(n: int, one: str, few: str, many: str) -> str:
    return f"{n} {plural(n, one, few, many)}"


def _records(n: int) -> str:
    return _count(n, "запись", "записи", "записей")


# --- writing ------------------------------------------------------------------------------


def write_dbf(path: str | os.PathLike, layout: Iterable[DbfField], records: Iterable[dict[str, str]], *,
              encoding: str = "cp866") -> int:
    """Write `records` (dicts of raw strings by field name; a missing value is empty) as a dBase
    III file, streaming. Values are cut to the field's length; characters the code page lacks
    become "?". Returns the number of records written."""
    layout = tuple(layout)
    if encoding not in WRITE_LDID:
        raise ValueError(f"code page {encoding!r}: expected one of {sorted(WRITE_LDID)}")
    for item in layout:
        if not (item.name.isascii() and 0 < len(item.name) <= 10) or item.type not in "CNDL":
            raise ValueError(f"field {item!r}: a name of 1-10 ASCII characters and type C, N, D or L expected")
        if not 0 < item.length <= 254 or (item.type == "D" and item.length != 8):
            raise ValueError(f"field {item!r}: bad length")
    names = tuple(item.name for item in layout)
    template = " " + "".join(_spec(item) for item in layout)
    table = _ENCODING[encoding]
    trimmed = [i for i, item in enumerate(layout) if item.type in "NL"]
    count = 0
    batch: list[str] = []
    with open(path, "wb") as out:
        out.write(_header(layout, 0, WRITE_LDID[encoding]))
        for record in records:
            values = [record.get(name) for name in names]
            if not all(value.__class__ is str for value in values):
                values = [_value(value) for value in values]
            for i in trimmed:
                values[i] = values[i].strip()
            batch.append(template.format(*values))
            count += 1
            if len(batch) >= WRITE_BATCH:
                out.write(codecs.charmap_encode("".join(batch), "replace", table)[0])
                batch.clear()
        out.write(codecs.charmap_encode("".join(batch), "replace", table)[0])
        out.write(EOF_MARK)
        out.seek(4)
        out.write(struct.pack("<I", count))
    return count


def _value(value) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _spec(item: DbfField) -> str:
    """A format field that cuts a value to the field's length and pads it: numbers to the right."""
    return f"{{:{'>' if item.type == 'N' else '<'}{item.length}.{item.length}}}"


def _header(layout: tuple[DbfField, ...], count: int, ldid: int) -> bytes:
    today = date.today()
    header_length = DESCRIPTOR + DESCRIPTOR * len(layout) + 1
    record_length = 1 + sum(item.length for item in layout)
    head = struct.pack("<BBBBIHH17xB2x", 0x03, today.year - 1900, today.month, today.day, count,
                       header_length, record_length, ldid)
    fields = b"".join(
        struct.pack("<11sc4xBB14x", item.name.encode("ascii"), item.type.encode("ascii"), item.length,
                    item.decimals)
        for item in layout
    )
    return head + fields + bytes([TERMINATOR])


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    count: int
    header_length: int
    record_length: int
    ldid: int
    fields: list[DbfField]


@contextmanager
def read_dbf(path: str | os.PathLike, *, required: Iterable[str], name: str | None = None):
    """`with read_dbf(path, required=[...]) as (fields, records):` — `records` yields
    `(row_number, {field: stripped text})` for live records, row numbers counting every record
    slot from 1 (deleted records are skipped but counted). D fields read as YYYYMMDD, L as
    "T"/"F"/"". `name` names the file in messages (default: the file name without extension).

    A file that cannot be read as a whole raises DbfError on entry (header, fields, size, code
    page); damage found later (a record without its deletion flag) raises while iterating."""
    path = Path(path)
    label = name or path.stem
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        header = _read_header(handle, size, label)
        encoding = _codepage(header.ldid, label)
        _check_size(header, size, label)
        _check_required(header.fields, required, label)
        offsets = _offsets(header.fields)
        _check_codepage(handle, header, offsets, encoding, label)
        handle.seek(header.header_length)
        yield header.fields, _iterate(handle, header, offsets, encoding, label)


def _read_header(handle, size: int, label: str) -> _Header:
    head = handle.read(DESCRIPTOR)
    not_dbf = f"Файл {label} не является файлом DBF"
    if len(head) < DESCRIPTOR:
        raise DbfError(f"{not_dbf}: в нём всего {size} байт. Проверьте, что выбран файл выгрузки СФР")
    if head[0] not in VERSIONS:
        raise DbfError(f"{not_dbf} (dBase III): первый байт 0x{head[0]:02X} вместо 0x03. "
                       "Проверьте, что выбран файл выгрузки СФР, а не архив или документ")
    count, header_length, record_length = struct.unpack("<IHH", head[4:12])
    damaged = f"Заголовок файла {label} повреждён"
    if header_length < DESCRIPTOR * 2 + 1 or record_length < 2 or header_length > size:
        raise DbfError(f"{damaged}: длина заголовка {header_length} байт, длина записи {record_length} байт, "
                       f"размер файла {size} байт. Получите файл заново")
    raw = handle.read(header_length - DESCRIPTOR)
    fields: list[DbfField] = []
    position = 0
    while True:
        if position >= len(raw):
            raise DbfError(f"{damaged}: нет признака конца описания полей. Получите файл заново")
        if raw[position] == TERMINATOR:
            break
        descriptor = raw[position: position + DESCRIPTOR]
        if len(descriptor) < DESCRIPTOR:
            raise DbfError(f"{damaged}: описание поля {len(fields) + 1} обрезано. Получите файл заново")
        fields.append(_field(descriptor, len(fields) + 1, damaged))
        position += DESCRIPTOR
    if not fields:
        raise DbfError(f"{damaged}: в нём не описано ни одного поля. Получите файл заново")
    names = [item.name for item in fields]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DbfError(f"{damaged}: поле {', '.join(repeated)} описано дважды. Получите файл заново")
    total = 1 + sum(item.length for item in fields)
    if total != record_length:
        raise DbfError(f"{damaged}: длины полей в сумме дают запись {total} байт, а в заголовке {record_length}. "
                       "Получите файл заново")
    return _Header(count, header_length, record_length, head[29], fields)


def _field(descriptor: bytes, number: int, damaged: str) -> DbfField:
    name = descriptor[:11].split(b"\0", 1)[0].decode("ascii", "replace").strip().upper()
    kind = chr(descriptor[11]).upper()
    length, decimals = descriptor[16], descriptor[17]
    if kind == "C":  # Clipper and FoxPro keep the high byte of a long text field's length here
        length, decimals = length + 256 * decimals, 0
    if not name or not name.replace("_", "").isalnum() or not kind.isalpha() or length == 0:
        raise DbfError(f"{damaged}: описание поля {number} неверно. Получите файл заново")
    return DbfField(name, kind, length, decimals)


def _codepage(ldid: int, label: str) -> str:
    if ldid == 0:
        return DEFAULT_CODEPAGE
    try:
        return LDID_CODEPAGES[ldid]
    except KeyError:
        raise DbfError(
            f"В заголовке файла {label} указана неизвестная кодировка (код драйвера языка 0x{ldid:02X}, "
            "байт 29): ожидается cp866 (0x26, 0x65) или cp1251 (0x57, 0xC9). Перевыгрузите файл в cp866"
        ) from None


def _check_size(header: _Header, size: int, label: str) -> None:
    complete = max(size - header.header_length, 0) // header.record_length
    if complete < header.count:
        raise DbfError(f"Файл {label} обрезан: в заголовке {_records(header.count)}, в файле {complete}. "
                       "Получите файл заново")


def _check_required(fields: list[DbfField], required: Iterable[str], label: str) -> None:
    by_name = {item.name: item for item in fields}
    required = [name.upper() for name in required]
    missing = [name for name in required if name not in by_name]
    if missing:
        what = f"поля {missing[0]}" if len(missing) == 1 else f"полей {', '.join(missing)}"
        raise DbfError(f"В файле {label} нет {what}: проверьте, что выбран нужный файл (C_REGO — сведения "
                       "о гражданах, C_REGL — о льготах) из выгрузки СФР")
    for name in required:
        item = by_name[name]
        if item.type not in TEXT_TYPES:
            raise DbfError(f"Поле {item.name} в файле {label} имеет тип {item.type}, который не читается как текст: "
                           "ожидается C, N, D или L. Перевыгрузите файл")
        least = DATE_FIELDS.get(item.name)
        if least and not (item.type == "D" or (item.type == "C" and item.length >= least)):
            raise DbfError(f"Поле {item.name} в файле {label} имеет тип {item.type}({item.length}): ожидается дата "
                           f"(D) или строка C длиной не меньше {least}. Перевыгрузите файл")


def _offsets(fields: list[DbfField]) -> list[tuple[str, str, int, int]]:
    """(name, type, start, end) of each field within a record; the deletion flag is at 0."""
    result, start = [], 1
    for item in fields:
        result.append((item.name, item.type, start, start + item.length))
        start += item.length
    return result


def _odd_share(texts: list[str]) -> tuple[float, str]:
    """Share of odd characters among the non-ASCII ones, and a few examples of them."""
    total = odd = 0
    examples: list[str] = []
    for text in texts:
        for char in text:
            if char < "\x80":
                continue
            total += 1
            if char not in _USUAL:
                odd += 1
                if len(examples) < 5 and char not in examples and char.isprintable() and not char.isspace():
                    examples.append(char)
    return (odd / total if total else 0.0), "".join(examples)


def _check_codepage(handle, header: _Header, offsets, encoding: str, label: str) -> None:
    """Decode the text fields of the first records: text in another code page shows up as
    pseudographics (cp1251 read as cp866: ╚╨╤) or odd signs (cp866 read as cp1251: Ђ‚ѓ)."""
    sample = min(header.count, SAMPLE_RECORDS)
    if not sample:
        return
    handle.seek(header.header_length)
    data = handle.read(sample * header.record_length)
    text_fields = [(start, end) for _, kind, start, end in offsets if kind == "C"]
    length = header.record_length
    records = [data[i: i + length] for i in range(0, len(data), length) if data[i: i + 1] == b" "]
    parts = [record[start:end] for record in records for start, end in text_fields]
    share, examples = _odd_share([part.decode(encoding, "replace") for part in parts])
    if share <= ODD_SHARE:
        return
    other = _OTHER_CODEPAGE[encoding]
    other_share, _ = _odd_share([part.decode(other, "replace") for part in parts])
    guess = (f"похоже, текст в кодировке {other}" if other_share <= ODD_SHARE
             else "кодировку текста определить не удалось")
    stated = ("указанной в заголовке" if header.ldid else
              "принятой по умолчанию (кодировка в заголовке не указана)")
    where = "первой записи" if sample == 1 else f"первых {sample} записях"
    raise DbfError(
        f"Файл {label} записан не в кодировке {encoding}, {stated}: в {where} {share:.0%} необычных символов "
        f"(например, {examples}); {guess}. Перевыгрузите файл в cp866 или исправьте код кодировки в заголовке "
        "(байт 29)"
    )


def _builder(offsets) -> Callable[[str], dict[str, str]]:
    """`build(record)`: a record's text as a dict of stripped values. Generated once per file, as a
    single dict display of slices with constant bounds (the way dataclasses generate their methods):
    a third faster than a loop over the fields, which matters for millions of records. Names enter
    the source only through repr()."""
    items = ", ".join(f"{name!r}: record[{start}:{end}].strip()" for name, _, start, end in offsets)
    namespace: dict = {}
    exec(f"def build(record):\n    return {{{items}}}\n", namespace)  # noqa: S102 - literals only
    return namespace["build"]


def _iterate(handle, header: _Header, offsets, encoding: str, label: str) -> Iterator[tuple[int, dict[str, str]]]:
    decoding = _DECODING[encoding]
    build = _builder(offsets)
    logical = [name for name, kind, *_ in offsets if kind == "L"]
    length = header.record_length
    number = 0
    remaining = header.count
    while remaining:
        batch = min(remaining, CHUNK_RECORDS)
        data = handle.read(batch * length)
        if len(data) < batch * length:  # the file shrank while it was read
            raise DbfError(f"Файл {label} обрезан: в заголовке {_records(header.count)}, "
                           f"прочитано {number + len(data) // length}. Получите файл заново")
        remaining -= batch
        # single-byte code pages: one decode per chunk, then character offsets are byte offsets
        text = codecs.charmap_decode(data, "replace", decoding)[0]
        if "\x00" in text:
            text = text.replace("\x00", " ")
        for at in range(0, len(text), length):
            number += 1
            record = text[at:at + length]
            flag = record[0]
            if flag == " ":
                values = build(record)
                for name in logical:
                    values[name] = _logical(values[name])
                yield number, values
            elif flag != "*":
                raise DbfError(f"Файл {label} повреждён: запись {number} не начинается с признака удаления "
                               f"(пробел или *), в ней {flag!r}. Получите файл заново")


def _logical(value: str) -> str:
    return "T" if value in ("T", "t", "Y", "y") else "F" if value in ("F", "f", "N", "n") else ""
