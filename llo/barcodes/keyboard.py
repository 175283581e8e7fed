"""Text typed by a scanner in keyboard mode while the computer's layout is Russian.

A scanner in keyboard-wedge mode presses the keys of a US keyboard. With the Russian (ЙЦУКЕН)
layout active, every letter key types a Cyrillic letter, and some punctuation keys type other
punctuation: `/` arrives as `.`, `?` as `,`, `@` as `"`, `$` as `;`, `^` as `:`, `&` as `?`,
`|` as `/`, `#` as `№`. Digits, `!`, `%`, `*`, `(`, `)`, `-`, `_`, `=`, `+` and `\\` are the
same in both layouts.

The repair maps every character back to the key that typed it. It is applied only when the text
holds a Cyrillic character (or `№`): text typed in the US layout has none, and ASCII punctuation
alone cannot tell which layout typed it (a `.` may be a real `.` or a `/` typed in the Russian
layout), so a scan without any letter cannot be repaired — see docs/barcodes.md.
"""

import re

# The keys, row by row, unshifted then shifted, and the Russian layout's characters for them.
_US = (
    "`qwertyuiop[]asdfghjkl;'zxcvbnm,./"
    '~QWERTYUIOP{}ASDFGHJKL:"ZXCVBNM<>?'
    "@#$^&|"
)
_RU = (
    "ёйцукенгшщзхъфывапролджэячсмитьбю."
    "ЁЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮ,"
    '"№;:?/'
)
assert len(_US) == len(_RU) == len(set(_RU))

_RU_TO_US = str.maketrans(_RU, _US)
_US_TO_RU = str.maketrans(_US, _RU)
_TYPED_IN_RUSSIAN = re.compile("[\u0400-\u04ff№]")


def typed_in_russian_layout(text: str) -> bool:
    return _TYPED_IN_RUSSIAN.search(text) is not None


def fix_russian_layout(text: str) -> str:
    """`text` as the keys meant it, if it was typed in the Russian layout; else unchanged."""
    return text.translate(_RU_TO_US) if typed_in_russian_layout(text) else text


def as_typed_in_russian_layout(text: str) -> str:
    """What the keys of US-layout `text` type in the Russian layout (the scanner's side)."""
    return text.translate(_US_TO_RU)
