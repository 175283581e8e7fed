"""REST publication of the catalogue, programs and reference books to every participant."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from llo.models import (
    BenefitCategory, Diagnosis, NsiBenefitCategory, Package, ProductKind, Program, Route, StandardizedDrug, Unit,
    ValidityPeriod,
)

from . import selectors, sync

LIST_FILTERS = ("q", "date", "program", "kind", "gtin", "page", "page_size")


class PackageSerializer(serializers.ModelSerializer):
    trade_name = serializers.CharField(source="trade_name.name")
    drug_id = serializers.IntegerField(source="trade_name.drug_id")
    inn = serializers.CharField(source="trade_name.drug.inn.name")
    kind = serializers.CharField(source="trade_name.drug.kind")
    dosage_form = serializers.CharField(source="trade_name.drug.dosage_form")
    dosage = serializers.CharField(source="trade_name.drug.dosage")
    pack_unit = serializers.CharField(source="pack_unit.short_name")
    pack_unit_code = serializers.CharField(source="pack_unit.nsi_code")

    class Meta:
        model = Package
        fields = [
            "id", "source", "nsi_code", "gtin", "trade_name", "drug_id", "inn", "kind", "dosage_form", "dosage",
            "pack_quantity", "pack_unit", "pack_unit_code", "pack_description", "manufacturer",
            "manufacturer_country", "registration_certificate", "is_marked", "is_jnvlp", "price_cap",
            "valid_from", "valid_to", "sync_version",
        ]


class DrugSerializer(serializers.ModelSerializer):
    inn = serializers.CharField(source="inn.name")
    route_code = serializers.CharField(source="route.nsi_code", allow_null=True, default=None)

    class Meta:
        model = StandardizedDrug
        fields = ["id", "source", "nsi_code", "kind", "inn", "dosage_form", "dosage", "atc_code", "control_list",
                  "route_code", "valid_from", "valid_to", "sync_version"]


class _RowSerializer(serializers.Serializer):
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(allow_null=True)
    basis = serializers.CharField()


class ProgramDrugRowSerializer(_RowSerializer):
    drug_id = serializers.IntegerField()


class ProgramCategoryRowSerializer(_RowSerializer):
    federal_code = serializers.CharField(source="category.federal_code")


class ProgramDiagnosisRowSerializer(_RowSerializer):
    code = serializers.CharField(source="diagnosis.code")
    diagnosis_id = serializers.IntegerField()


class ProgramSerializer(serializers.ModelSerializer):
    drugs = ProgramDrugRowSerializer(source="drug_rows", many=True)
    categories = ProgramCategoryRowSerializer(source="category_rows", many=True)
    diagnoses = ProgramDiagnosisRowSerializer(source="diagnosis_rows", many=True)

    class Meta:
        model = Program
        fields = ["id", "code", "name", "kind", "funding_source", "payment_share", "payment_percent",
                  "requires_diagnosis", "basis", "valid_from", "valid_to", "sync_version",
                  "drugs", "categories", "diagnoses"]


def _book_serializer(book_model, book_fields):
    meta = type("Meta", (), {"model": book_model, "fields": ["id", *book_fields, "valid_from", "valid_to",
                                                             "sync_version"]})
    return type(f"{book_model.__name__}Serializer", (serializers.ModelSerializer,), {"Meta": meta})


BOOKS = {
    "units": (Unit, ["nsi_code", "name", "short_name"]),
    "routes": (Route, ["nsi_code", "name"]),
    "validity-periods": (ValidityPeriod, ["nsi_code", "name", "days"]),
    "nsi-benefit-categories": (NsiBenefitCategory, ["nsi_code", "name"]),
    "benefit-categories": (BenefitCategory, ["federal_code", "name", "nsi_category"]),
    "diagnoses": (Diagnosis, ["nsi_code", "code", "name", "parent"]),
}
BOOK_SERIALIZERS = {name: _book_serializer(model, fields) for name, (model, fields) in BOOKS.items()}

SYNC_PARAMETERS = [
    OpenApiParameter("changed_since", OpenApiTypes.INT, description=(
        "Инкрементальная синхронизация: записи, изменённые после этой версии (0 — все), включая выведенные "
        "из действия, по возрастанию версии. Продолжайте с `next_since`, пока `has_more`.")),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Записей на страницу синхронизации (1–5000, по умолчанию 1000)"),
    OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
                     description="ETag прошлого ответа: без изменений ответ 304 без тела"),
]
LIST_PARAMETERS = [
    OpenApiParameter("q", OpenApiTypes.STR, description=(
        "Поиск по МНН и торговому наименованию (начало слова, опечатки, русская раскладка) или по GTIN")),
    OpenApiParameter("date", OpenApiTypes.DATE, description="Действующие на дату (по умолчанию — сегодня)"),
    OpenApiParameter("program", OpenApiTypes.STR, description="Код программы: только позиции её перечня на дату"),
    OpenApiParameter("kind", OpenApiTypes.STR, enum=ProductKind.values, description="Вид: препарат, изделие, питание"),
    OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size", OpenApiTypes.INT),
]


class _Published(APIView):
    """A published table: sync mode with `changed_since`, or the list mode of the subclass."""

    table = ""
    serializer_class: type[serializers.Serializer]

    def sync_queryset(self):
        raise NotImplementedError

    def list_response(self, request) -> dict:
        raise NotImplementedError

    def get(self, request):
        since = sync.parse_since(request.query_params.get("changed_since"))
        if since is not None:
            used = [name for name in LIST_FILTERS if name in request.query_params]
            if used:
                raise serializers.ValidationError({used[0]: [
                    "Синхронизация (changed_since) отдаёт все записи; фильтры с ней не сочетаются"]})
        version = sync.table_version(self.table)
        day = None if since is not None else sync.parse_date(request.query_params.get("date"))
        etag = sync.etag_for(request, version, extra=str(day or ""))
        if sync.not_modified(request, etag):
            return sync.with_etag(Response(status=304), etag, version)
        if since is not None:
            rows, more = sync.sync_page(self.sync_queryset(), since=since, limit=sync.parse_limit(
                request.query_params.get("limit")))
            body = sync.sync_response(rows, more=more, since=since, version=version,
                                      serializer_class=self.serializer_class)
        else:
            body = self.list_response(request, day)
        return sync.with_etag(Response(body), etag, version)


def _page_params(request) -> tuple[int, int]:
    def number(name, default, top):
        raw = request.query_params.get(name, "")
        if raw == "":
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= top:
            raise serializers.ValidationError({name: [f"Ожидается число от 1 до {top}"]})
        return int(raw)

    return number("page", 1, 100000), number("page_size", 50, 500)


def _paged(request, page, *, number: int, size: int, serializer_class) -> dict:
    def link(n):
        params = request.query_params.copy()
        params["page"] = n
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    return {
        "count": page.count,
        "similar": page.similar,
        "next": link(number + 1) if number * size < page.count else None,
        "previous": link(number - 1) if number > 1 else None,
        "results": serializer_class(page.items, many=True).data,
    }


def _catalogue_filters(request) -> dict:
    kind = request.query_params.get("kind", "")
    if kind and kind not in ProductKind.values:
        raise serializers.ValidationError({"kind": [f"Неизвестный вид: {kind}; допустимы {', '.join(ProductKind.values)}"]})
    code = request.query_params.get("program", "")
    program = None
    if code:
        program = Program.objects.filter(code=code.strip().upper()).first()
        if program is None:
            raise serializers.ValidationError({"program": [f"Программа с кодом {code} не найдена"]})
    return {"kind": kind, "program": program}


class PackageListApi(_Published):
    table = "llo_package"
    serializer_class = PackageSerializer

    @extend_schema(summary="Упаковки каталога (КЛП): поиск, фильтры, синхронизация",
                   parameters=[*LIST_PARAMETERS, OpenApiParameter("gtin", OpenApiTypes.STR,
                                                                  description="Точный GTIN (8–14 цифр)"),
                               *SYNC_PARAMETERS],
                   responses={200: PackageSerializer(many=True), 304: None})
    def get(self, request):
        return super().get(request)

    def sync_queryset(self):
        return selectors.packages_qs()

    def list_response(self, request, day) -> dict:
        number, size = _page_params(request)
        q = request.query_params.get("gtin") or request.query_params.get("q", "")
        page = selectors.catalogue_packages(q=q, on=day, limit=size, offset=(number - 1) * size,
                                            **_catalogue_filters(request))
        return _paged(request, page, number=number, size=size, serializer_class=PackageSerializer)


class DrugListApi(_Published):
    table = "llo_standardizeddrug"
    serializer_class = DrugSerializer

    @extend_schema(summary="Стандартизованные наименования (МНН + форма + дозировка): поиск, фильтры, синхронизация",
                   parameters=[*LIST_PARAMETERS, *SYNC_PARAMETERS], responses={200: DrugSerializer(many=True), 304: None})
    def get(self, request):
        return super().get(request)

    def sync_queryset(self):
        return selectors.drugs_qs()

    def list_response(self, request, day) -> dict:
        number, size = _page_params(request)
        page = selectors.catalogue_drugs(q=request.query_params.get("q", ""), on=day, limit=size,
                                         offset=(number - 1) * size, **_catalogue_filters(request))
        return _paged(request, page, number=number, size=size, serializer_class=DrugSerializer)


class ProgramListApi(_Published):
    table = "llo_program"
    serializer_class = ProgramSerializer

    @extend_schema(summary="Программы ЛЛО с финансированием и датированными перечнями (препараты, категории, МКБ-10)",
                   parameters=[OpenApiParameter("date", OpenApiTypes.DATE,
                                                description="Программы и строки перечней, действующие на дату"),
                               *SYNC_PARAMETERS],
                   responses={200: ProgramSerializer(many=True), 304: None})
    def get(self, request):
        return super().get(request)

    def sync_queryset(self):
        return selectors.programs_with_all_rows()

    def list_response(self, request, day) -> dict:
        programs = selectors.programs_with_rows(on=day)
        return {"count": len(programs), "next": None, "previous": None,
                "results": ProgramSerializer(programs, many=True).data}


class ReferenceBookApi(_Published):
    """Units, routes, validity periods, benefit categories (federal and NSI), ICD-10."""

    @extend_schema(summary="Справочник: действующие на дату записи или синхронизация",
                   parameters=[OpenApiParameter("date", OpenApiTypes.DATE), *SYNC_PARAMETERS])
    def get(self, request, book: str):
        if book not in BOOKS:
            raise NotFound()
        self.model = BOOKS[book][0]
        self.table = self.model._meta.db_table
        self.serializer_class = BOOK_SERIALIZERS[book]
        return super().get(request)

    def sync_queryset(self):
        return self.model.objects.all()

    def list_response(self, request, day) -> dict:
        number, size = _page_params(request)
        qs = self.model.objects.valid_on(day).order_by("pk")
        count = qs.count()
        page = selectors.Page(list(qs[(number - 1) * size: number * size]), count)
        return _paged(request, page, number=number, size=size, serializer_class=self.serializer_class)
