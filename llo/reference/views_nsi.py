"""Federal NSI dictionaries: versions loaded and offered by the portal, import runs with their
live progress. Ministry and system admins see them; only curators start imports or change modes."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from llo.errors import ApplicationError
from llo.models import ImportMode, NsiDictionary, NsiImportRun
from llo.roles import CURATOR_ROLES, NSI_ROLES
from llo.views import paginate, role_required

from .forms import NsiImportForm, NsiModeForm, first_error
from .nsi import progress
from .nsi import selectors as nsi_selectors
from .nsi.services import nsi_check_request, nsi_import_request, nsi_mode_set
from .views import base_context, is_partial

TABLE_LABELS = {
    "llo_package": "упаковки",
    "llo_tradename": "торговые наименования",
    "llo_inn": "МНН",
    "llo_standardizeddrug": "стандартизованные наименования",
    "llo_diagnosis": "МКБ-10",
    "llo_unit": "единицы",
    "llo_route": "пути введения",
    "llo_validityperiod": "сроки действия",
    "llo_nsibenefitcategory": "льготные категории НСИ",
}
SOURCE_LABELS = {"demo": "демонстрационные данные", "rest": "REST API портала (постранично)",
                 "csv_zip": "файл выгрузки портала (CSV в архиве)"}


def _labelled(runs) -> list[NsiImportRun]:
    runs = list(runs)
    for run in runs:
        run.source_label = SOURCE_LABELS.get(run.source, run.source)
    return runs


def render_dictionaries(request, *, errors: dict | None = None, status: int = 200):
    dictionaries = nsi_selectors.dictionaries_with_last_runs()
    for dictionary in dictionaries:
        dictionary.error = (errors or {}).get(dictionary.pk, "")
    context = base_context(request) | {
        "dictionaries": dictionaries,
        "recent_runs": _labelled(nsi_selectors.runs_qs()[:10]),
        "any_checked": any(d.portal_checked_at for d in dictionaries),
    }
    return render(request, "reference/nsi_dictionaries.html", context, status=status)


@role_required(NSI_ROLES)
def nsi_dictionaries(request):
    return render_dictionaries(request)


@role_required(NSI_ROLES)
def nsi_dictionary(request, pk: int):
    dictionary = nsi_selectors.dictionaries_with_last_runs([get_object_or_404(NsiDictionary, pk=pk)])[0]
    page = paginate(request, nsi_selectors.runs_qs().filter(dictionary=dictionary))
    page.object_list = _labelled(page.object_list)
    context = base_context(request) | {"dictionary": dictionary, "page": page}
    return render(request, "reference/nsi_dictionary.html", context)


def _run_context(request, run: NsiImportRun) -> dict:
    tables = [
        {"label": TABLE_LABELS.get(t.get("table"), t.get("table")), "added": t.get("added", 0),
         "changed": t.get("changed", 0), "retired": t.get("retired", 0)}
        for t in (run.tables or [])
    ]
    run.source_label = SOURCE_LABELS.get(run.source, run.source)
    return base_context(request) | {"run": run, "progress": progress.read(run.pk), "tables": tables}


@vary_on_headers("HX-Request")
@role_required(NSI_ROLES)
def nsi_run(request, pk: int):
    run = get_object_or_404(nsi_selectors.runs_qs(), pk=pk)
    template = "reference/partials/nsi_run_status.html" if is_partial(request) else "reference/nsi_run.html"
    return render(request, template, _run_context(request, run))


@require_POST
@role_required(CURATOR_ROLES)
def nsi_check(request):
    nsi_check_request(user=request.user)
    messages.success(request, "Запрос отправлен: версии справочников на портале НСИ будут проверены в течение "
                              "нескольких минут. Обновите страницу позже.")
    return redirect("nsi_dictionaries")


@require_POST
@role_required(CURATOR_ROLES)
def nsi_import(request, pk: int):
    dictionary = get_object_or_404(NsiDictionary, pk=pk)
    form = NsiImportForm(request.POST)
    if not form.is_valid():
        return render_dictionaries(request, errors={dictionary.pk: first_error(form)}, status=422)
    version = form.cleaned_data["version"] or dictionary.portal_version
    try:
        run = nsi_import_request(dictionary=dictionary, version=version, user=request.user)
    except ApplicationError as exc:
        return render_dictionaries(request, errors={dictionary.pk: exc.message}, status=exc.http_status)
    messages.success(request, f"Загрузка справочника «{dictionary.name}» "
                              f"{'версии ' + version + ' ' if version else ''}поставлена в очередь")
    return redirect("nsi_run", pk=run.pk)


@require_POST
@role_required(CURATOR_ROLES)
def nsi_mode(request, pk: int):
    dictionary = get_object_or_404(NsiDictionary, pk=pk)
    form = NsiModeForm(request.POST)
    if not form.is_valid():
        return render_dictionaries(request, errors={dictionary.pk: first_error(form)}, status=422)
    try:
        dictionary = nsi_mode_set(dictionary=dictionary, mode=form.cleaned_data["mode"], user=request.user)
    except ApplicationError as exc:
        return render_dictionaries(request, errors={dictionary.pk: exc.message}, status=exc.http_status)
    label = "автоматически после проверки портала" if dictionary.mode == ImportMode.AUTOMATIC else "вручную"
    messages.success(request, f"«{dictionary.name}»: новые версии загружаются {label}")
    return redirect("nsi_dictionaries")
