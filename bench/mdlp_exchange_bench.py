"""MDLP exchange throughput: outbox messages of dispensings (`mdlp.recipe`, two packs each) delivered to
the MDLP emulator (its own process, over HTTP) by two worker processes at once — claim, register (build
the 521, store it with its codes), order check, sign, send, record — next to a baseline of two processes
doing only the indispensable part: a raw-SQL claim, a bare `documents/send` of a prebuilt document and a
raw-SQL "done".

The real MDLP keeps one account to one `documents/send` per 0.5 s (the client's limiter, tested apart);
here the emulator's interval check and the limiter are off, so the figure is the system's own ceiling.
Target: ≥ 200 messages/s. BENCH_MDLP_MESSAGES sets the number of messages (default 2000).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import date

import requests
from django.db import connection, connections, transaction
from django.test import override_settings
from django.utils import timezone

from integrations.mdlp import breaker, exchange
from integrations.mdlp.documents import Recipe, build
from integrations.mdlp.emulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from integrations.models import MdlpDocument, MdlpStatus
from llo import outbox
from llo import services as llo_services
from llo.barcodes import with_check_digit
from llo.models import OutboxMessage, Region
from llo.models.organizations import OrganizationKind as K
from llo.validators import inn10_complete, ogrn_complete

MESSAGES = int(os.environ.get("BENCH_MDLP_MESSAGES", "2000"))
PLACE = "00000992000077"
GTIN = with_check_digit("0460700009999")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_emulator() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "integrations.mdlp.emulator", "--port", str(port),
                                "--processing-ms", "50"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}/"
    for _ in range(200):
        try:
            if requests.get(root + "_emulator/health", timeout=1).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    requests.post(root + "_emulator/config", json={"enforce_intervals": False}, timeout=5).raise_for_status()
    return process, root


def _codes(tag: str, n: int) -> list[str]:
    return [f"{GTIN}{tag}{i:07d}" for i in range(n)]


def _seed(root: str, codes: list[str]) -> None:
    for start in range(0, len(codes), 5000):
        requests.post(root + "_emulator/sgtins", json={"place": PLACE, "sgtins": codes[start:start + 5000]},
                      timeout=60).raise_for_status()


def _publish(tag: str, codes: list[str]) -> None:
    now = timezone.now().isoformat()
    with transaction.atomic():
        for n in range(MESSAGES):
            outbox.publish("mdlp.recipe", {
                "dispensation_id": n + 1, "place_mdlp_id": PLACE, "operation_date": now,
                "sgtins": codes[2 * n:2 * n + 2],
                "prescription": {"date": date.today().isoformat(), "series": "99-26", "number": f"{n + 1:06d}"},
            }, key=f"{tag}-{n + 1}")


# --- the system's way: two workers running the outbox dispatcher -------------------------------------

def _dispatch_worker(_) -> int:
    connections.close_all()
    exchange.reset_client()
    done = 0
    while True:
        counts = outbox.dispatch(limit=200)
        done += counts["done"]
        if not any(counts.values()):
            break
    connections.close_all()
    return done


# --- the baseline: raw claim, bare send of a prebuilt document, raw done -------------------------------

_CLAIM = """UPDATE llo_outboxmessage SET status = 'processing', claimed_at = now(), attempts = attempts + 1
            WHERE id = (SELECT id FROM llo_outboxmessage WHERE status = 'pending' AND topic = 'bench.raw'
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, key"""


def _raw_worker(documents: dict[str, bytes]) -> int:
    connections.close_all()
    exchange.reset_client()
    client = exchange.client()
    done = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(_CLAIM)
            row = cursor.fetchone()
            if row is None:
                break
            client.send(documents[row[1]], request_id=row[1])
            cursor.execute("UPDATE llo_outboxmessage SET status = 'done', processed_at = now() WHERE id = %s", [row[0]])
            done += 1
    connections.close_all()
    return done


def _parallel(target, argument) -> tuple[float, int]:
    connections.close_all()
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        done = sum(pool.map(target, [argument, argument]))
    return time.perf_counter() - started, done


def run() -> None:
    emulator, root = _start_emulator()
    try:
        with override_settings(DEBUG=False, MDLP_BASE_URL=root + "api/v1/", MDLP_CLIENT_ID=DEFAULT_CLIENT_ID,
                               MDLP_CLIENT_SECRET=DEFAULT_CLIENT_SECRET, MDLP_USER_ID="", MDLP_SEND_INTERVAL=0,
                               MDLP_LIST_INTERVAL=0, OUTBOX_WAKE_INTERVAL=3600):
            _run(root)
    finally:
        emulator.terminate()
        emulator.wait(10)


def _run(root: str) -> None:
    region, _ = Region.objects.get_or_create(code="97", defaults={"name": "Бенчмарк"})
    chain = llo_services.organization_create(region=region, kind=K.PHARMACY_ORG, parent=None, code="BMDLP",
                                             name="Аптечная сеть (бенчмарк)", ogrn=ogrn_complete("102980000001"), inn=inn10_complete("980000001"))
    llo_services.organization_create(region=region, kind=K.DISPENSING_POINT, parent=chain, code="BMDLP1",
                                     name="Пункт (бенчмарк)", mdlp_place_id=PLACE)
    breaker.reset()
    # `make bench` runs every benchmark on one database: the pharmacy's dispensings left their own reports
    earlier = OutboxMessage.objects.exclude(status="done").update(status="dead", last_error="left by another bench")
    if earlier:
        print(f"\n({earlier} outbox messages of earlier benchmarks set aside)")
    tag = uuid.uuid4().hex[:5].upper()  # serial: letter + 5 + 7 digits = 13
    ours, raw = _codes("A" + tag, 2 * MESSAGES), _codes("B" + tag, 2 * MESSAGES)
    _seed(root, ours + raw)

    _publish("bench-recipe", ours)
    seconds, done = _parallel(_dispatch_worker, None)
    sent = MdlpDocument.objects.filter(status=MdlpStatus.SENT).count()
    left = OutboxMessage.objects.filter(key__startswith="bench-recipe-").exclude(status="done").count()

    now = timezone.localtime()
    documents = {f"bench-raw-{n + 1}": build(Recipe(subject_id=PLACE, operation_date=now, doc_date=date.today(),
                                                    doc_num=f"{n + 1:06d}", doc_series="99-26",
                                                    sgtins=raw[2 * n:2 * n + 2])) for n in range(MESSAGES)}
    OutboxMessage.objects.bulk_create([OutboxMessage(topic="bench.raw", key=key, payload={}) for key in documents])
    raw_seconds, raw_done = _parallel(_raw_worker, documents)

    rate, raw_rate = done / seconds, raw_done / raw_seconds
    print(f"\nMDLP exchange: {MESSAGES} outbox messages (521, 2 packs each) to the emulator, 2 workers at once "
          "(target ≥ 200/s)")
    print(f"  outbox → register, order check, sign, send, record   {rate:8.0f} messages/s  ({done} done, {sent} "
          f"documents sent, {left} messages left)  ×{raw_rate / rate:4.1f} slower than the baseline")
    print(f"  baseline: raw claim, bare send of a prebuilt 521, raw done {raw_rate:6.0f} messages/s  ({raw_done})")
