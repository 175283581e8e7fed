"""The register's checks for its admins: persons with rights under several programs on the same
days, and probable duplicates with their merge (after a confirmation)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from llo.errors import ApplicationError
from llo.views import role_required

from . import selectors, services
from .forms import MergeForm, first_error
from .roles import ADMIN_ROLES

PAGE_SIZE = 50


@dataclass
class Window:
    """One page of a selector that takes limit/offset and gives no total: one row more tells if
    there is a next page."""

    items: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def first(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1


def window(request, fetch) -> Window:
    raw = request.GET.get("page") or "1"
    number = max(int(raw), 1) if raw.isdigit() else 1
    rows = fetch(limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
    return Window(rows[:PAGE_SIZE], number, len(rows) > PAGE_SIZE)


@role_required(ADMIN_ROLES)
def conflicts(request):
    today = timezone.localdate()
    page = window(request, lambda **kw: selectors.conflicts(on=today, **kw))
    return render(request, "registry/conflicts.html", {"page": page, "today": today})


def render_duplicates(request, *, error: str = "", status: int = 200):
    return render(request, "registry/duplicates.html", {"page": window(request, selectors.duplicates),
                                                        "error": error}, status=status)


@role_required(ADMIN_ROLES)
def duplicates(request):
    return render_duplicates(request)


@require_POST
@role_required(ADMIN_ROLES)
def duplicates_merge(request):
    ids = [int(v) for v in request.POST.getlist("persons") if v.isdigit()]
    persons = {p.pk: p for p in selectors.persons_for(request.user).filter(pk__in=ids).prefetch_related(
        "rights__program", "rights__category")}
    form = MergeForm(request.POST, choices=sorted(persons))
    if not form.is_valid():
        return render_duplicates(request, error=first_error(form), status=422)
    survivor = persons[form.cleaned_data["survivor"]]
    merged = [persons[pk] for pk in sorted(set(form.cleaned_data["persons"])) if pk != survivor.pk]
    context = {"survivor": survivor, "merged": merged}
    if not form.cleaned_data["confirm"]:
        return render(request, "registry/merge_confirm.html", context)
    try:
        with transaction.atomic():  # a group merges whole or not at all
            for duplicate in merged:
                services.persons_merge(user=request.user, survivor=survivor, duplicate=duplicate)
    except ApplicationError as exc:
        return render(request, "registry/merge_confirm.html", context | {"error": exc.message},
                      status=exc.http_status)
    numbers = ", ".join(f"№ {p.pk}" for p in merged)
    messages.success(request, f"Записи объединены: {numbers} → № {survivor.pk}. Права, выбор по НСУ, "
                              "регистры и заявки перенесены в основную запись")
    return redirect("register_person", pk=survivor.pk)
