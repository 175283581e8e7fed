"""Code128 symbols for the system's own labels (labels.py), as PNG (Pillow) or SVG.

The symbol itself (start code, code sets, check character) comes from reportlab's Code128;
PDF print forms can use reportlab's own widget, `createBarcodeDrawing("Code128", value=…)`.
"""

import io
import re
from html import escape

from PIL import Image, ImageDraw, ImageFont

QUIET_MODULES = 10  # the quiet zone Code128 needs on each side
_PRINTABLE_ASCII = re.compile(r"[ -~]{1,80}")


def code128_modules(text: str) -> list[tuple[bool, int]]:
    """The symbol as (is a bar, width in modules) from left to right, without quiet zones."""
    if not isinstance(text, str) or not _PRINTABLE_ASCII.fullmatch(text):
        raise ValueError(f"Code128 labels hold 1-80 printable ASCII characters, not {text!r}")
    # imported here: reportlab.graphics.barcode loads every symbology (and pylibdmtx) on import
    from reportlab.graphics.barcode.code128 import Code128

    symbol = Code128(text)
    symbol.validate()
    symbol.encode()
    # reportlab spells widths as letters: A–D a bar of 1–4 modules, a–d a space
    return [(c.isupper(), ord(c.lower()) - ord("a") + 1) for c in symbol.decompose()]


def code128_png(text: str, *, module: int = 2, height: int = 60,
                human_readable: bool = True) -> bytes:
    """A PNG of the symbol: `module` pixels per module, bars `height` pixels high, the text
    printed under the bars unless `human_readable` is False."""
    modules = code128_modules(text)
    width = (sum(n for _, n in modules) + 2 * QUIET_MODULES) * module
    font_size = max(10, height // 4)
    text_height = int(font_size * 1.4) if human_readable else 0
    image = Image.new("1", (width, height + text_height), 1)
    draw = ImageDraw.Draw(image)
    x = QUIET_MODULES * module
    for is_bar, n in modules:
        if is_bar:
            draw.rectangle([x, 0, x + n * module - 1, height - 1], fill=0)
        x += n * module
    if human_readable:
        font = ImageFont.load_default(size=font_size)  # a bitmap font without FreeType
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        draw.text(((width - right - left) // 2, height + (text_height - bottom - top) // 2), text,
                  font=font, fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def code128_svg(text: str, *, module: float = 2, height: float = 60,
                human_readable: bool = True) -> str:
    """An SVG document of the symbol (sizes in user units, 1 = 1 CSS pixel)."""
    modules = code128_modules(text)
    width = (sum(n for _, n in modules) + 2 * QUIET_MODULES) * module
    font_size = max(10, height / 4)
    total_height = height + (font_size * 1.4 if human_readable else 0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{total_height:g}" '
        f'viewBox="0 0 {width:g} {total_height:g}" role="img" aria-label="{escape(text)}">',
        f'<rect width="{width:g}" height="{total_height:g}" fill="#fff"/>',
    ]
    x = QUIET_MODULES * module
    for is_bar, n in modules:
        if is_bar:
            parts.append(f'<rect x="{x:g}" width="{n * module:g}" height="{height:g}"/>')
        x += n * module
    if human_readable:
        parts.append(f'<text x="{width / 2:g}" y="{height + font_size * 1.1:g}" '
                     f'font-family="monospace" font-size="{font_size:g}" '
                     f'text-anchor="middle">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)
