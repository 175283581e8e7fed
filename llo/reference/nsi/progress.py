"""Live progress of an import run, kept in the cache: the run's own row is written in the same
transaction as the data and would show nothing until the end."""

from django.core.cache import cache

PHASES = {
    "queued": "ожидает обработчика",
    "downloading": "скачивание с портала НСИ",
    "loading": "проверка и загрузка записей",
    "merged": "применение изменений",
    "succeeded": "завершено",
    "failed": "ошибка",
}


def _key(run_id: int) -> str:
    return f"nsi-run-progress:{run_id}"


def report(run_id: int, phase: str, *, done: int | None = None, total: int | None = None) -> None:
    try:
        cache.set(_key(run_id), {"phase": phase, "done": done, "total": total}, timeout=86400)
    except Exception:  # progress is a courtesy: a cache outage must not fail an import
        pass


def read(run_id: int) -> dict:
    try:
        data = cache.get(_key(run_id)) or {}
    except Exception:
        data = {}
    phase = data.get("phase", "")
    done, total = data.get("done"), data.get("total")
    percent = int(done * 100 / total) if done is not None and total else None
    return {"phase": phase, "label": PHASES.get(phase, ""), "done": done, "total": total, "percent": percent}
