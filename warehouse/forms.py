"""Forms of the stock pages: they parse and check the input (a pack typed or scanned, the supplier's
CSV list); the services decide everything else. `valid()` turns the first form error into a
`ValidationFailed`, so a page shows a form error exactly as it shows a service's."""

from __future__ import annotations

from django import forms

from llo.barcodes import BarcodeError, parse_scan
from llo.errors import ValidationFailed
from llo.models import Organization, Package
from llo.reference.forms import DateInput, first_error

from . import selectors
from .models import Acceptance, DocumentKind, DocumentStatus, StorageAddress, WriteOffReason
from .supplier_list import parse_supplier_list

REQUIRED = {"required": "Обязательное поле"}
WHOLE = {"required": "Укажите количество", "invalid": "Количество — целое число упаковок"}


def valid(form: forms.Form) -> dict:
    """The cleaned data, or `ValidationFailed` with the form's first error."""
    if not form.is_valid():
        raise ValidationFailed(first_error(form), code="form.invalid")
    return form.cleaned_data


def package_by_code(text: str) -> Package | None:
    """A pack of the catalogue by what the clerk typed or scanned: its DataMatrix, GTIN or КЛП code."""
    text = text.strip()
    try:
        scanned = parse_scan(text)
    except BarcodeError:
        scanned = None
    packages = Package.objects.select_related("trade_name").order_by("pk")
    by_gtin = packages.filter(gtin=scanned.gtin).first() if scanned is not None and scanned.gtin else None
    return by_gtin or packages.filter(nsi_code=text).first()


class PackageField(forms.CharField):
    """A pack of the catalogue, typed (GTIN, КЛП code) or scanned (DataMatrix)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Упаковка (GTIN, код КЛП или скан)")
        kwargs.setdefault("error_messages", REQUIRED)
        super().__init__(max_length=600, **kwargs)
        self.widget.attrs.update({"autocomplete": "off", "spellcheck": "false", "list": "package-choices"})

    def clean(self, value):
        text = super().clean(value)
        if not text:
            return None
        package = package_by_code(text)
        if package is None:
            raise forms.ValidationError(f"Упаковка «{text[:40]}» не найдена в каталоге: введите GTIN, код КЛП "
                                        "или отсканируйте упаковку")
        return package


def _date(label: str, *, required: bool = True) -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DateInput(),
                           error_messages={"required": "Укажите дату", "invalid": "Введите дату в формате ДД.ММ.ГГГГ"})


def _text(label: str, max_length: int, *, required: bool = False) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=required, strip=True,
                           error_messages=REQUIRED | {"max_length": f"Не длиннее {max_length} знаков"})


class DocumentFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "Все виды")] + DocumentKind.choices, required=False)
    status = forms.ChoiceField(choices=[("", "Все состояния")] + DocumentStatus.choices, required=False)

    def values(self) -> tuple[str, str]:
        if not self.is_valid():
            return "", ""
        return self.cleaned_data["kind"], self.cleaned_data["status"]


# --- creating documents -----------------------------------------------------------------------

class ReceiptForm(forms.Form):
    contract = forms.ModelChoiceField(label="Государственный контракт", queryset=None, error_messages={
        "required": "Выберите контракт", "invalid_choice": "Контракт не найден среди исполняемых"})
    acceptance = forms.ChoiceField(label="Порядок приёмки", choices=Acceptance.choices, widget=forms.RadioSelect,
                                   initial=Acceptance.DIRECT, error_messages={"required": "Выберите порядок приёмки"})
    supplier_number = _text("Номер документа поставщика", 50)
    supplier_date = _date("Дата документа поставщика", required=False)
    supplier_list = forms.FileField(label="Список упаковок поставщика (CSV)", required=False)

    def __init__(self, *args, place: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contract"].queryset = selectors.contracts_for(place)

    def clean(self):
        data = super().clean()
        upload = data.get("supplier_list")
        if data.get("acceptance") == Acceptance.DIRECT:
            if not upload:
                self.add_error("supplier_list", "Для прямой приёмки загрузите список упаковок поставщика (CSV)")
            else:
                try:
                    data["expected"] = parse_supplier_list(upload.read())
                except ValidationFailed as exc:
                    self.add_error("supplier_list", exc.message)
        return data


class ReceiptLineForm(forms.Form):
    package = PackageField()
    series = _text("Серия", 40, required=True)
    expiry = _date("Годен до")
    quantity = forms.IntegerField(label="Количество, упак.", error_messages=WHOLE)


class WantedForm(forms.Form):
    package = PackageField()
    quantity = forms.IntegerField(label="Количество, упак.", min_value=1,  # the pick list preview needs it too
                                  error_messages=WHOLE | {"min_value": "Количество должно быть больше нуля"})


def rows_formset(form_class, data=None, *, prefix: str, rows: int = 5):
    """A formset of `rows` blank rows; a "more rows" submit adds five, keeping what was typed."""
    if data is not None and "more" in data:
        data = data.copy()
        data[f"{prefix}-TOTAL_FORMS"] = str(int(data.get(f"{prefix}-TOTAL_FORMS") or rows) + 5)
    formset = forms.formset_factory(form_class, extra=rows, max_num=200, absolute_max=200)
    return formset(data, prefix=prefix)


def filled_rows(formset, *, none_message: str) -> list[dict]:
    """The rows typed in (blank rows skipped); `ValidationFailed` names the first wrong one."""
    for number, form in enumerate(formset.forms, start=1):
        if form.is_bound and not form.is_valid():
            raise ValidationFailed(f"Строка {number}: {first_error(form)}", code="form.invalid")
    rows = [form.cleaned_data for form in formset.forms if form.is_bound and form.cleaned_data]
    if not rows:
        raise ValidationFailed(none_message, code="form.invalid")
    return rows


class ShipmentForm(forms.Form):
    destination = forms.ModelChoiceField(label="Пункт отпуска (получатель)", queryset=None, error_messages={
        "required": "Выберите пункт отпуска", "invalid_choice": "Пункт отпуска не найден"})

    def __init__(self, *args, place: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["destination"].queryset = selectors.dispensing_points(place.region_id, exclude_id=place.pk)


class PlaceForm(forms.Form):
    """A form of a new document of `place` (the place shapes the choices of some)."""

    def __init__(self, *args, place: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.place = place


class ReturnForm(PlaceForm):
    contract = forms.ModelChoiceField(label="Контракт, по которому возвращаем", queryset=None, error_messages={
        "required": "Выберите контракт", "invalid_choice": "Контракт не найден среди исполняемых"})
    comment = _text("Основание (претензия, письмо)", 500)

    def __init__(self, *args, place: Organization, **kwargs):
        super().__init__(*args, place=place, **kwargs)
        self.fields["contract"].queryset = selectors.contracts_for(place)


class WriteOffForm(PlaceForm):
    reason = forms.ChoiceField(label="Причина списания", choices=[("", "— выберите —")] + WriteOffReason.choices,
                               error_messages={"required": "Укажите причину списания",
                                               "invalid_choice": "Укажите причину списания из списка"})
    comment = _text("Комментарий (акт, письмо)", 500)


class InventoryForm(PlaceForm):
    comment = _text("Комментарий (приказ, зона)", 500)


# --- on a document ----------------------------------------------------------------------------

def _sgtin_of(text: str) -> str:
    """A pack's SGTIN from its scanned DataMatrix or the SGTIN typed."""
    try:
        scanned = parse_scan(text)
    except BarcodeError:
        return text.strip()
    return scanned.sgtin or text.strip()


