"""One scan at the desk answered at once, green or red with the code — reading only; and the pinned
query counts of the scan and of the dispensing."""

from datetime import timedelta

import pytest

from llo.models import Package
from pharmacy.dispensing import dispensation_create, scan_check
from prescriptions import services, signing
from prescriptions.models import Prescription
from tests.pharmacy import factories as pf
from tests.pharmacy.conftest import snapshot
from tests.warehouse.factories import datamatrix
from warehouse.models import RecalledSeries

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(issued, point, pharmacist):
    """Scan `raw` with the packs accepted so far; the verdict."""
    rx = Prescription.objects.select_related("doctor").get(pk=issued.pk)

    def scan(raw, already=()):
        return scan_check(user=pharmacist, prescription=rx, place=point, raw=raw, already=list(already))

    return scan


def test_a_good_pack_is_green_with_what_it_is(desk, point, package):
    sgtins = pf.stock(point, package, 3)
    before = snapshot()
    first = desk("]d2" + datamatrix(sgtins[0]))
    assert (first.ok, first.code, first.sgtin, first.package_id, first.series, first.scanned, first.needed) == (
        True, "", sgtins[0], package.pk, "S1", 1, 2)
    assert "Принято" in first.message and "1 из 2" in first.message
    second = desk(datamatrix(sgtins[1]), already=[first.sgtin])
    assert (second.ok, second.scanned) == (True, 2)
    third = desk(datamatrix(sgtins[2]), already=[first.sgtin, datamatrix(sgtins[1])])  # raw scans do as well
    assert (third.ok, third.code, third.http_status) == (False, "quantity.mismatch", 422)
    assert snapshot() == before


def test_each_problem_is_red_with_its_code(desk, point, other_point, package, drug, today, issue, pharmacist):
    here = pf.stock(point, package, 2)
    elsewhere = pf.stock(other_point, package, 1)
    old = pf.stock(point, package, 1, series="OLD", expiry=today - timedelta(days=1))
    bad = pf.stock(point, package, 1, series="BAD")
    RecalledSeries.objects.create(package=package, series="BAD", letter="01и-1/26", recalled_on=today)
    other = Package.objects.filter(is_marked=True, gtin__isnull=False).exclude(trade_name__drug=drug).first()
    wrong = pf.stock(point, other, 1)
    cases = {
        "scan.not_a_code": desk("Привет"),
        "scan.not_a_pack": desk("RX-9826-000000000001"),
        "pack.duplicate": desk(datamatrix(here[0]), already=[here[0]]),
        "pack.not_available": desk(datamatrix(elsewhere[0])),
        "pack.mismatch": desk(datamatrix(wrong[0])),
        "pack.expired": desk(datamatrix(old[0])),
        "pack.recalled": desk(datamatrix(bad[0])),
    }
    assert {code: verdict.code for code, verdict in cases.items()} == {code: code for code in cases}
    assert not any(v.ok for v in cases.values())
    assert cases["pack.not_available"].http_status == 409
    assert all(v.message for v in cases.values())


def test_others_reservations_make_a_scan_red(desk, draft, doctor_user, attached_point, package):
    sgtins = pf.stock(attached_point, package, 2)
    services.prescription_issue(user=doctor_user, draft=draft(quantity=1),
                                reserve=services.Reservation(place=attached_point, days=3))
    assert desk(datamatrix(sgtins[0])).ok
    verdict = desk(datamatrix(sgtins[1]), already=[sgtins[0]])
    assert (verdict.ok, verdict.code, verdict.http_status) == (False, "stock.not_enough", 409)


def test_a_dispensed_prescription_is_red_on_the_first_scan(issued, point, pharmacist, package):
    sgtins = pf.stock(point, package, 3)
    dispensation_create(user=pharmacist, prescription=issued, place=point, codes=[datamatrix(s) for s in sgtins[:2]])
    verdict = scan_check(user=pharmacist, prescription=issued, place=point, raw=datamatrix(sgtins[2]), already=[])
    assert verdict.code == "prescription.already_dispensed"


def test_query_counts_are_pinned(desk, issued, point, pharmacist, package, contract, django_assert_num_queries):
    sgtins = pf.stock(point, package, 2, contract=contract)
    with django_assert_num_queries(2):  # the packs with their recall flag; free stock of the series
        assert desk(datamatrix(sgtins[1]), already=[sgtins[0]]).ok
    rx = Prescription.objects.select_related("doctor").get(pk=issued.pk)
    # the certificate's revocation read is kept per process (PRESCRIPTION_REVOCATION_CACHE_SECONDS): a desk's
    # process has it; read again it is one statement more
    signing.revocations_forget()
    signing.verify_prescription(rx)
    # before: packs (with recall flag and price); then savepoint, prescription CAS with its history row, packs,
    # balances lock, others' holds, ledger (lower and rows: the balances are the ones locked already), the record
    # with its items and outbox message, release
    with django_assert_num_queries(9):
        dispensation_create(user=pharmacist, prescription=rx, place=point, codes=[datamatrix(s) for s in sgtins])
