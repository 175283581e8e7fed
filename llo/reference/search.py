"""Catalogue search a doctor can type into, over INN and trade names, and exact over GTIN.

Two tiers, both served by the GIN trigram indexes on the names:

1. **Contains**: names containing every typed word (in any order; a single two-letter word
   must start the name). Ranked by where the first word occurs — names starting with it
   first — then alphabetically. Fast and predictable, so it answers most keystrokes.
2. **Similar**: only when nothing contains the text and it is at least `FUZZY_MIN_LENGTH`
   letters long, names by pg_trgm word similarity (one or two wrong letters: «сиафор» →
   Сиофор, «метфармин» → Метформин), most similar first. The page says so (`similar`).
   The `<%` operator offers names whose word similarity reaches
   pg_trgm.word_similarity_threshold, set for every connection from
   settings.TRIGRAM_WORD_SIMILARITY. Short texts are never fuzzy-matched: three letters share a
   trigram with half the catalogue.

Text typed in the Latin layout by mistake («vtnajhvby») is also read as the Russian keys it was
typed on. Each tier is one statement returning the requested page of ids with the count; the
count covers the best `MAX_NAMES` names, which bounds the work of a broad query like «ам».
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from llo.barcodes import validate_gtin
from llo.errors import ValidationFailed

MAX_NAMES = 100
MIN_LENGTH = 2
FUZZY_MIN_LENGTH = 5
FUZZY_LONG_WORD = 7

_LATIN = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
_CYRILLIC = "йцукенгшщзхъфывапролджэячсмитьбюё"
_LAYOUT = str.maketrans(_LATIN + _LATIN.upper(), _CYRILLIC + _CYRILLIC.upper())
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Query:
    text: str = ""  # the name text as it will be matched, or empty
    typed: str = ""  # the text as typed, when it differs (a Latin-layout slip)
    gtin: str = ""  # a GTIN-14 when the query was one


@dataclass
class Found:
    ids: list[int]
    count: int
    similar: bool = False  # nothing contained the text; these are similar names


def parse_query(raw: str) -> Query:
    """A run of digits is a GTIN (its check digit verified); anything else is a name."""
    text = _SPACES.sub(" ", (raw or "").strip())
    if not text:
        return Query()
    if text.isdigit():
        try:
            return Query(gtin=validate_gtin(text))
        except ValidationError as exc:
            raise ValidationFailed(exc.messages[0], code="catalogue.bad_gtin", details={"q": text}) from None
    if len(text) < MIN_LENGTH:
        raise ValidationFailed(
            f"Введите не меньше {MIN_LENGTH} символов названия или GTIN", code="catalogue.query_too_short"
        )
    if len(text) > 100:
        raise ValidationFailed("Слишком длинный запрос: до 100 символов", code="catalogue.query_too_long")
    text = text.replace("ё", "е").replace("Ё", "Е")
    if re.search(r"[a-zA-Z]", text) and not re.search(r"[а-яА-ЯёЁ\d]", text):
        return Query(text=text.translate(_LAYOUT), typed=text)
    return Query(text=text)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(text: str, column: str, params: dict, prefix: str) -> str:
    """SQL: `column` contains every word of `text` (a lone two-letter word must start it)."""
    words = [w for w in text.lower().split(" ") if w]
    conditions = []
    for i, word in enumerate(words):
        key = f"{prefix}{i}"
        lone_short = len(words) == 1 and len(word) < 3
        params[key] = _escape_like(word) + "%" if lone_short else "%" + _escape_like(word) + "%"
        conditions.append(f"{column} ILIKE %({key})s")
    params[f"{prefix}first"] = words[0]
    return " AND ".join(conditions)


def _names_contains(query: Query, params: dict) -> str:
    if " " not in query.text and len(query.text) < 3 and not query.typed:
        return _names_starting(query.text, params)

    def one(table: str, alias: str, id_columns: str) -> str:
        variants = [_contains(query.text, f"{alias}.name", params, "w")]
        if query.typed:
            variants.append(_contains(query.typed, f"{alias}.name", params, "t"))
        where = " OR ".join(f"({v})" for v in variants)
        return (f"SELECT {id_columns}, strpos(lower({alias}.name), %(wfirst)s)::float AS rank, {alias}.name AS label "
                f"FROM {table} {alias} WHERE {where}")

    return (f"names AS ({one('llo_tradename', 'tn', 'tn.id AS trade_name_id, NULL::bigint AS inn_id')} "
            f"UNION ALL {one('llo_inn', 'i', 'NULL::bigint, i.id')} ORDER BY rank, label LIMIT {MAX_NAMES})")


def _names_starting(text: str, params: dict) -> str:
    """Two letters: names starting with them, read in order from the btree on lower(name) —
    thousands of names may qualify and only the first few are wanted."""
    params["start"] = _escape_like(text.lower()) + "%"

    def one(table: str, id_columns: str) -> str:
        return (f"(SELECT {id_columns}, 1::float AS rank, name AS label FROM {table} "
                f"WHERE lower(name) COLLATE \"C\" LIKE %(start)s ORDER BY lower(name) COLLATE \"C\" LIMIT {MAX_NAMES})")

    return (f"names AS ({one('llo_tradename', 'id AS trade_name_id, NULL::bigint AS inn_id')} UNION ALL "
            f"{one('llo_inn', 'NULL::bigint, id')} ORDER BY rank, label LIMIT {MAX_NAMES})")


def _names_similar(query: Query, params: dict) -> str:
    params["q"] = query.text
    # A long word tolerates the same typo at a higher similarity; the strict operator (`<<%`,
    # pg_trgm.strict_word_similarity_threshold, 0.5 by default) keeps its similar names to the
    # ones a reader would recognise, and gives the index fewer candidates to check.
    long = len(query.text) >= FUZZY_LONG_WORD
    operator, similarity = ("<<%%", "strict_word_similarity") if long else ("<%%", "word_similarity")  # %% for psycopg
    return (
        f"names AS (SELECT tn.id AS trade_name_id, NULL::bigint AS inn_id, 1 - {similarity}(%(q)s, tn.name) AS rank, "
        f"tn.name AS label FROM llo_tradename tn WHERE %(q)s {operator} tn.name "
        f"UNION ALL SELECT NULL::bigint, i.id, 1 - {similarity}(%(q)s, i.name), i.name "
        f"FROM llo_inn i WHERE %(q)s {operator} i.name ORDER BY rank, label LIMIT {MAX_NAMES})"
    )


_VALID = "{a}.valid_from <= %({day})s AND ({a}.valid_to IS NULL OR {a}.valid_to >= %({day})s)"
_IN_PROGRAM = (
    "EXISTS (SELECT 1 FROM llo_programdrug pd WHERE pd.program_id = %(program)s AND pd.drug_id = d.id AND "
    + _VALID.format(a="pd", day="list_on") + ")"
)


def _filters(*, on: date | None, kind: str, program: int | None, package_level: bool) -> str:
    where = []
    if on is not None:
        where.append(_VALID.format(a="p" if package_level else "d", day="on"))
    if kind:
        where.append("d.kind = %(kind)s")
    if program is not None:
        where.append(_IN_PROGRAM)
    return "".join(f" AND {w}" for w in where)


def _run(sql: str, params: dict) -> tuple[list[int], int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [row[0] for row in rows], (rows[0][1] if rows else 0)


_PACKAGE_JOINS = "JOIN llo_tradename tn ON tn.id = p.trade_name_id JOIN llo_standardizeddrug d ON d.id = tn.drug_id"
_PACKAGES_BY_NAME = """
    WITH {names},
    matches AS (
        SELECT p.id, n.rank FROM names n JOIN llo_package p ON p.trade_name_id = n.trade_name_id
        UNION ALL
        SELECT p.id, n.rank FROM names n
        JOIN llo_standardizeddrug d0 ON d0.inn_id = n.inn_id
        JOIN llo_tradename t0 ON t0.drug_id = d0.id
        JOIN llo_package p ON p.trade_name_id = t0.id
    ),
    best AS (SELECT id, min(rank) AS rank FROM matches GROUP BY id)
    SELECT p.id, count(*) OVER () FROM best b JOIN llo_package p ON p.id = b.id {joins}
    WHERE true{filters}
    ORDER BY b.rank, tn.name, p.pack_quantity, p.id
    LIMIT %(limit)s OFFSET %(offset)s
