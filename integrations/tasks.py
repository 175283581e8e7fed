"""Celery discovers `<app>.tasks`; each exchange keeps its tasks in its own package."""

from integrations.nsi.tasks import check_versions, import_run  # noqa: F401
