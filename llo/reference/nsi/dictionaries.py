"""The federal NSI dictionaries the region loads: their columns and how a version is merged.

A dictionary is described once here. Its columns say how each portal field is parsed and
checked; its steps run, in order, on the staging table `nsi_stage` that holds one version:
resolving references, checking them, inserting parent records and merging targets. A merge
updates changed records, inserts new ones and retires those that left the dictionary; it
never deletes. SQL parameters: %(oid)s, %(publish)s (the version's publication date),
%(retire_on)s (the day before it), %(far_past)s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llo.models import ProductKind

from . import fields as f


@dataclass(frozen=True)
class Column:
    name: str  # as the portal names it
    stage: str  # column of nsi_stage
    sql_type: str = "text"
    parse: Callable[[str], Any] = f.text
    required: bool = False
    max_length: int | None = None
    description: str = ""
    null: bool = False  # an empty text field is NULL (no value) rather than ''

    @property
    def empty(self) -> Any:
        """What an empty optional field becomes."""
        if self.sql_type == "text":
            return None if self.null else ""
        return False if self.sql_type == "boolean" else None


@dataclass(frozen=True)
class Sql:
    sql: str
    label: str = ""  # when set, the statement's row count is reported as records added to that table


@dataclass(frozen=True)
class Check:
    """Rows the query returns (row_no, value) are errors of `field`; `message` may use {value}."""

    sql: str
    field: str
    message: str


@dataclass(frozen=True)
class Merge:
    table: str
    key: str  # expression over the stage alias `s` giving the record's nsi_code
    attrs: dict[str, str]  # target column -> expression over `s`
    scope: dict[str, str] = field(default_factory=dict)  # fixed columns (literal SQL) that delimit the records
    curated: frozenset[str] = frozenset()  # attrs the ministry may have set by hand
    insert_defaults: dict[str, str] = field(default_factory=dict)
    refresh: bool = False  # attrs reference records inserted by this same merge (a tree): update once more
    main: bool = False  # its counts are the import's headline


@dataclass(frozen=True)
class Dictionary:
    oid: str
    name: str
    load_order: int
    columns: tuple[Column, ...]
    steps: tuple[Sql | Check | Merge, ...]
    extra_stage_columns: tuple[str, ...] = ()
    key: str = "code"
    depends_on: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def main_table(self) -> str:
        return next(s.table for s in self.steps if isinstance(s, Merge) and s.main)


def _dates() -> tuple[Column, Column]:
    return (
        Column("DATE_BEGIN", "date_begin", "date", f.day, description="Дата начала действия записи"),
        Column("DATE_END", "date_end", "date", f.day, description="Дата окончания действия записи"),
    )


def _id(description: str = "Уникальный идентификатор записи") -> Column:
    return Column("ID", "code", required=True, max_length=50, description=description)


def _simple(table: str, **attrs: str) -> Merge:
    return Merge(table=table, key="s.code", attrs=attrs, main=True)


UNITS = "1.2.643.5.1.13.13.11.1358"
ROUTES = "1.2.643.5.1.13.13.11.1468"
VALIDITY = "1.2.643.5.1.13.13.99.2.608"
BENEFIT_CATEGORIES = "1.2.643.5.1.13.13.99.2.541"
ICD10 = "1.2.643.5.1.13.13.11.1005"
SMNN = "1.2.643.5.1.13.13.99.2.611"
ESKLP = "1.2.643.5.1.13.13.99.2.540"
DEVICES = "1.2.643.5.1.13.13.99.2.604"
NUTRITION = "1.2.643.5.1.13.13.99.2.603"

# --- package columns shared by ЕСКЛП and the device and nutrition catalogues ---------------

_PACK_COLUMNS = (
    Column("GTIN", "gtin", parse=f.gtin, null=True, description="GTIN потребительской упаковки"),
    Column("PACK_QTY", "pack_quantity", "numeric", f.decimal, required=True,
           description="Количество в потребительской упаковке"),
    Column("PACK_UNIT_ID", "unit_code", required=True, max_length=50,
           description="Единица измерения (ID справочника 1.2.643.5.1.13.13.11.1358)"),
    Column("PACK_DESCR", "pack_description", max_length=500, description="Описание упаковки"),
    Column("MANUFACTURER", "manufacturer", required=True, max_length=500, description="Производитель"),
    Column("COUNTRY", "country", max_length=100, description="Страна производителя"),
    Column("REG_CERT", "reg_cert", required=True, max_length=100, description="Номер регистрационного удостоверения"),
    Column("MARKED", "is_marked", "boolean", f.flag, description="Подлежит маркировке (1/0)"),
)
_RESOLVE_UNIT = Sql("UPDATE nsi_stage s SET unit_id = u.id FROM llo_unit u WHERE u.nsi_code = s.unit_code")
_CHECK_UNIT = Check(
    "SELECT row_no, unit_code FROM nsi_stage WHERE unit_id IS NULL", "PACK_UNIT_ID",
    "единицы измерения с ID {value} нет в справочнике единиц (1.2.643.5.1.13.13.11.1358): обновите его",
)
_CHECK_MARKED_GTIN = Check(
    "SELECT row_no, code FROM nsi_stage WHERE is_marked AND gtin IS NULL", "GTIN",
    "упаковка {value} подлежит маркировке, но GTIN не указан",
)
_PACKAGE_ATTRS = {
    "trade_name_id": "s.trade_name_id",
    "gtin": "s.gtin",
    "pack_quantity": "s.pack_quantity",
    "pack_unit_id": "s.unit_id",
    "pack_description": "s.pack_description",
    "manufacturer": "s.manufacturer",
    "manufacturer_country": "s.country",
    "registration_certificate": "s.reg_cert",
    "is_marked": "s.is_marked",
}
_INSERT_TRADE_NAMES = Sql(
    "INSERT INTO llo_tradename (drug_id, name, valid_from, sync_version) "
    "SELECT DISTINCT s.drug_id, s.trade_name, %(far_past)s::date, 0 FROM nsi_stage s "
    "ON CONFLICT (drug_id, name) DO NOTHING",
    label="llo_tradename",
)
_RESOLVE_TRADE_NAMES = Sql(
    "UPDATE nsi_stage s SET trade_name_id = t.id FROM llo_tradename t WHERE t.drug_id = s.drug_id AND t.name = s.trade_name"
)
_INSERT_INNS = Sql(
    "INSERT INTO llo_inn (name, valid_from, sync_version) SELECT DISTINCT s.inn_name, %(far_past)s::date, 0 "
    "FROM nsi_stage s ON CONFLICT (name) DO NOTHING",
    label="llo_inn",
)
_RESOLVE_INNS = Sql("UPDATE nsi_stage s SET inn_id = i.id FROM llo_inn i WHERE i.name = s.inn_name")


def _product_catalogue(oid: str, name: str, kind: str, order: int) -> Dictionary:
    """Devices and nutrition: one record is a product with its group name, trade name and pack."""
    return Dictionary(
        oid=oid, name=name, load_order=order, depends_on=(UNITS,),
        columns=(
            _id("Код позиции каталога"),
            Column("GROUP_NAME", "inn_name", required=True, max_length=500, description="Группировочное наименование"),
            Column("NAME", "trade_name", required=True, max_length=500, description="Торговое наименование"),
            *_PACK_COLUMNS,
            *_dates(),
        ),
        extra_stage_columns=("inn_id bigint", "drug_id bigint", "unit_id bigint", "trade_name_id bigint"),
        steps=(
            _RESOLVE_UNIT, _CHECK_UNIT, _CHECK_MARKED_GTIN, _INSERT_INNS, _RESOLVE_INNS,
            Merge(
                table="llo_standardizeddrug", key="s.code",
                scope={"source": f"'{oid}'", "kind": f"'{kind}'"},
                attrs={"inn_id": "s.inn_id"},
                insert_defaults={"dosage_form": "''", "dosage": "''", "atc_code": "''", "control_list": "''",
                                 "curated_fields": "'{}'"},
            ),
            Sql(f"UPDATE nsi_stage s SET drug_id = d.id FROM llo_standardizeddrug d "
                f"WHERE d.source = '{oid}' AND d.nsi_code = s.code"),
            _INSERT_TRADE_NAMES, _RESOLVE_TRADE_NAMES,
            Merge(
                table="llo_package", key="s.code", scope={"source": f"'{oid}'"}, attrs=_PACKAGE_ATTRS,
                insert_defaults={"is_jnvlp": "false", "curated_fields": "'{}'"}, curated=frozenset({"is_marked"}),
                main=True,
            ),
        ),
    )


DICTIONARIES: tuple[Dictionary, ...] = (
    Dictionary(
        oid=UNITS, name="Единицы измерения", load_order=10,
        columns=(_id(), Column("FULL_NAME", "name", required=True, max_length=500, description="Полное наименование"),
                 Column("SHORT_NAME", "short_name", required=True, max_length=50, description="Краткое наименование"),
                 *_dates()),
        steps=(_simple("llo_unit", name="s.name", short_name="s.short_name"),),
    ),
    Dictionary(
        oid=ROUTES, name="Пути введения лекарственных препаратов", load_order=20,
        columns=(_id(), Column("NAME", "name", required=True, max_length=500, description="Наименование"), *_dates()),
        steps=(_simple("llo_route", name="s.name"),),
    ),
    Dictionary(
        oid=VALIDITY, name="Сроки действия рецепта", load_order=30,
        columns=(_id(), Column("NAME", "name", required=True, max_length=500, description="Наименование"),
                 Column("DAYS", "days", "integer", f.integer, description="Срок в днях"), *_dates()),
        steps=(_simple("llo_validityperiod", name="s.name", days="s.days"),),
    ),
    Dictionary(
        oid=BENEFIT_CATEGORIES, name="Льготные категории граждан", load_order=40,
        columns=(_id("Код льготной категории"),
                 Column("NAME", "name", required=True, max_length=500, description="Наименование"), *_dates()),
        steps=(_simple("llo_nsibenefitcategory", name="s.name"),),
    ),
    Dictionary(
        oid=ICD10, name="Международная классификация болезней 10-го пересмотра (МКБ-10)", load_order=50,
        columns=(
            _id(),
            Column("MKB_CODE", "mkb_code", required=True, max_length=20, description="Код МКБ-10"),
            Column("MKB_NAME", "name", required=True, max_length=500, description="Наименование"),
            Column("ID_PARENT", "parent_code", max_length=50, description="ID вышестоящей записи"),
            *_dates(),
        ),
        steps=(
            Check(
                "SELECT s.row_no, s.parent_code FROM nsi_stage s WHERE s.parent_code <> '' AND NOT EXISTS "
                "(SELECT 1 FROM nsi_stage p WHERE p.code = s.parent_code)",
                "ID_PARENT", "вышестоящей записи с ID {value} нет в этой версии справочника",
            ),
            Merge(
                table="llo_diagnosis", key="s.code", refresh=True, main=True,
                attrs={"code": "s.mkb_code", "name": "s.name",
                       "parent_id": "(SELECT p.id FROM llo_diagnosis p WHERE p.nsi_code = NULLIF(s.parent_code, ''))"},
            ),
        ),
    ),
    Dictionary(
        oid=SMNN, name="Узлы СМНН (стандартизованные наименования лекарственных препаратов)", load_order=60,
        depends_on=(ROUTES,),
        columns=(
            _id("Код узла СМНН"),
            Column("MNN", "inn_name", required=True, max_length=500, description="МНН"),
            Column("FORM", "dosage_form", required=True, max_length=300, description="Лекарственная форма"),
            Column("DOSAGE", "dosage", max_length=200, description="Дозировка"),
            Column("ATC", "atc_code", parse=f.atc, max_length=7, description="Код АТХ"),
            Column("NARC_LIST", "control_list", parse=f.control_list, max_length=20,
                   description="Список НС и ПВ: II-Н, II-П, III"),
            Column("ROUTE_ID", "route_code", max_length=50, description="Путь введения (ID справочника 1.2.643.5.1.13.13.11.1468)"),
            *_dates(),
        ),
        extra_stage_columns=("inn_id bigint", "route_id bigint"),
        steps=(
            Sql("UPDATE nsi_stage s SET route_id = r.id FROM llo_route r WHERE r.nsi_code = s.route_code"),
            Check(
                "SELECT row_no, route_code FROM nsi_stage WHERE route_code <> '' AND route_id IS NULL", "ROUTE_ID",
                "пути введения с ID {value} нет в справочнике 1.2.643.5.1.13.13.11.1468: обновите его",
            ),
            _INSERT_INNS, _RESOLVE_INNS,
            Merge(
                table="llo_standardizeddrug", key="s.code", main=True,
                scope={"source": f"'{SMNN}'", "kind": f"'{ProductKind.DRUG.value}'"},
                attrs={"inn_id": "s.inn_id", "dosage_form": "s.dosage_form", "dosage": "s.dosage",
                       "atc_code": "s.atc_code", "control_list": "s.control_list", "route_id": "s.route_id"},
                curated=frozenset({"atc_code", "control_list"}),
                insert_defaults={"curated_fields": "'{}'"},
            ),
        ),
    ),
    Dictionary(
        oid=ESKLP, name="ЕСКЛП: потребительские упаковки лекарственных препаратов", load_order=70,
        depends_on=(SMNN, UNITS),
        columns=(
            _id("Код КЛП"),
            Column("SMNN_ID", "smnn_code", required=True, max_length=50, description="Код узла СМНН (99.2.611)"),
            Column("TRADE_NAME", "trade_name", required=True, max_length=500, description="Торговое наименование"),
            *_PACK_COLUMNS,
            Column("JNVLP", "is_jnvlp", "boolean", f.flag, description="Входит в перечень ЖНВЛП (1/0)"),
            Column("PRICE_CAP", "price_cap", "numeric", f.decimal,
                   description="Зарегистрированная предельная отпускная цена производителя, руб."),
            *_dates(),
        ),
        extra_stage_columns=("drug_id bigint", "unit_id bigint", "trade_name_id bigint"),
        steps=(
            Sql(f"UPDATE nsi_stage s SET drug_id = d.id FROM llo_standardizeddrug d "
                f"WHERE d.source = '{SMNN}' AND d.nsi_code = s.smnn_code"),
            Check("SELECT row_no, smnn_code FROM nsi_stage WHERE drug_id IS NULL", "SMNN_ID",
                  "узла СМНН с кодом {value} нет в справочнике 1.2.643.5.1.13.13.99.2.611: загрузите сначала его"),
            _RESOLVE_UNIT, _CHECK_UNIT, _CHECK_MARKED_GTIN,
            Check("SELECT row_no, price_cap FROM nsi_stage WHERE price_cap IS NOT NULL AND "
                  "(NOT is_jnvlp OR price_cap <= 0)", "PRICE_CAP",
                  "предельная цена {value} указана для препарата вне ЖНВЛП или не больше нуля"),
            _INSERT_TRADE_NAMES, _RESOLVE_TRADE_NAMES,
            Merge(
                table="llo_package", key="s.code", scope={"source": f"'{ESKLP}'"}, main=True,
                attrs={**_PACKAGE_ATTRS, "is_jnvlp": "s.is_jnvlp", "price_cap": "s.price_cap"},
                curated=frozenset({"is_marked", "is_jnvlp", "price_cap"}),
                insert_defaults={"curated_fields": "'{}'"},
            ),
        ),
    ),
    _product_catalogue(DEVICES, "Медицинские изделия, отпускаемые по льготным рецептам", ProductKind.DEVICE.value, 80),
    _product_catalogue(NUTRITION, "Специализированные продукты лечебного питания", ProductKind.NUTRITION.value, 90),
)

BY_OID = {d.oid: d for d in DICTIONARIES}


def get(oid: str) -> Dictionary | None:
    return BY_OID.get(oid)
