"""The deadlines page of deferred service, for the pharmacists of a point (or of its pharmacy
organization) and the ministry: active deferrals, soonest deadline first, with working days left;
filters, a CSV export of the filter, a deferral's journal, and the patient's repeat visit.

Access: deferrals come only through `selectors.deferrals_for` (another point's or pharmacy's answers
404); reading needs `PAGE_ROLES`, recording a visit `DISPENSING_ROLES` (other roles 403). Patients'
names are shown to the roles that read personal data (`llo.roles.PERSON_READ_ROLES`): not to the
ministry's analyst.
"""

from __future__ import annotations

import csv

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from llo.access import get_for
from llo.errors import ApplicationError
from llo.roles import PERSON_READ_ROLES, has_role
from llo.russian import plural
from llo.views import paginate, role_required

from . import selectors
from .deferrals import VISIT_TEXT_MAX, deferral_visit
from .selectors import DISPENSING_ROLES, READ_ALL_ROLES, DeferralState

PAGE_ROLES = DISPENSING_ROLES | READ_ALL_ROLES
PER_PAGE = 50
CSV_LIMIT = 100_000
DUE_CHOICES = [("", "Все сроки"), ("0", "Сегодня и нарушенные"), ("2", "До 2 рабочих дней"),
               ("5", "До 5 рабочих дней")]
BAD_CHOICE = {"invalid_choice": "значения «%(value)s» нет в списке"}


class DeferralFilterForm(forms.Form):
    due = forms.TypedChoiceField(label="Срок", choices=DUE_CHOICES, coerce=int, empty_value=None, required=False,
                                 error_messages=BAD_CHOICE)
    place = forms.TypedChoiceField(label="Пункт отпуска", coerce=int, empty_value=None, required=False,
                                   error_messages=BAD_CHOICE)
    status = forms.ChoiceField(label="Состояние", choices=[("", "Все"), *DeferralState.choices], required=False,
                               error_messages=BAD_CHOICE)

    def __init__(self, data, *, places):
        super().__init__(data)
        self.fields["place"].choices = [("", "Все пункты"), *((p.pk, p.short_name) for p in places)]

    def values(self) -> tuple[dict, list[str]]:
        """The valid filters; a bad value is left out (the list shows as if it were not given) with a
        note saying so — never an error page."""
        self.is_valid()
        values, notes = {}, []
        for name, field in self.fields.items():
            if name in self.errors:
                notes.append(f"Фильтр «{field.label}»: {self.errors[name][0]} — не применён.")
                values[name] = None
            else:
                values[name] = self.cleaned_data.get(name)
        return values, notes


def days_text(n: int) -> str:
    """Working days left, in words: «сегодня последний день», «3 рабочих дня», «нарушен на 1 рабочий день»."""
    if n == 0:
        return "сегодня последний день"
    m = abs(n)
    words = f"{m} {plural(m, 'рабочий день', 'рабочих дня', 'рабочих дней')}"
    return words if n > 0 else f"нарушен на {words}"


def drug_text(rx) -> str:
    drug = rx.drug
    text = " ".join(p for p in (drug.inn.name, drug.dosage_form) if p)
    if drug.dosage:
        text += f", {drug.dosage}"
    if rx.package_id:
        text += f" (ТН: {rx.package.trade_name.name})"
    return f"{text} — {rx.quantity} уп."


def _filtered(request):
    """The places of the filter, the filter's values and notes, and the rows' queryset."""
    user, today = request.user, timezone.localdate()
    places = list(selectors.deferral_places_for(user))
    form = DeferralFilterForm(request.GET, places=places)
    values, notes = form.values()
    rows = selectors.deferrals_page(user, today=today, due_within=values["due"], place_id=values["place"],
                                    state=values["status"] or None)
    return places, form, values, notes, rows, today


def _shows_place(user, places) -> bool:
    """The point column: for the ministry and a pharmacy organization's account, not at a single point."""
    return not (len(places) == 1 and places[0].pk == user.organization_id)


