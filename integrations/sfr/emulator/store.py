"""What the emulated service holds: versions of one region's federal register, each a set of
changed persons, and the delta between two versions.

Version 1 is the synthetic region's register (`Region.federal_register(persons)`); version 2
changes it in every way an import must handle (`designed_changes`); the control API may publish
more. A person's entry always carries the complete current list of benefits; the benefits are
kept without SS (the person's SS applies).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta

from registry.synthetic import OPEN_END, Region, sfr_date

from ..dbf import RIGHT_FIELDS

BENEFIT_FIELDS = RIGHT_FIELDS[1:]  # inside <benefit> the person's SS applies
ACTIONS = ("upsert", "exclude")
DEFAULT_TODAY = date(2026, 11, 23)
MAX_CACHED_DELTAS = 8

# version 2: how many persons each kind of change touches
NEW_PERSONS = 5
CLOSED_RIGHTS = 5
RENAMED = 3
EXCLUDED = 2
REFUSAL_FLIPPED = 1


@dataclass(frozen=True)
class Entry:
    """One person as a version lists them."""

    action: str  # upsert | exclude
    person: dict[str, str]  # C_REGO fields (a published entry may lack some)
    benefits: tuple[dict[str, str], ...]  # C_REGL fields without SS

    @property
    def ss(self) -> str:
        return self.person.get("SS", "")


@dataclass
class Version:
    number: int
    day: date
    entries: dict[str, Entry] = field(default_factory=dict)  # by SS, in the order listed


def _entry(action: str, person: dict, rights) -> Entry:
    benefits = tuple({name: right.get(name, "") for name in BENEFIT_FIELDS} for right in rights)
    return Entry(action, dict(person), benefits)


def designed_changes(region: Region, persons: int, day: date) -> dict[str, Entry]:
    """Version 2: persons N..N+4 join; the first persons (by index) with an open-ended benefit get
    it closed the day before `day`; the next ones change surname and/or address, leave the
    register (DATE_RSE = the day before), flip their choice of the drug part of НСУ (U_TYPE,
    from 1 January next year). Each person is touched by one kind of change only."""
    changes: dict[str, Entry] = {}
    for i in range(persons, persons + NEW_PERSONS):
        person, rights = region.federal(i)
        changes[person["SS"]] = _entry("upsert", person, rights)
    yesterday = sfr_date(day - timedelta(days=1))
    plan = ["closed"] * CLOSED_RIGHTS + ["renamed"] * RENAMED + ["excluded"] * EXCLUDED + ["flipped"] * REFUSAL_FLIPPED
    renamed = 0
    for i in range(persons):
        if not plan:
            break
        person, rights = region.federal(i)
        person, rights = dict(person), [dict(r) for r in rights]
        kind = plan[0]
        if kind == "closed":
            open_rights = [r for r in rights if r["DATE_EL"] == OPEN_END]
            if not open_rights:
                continue  # another person will do
            open_rights[-1]["DATE_EL"] = yesterday
        elif kind == "renamed":
            renamed += 1
            if renamed != 2:
                person["FAM"] = _new_surname(person)
            if renamed != 1:
                person["ADRES"] = _new_address(person["ADRES"])
        elif kind == "excluded":
            person["DATE_RSE"] = yesterday
        else:
            person["U_TYPE"] = "1" if person["U_TYPE"] == "2" else "2"
            person["D_TYPE"] = sfr_date(date(day.year + 1, 1, 1))
        plan.pop(0)
        changes[person["SS"]] = _entry("exclude" if kind == "excluded" else "upsert", person, rights)
    return changes


def _new_surname(person: dict) -> str:
    female = person.get("W") == "2"
    for surname in ("Белова", "Крылова") if female else ("Белов", "Крылов"):
        if surname != person.get("FAM"):
            return surname
    return "Белова"  # unreachable


def _new_address(address: str) -> str:
    for candidate in ("г. Северск, ул. Новая, д. 7, кв. 15", "г. Северск, ул. Новая, д. 9, кв. 3"):
        if candidate != address:
            return candidate
    return address  # unreachable


class Register:
    """The versions of one region's register. Thread-safe; deltas are cached per (since, target)."""

    def __init__(self, *, persons: int = 300, region: str = "99", seed: int = 1, today: date = DEFAULT_TODAY):
        self.persons = persons
        self.region = region
        self.seed = seed
        self.today = today
        self._lock = threading.Lock()
        self._generations = itertools.count(1)
        self._deltas: OrderedDict[tuple, list[Entry]] = OrderedDict()
        self._versions = self._built_in()
        self.generation = next(self._generations)

    def _built_in(self) -> list[Version]:
        source = Region(seed=self.seed, today=self.today, okato=self.region)
        first = Version(1, self.today - timedelta(days=7))
        for person, rights in source.federal_register(self.persons):
            first.entries[person["SS"]] = _entry("upsert", person, rights)
        second = Version(2, self.today, designed_changes(source, self.persons, self.today))
        return [first, second]

    def current(self) -> Version:
        with self._lock:
            return self._versions[-1]

    def version(self, number: int) -> Version | None:
        with self._lock:
            return next((v for v in self._versions if v.number == number), None)

    def changes(self, since: int, target: int) -> list[Entry]:
        """Every person listed in versions since+1..target, in the order of first listing, as the
        latest of those versions lists them."""
        key = (self.generation, since, target)
        with self._lock:
            cached = self._deltas.get(key)
            if cached is not None:
                self._deltas.move_to_end(key)
                return cached
            merged: dict[str, Entry] = {}
            for version in self._versions:
                if since < version.number <= target:
                    merged.update(version.entries)
            result = list(merged.values())
            self._deltas[key] = result
            while len(self._deltas) > MAX_CACHED_DELTAS:
                self._deltas.popitem(last=False)
            return result

    def publish(self, number: int | None, day: date | None, entries: list[Entry]) -> Version:
        with self._lock:
            newest = self._versions[-1]
            number = newest.number + 1 if number is None else number
            if number <= newest.number:
                raise ValueError(f"version: ожидается номер больше текущего ({newest.number})")
            version = Version(number, day or date.today(), {entry.ss: entry for entry in entries})
            self._versions.append(version)
            return version

    def reset(self) -> None:
        """Back to the built-in versions; page tokens issued before become stale."""
        with self._lock:
            self._versions = self._versions[:2]
            self._deltas.clear()
            self.generation = next(self._generations)


def person_entry(action: str, person: dict[str, str], benefits: list[dict[str, str]]) -> Entry:
    """An entry from the control API's JSON (already checked); SS inside a benefit is dropped."""
    return Entry(action, dict(person), tuple({k: v for k, v in b.items() if k != "SS"} for b in benefits))
