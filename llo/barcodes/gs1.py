"""GS1 element strings: the application identifiers (AIs) a drug pack or a transport pack
carries, splitting a string into (AI, value) pairs, and writing it back with GS separators.

Fixed lengths: the GS1 predefined ones (00, 01, 11, 15, 17) and those of the Russian drug
marking (21: 13, 91: 4, 92: 44), so a string whose GS separators were lost splits the same way as
one that kept them. The batch (10) is the only variable field: it ends at GS, or — GS lost — where
the rest of the string parses into valid fields (check digits, dates, characters; 91 and 92
together); if more than one end does, the scan is refused as ambiguous.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import date

from .check_digits import has_valid_check_digit
from .errors import BarcodeError
from .scanner import GS

# The 82 characters GS1 allows in alphanumeric fields (GS1 General Specifications, figure 7.11-1).
GS1_CHARS = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_GS1_TEXT = re.compile("[" + re.escape("".join(sorted(GS1_CHARS))) + "]*")
_DIGITS = re.compile(r"[0-9]*")


@dataclass(frozen=True, slots=True)
class AI:
    code: str
    title: str  # Russian, for messages
    length: int | None  # fixed length; None: variable up to max_length
    max_length: int
    numeric: bool = False
    # GS1 "predefined length" AIs need no GS after them; all others do in a normalized string.
    predefined: bool = False


AIS: dict[str, AI] = {ai.code: ai for ai in (
    AI("00", "SSCC", 18, 18, numeric=True, predefined=True),
    AI("01", "GTIN", 14, 14, numeric=True, predefined=True),
    AI("10", "серия (партия)", None, 20),
    AI("11", "дата производства", 6, 6, numeric=True, predefined=True),
    AI("15", "дата «годен до»", 6, 6, numeric=True, predefined=True),
    AI("17", "срок годности", 6, 6, numeric=True, predefined=True),
    AI("21", "серийный номер", 13, 13),
    AI("91", "код проверки", 4, 4),
    AI("92", "криптокод", 44, 44),
)}
DATE_AIS = frozenset({"11", "15", "17"})

Elements = list[tuple[str, str]]

_RESCAN = ("Отсканируйте код ещё раз; если ошибка повторяется, проверьте, что сканер передаёт "
           "символ GS и не обрезает длинные коды.")


def split_elements(text: str) -> Elements:
    """The (AI, value) pairs of an element string, in order, each value checked (check digits,
    dates, characters); raises BarcodeError."""
    elements = _split(text, 0, frozenset())
    if not _plausible({ai for ai, _ in elements}):
        raise BarcodeError(
            "incomplete",
            "В коде есть только одно из полей «код проверки» (91) и «криптокод» (92): код обрезан "
            f"или повреждён. {_RESCAN}",
        )
    return elements


def _plausible(ais: set[str] | frozenset[str]) -> bool:
    """The drug marking's key and crypto code come together."""
    return ("91" in ais) == ("92" in ais)


def _split(text: str, pos: int, seen: frozenset[str]) -> Elements:
    """The elements from `pos` on; `seen`: the AIs before `pos` (none may come again)."""
    elements: Elements = []
    while pos < len(text):
        if text[pos] == GS:  # after a fixed-length field a GS is allowed, not needed
            pos += 1
            continue
        ai = _ai_at(text, pos)
        if ai.code in seen:
            raise BarcodeError(
                "duplicate_ai",
                f"Поле «{ai.title}» ({ai.code}) встречается в коде дважды: код повреждён. "
                f"{_RESCAN}",
                ai=ai.code,
            )
        seen |= {ai.code}
        start = pos + len(ai.code)
        if ai.length is not None:
            end = start + ai.length
            value = text[start:end]
            if len(value) < ai.length or GS in value:
                got = len(value.split(GS, 1)[0])
                raise BarcodeError(
                    "truncated",
                    f"Код обрезан: поле «{ai.title}» ({ai.code}) должно содержать {ai.length} "
                    f"знаков, а получено {got}. {_RESCAN}",
                    ai=ai.code, expected=ai.length, got=got,
                )
        else:
            end = text.find(GS, start)
            if end < 0:
                end = _variable_end(text, start, ai, seen)
            value = text[start:end]
            if not value:
                raise BarcodeError(
                    "truncated", f"Код обрезан: поле «{ai.title}» ({ai.code}) пустое. {_RESCAN}",
                    ai=ai.code, expected=1, got=0,
                )
            if len(value) > ai.max_length:
                raise _too_long(ai, len(value))
        check_value(ai.code, value)
        elements.append((ai.code, value))
        pos = end
    return elements


