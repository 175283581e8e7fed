"""One NSI import in a process of its own, so that its peak memory can be measured alone.

`python -m bench.import_worker <oid> <version> <publish yyyy-mm-dd> <csv file>` applies the
version through the import service (the path a real import takes after the download) and
prints the run's figures as JSON. DATABASE_URL must name the benchmark database.
"""

import csv
import json
import os
import resource
import sys
import time
from datetime import date

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from llo.models import NsiDictionary  # noqa: E402
from llo.reference.nsi.services import dictionaries_ensure, nsi_import_apply, nsi_import_request, nsi_import_start  # noqa: E402


def main(oid: str, version: str, publish: str, path: str) -> None:
    dictionaries_ensure()
    run = nsi_import_request(dictionary=NsiDictionary.objects.get(oid=oid), version=version)
    nsi_import_start(run=run)
    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=";")
        header = next(reader)
        run = nsi_import_apply(run=run, version=version, publish_date=date.fromisoformat(publish), header=header,
                               rows=reader, source="bench")
    seconds = time.perf_counter() - started
    print(json.dumps({
        "seconds": seconds, "rows": run.rows_total, "added": run.added, "changed": run.changed,
        "retired": run.retired, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main(*sys.argv[1:])
