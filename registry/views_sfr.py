"""Loads of the Social Fund's federal register: the journal, an uploaded C_REGO/C_REGL pair, a
request for the service's changes, and a run's page with live progress and its rejected records."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from llo.errors import ApplicationError
from llo.reference.views import is_partial
from llo.views import paginate, role_required

from . import selectors
from .forms import SfrUploadForm, first_error
from .models import SfrImport
from .roles import SFR_ROLES
from .sfr_services import read_progress, sfr_dbf_import_request, sfr_soap_import_request


def duration(run: SfrImport) -> str:
    """How long the load took, «12,3 с» or «2 мин 5 с»; empty while it is not finished."""
    if not (run.started_at and run.finished_at):
        return ""
    seconds = (run.finished_at - run.started_at).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} с".replace(".", ",")
    return f"{int(seconds // 60)} мин {int(seconds % 60)} с"


def render_imports(request, *, form=None, errors: dict | None = None, status: int = 200):
    page = paginate(request, selectors.sfr_imports())
    for run in page.object_list:
        run.duration = duration(run)
    context = {"page": page, "form": form or SfrUploadForm(initial={"file_date": timezone.localdate()}),
               "errors": errors or {}}
    return render(request, "registry/sfr_imports.html", context, status=status)


@role_required(SFR_ROLES)
def sfr_imports(request):
    return render_imports(request)


@require_POST
@role_required(SFR_ROLES)
def sfr_upload(request):
    form = SfrUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render_imports(request, form=form, errors={"upload": first_error(form)}, status=422)
    try:
        run = sfr_dbf_import_request(user=request.user, **form.cleaned_data)
    except ApplicationError as exc:  # an import already running, a file too large
        return render_imports(request, form=form, errors={"upload": exc.message}, status=exc.http_status)
    messages.success(request, "Файлы приняты: загрузка поставлена в очередь")
    return redirect("sfr_run", pk=run.pk)


@require_POST
@role_required(SFR_ROLES)
def sfr_soap(request):
    try:
        run = sfr_soap_import_request(user=request.user)
    except ApplicationError as exc:
        return render_imports(request, errors={"soap": exc.message}, status=exc.http_status)
    messages.success(request, "Запрос изменений из СФР поставлен в очередь")
    return redirect("sfr_run", pk=run.pk)


@vary_on_headers("HX-Request")
@role_required(SFR_ROLES)
def sfr_run(request, pk: int):
    run = get_object_or_404(selectors.sfr_imports(), pk=pk)
    run.duration = duration(run)
    context = {"run": run, "progress": read_progress(run.pk),
               "rejects": None if run.is_active else paginate(request, selectors.sfr_rejects(run))}
    template = "registry/partials/sfr_run_status.html" if is_partial(request) else "registry/sfr_run.html"
    return render(request, template, context)
