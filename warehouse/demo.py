"""The demo region's stock: two state contracts, a receipt at the regional warehouse (marked packs
in SSCC boxes and unmarked goods), storage addresses, shipments received at every dispensing point,
a recalled series (one pack of it at every point), a series about to expire, a draft receipt waiting
to be scanned — and DataMatrix images of its packs under `var/demo-codes/` for trying the scan pages.

Idempotent: nothing is added once the first demo contract exists. Everything goes through the
services, so the demo stock is what real operations would leave behind.
"""

from __future__ import annotations

import itertools
import logging
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from llo import services as llo_services
from llo.barcodes import datamatrix_available, encode_datamatrix, gs1_check_digit
from llo.demo import DEMO_PASSWORD
from llo.models import FundingSource, Organization, Package, Program, Role, User
from procurement.models import ContractDelivery, ContractItem, StateContract

from .models import Acceptance, MarkedPack, PackState, RecalledSeries, StockDocument
from .receipts import ExpectedPack, ReceiptLine, receipt_create, receipt_post, receipt_scan
from .shipments import Wanted, shipment_create, shipment_receive, shipment_scan, shipment_ship
from .storage import address_create

logger = logging.getLogger(__name__)
CONTRACTS = [
    # number, registry number, supplier, program, funding, how many packages
    ("0199200000126000101", "2990100001226000101", "SUP-01", "ONLP", FundingSource.FEDERAL, 8),
    ("0199200000126000102", "2990100001226000102", "SUP-02", "REG-CAT", FundingSource.REGIONAL, 4),
]
PACKS_PER_SERIES = 20
RECALLED_SERIES = "RZN-0426"
SHIP_PER_PACKAGE = 3


def _serial(n: int) -> str:
    """13 characters of the GS1 set, as manufacturers print them."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    out = []
    for _ in range(13):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(reversed(out))


_numbers = itertools.count(7_000_000)


def _sgtin(package: Package) -> str:
    return f"{package.gtin}{_serial(next(_numbers))}"


def pack_datamatrix(sgtin: str) -> str:
    """The GS1 element string a demo pack's DataMatrix holds (GTIN, serial, crypto tail), GS-separated."""
    return f"01{sgtin[:14]}21{sgtin[14:]}\x1d91EE06\x1d92{'dGVzdC1jcnlwdG8tY29kZS1mb3ItZGVtby1wYWNrcw=='[:44]}"


def _sscc(n: int) -> str:
    body = f"1{settings.LLO_GS1_COMPANY_PREFIX}{n:0{16 - len(settings.LLO_GS1_COMPANY_PREFIX)}d}"
    return body + gs1_check_digit(body)


def seed_stock() -> None:
    if StateContract.objects.filter(number=CONTRACTS[0][0]).exists():
        return
    clerk = User.objects.get(username="warehouse")
    warehouse = clerk.organization
    ministry = Organization.objects.get(code="MZ")
    today = timezone.localdate()
    marked = list(Package.objects.filter(is_marked=True, gtin__isnull=False, trade_name__drug__kind="drug")
                  .order_by("pk"))
    unmarked = list(Package.objects.filter(is_marked=False).order_by("pk")[:2])
    cells = [address_create(user=clerk, zone="A", rack=f"{r:02d}", shelf=f"{s:02d}", cell="01")
             for r in (1, 2) for s in (1, 2, 3)]
    boxes = itertools.count(1)
    demo_packs: list[tuple[str, str]] = []
    for start, (number, registry, supplier, program, funding, count) in zip((0, 3), CONTRACTS):
        packages = marked[start::7][:count]  # spread over the catalogue
        with transaction.atomic():
            contract = StateContract.objects.create(
                number=number, registry_number=registry, supplier=Organization.objects.get(code=supplier),
                customer=ministry, program=Program.objects.get(code=program), funding_source=funding,
                signed_on=date(today.year, 1, 20), valid_to=date(today.year, 12, 31))
            for i, package in enumerate(packages + unmarked):
                item = ContractItem.objects.create(contract=contract, package=package, quantity=2000,
                                                   price=Decimal(180 + 37 * i))
                ContractDelivery.objects.create(item=item, due_on=date(today.year, 3, 1), quantity=1000)
                ContractDelivery.objects.create(item=item, due_on=date(today.year, 9, 1), quantity=1000)
        expected = []
        for i, package in enumerate(packages):
            for s, expiry in enumerate((today + timedelta(days=400 + 30 * i), today + timedelta(days=45 + 10 * i))):
                box = _sscc(next(boxes))
                expected.append(ExpectedPack(sscc=box))
                for _ in range(PACKS_PER_SERIES):
                    expected.append(ExpectedPack(sgtin=_sgtin(package), parent_sscc=box,
                                                 series=f"{package.pk % 97:02d}{today:%y}{s + 1:02d}", expiry=expiry))
        document = receipt_create(user=clerk, contract=contract, acceptance=Acceptance.DIRECT,
                                  supplier_number=f"УПД-{number[-3:]}", supplier_date=today - timedelta(days=3),
                                  expected=expected)
        for item in expected:
            if item.sscc:
                receipt_scan(user=clerk, document=document, raw=f"00{item.sscc}")
        receipt_post(user=clerk, document=document)
        unmarked_receipt = receipt_create(user=clerk, contract=contract, acceptance=Acceptance.REVERSE, lines=[
            ReceiptLine(package=p, series=f"N{p.pk}", expiry=today + timedelta(days=700), quantity=200)
            for p in unmarked])
        receipt_post(user=clerk, document=unmarked_receipt)
        demo_packs += [(e.sgtin, str(package)) for e, package in zip(expected[1:4], packages[:1] * 3)]
        _ship_to_points(clerk, packages)
    _recalled_at_points(marked[0], today)
    RecalledSeries.objects.create(package=marked[0], series=RECALLED_SERIES,
                                  letter="Письмо Росздравнадзора № 01И-2026/26", recalled_on=today - timedelta(days=10))
    _waiting_receipt(clerk, marked[1], today)
    _save_images(demo_packs)
    logger.info("Demo stock: %s cells at %s", len(cells), warehouse)