class RefuseForm(forms.Form):
    sgtin = forms.CharField(label="Упаковка (скан или SGTIN)", max_length=600,
                            error_messages={"required": "Отсканируйте упаковку или введите её SGTIN"})
    reason = forms.CharField(label="Причина отказа", max_length=300, required=False, strip=True)

    def clean_sgtin(self) -> str:
        return _sgtin_of(self.cleaned_data["sgtin"])


class QuantityForm(forms.Form):
    package = PackageField()
    series = _text("Серия", 40, required=True)
    quantity = forms.IntegerField(label="Количество, упак.", error_messages=WHOLE)
    address = _text("Адрес хранения (необязательно)", 60)

    def __init__(self, *args, place_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.place_id = place_id

    def clean_address(self) -> StorageAddress | None:
        code = self.cleaned_data["address"].upper().removeprefix("ADR-")
        if not code:
            return None
        address = StorageAddress.objects.filter(place_id=self.place_id, code=code, is_active=True).first()
        if address is None:
            raise forms.ValidationError(f"Адреса {code} нет в этом месте хранения")
        return address


# --- storage and the stock page -----------------------------------------------------------------

class AddressForm(forms.Form):
    zone = _text("Зона", 10, required=True)
    rack = _text("Стеллаж", 10, required=True)
    shelf = _text("Полка", 10, required=True)
    cell = _text("Ячейка", 10, required=True)


STOCK_VIEWS = [("balances", "Остатки"), ("expiring", "Сроки годности"), ("slow", "Неликвиды"),
               ("redistribution", "Перераспределение")]
EXPIRY_WINDOWS = [(30, "30 дней"), (60, "60 дней"), (90, "90 дней")]


class StockFilterForm(forms.Form):
    view = forms.ChoiceField(choices=STOCK_VIEWS, required=False)
    days = forms.TypedChoiceField(choices=EXPIRY_WINDOWS, coerce=int, required=False, empty_value=30)
    place = forms.ModelChoiceField(queryset=Organization.objects.none(), required=False, empty_label="Все места")

    def __init__(self, data, *, places=None):
        super().__init__(data)
        if places is not None:
            self.fields["place"].queryset = places

    def values(self) -> tuple[str, int, Organization | None]:
        if not self.is_valid():
            return "balances", 30, None
        data = self.cleaned_data
        return data["view"] or "balances", data["days"] or 30, data["place"]
