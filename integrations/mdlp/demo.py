"""The demo region's packs in the MDLP emulator (`make run`): before the first report goes, the emulator
must know each pack where MDLP would have it before our operations — with its supplier, shipped to us
(direct acceptance) or in circulation there (reverse) — so that the demo's receipts, shipments and
dispensings are accepted when the outbox delivers them. The supplier's waiting shipment (a receipt
still in draft) arrives as a 601 in the warehouse's income list. The emulator keeps its registry in
var/ between runs, so this is done once: a registry that already holds packs is left alone."""

from __future__ import annotations

from collections import defaultdict

import requests
from django.conf import settings

from warehouse.models import (
    Acceptance,
    DocumentCode,
    DocumentKind,
    DocumentStatus,
    MarkedPack,
    PackEvent,
    StockDocument,
)

CHUNK = 5000


def emulator_root() -> str:
    return settings.MDLP_BASE_URL.split("/api/")[0].rstrip("/") + "/"


def seed_emulator(root: str | None = None) -> dict:
    root = root or emulator_root()
    stats = requests.get(root + "_emulator/stats", timeout=10).json()
    if stats["packs"]:
        return {"skipped": True, **stats}
    groups: dict[tuple[str, str, str | None], list[str]] = defaultdict(list)
    published, seen = 0, set()
    receipts = (StockDocument.objects.filter(kind=DocumentKind.RECEIPT).select_related("place", "counterparty")
                .order_by("pk"))
    for receipt in receipts:
        codes = list(DocumentCode.objects.filter(document=receipt).exclude(sgtin="").order_by("pk")
                     .values_list("sgtin", flat=True))
        supplier, place = receipt.counterparty.mdlp_place_id, receipt.place.mdlp_place_id
        if not codes or not supplier or not place:
            continue
        seen.update(codes)
        if receipt.status == DocumentStatus.DRAFT and receipt.acceptance == Acceptance.DIRECT:
            _post(root, "publish", {"sender": supplier, "receiver": place, "sgtins": codes,
                                    "doc_num": receipt.supplier_number or receipt.number})
            published += 1
        elif receipt.acceptance == Acceptance.DIRECT:
            groups[(supplier, "in_transit", place)].extend(codes)
        else:
            groups[(supplier, "in_circulation", None)].extend(codes)
    first_place = dict(PackEvent.objects.order_by("pack_id", "pk").distinct("pack_id")
                       .values_list("pack_id", "place__mdlp_place_id"))
    for pk, sgtin, place in MarkedPack.objects.exclude(sgtin__in=seen).values_list("pk", "sgtin",
                                                                                    "place__mdlp_place_id"):
        origin = first_place.get(pk) or place
        if origin:
            groups[(origin, "in_circulation", None)].append(sgtin)
    seeded = 0
    for (place, state, receiver), codes in groups.items():
        for start in range(0, len(codes), CHUNK):
            body = {"place": place, "state": state, "sgtins": codes[start:start + CHUNK]}
            if receiver:
                body["receiver"] = receiver
            seeded += _post(root, "sgtins", body)["seeded"]
    return {"skipped": False, "packs": seeded, "incoming": published}


def _post(root: str, command: str, body: dict) -> dict:
    response = requests.post(f"{root}_emulator/{command}", json=body, timeout=60)
    response.raise_for_status()
    return response.json()
