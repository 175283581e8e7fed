"""Benchmark of the DBF reader: `python -m integrations.sfr.bench [persons] [rights]`.

Writes C_REGO with `persons` records (default 1,000,000) and C_REGL with `rights` records
(default 2,000,000) into a temporary directory — distinct synthetic records of the region
generator, repeated — then reads both with `read_dbf` and prints records per second next to a
baseline that reads and decodes the same bytes without splitting them into fields (the floor
for any reader in Python). Needs no database.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
import time
from pathlib import Path

from registry.synthetic import Region

from .dbf import PERSON_FIELDS, PERSONS_LAYOUT, RIGHT_FIELDS, RIGHTS_LAYOUT, read_dbf, write_dbf

DISTINCT = 20_000


def _baseline(path: Path, encoding: str = "cp866") -> float:
    started = time.perf_counter()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            chunk.decode(encoding, "replace")
    return time.perf_counter() - started


def _read(path: Path, required) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    with read_dbf(path, required=required) as (_fields, records):
        for _number, _record in records:
            count += 1
    return count, time.perf_counter() - started


def run(persons: int = 1_000_000, rights: int = 2_000_000) -> dict[str, float]:
    region = Region(seed=1)
    sample = list(region.federal_register(min(DISTINCT, persons)))
    with tempfile.TemporaryDirectory(prefix="sfr-bench-") as directory:
        rego, regl = Path(directory) / "C_REGO.DBF", Path(directory) / "C_REGL.DBF"
        started = time.perf_counter()
        write_dbf(rego, PERSONS_LAYOUT, itertools.islice(itertools.cycle([p for p, _ in sample]), persons))
        write_dbf(regl, RIGHTS_LAYOUT, itertools.islice(itertools.cycle([r for _, rs in sample for r in rs]), rights))
        written = time.perf_counter() - started
        size = (rego.stat().st_size + regl.stat().st_size) / 2**20
        print(f"SFR DBF: wrote {persons:,} C_REGO + {rights:,} C_REGL records ({size:,.0f} MiB) in {written:.1f} s")

        n_persons, t_persons = _read(rego, PERSON_FIELDS)
        n_rights, t_rights = _read(regl, RIGHT_FIELDS)
        base = _baseline(rego) + _baseline(regl)
        total = t_persons + t_rights
        print(f"  read C_REGO: {n_persons:,} records in {t_persons:.2f} s ({n_persons / t_persons:,.0f} records/s)")
        print(f"  read C_REGL: {n_rights:,} records in {t_rights:.2f} s ({n_rights / t_rights:,.0f} records/s)")
        print(f"  both: {total:.2f} s; baseline (read + decode the same bytes, no fields): {base:.2f} s; "
              f"ratio {total / base:.1f}×")
    return {"persons_s": t_persons, "rights_s": t_rights, "baseline_s": base}


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    run(*arguments)
