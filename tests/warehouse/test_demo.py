"""The demo region's stock: contracts, a warehouse and every dispensing point with stock, a draft
receipt to scan, DataMatrix images to try the scanner pages — made by the services, once."""

import pytest

from llo.barcodes import datamatrix_available, decode_datamatrix, parse_scan
from llo.demo import seed_demo
from llo.models import Organization
from procurement.models import StateContract
from warehouse import ledger, selectors
from warehouse.models import MarkedPack, RecalledSeries, StockDocument, StockMovement

pytestmark = pytest.mark.django_db


def test_seed_demo_stocks_the_warehouse_and_every_point_once(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    seed_demo()
    assert StateContract.objects.count() == 2 and RecalledSeries.objects.count() == 1
    warehouse = Organization.objects.get(code="WH-01")
    points = list(Organization.objects.filter(kind="dispensing_point"))
    stocked = {row["place_id"] for row in selectors.stock(place_ids=[warehouse.pk, *[p.pk for p in points]])}
    assert stocked == {warehouse.pk, *[p.pk for p in points]}
    assert MarkedPack.objects.filter(state="in_stock", place=warehouse).count() > 100
    assert StockDocument.objects.filter(kind="receipt", status="draft").count() == 1  # waiting to be scanned
    assert ledger.drift() == []
    movements = StockMovement.objects.count()
    seed_demo()
    assert StockMovement.objects.count() == movements

    if datamatrix_available():
        images = sorted((tmp_path / "demo-codes" / "receipt").glob("*.png"))
        assert len(images) == 6
        (text,) = decode_datamatrix(images[0].read_bytes())
        assert parse_scan(text).sgtin == images[0].stem
