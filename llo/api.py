"""REST API of the core: who am I, organizations, the outbox."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import outbox, selectors
from .access import get_for, organizations_for, outbox_messages_for
from .models import Organization, OrganizationKind, OutboxMessage, OutboxStatus
from .roles import OUTBOX_ROLES, has_role


class HasRole(permissions.BasePermission):
    roles: frozenset = frozenset()

    def has_permission(self, request, view):
        return has_role(request.user, self.roles)


def role_permission(roles) -> type[HasRole]:
    return type("HasRoleIn", (HasRole,), {"roles": frozenset(roles)})


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class OrganizationSerializer(serializers.ModelSerializer):
    parent_id = serializers.IntegerField(allow_null=True)
    region = serializers.CharField(source="region.code")

    class Meta:
        model = Organization
        fields = [
            "id", "code", "kind", "name", "short_name", "parent_id", "region",
            "ogrn", "inn", "kpp", "frmo_oid", "mdlp_place_id", "address", "is_active",
        ]


class MeApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "username": serializers.CharField(),
                "full_name": serializers.CharField(),
                "role": serializers.CharField(),
                "organization": OrganizationSerializer(allow_null=True),
            },
        ),
        summary="Текущий пользователь и организация, от имени которой он действует",
    )
    def get(self, request):
        user = request.user
        org = user.organization
        return Response({
            "username": user.username,
            "full_name": user.full_name,
            "role": user.role,
            "organization": OrganizationSerializer(org).data if org else None,
        })


class OrganizationListApi(generics.ListAPIView):
    serializer_class = OrganizationSerializer

    @extend_schema(
        summary="Организации, видимые вызывающему",
        parameters=[
            inline_serializer("OrganizationFilter", {
                "kind": serializers.ChoiceField(choices=OrganizationKind.choices, required=False),
                "q": serializers.CharField(required=False, help_text="наименование, ОГРН, ИНН или код"),
            }),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        kind = self.request.query_params.get("kind", "")
        if kind and kind not in OrganizationKind.values:
            raise serializers.ValidationError({"kind": [f"Неизвестный вид: {kind}"]})
        q = self.request.query_params.get("q", "")
        return selectors.organizations_search(organizations_for(self.request.user), kind=kind, q=q)


class OrganizationDetailApi(APIView):
    @extend_schema(responses={200: OrganizationSerializer, 404: ErrorSerializer}, summary="Организация")
    def get(self, request, pk: int):
        return Response(OrganizationSerializer(get_for(organizations_for(request.user), pk=pk)).data)


class OutboxMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboxMessage
        fields = [
            "id", "topic", "key", "status", "attempts", "available_at", "last_error",
            "result", "created_at", "processed_at", "payload",
        ]


class OutboxListApi(generics.ListAPIView):
    serializer_class = OutboxMessageSerializer
    permission_classes = [role_permission(OUTBOX_ROLES)]

    @extend_schema(
        summary="Сообщения очереди обмена",
        parameters=[inline_serializer("OutboxFilter", {
            "status": serializers.ChoiceField(choices=OutboxStatus.choices, required=False),
            "topic": serializers.CharField(required=False),
        })],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        status = self.request.query_params.get("status", "")
        if status and status not in OutboxStatus.values:
            raise serializers.ValidationError({"status": [f"Неизвестный статус: {status}"]})
        topic = self.request.query_params.get("topic", "")
        return selectors.outbox_search(outbox_messages_for(self.request.user), status=status, topic=topic)


class OutboxResendApi(APIView):
    permission_classes = [role_permission(OUTBOX_ROLES)]

    @extend_schema(
        request=None,
        responses={200: OutboxMessageSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="Повторно отправить сообщение (из статусов «выполнено» или «не доставлено»)",
    )
    def post(self, request, pk: int):
        message = get_for(outbox_messages_for(request.user), pk=pk)
        return Response(OutboxMessageSerializer(outbox.resend(message=message, user=request.user)).data)
