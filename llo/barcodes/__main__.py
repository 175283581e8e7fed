"""Try the barcode module from a shell (no database, no Django settings needed):

    python -m llo.barcodes parse 'TEXT'                 what parse_scan makes of TEXT
    python -m llo.barcodes datamatrix 'TEXT' pack.png   a GS1 DataMatrix of the code in TEXT
    python -m llo.barcodes code128 'ADR-A-01-02-03' label.png   (or label.svg)
    python -m llo.barcodes decode pack.png              the DataMatrix texts in an image

GS cannot be typed in a shell: write it as <GS> (or any rendering parse_scan accepts).
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from . import (
    GS,
    BarcodeError,
    code128_png,
    code128_svg,
    decode_datamatrix,
    encode_datamatrix,
    parse_scan,
)


def _show(text: str) -> str:
    return text.replace(GS, "<GS>")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llo.barcodes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("parse").add_argument("text")
    for name in ("datamatrix", "code128"):
        command = commands.add_parser(name)
        command.add_argument("text")
        command.add_argument("file", type=Path)
    commands.add_parser("decode").add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "parse":
            scanned = parse_scan(args.text)
            for field in dataclasses.fields(scanned):
                value = getattr(scanned, field.name)
                if value not in (None, ()):
                    print(f"{field.name:22} {_show(str(value))}")
        elif args.command == "datamatrix":
            args.file.write_bytes(encode_datamatrix(parse_scan(args.text).gs1 or ""))
        elif args.command == "code128":
            if args.file.suffix.lower() == ".svg":
                args.file.write_text(code128_svg(args.text), encoding="utf-8")
            else:
                args.file.write_bytes(code128_png(args.text))
        else:
            for text in decode_datamatrix(args.file.read_bytes()):
                print(_show(text))
    except BarcodeError as error:
        print(f"{error.code}: {error.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
