"""The person's card: identity, rights today and their history, registers, НСУ choices, the
patient's QR code and form 030-Л/у; the register's admins change rights, choices and registers here.

Another MO's patient answers 404 (as an unknown id): the card's existence is not revealed."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from llo.errors import ApplicationError
from llo.roles import has_role
from llo.views import role_required

from . import selectors, services
from .forms import RefusalForm, RegisterIncludeForm, RightAddForm, RightCloseForm, first_error
from .models import BenefitRight, Person, RegisterKind, RightSource
from .patient_card import patient_card_pdf
from .patient_token import patient_qr_svg, patient_token_expiry
from .roles import ADMIN_ROLES, SEARCH_ROLES, SUBMIT_ROLES

def _live_person(request, pk: int) -> Person:
    person = selectors.person_for(request.user, pk)
    if person is None:
        raise Http404
    return person


def _right_state(right: BenefitRight, day: date) -> str:
    if right.valid_from > day:
        return "future"
    return "past" if right.valid_to is not None and right.valid_to < day else "current"


def _blank_forms(day: date) -> dict:
    return {
        "right": RightAddForm(prefix="right", initial={"valid_from": day}),
        "refusal": RefusalForm(prefix="refusal", initial={"year": day.year + 1, "refused": "1", "applied_on": day}),
        "register": RegisterIncludeForm(prefix="register", initial={"register": RegisterKind.REGIONAL,
                                                                    "included_on": day}),
    }


def render_person_card(request, person: Person, *, errors: dict | None = None, forms: dict | None = None,
                       status: int = 200):
    day = timezone.localdate()
    errors = errors or {}
    card = selectors.person_card(person)
    live = card.merged_into_id is None
    rights_today = selectors.rights_on(card, day) if live else []
    history = list(card.rights.all())
    refused = {right.pk for right in rights_today if not right.in_force}
    for right in history:
        right.state = "refused" if right.pk in refused else _right_state(right, day)
        right.close_error = errors.get(f"close-{right.pk}", "")
    can_manage = live and has_role(request.user, ADMIN_ROLES)
    context = {
        "person": card, "today": day, "live": live, "rights_today": rights_today, "history": history,
        "conflict": len({right.program_id for right in rights_today}) > 1,
        "merged_records": list(card.merged.order_by("pk")),
        "can_manage": can_manage, "can_request": live and has_role(request.user, SUBMIT_ROLES),
        "errors": errors,
    }
    if live:
        context |= {"qr_svg": patient_qr_svg(person=card, scale=6), "qr_expires": patient_token_expiry()}
    if can_manage:
        context["forms"] = _blank_forms(day) | (forms or {})
    return render(request, "registry/person.html", context, status=status)


@role_required(SEARCH_ROLES)
def person_detail(request, pk: int):
    person = selectors.person_for(request.user, pk) or selectors.merged_person_for(request.user, pk)
    if person is not None:
        return render_person_card(request, person)
    survivor = selectors.survivor_id(pk)  # an old link to a merged record leads to the one it became
    if survivor is None or selectors.person_for(request.user, survivor) is None:
        raise Http404
    return redirect("register_person", pk=survivor)


@role_required(SEARCH_ROLES)
def person_card_pdf(request, pk: int):
    person = _live_person(request, pk)
    pdf = patient_card_pdf(person=person, organization=request.user.organization, on=timezone.localdate())
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(True, f"karta-030-lu-{person.pk}.pdf")
    return response


# --- changes by the register's admins --------------------------------------------------------------

def _apply(request, person: Person, key: str, form, action, done, *, anchor: str = ""):
    """Validate `form`, run `action(cleaned_data)` (a service), come back to the card: with the message
    `done(result)` after a redirect, or with the error next to the form."""
    if not form.is_valid():
        return render_person_card(request, person, errors={key: first_error(form)}, forms={key: form}, status=422)
    try:
        result = action(form.cleaned_data)
    except ApplicationError as exc:
        return render_person_card(request, person, errors={key: exc.message}, forms={key: form},
                                  status=exc.http_status)
    messages.success(request, done(result))
    return redirect(reverse("register_person", args=[person.pk]) + f"#{anchor or key}")


@require_POST
@role_required(ADMIN_ROLES)
def right_add(request, pk: int):
    person = _live_person(request, pk)
    return _apply(
        request, person, "right", RightAddForm(request.POST, prefix="right"),
        lambda data: services.right_add(user=request.user, person=person, source=RightSource.MANUAL, **data),
        lambda right: f"Право по программе {right.program.code} (категория {right.category.federal_code}) добавлено",
    )


@require_POST
@role_required(ADMIN_ROLES)
def right_close(request, pk: int):
    right = get_object_or_404(BenefitRight.objects.select_related("person", "program", "category").filter(
        person__in=selectors.persons_for(request.user)), pk=pk)
    return _apply(
        request, right.person, f"close-{right.pk}", RightCloseForm(request.POST),
        lambda data: services.right_close(user=request.user, right=right, last_day=data["last_day"]),
        lambda closed: f"Право по программе {closed.program.code} действует по {closed.valid_to:%d.%m.%Y}",
        anchor="history",
    )


@require_POST
@role_required(ADMIN_ROLES)
def refusal_set(request, pk: int):
    person = _live_person(request, pk)
    return _apply(
        request, person, "refusal", RefusalForm(request.POST, prefix="refusal"),
        lambda data: services.refusal_set(user=request.user, person=person, **data),
        lambda choice: f"{choice.year} год: " + ("отказ от лекарственной части НСУ" if choice.refused
                                                 else "лекарственная часть НСУ сохранена"),
    )


@require_POST
@role_required(ADMIN_ROLES)
def register_include(request, pk: int):
    person = _live_person(request, pk)
    return _apply(
        request, person, "register", RegisterIncludeForm(request.POST, prefix="register"),
        lambda data: services.register_include(user=request.user, person=person, **data),
        lambda entry: f"Гражданин включён: {entry.get_register_display().lower()} с {entry.included_on:%d.%m.%Y}",
    )

