"""The base of every reference record: a validity interval and a catalogue sync version."""

from datetime import date

import pgtrigger
from django.db import models
from django.db.models import Q

FAR_PAST = date(1900, 1, 1)
SYNC_SEQUENCE = "llo_catalogue_version"
# Every transaction that writes reference rows takes this lock before its first sync version,
# so versions become visible in the order they were handed out: a participant that has seen
# version V can never later find a row with a smaller one (see docs/decisions.md).
SYNC_LOCK = f"pg_advisory_xact_lock(hashtext('{SYNC_SEQUENCE}'))"


class DatedQuerySet(models.QuerySet):
    def valid_on(self, day: date):
        """Records in force on `day` (retired ones stay in the table for history)."""
        return self.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day), valid_from__lte=day)


def sync_version_triggers() -> list[pgtrigger.Trigger]:
    """Every insert and every real change takes the next catalogue version (raw SQL and COPY
    too), so a participant syncs with `changed_since=<the last version it saw>`."""
    bump = f"PERFORM {SYNC_LOCK}; NEW.sync_version := nextval('{SYNC_SEQUENCE}'); RETURN NEW;"
    return [
        pgtrigger.Trigger(name="sync_version_insert", when=pgtrigger.Before, operation=pgtrigger.Insert, func=bump),
        pgtrigger.Trigger(
            name="sync_version_update", when=pgtrigger.Before, operation=pgtrigger.Update, func=bump,
            condition=pgtrigger.Condition("OLD.* IS DISTINCT FROM NEW.*"),
        ),
    ]


def touch_children_trigger(name: str, child_table: str, fk_column: str) -> pgtrigger.Trigger:
    """A change of a parent row re-publishes its children, whose published form includes it."""
    return pgtrigger.Trigger(
        name=name, when=pgtrigger.After, operation=pgtrigger.Update,
        condition=pgtrigger.Condition("OLD.* IS DISTINCT FROM NEW.*"),
        func=f'UPDATE "{child_table}" SET sync_version = 0 WHERE "{fk_column}" = NEW.id; RETURN NULL;',
    )


def touch_parent_trigger(name: str, parent_table: str, fk_column: str) -> pgtrigger.Trigger:
    """A change of a list row (a program's drug, say) re-publishes the parent it belongs to."""
    func = (
        f'UPDATE "{parent_table}" SET sync_version = 0 '
        f'WHERE id = (CASE WHEN TG_OP = \'DELETE\' THEN OLD."{fk_column}" ELSE NEW."{fk_column}" END); '
        "RETURN NULL;"
    )
    return pgtrigger.Trigger(
        name=name, when=pgtrigger.After, operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete, func=func,
    )


class Dated(models.Model):
    """A reference record with its validity interval; checks use the operation's date."""

    valid_from = models.DateField("действует с", default=FAR_PAST)
    valid_to = models.DateField("действует по", null=True, blank=True)
    sync_version = models.BigIntegerField("версия публикации", default=0, editable=False, db_index=True)

    objects = DatedQuerySet.as_manager()

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="%(app_label)s_%(class)s_dates_ordered",
            )
        ]
        triggers = sync_version_triggers()

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or self.valid_to >= day)
