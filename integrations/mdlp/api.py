"""REST API of the MDLP reconciliation (docs/mdlp-reconciliation.md): the documents sent to ФГИС МДЛП with
their outcome, a document with its codes, the XML exactly as sent and MDLP's receipt, and a re-send after a
fix. Thin: who sees what and the filters are `selectors`, the re-send is `exchange.resend`."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from llo.api import ErrorSerializer, role_permission
from llo.errors import ApplicationError

from ..models import Channel, ItemStatus, MdlpStatus, OperationKind
from . import exchange, selectors
from .selectors import PAGE_ROLES, RESEND_ROLES, DocumentFilter


class NotBuilt(ApplicationError):
    """The document has no stored bytes of the kind asked for (404 with a reason)."""

    code = "mdlp.not_built"
    http_status = 404


class PlaceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="short_name")
    mdlp_place_id = serializers.CharField(allow_null=True)


class OperationOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=OperationKind.choices, source="operation_kind")
    kind_label = serializers.CharField(source="get_operation_kind_display")
    id = serializers.CharField(source="operation_id")


class DocumentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    request_id = serializers.CharField(help_text="ключ идемпотентности, с которым документ отправлен в МДЛП")
    scheme = serializers.IntegerField(help_text="номер схемы МДЛП (521 — отпуск по рецепту, 415 — отгрузка, …); "
                                                "0 — документ не сформирован")
    part = serializers.IntegerField()
    revision = serializers.IntegerField(help_text="попытка отправки: 2 и больше — повторная отправка")
    superseded = serializers.SerializerMethodField(help_text="заменён повторной отправкой")
    status = serializers.ChoiceField(choices=MdlpStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    channel = serializers.ChoiceField(choices=Channel.choices)
    place = PlaceOutput(allow_null=True)
    operation = OperationOutput(source="*")
    items = serializers.IntegerField(help_text="кодов (SGTIN и SSCC) в документе")
    rejected = serializers.IntegerField(help_text="из них отклонено МДЛП")
    mdlp_document_id = serializers.CharField()
    mdlp_status = serializers.CharField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    resendable = serializers.SerializerMethodField()

    def get_superseded(self, obj) -> bool:
        return obj.superseded_at is not None

    def get_resendable(self, obj) -> bool:
        return selectors.is_resendable(obj)


class HintOutput(serializers.Serializer):
    title = serializers.CharField()
    todo = serializers.CharField(help_text="что сделать")


class CodeOutput(serializers.Serializer):
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=ItemStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    error_code = serializers.CharField()
    error = serializers.CharField(source="error_text")
    hint = HintOutput(allow_null=True)


class DocumentDetailOutput(DocumentOutput):
    hint = serializers.SerializerMethodField(help_text="что делать с документом в его состоянии")
    codes = CodeOutput(many=True, source="code_rows")

    def get_hint(self, obj) -> str:
        return selectors.STATUS_HINTS.get(obj.status, "")


ROW_EXAMPLE = {
    "id": 18, "request_id": "dispensation-51.1", "scheme": 521, "part": 1, "revision": 1, "superseded": False,
    "status": "partial", "status_label": "принят частично", "channel": "mdlp",
    "place": {"id": 31, "name": "Аптека № 1 (центр)", "mdlp_place_id": "00000000012345"},
    "operation": {"kind": "dispensation", "kind_label": "Отпуск по рецепту", "id": "51"},
    "items": 2, "rejected": 1, "mdlp_document_id": "7a1f0c9e-…", "mdlp_status": "PROCESSED_DOCUMENT",
    "error": "Отклонено кодов: 1", "created_at": "2026-12-01T10:15:03+03:00", "sent_at": "2026-12-01T10:15:04+03:00",
    "finished_at": "2026-12-01T10:15:20+03:00", "resendable": True}
BAD_FILTER = OpenApiExample("Неверный фильтр", response_only=True, status_codes=["400"], value={
    "code": "mdlp.bad_filter", "message": "Состояния «done» нет: допустимы invalid, queued, sent, accepted, partial, "
    "rejected, failed.", "details": {"field": "status", "value": "done"}})
FILTERS = [
    OpenApiParameter("scheme", int, description="номер схемы МДЛП, например 521"),
    OpenApiParameter("status", str, enum=MdlpStatus.values, description="состояние документа"),
    OpenApiParameter("place", int, description="место деятельности (id организации)"),
    OpenApiParameter("operation_kind", str, enum=OperationKind.values, description="вид операции"),
    OpenApiParameter("operation_id", str, description="номер операции (id отпуска, документа склада, SSCC)"),
    OpenApiParameter("unconfirmed", bool, description="только ждущие отправки или ответа дольше "
                                                      "MDLP_UNCONFIRMED_AFTER_HOURS ч (по умолчанию 24)"),
    OpenApiParameter("all_revisions", bool, description="с версиями, заменёнными повторной отправкой"),
]


class DocumentListApi(generics.ListAPIView):
    permission_classes = [role_permission(PAGE_ROLES)]
    serializer_class = DocumentOutput

    @extend_schema(
        summary="Документы, отправленные в МДЛП, с итогом обработки (новые первыми)", parameters=FILTERS,
        responses={200: DocumentOutput(many=True), 400: OpenApiResponse(ErrorSerializer, examples=[BAD_FILTER]),
                   403: ErrorSerializer},
        examples=[OpenApiExample("Документ", response_only=True, value=ROW_EXAMPLE)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.documents_list(self.request.user, DocumentFilter.strict(self.request.query_params))


class DocumentDetailApi(APIView):
    permission_classes = [role_permission(PAGE_ROLES)]

    @extend_schema(summary="Документ МДЛП с кодами: состояние каждого, ошибка МДЛП и что делать",
                   responses={200: DocumentDetailOutput, 403: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        document = selectors.document_for(request.user, pk)
        document.code_rows = selectors.codes_of(document)
        return Response(DocumentDetailOutput(document).data)


def download(request, pk: int, field: str) -> HttpResponse:
    """The stored `xml` or `ticket` as a file (the page's «Скачать XML» answers the same)."""
    document, value = selectors.document_bytes(request.user, pk, field)
    if value is None:
        if field == "xml":
            raise NotBuilt("Документ не сформирован (ошибка в данных операции), XML нет: исправьте данные и "
                           "отправьте документ повторно", details={"document": document.pk, "status": document.status})
        raise NotBuilt("Квитанции МДЛП ещё нет: она появится, когда МДЛП обработает документ",
                       details={"document": document.pk, "status": document.status})
    name = document.request_id + (".xml" if field == "xml" else ".ticket.xml")
    response = HttpResponse(value, content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


BYTES = {(200, "application/xml"): OpenApiTypes.BINARY, 403: ErrorSerializer, 404: ErrorSerializer}


class DocumentXmlApi(APIView):
    permission_classes = [role_permission(PAGE_ROLES)]

    @extend_schema(summary="XML документа байт в байт, как он отправлен в МДЛП (файл <request_id>.xml)",
                   responses=BYTES)
    def get(self, request, pk: int):
        return download(request, pk, "xml")


class DocumentTicketApi(APIView):
    permission_classes = [role_permission(PAGE_ROLES)]

    @extend_schema(summary="Квитанция МДЛП (200 result) байт в байт (файл <request_id>.ticket.xml)", responses=BYTES)
    def get(self, request, pk: int):
        return download(request, pk, "ticket")


class DocumentResendApi(APIView):
    permission_classes = [role_permission(RESEND_ROLES)]

    @extend_schema(
        summary="Отправить документ повторно после исправления (не сформирован, отклонён, частично принят, "
                "ошибка МДЛП)", request=None,
        responses={202: DocumentOutput, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        examples=[OpenApiExample("Не повторяется", response_only=True, status_codes=["409"], value={
            "code": "mdlp.not_resendable", "message": "Повторно отправляется только отклонённый, не сформированный "
            "или не обработанный документ, и только последняя его версия", "details": {"status": "accepted"}})],
    )
    def post(self, request, pk: int):
        document = selectors.document_for(request.user, pk)
        again = exchange.resend(document)
        return Response(DocumentOutput(selectors.document_row(again.pk)).data,
                        status=status.HTTP_202_ACCEPTED)
