"""Audit trail: trigger-based history (django-pghistory) with who/for whom/which request.

Every domain model is decorated with ``@tracked()``; the triggers write an event row for
each insert, update and delete, even from raw SQL. The context attached to those rows holds
the acting user, their organization and role, and the request id (or the Celery task id),
set by ``AuditContextMiddleware`` for requests and by ``audit_context`` elsewhere.
"""

import pghistory


def tracked(**options):
    return pghistory.track(
        pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), **options
    )


def actor_context(user) -> dict:
    if user is None or not getattr(user, "is_authenticated", False):
        return {"user": None, "organization": None, "role": None}
    return {"user": user.pk, "organization": user.organization_id, "role": user.role}


def audit_context(*, user=None, **extra):
    """Attach the acting user (and anything else, e.g. task id) to changes in this block."""
    return pghistory.context(**actor_context(user), **extra)
