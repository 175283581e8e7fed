"""Programs of subsidized provision: the list, the program card with its three dated lists
(drugs, benefit categories, ICD-10 codes), and the curator's changes to them."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from llo.errors import ApplicationError
from llo.models import BenefitCategory, ProgramDrug
from llo.roles import CURATOR_ROLES, WEB_ROLES
from llo.views import role_required

from . import selectors, services
from .forms import ProgramForm, RowAddForm, RowEndForm, first_error
from .views import SAVED, base_context, is_partial, next_url, today

# list kind → (query key of its "show all" toggle, title, label of today's count, how rows sort)
SECTIONS = {
    "drug": ("drugs", "Препараты", "препараты", lambda r: (str(r.drug).lower(), r.valid_from)),
    "category": ("categories", "Льготные категории", "категории", lambda r: (r.category.federal_code, r.valid_from)),
    "diagnosis": ("diagnoses", "Диагнозы МКБ-10", "диагнозы МКБ-10", lambda r: (r.diagnosis.code, r.valid_from)),
}
ITEM_PATHS = {"drug": "drug__inn", "category": "category", "diagnosis": "diagnosis"}
PROGRAM_FIELDS = list(ProgramForm.base_fields)


@role_required(WEB_ROLES)
def program_list(request):
    day = today()
    programs = list(selectors.programs_with_all_rows().order_by("code"))
    for program in programs:
        program.in_force = program.is_valid_on(day)
        program.counts = {
            kind: sum(1 for row in getattr(program, f"{kind}_rows").all() if row.is_valid_on(day)) for kind in SECTIONS
        }
    return render(request, "reference/program_list.html", base_context(request) | {"programs": programs})


def _program_form(data=None, *, program=None, prefix_id: str = "id_%s") -> ProgramForm:
    initial = ProgramForm.initial_for(program) if program else {"valid_from": today(), "payment_share": "1"}
    return ProgramForm(data, initial=initial, auto_id=prefix_id)


def _save(request, form: ProgramForm, program=None):
    """The saved program, or the error to show next to the form."""
    if not form.is_valid():
        return None, first_error(form)
    try:
        return services.program_save(user=request.user, program=program, **form.cleaned_data), ""
    except ApplicationError as exc:
        return None, exc.message


@role_required(CURATOR_ROLES)
def program_create(request):
    form = _program_form(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST":
        program, error = _save(request, form)
        if program is not None:
            messages.success(request, f"Программа {program.code} создана. Добавьте препараты, категории и диагнозы.")
            return redirect("program_detail", pk=program.pk)
    context = base_context(request) | {"form": form, "error": error}
    return render(request, "reference/program_new.html", context, status=422 if error else 200)


# --- the program card -----------------------------------------------------------------------

def _add_form(kind: str, data=None) -> RowAddForm:
    return RowAddForm(data, initial={"kind": kind, "valid_from": today()}, auto_id=f"add_{kind}_%s")


def render_program_card(request, pk: int, *, errors: dict | None = None, add_forms: dict | None = None,
                        edit_form=None, status: int = 200):
    program = get_object_or_404(selectors.programs_with_all_rows(), pk=pk)
    day = today()
    sections = []
    for kind, (key, title, stat_label, sort_key) in SECTIONS.items():
        rows = sorted(getattr(program, f"{kind}_rows").all(), key=sort_key)
        current = [row for row in rows if row.is_valid_on(day)]
        show_all = request.GET.get(key) == "all"
        params = request.GET.copy()
        if show_all:
            params.pop(key)
        else:
            params[key] = "all"
        sections.append({
            "kind": kind, "key": key, "title": title, "stat_label": stat_label, "rows": rows if show_all else current,
            "total": len(rows), "current": len(current), "show_all": show_all,
            "toggle_url": f"?{params.urlencode()}#{key}",
        })
    errors = errors or {}
    forms = {kind: _add_form(kind) for kind in SECTIONS} | (add_forms or {})
    for section in sections:
        section["form"] = forms[section["kind"]]
        section["error"] = errors.get(f"add_{section['kind']}", "")
    context = base_context(request) | {
        "program": program,
        "in_force": program.is_valid_on(day),
        "sections": sections,
        "errors": errors,
        "edit_form": edit_form or _program_form(program=program, prefix_id="edit_%s"),
        "edit_open": edit_form is not None,
        "categories": BenefitCategory.objects.valid_on(day).order_by("federal_code"),
    }
    return render(request, "reference/program_detail.html", context, status=status)


@role_required(WEB_ROLES)
def program_detail(request, pk: int):
    return render_program_card(request, pk)


@require_POST
@role_required(CURATOR_ROLES)
def program_edit(request, pk: int):
    program = get_object_or_404(selectors.programs_qs(), pk=pk)
    form = _program_form(request.POST, program=program, prefix_id="edit_%s")
    saved, error = _save(request, form, program)
    if saved is None:  # the service may have changed the object in memory: the card reads it afresh
        return render_program_card(request, pk, errors={"edit": error}, edit_form=form, status=422)
    messages.success(request, SAVED)
    return redirect("program_detail", pk=pk)


@role_required(CURATOR_ROLES)
def program_drug_search(request, pk: int):
    """Live search of drugs to put on the program's list (a fragment of the program card)."""
    program = get_object_or_404(selectors.programs_qs(), pk=pk)
    q = request.GET.get("q", "").strip()
    drugs, count, error = [], 0, ""
    if q:
        try:
            page = selectors.catalogue_drugs(q=q, on=today(), limit=20)
            drugs, count = page.items, page.count
        except ApplicationError as exc:
            error = exc.message
    on_list = {}  # drug id → the first day of its current or coming row on this program's list
    rows = (ProgramDrug.objects.filter(program=program, drug__in=[d.pk for d in drugs])
            .exclude(valid_to__lt=today()).order_by("valid_from").values_list("drug_id", "valid_from"))
    for drug_id, valid_from in rows:
        on_list.setdefault(drug_id, valid_from)
    for drug in drugs:
        drug.listed_from = on_list.get(drug.pk)
    context = base_context(request) | {"program": program, "q": q, "drugs": drugs, "count": count, "error": error}
    return render(request, "reference/partials/drug_search_results.html", context)


