"""DBF files of the Social Fund's register (C_REGO, C_REGL): writing, streaming reading, and every
file-level fault the reader must name before it yields a wrong record."""

import pickle
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.sfr.dbf import (
    PERSONS_LAYOUT,
    RIGHTS_LAYOUT,
    DbfError,
    DbfField,
    read_dbf,
    write_dbf,
)
from registry.synthetic import PERSON_FIELDS, RIGHT_FIELDS, Region

PERSONS = 60


@pytest.fixture(scope="module")
def register():
    return list(Region(seed=3).federal_register(PERSONS))


def read_all(path, required=(), **kwargs):
    with read_dbf(path, required=required, **kwargs) as (fields, records):
        return fields, list(records)


def patch(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def header_length(layout) -> int:
    return 32 + 32 * len(layout) + 1


def record_length(layout) -> int:
    return 1 + sum(f.length for f in layout)


# --- round trip --------------------------------------------------------------------------------

def test_layouts_hold_the_register_fields():
    assert tuple(f.name for f in PERSONS_LAYOUT) == PERSON_FIELDS
    assert tuple(f.name for f in RIGHTS_LAYOUT) == RIGHT_FIELDS


@pytest.mark.parametrize("encoding, ldid", [("cp866", 0x65), ("cp1251", 0xC9)])
def test_generated_register_round_trip(tmp_path, register, encoding, ldid):
    persons = [p for p, _ in register]
    rights = [r for _, rs in register for r in rs]
    rego, regl = tmp_path / "C_REGO.DBF", tmp_path / "C_REGL.DBF"
    assert write_dbf(rego, PERSONS_LAYOUT, iter(persons), encoding=encoding) == PERSONS
    assert write_dbf(regl, RIGHTS_LAYOUT, iter(rights), encoding=encoding) == len(rights)

    raw = rego.read_bytes()
    assert raw[0] == 0x03 and raw[29] == ldid and raw[-1:] == b"\x1a"
    assert struct.unpack("<IHH", raw[4:12]) == (PERSONS, header_length(PERSONS_LAYOUT), record_length(PERSONS_LAYOUT))
    assert len(raw) == header_length(PERSONS_LAYOUT) + PERSONS * record_length(PERSONS_LAYOUT) + 1

    fields, records = read_all(rego, PERSON_FIELDS)
    assert fields == list(PERSONS_LAYOUT)
    assert records == list(enumerate(persons, start=1))
    fields, records = read_all(regl, RIGHT_FIELDS)
    assert fields == list(RIGHTS_LAYOUT)
    assert [r for _, r in records] == rights


def test_values_are_cut_padded_and_replaced(tmp_path):
    layout = [DbfField("NAME", "C", 5), DbfField("QTY", "N", 4), DbfField("DAY", "D", 8), DbfField("OK", "L", 1)]
    path = tmp_path / "x.dbf"
    write_dbf(path, layout, [{"NAME": "Щукина-Петрова", "QTY": 12, "DAY": "20260101", "OK": "T"},
                             {"NAME": " 😀 ab", "OK": "n"}, {}])
    body = path.read_bytes()[header_length(layout):]
    assert body[: record_length(layout)] == " Щукин".encode("cp866") + b"  1220260101T"
    _, records = read_all(path)
    assert [r for _, r in records] == [
        {"NAME": "Щукин", "QTY": "12", "DAY": "20260101", "OK": "T"},
        {"NAME": "? ab", "QTY": "", "DAY": "", "OK": "F"},
        {"NAME": "", "QTY": "", "DAY": "", "OK": ""},
    ]


def test_writer_refuses_what_dbase_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="code page"):
        write_dbf(tmp_path / "x.dbf", RIGHTS_LAYOUT, [], encoding="utf-8")
    with pytest.raises(ValueError):
        write_dbf(tmp_path / "x.dbf", [DbfField("VERY_LONG_NAME", "C", 5)], [])
    with pytest.raises(ValueError):
        write_dbf(tmp_path / "x.dbf", [DbfField("MEMO", "M", 10)], [])


