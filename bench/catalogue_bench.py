"""Catalogue: importing ЕСКЛП with 200,000 packages and searching it.

- import: a version of ЕСКЛП with BENCH_PACKAGES (default 200,000) packages is written to a CSV
  file (the form a download takes) and applied by the import service in a process of its own
  (its peak RSS measured), against a raw COPY of the same file into a table of text columns;
  then the next version (few changes) is applied the same way.
  Targets: ≤ 60 s and ≤ 300 MB.
- search: `catalogue_packages(q=…)` for prefixes, typos, keyboard-layout slips and GTINs,
  p50/p95 over many runs, against the raw ranked-id statement alone and a plain prefix ILIKE on
  trade names. Target: p95 ≤ 20 ms.
"""

import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from llo.reference import demo_data, selectors
from llo.reference.nsi import dictionaries as d
from llo.reference.nsi.services import dictionaries_ensure, nsi_import_apply, nsi_import_request, nsi_import_start

from .timing import report

PACKAGES = int(os.environ.get("BENCH_PACKAGES", "200000"))
ROOT = Path(__file__).resolve().parents[1]


def _write_csv(path: Path, oid: str, version: str) -> int:
    header, rows = demo_data.dictionary_rows(oid, version, scale=PACKAGES)
    n = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            n += 1
    return n


def _apply_in_process(oid: str, version) -> None:
    header, rows = demo_data.dictionary_rows(oid, version.version, scale=PACKAGES)
    dictionaries_ensure()
    from llo.models import NsiDictionary

    run = nsi_import_request(dictionary=NsiDictionary.objects.get(oid=oid), version=version.version)
    nsi_import_start(run=run)
    nsi_import_apply(run=run, version=version.version, publish_date=version.publish_date, header=header, rows=rows,
                     source="bench")


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["HOST"].startswith("/"):
        return f"postgres://{db['USER']}@/{db['HOST']}/{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def _worker(version, path: Path) -> dict:
    env = {**os.environ, "DATABASE_URL": _database_url()}
    out = subprocess.run(
        [sys.executable, "-m", "bench.import_worker", d.ESKLP, version.version, version.publish_date.isoformat(),
         str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    if out.returncode:
        raise RuntimeError(f"import worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _raw_copy(path: Path, columns: int) -> float:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_packages")
        cursor.execute(f"CREATE TABLE bench_raw_packages ({', '.join(f'c{i} text' for i in range(columns))})")
        started = time.perf_counter()
        with cursor.copy("COPY bench_raw_packages FROM STDIN WITH (FORMAT csv, DELIMITER ';', HEADER true)") as copy:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw_packages")
    return seconds


def run_import() -> None:
    v10, v11 = demo_data.VERSIONS
    started = time.perf_counter()
    for oid in (d.UNITS, d.ROUTES, d.SMNN):
        _apply_in_process(oid, v10)
    print(f"\nCatalogue import: units, routes and {PACKAGES // 20 * 2 + 104:,} СМНН nodes loaded in "
          f"{time.perf_counter() - started:.1f} s (setup)")
    with tempfile.TemporaryDirectory(prefix="bench-esklp-") as tmp:
        first, second = Path(tmp) / "esklp-1.0.csv", Path(tmp) / "esklp-1.1.csv"
        n = _write_csv(first, d.ESKLP, v10.version)
        _write_csv(second, d.ESKLP, v11.version)
        columns = len(d.get(d.ESKLP).columns)
        results = {"raw COPY of the same file (baseline)": _raw_copy(first, columns)}
        one = _worker(v10, first)
        results["first import: parse, check, COPY, merge, audit"] = one["seconds"]
        _apply_in_process(d.SMNN, v11)  # 1.1 of ЕСКЛП names a node that 1.1 of СМНН adds
        two = _worker(v11, second)
        results["next version: few changes"] = two["seconds"]
        report(f"ЕСКЛП import ({n:,} packages; CSV {first.stat().st_size / 1e6:.0f} MB)", n, results,
               "raw COPY of the same file (baseline)")
        print(f"  first import: added {one['added']:,}; peak RSS of the importing process {one['max_rss_mb']:.0f} MB"
              f"  (targets: ≤ 60 s, ≤ 300 MB)")
        print(f"  next version: added {two['added']}, changed {two['changed']}, retired {two['retired']}; "
              f"peak RSS {two['max_rss_mb']:.0f} MB")


QUERIES = ["метф", "метфармин", "сиафор", "vtnajhvby", "аторв", "амло", "инсулин глар", "глюкофаж", "нитро",
           "Беларипрл", "Сирагосар", "Ценедомицин", "Ам", "лозап", "кветиап", "аторвостатин", "глар инсулин"]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def run_search(repeats: int = 30) -> None:
    today = timezone.localdate()
    gtins = [p.gtin for p in selectors.packages_qs().exclude(gtin=None).order_by("?")[:5]]
    queries = QUERIES + gtins
    from llo.reference.search import parse_query, search_package_ids

    timings = {"catalogue_packages(q) — ranked page of 20 with rows": [],
               "ranked-id statement alone, raw cursor (baseline)": [],
               "plain prefix ILIKE on trade names (floor)": []}
    counts = {}
    for _ in range(repeats):
        for q in queries:
            started = time.perf_counter()
            page = selectors.catalogue_packages(q=q, on=today, limit=20)
            timings["catalogue_packages(q) — ranked page of 20 with rows"].append(time.perf_counter() - started)
            counts[q] = page.count
            query = parse_query(q)
            started = time.perf_counter()
            search_package_ids(query, on=today, limit=20)
            timings["ranked-id statement alone, raw cursor (baseline)"].append(time.perf_counter() - started)
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("SELECT id FROM llo_tradename WHERE name ILIKE %s LIMIT 20", [q + "%"])
                cursor.fetchall()
            timings["plain prefix ILIKE on trade names (floor)"].append(time.perf_counter() - started)
    total = selectors.packages_qs().count()
    print(f"\nCatalogue search over {total:,} packages ({len(queries)} queries × {repeats})")
    base50, base95 = _percentiles(timings["ranked-id statement alone, raw cursor (baseline)"])
    for name, samples in timings.items():
        p50, p95 = _percentiles(samples)
        print(f"  {name:<58} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  ×{p95 / base95:4.2f} vs baseline p95")
    print("  matches per query:", ", ".join(f"{q}={n}" for q, n in counts.items()))
    print("  target: p95 ≤ 20 ms")


def run() -> None:
    run_import()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does shortly after a large load
    run_search()
    print(f"\n  bench process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
