"""Live progress of background work (imports), kept in the cache: the work's own row is written in
the same transaction as the data and would show nothing until the end."""

from django.core.cache import cache


def _key(kind: str, work_id: int) -> str:
    return f"progress:{kind}:{work_id}"


def report(kind: str, work_id: int, phase: str, *, done: int | None = None, total: int | None = None) -> None:
    try:
        cache.set(_key(kind, work_id), {"phase": phase, "done": done, "total": total}, timeout=86400)
    except Exception:  # progress is a courtesy: a cache outage must not fail an import
        pass


def read(kind: str, work_id: int, labels: dict[str, str]) -> dict:
    try:
        data = cache.get(_key(kind, work_id)) or {}
    except Exception:
        data = {}
    phase = data.get("phase", "")
    done, total = data.get("done"), data.get("total")
    percent = min(int(done * 100 / total), 100) if done is not None and total else None
    return {"phase": phase, "label": labels.get(phase, ""), "done": done, "total": total, "percent": percent}
