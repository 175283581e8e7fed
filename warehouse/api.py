"""REST API of stock: balances by place, series and expiry for doctors' and pharmacies' systems; the
warehouse and pharmacy documents and every operation on them (the same services as the pages)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from llo.access import get_for
from llo.api import ErrorSerializer, role_permission
from llo.models import Package, Role
from llo.roles import WEB_ROLES
from procurement.models import StateContract

from . import operations, selectors
from .access import addresses_for
from .documents import documents_for, place_of
from .inventory import inventory_start
from .models import Acceptance, DocumentKind, DocumentStatus, StockDocument, WriteOffReason
from .outgoing import return_create, write_off_create
from .receipts import ReceiptLine, receipt_create, receipt_refuse
from .roles import ACT_ROLES, READ_ROLES, STORAGE_ROLES
from .shipments import Wanted, shipment_create, shipment_receive, shipment_ship
from .storage import aggregate, disaggregate, pack_put_away
from .supplier_list import expected_packs

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


# --- documents and the operations on them -------------------------------------------------------
# Clerks and pharmacists act at their own place; the ministry reads every place. Documents come only
# through `documents_for`: another place's document answers 404. Domain errors come out as
# {"code", "message", "details"} with 409 or 422 (llo.api_errors).

class DocumentSerializer(serializers.ModelSerializer):
    place_name = serializers.CharField(source="place.short_name")
    counterparty_name = serializers.CharField(source="counterparty.short_name", allow_null=True, default=None)
    created_by = serializers.CharField(source="created_by.full_name")

    class Meta:
        model = StockDocument
        fields = ["id", "kind", "number", "status", "place", "place_name", "counterparty", "counterparty_name",
                  "contract", "acceptance", "supplier_number", "supplier_date", "write_off_reason", "comment",
                  "created_by", "created_at", "posted_at"]


class DocumentRowSerializer(serializers.Serializer):
    package_id = serializers.IntegerField()
    package = serializers.CharField()
    series = serializers.CharField()
    expiry = serializers.DateField()
    address = serializers.CharField(allow_null=True, help_text="адрес хранения (лист подбора отгрузки)")
    quantity = serializers.IntegerField(help_text="по списку поставщика, по накладной или в листе подбора")
    scanned = serializers.IntegerField(allow_null=True, help_text="null — немаркированный товар (по количеству)")
    refused = serializers.IntegerField()


class ProgressSerializer(serializers.Serializer):
    expected = serializers.IntegerField(allow_null=True, help_text="сколько упаковок сканировать; null — без плана")
    scanned = serializers.IntegerField()
    refused = serializers.IntegerField()


class DocumentDetailSerializer(DocumentSerializer):
    progress = serializers.SerializerMethodField()
    rows = serializers.SerializerMethodField()

    class Meta(DocumentSerializer.Meta):
        fields = [*DocumentSerializer.Meta.fields, "progress", "rows"]

    def _progress(self, document):
        if not hasattr(document, "_progress"):
            document._progress = selectors.document_progress(document)
        return document._progress

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, document) -> dict:
        return ProgressSerializer(self._progress(document)).data

    @extend_schema_field(DocumentRowSerializer(many=True))
    def get_rows(self, document) -> list[dict]:
        progress = self._progress(document)
        if progress.by_supplier_list:
            rows = [{"package_id": r["package_id"], "package": r["label"], "series": r["series"],
                     "expiry": r["expiry"], "address": None, "quantity": r["quantity"], "scanned": r["scanned"],
                     "refused": r["refused"]} for r in progress.rows]
        else:
            rows = [{"package_id": line.package_id, "package": str(line.package), "series": line.series,
                     "expiry": line.expiry, "address": line.address.code if line.address else None,
                     "quantity": line.quantity, "scanned": line.scanned if line.package.is_marked else None,
                     "refused": 0} for line in progress.rows]
        return DocumentRowSerializer(rows, many=True).data


class ScanOutcomeSerializer(serializers.Serializer):
    message = serializers.CharField()
    sgtin = serializers.CharField(allow_blank=True)
    sscc = serializers.CharField(allow_blank=True)
    packs = serializers.IntegerField(help_text="упаковок (короб — все его упаковки)")


def _package_field(**kwargs) -> serializers.PrimaryKeyRelatedField:
    return serializers.PrimaryKeyRelatedField(queryset=Package.objects.select_related("trade_name"), error_messages={
        "does_not_exist": "Упаковка {pk_value} не найдена в каталоге",
        "incorrect_type": "Упаковка — id каталога (число)"}, help_text="упаковка (id каталога)", **kwargs)


def _contract(place, pk: int) -> StateContract:
    contract = selectors.region_contracts(place).filter(pk=pk).first()
    if contract is None:
        raise serializers.ValidationError({"contract": ["Контракт не найден среди контрактов региона"]})
    return contract


def _document(request, pk: int) -> StockDocument:
    return get_for(documents_for(request.user), pk=pk)


def _detail(request, pk: int, status: int = 200) -> Response:
    return Response(DocumentDetailSerializer(_document(request, pk)).data, status=status)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


DETAIL_RESPONSES = {200: DocumentDetailSerializer, 404: ErrorSerializer, 409: ErrorSerializer, 422: ErrorSerializer}
CREATED_RESPONSES = {201: DocumentDetailSerializer, 409: ErrorSerializer, 422: ErrorSerializer}


class DocumentFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DocumentKind.choices, required=False)
    status = serializers.ChoiceField(choices=DocumentStatus.choices, required=False)


class DocumentListApi(generics.ListAPIView):
    serializer_class = DocumentSerializer
    permission_classes = [role_permission(READ_ROLES)]

    @extend_schema(summary="Складские документы своего места (министерству — всех мест)",
                   parameters=[DocumentFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = DocumentFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return documents_for(self.request.user).filter(**query.validated_data).order_by("-created_at", "-pk")


class DocumentDetailApi(APIView):
    permission_classes = [role_permission(READ_ROLES)]

    @extend_schema(summary="Складской документ: строки и ход сканирования", responses=DETAIL_RESPONSES)
    def get(self, request, pk: int):
        return _detail(request, pk)


class ActApi(APIView):
    permission_classes = [role_permission(ACT_ROLES)]


class ScanApi(ActApi):
    class ScanInput(serializers.Serializer):
        code = serializers.CharField(max_length=600, allow_blank=True, trim_whitespace=False,
                                     help_text="что передал сканер: DataMatrix (GS — символ 0x1D), SSCC короба")

    @extend_schema(summary="Сканировать упаковку или короб в документ (приёмка, отгрузка, возврат, списание, "
                           "инвентаризация)", request=ScanInput,
                   responses={200: ScanOutcomeSerializer, 404: ErrorSerializer, 409: ErrorSerializer,
                              422: ErrorSerializer})
    def post(self, request, pk: int):
        document = _document(request, pk)
        code = _valid(self.ScanInput, request)["code"]
        outcome = operations.document_scan(user=request.user, document=document, raw=code)
        return Response(ScanOutcomeSerializer(outcome).data)


class RefuseApi(ActApi):
    class RefuseInput(serializers.Serializer):
        sgtin = serializers.CharField(max_length=27)
        reason = serializers.CharField(max_length=300, allow_blank=True)

    @extend_schema(summary="Отказаться от упаковки из списка поставщика (прямая приёмка)", request=RefuseInput,
                   responses=DETAIL_RESPONSES)
    def post(self, request, pk: int):
        document = _document(request, pk)
        receipt_refuse(user=request.user, document=document, **_valid(self.RefuseInput, request))
        return _detail(request, pk)


class QuantityApi(ActApi):
    class QuantityInput(serializers.Serializer):
        package = _package_field()
        series = serializers.CharField(max_length=40)
        quantity = serializers.IntegerField(help_text="упаковок; в инвентаризации — посчитано (0 убирает строку)")
        address = serializers.CharField(max_length=60, required=False, allow_blank=True,
                                        help_text="адрес хранения (только инвентаризация)")

    @extend_schema(summary="Немаркированный товар по количеству: в возврат, списание или подсчёт инвентаризации",
                   request=QuantityInput, responses=DETAIL_RESPONSES)
    def post(self, request, pk: int):
        document = _document(request, pk)
        data = _valid(self.QuantityInput, request)
        code = data.pop("address", "").strip().upper()
        address = None
        if code:
            address = addresses_for(request.user).filter(place_id=document.place_id, code=code).first()
            if address is None:
                raise serializers.ValidationError({"address": [f"Адреса {code} нет в этом месте хранения"]})
        operations.document_add_quantity(user=request.user, document=document, address=address, **data)
        return _detail(request, pk)


class PostApi(ActApi):
    @extend_schema(summary="Провести документ: приёмку, отгрузку, возврат, списание; инвентаризацию утверждает "
                           "другой сотрудник", request=None, responses=DETAIL_RESPONSES)
    def post(self, request, pk: int):
        operations.document_post(user=request.user, document=_document(request, pk))
        return _detail(request, pk)


class ShipApi(ActApi):
    @extend_schema(summary="Отгрузить: все маркированные строки листа подбора отсканированы", request=None,
                   responses=DETAIL_RESPONSES)
    def post(self, request, pk: int):
        shipment_ship(user=request.user, document=_document(request, pk))
        return _detail(request, pk)


class ReceiveApi(ActApi):
    @extend_schema(summary="Принять отгрузку в пункте отпуска: упаковки поступают в его остатки", request=None,
                   responses=DETAIL_RESPONSES)
    def post(self, request, pk: int):
        shipment_receive(user=request.user, document=_document(request, pk))
        return _detail(request, pk)


# --- creating documents ---------------------------------------------------------------------------

class ReceiptCreateApi(ActApi):
    class ReceiptLineInput(serializers.Serializer):
        package = _package_field()
        series = serializers.CharField(max_length=40)
        expiry = serializers.DateField()
        quantity = serializers.IntegerField()

    class ReceiptCreateInput(serializers.Serializer):
        contract = serializers.IntegerField(help_text="государственный контракт (id)")
        acceptance = serializers.ChoiceField(choices=Acceptance.choices)
        supplier_number = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
        supplier_date = serializers.DateField(required=False, allow_null=True, default=None)
        expected = serializers.ListField(
            child=serializers.DictField(), required=False, default=list, max_length=200_000,
            help_text="прямая приёмка — список поставщика: {sgtin, sscc, parent_sscc, series, expiry} "
                      "(упаковка: sgtin, серия, срок; короб: sscc)")
        lines = serializers.ListField(child=serializers.DictField(), required=False, default=list, max_length=500,
                                      help_text="обратная приёмка — строки: {package, series, expiry, quantity}")

    @extend_schema(summary="Создать приходную накладную по контракту (прямая или обратная приёмка)",
                   request=ReceiptCreateInput,
                   responses=CREATED_RESPONSES)
    def post(self, request):
        place = place_of(request.user)
        data = _valid(self.ReceiptCreateInput, request)
        lines = self.ReceiptLineInput(data=data["lines"], many=True)
        if not lines.is_valid():
            raise serializers.ValidationError({"lines": lines.errors})
        document = receipt_create(
            user=request.user, contract=_contract(place, data["contract"]), acceptance=data["acceptance"],
            supplier_number=data["supplier_number"], supplier_date=data["supplier_date"],
            expected=expected_packs(data["expected"]), lines=[ReceiptLine(**line) for line in lines.validated_data])
        return _detail(request, document.pk, status=201)


class ShipmentCreateApi(ActApi):
    class WantedInput(serializers.Serializer):
        package = _package_field()
        quantity = serializers.IntegerField()

    class ShipmentCreateInput(serializers.Serializer):
        destination = serializers.IntegerField(help_text="пункт отпуска (id организации)")
        wanted = serializers.ListField(child=serializers.DictField(), max_length=500,
                                       help_text="{package, quantity}: лист подбора составится по FEFO")

    @extend_schema(summary="Создать отгрузку в пункт отпуска с листом подбора (FEFO)", request=ShipmentCreateInput,
                   responses=CREATED_RESPONSES)
    def post(self, request):
        place = place_of(request.user)
        data = _valid(self.ShipmentCreateInput, request)
        wanted = self.WantedInput(data=data["wanted"], many=True)
        if not wanted.is_valid():
            raise serializers.ValidationError({"wanted": wanted.errors})
        destination = selectors.places_of_region(place.region_id).filter(pk=data["destination"]).first()
        if destination is None:
            raise serializers.ValidationError({"destination": ["Пункт отпуска не найден в регионе"]})
        document = shipment_create(user=request.user, destination=destination,
                                   wanted=[Wanted(**row) for row in wanted.validated_data])
        return _detail(request, document.pk, status=201)


class ReturnCreateApi(ActApi):
    class ReturnCreateInput(serializers.Serializer):
        contract = serializers.IntegerField(help_text="контракт, по которому возвращаются упаковки (id)")
        comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(summary="Создать возврат поставщику", request=ReturnCreateInput, responses=CREATED_RESPONSES)
    def post(self, request):
        data = _valid(self.ReturnCreateInput, request)
        document = return_create(user=request.user, contract=_contract(place_of(request.user), data["contract"]),
                                 comment=data["comment"])
        return _detail(request, document.pk, status=201)


class WriteOffCreateApi(ActApi):
    class WriteOffCreateInput(serializers.Serializer):
        reason = serializers.CharField(max_length=12, help_text=", ".join(WriteOffReason.values))
        comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(summary="Создать акт списания", request=WriteOffCreateInput, responses=CREATED_RESPONSES)
    def post(self, request):
        document = write_off_create(user=request.user, **_valid(self.WriteOffCreateInput, request))
        return _detail(request, document.pk, status=201)


class InventoryCreateApi(ActApi):
    class InventoryCreateInput(serializers.Serializer):
        comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(summary="Начать инвентаризацию (слепой пересчёт)", request=InventoryCreateInput,
                   responses=CREATED_RESPONSES)
    def post(self, request):
        document = inventory_start(user=request.user, **_valid(self.InventoryCreateInput, request))
        return _detail(request, document.pk, status=201)


# --- inside the warehouse: put-away, our boxes ------------------------------------------------------

class PutAwayApi(APIView):
    permission_classes = [role_permission(STORAGE_ROLES)]

    class PutAwayInput(serializers.Serializer):
        pack = serializers.CharField(max_length=600, help_text="DataMatrix упаковки")
        address = serializers.CharField(max_length=60, help_text="этикетка ячейки ADR-… или код адреса")

    @extend_schema(summary="Разместить упаковку в ячейку хранения", request=PutAwayInput,
                   responses={200: ScanOutcomeSerializer, 409: ErrorSerializer, 422: ErrorSerializer})
    def post(self, request):
        data = _valid(self.PutAwayInput, request)
        outcome = pack_put_away(user=request.user, raw_pack=data["pack"], raw_address=data["address"])
        return Response(ScanOutcomeSerializer(outcome).data)


class BoxSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sscc = serializers.CharField()
    packs = serializers.IntegerField()


class AggregateApi(APIView):
    permission_classes = [role_permission(STORAGE_ROLES)]

    class AggregateInput(serializers.Serializer):
        codes = serializers.ListField(child=serializers.CharField(max_length=600), max_length=1000,
                                      help_text="DataMatrix упаковок, которые кладут в короб")

    @extend_schema(summary="Сформировать короб: новый SSCC для отсканированных упаковок", request=AggregateInput,
                   responses={201: BoxSerializer, 409: ErrorSerializer, 422: ErrorSerializer})
    def post(self, request):
        codes = _valid(self.AggregateInput, request)["codes"]
        box = aggregate(user=request.user, raws=codes)
        return Response(BoxSerializer({"id": box.pk, "sscc": box.sscc, "packs": len(codes)}).data, status=201)


class DisaggregateApi(APIView):
    permission_classes = [role_permission(STORAGE_ROLES)]

    class DisaggregateInput(serializers.Serializer):
        code = serializers.CharField(max_length=600, help_text="SSCC короба (с AI 00 или без)")

    @extend_schema(summary="Расформировать короб", request=DisaggregateInput,
                   responses={200: ScanOutcomeSerializer, 409: ErrorSerializer, 422: ErrorSerializer})
    def post(self, request):
        count = disaggregate(user=request.user, raw=_valid(self.DisaggregateInput, request)["code"])
        return Response(ScanOutcomeSerializer({"message": f"Короб расформирован: упаковок {count}", "sgtin": "",
                                               "sscc": "", "packs": count}).data)
