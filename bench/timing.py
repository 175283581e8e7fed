import time
from contextlib import contextmanager


@contextmanager
def timed(results: dict, name: str):
    started = time.perf_counter()
    yield
    results[name] = time.perf_counter() - started


def report(title: str, n: int, results: dict, baseline: str) -> None:
    print(f"\n{title} ({n} rows)")
    base = results[baseline]
    for name, seconds in results.items():
        ratio = seconds / base if base else float("nan")
        print(f"  {name:<44} {seconds * 1000:9.1f} ms  {seconds / n * 1e6:8.1f} µs/row  ×{ratio:5.2f} vs {baseline}")