@role_required(PAGE_ROLES)
def deferrals(request):
    places, form, values, notes, rows, today = _filtered(request)
    page = paginate(request, rows, per_page=PER_PAGE)
    page.object_list = selectors.with_days_left(list(page.object_list), today=today)
    for row in page.object_list:
        row.days_label, row.drug_label = days_text(row.days_left), drug_text(row.prescription)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page, "form": form, "values": values, "notes": notes, "query": query.urlencode(),
        "can_visit": has_role(request.user, DISPENSING_ROLES),
        "show_person": has_role(request.user, PERSON_READ_ROLES),
        "show_place": _shows_place(request.user, places), "place_filter": len(places) > 1,
        "region_wide": has_role(request.user, READ_ALL_ROLES),
    }
    template = "pharmacy/partials/deferral_rows.html" if request.htmx else "pharmacy/deferrals.html"
    return render(request, template, context)


def _cell(value) -> str:
    """A text cell Excel will not take for a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@role_required(PAGE_ROLES)
def deferrals_csv(request):
    """The current filter as CSV for Excel: UTF-8 with BOM, `;`-separated, every row (not one page)."""
    places, _form, _values, _notes, rows, today = _filtered(request)
    rows = selectors.with_days_left(list(rows[:CSV_LIMIT]), today=today)
    show_person, show_place = has_role(request.user, PERSON_READ_ROLES), _shows_place(request.user, places)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="deferrals-{today:%Y-%m-%d}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Серия", "Номер", *(["Пациент"] if show_person else []), "Препарат", "Количество, уп.",
                     *(["Пункт отпуска"] if show_place else []), "Поставлен", "Срок", "Осталось рабочих дней",
                     "Состояние", "Закупка"])
    for row in rows:
        rx = row.prescription
        writer.writerow([
            _cell(rx.series), _cell(rx.number), *([_cell(rx.person.full_name)] if show_person else []),
            _cell(drug_text(rx).rsplit(" — ", 1)[0]), rx.quantity,
            *([_cell(row.place.short_name)] if show_place else []),
            f"{timezone.localtime(row.registered_at):%d.%m.%Y}", f"{row.deadline:%d.%m.%Y}", row.days_left,
            DeferralState(row.state).label, "да" if row.purchase else "нет",
        ])
    return response


@role_required(PAGE_ROLES)
def deferral_detail(request, pk: int):
    deferral = selectors.deferral_for(request.user, pk)
    if deferral.is_active:
        deferral.days_label = days_text(deferral.days_left)
    context = {
        "d": deferral, "drug_label": drug_text(deferral.prescription),
        "can_visit": has_role(request.user, DISPENSING_ROLES) and deferral.is_active,
        "show_person": has_role(request.user, PERSON_READ_ROLES), "text_max": VISIT_TEXT_MAX,
    }
    return render(request, "pharmacy/deferral.html", context)


@require_POST
@role_required(DISPENSING_ROLES)
def deferral_visit_record(request, pk: int):
    """«Повторное обращение»: with htmx the row's button answers in place; without, back to the page."""
    deferral = get_for(selectors.deferrals_for(request.user), pk=pk)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = reverse("pharmacy_deferral", args=[deferral.pk])
    try:
        event = deferral_visit(user=request.user, deferral=deferral, text=request.POST.get("text", ""))
    except ApplicationError as exc:
        if request.htmx:  # shown in place of the button (htmx swaps only 2xx answers)
            return render(request, "pharmacy/partials/visit_answer.html", {"ok": False, "message": exc.message})
        messages.error(request, exc.message)
        return redirect(back)
    message = f"Повторное обращение записано: {timezone.localtime(event.at):%d.%m.%Y %H:%M}"
    if request.htmx:
        return render(request, "pharmacy/partials/visit_answer.html", {"ok": True, "message": message})
    messages.success(request, message)
    return redirect(back)
