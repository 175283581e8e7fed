"""REST API of prescriptions for MIS vendors (docs/api.md#prescriptions): issue with an
Idempotency-Key, read, list with filters, cancel, print."""

from __future__ import annotations

import hashlib
import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from llo.access import get_for
from llo.api import ErrorSerializer, role_permission
from llo.errors import ValidationFailed
from llo.models import (
    Organization,
    OrganizationKind,
    Role,
)
from registry.selectors import parse_snils
from registry.services import lookup_log
from registry.snils import format_snils

from . import lookups, page_selectors, print_form, selectors, services
from .models import PrintMethod, Status, Urgency
from .roles import READ_ROLES, WRITE_ROLES

IDEMPOTENCY_HEADER = "Idempotency-Key"


class IssueInput(serializers.Serializer):
    beneficiary_snils = serializers.CharField(help_text="СНИЛС пациента: 12345678901 или 123-456-789 01")
    program = serializers.CharField(max_length=20, help_text="код программы (GET /api/v1/catalogue/programs/)")
    drug = serializers.IntegerField(required=False, min_value=1, help_text="стандартизованный препарат (СМНН), id "
                                    "из GET /api/v1/catalogue/drugs/?program=…")
    package = serializers.IntegerField(required=False, min_value=1,
                                       help_text="упаковка торгового наименования — только по решению ВК")
    vk_protocol = serializers.CharField(required=False, allow_blank=True, max_length=60,
                                        help_text="номер протокола врачебной комиссии (обязателен с package)")
    quantity = serializers.IntegerField(min_value=1, max_value=32767, help_text="количество упаковок")
    dosage = serializers.CharField(max_length=200)
    signa = serializers.CharField(max_length=500, help_text="способ применения")
    icd10 = serializers.CharField(max_length=20, help_text="код МКБ-10")
    doctor = serializers.IntegerField(required=False, min_value=1,
                                      help_text="врач (id из GET /api/v1/staff/?role=doctor); обязателен для МИС")
    validity_days = serializers.IntegerField(required=False, min_value=1, max_value=365,
                                             help_text="15, 30 или 90 — по правилам; по умолчанию наименьший")
    urgency = serializers.ChoiceField(choices=[c for c in Urgency.values if c], required=False)
    reserve_at = serializers.IntegerField(required=False, min_value=1, help_text="аптека (пункт отпуска) для брони")
    reserve_days = serializers.IntegerField(required=False, min_value=1, max_value=365)

    def validate(self, attrs):
        if not attrs.get("drug") and not attrs.get("package"):
            raise serializers.ValidationError({"drug": ["Укажите drug (СМНН) или package с vk_protocol"]})
        if ("reserve_at" in attrs) != ("reserve_days" in attrs):
            raise serializers.ValidationError({"reserve_days": ["reserve_at и reserve_days указываются вместе"]})
        return attrs


class PrescriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    form = serializers.CharField()
    series = serializers.CharField()
    number = serializers.CharField()
    barcode = serializers.SerializerMethodField(help_text="текст штрихкода на бланке: RX-<серия>-<номер>")
    status = serializers.CharField()
    issued_on = serializers.DateField()
    validity_days = serializers.IntegerField()
    expires_on = serializers.DateField()
    urgency = serializers.CharField()
    beneficiary = serializers.SerializerMethodField()
    program = serializers.CharField(source="program.code")
    category_code = serializers.CharField()
    funding_source = serializers.CharField()
    payment_share = serializers.CharField()
    payment_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    icd10 = serializers.CharField()
    drug = serializers.SerializerMethodField()
    package = serializers.SerializerMethodField()
    vk_protocol = serializers.CharField()
    dosage = serializers.CharField()
    quantity = serializers.IntegerField()
    signa = serializers.CharField()
    doctor = serializers.SerializerMethodField()
    reservation = serializers.SerializerMethodField()
    cancel_reason = serializers.CharField()
    is_handwritten = serializers.BooleanField()
    signed_at = serializers.DateTimeField(allow_null=True)

    def get_barcode(self, rx) -> str:
        return services.label_of(rx)

    def get_beneficiary(self, rx) -> dict:
        p = rx.person
        return {"id": p.pk, "snils": format_snils(p.snils) if p.snils else None, "full_name": p.full_name,
                "birth_date": p.birth_date.isoformat()}

    def get_drug(self, rx) -> dict:
        return {"id": rx.drug_id, "name": str(rx.drug)}

    def get_package(self, rx) -> dict | None:
        if rx.package_id is None:
            return None
        return {"id": rx.package_id, "trade_name": rx.package.trade_name.name, "gtin": rx.package.gtin}

    def get_doctor(self, rx) -> dict:
        return {"id": rx.doctor_id, "full_name": rx.doctor.full_name, "code": rx.doctor.code}

    def get_reservation(self, rx) -> dict | None:
        if rx.status != Status.RESERVED or rx.reserved_at_id is None:
            return None
        return {"place": rx.reserved_at_id, "place_name": rx.reserved_at.short_name, "until": rx.reserved_until}


