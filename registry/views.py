"""The register's search page: one field for whatever the user types or scans — a SNILS, an OMS
policy, the patient's QR code (each opens the card at once) or a name (a list, live as one types)."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.vary import vary_on_headers

from llo.errors import ApplicationError, ValidationFailed
from llo.reference.views import is_partial
from llo.roles import REGISTER_ADMIN_ROLES, has_role
from llo.views import role_required

from . import selectors, services
from .forms import SearchForm, classify_query, first_error
from .patient_token import patient_token_resolve
from .roles import SEARCH_ROLES
from .snils import format_snils

TYPE_TO_THE_END = "Номер вводится целиком: нажмите Enter, чтобы найти {who}"
NAME_SEARCH_CLOSED = ("Поиск по ФИО доступен врачам и сотрудникам МО (их прикреплённые пациенты). "
                      "Найдите гражданина по СНИЛС, полису ОМС или отсканируйте QR-код с карты пациента")


def _exact(kind: str, value: str):
    """The person an exact identifier names, or None; a SNILS with wrong check digits or a QR code
    that does not verify raises."""
    if kind == "snils":
        try:
            return selectors.find_by_snils(value)
        except ValidationFailed as exc:
            raise ValidationFailed(f"{exc.message}: проверьте номер (123-456-789 01) или отсканируйте QR-код "
                                   "с карты пациента", code=exc.code) from None
    if kind == "policy":
        return selectors.find_by_policy(value)
    return patient_token_resolve(value)


def _not_found(kind: str, value: str, who: str) -> str:
    what = f"СНИЛС {format_snils(value)}" if kind == "snils" else f"полисом ОМС {value}"
    return f"В регистре нет гражданина с {what}. Проверьте номер или найдите {who} по ФИО"


def find_person(request, form: SearchForm, *, who: str = "гражданина") -> dict:
    """What one search field finds (also for the prescription form's first step): {"person": …} for
    an exact identifier (the look-up logged), else a hint, a not-found message or the names found;
    raises on bad input. `who` names the person in the messages."""
    if not form.is_valid():
        raise ValidationFailed(first_error(form), code="register.bad_input")
    text, birth_date = form.cleaned_data["q"], form.cleaned_data["birth_date"]
    if is_partial(request) and not text:
        return {}
    if is_partial(request) and any(ch.isdigit() for ch in text):
        return {"hint": TYPE_TO_THE_END.format(who=who)}  # live typing: a number is looked up when complete, on Enter
    query = classify_query(text)
    if query.kind != "name":
        person = _exact(query.kind, query.value)
        if person is None:
            return {"not_found": _not_found(query.kind, query.value, who)}
        if not has_role(request.user, REGISTER_ADMIN_ROLES):
            services.lookup_log(user=request.user, person=person, method=query.kind)
        return {"person": person}
    if not selectors.may_browse_persons(request.user):
        raise ValidationFailed(NAME_SEARCH_CLOSED, code="register.name_search_closed")
    try:
        name = selectors.parse_name_query(text, birth_date)
    except ValidationFailed as exc:
        if is_partial(request) and exc.code == "person.query_too_short":
            return {"hint": exc.message}  # still typing
        raise
    found, similar = selectors.search_by_name(selectors.persons_for(request.user), name)
    return {"found": found, "similar": similar, "limit": selectors.NAME_RESULTS}


@vary_on_headers("HX-Request")
@role_required(SEARCH_ROLES)
def search(request):
    form = SearchForm(request.GET)
    context = {"form": form, "may_browse": selectors.may_browse_persons(request.user),
               "region_wide": has_role(request.user, REGISTER_ADMIN_ROLES)}
    status = 200
    if "q" in request.GET:  # the page opened from the menu shows just the field
        try:
            results = find_person(request, form)
        except ApplicationError as exc:
            context["error"], status = exc.message, 400
        else:
            if "person" in results:
                return redirect("register_person", pk=results["person"].pk)
            context |= results
    if is_partial(request):  # htmx swaps only a 2xx answer: the error travels in the fragment
        return render(request, "registry/partials/search_results.html", context)
    return render(request, "registry/search.html", context, status=status)
