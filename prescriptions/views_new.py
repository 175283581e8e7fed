"""Writing a prescription: step 1 finds the patient (one field for a SNILS, an OMS policy, the
patient's QR code or a name among the MO's patients), step 2 is the form — the patient's rights
today, the program, the drug from the program's list by live search with its stock at the
pharmacies attached to the MO, and the rest of the blank. The rules decide (`rules.py`); a refusal
comes back as the form with what was typed, the message on top and the field marked.

The htmx fragments of the form: the drug search, the drug picker (the chosen drug, its packages,
and out of band the stock panel, the dosage and the program's ICD-10 codes) and the stock panel."""

from __future__ import annotations

import hashlib
import json
import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers

from llo.errors import ApplicationError
from llo.models import Package, Program, StandardizedDrug
from llo.reference.selectors import catalogue_drugs, program_covers_drug
from llo.reference.views import is_partial
from llo.views import role_required
from registry import selectors as registry
from registry.forms import SearchForm
from registry.views import find_person

from . import page_selectors, selectors, services
from .forms import PrescriptionForm, copy_initial, first_error, flagged_fields, refused_fields
from .models import PrintMethod
from .roles import WRITE_PAGE_ROLES

NO_DOCTOR = ("Ваша учётная запись не связана с записью врача (ФРМР), поэтому выписывать рецепты нельзя. "
             "Обратитесь к ответственному за ЛЛО в вашей МО")
KEY_REUSED = ("Эта форма уже была отправлена, и по ней выписан рецепт. Чтобы выписать ещё один, проверьте поля "
              "и нажмите «Выписать рецепт» ещё раз")
DRUG_RESULTS = 15


def _doctor(request):
    doctor = selectors.doctor_of(request.user)
    if doctor is None:
        raise PermissionDenied(NO_DOCTOR)
    return doctor


