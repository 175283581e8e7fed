"""Reads of the register: who may see whom, finding a person, rights on a date, conflicts,
probable duplicates.

Access (docs/registry.md): ministry admins see everyone; an MO's staff and its MIS browse the
patients attached to their MO and may open anyone found by exact SNILS, OMS policy or the
patient's QR code; a pharmacist opens a person only that way. Every such look-up by someone
outside the ministry is logged (`PersonLookup`) and opens the person to that user for a day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from django.contrib.postgres.search import TrigramWordSimilarity
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import F, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Concat, StrIndex
from django.utils import timezone

from llo import prebuilt
from llo.errors import ConflictError, ValidationFailed
from llo.models import BenefitCategory, Diagnosis, NsiBenefitCategory, Program, ProgramKind
from llo.roles import MO_ROLES, PERSON_READ_ROLES, REGISTER_ADMIN_ROLES, has_role

from .models import (
    BenefitRight,
    InclusionRequest,
    NsuRefusal,
    Person,
    RegisterEntry,
    SfrImport,
    SfrReject,
)
from .snils import validate_snils

_SPACES = re.compile(r"\s+")
NAME_RESULTS = 50
LOOKUP_GRANTS = timedelta(days=1)  # how long an exact look-up opens a person to its user


def live_persons() -> QuerySet[Person]:
    return Person.objects.filter(merged_into__isnull=True).select_related("attached_mo")


def persons_for(user) -> QuerySet[Person]:
    """Persons a user may browse: the ministry's admins everyone; an MO the patients attached to it."""
    if has_role(user, REGISTER_ADMIN_ROLES):
        return live_persons()
    if has_role(user, MO_ROLES) and user.organization_id:
        return live_persons().filter(attached_mo_id=user.organization.legal_entity_id)
    return Person.objects.none()


def may_read_persons(user) -> bool:
    return has_role(user, PERSON_READ_ROLES)


def person_for(user, pk: int) -> Person | None:
    """A person the user may open by id: in their browsable set, or one they found by an exact
    identifier within the last `LOOKUP_GRANTS` (the page links carry the id; the log keeps the trace)."""
    if not may_read_persons(user):
        return None
    person = persons_for(user).filter(pk=pk).first()
    if person is None and user.pk:
        person = live_persons().filter(pk=pk, lookups__user=user,
                                       lookups__at__gte=timezone.now() - LOOKUP_GRANTS).distinct().first()
    return person


def parse_snils(raw: str) -> str:
    try:
        return validate_snils(raw)
    except ValidationError as exc:
        raise ValidationFailed(exc.messages[0], code="person.invalid_snils", details={"field": "snils"}) from None


def find_by_snils(snils: str) -> Person | None:
    return live_persons().filter(snils=parse_snils(snils)).first()


def find_by_policy(policy: str) -> Person | None:
    policy = _SPACES.sub("", policy or "")
    if not policy:
        raise ValidationFailed("Укажите номер полиса ОМС", code="person.policy_missing")
    found = list(live_persons().filter(oms_policy=policy).order_by("pk")[:2])
    if len(found) > 1:  # a data error the ministry must fix; never guess whose card to open
        raise ConflictError("Этот полис ОМС указан у нескольких граждан: найдите по СНИЛС и сообщите в министерство",
                            code="person.policy_ambiguous")
    return found[0] if found else None


@dataclass
class NameQuery:
    words: list[str]
    birth_date: date | None


def parse_name_query(q: str, birth_date: date | None) -> NameQuery:
    words = [w for w in _SPACES.split((q or "").strip().lower().replace("ё", "е")) if w]
    if not words or sum(len(w) for w in words) < 3:
        raise ValidationFailed("Введите фамилию (и имя) — не меньше 3 букв", code="person.query_too_short")
    if len(words) > 4 or any(len(w) > 50 for w in words):
        raise ValidationFailed("Слишком длинный запрос: фамилия, имя, отчество", code="person.query_too_long")
    return NameQuery(words=words, birth_date=birth_date)


