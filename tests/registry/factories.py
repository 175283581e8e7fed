import itertools
from datetime import date

from llo.validators import snils_complete
from registry.models import Person

_seq = itertools.count(1)


def person(**extra) -> Person:
    n = next(_seq)
    fields = {
        "snils": snils_complete(f"{700000000 + n * 37:09d}"), "last_name": "Иванова", "first_name": "Мария",
        "patronymic": "Петровна", "birth_date": date(1950, 3, 8), "sex": "F", "oms_policy": f"{5000000000000000 + n}",
    }
    fields.update(extra)
    return Person.objects.create(**fields)
