"""Celery discovers `<app>.tasks`; each exchange keeps its tasks in its own package."""

from integrations.mdlp.tasks import poll as mdlp_poll  # noqa: F401
from integrations.mdlp.tasks_income import fetch as mdlp_income  # noqa: F401
from integrations.nsi.tasks import check_versions, import_run  # noqa: F401
from integrations.sfr.tasks import import_run as sfr_import_run, sync_scheduled  # noqa: F401
