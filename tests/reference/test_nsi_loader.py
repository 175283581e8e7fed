"""Applying NSI dictionary versions: counts, retirement, curation kept, and every kind of bad input
refused with dictionary, record and field named — the previous version staying in force."""

from datetime import date
from decimal import Decimal

import pytest
from pghistory.models import Events

from llo.errors import ConflictError, ValidationFailed
from llo.models import (
    Diagnosis, NsiDictionary, NsiImportRun, Package, RunStatus, StandardizedDrug, TradeName, Unit,
)
from llo.reference import demo_data
from llo.reference.nsi import dictionaries as d
from llo.reference.nsi.loader import LoadFailed
from llo.reference.nsi.services import (
    dictionaries_ensure, nsi_import_apply, nsi_import_fail, nsi_import_request, nsi_import_start, version_key,
)

pytestmark = pytest.mark.django_db
V10, V11 = demo_data.VERSIONS


def _run(oid: str, version: str = "") -> NsiImportRun:
    dictionaries_ensure()
    run = nsi_import_request(dictionary=NsiDictionary.objects.get(oid=oid), version=version)
    assert nsi_import_start(run=run)
    return run


def apply(oid: str, version=V10, *, header=None, rows=None) -> NsiImportRun:
    base_header, base_rows = demo_data.dictionary_rows(oid, version.version)
    run = _run(oid, version.version)
    return nsi_import_apply(run=run, version=version.version, publish_date=version.publish_date,
                            header=header or base_header, rows=rows if rows is not None else base_rows, source="test")


def esklp_rows(version=V10) -> tuple[list[str], list[list[str]]]:
    header, rows = demo_data.dictionary_rows(d.ESKLP, version.version)
    return header, [list(r) for r in rows]


def load_base():
    for oid in (d.UNITS, d.ROUTES, d.SMNN, d.ESKLP):
        apply(oid)


def column(header, name):
    return header.index(name)


def test_first_version_adds_records_and_the_next_reports_changes_and_retirements():
    load_base()
    first = NsiImportRun.objects.get(dictionary__oid=d.ESKLP)
    assert (first.status, first.rows_total, first.added, first.changed, first.retired) == ("succeeded", 335, 335, 0, 0)
    assert {"table": "llo_tradename", "added": 239, "changed": 0, "retired": 0} in first.tables

    apply(d.SMNN, V11)
    update = apply(d.ESKLP, V11)
    assert (update.added, update.changed, update.retired) == (1, 18, 1)  # Оземпик; Metformin prices; Энап withdrawn
    withdrawn = Package.objects.get(trade_name__name="Энап", pack_description__contains="10 мг, № 20")
    assert withdrawn.valid_to == V11.publish_date.replace(day=V11.publish_date.day - 1)
    assert withdrawn.is_valid_on(date(2026, 11, 9)) and not withdrawn.is_valid_on(V11.publish_date)
    assert Package.objects.valid_on(V11.publish_date).count() == 335
    price = Package.objects.filter(trade_name__name="Сиофор", pack_description__contains="500 мг, № 30").get().price_cap
    assert price == Decimal("99.75")  # 95.00 × 1.05
    assert NsiDictionary.objects.get(oid=d.ESKLP).loaded_version == "1.1"


def test_same_content_twice_changes_nothing_and_audits_nothing():
    load_base()
    catalogue = Events.objects.filter(pgh_obj_model__in=["llo.Package", "llo.TradeName", "llo.StandardizedDrug"])
    events = catalogue.count()
    header, rows = esklp_rows()
    run = _run(d.ESKLP, "1.0.1")
    run = nsi_import_apply(run=run, version="1.0.1", publish_date=V10.publish_date, header=header, rows=rows,
                           source="test")
    assert (run.added, run.changed, run.retired) == (0, 0, 0)
    assert catalogue.count() == events


def test_icd10_is_a_tree_with_parents_resolved_in_one_version():
    apply(d.ICD10)
    e11_9 = Diagnosis.objects.get(code="E11.9")
    assert [e11_9.parent.code, e11_9.parent.parent.code, e11_9.parent.parent.parent.code] == ["E11", "E10-E14", "IV"]
    assert Diagnosis.objects.filter(parent__isnull=True).count() == 13  # the chapters


def test_curated_flags_survive_an_import_and_return_after_reset(ministry_admin):
    from llo.reference.services import curation_reset, package_flags_set

    load_base()
    package = Package.objects.filter(trade_name__name="Сиофор", is_jnvlp=True).order_by("pk").first()
    package_flags_set(user=ministry_admin, package=package, is_jnvlp=True, price_cap=Decimal("1.00"), is_marked=True)
    apply(d.SMNN, V11)
    apply(d.ESKLP, V11)
    package.refresh_from_db()
    assert package.price_cap == Decimal("1.00") and set(package.curated_fields) == {"is_jnvlp", "price_cap"}
    curation_reset(user=ministry_admin, obj=package)
    header, rows = esklp_rows(V11)
    run = _run(d.ESKLP, "1.2")
    nsi_import_apply(run=run, version="1.2", publish_date=date(2026, 11, 20), header=header, rows=rows, source="test")
    package.refresh_from_db()
    assert package.price_cap > Decimal("50")


