"""Pages of the core: home per role, organizations, outbox, audit trail, system status."""

from functools import wraps

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import outbox, selectors
from .access import can_view_audit, get_for, organizations_for, outbox_messages_for, staff_for
from .audit_trail import events_for_object, recent_events
from .health import readiness
from .models import OrganizationKind, OutboxStatus, Role
from .roles import OUTBOX_ROLES, REGION_WIDE_ROLES, ROLE_SUMMARY, WEB_ROLES, has_role


def role_required(roles):
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, roles):
                raise PermissionDenied("Раздел недоступен вашей роли.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def paginate(request, queryset, per_page: int = 50):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


@login_required
def home(request):
    user = request.user
    org = user.organization
    context = {"role_summary": ROLE_SUMMARY.get(user.role, ""), "organization": org}
    if org is not None:
        context["attachments"] = selectors.attachments_of(org)
    if user.role == Role.DOCTOR:
        context["doctor"] = getattr(user, "doctor", None)
    if has_role(user, REGION_WIDE_ROLES):
        counts = {row["kind"]: row["n"] for row in selectors.organization_counts(organizations_for(user))}
        context["organization_counts"] = [
            {"label": kind.label, "kind": kind.value, "n": counts[kind]} for kind in OrganizationKind if kind in counts
        ]
    if has_role(user, OUTBOX_ROLES):
        context["outbox_summary"] = selectors.outbox_summary()
    if user.role == Role.MO_DRUG_OFFICER and org is not None:
        context["doctors"] = selectors.doctors_of(org)
    if user.role == Role.MIS_CLIENT:
        context["tokens"] = selectors.tokens_of(user)
    return render(request, "llo/home.html", context)


@role_required(WEB_ROLES)
def organization_list(request):
    kind = request.GET.get("kind", "")
    kind = kind if kind in OrganizationKind.values else ""
    q = request.GET.get("q", "").strip()
    page = paginate(request, selectors.organizations_search(organizations_for(request.user), kind=kind, q=q))
    template = "llo/partials/organization_rows.html" if request.htmx else "llo/organization_list.html"
    return render(request, template, {"page": page, "kinds": OrganizationKind.choices, "kind": kind, "q": q})


@role_required(WEB_ROLES)
def organization_detail(request, pk: int):
    org = get_for(organizations_for(request.user), pk=pk)
    visible = organizations_for(request.user)
    context = {
        "org": org,
        "units": visible.filter(parent=org).order_by("short_name"),
        "attachments": selectors.attachments_of(org),
        "staff": staff_for(request.user).filter(organization=org).order_by("last_name"),
        "doctors": selectors.doctors_of(org),
        "can_view_audit": can_view_audit(request.user),
    }
    return render(request, "llo/organization_detail.html", context)


@role_required(OUTBOX_ROLES)
def outbox_list(request):
    status = request.GET.get("status", "")
    status = status if status in OutboxStatus.values else ""
    topic = request.GET.get("topic", "").strip()
    context = {
        "page": paginate(request, selectors.outbox_search(outbox_messages_for(request.user), status=status, topic=topic)),
        "statuses": OutboxStatus.choices,
        "status": status,
        "topic": topic,
        "summary": selectors.outbox_summary(),
    }
    return render(request, "llo/outbox_list.html", context)


@require_POST
@role_required(OUTBOX_ROLES)
def outbox_resend(request, pk: int):
    message = get_for(outbox_messages_for(request.user), pk=pk)
    message = outbox.resend(message=message, user=request.user)
    if request.htmx:
        return render(request, "llo/partials/outbox_row.html", {"m": message, "flash": "Отправлено повторно"})
    return redirect("outbox_list")


@login_required
def audit_recent(request):
    if not can_view_audit(request.user):
        raise PermissionDenied("Журнал изменений доступен администратору министерства.")
    page = paginate(request, recent_events(model_label=request.GET.get("model", "")))
    return render(request, "llo/audit_recent.html", {"page": page, "model": request.GET.get("model", "")})


@login_required
def audit_object(request, app_label: str, model_name: str, pk: str):
    if not can_view_audit(request.user):
        raise PermissionDenied("Журнал изменений доступен администратору министерства.")
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        raise Http404 from None
    if not hasattr(model, "pgh_event_models"):
        raise Http404
    obj = get_for(model.objects.all(), pk=pk)
    context = {"obj": obj, "model_name": model._meta.verbose_name, "events": events_for_object(obj)}
    return render(request, "llo/audit_object.html", context)


@role_required({Role.SYSTEM_ADMIN})
def system_status(request):
    ok, checks = readiness()
    return render(
        request,
        "llo/system_status.html",
        {"ok": ok, "checks": checks, "outbox_summary": selectors.outbox_summary()},
    )


def forbidden(request, exception=None):
    message = str(exception) if exception and str(exception) else "Действие недоступно вашей роли."
    return render(request, "403.html", {"message": message}, status=403)


def not_found(request, exception=None):
    return render(request, "404.html", status=404)
