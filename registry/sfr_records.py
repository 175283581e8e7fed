"""Records of the Social Fund register (`C_REGO` persons, `C_REGL` benefits) as typed rows for the
staging tables, or with the reason they cannot be loaded.

Called once per record of files with millions of them: plain string work, lookups in small
dictionaries and caches (a million birth dates are a few tens of thousands of distinct days; a
person's benefits follow one another in the file), no regular expressions.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from llo.validators import snils_check_digits

OPEN_END = "9999/99/99"
OLDEST = date(1890, 1, 1)
SEX = {"1": "M", "2": "F", "М": "M", "Ж": "F", "M": "M", "F": "F", "м": "M", "ж": "F"}
DISABILITY_GROUPS = {"081": "1", "082": "2", "083": "3", "084": "child"}
# what the register's columns hold: a longer value is a bad record, not a failed import
PERSON_LENGTHS = (("FAM", 100), ("IM", 100), ("OT", 100), ("SN_POL", 20), ("C_DOC", 3), ("SN_DOC", 40),
                  ("ADRES", 500))
RIGHT_LENGTHS = (("NAME_DL", 300), ("SN_DL", 60))


class Reject(Exception):
    """The record cannot be loaded; the message says why (shown to the ministry)."""


@lru_cache(maxsize=4096)
def snils(raw: str) -> str:
    digits = raw.replace("-", "").replace(" ", "")
    if len(digits) != 11 or not digits.isdigit():
        raise Reject(f"СНИЛС «{raw}»: ожидается 11 цифр")
    if int(digits[:9]) > 1001998 and snils_check_digits(digits[:9]) != digits[9:]:
        raise Reject(f"СНИЛС {raw}: неверная контрольная сумма")
    return digits


def _parse_date(raw: str, name: str, separator: str | None, today: date) -> date:
    if separator:
        parts = raw.split(separator)
        if len(parts) != 3:
            raise Reject(f"{name}: «{raw}» — ожидается дата ГГГГ{separator}ММ{separator}ДД")
        year, month, day = parts
    else:
        if len(raw) != 8 or not raw.isdigit():
            raise Reject(f"{name}: «{raw}» — ожидается дата ГГГГММДД")
        year, month, day = raw[:4], raw[4:6], raw[6:8]
    try:
        value = date(int(year), int(month), int(day))
    except ValueError:
        raise Reject(f"{name}: «{raw}» — такой даты нет") from None
    if value < OLDEST or value.year > today.year + 100:
        raise Reject(f"{name}: {value:%d.%m.%Y} — невозможная дата")
    return value


def _too_long(raw: dict, limits) -> None:
    for name, limit in limits:
        if len(raw.get(name, "")) > limit:
            raise Reject(f"поле {name} длиннее {limit} символов")


class Parser:
    """Turns raw records into staging rows for one import (the day, the region, the categories)."""

    def __init__(self, *, today: date, region_okato: str, categories: dict[str, int]):
        self.today = today
        self.region = region_okato
        self.categories = categories
        self._dates: dict[str, date] = {}  # the good ones; a bad one raises every time

    def _date(self, raw: str, name: str, separator: str | None = "/", open_ended: bool = False) -> date | None:
        if open_ended and (raw == OPEN_END or raw == ""):
            return None
        value = self._dates.get(raw)
        if value is None:
            value = self._dates[raw] = _parse_date(raw, name, separator, self.today)
        return value

    def person(self, raw: dict) -> tuple:
        """(last, first, patronymic, sex, birth, policy, doc type, doc number, address, okato region,
        out of town, included on, excluded on, refused, refusal year); SNILS is checked apart."""
        get = raw.get
        last, first, patronymic = get("FAM", ""), get("IM", ""), get("OT", "")
        policy, document_type, document_number, address = get("SN_POL", ""), get("C_DOC", ""), get("SN_DOC", ""), \
            get("ADRES", "")
        if (len(last) > 100 or len(first) > 100 or len(patronymic) > 100 or len(policy) > 20 or len(document_type) > 3
                or len(document_number) > 40 or len(address) > 500):
            _too_long(raw, PERSON_LENGTHS)
        if not last or not first:
            raise Reject("не заполнены фамилия или имя")
        sex = SEX.get(get("W", ""))
        if sex is None:
            raise Reject(f"пол «{get('W', '')}»: ожидается 1 или 2")
        dates = self._dates  # looked up here first: a call per date costs more than the lookup
        born = get("DR", "")
        birth = dates.get(born) or self._date(born, "дата рождения", "/" if "/" in born else None)
        if birth > self.today:
            raise Reject(f"дата рождения {birth:%d.%m.%Y} в будущем")
        start, end = get("DATE_RSB", ""), get("DATE_RSE", "")
        included = dates.get(start) or self._date(start, "дата включения в регистр")
        excluded = dates.get(end) or self._date(end, "дата исключения из регистра", open_ended=True)
        if excluded is not None and excluded < included:
            raise Reject("дата исключения из регистра раньше даты включения")
        choice = get("U_TYPE", "")
        if choice not in ("", "1", "2"):
            raise Reject(f"признак набора социальных услуг U_TYPE «{choice}»: ожидается 1 или 2")
        choice_date = self._date(get("D_TYPE", ""), "дата выбора по НСУ", open_ended=True) if choice else None
        region = get("OKATO_REG", "")[:2]
        return (last, first, patronymic, sex, birth, policy, document_type, document_number, address, region,
                bool(region) and region != self.region, included, excluded, None if not choice else choice == "2",
                choice_date.year if choice_date else (self.today.year if choice else None))

    def right(self, raw: dict, ss: str) -> tuple:
        """(category, category id, document name, document number, valid from, valid to, disability
        group, key in the register: SNILS, category, start)."""
        get = raw.get
        name, number = get("NAME_DL", ""), get("SN_DL", "")
        if len(name) > 300 or len(number) > 60:
            _too_long(raw, RIGHT_LENGTHS)
        category = get("C_KATL", "")
        category_id = self.categories.get(category)
        if category_id is None:
            if len(category) != 3 or not category.isdigit():
                raise Reject(f"код льготной категории «{category}»: ожидается 3 цифры")
            raise Reject(f"льготной категории с кодом {category} нет в справочнике категорий")
        start, end = get("DATE_BL", ""), get("DATE_EL", "")
        dates = self._dates
        since = dates.get(start) or self._date(start, "дата начала льготы")
        until = dates.get(end) or self._date(end, "дата окончания льготы", open_ended=True)
        if until is not None and until < since:
            raise Reject("дата окончания льготы раньше даты начала")
        return (category, category_id, name, number, since, until, DISABILITY_GROUPS.get(category, ""),
                f"{ss}:{category}:{start.replace('/', '')}")