def test_a_retired_record_that_returns_is_reopened():
    load_base()
    header, rows = esklp_rows()
    gone = rows.pop(0)
    run = _run(d.ESKLP, "1.0.1")
    assert nsi_import_apply(run=run, version="1.0.1", publish_date=date(2026, 1, 10), header=header, rows=rows,
                            source="t").retired == 1
    package = Package.objects.get(nsi_code=gone[0])
    assert package.valid_to == date(2026, 1, 9)
    run = _run(d.ESKLP, "1.0.2")
    again = nsi_import_apply(run=run, version="1.0.2", publish_date=date(2026, 2, 1), header=header,
                             rows=[gone, *rows], source="t")
    assert (again.added, again.changed, again.retired) == (0, 1, 0)
    package.refresh_from_db()
    assert package.valid_to is None


# --- bad input: a clear error naming dictionary, record and field; nothing changes ------------

def assert_refused(oid, header, rows, *, field, row, fragment, version="1.2"):
    before = (Package.objects.count(), TradeName.objects.count(), StandardizedDrug.objects.count(),
              Unit.objects.count(), NsiDictionary.objects.get(oid=oid).loaded_version if
              NsiDictionary.objects.filter(oid=oid).exists() else "")
    run = _run(oid, version)
    with pytest.raises(LoadFailed) as caught:
        nsi_import_apply(run=run, version=version, publish_date=date(2026, 11, 20), header=header, rows=rows,
                         source="test")
    error = caught.value
    nsi_import_fail(run=run, error=error.message, error_rows=error.details["errors"])
    assert NsiImportRun.objects.get(pk=run.pk).error_rows[0]["field"] == field
    assert oid in error.message and "остаётся в силе" in error.message
    first = error.details["errors"][0]
    assert (first["row"], first["field"]) == (row, field), error.details
    assert fragment in first["message"], first["message"]
    after = (Package.objects.count(), TradeName.objects.count(), StandardizedDrug.objects.count(),
             Unit.objects.count(), NsiDictionary.objects.get(oid=oid).loaded_version)
    assert after == before
    return error


@pytest.fixture
def loaded():
    load_base()
    return esklp_rows()


def test_gtin_with_a_wrong_check_digit(loaded):
    header, rows = loaded
    g = column(header, "GTIN")
    rows[4][g] = rows[4][g][:-1] + str((int(rows[4][g][-1]) + 1) % 10)
    assert_refused(d.ESKLP, header, rows, field="GTIN", row=5, fragment="контрольная цифра")


def test_missing_mandatory_field(loaded):
    header, rows = loaded
    rows[9][column(header, "MANUFACTURER")] = "  "
    assert_refused(d.ESKLP, header, rows, field="MANUFACTURER", row=10, fragment="обязательное поле")


def test_every_bad_record_is_counted_not_only_the_first(loaded):
    header, rows = loaded
    for row in rows[:30]:
        row[column(header, "PACK_QTY")] = "много"
    error = assert_refused(d.ESKLP, header, rows, field="PACK_QTY", row=1, fragment="ожидается число")
    assert error.details["error_count"] == 30 and "ещё ошибок: 29" in error.message


@pytest.mark.parametrize("name, value, fragment", [
    ("DATE_BEGIN", "31.02.2026", "ожидается дата"),
    ("MARKED", "может быть", "ожидается 1 или 0"),
    ("PRICE_CAP", "-5", "вне допустимого диапазона"),
    ("TRADE_NAME", "Я" * 501, "длиннее 500"),
])
def test_malformed_values(loaded, name, value, fragment):
    header, rows = loaded
    rows[2][column(header, name)] = value
    assert_refused(d.ESKLP, header, rows, field=name, row=3, fragment=fragment)


def test_record_with_a_wrong_number_of_fields(loaded):
    header, rows = loaded
    rows[6] = rows[6][:-2]
    assert_refused(d.ESKLP, header, rows, field=None, row=7, fragment="ожидалось полей")


def test_changed_structure_missing_column(loaded):
    header, rows = loaded
    g = column(header, "GTIN")
    header = [h for i, h in enumerate(header) if i != g]
    rows = [[v for i, v in enumerate(r) if i != g] for r in rows]
    assert_refused(d.ESKLP, header, rows, field="GTIN", row=None, fragment="поля нет")


def test_reference_to_an_unknown_standardized_drug(loaded):
    header, rows = loaded
    rows[11][column(header, "SMNN_ID")] = "21.20.10.999-999999-1-00001-0000000000000"
    assert_refused(d.ESKLP, header, rows, field="SMNN_ID", row=12, fragment="загрузите сначала")


def test_duplicate_record_ids(loaded):
    header, rows = loaded
    rows[20][0] = rows[3][0]
    assert_refused(d.ESKLP, header, rows, field="ID", row=4, fragment="повторяется")


def test_price_cap_outside_jnvlp(loaded):
    header, rows = loaded
    row = next(i for i, r in enumerate(rows) if r[column(header, "JNVLP")] == "1")
    rows[row][column(header, "JNVLP")] = "0"
    assert_refused(d.ESKLP, header, rows, field="PRICE_CAP", row=row + 1, fragment="вне ЖНВЛП")


