"""Writers of reference data under real concurrency on PostgreSQL: publication versions become
visible in order, a list row is added once, an import runs once."""

import threading
from datetime import date

import pytest
from django.db import connection, transaction

from llo.errors import ConflictError
from llo.models import NsiDictionary, NsiImportRun, Package, Program, ProgramDrug, StandardizedDrug
from llo.reference.nsi.services import nsi_import_request
from llo.reference.services import program_row_add

pytestmark = pytest.mark.django_db(transaction=True)


def in_thread(target, results, key):
    def run():
        try:
            results[key] = target()
        except Exception as exc:  # noqa: BLE001 — the test inspects what each side got
            results[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_versions_become_visible_in_the_order_they_are_handed_out(reference):
    first, second = Package.objects.order_by("pk")[:2]
    hold = threading.Event()
    a_wrote = threading.Event()
    results = {}

    def writer_a():
        with transaction.atomic():
            Package.objects.filter(pk=first.pk).update(manufacturer="A")
            a_wrote.set()
            hold.wait(10)
        return Package.objects.get(pk=first.pk).sync_version

    def writer_b():
        a_wrote.wait(10)
        with transaction.atomic():
            Package.objects.filter(pk=second.pk).update(manufacturer="B")
        return Package.objects.get(pk=second.pk).sync_version

    ta = in_thread(writer_a, results, "a")
    tb = in_thread(writer_b, results, "b")
    a_wrote.wait(10)
    tb.join(0.7)
    assert tb.is_alive(), "B must wait for A: otherwise B's smaller-or-larger version could be seen first"
    before = Package.objects.order_by("-sync_version").values_list("sync_version", flat=True).first()
    hold.set()
    ta.join(10)
    tb.join(10)
    assert results["b"] > results["a"] > before


def test_the_same_drug_is_put_on_a_list_once_however_many_curators_click(reference, ministry_admin):
    program = Program.objects.get(code="VZN")
    drug = StandardizedDrug.objects.filter(inn__name="Метформин").first()
    start = threading.Barrier(4)
    results = {}

    def add():
        start.wait(5)
        return program_row_add(user=ministry_admin, program=program, kind="drug", item=drug,
                               valid_from=date(2026, 12, 1))

    threads = [in_thread(add, results, n) for n in range(4)]
    for t in threads:
        t.join(20)
    added = [r for r in results.values() if isinstance(r, ProgramDrug)]
    refused = [r for r in results.values() if isinstance(r, ConflictError)]
    assert len(added) == 1 and len(refused) == 3, results
    assert ProgramDrug.objects.filter(program=program, drug=drug).count() == 1


def test_one_import_of_a_dictionary_however_many_requests(reference):
    dictionary = NsiDictionary.objects.get(oid="1.2.643.5.1.13.13.99.2.540")
    start = threading.Barrier(4)
    results = {}

    def request():
        start.wait(5)
        return nsi_import_request(dictionary=dictionary, version="1.1")

    threads = [in_thread(request, results, n) for n in range(4)]
    for t in threads:
        t.join(20)
    runs = [r for r in results.values() if isinstance(r, NsiImportRun)]
    assert len(runs) == 1 and sum(isinstance(r, ConflictError) for r in results.values()) == 3
    assert NsiImportRun.objects.filter(dictionary=dictionary, status="queued").count() == 1
