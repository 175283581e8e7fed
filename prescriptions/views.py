"""The MO's prescriptions: the list with filters (and the register of hand-written ones), one
prescription as printed with its history, print and cancel. Writing a new one: views_new.py.

Everything is read through `selectors.prescriptions_for`: another MO's prescription answers 404."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from llo.access import get_for
from llo.errors import ApplicationError
from llo.reference.selectors import programs_qs
from llo.reference.views import is_partial
from llo.roles import has_role
from llo.views import role_required

from . import page_selectors, print_form, selectors, services
from .forms import CancelForm, ListFilterForm, first_error
from .models import PrintMethod, Status
from .roles import PAGE_ROLES, REGION_READ_ROLES, WRITE_PAGE_ROLES


@vary_on_headers("HX-Request")
@role_required(PAGE_ROLES)
def prescription_list(request):
    user = request.user
    form = ListFilterForm(request.GET, doctors=selectors.doctors_for(user), programs=programs_qs())
    context = {"form": form, "can_write": has_role(user, WRITE_PAGE_ROLES),
               "region_wide": has_role(user, REGION_READ_ROLES),
               "register": request.GET.get("handwritten") == "1"}
    if form.is_valid():
        found = selectors.prescriptions_search(selectors.prescriptions_for(user), **form.search_arguments())
        found = page_selectors.with_drug_text(found, form.cleaned_data["inn"])
        context["page"] = page_selectors.list_page(found, number=form.cleaned_data["page"] or 1)
    else:
        context["error"] = first_error(form)
    if is_partial(request):
        return render(request, "prescriptions/partials/list_rows.html", context)
    return render(request, "prescriptions/list.html", context)


def may_change(user, prescription) -> bool:
    """Copy and cancel: a writer of the prescription's MO (readers of other roles only look)."""
    return has_role(user, WRITE_PAGE_ROLES) and prescription.organization_id == user.organization.legal_entity_id


def render_prescription(request, prescription, *, cancel_form=None, error: str = "", status: int = 200):
    history = list(prescription.status_changes.all())
    for change in history:
        change.label = Status(change.to_status).label
    context = {
        "rx": prescription, "history": history,
        "can_change": may_change(request.user, prescription),
        "can_print": prescription.print_method != PrintMethod.HANDWRITTEN,
        "cancel_form": cancel_form or CancelForm(), "cancel_error": error,
    }
    return render(request, "prescriptions/detail.html", context, status=status)


@role_required(PAGE_ROLES)
def prescription_detail(request, pk: int):
    return render_prescription(request, page_selectors.prescription_page(request.user, pk))


@role_required(PAGE_ROLES)
def prescription_print(request, pk: int):
    """The form 148-1/у-04(л) as a PDF, opened inline (the page links it into a new tab)."""
    visible = selectors.prescriptions_for(request.user).select_related(*print_form.PRINT_RELATED)
    return print_form.prescription_pdf_response(get_for(visible, pk=pk))


@require_POST
@role_required(WRITE_PAGE_ROLES)
def prescription_cancel(request, pk: int):
    prescription = page_selectors.prescription_page(request.user, pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return render_prescription(request, prescription, cancel_form=form, error=first_error(form), status=422)
    try:
        services.prescription_cancel(prescription=prescription, user=request.user,
                                     reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        return render_prescription(request, prescription, cancel_form=form, error=exc.message,
                                   status=exc.http_status)
    messages.success(request, f"Рецепт {prescription} аннулирован")
    return redirect("prescription", pk=prescription.pk)