def test_end_before_begin_and_marked_without_gtin(loaded):
    header, rows = loaded
    rows[0][column(header, "DATE_BEGIN")] = "01.02.2026"
    rows[0][column(header, "DATE_END")] = "01.01.2026"
    assert_refused(d.ESKLP, header, rows, field="DATE_END", row=1, fragment="раньше даты начала")
    header, rows = esklp_rows()
    rows[5][column(header, "GTIN")] = ""
    assert_refused(d.ESKLP, header, rows, field="GTIN", row=6, fragment="подлежит маркировке")


def test_empty_version_and_hostile_text(loaded):
    header, _rows = loaded
    assert_refused(d.ESKLP, header, [], field=None, row=None, fragment="ни одной записи")
    header, rows = esklp_rows()
    rows[1][column(header, "TRADE_NAME")] = "'); DROP TABLE llo_package; --"
    run = _run(d.ESKLP, "1.3")
    nsi_import_apply(run=run, version="1.3", publish_date=date(2026, 11, 20), header=header, rows=rows, source="t")
    assert TradeName.objects.filter(name="'); DROP TABLE llo_package; --").exists()  # stored as text, nothing else


def test_icd_parent_missing_from_the_version():
    header, rows = demo_data.dictionary_rows(d.ICD10, "1.0")
    rows = [list(r) for r in rows]
    rows[5][3] = "999999"
    dictionaries_ensure()
    assert_refused(d.ICD10, header, rows, field="ID_PARENT", row=6, fragment="нет в этой версии")


def test_version_going_backwards_or_repeated_is_refused():
    load_base()
    header, rows = esklp_rows()
    run = _run(d.ESKLP, "0.9")
    with pytest.raises(ValidationFailed) as caught:
        nsi_import_apply(run=run, version="0.9", publish_date=V10.publish_date, header=header, rows=rows, source="t")
    assert caught.value.code == "nsi.version_backwards" and "старше загруженной 1.0" in caught.value.message
    NsiImportRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    run = _run(d.ESKLP, "1.0")
    with pytest.raises(ConflictError) as caught:
        nsi_import_apply(run=run, version="1.0", publish_date=V10.publish_date, header=header, rows=rows, source="t")
    assert caught.value.code == "nsi.version_loaded"


def test_dependency_must_be_loaded_first():
    dictionaries_ensure()
    header, rows = esklp_rows()
    run = _run(d.ESKLP, "1.0")
    with pytest.raises(ValidationFailed) as caught:
        nsi_import_apply(run=run, version="1.0", publish_date=V10.publish_date, header=header, rows=rows, source="t")
    assert caught.value.code == "nsi.dependency_missing"


def test_unknown_oid_and_malformed_version_numbers():
    dictionary = NsiDictionary.objects.create(oid="1.2.643.5.1.13.13.99.2.999", name="Неизвестный")
    with pytest.raises(ValidationFailed) as caught:
        nsi_import_request(dictionary=dictionary)
    assert caught.value.code == "nsi.unknown_oid" and "1.2.643.5.1.13.13.99.2.999" in caught.value.message
    for bad in ("", "v2", "1..2", "1.2.3.4.5", "1.-2"):
        with pytest.raises(ValidationFailed):
            version_key(bad)
    assert version_key("1.10") > version_key("1.9") > version_key("1.2.3")


def test_one_import_of_a_dictionary_at_a_time():
    dictionaries_ensure()
    dictionary = NsiDictionary.objects.get(oid=d.UNITS)
    nsi_import_request(dictionary=dictionary)
    with pytest.raises(ConflictError) as caught:
        nsi_import_request(dictionary=dictionary)
    assert caught.value.code == "nsi.import_in_progress"
    assert NsiImportRun.objects.filter(dictionary=dictionary).count() == 1


def test_an_import_writes_the_history_of_each_record_under_its_own_context():
    load_base()
    apply(d.SMNN, V11)
    apply(d.ESKLP, V11)
    repriced = Package.objects.filter(trade_name__name="Сиофор", pack_description__contains="500 мг, № 30").get()
    events = list(Events.objects.tracks(repriced).order_by("pgh_created_at", "pgh_id"))
    assert [e.pgh_label for e in events] == ["insert", "update"]
    assert set(events[1].pgh_diff) == {"price_cap"}
    assert events[1].pgh_context["source"] == f"nsi:{d.ESKLP}:1.1"
    new = Package.objects.get(trade_name__name="Оземпик")
    assert [e.pgh_label for e in Events.objects.tracks(new)] == ["insert"]
    withdrawn = Package.objects.get(trade_name__name="Энап", pack_description__contains="10 мг, № 20")
    last = Events.objects.tracks(withdrawn).order_by("-pgh_id").first()
    assert last.pgh_label == "update" and "valid_to" in last.pgh_diff
    # outside imports the per-row triggers still record every change
    Package.objects.filter(pk=new.pk).update(manufacturer="Иной производитель")
    assert Events.objects.tracks(new).count() == 2
