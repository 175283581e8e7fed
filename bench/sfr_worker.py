"""One Social Fund register import in a process of its own, so that its peak memory is its own.

`python -m bench.sfr_worker <C_REGO.DBF> <C_REGL.DBF> <file date yyyy-mm-dd>` loads the pair
through the import service (the path of an uploaded pair after the upload) and prints the
outcome as JSON. DATABASE_URL must name the benchmark database.
"""

import json
import os
import resource
import sys
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from registry.seeding import load_register_files  # noqa: E402


def main(persons: str, rights: str, file_date: str) -> None:
    from django.db import connection

    statements: list[tuple[float, str]] = []

    def trace(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((time.perf_counter() - started, " ".join(sql.split())[:100]))

    started = time.perf_counter()
    with connection.execute_wrapper(trace):
        run = load_register_files(Path(persons), Path(rights), file_date=date.fromisoformat(file_date))
    if os.environ.get("BENCH_TRACE"):
        for seconds, sql in sorted(statements, reverse=True)[:15]:
            print(f"{seconds:8.2f} s  {sql}", file=sys.stderr)
        print(f"{sum(s for s, _ in statements):8.2f} s  all statements; the rest is reading, checking and "
              "COPYing records", file=sys.stderr)
    print(json.dumps({
        "seconds": time.perf_counter() - started, "persons_read": run.persons_read, "rights_read": run.rights_read,
        "persons_added": run.persons_added, "persons_changed": run.persons_changed, "rights_added": run.rights_added,
        "rights_changed": run.rights_changed, "rights_closed": run.rights_closed, "rejected": run.rejected,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # the process that parses the benefits meanwhile (registry/sfr_stage.py)
        "parser_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main(*sys.argv[1:])
