"""What real scanners send, reduced to the code's own text with GS (0x1D) between fields.

Handled, in this order (docs/barcodes.md explains each):

1. stray whitespace anywhere: spaces, tabs, CR/LF, no-break spaces (no code we read holds one);
2. the Russian keyboard layout (keyboard.py);
3. GS written out as text or as another character (`GS_RENDERINGS`), and 0xE8 (`è`, FNC1 as
   some scanners send it) — all become GS;
4. the AIM symbology identifier `]xN` (`]d2` GS1 DataMatrix, `]C1` GS1-128, `]Q3` GS1 QR …);
5. GS at either end (a leading one is the FNC1 of a GS1 symbol).
"""

import re

from .errors import BarcodeError
from .keyboard import fix_russian_layout

GS = "\x1d"
MAX_INPUT = 512  # longer input is refused before any other work

# Text forms of GS seen in scanner output, label software and logs; compared ignoring case.
GS_RENDERINGS = (
    "<GS>", "[GS]", "{GS}",            # scanner "show control characters" modes, label software
    "<FNC1>", "[FNC1]", "{FNC1}",      # label software (BarTender, NiceLabel …)
    "^]",                              # caret notation of Ctrl+] (terminals, some wedges)
    "\\x1d", "\\u001d",                # escapes copied from logs, JSON or Python
    "\u241d",                          # ␝ SYMBOL FOR GROUP SEPARATOR (editors)
    "\u2194",                          # ↔ the CP437 glyph of 0x1D (Windows Alt+29)
    "\u00e8",                          # è = 0xE8, FNC1 as some scanners send it
)
_GS_RENDERING = re.compile("|".join(re.escape(r) for r in GS_RENDERINGS), re.IGNORECASE)
_WHITESPACE = str.maketrans("", "", " \t\r\n\v\f\u00a0")
# `]`, the symbology letter, the modifier: ISO/IEC 15424.
_AIM_PREFIX = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_PRINTABLE = re.compile(r"[\x1d!-~]*")


def normalize_scan(raw: object) -> tuple[str, str | None]:
    """(the code's text, the AIM symbology identifier or None); raises BarcodeError."""
    if not isinstance(raw, str):
        raise BarcodeError("not_a_code", "Сканер передал не текст. Отсканируйте код ещё раз.")
    if len(raw) > MAX_INPUT:
        raise BarcodeError(
            "too_long",
            f"Строка слишком длинная ({len(raw)} знаков, допустимо не больше {MAX_INPUT}): это не "
            "один штрихкод. Очистите поле и отсканируйте один код.",
            length=len(raw),
        )
    text = fix_russian_layout(raw.translate(_WHITESPACE))
    text = _GS_RENDERING.sub(GS, text)
    symbology = None
    if match := _AIM_PREFIX.match(text):
        symbology, text = match.group(), text[match.end():]
    text = text.strip(GS)
    if not text:
        raise BarcodeError("empty", "Сканер ничего не передал. Отсканируйте код ещё раз.")
    if not _PRINTABLE.fullmatch(text):
        raise BarcodeError(
            "not_a_code",
            "Сканер передал непечатаемые или посторонние символы: это не штрихкод, который знает "
            "система, или сканер настроен неверно (кодировка, режим клавиатуры). Отсканируйте код "
            "ещё раз или введите его вручную.",
        )
    return text, symbology
