"""A synthetic region's beneficiaries: realistic Russian names, valid SNILS, a realistic mix of
federal categories (the Social Fund register) and regional rights.

Records of the federal register are dicts of raw strings shaped like the Social Fund's files
(field names of `C_REGO` and `C_REGL`, docs/sfr.md): the DBF writer, the SOAP emulator and the
importer all speak them. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from .snils import format_snils, snils_complete

MALE_SURNAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов Волков Алексеев "
    "Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров Никитин Захаров Зайцев "
    "Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев Кузьмин Фролов Александров Дмитриев Королёв "
    "Гусев Киселёв Ильин Максимов Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков "
    "Баранов Филиппов Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов "
    "Крылов Куликов Карпов Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев "
    "Фомин Чернов Абрамов Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов Родионов "
    "Коновалов Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов Потапов Журавлёв"
).split()
MALE_NAMES = ("Александр Алексей Андрей Анатолий Борис Валентин Валерий Василий Виктор Владимир Вячеслав Геннадий "
              "Георгий Григорий Дмитрий Евгений Иван Игорь Константин Леонид Михаил Николай Олег Павел Пётр Роман "
              "Сергей Станислав Степан Юрий Артём Максим Кирилл Егор Никита Даниил Матвей Тимофей Фёдор Илья").split()
FEMALE_NAMES = ("Александра Алла Анна Валентина Валерия Вера Галина Дарья Евгения Екатерина Елена Елизавета Зинаида "
                "Зоя Ирина Клавдия Лариса Лидия Любовь Людмила Маргарита Марина Мария Надежда Наталья Нина Ольга "
                "Полина Раиса Светлана Софья Тамара Татьяна Юлия Анастасия Ксения Виктория Алиса Варвара Вероника").split()
# father's name → (patronymic of a son, of a daughter)
PATRONYMICS = {
    "Александр": ("Александрович", "Александровна"), "Алексей": ("Алексеевич", "Алексеевна"),
    "Андрей": ("Андреевич", "Андреевна"), "Анатолий": ("Анатольевич", "Анатольевна"),
    "Борис": ("Борисович", "Борисовна"), "Василий": ("Васильевич", "Васильевна"),
    "Виктор": ("Викторович", "Викторовна"), "Владимир": ("Владимирович", "Владимировна"),
    "Геннадий": ("Геннадьевич", "Геннадьевна"), "Григорий": ("Григорьевич", "Григорьевна"),
    "Дмитрий": ("Дмитриевич", "Дмитриевна"), "Евгений": ("Евгеньевич", "Евгеньевна"),
    "Иван": ("Иванович", "Ивановна"), "Игорь": ("Игоревич", "Игоревна"),
    "Константин": ("Константинович", "Константиновна"), "Леонид": ("Леонидович", "Леонидовна"),
    "Михаил": ("Михайлович", "Михайловна"), "Николай": ("Николаевич", "Николаевна"),
    "Олег": ("Олегович", "Олеговна"), "Павел": ("Павлович", "Павловна"), "Пётр": ("Петрович", "Петровна"),
    "Сергей": ("Сергеевич", "Сергеевна"), "Степан": ("Степанович", "Степановна"),
    "Юрий": ("Юрьевич", "Юрьевна"), "Фёдор": ("Фёдорович", "Фёдоровна"), "Илья": ("Ильич", "Ильинична"),
}
FATHER_NAMES = tuple(PATRONYMICS)
STREETS = ("Ленина Мира Садовая Школьная Советская Молодёжная Лесная Центральная Новая Заречная Пушкина Гагарина "
           "Комсомольская Набережная Полевая Строителей Победы Октябрьская Первомайская Северная").split()
TOWNS = ("г. Северск", "г. Северск", "г. Северск", "пгт Заречный", "с. Берёзовка", "д. Каменка", "г. Озёрск")

# federal categories of the Social Fund register and their share among federal beneficiaries
FEDERAL_MIX = (
    ("082", 0.27), ("083", 0.22), ("081", 0.07), ("084", 0.06), ("030", 0.06), ("060", 0.03), ("085", 0.01),
    ("091", 0.01), ("010", 0.005), ("011", 0.005), ("020", 0.004), ("050", 0.003), ("120", 0.003),
    ("040", 0.002), ("012", 0.002),
)
DISABILITY = {"081": "Справка МСЭ об инвалидности I группы", "082": "Справка МСЭ об инвалидности II группы",
              "083": "Справка МСЭ об инвалидности III группы", "084": "Справка МСЭ о ребёнке-инвалиде",
              "085": "Справка МСЭ"}
OPEN_END = "9999/99/99"
PERSON_FIELDS = ("SS", "SN_POL", "FAM", "IM", "OT", "W", "DR", "SN_DOC", "C_DOC", "ADRES", "OKATO_REG", "C_KAT1",
                 "C_KAT2", "DATE_RSB", "DATE_RSE", "U_TYPE", "D_TYPE", "C_REG")
RIGHT_FIELDS = ("SS", "C_KATL", "NAME_DL", "SN_DL", "DATE_BL", "DATE_EL")


def sfr_date(day: date | None) -> str:
    return day.strftime("%Y/%m/%d") if day else OPEN_END


def _feminine(surname: str) -> str:
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    if surname.endswith("ий"):
        return surname[:-2] + "ая"
    return surname


def _patronymic(father: str, male: bool) -> str:
    return PATRONYMICS[father][0 if male else 1]


@dataclass(frozen=True)
class Citizen:
    snils: str
    last_name: str
    first_name: str
    patronymic: str
    sex: str  # M / F
    birth_date: date
    policy: str
    document_type: str
    document_number: str
    address: str


class Region:
    """Deterministic synthetic citizens of one region: `citizen(i)` is the same for a seed."""

    def __init__(self, *, seed: int = 1, today: date = date(2026, 11, 23), okato: str = "99"):
        self.seed = seed
        self.today = today
        self.okato = okato

    def citizen(self, i: int) -> Citizen:
        rng = random.Random(self.seed * 1_000_003 + i)
        male = rng.random() < 0.45
        surname = rng.choice(MALE_SURNAMES)
        age_days = int(rng.triangular(0, 95, 68) * 365.25)
        birth = self.today - timedelta(days=age_days + rng.randint(0, 364))
        first = rng.choice(MALE_NAMES if male else FEMALE_NAMES)
        patronymic = _patronymic(rng.choice(FATHER_NAMES), male)
        # SNILS numbers above 001-001-998 with valid check digits, unique per index
        body = f"{(2_000_000 + i * 7919 + self.seed * 104_729) % 998_000_000 + 1_002_000:09d}"
        child = birth > self.today - timedelta(days=14 * 365)
        document = ("03", f"I-СВ {rng.randint(100000, 999999)}") if child else (
            "14", f"{rng.randint(1, 99):02d} {rng.randint(0, 99):02d} {rng.randint(100000, 999999)}")
        address = f"{rng.choice(TOWNS)}, ул. {rng.choice(STREETS)}, д. {rng.randint(1, 120)}" + (
            f", кв. {rng.randint(1, 200)}" if rng.random() < 0.7 else "")
        return Citizen(
            snils=snils_complete(body), last_name=surname if male else _feminine(surname), first_name=first,
            patronymic=patronymic, sex="M" if male else "F", birth_date=birth,
            policy=f"{rng.randint(10**15, 10**16 - 1)}", document_type=document[0], document_number=document[1],
            address=address,
        )

    def federal(self, i: int) -> tuple[dict, list[dict]]:
        """The i-th person of the federal register (a C_REGO record) and their benefits (C_REGL)."""
        c = self.citizen(i)
        rng = random.Random(self.seed * 7_000_009 + i)
        categories = [code for code, _ in FEDERAL_MIX]
        weights = [w for _, w in FEDERAL_MIX]
        if c.birth_date > self.today - timedelta(days=18 * 365):
            main = "084"
        else:
            main = rng.choices(categories, weights)[0]
            while main == "084":
                main = rng.choices(categories, weights)[0]
        since = max(c.birth_date + timedelta(days=30), date(2005, 1, 1) + timedelta(days=rng.randint(0, 7000)))
        since = min(since, self.today - timedelta(days=30))
        rights = []
        born = c.birth_date + timedelta(days=1)
        if main in ("082", "081") and rng.random() < 0.7:
            # the group was reviewed: an earlier, milder group closed the day before
            earlier = "083" if main == "082" else "082"
            start = max(since - timedelta(days=rng.randint(400, 2000)), born)
            if start < since:
                rights.append(self._right(c, earlier, start, since - timedelta(days=1), rng))
        elif rng.random() < 0.45:
            # an earlier certificate of the same category, replaced by the current one
            start = max(since - timedelta(days=rng.randint(365, 1500)), born)
            if start < since:
                rights.append(self._right(c, main, start, since - timedelta(days=1), rng))
        end = None
        if main in DISABILITY and rng.random() < 0.25:
            end = since + timedelta(days=365 * rng.randint(1, 3))  # until the next examination
        rights.append(self._right(c, main, since, end, rng))
        second = ""
        if main != "084" and rng.random() < 0.25:
            second = rng.choice(("030", "060", "091", "050"))
            rights.append(self._right(c, second, since + timedelta(days=rng.randint(0, 300)), None, rng))
        refused = rng.random() < 0.55
        person = {
            "SS": format_snils(c.snils), "SN_POL": c.policy, "FAM": c.last_name, "IM": c.first_name,
            "OT": c.patronymic, "W": "1" if c.sex == "M" else "2", "DR": c.birth_date.strftime("%Y%m%d"),
            "SN_DOC": c.document_number, "C_DOC": c.document_type, "ADRES": c.address,
            "OKATO_REG": f"{self.okato}{rng.randint(100000000, 999999999)}"[:11] if rng.random() > 0.02
            else f"45{rng.randint(100000000, 999999999)}",  # a few live in another region
            "C_KAT1": main, "C_KAT2": second,
            "DATE_RSB": sfr_date(min(r_since(r) for r in rights)), "DATE_RSE": OPEN_END,
            "U_TYPE": "2" if refused else "1", "D_TYPE": sfr_date(date(self.today.year, 1, 1)), "C_REG": self.okato,
        }
        return person, rights

    @staticmethod
    def _right(c: Citizen, category: str, since: date, until: date | None, rng: random.Random) -> dict:
        document = DISABILITY.get(category, "Удостоверение")
        return {
            "SS": format_snils(c.snils), "C_KATL": category, "NAME_DL": document,
            "SN_DL": f"{'МСЭ-' if category in DISABILITY else ''}{rng.randint(2005, 2026)} № {rng.randint(1000000, 9999999)}",
            "DATE_BL": sfr_date(since), "DATE_EL": sfr_date(until),
        }

    def federal_register(self, count: int, start: int = 0) -> Iterator[tuple[dict, list[dict]]]:
        for i in range(start, start + count):
            yield self.federal(i)


def r_since(right: dict) -> date:
    y, m, d = right["DATE_BL"].split("/")
    return date(int(y), int(m), int(d))