@require_POST
@role_required(CURATOR_ROLES)
def program_row_add(request, pk: int):
    program = get_object_or_404(selectors.programs_qs(), pk=pk)
    kind = request.POST.get("kind", "")
    if kind not in SECTIONS:
        raise Http404
    form = _add_form(kind, request.POST)

    def failed(message: str, status: int = 422):
        return render_program_card(request, pk, errors={f"add_{kind}": message}, add_forms={kind: form},
                                   status=status)

    if not form.is_valid():
        return failed(first_error(form))
    data = form.cleaned_data
    item = data[kind]
    if kind == "diagnosis":
        item = selectors.diagnosis_by_code(data["diagnosis"], on=today())
        if item is None:
            return failed(f"Кода МКБ-10 «{data['diagnosis'].upper()}» нет в справочнике, действующем на "
                          f"{today():%d.%m.%Y}: проверьте код (например, E11 или E11.9)")
    try:
        services.program_row_add(user=request.user, program=program, kind=kind, item=item,
                                 valid_from=data["valid_from"], valid_to=data["valid_to"], basis=data["basis"])
    except ApplicationError as exc:
        return failed(exc.message, exc.http_status)
    messages.success(request, f"«{item}» включено в перечень с {data['valid_from']:%d.%m.%Y}")
    return redirect(reverse("program_detail", args=[pk]) + f"#{SECTIONS[kind][0]}")


# --- list rows: end, delete (from the program card and the drug card) ------------------------

def _row(kind: str, pk: int):
    if kind not in services.LIST_MODELS:
        raise Http404
    model = services.LIST_MODELS[kind]
    return get_object_or_404(model.objects.select_related("program", ITEM_PATHS[kind]), pk=pk)


def _row_done(request, row, kind: str, *, error: str = "", flash: str = "", removed: bool = False):
    if is_partial(request):
        origin = request.POST.get("origin") if request.POST.get("origin") in ("drug", "program") else "program"
        context = base_context(request) | {"r": row, "kind": kind, "origin": origin, "error": error,
                                           "flash": flash, "removed": removed,
                                           "back": next_url(request, reverse("program_detail", args=[row.program_id]))}
        return render(request, "reference/partials/list_row.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, flash)
    return redirect(next_url(request, reverse("program_detail", args=[row.program_id])))


@require_POST
@role_required(CURATOR_ROLES)
def program_row_end(request, kind: str, pk: int):
    row = _row(kind, pk)
    form = RowEndForm(request.POST)
    if not form.is_valid():
        return _row_done(request, row, kind, error=first_error(form))
    first_day_out = form.cleaned_data["exclude_from"]
    try:
        row = services.program_row_end(user=request.user, row=row, last_day=first_day_out - timedelta(days=1))
    except ApplicationError as exc:
        return _row_done(request, row, kind, error=exc.message)
    return _row_done(request, _row(kind, pk), kind,
                     flash=f"Исключено с {first_day_out:%d.%m.%Y} (последний день — {row.valid_to:%d.%m.%Y})")


@require_POST
@role_required(CURATOR_ROLES)
def program_row_delete(request, kind: str, pk: int):
    row = _row(kind, pk)
    try:
        services.program_row_delete(user=request.user, row=row)
    except ApplicationError as exc:
        return _row_done(request, row, kind, error=exc.message)
    return _row_done(request, row, kind, flash="Строка удалена из перечня", removed=True)
