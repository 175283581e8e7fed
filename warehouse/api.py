"""REST API of stock: balances by place, series and expiry for doctors' and pharmacies' systems."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from llo.api import ErrorSerializer, role_permission
from llo.models import Role
from llo.roles import WEB_ROLES

from . import selectors

STOCK_READ_ROLES = WEB_ROLES | {Role.MIS_CLIENT}


class StockRowSerializer(serializers.Serializer):
    place_id = serializers.IntegerField()
    place_code = serializers.CharField()
    place_name = serializers.CharField()
    place_kind = serializers.CharField()
    package_id = serializers.IntegerField()
    gtin = serializers.CharField(allow_null=True)
    trade_name = serializers.CharField()
    drug_id = serializers.IntegerField()
    series = serializers.CharField()
    expiry = serializers.DateField()
    funding_source = serializers.CharField()
    quantity = serializers.IntegerField(help_text="упаковок в наличии")


class StockQuerySerializer(serializers.Serializer):
    drug = serializers.IntegerField(required=False, min_value=1, help_text="стандартизованный препарат (id каталога)")
    package = serializers.IntegerField(required=False, min_value=1, help_text="упаковка (id каталога)")
    place = serializers.IntegerField(required=False, min_value=1, help_text="место: склад или пункт отпуска")

    def validate(self, attrs):
        if not attrs.get("drug") and not attrs.get("package") and not attrs.get("place"):
            raise serializers.ValidationError({"drug": ["Укажите drug, package или place"]})
        return attrs


class StockApi(APIView):
    permission_classes = [role_permission(STOCK_READ_ROLES)]

    @extend_schema(
        summary="Остатки по местам, сериям и срокам годности",
        parameters=[OpenApiParameter(name, OpenApiTypes.INT) for name in ("drug", "package", "place")],
        responses={200: StockRowSerializer(many=True), 422: ErrorSerializer},
    )
    def get(self, request):
        query = StockQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.stock(drug_id=query.validated_data.get("drug"), package_id=query.validated_data.get("package"),
                               place_id=query.validated_data.get("place"))
        return Response({"count": len(rows), "results": StockRowSerializer(rows, many=True).data})