def _int(raw) -> int | None:
    raw = str(raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _today():
    return timezone.localdate()


# --- step 1: the patient ---------------------------------------------------------------------------

def _find(request, form: SearchForm) -> dict:
    return find_person(request, form, who="пациента")


def _find_page(request):
    form = SearchForm(request.GET)
    context, status = {"form": form}, 200
    if "q" in request.GET:
        try:
            results = _find(request, form)
        except ApplicationError as exc:
            context["error"], status = exc.message, 400
        else:
            if "person" in results:
                return redirect(reverse("prescription_new") + f"?person={results['person'].pk}")
            context |= results
    if is_partial(request):  # htmx swaps only a 2xx answer: the error travels in the fragment
        return render(request, "prescriptions/partials/find_results.html", context)
    return render(request, "prescriptions/find.html", context, status=status)


# --- step 2: the form ----------------------------------------------------------------------------------

def _person(request, raw, copied=None):
    """The patient of the form: one the doctor may open (attached, or found by an exact identifier
    today), or the patient of the prescription being copied."""
    pk = _int(raw)
    if copied is not None and copied.person_id == pk:
        return copied.person
    person = registry.person_for(request.user, pk) if pk else None
    if person is None:
        raise Http404
    return person


def _copied(request, raw):
    pk = _int(raw)
    return selectors.prescription_for(request.user, pk) if pk else None


def _offer(person, organization, day) -> tuple[list, list[Program], list]:
    """The patient's rights today, the programs a prescription may name (rights in force) and the
    pharmacies attached to the MO."""
    rights = registry.rights_on(person, day)
    programs = list({right.program_id: right.program for right in rights if right.in_force}.values())
    return rights, programs, selectors.attached_points(organization, on=day)


def _program(raw) -> Program | None:
    return page_selectors.program_by_id(_int(raw))


def _drug(raw) -> StandardizedDrug | None:
    return page_selectors.drug_by_id(_int(raw))


def _package(raw, drug) -> Package | None:
    return page_selectors.package_of(drug, _int(raw))


def _drug_context(*, organization, program, drug, package, day) -> dict:
    """What the drug picker and the stock panel show for the chosen drug."""
    if drug is None:
        return {"program": program, "drug": None}
    equivalents = (selectors.equivalents_in_stock(organization=organization, drug=drug, program_id=program.pk,
                                                  day=day) if program else [])
    return {"program": program, "drug": drug, "package": package,
            "packages": page_selectors.drug_packages(drug, on=day),
            "stock": page_selectors.stock_by_place(organization=organization, drug=drug, day=day, package=package),
            "equivalents": equivalents}


def _render_form(request, *, doctor, person, form, rights, copied=None, token="", error="", flagged=(),
                 status=200):
    day = _today()
    raw = form.data if form.is_bound else form.initial
    program = form.programs.get(_int(raw.get("program")))
    drug = _drug(raw.get("drug"))
    context = {
        "doctor": doctor, "person": person, "rights": rights, "today": day, "form": form, "copied": copied,
        "token": token or uuid.uuid4().hex, "error": error, "flagged": set(flagged),
        "diagnoses": page_selectors.program_diagnoses(program, on=day), "vk_protocol": raw.get("vk_protocol", ""),
    } | _drug_context(organization=request.user.organization.legal_entity, program=program, drug=drug,
                      package=_package(raw.get("package"), drug), day=day)
    return render(request, "prescriptions/new.html", context, status=status)


def _form_page(request, doctor):
    copied = _copied(request, request.GET.get("copy"))
    person = copied.person if copied is not None else _person(request, request.GET.get("person"))
    rights, programs, points = _offer(person, request.user.organization.legal_entity, _today())
    initial = copy_initial(copied) if copied is not None else {"person": person.pk}
    if copied is None and len(programs) == 1:
        initial["program"] = programs[0].pk
    form = PrescriptionForm(initial=initial, programs=programs, points=points)
    error = ""
    if copied is not None and copied.program_id not in {p.pk for p in programs}:
        error = (f"Право пациента по программе «{copied.program.name}» сегодня не действует: выберите программу "
                 "из действующих прав")
    return _render_form(request, doctor=doctor, person=person, form=form, rights=rights, copied=copied,
                        error=error, flagged={"program"} if error else ())


def _fingerprint(post) -> str:
    data = {key: post.getlist(key) for key in sorted(post) if key not in ("csrfmiddlewaretoken", "token")}
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()


def _issue(request, doctor):
    organization = request.user.organization.legal_entity
    copied = _copied(request, request.POST.get("copied_from"))
    person = _person(request, request.POST.get("person"), copied)
    rights, programs, points = _offer(person, organization, _today())
    form = PrescriptionForm(request.POST, programs=programs, points=points)
    token = request.POST.get("token", "")
    token = token if token.isalnum() and len(token) <= 40 else ""
    page = {"doctor": doctor, "person": person, "form": form, "rights": rights, "copied": copied, "token": token}
    if not form.is_valid():
        return _render_form(request, **page, error=first_error(form), flagged=flagged_fields(form), status=422)
    data = form.cleaned_data
    draft = services.draft_for(organization=organization, doctor=doctor, person=person, **form.draft_arguments())
    try:
        if data["handwritten"]:
            rx = services.prescription_register_handwritten(user=request.user, draft=draft,
                                                            series=data["blank_series"], number=data["blank_number"])
        else:
            reserve = (services.Reservation(place=data["reserve_at"], days=data["reserve_days"])
                       if data["reserve_at"] else None)
            rx, _replayed = services.prescription_issue(
                user=request.user, draft=draft, method=PrintMethod.SYSTEM, reserve=reserve, copied_from=copied,
                idempotency_key=f"web-{token}" if token else None, fingerprint=_fingerprint(request.POST))
    except ApplicationError as exc:
        if exc.code == "idempotency.key_reused":
            return _render_form(request, **page | {"token": ""}, error=KEY_REUSED, status=exc.http_status)
        return _render_form(request, **page, error=exc.message, flagged=refused_fields(exc), status=exc.http_status)
    done = "зарегистрирован в реестре рецептов, выписанных от руки" if rx.is_handwritten else "выписан"
    if rx.reserved_at_id:
        until = timezone.localtime(rx.reserved_until)
        done += f" и забронирован в аптеке «{rx.reserved_at.short_name}» до {until:%d.%m.%Y %H:%M}"
    messages.success(request, f"Рецепт серия {rx.series} № {rx.number} {done}")
    return redirect("prescription", pk=rx.pk)


@vary_on_headers("HX-Request")
@role_required(WRITE_PAGE_ROLES)
def prescription_new(request):
    doctor = _doctor(request)
    if request.method == "POST":
        return _issue(request, doctor)
    if "person" in request.GET or "copy" in request.GET:
        return _form_page(request, doctor)
    return _find_page(request)


# --- htmx fragments of the form ---------------------------------------------------------------------

@role_required(WRITE_PAGE_ROLES)
def drug_search(request):
    """The program's drugs matching what is typed, live (the catalogue's search: typos, Latin layout)."""
    program, q = _program(request.GET.get("program")), request.GET.get("q", "").strip()
    context = {"q": q}
    if program is None:
        context["hint"] = "Сначала выберите программу: препарат ищется в её перечне"
    elif len(q) >= 2:
        found = catalogue_drugs(q=q, on=_today(), program=program, limit=DRUG_RESULTS)
        context |= {"drugs": found.items, "count": found.count, "similar": found.similar}
    elif q:
        context["hint"] = "Введите ещё хотя бы одну букву"
    return render(request, "prescriptions/partials/drug_results.html", context)


@role_required(WRITE_PAGE_ROLES)
def drug_picker(request):
    """The picker with the chosen drug (or the search field, when none or after a program change that
    drops it from the list), and out of band the stock panel, the dosage and the ICD-10 codes."""
    day = _today()
    program, drug = _program(request.GET.get("program")), _drug(request.GET.get("drug"))
    if drug is not None and (program is None or not program_covers_drug(program, drug, on=day)):
        drug = None
    context = _drug_context(organization=request.user.organization.legal_entity, program=program, drug=drug,
                            package=_package(request.GET.get("package"), drug), day=day)
    typed, was = request.GET.get("dosage", "").strip(), _drug(request.GET.get("was"))
    context |= {"diagnoses": page_selectors.program_diagnoses(program, on=day), "fragment": True, "was": was,
                "vk_protocol": request.GET.get("vk_protocol", ""), "flagged": set()}
    if drug is not None and (not typed or (was is not None and typed == was.dosage)):
        context["dosage_field"] = PrescriptionForm(initial={"dosage": drug.dosage}, programs=[], points=[])["dosage"]
    return render(request, "prescriptions/partials/drug_picker.html", context)


@role_required(WRITE_PAGE_ROLES)
def drug_stock(request):
    """The stock panel again, for the trade-name package chosen (or for any package of the drug)."""
    day = _today()
    drug = _drug(request.GET.get("drug"))
    context = _drug_context(organization=request.user.organization.legal_entity,
                            program=_program(request.GET.get("program")), drug=drug,
                            package=_package(request.GET.get("package"), drug), day=day)
    return render(request, "prescriptions/partials/stock.html", context)