def search_by_name(persons: QuerySet[Person], query: NameQuery, *, limit: int = NAME_RESULTS) -> tuple[list, bool]:
    """Persons whose «фамилия имя отчество» has every typed word as a word start, best first; when
    none has, the most similar names (a typo). Returns (persons, similar).

    People type the surname first: that case is answered from one range of the (MO, name) index,
    the other words checked on its rows only. Words in another order fall back to the trigram
    index, which finds them anywhere."""
    base = persons
    if query.birth_date is not None:
        base = base.filter(birth_date=query.birth_date)
    first, *rest = query.words
    surname_first = base.filter(search_name__startswith=first)
    for n, word in enumerate(rest):  # STRPOS, not LIKE: keeps the planner on the range scan
        surname_first = surname_first.alias(**{f"w{n}": StrIndex(Concat(Value(" "), F("search_name")),
                                                                Value(" " + word))}).filter(**{f"w{n}__gt": 0})
    found = list(surname_first.order_by("search_name", "birth_date", "pk")[:limit])
    if found:
        return found, False
    contained = base
    for word in query.words:
        contained = contained.filter(Q(search_name__startswith=word) | Q(search_name__contains=" " + word))
    found = list(contained.order_by("last_name", "first_name", "patronymic", "birth_date", "pk")[:limit])
    if found:
        return found, False
    text = " ".join(query.words)
    similar = (base.filter(search_name__trigram_word_similar=text)
               .annotate(score=TrigramWordSimilarity(text, "search_name")).order_by("-score", "last_name", "pk"))
    return list(similar[:limit]), True


_RIGHTS = prebuilt.layout((BenefitRight, "r"), (Program, "p"), (BenefitCategory, "c"), (Diagnosis, "d"),
                          (NsiBenefitCategory, "n"))


@cache
def _rights_on_sql() -> str:
    """The statement of `rights_on` with every column of the right, its program, category (with
    its NSI entry) and diagnosis — built once: on this hot path (prescribing, the pharmacy desk,
    the API) compiling the equivalent queryset took longer than running it."""
    return (
        f"SELECT {_RIGHTS.columns}, EXISTS (SELECT 1 FROM {NsuRefusal._meta.db_table} x "
        "WHERE x.person_id = r.person_id AND x.year = %(year)s AND x.refused) "
        f"FROM {BenefitRight._meta.db_table} r "
        f"JOIN {Program._meta.db_table} p ON p.id = r.program_id "
        f"JOIN {BenefitCategory._meta.db_table} c ON c.id = r.category_id "
        f"LEFT JOIN {Diagnosis._meta.db_table} d ON d.id = r.diagnosis_id "
        f"LEFT JOIN {NsiBenefitCategory._meta.db_table} n ON n.id = c.nsi_category_id "
        "WHERE r.person_id = %(person)s AND r.valid_from <= %(day)s AND (r.valid_to IS NULL OR r.valid_to >= %(day)s) "
        "ORDER BY p.code, c.federal_code, r.valid_from, r.id"
    )


def rights_on(person: Person, day: date) -> list[BenefitRight]:
    """The person's rights in force on `day`, in one query, each with its program, category and
    diagnosis, and annotated with `refused` (the person refused the drug part of НСУ for that
    year) and `in_force` (false for ОНЛП rights so refused)."""
    rights = []
    for right, program, category, diagnosis, nsi_category, refused in prebuilt.fetch(
            _rights_on_sql(), {"person": person.pk, "day": day, "year": day.year}, _RIGHTS):
        right.program, right.category, right.diagnosis = program, category, diagnosis
        category.nsi_category = nsi_category
        right.refused = refused
        right.in_force = not (refused and program.kind == ProgramKind.ONLP)
        rights.append(right)
    return rights


def person_card(person: Person) -> Person:
    """The person with everything the card shows, prefetched."""
    return (
        Person.objects.select_related("attached_mo", "merged_into")
        .prefetch_related(
            Prefetch("rights", queryset=BenefitRight.objects.select_related("program", "category", "diagnosis")
                     .order_by("-valid_from", "pk")),
            Prefetch("register_entries", queryset=RegisterEntry.objects.order_by("-included_on")),
            Prefetch("refusals", queryset=NsuRefusal.objects.order_by("-year")),
        )
        .get(pk=person.pk)
    )