def _fingerprint(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _refuse(code: str, message: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, details={"field": field})


def _draft(user, data: dict):
    """Resolve the request's identifiers to records the caller may use; the rules check the rest."""
    try:
        snils = parse_snils(data["beneficiary_snils"])
    except ValidationFailed as exc:
        raise _refuse("beneficiary.invalid_snils", exc.message, "beneficiary_snils") from None
    is_doctor = user.role == Role.DOCTOR
    if not is_doctor and not data.get("doctor"):
        raise _refuse("doctor.required", "Укажите врача (doctor): id из GET /api/v1/staff/?role=doctor", "doctor")
    mo = user.organization.legal_entity
    named = lookups.resolve(
        snils=snils, program=data["program"].strip().upper(), drug=data.get("drug"), package=data.get("package"),
        icd10=data["icd10"].strip().upper(), mo_id=mo.pk, doctor=None if is_doctor else data["doctor"],
        user_id=user.pk)
    for found, code, message, field in (
        (named.person, "beneficiary.not_found", "Пациент с таким СНИЛС не найден в регистре: проверьте СНИЛС или "
         "подайте заявку на включение", "beneficiary_snils"),
        (named.program, "program.not_found", f"Программа «{data['program']}» не найдена", "program"),
        (named.package or not data.get("package"), "package.not_found", "Упаковка не найдена в каталоге", "package"),
        (named.drug, "drug.not_found", "Препарат не найден в каталоге", "drug"),
        (named.diagnosis, "diagnosis.not_found", f"Код МКБ-10 «{data['icd10']}» не найден", "icd10"),
    ):
        if not found:
            raise _refuse(code, message, field)
    return named.person, services.draft_for(
        organization=mo, doctor=_doctor(named.doctor, is_doctor, data.get("doctor")), person=named.person,
        program=named.program, drug=named.drug, package=named.package, vk_protocol=data.get("vk_protocol", ""),
        diagnosis=named.diagnosis, dosage=data["dosage"], quantity=data["quantity"], signa=data["signa"],
        validity_days=data.get("validity_days"), urgency=data.get("urgency", ""))


def _doctor(found, is_doctor: bool, asked: int | None):
    """A doctor writes in their own name; a MIS names one of its MO's doctors."""
    if is_doctor and found is None:
        raise _refuse("doctor.no_record", "Ваша учётная запись не связана с записью врача ФРМР вашей МО: "
                      "обратитесь к администратору", "doctor")
    if is_doctor and asked and asked != found.pk:
        raise _refuse("doctor.not_self", "Врач выписывает рецепты только от своего имени", "doctor")
    if found is None:
        raise _refuse("doctor.not_found", "Врач не найден среди врачей вашей МО", "doctor")
    return found


def _reservation(data: dict) -> services.Reservation | None:
    if "reserve_at" not in data:
        return None
    place = Organization.objects.filter(pk=data["reserve_at"], kind=OrganizationKind.DISPENSING_POINT).first()
    if place is None:
        raise _refuse("reservation.place_not_found", "Аптека для брони не найдена", "reserve_at")
    return services.Reservation(place=place, days=data["reserve_days"])


class PrescriptionListCreateApi(APIView):
    permission_classes = [role_permission(READ_ROLES)]

    @extend_schema(
        summary="Выписать льготный рецепт",
        description="Проверяет рецепт по всем правилам, присваивает серию и номер, подписывает СЭМД вида 37 "
                    "и при необходимости бронирует препарат в аптеке. Повтор с тем же заголовком "
                    "`Idempotency-Key` возвращает тот же рецепт (200) и ничего не создаёт.",
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="уникальный ключ запроса (UUID), до 100 символов")],
        request=IssueInput,
        responses={201: PrescriptionSerializer, 200: OpenApiResponse(PrescriptionSerializer, "повтор по ключу"),
                   409: ErrorSerializer, 422: ErrorSerializer},
        examples=[
            OpenApiExample("По МНН", request_only=True, value={
                "beneficiary_snils": "112-233-445 95", "program": "ONLP", "drug": 123, "quantity": 2,
                "dosage": "100 мг", "signa": "По 1 таблетке 2 раза в день", "icd10": "M10.0", "doctor": 7}),
            OpenApiExample("По ТН с протоколом ВК и бронью", request_only=True, value={
                "beneficiary_snils": "11223344595", "program": "ONLP", "package": 298, "vk_protocol": "ВК-114",
                "quantity": 1, "dosage": "100 мг", "signa": "По 1 таблетке утром", "icd10": "M10.0", "doctor": 7,
                "validity_days": 90, "reserve_at": 31, "reserve_days": 5}),
            OpenApiExample("Проверка не пройдена", response_only=True, status_codes=["422"], value={
                "code": "drug.not_on_list", "message": "Препарата нет в перечне программы …",
                "details": {"drug": 123, "program": "REG-CAT"}}),
        ],
    )
    def post(self, request):
        if request.user.role not in WRITE_ROLES:
            self.permission_denied(request, message="Выписывать рецепты могут врач и МИС медицинской организации")
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip() or None
        if key is not None and len(key) > 100:
            raise _refuse("idempotency.key_too_long", "Idempotency-Key — не длиннее 100 символов", IDEMPOTENCY_HEADER)
        data = IssueInput(data=request.data)
        data.is_valid(raise_exception=True)
        person, draft = _draft(request.user, data.validated_data)
        rx, replayed = services.prescription_issue(
            user=request.user, draft=draft, reserve=_reservation(data.validated_data),
            method=PrintMethod.MIS if request.user.role == Role.MIS_CLIENT else PrintMethod.SYSTEM,
            idempotency_key=key, fingerprint=_fingerprint(data.validated_data))
        if not replayed and person.attached_mo_id != draft.organization.pk:
            lookup_log(user=request.user, person=person, method="snils")
        return Response(PrescriptionSerializer(rx).data, status=status.HTTP_200_OK if replayed else
                        status.HTTP_201_CREATED)

    @extend_schema(
        summary="Рецепты МО с фильтрами",
        parameters=[OpenApiParameter(name, OpenApiTypes.STR) for name in selectors.FILTERS]
        + [OpenApiParameter("page", OpenApiTypes.INT), OpenApiParameter("page_size", OpenApiTypes.INT)],
        responses={200: PrescriptionSerializer(many=True)},
    )
    def get(self, request):
        filters = ListQuery(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = selectors.prescriptions_search(selectors.prescriptions_for(request.user), **filters.validated_data)
        paginator = ListPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(PrescriptionSerializer(page, many=True).data)


class ListQuery(serializers.Serializer):
    series = serializers.CharField(required=False, max_length=12)
    number = serializers.CharField(required=False, max_length=20)
    status = serializers.ChoiceField(choices=Status.values, required=False)
    snils = serializers.CharField(required=False, max_length=20)
    person = serializers.IntegerField(required=False, min_value=1)
    doctor = serializers.IntegerField(required=False, min_value=1)
    program = serializers.CharField(required=False, max_length=20)
    drug = serializers.IntegerField(required=False, min_value=1)
    issued_from = serializers.DateField(required=False)
    issued_to = serializers.DateField(required=False)
    expires_before = serializers.DateField(required=False)
    handwritten = serializers.BooleanField(required=False, allow_null=True, default=None)
    reserved_at = serializers.IntegerField(required=False, min_value=1)

    def validate_snils(self, value):
        return parse_snils(value)


class ListPagination:
    """Page-number pagination without COUNT(*) over millions of rows: `next` is given when a
    further row exists."""

    page_size, max_page_size = page_selectors.PAGE_SIZE, 500

    def paginate_queryset(self, qs, request, view=None):
        params = PageQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        self.request = request
        self.page = page_selectors.list_page(qs, number=params.validated_data["page"],
                                             size=params.validated_data["page_size"])
        return self.page.rows

    def get_paginated_response(self, data):
        url = self.request.build_absolute_uri()
        following = replace_query_param(url, "page", self.page.number + 1) if self.page.has_next else None
        return Response({"next": following, "results": data})


class PageQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, max_value=100000, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=ListPagination.max_page_size,
                                         default=ListPagination.page_size)


