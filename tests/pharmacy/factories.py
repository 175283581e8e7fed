"""Stock at a dispensing point for the desk's tests: marked packs by SGTIN with their balance, or
unmarked goods by quantity; a copy of a catalogue pack (another pack size, or one without marking)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from django.db import transaction

from llo.barcodes import gs1_check_digit
from llo.models import FundingSource, Organization, Package
from procurement.models import StateContract
from tests.warehouse import factories as wf
from warehouse import ledger
from warehouse.models import Reason
from warehouse.packs import NewPack, packs_create

_seq = itertools.count(1)


def stock(place: Organization, package: Package, count: int = 2, *, series: str = "S1", expiry: date | None = None,
          contract: StateContract | None = None, funding: str = FundingSource.FEDERAL) -> list[str]:
    """`count` marked packs in stock at `place` (and their balance); returns their SGTINs."""
    expiry = expiry or date.today() + timedelta(days=365)
    sgtins = [wf.sgtin(package) for _ in range(count)]
    contract_id = contract.pk if contract else None
    with transaction.atomic():
        packs_create([NewPack(s, package.pk, series, expiry, funding, contract_id) for s in sgtins],
                     place_id=place.pk, address_id=None, document_id=None, user_id=None)
        ledger.post([ledger.Move(ledger.StockKey(place.pk, None, package.pk, series, funding, contract_id), expiry,
                                 count)], reason=Reason.RECEIPT)
    return sgtins


def stock_unmarked(place: Organization, package: Package, quantity: int, *, series: str = "U1",
                   expiry: date | None = None, contract: StateContract | None = None,
                   funding: str = FundingSource.FEDERAL) -> None:
    expiry = expiry or date.today() + timedelta(days=365)
    with transaction.atomic():
        ledger.post([ledger.Move(ledger.StockKey(place.pk, None, package.pk, series, funding,
                                                 contract.pk if contract else None), expiry, quantity)],
                    reason=Reason.RECEIPT)


def package_like(package: Package, *, marked: bool = True) -> Package:
    """Another pack of the same trade name (another pack size), marked or not."""
    n = next(_seq)
    gtin = None
    if marked:
        body = f"0469999{n:06d}"
        gtin = body + gs1_check_digit(body)
    return Package.objects.create(
        source=package.source, nsi_code=f"TEST-{n}", trade_name=package.trade_name, gtin=gtin,
        pack_quantity=package.pack_quantity + n, pack_unit=package.pack_unit, manufacturer=package.manufacturer,
        registration_certificate=package.registration_certificate, is_marked=marked,
        valid_from=package.valid_from)