def _ai_at(text: str, pos: int) -> AI:
    code = text[pos:pos + 2]
    if ai := AIS.get(code):
        return ai
    if len(code) < 2:
        raise BarcodeError("truncated", f"Код обрезан: в конце лишний знак «{code}». {_RESCAN}",
                           position=pos)
    raise BarcodeError(
        "unknown_ai",
        f"В коде на позиции {pos + 1} нет известного поля: «{code}» — не идентификатор "
        "применения (AI), который система понимает. Код повреждён или это не код маркировки "
        "лекарственного препарата. Отсканируйте DataMatrix на упаковке ещё раз или введите код "
        "вручную.",
        ai=code, position=pos,
    )


def _too_long(ai: AI, length: int) -> BarcodeError:
    return BarcodeError(
        "field_too_long",
        f"Поле «{ai.title}» ({ai.code}) длиннее {ai.max_length} знаков ({length}): код повреждён "
        "или сканер не передал разделитель GS. Включите передачу GS в настройках сканера и "
        "отсканируйте код ещё раз.",
        ai=ai.code, length=length,
    )


def _variable_end(text: str, start: int, ai: AI, seen: frozenset[str]) -> int:
    """Where a variable field with no GS after it ends: the one place the rest parses from."""
    if len(text) - start <= ai.max_length:
        ends = [len(text)] if _plausible(seen) else []  # the field runs to the end
        candidates = range(start + 1, len(text))
    else:
        ends = []
        candidates = range(start + 1, start + ai.max_length + 1)
    last_error = None
    for end in candidates:
        if text[end:end + 2] not in AIS:
            continue
        try:
            rest = _split(text, end, seen)
        except BarcodeError as error:
            last_error = error
        else:
            if _plausible(seen | {code for code, _ in rest}):
                ends.append(end)
    if len(ends) == 1:
        return ends[0]
    if ends:
        raise BarcodeError(
            "ambiguous",
            f"Сканер не передал разделитель GS, и поле «{ai.title}» ({ai.code}) нельзя отделить от "
            "следующих однозначно. Включите передачу GS (FNC1) в настройках сканера и "
            "отсканируйте код ещё раз.",
            ai=ai.code,
        )
    raise last_error or _too_long(ai, len(text) - start)


def check_value(ai: str, value: str) -> None:
    """Raises BarcodeError unless `value` is valid for `ai`."""
    title = AIS[ai].title
    if ai in DATE_AIS:
        try:
            gs1_date(value)
        except ValueError:
            code = "bad_expiry" if ai == "17" else "bad_date"
            raise BarcodeError(
                code,
                f"Поле «{title}» ({ai}) «{value}» — не дата ГГММДД: код повреждён. Отсканируйте "
                "его ещё раз или введите данные вручную.",
                ai=ai,
            ) from None
    elif AIS[ai].numeric:
        if not is_digits(value):
            raise BarcodeError(
                "not_numeric",
                f"{title} ({ai}) должен состоять из цифр, а получено «{value}»: код повреждён. "
                "Отсканируйте его ещё раз.",
                ai=ai,
            )
        if not has_valid_check_digit(value):
            raise BarcodeError(
                "bad_check_digit",
                f"Неверная контрольная цифра {title} {value}: код повреждён или введён с ошибкой. "
                "Отсканируйте его ещё раз или введите вручную.",
                ai=ai,
            )
    elif not is_gs1_text(value):
        bad = "".join(sorted({c for c in value if not is_gs1_text(c)}))
        raise BarcodeError(
            "serial_bad_chars" if ai == "21" else "bad_chars",
            f"Поле «{title}» ({ai}) содержит недопустимые знаки «{bad}». Если сканер работает как "
            "клавиатура, проверьте его настройки (раскладка, Caps Lock) и отсканируйте код ещё "
            "раз.",
            ai=ai,
        )


def join_elements(elements: Elements) -> str:
    """The normalized element string: GS after every field that is not of predefined length,
    except the last; no leading FNC1."""
    parts = []
    for i, (ai, value) in enumerate(elements):
        parts.append(ai + value)
        if not AIS[ai].predefined and i < len(elements) - 1:
            parts.append(GS)
    return "".join(parts)


def is_gs1_text(value: str) -> bool:
    """Only characters from the 82 GS1 allows."""
    return _GS1_TEXT.fullmatch(value) is not None


def is_digits(value: str) -> bool:
    return _DIGITS.fullmatch(value) is not None


def gs1_date(value: str, *, today: date | None = None) -> date:
    """A YYMMDD date; day 00 is the last day of the month; the century by the GS1 rule (the
    year is at most 50 years ahead of this one and at most 49 behind). Raises ValueError."""
    if len(value) != 6 or not is_digits(value):
        raise ValueError(value)
    yy, month, day = int(value[:2]), int(value[2:4]), int(value[4:])
    this_year = (today or date.today()).year
    year = this_year - this_year % 100 + yy
    if year - this_year >= 51:  # GS1 General Specifications 7.12
        year -= 100
    elif year - this_year <= -50:
        year += 100
    if not 1 <= month <= 12:
        raise ValueError(value)
    if day == 0:
        day = calendar.monthrange(year, month)[1]
    return date(year, month, day)
