"""The catalogue: live search over packages and standardized drugs, the drug card and the
curator's flags on drugs and packages, and putting a drug on a program's list."""

from __future__ import annotations

from collections import defaultdict
from functools import partial

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from llo.errors import ApplicationError
from llo.roles import CURATOR_ROLES, WEB_ROLES
from llo.views import role_required

from . import selectors, services
from .forms import (
    CATALOGUE_VIEWS, KIND_FILTERS, CatalogueFilterForm, DrugFlagsForm, DrugIncludeForm, PackageFlagsForm, first_error,
)
from .views import SAVED, base_context, is_partial, today

PAGE_SIZE = 50


class SelectorResults:
    """A catalogue selector seen as a sequence, so Django's Paginator (and the shared pager
    template) drive it: one selector call per page brings the rows and the total together."""

    def __init__(self, fetch, *, number: int, per_page: int):
        self._fetch = fetch
        self._per_page = per_page
        self._first = (max(number, 1) - 1) * per_page
        self._pages: dict[int, selectors.Page] = {}

    def _page(self, offset: int) -> selectors.Page:
        if offset not in self._pages:
            self._pages[offset] = self._fetch(limit=self._per_page, offset=offset)
        return self._pages[offset]

    def count(self) -> int:
        return self._page(self._first).count

    @property
    def similar(self) -> bool:
        """Nothing contained the text: the rows are similar names (a typo)."""
        return getattr(self._page(self._first), "similar", False)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list:
        return self._page(window.start or 0).items[: (window.stop or 0) - (window.start or 0)]


def paginate_selector(request, fetch, per_page: int = PAGE_SIZE):
    raw = request.GET.get("page") or "1"
    number = int(raw) if raw.isdigit() else 1
    return Paginator(SelectorResults(fetch, number=number, per_page=per_page), per_page).get_page(number)


@vary_on_headers("HX-Request")
@role_required(WEB_ROLES)
def catalogue(request):
    form = CatalogueFilterForm(request.GET)
    page, error = None, ""
    view = form.view_value
    on = program_on = None
    if form.is_valid():
        data = form.cleaned_data
        on = data["date"]
        if data["program"] is not None and on is None:
            # A program's list is read on a date; the name search with on=None would compare the list
            # rows with NULL and find nothing, so "every date" with a program means today's list.
            on = program_on = today()
        fetch = selectors.catalogue_drugs if view == "drugs" else selectors.catalogue_packages
        try:
            page = paginate_selector(request, partial(fetch, q=data["q"], on=on, kind=data["kind"],
                                                      program=data["program"]))
        except ApplicationError as exc:  # a GTIN with a wrong check digit, a one-letter query
            error = exc.message
    else:
        error = first_error(form)
    context = base_context(request) | {"form": form, "page": page, "error": error, "view": view, "on": on,
                                       "program_on": program_on}
    if is_partial(request):
        return render(request, "reference/partials/catalogue_results.html", context)
    context |= {"programs": selectors.programs_qs(), "view_choices": CATALOGUE_VIEWS, "kind_choices": KIND_FILTERS}
    return render(request, "reference/catalogue.html", context)


# --- the drug card --------------------------------------------------------------------------

def _package_form(package, data=None) -> PackageFlagsForm:
    initial = {"is_jnvlp": package.is_jnvlp, "price_cap": package.price_cap, "is_marked": package.is_marked}
    return PackageFlagsForm(data, initial=initial, auto_id=f"pkg{package.pk}_%s")


def render_drug_card(request, drug, *, errors: dict | None = None, flags_form=None, include_form=None,
                     status: int = 200):
    packages = selectors.packages_qs().filter(trade_name__drug=drug).order_by("trade_name_id", "pack_quantity", "id")
    errors = errors or {}
    by_trade_name = defaultdict(list)
    for package in packages:
        package.flags_form = _package_form(package)
        package.error = errors.get(f"package_{package.pk}", "")
        by_trade_name[package.trade_name_id].append(package)
    trade_names = [(tn, by_trade_name[tn.pk]) for tn in selectors.drug_trade_names(drug)]
    context = base_context(request) | {
        "drug": drug,
        "trade_names": trade_names,
        "package_count": sum(len(p) for _, p in trade_names),
        "rows": selectors.drug_programs(drug),
        "errors": errors,
        "flags_form": flags_form or DrugFlagsForm(initial={"control_list": drug.control_list,
                                                           "atc_code": drug.atc_code}),
        "include_form": include_form or DrugIncludeForm(initial={"valid_from": today()}),
        "programs": selectors.programs_qs(),
    }
    return render(request, "reference/drug_detail.html", context, status=status)


