"""Forms of the doctor's pages: they parse what was typed into records; the rules and services
decide. The prescription form leaves the mandatory fields to the rules (`rules.mandatory_fields`
names every missing one at once) and only refuses what it cannot read."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils import timezone

from llo.errors import ApplicationError, ValidationFailed
from llo.models import Organization, Package, Program, StandardizedDrug
from llo.reference import selectors as reference
from llo.reference.forms import DateInput, first_error  # noqa: F401 (first_error: for the views)
from registry.selectors import parse_snils

from .models import Status, Urgency

VALIDITY_CHOICES = [("", "по правилам"), (15, "15 дней"), (30, "30 дней"), (90, "90 дней")]
HANDWRITTEN_FILTERS = [("", "все"), ("1", "выписанные от руки"), ("0", "электронные")]
RESERVE_DAYS = 3


def _text(label: str, max_length: int, **kwargs) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=False, strip=True,
                           error_messages={"max_length": f"«{label}»: не длиннее {max_length} знаков"}, **kwargs)


def _number(label: str, **kwargs) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, error_messages={
        "invalid": f"«{label}»: введите целое число", "min_value": f"«{label}»: не меньше %(limit_value)s",
        "max_value": f"«{label}»: не больше %(limit_value)s"}, **kwargs)


def _date(label: str) -> forms.DateField:
    return forms.DateField(label=label, required=False, widget=DateInput(),
                           error_messages={"invalid": "Введите дату в формате ДД.ММ.ГГГГ"})


# --- the list ------------------------------------------------------------------------------------

class ListFilterForm(forms.Form):
    series = _text("Серия", 12, widget=forms.TextInput(attrs={"placeholder": "Серия", "class": "input-code"}))
    number = _text("Номер", 20, widget=forms.TextInput(attrs={"placeholder": "Номер", "class": "input-code"}))
    snils = _text("СНИЛС пациента", 20, widget=forms.TextInput(attrs={"placeholder": "СНИЛС пациента"}))
    inn = _text("Препарат", 100, widget=forms.TextInput(attrs={"placeholder": "МНН или торговое наименование"}))
    status = forms.ChoiceField(label="Статус", choices=[("", "Все статусы"), *Status.choices], required=False)
    doctor = forms.TypedChoiceField(label="Врач", coerce=int, empty_value=None, required=False)
    program = forms.ChoiceField(label="Программа", required=False)
    issued_from = _date("Выписан с")
    issued_to = _date("по")
    handwritten = forms.ChoiceField(choices=HANDWRITTEN_FILTERS, required=False)
    page = forms.IntegerField(min_value=1, max_value=100000, required=False)

    def __init__(self, data, *, doctors, programs):
        super().__init__(data)
        self.fields["doctor"].choices = [("", "Все врачи"), *((d.pk, d.full_name) for d in doctors)]
        self.fields["program"].choices = [("", "Все программы"), *((p.code, p.code) for p in programs)]

    def clean_snils(self):
        value = self.cleaned_data["snils"]
        if not value:
            return ""
        try:
            return parse_snils(value)
        except ValidationFailed as exc:
            raise forms.ValidationError(f"СНИЛС: {exc.message}") from None

    def search_arguments(self) -> dict:
        """Keyword arguments of `selectors.prescriptions_search`."""
        data = self.cleaned_data
        handwritten = {"1": True, "0": False}.get(data["handwritten"])
        return {"series": data["series"], "number": data["number"], "status": data["status"],
                "snils": data["snils"], "doctor": data["doctor"], "program": data["program"],
                "issued_from": data["issued_from"], "issued_to": data["issued_to"], "handwritten": handwritten}


# --- the new prescription -------------------------------------------------------------------------

class PrescriptionForm(forms.Form):
    """What the doctor fills in. `programs` are those of the patient's rights in force today,
    `points` the pharmacies attached to the MO (for a reservation)."""

    person = forms.IntegerField(widget=forms.HiddenInput)
    copied_from = forms.IntegerField(required=False, widget=forms.HiddenInput)
    token = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    program = forms.TypedChoiceField(label="Программа", coerce=int, empty_value=None, required=False)
    drug = forms.IntegerField(required=False, widget=forms.HiddenInput)
    package = forms.IntegerField(required=False, widget=forms.HiddenInput)
    vk_protocol = _text("Протокол ВК №", 60)
    icd10 = _text("Код МКБ-10", 20, widget=forms.TextInput(attrs={
        "list": "icd10-choices", "autocomplete": "off", "spellcheck": "false", "placeholder": "например, I10"}))
    dosage = _text("Дозировка", 200)
    quantity = _number("Количество, упак.", min_value=1, max_value=32767,
                       widget=forms.NumberInput(attrs={"min": 1, "max": settings.PRESCRIPTION_MAX_PACKS}))
    signa = _text("Способ применения (Signa)", 500, widget=forms.Textarea(attrs={"rows": 2}))
    validity_days = forms.TypedChoiceField(label="Срок действия", choices=VALIDITY_CHOICES, coerce=int,
                                           empty_value=None, required=False)
    urgency = forms.ChoiceField(label="Срочность", choices=Urgency.choices, required=False)
    reserve_at = forms.TypedChoiceField(label="Забронировать в аптеке", coerce=int, empty_value=None,
                                        required=False)
    reserve_days = _number("Бронь, дней", min_value=1, max_value=settings.PRESCRIPTION_MAX_RESERVE_DAYS,
                           initial=RESERVE_DAYS, widget=forms.NumberInput(attrs={
                               "min": 1, "max": settings.PRESCRIPTION_MAX_RESERVE_DAYS}))
    handwritten = forms.BooleanField(label="Рецепт выписан от руки на бланке", required=False)
    blank_series = _text("Серия бланка", 12, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    blank_number = _text("Номер бланка", 20, widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, programs: list[Program], points: list[Organization], **kwargs):
        super().__init__(*args, **kwargs)
        self.programs = {p.pk: p for p in programs}
        self.points = {p.pk: p for p in points}
        self.fields["program"].choices = [("", "— выберите программу —"),
                                          *((p.pk, f"{p.code} — {p.name}") for p in programs)]
        self.fields["reserve_at"].choices = [("", "— без брони —"), *((p.pk, p.short_name) for p in points)]

    def clean_program(self):
        pk = self.cleaned_data["program"]
        if pk is not None and pk not in self.programs:
            raise forms.ValidationError("Выберите программу из действующих прав пациента")
        return self.programs.get(pk)

    def clean_reserve_at(self):
        pk = self.cleaned_data["reserve_at"]
        if pk is not None and pk not in self.points:
            raise forms.ValidationError("Выберите аптеку из списка прикреплённых к вашей МО")
        return self.points.get(pk)

    def clean_drug(self):
        pk = self.cleaned_data["drug"]
        if pk is None:
            return None
        drug = StandardizedDrug.objects.select_related("inn").filter(pk=pk).first()
        if drug is None:
            raise forms.ValidationError("Препарат не найден в каталоге: выберите его заново")
        return drug

    def clean_icd10(self):
        code = self.cleaned_data["icd10"]
        if not code:
            return None
        diagnosis = reference.diagnosis_by_code(code, on=timezone.localdate())
        if diagnosis is None:
            raise forms.ValidationError(f"Кода МКБ-10 «{code.upper()}» нет в справочнике: проверьте код "
                                        "(например, I10 или E11.9)")
        return diagnosis

    def clean(self):
        data = super().clean()
        package_id = data.get("package")
        data["package"] = None
        if package_id is not None and data.get("drug") is not None:
            data["package"] = Package.objects.select_related("trade_name").filter(pk=package_id).first()
            if data["package"] is None:
                self.add_error("package", "Упаковка не найдена в каталоге: выберите её заново")
        if data.get("reserve_at") is not None and not data.get("reserve_days"):
            self.add_error("reserve_days", "Укажите, на сколько дней забронировать препарат")
        if data.get("handwritten"):
            if data.get("reserve_at") is not None:
                self.add_error("reserve_at", "Рецепт, выписанный от руки, только регистрируется: бронь для него "
                               "не оформляется")
            for name, label in (("blank_series", "серию"), ("blank_number", "номер")):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, f"Укажите {label} бланка, на котором выписан рецепт")
        return data

    def draft_arguments(self) -> dict:
        """Keyword arguments of `services.draft_for` besides the organization, doctor and person."""
        data = self.cleaned_data
        return {"program": data["program"], "drug": data["drug"], "diagnosis": data["icd10"],
                "package": data["package"], "vk_protocol": data["vk_protocol"], "dosage": data["dosage"],
                "quantity": data["quantity"], "signa": data["signa"], "validity_days": data["validity_days"],
                "urgency": data["urgency"] or Urgency.NONE}


def copy_initial(rx) -> dict:
    """The new prescription's form filled in from an earlier one («Копировать»)."""
    return {"person": rx.person_id, "copied_from": rx.pk, "program": rx.program_id, "drug": rx.drug_id,
            "package": rx.package_id, "vk_protocol": rx.vk_protocol, "icd10": rx.icd10, "dosage": rx.dosage,
            "quantity": rx.quantity, "signa": rx.signa, "validity_days": rx.validity_days}


