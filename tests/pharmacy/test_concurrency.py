"""Fifty desks at once on PostgreSQL (issue 7): the same prescription and the same packs — exactly
one dispensing wins, every pack ends in exactly one state, the balances stay exact."""

from collections import Counter

import pytest

from llo.errors import ApplicationError
from llo.models import OutboxMessage
from pharmacy.dispensing import dispensation_create
from pharmacy.models import Dispensation, DispensedItem
from prescriptions.models import Prescription, Status, StatusChange
from tests.concurrency import at_once
from tests.pharmacy import factories as pf
from tests.warehouse.factories import datamatrix
from warehouse import ledger
from warehouse.models import MarkedPack, PackEvent, StockMovement

pytestmark = pytest.mark.django_db(transaction=True)

DESKS = 50


def test_fifty_desks_dispense_one_prescription_with_the_same_packs_once(issued, point, pharmacist, package,
                                                                         contract):
    sgtins = pf.stock(point, package, 3, contract=contract)
    codes = [datamatrix(s) for s in sgtins[:2]]

    def desk():
        rx = Prescription.objects.select_related("doctor").get(pk=issued.pk)  # each desk opened it itself
        return dispensation_create(user=pharmacist, prescription=rx, place=point, codes=codes)

    outcomes = at_once(*[desk] * DESKS)
    won = [o for o in outcomes if isinstance(o, Dispensation)]
    lost = [o for o in outcomes if isinstance(o, ApplicationError)]
    assert len(won) == 1 and len(lost) == DESKS - 1, [o for o in outcomes if not isinstance(o, (Dispensation,
                                                                                                   ApplicationError))]
    # a desk that queued on the prescription finds it dispensed; one that started after the winner
    # committed already finds its packs given out
    assert {e.code for e in lost} <= {"prescription.already_dispensed", "pack.not_available"}
    assert {e.http_status for e in lost} == {409}

    assert Prescription.objects.get(pk=issued.pk).status == Status.DISPENSED
    assert StatusChange.objects.filter(prescription=issued, to_status=Status.DISPENSED).count() == 1
    states = dict(MarkedPack.objects.values_list("sgtin", "state"))
    assert states == {sgtins[0]: "dispensed", sgtins[1]: "dispensed", sgtins[2]: "in_stock"}
    moves = Counter(PackEvent.objects.filter(to_state="dispensed").values_list("pack__sgtin", flat=True))
    assert moves == {sgtins[0]: 1, sgtins[1]: 1}  # each pack moved once, by the winner
    assert sorted(DispensedItem.objects.values_list("sgtin", flat=True)) == sorted(sgtins[:2])
    key = ledger.StockKey(point.pk, None, package.pk, "S1", "1", contract.pk)
    assert ledger.balance_of(key) == 1
    assert StockMovement.objects.filter(reason="dispensing").count() == 1
    assert ledger.drift() == []
    assert OutboxMessage.objects.filter(topic="mdlp.recipe").count() == 1


def test_desks_racing_for_the_same_packs_on_different_prescriptions(issue, point, pharmacist, package):
    sgtins = pf.stock(point, package, 2)
    prescriptions = [issue() for _ in range(12)]
    codes = [datamatrix(s) for s in sgtins]

    def desk(rx):
        return lambda: dispensation_create(user=pharmacist, prescription=rx, place=point, codes=codes)

    outcomes = at_once(*[desk(rx) for rx in prescriptions])
    won = [o for o in outcomes if isinstance(o, Dispensation)]
    lost = [o for o in outcomes if isinstance(o, ApplicationError)]
    assert len(won) == 1 and len(lost) == len(prescriptions) - 1, outcomes
    assert {e.code for e in lost} == {"pack.not_available"}
    statuses = Counter(Prescription.objects.values_list("status", flat=True))
    assert statuses == {Status.DISPENSED: 1, Status.ISSUED: len(prescriptions) - 1}  # the losers roll back
    assert set(MarkedPack.objects.values_list("state", flat=True)) == {"dispensed"}
    assert PackEvent.objects.filter(to_state="dispensed").count() == 2
    assert ledger.drift() == []
