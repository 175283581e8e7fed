"""Beneficiary register: loading the Social Fund register (1,000,000 persons, about 2,000,000
benefits) and finding persons in it.

- import: the DBF pair is generated (setup), then loaded by the import service in a process of its
  own (peak RSS measured), against reading the same files and COPYing their raw strings into
  tables of text columns (the floor); then the same files again (nothing may change).
  Targets: first load ≤ 90 s and ≤ 400 MB; re-import ≤ 45 s.
- look-ups at that size: by SNILS with the person's rights on the day (what the API does), by
  name with and without a birth date, p50/p95, against the bare SQL statement.
  Targets: SNILS p95 ≤ 5 ms, name p95 ≤ 50 ms.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.db import connection
from django.utils import timezone

from llo.demo import DEMO_SEEDERS, seed_demo
from registry import selectors
from registry.models import Person
from registry.seeding import attach_to_mos, write_register_files
from registry.synthetic import Region

from .catalogue_bench import ROOT, _database_url, _percentiles
from .timing import report

PERSONS = int(os.environ.get("BENCH_PERSONS", "1000000"))


def _worker(persons: Path, rights: Path) -> dict:
    env = {**os.environ, "DATABASE_URL": _database_url()}
    out = subprocess.run([sys.executable, "-m", "bench.sfr_worker", str(persons), str(rights),
                          timezone.localdate().isoformat()], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"import worker failed:\n{out.stderr[-3000:]}")
    if os.environ.get("BENCH_TRACE"):
        print(out.stderr, file=sys.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _raw_copy(persons: Path, rights: Path) -> float:
    """The floor: the same files read by the same reader, raw strings COPYed into text tables."""
    from integrations.sfr.dbf import PERSON_FIELDS, RIGHT_FIELDS, read_dbf

    with connection.cursor() as cursor:
        started = time.perf_counter()
        for path, fields, table in ((persons, PERSON_FIELDS, "bench_raw_persons"),
                                    (rights, RIGHT_FIELDS, "bench_raw_rights")):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TABLE {table} ({', '.join(f'{f} text' for f in fields)})")
            with read_dbf(path, required=fields) as (_, records), cursor.copy(f"COPY {table} FROM STDIN") as copy:
                for _, record in records:
                    copy.write_row([record[f] for f in fields])
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw_persons, bench_raw_rights")
    return seconds


def run_import(directory: Path) -> None:
    started = time.perf_counter()
    persons, rights = write_register_files(Region(seed=11, today=timezone.localdate()), PERSONS, directory)
    size = (persons.stat().st_size + rights.stat().st_size) / 2**20
    print(f"\nRegister files: {PERSONS:,} persons, {size:.0f} MB of DBF, written in {time.perf_counter() - started:.0f} s"
          " (setup)")
    results = {"raw COPY of the same records (baseline)": _raw_copy(persons, rights)}
    first = _worker(persons, rights)
    results["first load: check, stage, merge, history"] = first["seconds"]
    again = _worker(persons, rights)
    results["the same files again (nothing changes)"] = again["seconds"]
    rows = first["persons_read"] + first["rights_read"]
    report(f"Social Fund register import ({first['persons_read']:,} persons + {first['rights_read']:,} benefits)",
           rows, results, "raw COPY of the same records (baseline)")
    print(f"  first load: persons +{first['persons_added']:,}, rights +{first['rights_added']:,}, rejected "
          f"{first['rejected']}; peak RSS {_rss(first)} (targets: ≤ 90 s, ≤ 400 MB)")
    print(f"  again: changed {again['persons_changed'] + again['rights_changed']}, closed {again['rights_closed']}, "
          f"peak RSS {_rss(again)} (target: ≤ 45 s)")


def _rss(outcome: dict) -> str:
    """The importing process and the benefits' parser it forks run side by side: both, and their sum."""
    own, parser = outcome["max_rss_mb"], outcome["parser_rss_mb"]
    return f"{own:.0f} MB + {parser:.0f} MB of the benefits' parser = {own + parser:.0f} MB"


def _timed(samples: list, fn, *args) -> None:
    started = time.perf_counter()
    fn(*args)
    samples.append(time.perf_counter() - started)


def run_lookups(repeats: int = 400) -> None:
    attach_to_mos("99")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE registry_person")
        cursor.execute("VACUUM ANALYZE registry_benefitright")
    today = timezone.localdate()
    sample = list(Person.objects.order_by("?").values_list("snils", "last_name", "first_name", "birth_date",
                                                             "attached_mo_id")[:repeats])
    timings = {name: [] for name in ("snils: person + rights on the day", "snils: bare SELECT (baseline)",
                                     "name + birth date", "name within the MO (a doctor)", "a typo + birth date",
                                     "name: bare LIKE on the name (baseline)")}
    rng = random.Random(5)
    for snils, last, first, birth, mo in sample:
        formatted = f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}"
        _timed(timings["snils: person + rights on the day"],
               lambda: selectors.rights_on(selectors.find_by_snils(formatted), today))
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute("SELECT id FROM registry_person WHERE snils = %s AND merged_into_id IS NULL", [snils])
            cursor.fetchall()
            timings["snils: bare SELECT (baseline)"].append(time.perf_counter() - started)
            started = time.perf_counter()
            cursor.execute("SELECT id FROM registry_person WHERE search_name LIKE %s LIMIT 50",
                           [f"{last.lower()} {first.lower()[:3]}%"])
            cursor.fetchall()
            timings["name: bare LIKE on the name (baseline)"].append(time.perf_counter() - started)
        query = selectors.parse_name_query(f"{last} {first[:3]}", birth)
        _timed(timings["name + birth date"], selectors.search_by_name, selectors.live_persons(), query)
        within = selectors.live_persons().filter(attached_mo_id=mo)
        query = selectors.parse_name_query(f"{last} {first}", None)
        _timed(timings["name within the MO (a doctor)"], selectors.search_by_name, within, query)
        typo = list(last.lower())
        typo[rng.randrange(1, len(typo))] = rng.choice("аоеиу")
        query = selectors.parse_name_query("".join(typo), birth)
        _timed(timings["a typo + birth date"], selectors.search_by_name, selectors.live_persons(), query)
    print(f"\nLook-ups over {Person.objects.count():,} persons ({repeats} of each)")
    base = _percentiles(timings["snils: bare SELECT (baseline)"])[1]
    for name, samples in timings.items():
        p50, p95 = _percentiles(samples)
        print(f"  {name:<44} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  ×{p95 / base:5.1f} vs bare SNILS SELECT p95")
    print("  targets: SNILS p95 ≤ 5 ms, name p95 ≤ 50 ms")


def _region_with_an_empty_register() -> None:
    """The demo region and catalogue without the demo beneficiaries: the import is a first load."""
    seeders = dict(DEMO_SEEDERS)
    DEMO_SEEDERS.pop("registry", None)
    try:
        seed_demo()
    finally:
        DEMO_SEEDERS.update(seeders)


def run() -> None:
    _region_with_an_empty_register()
    with tempfile.TemporaryDirectory(prefix="bench-sfr-") as tmp:
        run_import(Path(tmp))
    run_lookups()