# Which field a refused check is about, when its details do not say (`field` / `fields`).
CODE_FIELDS = {
    "right.not_found": ["program"], "right.nsu_refused": ["program"], "drug.not_on_list": ["drug"],
    "diagnosis.not_allowed": ["icd10"], "prescription.vk_without_trade_name": ["vk_protocol"],
    "package.not_of_drug": ["package"], "prescription.vk_protocol_required": ["vk_protocol"],
    "prescription.quantity_invalid": ["quantity"], "prescription.validity_not_allowed": ["validity_days"],
    "reservation.days_invalid": ["reserve_days"], "reservation.place_not_attached": ["reserve_at"],
    "stock.not_enough": ["reserve_at", "quantity"],
    "prescription.series_number_invalid": ["blank_series", "blank_number"],
    "prescription.duplicate_number": ["blank_series", "blank_number"],
}
RULE_NAMES = {"diagnosis": "icd10"}  # the draft's name -> the form's


def refused_fields(exc: ApplicationError) -> set[str]:
    """The form fields to highlight for a refused check."""
    details = exc.details or {}
    named = details.get("fields") or ([details["field"]] if details.get("field") else CODE_FIELDS.get(exc.code, []))
    return {RULE_NAMES.get(name, name) for name in named} & set(PrescriptionForm.base_fields)


def flagged_fields(form: forms.Form) -> set[str]:
    return {name for name in form.errors if name != NON_FIELD_ERRORS}


class CancelForm(forms.Form):
    reason = forms.CharField(label="Причина аннулирования", max_length=300, strip=True,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": "Укажите причину аннулирования",
                                             "max_length": "Причина — не длиннее 300 знаков"})

