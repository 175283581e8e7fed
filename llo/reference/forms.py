"""Forms of the reference pages: they parse and check the input; the services decide."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from llo.models import (
    BenefitCategory, ControlList, FundingSource, ImportMode, NsiBenefitCategory, PaymentShare, ProgramKind,
)

from . import selectors

KIND_FILTERS = [("", "Все виды"), ("drug", "Препараты"), ("device", "Изделия"), ("nutrition", "Питание")]
CATALOGUE_VIEWS = [("packages", "Упаковки"), ("drugs", "Наименования (МНН)")]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _date(label: str, required: bool = True) -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DateInput(),
                           error_messages={"invalid": "Введите дату в формате ДД.ММ.ГГГГ"})


class CatalogueFilterForm(forms.Form):
    """The catalogue search. An absent `date` means today; an empty one means every date."""

    q = forms.CharField(required=False, strip=True)
    kind = forms.ChoiceField(choices=KIND_FILTERS, required=False)
    program = forms.ModelChoiceField(queryset=selectors.programs_qs(), required=False, empty_label="Все программы")
    date = _date("На дату", required=False)
    view = forms.ChoiceField(choices=CATALOGUE_VIEWS, required=False)

    def __init__(self, params, **kwargs):
        data = params.copy()
        if "date" not in data:
            data["date"] = timezone.localdate().isoformat()
        super().__init__(data, **kwargs)

    @property
    def view_value(self) -> str:
        return (self.cleaned_data.get("view") if self.is_valid() else "") or "packages"


class DrugFlagsForm(forms.Form):
    control_list = forms.ChoiceField(label="Список НС и ПВ", choices=ControlList.choices, required=False)
    atc_code = forms.CharField(label="Код АТХ", required=False, max_length=20, strip=True)


class PackageFlagsForm(forms.Form):
    is_jnvlp = forms.BooleanField(label="ЖНВЛП", required=False)
    price_cap = forms.DecimalField(
        label="Предельная цена, руб.", required=False, max_digits=12, decimal_places=2,
        error_messages={"invalid": "Цена — число, например 1250,50",
                        "max_decimal_places": "Не больше двух знаков после запятой"},
        localize=True,
    )
    is_marked = forms.BooleanField(label="Маркировка", required=False)


class RowPeriodForm(forms.Form):
    valid_from = _date("Действует с")
    valid_to = _date("по (необязательно)", required=False)
    basis = forms.CharField(label="Основание", required=False, max_length=300, strip=True)

    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            raise forms.ValidationError("Дата окончания раньше даты начала")
        return data


class DrugIncludeForm(RowPeriodForm):
    """On the drug card: put this drug on a program's list."""

    program = forms.ModelChoiceField(label="Программа", queryset=selectors.programs_qs(),
                                     empty_label="— выберите программу —",
                                     error_messages={"required": "Выберите программу"})


class RowAddForm(RowPeriodForm):
    """On the program card: a drug (by id), a category (select) or an ICD-10 code (typed)."""

    kind = forms.ChoiceField(choices=[("drug", "drug"), ("category", "category"), ("diagnosis", "diagnosis")])
    drug = forms.ModelChoiceField(queryset=selectors.drugs_qs(), required=False)
    category = forms.ModelChoiceField(queryset=BenefitCategory.objects.all(), required=False)
    diagnosis = forms.CharField(required=False, max_length=20, strip=True)

    REQUIRED = {"drug": "Выберите препарат в результатах поиска", "category": "Выберите категорию",
                "diagnosis": "Введите код МКБ-10, например E11"}

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind and not data.get(kind):
            self.add_error(kind if kind in self.fields else None, self.REQUIRED[kind])
        return data


class RowEndForm(forms.Form):
    """«Исключить с даты»: the row's last day in force is the day before."""

    exclude_from = _date("Исключить с")


class ProgramForm(forms.Form):
    code = forms.CharField(label="Код", max_length=20, help_text="Латиница, цифры, «-» и «_»: например REG-50")
    name = forms.CharField(label="Наименование", max_length=500)
    kind = forms.ChoiceField(label="Вид", choices=ProgramKind.choices)
    funding_source = forms.ChoiceField(label="Источник финансирования", choices=FundingSource.choices)
    payment_share = forms.ChoiceField(label="Размер оплаты", choices=PaymentShare.choices)
    payment_percent = forms.DecimalField(
        label="Процент оплаты (для «иного процента»)", required=False, max_digits=5, decimal_places=2, localize=True,
    )
    requires_diagnosis = forms.BooleanField(label="Только по диагнозам из перечня программы", required=False)
    basis = forms.CharField(label="Нормативное основание", required=False, max_length=500)
    valid_from = _date("Действует с")
    valid_to = _date("Действует по (необязательно)", required=False)

    @classmethod
    def initial_for(cls, program) -> dict:
        return {field: getattr(program, field) for field in cls.base_fields}


class CategoryMapForm(forms.Form):
    nsi_category = forms.ModelChoiceField(queryset=NsiBenefitCategory.objects.all(), required=False)


class NsiModeForm(forms.Form):
    mode = forms.ChoiceField(choices=ImportMode.choices)


class NsiImportForm(forms.Form):
    version = forms.CharField(required=False, max_length=20, strip=True)


def first_error(form: forms.Form) -> str:
    """The first message of an invalid form, for the place next to it."""
    for errors in form.errors.values():
        if errors:
            return errors[0]
    return "Проверьте введённые значения"
