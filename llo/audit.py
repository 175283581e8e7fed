"""Audit trail: trigger-based history (django-pghistory) with who/for whom/which request.

Every domain model is decorated with ``@tracked()``; the triggers write an event row for
each insert, update and delete, even from raw SQL. The context attached to those rows holds
the acting user, their organization and role, and the request id (or the Celery task id),
set by ``AuditContextMiddleware`` for requests and by ``audit_context`` elsewhere.

A bulk load of hundreds of thousands of rows sets ``llo.bulk_load`` for its transaction
(``llo.bulk_audit``): the triggers' WHEN clause then skips them before they fire — no function
call, no queued event — and the load writes the same history rows set-based.
"""

import pghistory
import pgtrigger

BULK_SETTING = "llo.bulk_load"
OUTSIDE_BULK = f"current_setting('{BULK_SETTING}', true) IS DISTINCT FROM 'on'"


class _ChangedOutsideBulk(pgtrigger.AnyChange):
    """pghistory's default update condition (a tracked field changed), outside bulk loads."""

    def resolve(self, model) -> str:
        return f"(({super().resolve(model)}) AND {OUTSIDE_BULK})"


def tracked(**options):
    return pghistory.track(
        pghistory.InsertEvent(condition=pgtrigger.Condition(OUTSIDE_BULK)),
        pghistory.UpdateEvent(condition=_ChangedOutsideBulk()),
        pghistory.DeleteEvent(condition=pgtrigger.Condition(OUTSIDE_BULK)),
        **options,
    )


def actor_context(user) -> dict:
    if user is None or not getattr(user, "is_authenticated", False):
        return {"user": None, "organization": None, "role": None}
    return {"user": user.pk, "organization": user.organization_id, "role": user.role}


def audit_context(*, user=None, **extra):
    """Attach the acting user (and anything else, e.g. task id) to changes in this block."""
    return pghistory.context(**actor_context(user), **extra)
