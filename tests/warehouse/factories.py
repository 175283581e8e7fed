import itertools
from datetime import date
from decimal import Decimal

from llo.barcodes import gs1_check_digit
from llo.models import FundingSource, Organization, Package, Program
from procurement.models import ContractItem, StateContract

_seq = itertools.count(1)
_serials = itertools.count(1)


def contract(supplier: Organization, customer: Organization, packages: list[Package], *, quantity: int = 1000,
             program: str = "ONLP") -> StateContract:
    n = next(_seq)
    made = StateContract.objects.create(
        number=f"0199-{n:04d}", supplier=supplier, customer=customer, program=Program.objects.get(code=program),
        funding_source=FundingSource.FEDERAL, signed_on=date(2026, 1, 15), valid_to=date(2026, 12, 31))
    for package in packages:
        ContractItem.objects.create(contract=made, package=package, quantity=quantity, price=Decimal("123.45"))
    return made


def sgtin(package: Package) -> str:
    return f"{package.gtin}{next(_serials):013d}"


def datamatrix(sgtin_value: str) -> str:
    """What a scanner sends for a pack: GS-separated, with verification key and crypto code."""
    return f"01{sgtin_value[:14]}21{sgtin_value[14:]}\x1d91EE06\x1d92{'A' * 40}Zq8="


def sscc(n: int) -> str:
    body = f"0460000000{n:07d}"
    return body + gs1_check_digit(body)
