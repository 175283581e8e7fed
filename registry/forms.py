"""Forms of the register's pages: they parse and check the input; the services decide."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django import forms
from django.utils import timezone

from llo.errors import ValidationFailed
from llo.models import BenefitCategory, Diagnosis, Program
from llo.reference import selectors as reference
from llo.reference.forms import DateInput, first_error  # noqa: F401 (first_error: for the views)

from .models import DisabilityGroup, RegisterKind, RequestStatus, Sex
from .patient_token import TOKEN_LENGTH

MANUAL_REGISTERS = [(k.value, k.label) for k in (RegisterKind.REGIONAL, RegisterKind.ADDITIONAL)]
STATUS_FILTERS = [("", "Все"), *RequestStatus.choices]


def _date(label: str, required: bool = True) -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DateInput(),
                           error_messages={"invalid": "Введите дату в формате ДД.ММ.ГГГГ",
                                           "required": f"Укажите дату: «{label}»"})


def _text(label: str, max_length: int, required: bool = False, **kwargs) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=required, strip=True,
                           error_messages={"required": f"Заполните поле «{label}»",
                                           "max_length": f"«{label}»: не длиннее {max_length} знаков"}, **kwargs)


def _no_future(day, what: str):
    if day and day > timezone.localdate():
        raise forms.ValidationError(f"{what} в будущем: проверьте дату")
    return day


# --- the search field ---------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s-]+")
_AIM_PREFIX = re.compile(r"^[\]ъЪ][QqЙй][0-9]")  # what a scanner sends before a QR code's digits
_ASCII_DIGITS = re.compile(r"[0-9]+")
_NAME = re.compile(r"^[^\W\d_]+(?:[-'’.][^\W\d_]*)*\.?$")  # a word of letters: «Салтыков-Щедрин», «П.»
SNILS_DIGITS, POLICY_DIGITS = 11, 16
WHAT_TO_TYPE = ("Введите СНИЛС (11 цифр), номер полиса ОМС (16 цифр), отсканируйте QR-код с карты пациента "
                "или введите фамилию, имя и отчество буквами")


@dataclass(frozen=True)
class Query:
    """What the one search field holds: an exact identifier (`kind` snils/policy/qr) or a name."""

    kind: str
    value: str


def classify_query(raw: str) -> Query:
    """Tell a SNILS, an OMS policy, a patient's QR token and a name apart (a scanner is a keyboard:
    the field gets whatever it types). Raises ValidationFailed saying what to type instead."""
    text = (raw or "").strip()
    if not text:
        raise ValidationFailed(WHAT_TO_TYPE, code="register.query_empty")
    if _AIM_PREFIX.match(text):
        return Query("qr", text)
    if not any(ch.isdigit() for ch in text):  # any script's digits: «١٢٣» is not a name either
        if not all(_NAME.match(word) for word in text.split()):
            raise ValidationFailed(f"В фамилии, имени и отчестве — только буквы, дефис и точка. {WHAT_TO_TYPE}",
                                   code="register.query_not_a_name")
        return Query("name", text)
    digits = _SEPARATORS.sub("", text)
    if not _ASCII_DIGITS.fullmatch(digits):
        raise ValidationFailed(f"В запросе смешаны буквы и цифры. {WHAT_TO_TYPE}; дату рождения — в поле рядом",
                               code="register.query_mixed")
    kinds = {SNILS_DIGITS: "snils", POLICY_DIGITS: "policy", TOKEN_LENGTH: "qr"}
    if len(digits) not in kinds:
        raise ValidationFailed(
            f"Введено цифр: {len(digits)}. СНИЛС — 11 цифр (123-456-789 01), полис ОМС — 16 цифр, "
            f"QR-код пациента — {TOKEN_LENGTH} цифры: проверьте номер или отсканируйте QR-код ещё раз",
            code="register.query_bad_length")
    return Query(kinds[len(digits)], digits)


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, strip=True,
                        error_messages={"max_length": "Слишком длинный запрос: не больше 200 знаков"})
    birth_date = _date("Дата рождения", required=False)

    def clean_birth_date(self):
        return _no_future(self.cleaned_data["birth_date"], "Дата рождения")


# --- the person card (the register's admins) ----------------------------------------------------

class DiagnosisField(forms.CharField):
    """An ICD-10 code typed in (the list is long), read from the dictionary in force today."""

    def __init__(self, **kwargs):
        super().__init__(label="Диагноз МКБ-10", required=False, max_length=20, strip=True, **kwargs)

    def clean(self, value) -> Diagnosis | None:
        code = super().clean(value)
        if not code:
            return None
        diagnosis = reference.diagnosis_by_code(code, on=timezone.localdate())
        if diagnosis is None:
            raise forms.ValidationError(f"Кода МКБ-10 «{code.upper()}» нет в справочнике: проверьте код "
                                        "(например, E11 или E11.9)")
        return diagnosis


class ProgramChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Program) -> str:
        return f"{obj.code} — {obj.name}"


class RightFieldsForm(forms.Form):
    """Program, category, diagnosis, period and document of a right (on the card and in a request)."""

    program = ProgramChoiceField(label="Программа", queryset=Program.objects.order_by("code"),
                                     empty_label="— выберите программу —",
                                     error_messages={"required": "Выберите программу"})
    category = forms.ModelChoiceField(label="Льготная категория", queryset=BenefitCategory.objects.all(),
                                      empty_label="— выберите категорию —",
                                      error_messages={"required": "Выберите льготную категорию"})
    diagnosis = DiagnosisField()
    disability_group = forms.ChoiceField(label="Группа инвалидности", choices=DisabilityGroup.choices,
                                         required=False)
    valid_from = _date("Право с")
    valid_to = _date("Право по (необязательно)", required=False)
    document_name = _text("Документ-основание", 300, required=True)
    document_number = _text("Номер документа", 60)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        day = timezone.localdate()  # offered: what is in force today
        self.fields["program"].queryset = Program.objects.valid_on(day).order_by("code")
        self.fields["category"].queryset = BenefitCategory.objects.valid_on(day).order_by("federal_code")

    def clean(self):
        data = super().clean()
        start, end = data.get("valid_from"), data.get("valid_to")
        if start and end and end < start:
            raise forms.ValidationError("Дата окончания права раньше даты начала")
        return data


class RightAddForm(RightFieldsForm):
    document_date = _date("Дата документа", required=False)


class RightCloseForm(forms.Form):
    last_day = _date("Последний день права")


class RefusalForm(forms.Form):
    year = forms.IntegerField(label="Год", error_messages={"required": "Укажите год",
                                                          "invalid": "Год — четыре цифры, например 2027"})
    refused = forms.TypedChoiceField(label="Выбор", coerce=lambda v: v == "1",
                                     choices=[("1", "отказ от лекарственной части НСУ"),
                                              ("0", "сохраняет лекарственную часть НСУ")],
                                     error_messages={"required": "Выберите: отказ или сохранение НСУ"})
    applied_on = _date("Дата заявления", required=False)

    def clean_applied_on(self):
        return _no_future(self.cleaned_data["applied_on"], "Дата заявления")


class RegisterIncludeForm(forms.Form):
    register = forms.ChoiceField(label="Регистр", choices=MANUAL_REGISTERS,
                                 error_messages={"required": "Выберите регистр",
                                                 "invalid_choice": "Вручную включают в региональный или "
                                                                   "дополнительный регистр"})
    included_on = _date("Включён с")
    basis = _text("Основание", 300)


# --- inclusion requests ------------------------------------------------------------------------

class InclusionRequestForm(RightFieldsForm):
    """A known person (`person`, set by the view) or a new one described by the fields below."""

    snils = _text("СНИЛС", 14, help_text="123-456-789 01")
    last_name = _text("Фамилия", 100)
    first_name = _text("Имя", 100)
    patronymic = _text("Отчество", 100)
    birth_date = _date("Дата рождения", required=False)
    sex = forms.ChoiceField(label="Пол", choices=[("", "—"), *Sex.choices], required=False)
    oms_policy = _text("Полис ОМС", 20)
    address = _text("Адрес регистрации", 500)
    register = forms.ChoiceField(label="Регистр", choices=MANUAL_REGISTERS, initial=RegisterKind.REGIONAL)
    comment = forms.CharField(label="Комментарий для министерства", required=False, strip=True,
                              widget=forms.Textarea(attrs={"rows": 3}))

    PERSON_FIELDS = ("snils", "last_name", "first_name", "patronymic", "birth_date", "sex", "oms_policy", "address")

    def __init__(self, *args, person=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.person = person

    def clean_birth_date(self):
        return _no_future(self.cleaned_data["birth_date"], "Дата рождения")

    def clean(self):
        data = super().clean()
        if self.person is None:
            missing = [self.fields[name].label.lower() for name in ("last_name", "first_name", "birth_date", "sex")
                       if not data.get(name) and name not in self.errors]
            if missing:
                raise forms.ValidationError(f"Укажите {', '.join(missing)} гражданина")
        return data

    def service_arguments(self) -> dict:
        data = dict(self.cleaned_data)
        if self.person is not None:
            data = {k: v for k, v in data.items() if k not in self.PERSON_FIELDS}
        return data | {"person": self.person}


class RejectForm(forms.Form):
    reason = forms.CharField(label="Причина отказа", strip=True, widget=forms.Textarea(attrs={"rows": 3}),
                             error_messages={"required": "Укажите причину отказа: её увидит медицинская организация"})


class ApproveForm(forms.Form):
    reason = forms.CharField(label="Комментарий", required=False, strip=True)


# --- duplicates ---------------------------------------------------------------------------------

class MergeForm(forms.Form):
    persons = forms.TypedMultipleChoiceField(coerce=int, error_messages={
        "required": "Не выбраны записи",
        "invalid_choice": "Запись № %(value)s уже объединена с другой или недоступна: обновите страницу"})
    survivor = forms.TypedChoiceField(coerce=int, error_messages={"required": "Выберите основную запись",
                                                                  "invalid_choice": "Выберите основную запись"})
    confirm = forms.BooleanField(required=False)

    def __init__(self, data, *, choices: list[int]):
        super().__init__(data)
        self.fields["persons"].choices = self.fields["survivor"].choices = [(pk, pk) for pk in choices]

    def clean(self):
        data = super().clean()
        persons, survivor = data.get("persons") or [], data.get("survivor")
        if len(set(persons)) < 2:
            raise forms.ValidationError("Для объединения нужны хотя бы две записи")
        if survivor is not None and survivor not in persons:
            raise forms.ValidationError("Основная запись должна быть среди объединяемых")
        return data


# --- Social Fund imports -------------------------------------------------------------------------

DBF_VERSIONS = frozenset({0x03, 0x83, 0x8B, 0xF5, 0x30})  # dBase III/IV, FoxPro, Visual FoxPro
DBF_MIN_SIZE = 65  # a 32-byte header, one 32-byte field descriptor and its terminator


def _dbf_upload(upload, name: str):
    """Refuse at once what is plainly not a DBF file (a document, an archive); the worker checks the
    rest of the file (fields, size, code page) before it loads anything."""
    upload.seek(0)
    head = upload.read(1)
    upload.seek(0)
    if upload.size < DBF_MIN_SIZE or not head or head[0] not in DBF_VERSIONS:
        raise forms.ValidationError(
            f"Файл «{upload.name}» — не файл DBF. Выберите файл {name}.DBF из выгрузки СФР (не архив и не документ)")
    return upload


class SfrUploadForm(forms.Form):
    persons_file = forms.FileField(label="Файл граждан C_REGO.DBF", error_messages={
        "required": "Не выбран файл C_REGO (граждане)", "empty": "Файл C_REGO пуст: выберите файл выгрузки СФР"})
    rights_file = forms.FileField(label="Файл льгот C_REGL.DBF", error_messages={
        "required": "Не выбран файл C_REGL (льготы)", "empty": "Файл C_REGL пуст: выберите файл выгрузки СФР"})
    file_date = _date("Дата выгрузки")

    def clean_persons_file(self):
        return _dbf_upload(self.cleaned_data["persons_file"], "C_REGO")

    def clean_rights_file(self):
        return _dbf_upload(self.cleaned_data["rights_file"], "C_REGL")

    def clean_file_date(self):
        return _no_future(self.cleaned_data["file_date"], "Дата выгрузки")


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(choices=STATUS_FILTERS, required=False)