def _ship_to_points(clerk: User, packages: list[Package]) -> None:
    for point in Organization.objects.filter(kind="dispensing_point").order_by("code"):
        ship_to_point(clerk, point, [Wanted(p, SHIP_PER_PACKAGE) for p in packages[:4]])


def ship_to_point(clerk: User, point: Organization, wanted: list[Wanted]) -> StockDocument:
    """A shipment from the clerk's warehouse, picked by scanning the packs its pick list names, shipped
    and received by the point's pharmacist — as the pages would do it."""
    document = shipment_create(user=clerk, destination=point, wanted=wanted)
    for line in document.lines.select_related("package"):  # the packs the pick list names
        for sgtin in (MarkedPack.objects.filter(place=clerk.organization, package=line.package, series=line.series,
                                                state=PackState.IN_STOCK)
                      .order_by("sgtin").values_list("sgtin", flat=True)[:line.quantity]):
            shipment_scan(user=clerk, document=document, raw=pack_datamatrix(sgtin))
    shipment_ship(user=clerk, document=document)
    return shipment_receive(user=_pharmacist_at(point), document=document)


def _recalled_at_points(package: Package, today: date) -> None:
    """One pack of the series recalled afterwards, delivered straight to every point before the recall:
    the stock pages list it for write-off and the pharmacy desk refuses it (`pack.recalled`)."""
    contract = StateContract.objects.get(number=CONTRACTS[0][0])
    for point in Organization.objects.filter(kind="dispensing_point").order_by("code"):
        user, sgtin = _pharmacist_at(point), _sgtin(package)
        document = receipt_create(user=user, contract=contract, acceptance=Acceptance.DIRECT,
                                  supplier_number=f"УПД-{point.code}", supplier_date=today - timedelta(days=20),
                                  expected=[ExpectedPack(sgtin=sgtin, series=RECALLED_SERIES,
                                                         expiry=today + timedelta(days=300))])
        receipt_scan(user=user, document=document, raw=pack_datamatrix(sgtin))
        receipt_post(user=user, document=document)


def _pharmacist_at(point: Organization) -> User:
    user = User.objects.filter(organization=point, role=Role.PHARMACIST).first()
    if user is None:
        user = llo_services.user_create(username=f"pharm_{point.code.lower().replace('-', '_')}", organization=point,
                                        role=Role.PHARMACIST, last_name="Провизорова", first_name="Ольга",
                                        position="провизор", password=DEMO_PASSWORD)
    return user


def _waiting_receipt(clerk: User, package: Package, today: date) -> None:
    """A supplier's delivery listed but not yet scanned: for trying the receipt scan page."""
    contract = StateContract.objects.get(number=CONTRACTS[0][0])
    if not contract.items.filter(package=package).exists():
        ContractItem.objects.create(contract=contract, package=package, quantity=100, price=Decimal("250.00"))
    codes = [_sgtin(package) for _ in range(6)]
    receipt_create(user=clerk, contract=contract, acceptance=Acceptance.DIRECT, supplier_number="УПД-ОЖИДАЕТ",
                   supplier_date=today, expected=[ExpectedPack(sgtin=s, series=f"W{today:%y%m}",
                                                               expiry=today + timedelta(days=540)) for s in codes])
    _save_images([(s, f"{package} — ожидает приёмки") for s in codes], folder="receipt")


def _save_images(packs: list[tuple[str, str]], folder: str = "stock") -> None:
    if not datamatrix_available():
        logger.warning("libdmtx is not installed: demo DataMatrix images are not written")
        return
    directory = settings.VAR_DIR / "demo-codes" / folder
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for sgtin, label in packs:
        (directory / f"{sgtin}.png").write_bytes(encode_datamatrix(pack_datamatrix(sgtin)))
        lines.append(f"{sgtin}.png  {label}\n    {pack_datamatrix(sgtin).replace(chr(29), '<GS>')}")
    (directory / "README.txt").write_text(
        "DataMatrix упаковок демо-региона. Строку под именем файла можно ввести в поле сканирования.\n\n"
        + "\n".join(lines) + "\n", encoding="utf-8")
