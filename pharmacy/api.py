"""REST API of the pharmacy desk for pharmacy systems: dispense a prescription by the packs' scans,
check one scan, read a dispensing, list the SGTINs in stock at a point; put a prescription on
deferred service, list the deferrals due and record a patient's repeat visit. Thin: the checks and writes
are `pharmacy.dispensing`, the access rules `pharmacy.selectors`."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from llo.access import get_for
from llo.api import ErrorSerializer, role_permission
from llo.models import Package

from . import lookups, selectors
from .deferrals import VISIT_TEXT_MAX, deferral_visit, prescription_defer
from .dispensing import UnmarkedItem, dispensation_create, scan_check
from .selectors import DISPENSING_ROLES, READ_ALL_ROLES, STOCK_ROLES
from .workdays import add_working_days

GS_NOTE = "как передал сканер; разделитель GS — символ 0x1D (в JSON — \\u001d)"
DATAMATRIX = "01046070283938772151BkLeHfrcTg0\u001d91EE07\u001d92cyTxjTmzSZ7Sp8SxvShv6ZbbCb3a4Wus7VNHbhFdcm0="
SGTIN = "0460702839387751BkLeHfrcTg0"


class DeskPrescriptionRef(serializers.Serializer):
    prescription = serializers.IntegerField(required=False, min_value=1, help_text="рецепт (id)")
    series = serializers.CharField(required=False, max_length=12, help_text="серия рецепта (вместо id)")
    number = serializers.CharField(required=False, max_length=20, help_text="номер рецепта (вместо id)")
    place = serializers.IntegerField(required=False, min_value=1,
                                     help_text="пункт отпуска; по умолчанию — пункт провизора")

    def validate(self, attrs):
        if not attrs.get("prescription") and not (attrs.get("series") and attrs.get("number")):
            raise serializers.ValidationError({"prescription": ["Укажите prescription или series и number"]})
        return attrs


class DispensedItemInput(serializers.Serializer):
    package = serializers.PrimaryKeyRelatedField(queryset=Package.objects.select_related("trade_name"),
                                                 help_text="упаковка (id каталога), немаркированная")
    series = serializers.CharField(max_length=40)
    quantity = serializers.IntegerField(min_value=1, max_value=1000, help_text="упаковок")


class DispensationInput(DeskPrescriptionRef):
    codes = serializers.ListField(child=serializers.CharField(max_length=600, trim_whitespace=False), required=False,
                                  max_length=100, help_text=f"DataMatrix каждой упаковки, {GS_NOTE}")
    items = DispensedItemInput(many=True, required=False, help_text="немаркированный товар: серия и количество")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs.get("codes") and not attrs.get("items"):
            raise serializers.ValidationError({"codes": ["Отсканируйте упаковки (codes) или укажите items"]})
        return attrs


class DispensationScanInput(DeskPrescriptionRef):
    code = serializers.CharField(max_length=600, trim_whitespace=False, help_text=f"скан упаковки, {GS_NOTE}")
    already = serializers.ListField(child=serializers.CharField(max_length=600, trim_whitespace=False),
                                    required=False, max_length=100,
                                    help_text="SGTIN (или сканы) упаковок, уже принятых к этому отпуску")


class ScanVerdictSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="true — зелёная строка, false — красная")
    code = serializers.CharField(help_text="код проверки, не пройденной упаковкой; пусто, если ok")
    message = serializers.CharField()
    sgtin = serializers.CharField()
    package_id = serializers.IntegerField(allow_null=True)
    package = serializers.CharField()
    series = serializers.CharField()
    expiry = serializers.DateField(allow_null=True)
    scanned = serializers.IntegerField(help_text="принято упаковок, с этой")
    needed = serializers.IntegerField(help_text="выписано упаковок")


class DispensedItemOutput(serializers.Serializer):
    package_id = serializers.IntegerField()
    package = serializers.CharField()
    sgtin = serializers.CharField(allow_null=True)
    series = serializers.CharField()
    expiry = serializers.DateField()
    quantity = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True,
                                     help_text="цена за упаковку по государственному контракту")
    contract_id = serializers.IntegerField(allow_null=True)
    funding_source = serializers.CharField()


class DispensationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    prescription = serializers.SerializerMethodField()
    place = serializers.SerializerMethodField()
    pharmacist = serializers.CharField(source="pharmacist.full_name")
    at = serializers.DateTimeField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    items = DispensedItemOutput(many=True, source="item_rows")

    def get_prescription(self, obj) -> dict:
        rx = obj.prescription
        return {"id": rx.pk, "series": rx.series, "number": rx.number, "issued_on": rx.issued_on.isoformat(),
                "status": rx.status}

    def get_place(self, obj) -> dict:
        return {"id": obj.place_id, "name": obj.place.short_name, "mdlp_place_id": obj.place.mdlp_place_id}


class StockPackOutput(serializers.Serializer):
    sgtin = serializers.CharField()
    package_id = serializers.IntegerField()
    package = serializers.CharField()
    series = serializers.CharField()
    expiry = serializers.DateField()
    funding_source = serializers.CharField()
    contract_id = serializers.IntegerField(allow_null=True)


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _desk(request, data: dict):
    """The prescription and the point a request names (404 for what the caller may not use)."""
    return lookups.desk_lookup(request.user, pk=data.get("prescription"), series=data.get("series", ""),
                               number=data.get("number", ""), place=data.get("place"))


ERRORS = {404: ErrorSerializer, 409: ErrorSerializer, 422: ErrorSerializer}
RECORD_EXAMPLE = {
    "id": 51, "prescription": {"id": 1042, "series": "9926", "number": "100021000123", "issued_on": "2026-11-20",
                               "status": "dispensed"},
    "place": {"id": 31, "name": "Аптека № 1 (центр)", "mdlp_place_id": "00000000012345"},
    "pharmacist": "Иванова Мария Петровна", "at": "2026-12-01T10:15:02+03:00", "total": "246.90",
    "items": [{"package_id": 298, "package": "Аллопуринол-Тева, таблетки 100 мг №50", "sgtin": SGTIN,
               "series": "A1", "expiry": "2027-03-31", "quantity": 1, "price": "123.45", "contract_id": 4,
               "funding_source": "1"}]}


class DispensationCreateApi(APIView):
    permission_classes = [role_permission(DISPENSING_ROLES)]

    @extend_schema(
        summary="Отпустить рецепт по сканам упаковок (всё или ничего)", request=DispensationInput,
        responses={201: DispensationOutput, **ERRORS},
        examples=[
            OpenApiExample("Маркированные упаковки", request_only=True,
                           value={"prescription": 1042,
                                  "codes": [DATAMATRIX, "]d2" + DATAMATRIX.replace("Tg0", "Tg1", 1)]}),
            OpenApiExample("По серии и номеру, немаркированный товар", request_only=True,
                           value={"series": "9926", "number": "100021000123", "place": 31,
                                  "items": [{"package": 301, "series": "U1", "quantity": 2}]}),
            OpenApiExample("Отпущено", response_only=True, status_codes=["201"], value=RECORD_EXAMPLE),
            OpenApiExample("Уже отпущен", response_only=True, status_codes=["409"], value={
                "code": "prescription.already_dispensed",
                "message": "Рецепт 9926 № 100021000123 уже отпущен: повторный отпуск невозможен",
                "details": {"prescription": 1042}}),
            OpenApiExample("Не то, что выписано", response_only=True, status_codes=["422"], value={
                "code": "pack.mismatch", "message": "Ибупрофен, таблетки 200 мг №20 — не то, что выписано в рецепте "
                "(МНН, форма и дозировка не совпадают)", "details": {"sgtin": SGTIN}}),
        ],
    )
    def post(self, request):
        data = _valid(DispensationInput, request.data)
        rx, place = _desk(request, data)
        items = [UnmarkedItem(package=i["package"], series=i["series"].strip(), quantity=i["quantity"])
                 for i in data.get("items", [])]
        dispensation = dispensation_create(user=request.user, prescription=rx, place=place,
                                           codes=data.get("codes", []), items=items)
        return Response(DispensationOutput(dispensation).data, status=status.HTTP_201_CREATED)


class ScanCheckApi(APIView):
    permission_classes = [role_permission(DISPENSING_ROLES)]

    @extend_schema(
        summary="Проверить один скан упаковки к рецепту (ничего не меняет)", request=DispensationScanInput,
        responses={200: ScanVerdictSerializer, 404: ErrorSerializer, 422: ErrorSerializer},
        examples=[
            OpenApiExample("Скан", request_only=True, value={"prescription": 1042, "code": DATAMATRIX, "already": []}),
            OpenApiExample("Просрочена", response_only=True, status_codes=["200"], value={
                "ok": False, "code": "pack.expired", "message": "Упаковка …: срок годности истёк 30.11.2026. "
                "Отложите её для списания", "sgtin": "", "package_id": None, "package": "", "series": "",
                "expiry": None, "scanned": 0, "needed": 2}),
        ],
    )
    def post(self, request):
        data = _valid(DispensationScanInput, request.data)
        rx, place = _desk(request, data)
        verdict = scan_check(user=request.user, prescription=rx, place=place, raw=data["code"],
                             already=data.get("already", []))
        return Response(ScanVerdictSerializer(verdict).data)


class DispensationDetailApi(APIView):
    permission_classes = [role_permission(DISPENSING_ROLES | READ_ALL_ROLES)]

    @extend_schema(summary="Отпуск по рецепту: упаковки, цены, источник финансирования",
                   responses={200: DispensationOutput, 404: ErrorSerializer},
                   examples=[OpenApiExample("Отпуск", response_only=True, value=RECORD_EXAMPLE)])
    def get(self, request, pk: int):
        return Response(DispensationOutput(selectors.dispensation_for(request.user, pk)).data)


class StockPacksQuery(serializers.Serializer):
    place = serializers.IntegerField(required=False, min_value=1, help_text="пункт отпуска; по умолчанию — свой")
    package = serializers.IntegerField(required=False, min_value=1, help_text="упаковка (id каталога)")


class StockPacksApi(APIView):
    permission_classes = [role_permission(STOCK_ROLES)]

    @extend_schema(
        summary="Маркированные упаковки (SGTIN) в наличии в пункте отпуска, раньше истекающие первыми",
        parameters=[OpenApiParameter("place", int), OpenApiParameter("package", int)],
        responses={200: StockPackOutput(many=True), 404: ErrorSerializer, 422: ErrorSerializer},
    )
    def get(self, request):
        query = _valid(StockPacksQuery, request.query_params)
        pk = query.get("place")
        if pk is None and not selectors.places_for(request.user).filter(pk=request.user.organization_id).exists():
            raise serializers.ValidationError({"place": ["Укажите пункт отпуска"]})
        place = get_for(selectors.stock_places_for(request.user), pk=pk or request.user.organization_id)
        packs = selectors.packs_in_stock(place=place, package_id=query.get("package"))
        rows = [{"sgtin": p.sgtin, "package_id": p.package_id, "package": str(p.package), "series": p.series,
                 "expiry": p.expiry, "funding_source": p.funding_source, "contract_id": p.contract_id} for p in packs]
        return Response({"count": len(rows), "results": StockPackOutput(rows, many=True).data})


class DeferInput(serializers.Serializer):
    place = serializers.IntegerField(required=False, min_value=1,
                                     help_text="пункт отпуска; по умолчанию — пункт провизора")
    purchase = serializers.BooleanField(required=False, default=False,
                                        help_text="препарат нужно закупить (приказ 100н: до 30 рабочих дней)")


class DeferralOutput(serializers.Serializer):
    id = serializers.IntegerField()
    prescription = serializers.SerializerMethodField()
    place = serializers.SerializerMethodField()
    registered_at = serializers.DateTimeField()
    deadline = serializers.DateField(help_text="последний день обслуживания (рабочие дни по правилу на дату выписки)")
    purchase = serializers.BooleanField()
    status = serializers.CharField()
    reserved_at = serializers.DateTimeField(allow_null=True)
    served_at = serializers.DateTimeField(allow_null=True)

    def get_prescription(self, obj) -> dict:
        rx = obj.prescription
        return {"id": rx.pk, "series": rx.series, "number": rx.number, "issued_on": rx.issued_on.isoformat(),
                "status": rx.status}

    def get_place(self, obj) -> dict:
        return {"id": obj.place_id, "name": obj.place.short_name}


DEFERRAL_EXAMPLE = {
    "id": 7, "prescription": {"id": 1042, "series": "9926", "number": "100021000123", "issued_on": "2026-11-20",
                              "status": "deferred"},
    "place": {"id": 31, "name": "Аптека № 1 (центр)"}, "registered_at": "2026-12-01T10:15:02+03:00",
    "deadline": "2026-12-15", "purchase": False, "status": "open", "reserved_at": None, "served_at": None}


class PrescriptionDeferApi(APIView):
    permission_classes = [role_permission(DISPENSING_ROLES)]

    @extend_schema(
        summary="Поставить рецепт на отсроченное обслуживание (нет в наличии в пункте)", request=DeferInput,
        responses={201: DeferralOutput, **ERRORS},
        examples=[
            OpenApiExample("Запрос", request_only=True, value={"place": 31, "purchase": False}),
            OpenApiExample("Поставлен", response_only=True, status_codes=["201"], value=DEFERRAL_EXAMPLE),
            OpenApiExample("Есть в наличии", response_only=True, status_codes=["422"], value={
                "code": "deferral.stock_available", "message": "Препарат есть в наличии в этом пункте: отпустите "
                "рецепт, а не ставьте его на отсроченное обслуживание",
                "details": {"place": 31, "free": 4, "needed": 2}}),
        ],
    )
    def post(self, request, pk: int):
        data = _valid(DeferInput, request.data)
        rx, place = lookups.desk_lookup(request.user, pk=pk, place=data.get("place"))
        deferral = prescription_defer(user=request.user, prescription=rx, place=place, purchase=data["purchase"])
        return Response(DeferralOutput(deferral).data, status=status.HTTP_201_CREATED)


class DeferralsQuery(serializers.Serializer):
    due_within = serializers.IntegerField(required=False, min_value=0, max_value=60,
                                          help_text="срок истекает не позже чем через N рабочих дней")


class DeferralListApi(APIView):
    permission_classes = [role_permission(STOCK_ROLES)]

    @extend_schema(
        summary="Рецепты на отсроченном обслуживании (открытые и просроченные), ближайший срок первым",
        parameters=[OpenApiParameter("due_within", int)],
        responses={200: DeferralOutput(many=True), 422: ErrorSerializer},
    )
    def get(self, request):
        query = _valid(DeferralsQuery, request.query_params)
        n = query.get("due_within")
        until = add_working_days(timezone.localdate(), n) if n is not None else None
        rows = list(selectors.deferrals_due(request.user, until=until)[:1000])
        return Response({"count": len(rows), "results": DeferralOutput(rows, many=True).data})


class VisitInput(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, max_length=VISIT_TEXT_MAX, default="",
                                 help_text="примечание: что сказали гражданину")


class DeferralEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    deferral = serializers.IntegerField(source="deferral_id")
    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="registered, visit, reserved, notified, served, overdue, closed")
    kind_label = serializers.CharField(source="get_kind_display")
    by = serializers.CharField(source="by.full_name", allow_null=True, default=None,
                               help_text="кто; null — системная задача")
    text = serializers.CharField()


class DeferralVisitApi(APIView):
    permission_classes = [role_permission(DISPENSING_ROLES)]

    @extend_schema(
        summary="Записать повторное обращение гражданина по рецепту на отсроченном обслуживании",
        request=VisitInput, responses={201: DeferralEventOutput, 403: ErrorSerializer, 404: ErrorSerializer,
                                       422: ErrorSerializer},
        examples=[
            OpenApiExample("Запрос", request_only=True, value={"text": "сообщили ожидаемую дату поступления"}),
            OpenApiExample("Записано", response_only=True, status_codes=["201"], value={
                "id": 31, "deferral": 7, "at": "2026-12-08T11:20:00+03:00", "kind": "visit",
                "kind_label": "Повторное обращение", "by": "Белова Наталья Сергеевна",
                "text": "сообщили ожидаемую дату поступления"}),
            OpenApiExample("Уже закрыто", response_only=True, status_codes=["422"], value={
                "code": "deferral.closed", "message": "Отсроченное обслуживание уже закрыто («Обслужен»): "
                "повторное обращение не записывается", "details": {"deferral": 7, "status": "served"}}),
        ],
    )
    def post(self, request, pk: int):
        data = _valid(VisitInput, request.data)
        deferral = get_for(selectors.deferrals_for(request.user), pk=pk)
        event = deferral_visit(user=request.user, deferral=deferral, text=data["text"])
        return Response(DeferralEventOutput(event).data, status=status.HTTP_201_CREATED)
