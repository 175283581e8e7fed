"""Running writers at once on PostgreSQL: threads, each with its own connection."""

from __future__ import annotations

import threading

from django.db import connection


def at_once(*calls, timeout: float = 60) -> list:
    """Run each call in a thread of its own (so a connection of its own), all released together;
    what each returned or raised, in the order given."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(n, call):
        try:
            start.wait(10)
            results[n] = call()
        except Exception as exc:  # noqa: BLE001 — the test inspects what each side got
            results[n] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a writer hangs (deadlock?)"
    return results