"""
_DRUGS_BY_NAME = """
    WITH {names},
    matches AS (
        SELECT d0.id, n.rank FROM names n JOIN llo_standardizeddrug d0 ON d0.inn_id = n.inn_id
        UNION ALL
        SELECT t0.drug_id, n.rank FROM names n JOIN llo_tradename t0 ON t0.id = n.trade_name_id
    ),
    best AS (SELECT id, min(rank) AS rank FROM matches GROUP BY id)
    SELECT d.id, count(*) OVER () FROM best b
    JOIN llo_standardizeddrug d ON d.id = b.id JOIN llo_inn i ON i.id = d.inn_id
    WHERE true{filters}
    ORDER BY b.rank, i.name, d.dosage_form, d.dosage, d.id
    LIMIT %(limit)s OFFSET %(offset)s
"""


def _search(query: Query, template: str, gtin_sql: str, params: dict, filters: str) -> Found:
    if query.gtin:
        return Found(*_run(gtin_sql.format(filters=filters), params))
    found = Found(*_run(template.format(names=_names_contains(query, params), joins=_PACKAGE_JOINS,
                                        filters=filters), params))
    if found.count or len(query.text.replace(" ", "")) < FUZZY_MIN_LENGTH:
        return found
    similar = Found(*_run(template.format(names=_names_similar(query, params), joins=_PACKAGE_JOINS,
                                          filters=filters), params))
    similar.similar = True
    return similar


def _base_params(query: Query, on: date | None, kind: str, program: int | None, limit: int, offset: int) -> dict:
    """`on` None means every date; a program's list is still read on a day: today's."""
    return {"gtin": query.gtin, "on": on, "list_on": on or timezone.localdate(), "kind": kind, "program": program,
            "limit": limit, "offset": offset}


def search_package_ids(query: Query, *, on: date | None, kind: str = "", program: int | None = None,
                       limit: int = 50, offset: int = 0) -> Found:
    """Ids of the matching packages, best first, and how many match."""
    params = _base_params(query, on, kind, program, limit, offset)
    gtin_sql = (f"SELECT p.id, count(*) OVER () FROM llo_package p {_PACKAGE_JOINS} WHERE p.gtin = %(gtin)s"
                "{filters} ORDER BY tn.name, p.pack_quantity, p.id LIMIT %(limit)s OFFSET %(offset)s")
    filters = _filters(on=on, kind=kind, program=program, package_level=True)
    return _search(query, _PACKAGES_BY_NAME, gtin_sql, params, filters)


def search_drug_ids(query: Query, *, on: date | None, kind: str = "", program: int | None = None,
                    limit: int = 50, offset: int = 0) -> Found:
    """Ids of the matching standardized drugs (by INN, or by any of their trade names)."""
    params = _base_params(query, on, kind, program, limit, offset)
    gtin_sql = ("SELECT d.id, count(*) OVER () FROM llo_standardizeddrug d WHERE d.id IN (SELECT tn.drug_id FROM "
                "llo_package p JOIN llo_tradename tn ON tn.id = p.trade_name_id WHERE p.gtin = %(gtin)s)"
                "{filters} ORDER BY d.id LIMIT %(limit)s OFFSET %(offset)s")
    filters = _filters(on=on, kind=kind, program=program, package_level=False)
    return _search(query, _DRUGS_BY_NAME, gtin_sql, params, filters)
