"""Token authentication for MIS clients: `Authorization: Token <key>` (or `Bearer <key>`)."""

import hashlib
from functools import cache

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import prebuilt
from .models import ApiToken, Organization, User


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


_TOKEN = prebuilt.layout((ApiToken, "t"), (User, "u"), (Organization, "o"))


@cache
def _token_sql() -> str:
    return (f"SELECT {_TOKEN.columns} FROM llo_apitoken t JOIN llo_user u ON u.id = t.user_id "
            "LEFT JOIN llo_organization o ON o.id = u.organization_id "
            "WHERE t.digest = %s AND t.revoked_at IS NULL")


def _live_token(digest: str) -> ApiToken | None:
    """The unrevoked token with its user and the user's organization — one prebuilt statement:
    every API request asks (llo.prebuilt)."""
    rows = prebuilt.fetch(_token_sql(), [digest], _TOKEN)
    if not rows:
        return None
    token, user, organization = rows[0]
    user.organization, token.user = organization, user
    return token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Заголовок Authorization: ожидается «Token <ключ>».")
        key = header[1].decode(errors="replace")
        token = _live_token(token_digest(key))
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
