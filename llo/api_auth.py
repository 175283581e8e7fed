"""Token authentication for MIS clients: `Authorization: Token <key>` (or `Bearer <key>`)."""

import hashlib

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .models import ApiToken


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Заголовок Authorization: ожидается «Token <ключ>».")
        key = header[1].decode(errors="replace")
        token = (
            ApiToken.objects.select_related("user__organization")
            .filter(digest=token_digest(key), revoked_at__isnull=True)
            .first()
        )
        user = token.user if token else None
        # A token acts for the organization it was issued for, and only while its user
        # still acts for that organization.
        if token is None or not user.is_active or user.organization_id != token.organization_id:
            raise exceptions.AuthenticationFailed("Ключ API неверен или отозван.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return user, token

    def authenticate_header(self, request):
        return "Token"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = ApiTokenAuthentication
    name = "ApiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <ключ>`: ключ выдаётся администратором для одной организации.",
        }