class PrescriptionDetailApi(APIView):
    permission_classes = [role_permission(READ_ROLES)]

    @extend_schema(summary="Рецепт", responses={200: PrescriptionSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        return Response(PrescriptionSerializer(selectors.prescription_for(request.user, pk)).data)


class CancelInput(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class PrescriptionCancelApi(APIView):
    permission_classes = [role_permission(WRITE_ROLES)]

    @extend_schema(summary="Аннулировать рецепт", request=CancelInput,
                   responses={200: PrescriptionSerializer, 404: ErrorSerializer, 409: ErrorSerializer})
    def post(self, request, pk: int):
        rx = selectors.prescription_for(request.user, pk)
        data = CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.prescription_cancel(prescription=rx, user=request.user, reason=data.validated_data["reason"])
        return Response(PrescriptionSerializer(rx).data)


class PrescriptionPrintApi(APIView):
    permission_classes = [role_permission(READ_ROLES)]

    @extend_schema(summary="Печатная форма 148-1/у-04(л) (PDF)",
                   responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: ErrorSerializer})
    def get(self, request, pk: int):
        rx = get_for(selectors.prescriptions_for(request.user).select_related(*print_form.PRINT_RELATED), pk=pk)
        return print_form.prescription_pdf_response(rx)


class DoctorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    code = serializers.CharField()
    position = serializers.CharField()
    snils = serializers.SerializerMethodField()
    may_prescribe_subsidized = serializers.BooleanField()
    subdivision = serializers.IntegerField(source="subdivision_id", allow_null=True)

    def get_snils(self, doctor) -> str:
        return format_snils(doctor.snils)


class StaffListApi(generics.ListAPIView):
    """The caller's MO's doctors: the `doctor` a MIS passes when it issues a prescription."""

    permission_classes = [role_permission(READ_ROLES)]
    serializer_class = DoctorSerializer

    @extend_schema(summary="Врачи МО", parameters=[
        OpenApiParameter("role", OpenApiTypes.STR, enum=["doctor"], description="пока только doctor")])
    def get(self, request, *args, **kwargs):
        if request.query_params.get("role", "doctor") != "doctor":
            raise serializers.ValidationError({"role": ["Поддерживается только role=doctor"]})
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.doctors_for(self.request.user)
