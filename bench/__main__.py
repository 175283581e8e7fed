"""`make bench`: run every benchmark on a throw-away database and print figures and ratios.

Each benchmark measures the system's way of doing something next to a baseline that does
the same work in raw SQL or COPY, in the same run, on the same database.
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from bench import (  # noqa: E402
    catalogue_bench,
    mdlp_bench,
    mdlp_exchange_bench,
    outbox_bench,
    pharmacy_bench,
    prescriptions_bench,
    registry_bench,
    warehouse_bench,
)
from integrations.sfr import bench as sfr_dbf_bench  # noqa: E402

BENCHMARKS = {
    "outbox": outbox_bench.run,
    "catalogue": catalogue_bench.run,
    "registry": registry_bench.run,
    "sfr_dbf": sfr_dbf_bench.run,
    "warehouse": warehouse_bench.run,
    "prescriptions": prescriptions_bench.run,
    "pharmacy": pharmacy_bench.run,
    "mdlp": mdlp_bench.run,
    "mdlp_exchange": mdlp_exchange_bench.run,
}


def main(names: list[str]) -> None:
    setup_test_environment()
    # apart from the tests' database; BENCH_DB lets two benchmarks run side by side
    connection.settings_dict.setdefault("TEST", {})["NAME"] = os.environ.get("BENCH_DB", "bench_llo")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        for name in names or BENCHMARKS:
            BENCHMARKS[name]()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main(sys.argv[1:])