_OVERLAPS = """
    SELECT a.person_id, array_agg(DISTINCT a.id) || array_agg(DISTINCT b.id)
    FROM registry_benefitright a
    JOIN registry_benefitright b ON b.person_id = a.person_id AND b.program_id > a.program_id
      AND daterange(a.valid_from, a.valid_to, '[]') && daterange(b.valid_from, b.valid_to, '[]')
    WHERE (a.valid_to IS NULL OR a.valid_to >= %(on)s) AND (b.valid_to IS NULL OR b.valid_to >= %(on)s)
    GROUP BY a.person_id ORDER BY a.person_id LIMIT %(limit)s OFFSET %(offset)s
"""


def conflicts(*, on: date, limit: int = 50, offset: int = 0) -> list[tuple[Person, list[BenefitRight]]]:
    """Persons holding rights under several programs for the same days (still in force on `on` or
    later), each with those rights. A prescription names one program: the doctor chooses."""
    with connection.cursor() as cursor:
        cursor.execute(_OVERLAPS, {"on": on, "limit": limit, "offset": offset})
        rows = cursor.fetchall()
    persons = live_persons().in_bulk([person_id for person_id, _ in rows])
    rights = BenefitRight.objects.select_related("program", "category").in_bulk(
        [right_id for _, ids in rows for right_id in ids])
    return [(persons[pid], sorted((rights[i] for i in set(ids)), key=lambda r: (r.program.code, r.valid_from)))
            for pid, ids in rows if pid in persons]


_DUPLICATES = """
    SELECT array_agg(id ORDER BY id) FROM registry_person WHERE merged_into_id IS NULL
    GROUP BY lower(last_name), lower(first_name), lower(patronymic), birth_date, sex HAVING count(*) > 1
    ORDER BY min(lower(last_name)), min(id) LIMIT %(limit)s OFFSET %(offset)s
"""


def duplicates(*, limit: int = 50, offset: int = 0) -> list[list[Person]]:
    """Groups of live records with the same name, birth date and sex: probably one person entered
    twice (the same SNILS twice the database refuses outright)."""
    with connection.cursor() as cursor:
        cursor.execute(_DUPLICATES, {"limit": limit, "offset": offset})
        groups = [ids for (ids,) in cursor.fetchall()]
    persons = Person.objects.select_related("attached_mo").prefetch_related("rights").in_bulk(
        [pk for ids in groups for pk in ids])
    return [[persons[pk] for pk in ids if pk in persons] for ids in groups]


# --- reads for the register's pages -----------------------------------------------------------

def may_browse_persons(user) -> bool:
    """Whether a name search can find anyone for this user (a pharmacist finds by identifiers only)."""
    return has_role(user, REGISTER_ADMIN_ROLES | MO_ROLES) and bool(user.organization_id)


def merged_person_for(user, pk: int) -> Person | None:
    """A record merged into another: its card (pointing at the survivor) is for the register's admins."""
    if not has_role(user, REGISTER_ADMIN_ROLES):
        return None
    return Person.objects.select_related("merged_into").filter(pk=pk, merged_into__isnull=False).first()


def requests_for(user) -> QuerySet[InclusionRequest]:
    """Inclusion requests a user may see: the ministry's admins all; an MO its own."""
    qs = InclusionRequest.objects.select_related("organization", "created_by", "person", "program", "category",
                                                 "diagnosis", "decided_by")
    if has_role(user, REGISTER_ADMIN_ROLES):
        return qs
    if has_role(user, MO_ROLES) and user.organization_id:
        return qs.filter(organization_id=user.organization.legal_entity_id)
    return qs.none()


def sfr_imports() -> QuerySet[SfrImport]:
    return SfrImport.objects.select_related("requested_by")


def sfr_rejects(run: SfrImport) -> QuerySet[SfrReject]:
    return SfrReject.objects.filter(sfr_import=run).order_by("kind", "row_no", "pk")


def survivor_id(pk: int) -> int | None:
    """The live record a merged record leads to; None when `pk` is no merged record."""
    seen: set[int] = set()
    merged_into = Person.objects.filter(pk=pk).values_list("merged_into_id", flat=True).first()
    while merged_into is not None and merged_into not in seen:
        seen.add(merged_into)
        pk, merged_into = merged_into, Person.objects.filter(pk=merged_into).values_list(
            "merged_into_id", flat=True).first()
    return pk if seen and merged_into is None else None
