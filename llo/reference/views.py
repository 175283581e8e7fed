"""Pages of the reference data: helpers shared by the catalogue, program and NSI pages, and the
benefit categories page. Reference data is one for the region: every web role reads it, the
curators (`CURATOR_ROLES`) change it."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from llo.access import can_curate_reference
from llo.errors import ApplicationError
from llo.models import BenefitCategory, NsiBenefitCategory
from llo.roles import CURATOR_ROLES, WEB_ROLES
from llo.views import role_required

from . import services
from .forms import CategoryMapForm, first_error

SAVED = "Изменения сохранены"


def today():
    return timezone.localdate()


def is_partial(request) -> bool:
    """An htmx request for a fragment (not htmx restoring a page from history)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def next_url(request, default: str) -> str:
    """Where to go back after a POST: the page the form was on, if it is ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return default


def base_context(request) -> dict:
    day = today()
    return {"today": day, "tomorrow": day + timedelta(days=1), "can_curate": can_curate_reference(request.user)}


# --- benefit categories --------------------------------------------------------------------

def _nsi_categories() -> list[NsiBenefitCategory]:
    return list(NsiBenefitCategory.objects.order_by("nsi_code"))


def _categories():
    return BenefitCategory.objects.select_related("nsi_category").order_by("federal_code")


@role_required(WEB_ROLES)
def benefit_categories(request):
    context = base_context(request) | {"categories": _categories(), "nsi_categories": _nsi_categories()}
    return render(request, "reference/categories.html", context)


@require_POST
@role_required(CURATOR_ROLES)
def benefit_category_map(request, pk: int):
    category = get_object_or_404(_categories(), pk=pk)
    form = CategoryMapForm(request.POST)
    error = flash = ""
    if form.is_valid():
        try:
            category = services.benefit_category_map(
                user=request.user, category=category, nsi_category=form.cleaned_data["nsi_category"]
            )
            flash = SAVED
        except ApplicationError as exc:
            error = exc.message
    else:
        error = first_error(form)
    if is_partial(request):
        context = base_context(request) | {"c": category, "nsi_categories": _nsi_categories(), "error": error,
                                           "flash": flash}
        return render(request, "reference/partials/category_row.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, SAVED)
    return redirect("benefit_categories")
