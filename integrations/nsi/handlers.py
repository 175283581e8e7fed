"""Outbox topics of the NSI exchange."""

from llo import outbox
from llo.reference.nsi.services import CHECK_TOPIC, IMPORT_TOPIC


@outbox.handler(IMPORT_TOPIC)
def queue_import(message) -> dict:
    """A requested import becomes a Celery task of its own: a long import must not hold the
    outbox dispatcher, which also carries MDLP reports."""
    from .tasks import import_run

    import_run.apply_async(args=[message.payload["run_id"]], retry=False)
    return {"queued": message.payload["run_id"]}


@outbox.handler(CHECK_TOPIC)
def queue_check(message) -> dict:
    from .tasks import check_versions

    check_versions.apply_async(retry=False)
    return {"queued": "check_versions"}