_TEXT = st.text(alphabet="АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-/№()\"'", max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(encoding=st.sampled_from(["cp866", "cp1251"]),
       records=st.lists(st.fixed_dictionaries({"SS": _TEXT, "FAM": _TEXT, "ADRES": _TEXT, "C_KAT1": _TEXT}),
                        max_size=12))
def test_arbitrary_cyrillic_and_latin_text_round_trips(encoding, records):
    layout = [DbfField("SS", "C", 14), DbfField("FAM", "C", 40), DbfField("ADRES", "C", 200),
              DbfField("C_KAT1", "C", 3)]
    lengths = {f.name: f.length for f in layout}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "C_REGO.DBF"
        assert write_dbf(path, layout, records, encoding=encoding) == len(records)
        _, got = read_all(path, ["SS", "FAM"])
    expected = [{name: value[: lengths[name]].strip() for name, value in record.items()} for record in records]
    assert got == list(enumerate(expected, start=1))


# --- record slots --------------------------------------------------------------------------------

def test_deleted_records_are_skipped_and_row_numbers_kept(tmp_path, register):
    path = tmp_path / "C_REGO.DBF"
    write_dbf(path, PERSONS_LAYOUT, (p for p, _ in register[:6]))
    for row in (2, 5):
        patch(path, header_length(PERSONS_LAYOUT) + (row - 1) * record_length(PERSONS_LAYOUT), b"*")
    _, records = read_all(path, PERSON_FIELDS)
    assert [n for n, _ in records] == [1, 3, 4, 6]
    assert [r["SS"] for _, r in records] == [register[i][0]["SS"] for i in (0, 2, 3, 5)]


def test_a_record_without_its_deletion_flag_is_damage(tmp_path, register):
    path = tmp_path / "C_REGL.DBF"
    rights = [r for _, rs in register for r in rs][:10]
    write_dbf(path, RIGHTS_LAYOUT, rights)
    patch(path, header_length(RIGHTS_LAYOUT) + 6 * record_length(RIGHTS_LAYOUT), b"#")
    seen = []
    with pytest.raises(DbfError, match="запись 7 не начинается с признака удаления") as error:
        with read_dbf(path, required=RIGHT_FIELDS) as (_fields, records):
            for number, _record in records:
                seen.append(number)
    assert seen == [1, 2, 3, 4, 5, 6] and "C_REGL" in error.value.message


def test_reading_streams_in_chunks(tmp_path, register, monkeypatch):
    from integrations.sfr import dbf

    monkeypatch.setattr(dbf, "CHUNK_RECORDS", 7)
    path = tmp_path / "C_REGO.DBF"
    write_dbf(path, PERSONS_LAYOUT, (p for p, _ in register))
    _, records = read_all(path, PERSON_FIELDS)
    assert [r for _, r in records] == [p for p, _ in register]


def test_an_empty_file_of_records(tmp_path):
    path = tmp_path / "C_REGL.DBF"
    assert write_dbf(path, RIGHTS_LAYOUT, []) == 0
    fields, records = read_all(path, RIGHT_FIELDS)
    assert fields == list(RIGHTS_LAYOUT) and records == []


# --- file-level faults --------------------------------------------------------------------------

def test_a_truncated_file_is_refused_before_any_record(tmp_path, register):
    path = tmp_path / "C_REGO.DBF"
    write_dbf(path, PERSONS_LAYOUT, (p for p, _ in register[:10]))
    size = header_length(PERSONS_LAYOUT) + 8 * record_length(PERSONS_LAYOUT) + 100
    path.write_bytes(path.read_bytes()[:size])
    with pytest.raises(DbfError) as error:
        read_all(path, PERSON_FIELDS)
    assert error.value.message.startswith("Файл C_REGO обрезан: в заголовке 10 записей, в файле 8")


@pytest.mark.parametrize("content, reason", [
    (b"", "в нём всего 0 байт"),
    (b"PK\x03\x04" + b"\x00" * 60, "первый байт 0x50 вместо 0x03"),
    ("СНИЛС;Фамилия\n".encode() * 5, "первый байт 0xD0"),
])
def test_not_a_dbf(tmp_path, content, reason):
    path = tmp_path / "C_REGO.DBF"
    path.write_bytes(content)
    with pytest.raises(DbfError) as error:
        read_all(path, ["SS"])
    assert "Файл C_REGO не является файлом DBF" in error.value.message and reason in error.value.message


def test_a_damaged_header(tmp_path, register):
    path = tmp_path / "C_REGL.DBF"
    write_dbf(path, RIGHTS_LAYOUT, [r for _, rs in register[:3] for r in rs])
    patch(path, 10, struct.pack("<H", 99))  # record length no longer the sum of the fields
    with pytest.raises(DbfError, match="Заголовок файла C_REGL повреждён: длины полей"):
        read_all(path, RIGHT_FIELDS)
    patch(path, 10, struct.pack("<H", record_length(RIGHTS_LAYOUT)))
    patch(path, header_length(RIGHTS_LAYOUT) - 1, b" ")  # no terminator
    with pytest.raises(DbfError, match="повреждён"):
        read_all(path, RIGHT_FIELDS)


def test_a_missing_required_field_is_named(tmp_path, register):
    layout = [f for f in PERSONS_LAYOUT if f.name != "DR"]
    path = tmp_path / "C_REGO.DBF"
    write_dbf(path, layout, (p for p, _ in register[:3]))
    with pytest.raises(DbfError) as error:
        read_all(path, PERSON_FIELDS)
    assert error.value.message.startswith("В файле C_REGO нет поля DR:")
    # a benefits file given where the persons file was expected
    rights = tmp_path / "upload-1.dbf"
    write_dbf(rights, RIGHTS_LAYOUT, [r for _, rs in register[:2] for r in rs])
    with pytest.raises(DbfError, match="^В файле C_REGO нет полей SN_POL, FAM:"):
        read_all(rights, ["SS", "SN_POL", "FAM"], name="C_REGO")
    assert read_all(path, (n for n in ["ss", "fam"]))[1][0][1]["FAM"] == register[0][0]["FAM"]  # any case


@pytest.mark.parametrize("field, ok", [
    (DbfField("DR", "D", 8), True), (DbfField("DR", "C", 10), True), (DbfField("DR", "C", 6), False),
    (DbfField("DR", "N", 8), False),
])
def test_the_birth_date_must_be_a_date_or_long_enough_text(tmp_path, field, ok):
    path = tmp_path / "C_REGO.DBF"
    write_dbf(path, [DbfField("SS", "C", 14), field], [{"SS": "112-233-445 95", "DR": "19500101"}])
    if ok:
        assert read_all(path, ["SS", "DR"])[1][0][1]["DR"].startswith("195")
    else:
        with pytest.raises(DbfError, match=rf"Поле DR в файле C_REGO имеет тип {field.type}\({field.length}\)"):
            read_all(path, ["SS", "DR"])
    assert read_all(path, ["SS"])[1][0][0] == 1  # not required, not checked


@pytest.mark.parametrize("written, stated, other", [("cp1251", 0x65, "cp866"), ("cp866", 0xC9, "cp1251")])
def test_a_wrong_code_page_is_detected(tmp_path, register, written, stated, other):
    path = tmp_path / "C_REGO.DBF"
    write_dbf(path, PERSONS_LAYOUT, (p for p, _ in register), encoding=written)
    patch(path, 29, bytes([stated]))
    with pytest.raises(DbfError) as error:
        read_all(path, PERSON_FIELDS)
    message = error.value.message
    assert message.startswith(f"Файл C_REGO записан не в кодировке {other}, указанной в заголовке")
    assert f"похоже, текст в кодировке {written}" in message and "Перевыгрузите файл" in message
    assert register[0][0]["FAM"] not in message  # a few odd characters, no personal data


def test_a_file_without_a_stated_code_page_is_read_as_cp866(tmp_path, register):
    path = tmp_path / "C_REGO.DBF"
    write_dbf(path, PERSONS_LAYOUT, (p for p, _ in register), encoding="cp866")
    patch(path, 29, b"\x00")
    assert [r for _, r in read_all(path, PERSON_FIELDS)[1]] == [p for p, _ in register]
    write_dbf(path, PERSONS_LAYOUT, (p for p, _ in register), encoding="cp1251")
    patch(path, 29, b"\x00")
    with pytest.raises(
            DbfError, match="не в кодировке cp866, принятой по умолчанию .* похоже, текст в кодировке cp1251",
    ):
        read_all(path, PERSON_FIELDS)


@pytest.mark.parametrize("ldid", [0x26, 0x57])
def test_other_language_driver_ids_of_the_two_code_pages(tmp_path, register, ldid):
    path = tmp_path / "C_REGO.DBF"
    write_dbf(path, PERSONS_LAYOUT, (p for p, _ in register[:5]), encoding="cp866" if ldid == 0x26 else "cp1251")
    patch(path, 29, bytes([ldid]))
    assert [r for _, r in read_all(path, PERSON_FIELDS)[1]] == [p for p, _ in register[:5]]


def test_an_unknown_language_driver_id(tmp_path, register):
    path = tmp_path / "C_REGO.DBF"
    write_dbf(path, PERSONS_LAYOUT, (p for p, _ in register[:2]))
    patch(path, 29, b"\x03")
    with pytest.raises(DbfError, match="неизвестная кодировка \\(код драйвера языка 0x03"):
        read_all(path, PERSON_FIELDS)


def test_latin_only_text_passes_the_code_page_check(tmp_path):
    path = tmp_path / "C_REGL.DBF"
    write_dbf(path, RIGHTS_LAYOUT, [{"SS": "112-233-445 95", "NAME_DL": "Certificate", "C_KATL": "010"}] * 3)
    patch(path, 29, b"\xc9")
    assert len(read_all(path, RIGHT_FIELDS)[1]) == 3


def test_errors_pickle_with_their_message():
    error = pickle.loads(pickle.dumps(DbfError("Файл C_REGO обрезан")))
    assert isinstance(error, DbfError) and error.message == "Файл C_REGO обрезан"
