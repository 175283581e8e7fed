"""Live progress of an NSI import run (see llo.progress)."""

from llo import progress

PHASES = {
    "queued": "ожидает обработчика",
    "downloading": "скачивание с портала НСИ",
    "loading": "проверка и загрузка записей",
    "merged": "применение изменений",
    "succeeded": "завершено",
    "failed": "ошибка",
}


def report(run_id: int, phase: str, *, done: int | None = None, total: int | None = None) -> None:
    progress.report("nsi", run_id, phase, done=done, total=total)


def read(run_id: int) -> dict:
    return progress.read("nsi", run_id, PHASES)
