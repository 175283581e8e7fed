"""The demo region's pharmacy: its «dispensed» prescriptions really dispensed (packs, ledger, record),
its «deferred» ones on deferred service, one served by an arrival, a pharmacist at every point and a
key per pharmacy organization in the credentials, and a desk try-out set per point whose images scan
green at that desk (and red where they should) — made by the services, once."""

import io
import json
import logging

import pytest
from django.core.management import call_command

from llo.barcodes import datamatrix_available, decode_datamatrix, prescription_label
from llo.demo import seed_demo
from llo.models import Organization, OutboxMessage, Role, User
from pharmacy import demo as pharmacy_demo
from pharmacy.deferrals import ACTIVE
from pharmacy.demo import DESK_KEY, DeskPrescription, DeskSet, write_desk_codes
from pharmacy.dispensing import dispensation_create, scan_check
from pharmacy.models import Deferral, Dispensation, Notification
from pharmacy.selectors import places_for
from prescriptions.demo import TO_DEFER, TO_DISPENSE
from prescriptions.models import Prescription, Status
from registry.patient_token import patient_qr_png
from warehouse import ledger
from warehouse.models import (
    MarkedPack,
    RecalledSeries,
    StockDocument,
    StockMovement,
    StockReservation,
)

pytestmark = pytest.mark.django_db


def _counts() -> dict:
    return {model.__name__: model.objects.count() for model in (
        Prescription, Dispensation, Deferral, Notification, StockMovement, MarkedPack, StockDocument,
        StockReservation, RecalledSeries, OutboxMessage)}


def _check_credentials(path) -> None:
    credentials = json.loads(path.read_text())
    pharmacists = {u["organization"] for u in credentials["users"] if u["role"] == Role.PHARMACIST}
    points = Organization.objects.filter(kind="dispensing_point")
    assert set(points.values_list("short_name", flat=True)) <= pharmacists
    systems = {t["username"]: t["organization"] for t in credentials["api_tokens"] if t["username"].startswith("apteka")}
    chains = Organization.objects.filter(kind="pharmacy_org")
    assert sorted(systems.values()) == sorted(chains.values_list("short_name", flat=True))
    for username in systems:  # the system's key acts for exactly its organization's points
        user = User.objects.get(username=username)
        assert set(places_for(user)) == set(points.filter(parent=user.organization)) != set()


