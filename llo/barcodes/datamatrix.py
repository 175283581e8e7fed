"""GS1 DataMatrix through libdmtx (Debian `libdmtx0b`) and the ctypes wrapper of `pylibdmtx`.

`pylibdmtx.encode()`/`decode()` do not set libdmtx's FNC1 property, so an encoded symbol is not a
GS1 DataMatrix and a decoded one loses its GS separators. Here the wrapper is driven directly:
with `DmtxPropFnc1` = 0x1D libdmtx writes every GS byte as the FNC1 codeword (232) and reads every
FNC1 back as GS. A GS1 symbol starts with FNC1, so the payload gets a leading GS on the way in
and loses it on the way out.

libdmtx is loaded on first use: without it this module still imports (parse_scan never needs
it) and only encoding and decoding raise `DataMatrixUnavailable`.
"""

import ctypes
import io
import warnings
from functools import cache

from PIL import Image, UnidentifiedImageError

from .errors import BarcodeError
from .scanner import GS

FNC1_CODEWORD = 232


class DataMatrixUnavailable(RuntimeError):
    """libdmtx (or a version of it with FNC1 support, ≥ 0.7.5) is not installed."""


@cache
def _libdmtx():
    try:
        with warnings.catch_warnings():  # pylibdmtx imports distutils
            warnings.simplefilter("ignore", DeprecationWarning)
            from pylibdmtx import wrapper
    except ImportError as error:  # pylibdmtx missing, or it did not find libdmtx
        raise DataMatrixUnavailable(
            "DataMatrix недоступен: не установлена библиотека libdmtx "
            f"(apt-get install libdmtx0b) или пакет pylibdmtx ({error})"
        ) from error
    return wrapper


def datamatrix_available() -> bool:
    try:
        _libdmtx()
    except DataMatrixUnavailable:
        return False
    return True


def encode_datamatrix(payload: str, *, gs1: bool = True, module_size: int = 5,
                      margin: int = 10) -> bytes:
    """A PNG of a square DataMatrix holding `payload`.

    gs1=True: `payload` is a GS1 element string (ScannedCode.gs1: GS between fields); the symbol
    starts with FNC1 and every GS is written as FNC1. gs1=False: a plain DataMatrix of the UTF-8
    bytes. `module_size` and `margin` are in pixels.
    """
    w = _libdmtx()
    if not payload.strip(GS):
        raise ValueError("nothing to encode")
    if gs1:
        if not payload.isascii():
            raise ValueError("a GS1 element string is ASCII")
        data = (GS + payload.lstrip(GS)).encode("ascii")
    else:
        data = payload.encode("utf-8")
    encoder = w.dmtxEncodeCreate()
    if not encoder:
        raise MemoryError("dmtxEncodeCreate failed")
    try:
        props = [
            (w.DmtxProperty.DmtxPropScheme, w.DmtxScheme.DmtxSchemeAscii),
            (w.DmtxProperty.DmtxPropSizeRequest, w.DmtxSymbolSize.DmtxSymbolSquareAuto),
            (w.DmtxProperty.DmtxPropModuleSize, module_size),
            (w.DmtxProperty.DmtxPropMarginSize, margin),
        ]
        if gs1:
            props.append((w.DmtxProperty.DmtxPropFnc1, ord(GS)))
        for prop, value in props:
            if not w.dmtxEncodeSetProp(encoder, prop, value):
                raise DataMatrixUnavailable(
                    f"libdmtx {w.dmtxVersion()} не поддерживает свойство {prop.name}: нужна 0.7.5+"
                )
        buffer = ctypes.create_string_buffer(data, len(data))
        if not w.dmtxEncodeDataMatrix(encoder, len(data), ctypes.cast(buffer, w.c_ubyte_p)):
            raise ValueError(f"libdmtx could not encode {len(data)} bytes")
        image = encoder[0].image
        width, height, bpp = (w.dmtxImageGetProp(image, p) for p in (
            w.DmtxProperty.DmtxPropWidth, w.DmtxProperty.DmtxPropHeight,
            w.DmtxProperty.DmtxPropBitsPerPixel))
        if bpp != 24:
            raise RuntimeError(f"unexpected libdmtx image: {bpp} bits per pixel")
        pixels = ctypes.string_at(image[0].pxl, width * height * 3)
    finally:
        w.dmtxEncodeDestroy(ctypes.byref(encoder))
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).convert("1").save(out, format="PNG")
    return out.getvalue()


def decode_datamatrix(image: bytes, *, timeout_ms: int = 5000, max_count: int = 10) -> list[str]:
    """The texts of the DataMatrix symbols found in an image (PNG, JPEG … anything Pillow reads).

    FNC1 comes back as GS and the leading FNC1 of a GS1 symbol is dropped, so a GS1 symbol gives
    its element string as `encode_datamatrix` took it.
    """
    return [_text(data) for data in _decoded_bytes(image, timeout_ms, max_count)]


def _decoded_bytes(image: bytes, timeout_ms: int = 5000, max_count: int = 10) -> list[bytes]:
    """The bytes of each symbol found, FNC1 as GS (a GS1 symbol's first byte is GS)."""
    w = _libdmtx()
    try:
        picture = Image.open(io.BytesIO(image))
        picture.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise BarcodeError(
            "not_an_image", "Файл не является изображением. Загрузите снимок кода в PNG или JPEG.",
        ) from error
    gray = picture.convert("L")
    pixels = gray.tobytes()
    results: list[bytes] = []
    dmtx_image = w.dmtxImageCreate(ctypes.cast(pixels, w.c_ubyte_p), gray.width, gray.height,
                                   w.DmtxPackOrder.DmtxPack8bppK)
    if not dmtx_image:
        raise MemoryError("dmtxImageCreate failed")
    try:
        decoder = w.dmtxDecodeCreate(dmtx_image, 1)
        if not decoder:
            raise MemoryError("dmtxDecodeCreate failed")
        try:
            if not w.dmtxDecodeSetProp(decoder, w.DmtxProperty.DmtxPropFnc1, ord(GS)):
                raise DataMatrixUnavailable(
                    f"libdmtx {w.dmtxVersion()} не поддерживает FNC1: нужна 0.7.5+")
            deadline = w.dmtxTimeAdd(w.dmtxTimeNow(), timeout_ms)
            while len(results) < max_count:
                region = w.dmtxRegionFindNext(decoder, ctypes.byref(deadline))
                if not region:
                    break
                try:
                    message = w.dmtxDecodeMatrixRegion(decoder, region, w.DmtxUndefined)
                    if message:
                        try:
                            results.append(
                                ctypes.string_at(message[0].output, message[0].outputIdx))
                        finally:
                            w.dmtxMessageDestroy(ctypes.byref(message))
                finally:
                    w.dmtxRegionDestroy(ctypes.byref(region))
        finally:
            w.dmtxDecodeDestroy(ctypes.byref(decoder))
    finally:
        w.dmtxImageDestroy(ctypes.byref(dmtx_image))
    return results


def _text(data: bytes) -> str:
    if data.startswith(GS.encode()):  # FNC1 in first position: a GS1 symbol
        return data[1:].decode("ascii", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")
