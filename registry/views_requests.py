"""Inclusion requests: an MO asks the ministry to include its patient (known or new) with a right;
the register's admins approve or reject. An MO sees its own requests; another MO's answer 404."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from llo.errors import ApplicationError
from llo.roles import has_role
from llo.views import paginate, role_required

from . import selectors, services
from .forms import STATUS_FILTERS, ApproveForm, InclusionRequestForm, RejectForm, StatusFilterForm, first_error
from .models import RegisterKind, RequestStatus
from .roles import ADMIN_ROLES, REQUEST_ROLES, SUBMIT_ROLES


@role_required(REQUEST_ROLES)
def request_list(request):
    form = StatusFilterForm(request.GET)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    visible = selectors.requests_for(request.user)
    counts = dict(visible.order_by().values_list("status").annotate(n=Count("pk")))
    context = {
        "page": paginate(request, visible.filter(status=status) if status else visible),
        "status": status,
        "filters": [(value, label, sum(counts.values()) if not value else counts.get(value, 0))
                    for value, label in STATUS_FILTERS],
        "can_submit": has_role(request.user, SUBMIT_ROLES),
    }
    return render(request, "registry/requests.html", context)


def _known_person(request):
    """The person a request is about when it starts from their card (`?person=`), or None."""
    raw = request.POST.get("person") or request.GET.get("person") or ""
    if not raw:
        return None
    person = selectors.person_for(request.user, int(raw)) if raw.isdigit() else None
    if person is None:
        raise Http404
    return person


@role_required(SUBMIT_ROLES)
def request_new(request):
    person = _known_person(request)
    initial = {"valid_from": timezone.localdate(), "register": RegisterKind.REGIONAL}
    form = InclusionRequestForm(request.POST if request.method == "POST" else None, person=person, initial=initial)
    error = ""
    if form.is_bound:
        if form.is_valid():
            try:
                created = services.inclusion_request_submit(user=request.user, **form.service_arguments())
            except ApplicationError as exc:
                error = exc.message
            else:
                messages.success(request, f"Заявка № {created.pk} подана: министерство рассмотрит её и примет решение")
                return redirect("register_request", pk=created.pk)
        else:
            error = first_error(form)
    context = {"form": form, "person": person, "error": error}
    return render(request, "registry/request_new.html", context, status=422 if error else 200)


def _request(request, pk: int):
    return get_object_or_404(selectors.requests_for(request.user), pk=pk)


def render_request(request, inclusion, *, error: str = "", reject_form=None, status: int = 200):
    context = {
        "r": inclusion, "error": error,
        "can_decide": inclusion.status == RequestStatus.SUBMITTED and has_role(request.user, ADMIN_ROLES),
        "reject_form": reject_form or RejectForm(),
    }
    return render(request, "registry/request_detail.html", context, status=status)


@role_required(REQUEST_ROLES)
def request_detail(request, pk: int):
    return render_request(request, _request(request, pk))


@require_POST
@role_required(ADMIN_ROLES)
def request_approve(request, pk: int):
    inclusion = _request(request, pk)
    form = ApproveForm(request.POST)
    form.is_valid()  # an optional comment: nothing to refuse
    try:
        inclusion = services.inclusion_request_approve(user=request.user, request=inclusion,
                                                       reason=form.cleaned_data.get("reason", ""))
    except ApplicationError as exc:
        return render_request(request, _request(request, pk), error=exc.message, status=exc.http_status)
    messages.success(request, f"Заявка № {inclusion.pk} одобрена: гражданин включён в регистр, право добавлено")
    return redirect("register_request", pk=inclusion.pk)


@require_POST
@role_required(ADMIN_ROLES)
def request_reject(request, pk: int):
    inclusion = _request(request, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return render_request(request, inclusion, error=first_error(form), reject_form=form, status=422)
    try:
        inclusion = services.inclusion_request_reject(user=request.user, request=inclusion,
                                                      reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        return render_request(request, _request(request, pk), error=exc.message, reject_form=form,
                              status=exc.http_status)
    messages.success(request, f"Заявка № {inclusion.pk} отклонена; причину увидит медицинская организация")
    return redirect("register_request", pk=inclusion.pk)
