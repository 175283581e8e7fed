"""REST API of the register: a person and the rights in force today, by SNILS, OMS policy or the
patient's QR code. Every look-up by someone outside the ministry is logged."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from llo.api import ErrorSerializer, role_permission
from llo.api_pagination import Pagination
from llo.roles import PERSON_READ_ROLES, REGISTER_ADMIN_ROLES, has_role

from . import selectors
from .models import NsuRefusal
from .patient_token import patient_token_resolve
from .services import lookup_log
from .snils import format_snils


class RightSerializer(serializers.Serializer):
    program = serializers.CharField(source="program.code")
    program_name = serializers.CharField(source="program.name")
    category_code = serializers.CharField(source="category.federal_code")
    category_name = serializers.CharField(source="category.name")
    funding_source = serializers.CharField(source="program.funding_source")
    payment_share = serializers.CharField(source="program.payment_share")
    payment_percent = serializers.DecimalField(source="program.payment_percent", max_digits=5, decimal_places=2)
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(allow_null=True)
    diagnosis = serializers.CharField(source="diagnosis.code", allow_null=True, default=None)
    disability_group = serializers.CharField()
    source = serializers.CharField()
    in_force = serializers.BooleanField(help_text="false: ОНЛП при отказе от лекарственной части НСУ на этот год")


class BeneficiarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    snils = serializers.SerializerMethodField()
    last_name = serializers.CharField()
    first_name = serializers.CharField()
    patronymic = serializers.CharField()
    birth_date = serializers.DateField()
    sex = serializers.CharField()
    oms_policy = serializers.CharField()
    is_out_of_town = serializers.BooleanField()
    attached_mo = serializers.CharField(source="attached_mo.short_name", allow_null=True, default=None)
    death_date = serializers.DateField(allow_null=True)
    nsu_refused_this_year = serializers.BooleanField()
    rights = RightSerializer(many=True, source="rights_today")

    def get_snils(self, person) -> str | None:
        return format_snils(person.snils) if person.snils else None


class BeneficiaryLookupApi(APIView):
    permission_classes = [role_permission(PERSON_READ_ROLES)]

    @extend_schema(
        summary="Льготополучатель и его права на сегодня — по СНИЛС, полису ОМС или QR-коду пациента; "
                "без параметров — постраничный список тех, кого видит вызывающий (прикреплённые к его МО)",
        parameters=[
            OpenApiParameter("snils", OpenApiTypes.STR, description="СНИЛС: 12345678901 или 123-456-789 01"),
            OpenApiParameter("policy", OpenApiTypes.STR, description="номер полиса ОМС"),
            OpenApiParameter("qr", OpenApiTypes.STR, description="содержимое QR-кода пациента (цифры)"),
            OpenApiParameter("page", OpenApiTypes.INT, description="страница списка (без snils/policy/qr)"),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={200: BeneficiarySerializer, 404: ErrorSerializer, 422: ErrorSerializer},
    )
    def get(self, request):
        given = {name: request.query_params.get(name, "").strip() for name in ("snils", "policy", "qr")}
        given = {name: value for name, value in given.items() if value}
        if not given:
            return self._list(request)
        if len(given) != 1:
            raise serializers.ValidationError({"snils": ["Укажите ровно одно: snils, policy или qr"]})
        (method, value), = given.items()
        if method == "snils":
            person = selectors.find_by_snils(value)
        elif method == "policy":
            person = selectors.find_by_policy(value)
        else:
            person = patient_token_resolve(value)
        if person is None:
            raise NotFound()
        if not has_role(request.user, REGISTER_ADMIN_ROLES):
            lookup_log(user=request.user, person=person, method=method)
        today = timezone.localdate()
        person.rights_today = selectors.rights_on(person, today)
        person.nsu_refused_this_year = any(r.refused for r in person.rights_today) if person.rights_today else (
            NsuRefusal.objects.filter(person=person, year=today.year, refused=True).exists())
        return Response(BeneficiarySerializer(person).data)

    def _list(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.persons_for(request.user).order_by("search_name", "pk"),
                                           request, view=self)
        return paginator.get_paginated_response(BeneficiaryListSerializer(page, many=True).data)


class BeneficiaryListSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    snils = serializers.SerializerMethodField()
    last_name = serializers.CharField()
    first_name = serializers.CharField()
    patronymic = serializers.CharField()
    birth_date = serializers.DateField()
    sex = serializers.CharField()
    oms_policy = serializers.CharField()

    def get_snils(self, person) -> str | None:
        return format_snils(person.snils) if person.snils else None
