"""Reads of the NSI import state: dictionaries with their last run, run history."""

from django.db.models import QuerySet

from llo.models import NsiDictionary, NsiImportRun

from .services import needs_update


def runs_qs() -> QuerySet[NsiImportRun]:
    return NsiImportRun.objects.select_related("dictionary", "requested_by")


def dictionaries_with_last_runs(dictionaries: list[NsiDictionary] | None = None) -> list[NsiDictionary]:
    """Each dictionary with `last_run`, `update_available` and `run_active`, in two queries."""
    if dictionaries is None:
        dictionaries = list(NsiDictionary.objects.order_by("load_order", "oid"))
    last = {
        run.dictionary_id: run
        for run in NsiImportRun.objects.filter(dictionary__in=dictionaries)
        .order_by("dictionary_id", "-requested_at", "-id").distinct("dictionary_id")
    }
    for dictionary in dictionaries:
        dictionary.last_run = last.get(dictionary.pk)
        dictionary.update_available = needs_update(dictionary)
        dictionary.run_active = dictionary.last_run is not None and dictionary.last_run.is_active
    return dictionaries
