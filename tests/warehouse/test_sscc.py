"""Our own SSCC numbers: the GS1 company prefix from settings, serial references from a sequence."""

import threading

import pytest
from django.db import connection

from llo.barcodes import is_valid_sscc, parse_scan
from warehouse.sscc import sscc_next


@pytest.mark.django_db
def test_sscc_next_gives_valid_consecutive_numbers_under_the_prefix(settings):
    settings.LLO_GS1_COMPANY_PREFIX = "4607001"
    settings.LLO_SSCC_EXTENSION_DIGIT = 3
    first, second = sscc_next(), sscc_next()
    assert is_valid_sscc(first) and is_valid_sscc(second)
    assert first[:8] == second[:8] == "34607001"
    assert int(second[8:17]) == int(first[8:17]) + 1
    assert sscc_next(extension_digit=7).startswith("74607001")
    assert parse_scan("]C100" + first).sscc == first


@pytest.mark.django_db
def test_sscc_next_refuses_when_the_prefix_has_no_room_left(settings):
    settings.LLO_GS1_COMPANY_PREFIX = "460700112345"  # 12 digits leave 10**4 serial references
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval('warehouse_sscc_serial', 9999)")
    with pytest.raises(RuntimeError, match="used up"):
        sscc_next()


@pytest.mark.django_db(transaction=True)
def test_concurrent_clerks_never_get_the_same_sscc():
    workers, each, barrier = 8, 25, threading.Barrier(8)
    issued: list[str] = []

    def take():
        try:
            barrier.wait()
            issued.extend(sscc_next() for _ in range(each))
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(issued) == len(set(issued)) == workers * each
