"""Outbox topics of the Social Fund exchange."""

from llo import outbox
from registry.sfr_services import IMPORT_TOPIC


@outbox.handler(IMPORT_TOPIC)
def queue_import(message) -> dict:
    """A requested import becomes a Celery task of its own (a million records take a minute or two)."""
    from .tasks import import_run

    import_run.apply_async(args=[message.payload["run_id"]], retry=False)
    return {"queued": message.payload["run_id"]}