def test_seed_demo_dispenses_defers_and_lays_out_the_desk_once(settings, tmp_path, monkeypatch, caplog):
    settings.VAR_DIR, settings.LLO_ALLOW_DEMO = tmp_path, True
    call_command("seed_demo", stdout=io.StringIO())
    _check_credentials(tmp_path / "demo-credentials.json")
    demo = Prescription.objects.filter(idempotency_key__startswith="demo:").select_related("organization")

    to_dispense = list(demo.filter(idempotency_key__startswith=TO_DISPENSE))
    assert to_dispense and {rx.status for rx in to_dispense} == {Status.DISPENSED}
    for rx in to_dispense:
        record = Dispensation.objects.get(prescription=rx)
        sgtins = [item.sgtin for item in record.items.all()]
        assert len(sgtins) == rx.quantity and all(sgtins)
        assert set(MarkedPack.objects.filter(sgtin__in=sgtins).values_list("state", "place_id")) == {
            ("dispensed", record.place_id)}
    assert OutboxMessage.objects.filter(topic="mdlp.recipe").count() == len(to_dispense)

    to_defer = list(demo.filter(idempotency_key__startswith=TO_DEFER))
    assert {rx.status for rx in to_defer} == {Status.DEFERRED, Status.RESERVED}
    for rx in to_defer:
        deferral = Deferral.objects.get(prescription=rx, status__in=ACTIVE)
        if rx.status == Status.DEFERRED:
            assert deferral.reserved_at is None
            continue
        # served by an arrival: reserved at the point of its deferral, the patient notified
        assert deferral.reserved_at is not None and rx.reserved_at_id == deferral.place_id
        assert StockReservation.objects.filter(reference=prescription_label(rx.series, rx.number), state="active",
                                               place_id=deferral.place_id).exists()
        assert Notification.objects.filter(prescription=rx, person_id=rx.person_id).count() == 1

    for mo in Organization.objects.filter(kind="medical_org"):  # every MO keeps every state
        assert set(Prescription.objects.filter(organization=mo).values_list("status", flat=True)) == set(Status.values)
    assert ledger.drift() == []

    counts = _counts()
    readme = (tmp_path / "demo-codes" / "desk" / "README.txt").read_text(encoding="utf-8")
    seed_demo()
    assert _counts() == counts
    assert (tmp_path / "demo-codes" / "desk" / "README.txt").read_text(encoding="utf-8") == readme

    desk = tmp_path / "demo-codes" / "desk"
    desk_rx = list(demo.filter(idempotency_key__startswith=DESK_KEY).select_related("person"))
    logins = {folder.name for folder in desk.iterdir() if folder.is_dir()}
    assert logins == {pharmacy_demo.pharmacist_at(p).username for p in Organization.objects.filter(
        kind="dispensing_point")}
    assert len(desk_rx) == len(logins) * len(pharmacy_demo.DESK_QUANTITIES)
    for rx in desk_rx:
        assert rx.status == Status.ISSUED and prescription_label(rx.series, rx.number) in readme
    patients = list(desk.glob("*/RX-*/patient.png"))
    assert len(patients) == len(logins)
    rx = Prescription.objects.get(series=patients[0].parent.name.split("-")[1],
                                  number=patients[0].parent.name.split("-")[2])
    assert patients[0].read_bytes() == patient_qr_png(person=rx.person)  # the desk opens by this QR

    if not datamatrix_available():
        assert not list(desk.rglob("pack-*.png"))
        return
    sets = []
    for folder in sorted(f for f in desk.iterdir() if f.is_dir()):
        user = User.objects.get(username=folder.name)
        place = user.organization
        prescriptions = []
        for rx_folder in sorted(folder.glob("RX-*")):
            (label,) = decode_datamatrix((rx_folder / "prescription.png").read_bytes())
            assert label == rx_folder.name
            _, series, number = label.split("-")
            rx = Prescription.objects.get(series=series, number=number)
            codes = [decode_datamatrix((rx_folder / f"pack-{k}.png").read_bytes())[0]
                     for k in range(1, rx.quantity + 1)]
            assert not (rx_folder / f"pack-{rx.quantity + 1}.png").exists()
            accepted = []
            for code in codes:  # each pack green in turn, "k из n"
                verdict = scan_check(user=user, prescription=rx, place=place, raw=code, already=accepted)
                assert verdict.ok, (label, verdict.code, verdict.message)
                accepted.append(verdict.sgtin)
            assert verdict.scanned == verdict.needed == rx.quantity
            prescriptions.append((rx, codes, accepted))
        (first,) = [path.parent for path in folder.glob("RX-*/patient.png")]
        rx = Prescription.objects.get(series=first.name.split("-")[1], number=first.name.split("-")[2])
        for name, (code, _) in pharmacy_demo.ANSWERS.items():  # red, each with its own code
            if name == "recalled-pack" and not (first / f"{name}.png").exists():
                continue  # only where a patient's program lists the recalled pack's drug (pharmacy/demo.py)
            (raw,) = decode_datamatrix((first / f"{name}.png").read_bytes())
            verdict = scan_check(user=user, prescription=rx, place=place, raw=raw)
            assert not verdict.ok and verdict.code == code, (folder.name, name, verdict.message)
        for rx, codes, accepted in prescriptions:
            record = dispensation_create(user=user, prescription=rx, place=place, codes=codes)
            assert sorted(i.sgtin for i in record.item_rows) == sorted(accepted)
        sets.append(DeskSet(user=user, place=place,
                            prescriptions=[DeskPrescription(prescription=rx, sgtins=[]) for rx, *_ in prescriptions]))
    assert ledger.drift() == []

    # without libdmtx the seeder still writes what it can: the README and the patients' QR codes
    monkeypatch.setattr(pharmacy_demo, "datamatrix_available", lambda: False)
    settings.VAR_DIR = tmp_path / "no-libdmtx"
    with caplog.at_level(logging.WARNING, logger="pharmacy.demo"):
        write_desk_codes(sets)
    assert "libdmtx" in caplog.text
    written = tmp_path / "no-libdmtx" / "demo-codes" / "desk"
    assert (written / "README.txt").exists() and len(list(written.glob("*/RX-*/patient.png"))) == len(sets)
    assert not list(written.rglob("pack-*.png")) and not list(written.rglob("prescription.png"))
