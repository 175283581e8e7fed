"""The stock ledger: movements sum into balances in the same transaction, a balance never goes
below zero (not even under many concurrent posters), movements are immutable, drift is found."""

import threading
from datetime import date

import pytest
from django.db import DatabaseError, connection, transaction

from warehouse import ledger
from warehouse.models import Reason, StockBalance, StockMovement

pytestmark = pytest.mark.django_db
EXPIRY = date(2028, 6, 30)


def key(place, package, contract, series="S1"):
    return ledger.StockKey(place.pk, None, package.pk, series, "1", contract.pk)


def post(moves, reason=Reason.RECEIPT):
    with transaction.atomic():
        return ledger.post(moves, reason=reason)


def test_movements_sum_into_balances_and_the_ledger_matches(warehouse, marked, contract):
    a, b = key(warehouse, marked[0], contract), key(warehouse, marked[1], contract, "S2")
    assert post([ledger.Move(a, EXPIRY, 5), ledger.Move(a, EXPIRY, 3), ledger.Move(b, EXPIRY, 2)]) == 2
    post([ledger.Move(a, EXPIRY, -6)], reason=Reason.SHIPMENT)
    assert (ledger.balance_of(a), ledger.balance_of(b)) == (2, 2)
    assert list(StockMovement.objects.order_by("pk").values_list("quantity", "reason")) == [
        (8, "receipt"), (2, "receipt"), (-6, "shipment")]
    assert ledger.drift() == []


def test_taking_more_than_there_is_is_refused_and_changes_nothing(warehouse, marked, contract):
    a, b = key(warehouse, marked[0], contract), key(warehouse, marked[1], contract)
    post([ledger.Move(a, EXPIRY, 5), ledger.Move(b, EXPIRY, 1)])
    movements = StockMovement.objects.count()
    with pytest.raises(ledger.InsufficientStock) as caught:
        post([ledger.Move(b, EXPIRY, -1), ledger.Move(a, EXPIRY, -6)], reason=Reason.SHIPMENT)
    assert caught.value.details["available"] == 5 and caught.value.details["needed"] == 6
    assert (ledger.balance_of(a), ledger.balance_of(b), StockMovement.objects.count()) == (5, 1, movements)
    with pytest.raises(ledger.InsufficientStock):
        post([ledger.Move(key(warehouse, marked[0], contract, "NOPE"), EXPIRY, -1)], reason=Reason.SHIPMENT)


def test_balances_the_caller_locked_are_not_locked_again_and_still_checked(warehouse, marked, contract,
                                                                           django_assert_num_queries):
    a, b = key(warehouse, marked[0], contract), key(warehouse, marked[1], contract)
    post([ledger.Move(a, EXPIRY, 5), ledger.Move(b, EXPIRY, 2)])
    balance = StockBalance.objects.get(package=marked[0])
    with transaction.atomic():
        StockBalance.objects.select_for_update().get(pk=balance.pk)  # the caller's lock
        with django_assert_num_queries(1):  # lower and write the ledger rows; no locking statement
            ledger.post([ledger.Move(a, EXPIRY, -2)], reason=Reason.SHIPMENT,
                        locked={a: ledger.Locked(balance.pk, 5)})
        with pytest.raises(ledger.InsufficientStock) as caught:  # the quantity as the caller read it
            ledger.post([ledger.Move(a, EXPIRY, -4)], reason=Reason.SHIPMENT,
                        locked={a: ledger.Locked(balance.pk, 3)})
        assert caught.value.details["available"] == 3
        with django_assert_num_queries(2):  # a key the caller did not lock is locked here as usual
            ledger.post([ledger.Move(a, EXPIRY, -1), ledger.Move(b, EXPIRY, -1)], reason=Reason.SHIPMENT,
                        locked={a: ledger.Locked(balance.pk, 3)})
    assert (ledger.balance_of(a), ledger.balance_of(b)) == (2, 1)
    assert ledger.drift() == []


def test_the_database_refuses_a_negative_balance_and_a_changed_movement(warehouse, marked, contract):
    post([ledger.Move(key(warehouse, marked[0], contract), EXPIRY, 1)])
    with pytest.raises(DatabaseError), transaction.atomic():
        StockBalance.objects.update(quantity=-1)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        StockMovement.objects.update(quantity=100)
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        StockMovement.objects.all().delete()


def test_drift_between_balances_and_ledger_is_reported(warehouse, marked, contract):
    a = key(warehouse, marked[0], contract)
    post([ledger.Move(a, EXPIRY, 4)])
    StockBalance.objects.update(quantity=7)  # what a bug or a hand edit would do
    assert [(d.series, d.ledger, d.balance) for d in ledger.drift()] == [("S1", 4, 7)]


@pytest.mark.django_db(transaction=True)
def test_many_clerks_taking_from_one_balance_at_once_never_go_below_zero(warehouse, marked, contract):
    a, b = key(warehouse, marked[0], contract), key(warehouse, marked[1], contract)
    post([ledger.Move(a, EXPIRY, 10), ledger.Move(b, EXPIRY, 10)])
    workers, barrier = 16, threading.Barrier(16)
    outcomes = []

    def take(n):
        try:
            barrier.wait()
            # half take a then b, half b then a: locks in key order keep them from deadlocking
            moves = [ledger.Move(a, EXPIRY, -1), ledger.Move(b, EXPIRY, -1)]
            post(moves if n % 2 else moves[::-1], reason=Reason.SHIPMENT)
            outcomes.append("ok")
        except ledger.InsufficientStock:
            outcomes.append("short")
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 10 and outcomes.count("short") == 6
    assert (ledger.balance_of(a), ledger.balance_of(b)) == (0, 0)
    assert StockMovement.objects.filter(reason="shipment").count() == 20
    assert ledger.drift() == []
