"""NSI dictionary records generated from the demo catalogue, version by version.

The demo seed loads version 1.0 of each dictionary; the NSI portal emulator serves 1.0 and 1.1
(a few packages added, prices changed, one package withdrawn), so the ministry can see and load
an update. `scale` adds synthetic drugs so that ЕСКЛП holds that many more packages (benchmarks).
Deterministic: the same version always yields the same records.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from llo.barcodes import gs1_check_digit

from . import demo_catalogue as data
from .nsi import dictionaries as d


@dataclass(frozen=True)
class Version:
    version: str
    publish_date: date


VERSIONS = [Version("1.0", date(2025, 12, 1)), Version("1.1", date(2026, 11, 10))]
SEED_VERSION = VERSIONS[0]


def versions(oid: str) -> list[Version]:
    if d.get(oid) is None:
        raise KeyError(oid)
    return list(VERSIONS)


def _version_index(version: str) -> int:
    for i, v in enumerate(VERSIONS):
        if v.version == version:
            return i
    raise KeyError(version)


def _fmt_date(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def _gtin(prefix: str, item: int) -> str:
    body = f"{prefix}{item:0{12 - len(prefix)}d}"
    return "0" + body + gs1_check_digit(body)


# --- small reference books -----------------------------------------------------------------

def _units(v: int) -> Iterator[list[str]]:
    rows = list(data.UNITS) + ([("21", "Мешок", "меш")] if v >= 1 else [])
    for code, name, short in rows:
        yield [code, name, short, "", ""]


def _routes(v: int) -> Iterator[list[str]]:
    rows = list(data.ROUTES) + ([("13", "Интравитреальный")] if v >= 1 else [])
    for code, name in rows:
        yield [code, name, "", ""]


def _validity(v: int) -> Iterator[list[str]]:
    for code, name, days in data.VALIDITY:
        yield [code, name, str(days), "", ""]


def _categories(v: int) -> Iterator[list[str]]:
    for _federal, name, nsi_code in data.BENEFIT_CATEGORIES:
        if v >= 1 and nsi_code == "1.00000.0085":
            name = "Инвалиды, не имеющие группы инвалидности (до 01.01.2010)"
        yield [nsi_code, name, "", ""]


def icd10_id(code: str) -> str:
    """NSI record ID of an ICD-10 code in the demo dictionary (stable across versions)."""
    return str(_ICD_IDS[code])


_ICD_ROWS = data.ICD10 + [("E11.5", "Инсулиннезависимый сахарный диабет с нарушениями периферического кровообращения", "E11")]
_ICD_IDS = {code: 1000 + i for i, (code, _name, _parent) in enumerate(_ICD_ROWS)}


def _icd10(v: int) -> Iterator[list[str]]:
    rows = _ICD_ROWS if v >= 1 else data.ICD10
    for code, name, parent in rows:
        yield [icd10_id(code), code, name, icd10_id(parent) if parent else "", "", ""]


# --- the drug catalogue ------------------------------------------------------------------

NEW_IN_1_1 = ("Семаглутид", "раствор для подкожного введения", ["1,34 мг/мл"], "A10BJ06", "", "2", [1], "10", 9800,
              [("Оземпик", 14)])
PRICE_RISE_IN_1_1 = "Метформин"  # its price caps rise by 5 % in 1.1
WITHDRAWN_IN_1_1 = ("Энап", "10 мг", 20)  # trade name, dosage, pack size of the package withdrawn in 1.1


def smnn_code(drug_no: int, dosage_no: int) -> str:
    return f"21.20.10.{110 + drug_no % 80:03d}-{drug_no:06d}-1-{dosage_no:05d}-0000000000000"


def _drugs(v: int, scale: int | None) -> Iterator[tuple[int, tuple]]:
    """(drug number, drug tuple): the curated drugs, the 1.1 addition, then synthetic ones."""
    yield from enumerate(data.DRUGS, start=1)
    if v >= 1:
        yield len(data.DRUGS) + 1, NEW_IN_1_1
    if scale:
        yield from _synthetic_drugs(scale)


_SYLLABLES = (
    ("Ам", "Бе", "Ве", "Гли", "Да", "Ке", "Ло", "Ме", "Не", "Пра", "Ри", "Си", "Те", "Фло", "Це", "Зо", "Ок", "Ур"),
    ("ло", "ра", "ти", "ме", "на", "зо", "ки", "фе", "ду", "ба"),
    ("ри", "ве", "са", "до", "лу", "не", "го", "мо"),
    ("прил", "сартан", "статин", "олол", "мицин", "цетам", "дипин", "тидин", "фен", "зепам", "трексат", "глиптин"),
)
_FORMS = ("таблетки, покрытые пленочной оболочкой", "капсулы", "раствор для инъекций", "таблетки")


def _synthetic_drugs(packages: int) -> Iterator[tuple[int, tuple]]:
    """Drugs with 2 dosages × 5 trade names × 2 packs = 20 packages each, until `packages` are made."""
    names = ("".join(parts) for parts in itertools.product(*_SYLLABLES))
    count = -(-packages // 20)
    for k, name in zip(range(count), names):
        trade = [(f"{name[:-2].capitalize()}{suffix}", (k + j) % len(data.MANUFACTURERS))
                 for j, suffix in enumerate(("ин", "ар", "екс", "офарм", "-Тева"))]
        yield 100000 + k, (name, _FORMS[k % 4], [f"{5 * (k % 7 + 1)} мг", f"{10 * (k % 7 + 1)} мг"], "", "", "1",
                           [30, 60], "14", 100 + k % 900, trade)


def _smnn(v: int, scale: int | None) -> Iterator[list[str]]:
    for no, (inn, form, dosages, atc, narc, route, *_rest) in _drugs(v, scale):
        for j, dosage in enumerate(dosages, start=1):
            yield [smnn_code(no, j), inn, form, dosage, atc, narc, route, "", ""]


def _price(base: int, dosage_no: int, pack: int, smallest: int, rise: bool) -> str:
    price = Decimal(base) * (1 + Decimal("0.35") * (dosage_no - 1)) * Decimal(pack) / Decimal(smallest)
    if rise:
        price *= Decimal("1.05")
    return f"{price.quantize(Decimal('0.01'))}"


def _esklp(v: int, scale: int | None) -> Iterator[list[str]]:
    synthetic = itertools.count(1)
    for no, (inn, form, dosages, _atc, _narc, _route, packs, unit, base, trade_names) in _drugs(v, scale):
        curated = no < 100000
        for j, dosage in enumerate(dosages, start=1):
            for t, (trade, maker) in enumerate(trade_names, start=1):
                name, country, prefix = data.MANUFACTURERS[maker]
                for p, pack in enumerate(packs, start=1):
                    if v >= 1 and (trade, dosage, pack) == WITHDRAWN_IN_1_1:
                        continue
                    gtin = _gtin(prefix, no * 100 + j * 20 + t * 4 + p) if curated else _gtin("46", next(synthetic))
                    klp = f"{smnn_code(no, j)[:-13]}{t}{p:02d}{no:010d}"
                    jnvlp = curated and not trade.endswith("Тева")
                    yield [
                        klp, smnn_code(no, j), trade, gtin, str(pack), unit,
                        f"{form}, {dosage}, № {pack}", name, country,
                        f"ЛП-{no:06d}{'-' + str(t) if t > 1 else ''}", "1",
                        "1" if jnvlp else "0",
                        _price(base, j, pack, packs[0], v >= 1 and inn == PRICE_RISE_IN_1_1) if jnvlp else "",
                        "", "",
                    ]


def _products(rows: list[tuple], prefix_code: str, v: int) -> Iterator[list[str]]:
    for n, (group, product, maker, qty, unit, description, marked) in enumerate(rows, start=1):
        name, country, gs1_prefix = data.MANUFACTURERS[maker]
        yield [f"{prefix_code}{n:05d}", group, product, _gtin(gs1_prefix, 90000 + n + (500 if prefix_code == "П" else 0)),
               str(qty), unit, description, name, country, f"РЗН {2018 + n % 6}/{1000 + n}", "1" if marked else "0", "", ""]


_EXTRA_DEVICE = ("Тест-полоски для определения содержания глюкозы в крови", "Диаконт", 8, 50, "17", "тест-полоски № 50", False)


def _devices(v: int) -> Iterator[list[str]]:
    return _products(data.DEVICES + ([_EXTRA_DEVICE] if v >= 1 else []), "И", v)


def _nutrition(v: int) -> Iterator[list[str]]:
    return _products(data.NUTRITION, "П", v)


def dictionary_rows(oid: str, version: str, *, scale: int | None = None) -> tuple[list[str], Iterator[list[str]]]:
    """The header (the dictionary's column names) and the records of `version`."""
    spec = d.get(oid)
    if spec is None:
        raise KeyError(oid)
    v = _version_index(version)
    generators = {
        d.UNITS: lambda: _units(v), d.ROUTES: lambda: _routes(v), d.VALIDITY: lambda: _validity(v),
        d.BENEFIT_CATEGORIES: lambda: _categories(v), d.ICD10: lambda: _icd10(v),
        d.SMNN: lambda: _smnn(v, scale), d.ESKLP: lambda: _esklp(v, scale),
        d.DEVICES: lambda: _devices(v), d.NUTRITION: lambda: _nutrition(v),
    }
    return spec.column_names, generators[oid]()