def _drug(pk: int):
    return get_object_or_404(selectors.drugs_qs(), pk=pk)


@role_required(WEB_ROLES)
def drug_detail(request, pk: int):
    return render_drug_card(request, _drug(pk))


@require_POST
@role_required(CURATOR_ROLES)
def drug_flags(request, pk: int):
    drug = _drug(pk)
    form = DrugFlagsForm(request.POST)
    if form.is_valid():
        try:
            services.drug_flags_set(user=request.user, drug=drug, **form.cleaned_data)
        except ApplicationError as exc:
            return render_drug_card(request, _drug(pk), errors={"flags": exc.message}, flags_form=form,
                                    status=exc.http_status)
        messages.success(request, SAVED)
        return redirect("catalogue_drug", pk=pk)
    return render_drug_card(request, drug, errors={"flags": first_error(form)}, flags_form=form, status=422)


@require_POST
@role_required(CURATOR_ROLES)
def drug_reset(request, pk: int):
    services.curation_reset(user=request.user, obj=_drug(pk))
    messages.success(request, "Значения, установленные вручную, возвращены НСИ: "
                              "их обновит следующая загрузка справочника")
    return redirect("catalogue_drug", pk=pk)


@require_POST
@role_required(CURATOR_ROLES)
def drug_include(request, pk: int):
    drug = _drug(pk)
    form = DrugIncludeForm(request.POST)
    if not form.is_valid():
        return render_drug_card(request, drug, errors={"include": first_error(form)}, include_form=form, status=422)
    data = form.cleaned_data
    try:
        services.program_row_add(user=request.user, program=data["program"], kind="drug", item=drug,
                                 valid_from=data["valid_from"], valid_to=data["valid_to"], basis=data["basis"])
    except ApplicationError as exc:
        return render_drug_card(request, drug, errors={"include": exc.message}, include_form=form,
                                status=exc.http_status)
    messages.success(request, f"Препарат включён в перечень программы {data['program'].code} "
                              f"с {data['valid_from']:%d.%m.%Y}")
    return redirect(reverse("catalogue_drug", args=[pk]) + "#programs")


# --- packages (inline, htmx) ----------------------------------------------------------------

def _package(pk: int):
    return get_object_or_404(selectors.packages_qs(), pk=pk)


def _package_done(request, package, *, form=None, error: str = "", flash: str = ""):
    """The package's row for htmx; otherwise back to the drug card (PRG)."""
    drug_id = package.trade_name.drug_id
    if is_partial(request):
        package.flags_form = form if error and form is not None else _package_form(package)
        package.error = error
        context = base_context(request) | {"p": package, "flash": flash}
        return render(request, "reference/partials/package_row.html", context)
    if error:
        return render_drug_card(request, _drug(drug_id), errors={f"package_{package.pk}": error}, status=422)
    messages.success(request, flash)
    return redirect(reverse("catalogue_drug", args=[drug_id]) + f"#package-{package.pk}")


@require_POST
@role_required(CURATOR_ROLES)
def package_flags(request, pk: int):
    package = _package(pk)
    form = _package_form(package, request.POST)
    if not form.is_valid():
        return _package_done(request, package, form=form, error=first_error(form))
    try:
        package = services.package_flags_set(user=request.user, package=package, **form.cleaned_data)
    except ApplicationError as exc:
        return _package_done(request, _package(pk), form=form, error=exc.message)
    return _package_done(request, package, flash=SAVED)


@require_POST
@role_required(CURATOR_ROLES)
def package_reset(request, pk: int):
    package = services.curation_reset(user=request.user, obj=_package(pk))
    return _package_done(request, _package(package.pk), flash="Значения возвращены НСИ")
