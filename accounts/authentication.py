"""DRF authentication by API key. The tenant routing middleware already checked the key."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.keys import bearer_token
from accounts.models import ApiKey
from accounts.selectors import KeyCheck, api_key_check
from accounts.services import api_key_touch
from pdm_saas.api.principals import ApiKeyPrincipal


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        token = bearer_token(request.headers.get("Authorization", ""))
        if token is None:
            return None
        check: KeyCheck = getattr(request._request, "api_key_check", None) or api_key_check(raw=token)
        if not check.ok or check.key is None:
            raise exceptions.AuthenticationFailed(check.problem)
        tenant = getattr(request._request, "tenant", None)
        if tenant is None or tenant.id != check.key.tenant_id:
            raise exceptions.AuthenticationFailed("This API key belongs to another organization.")
        api_key_touch(key=check.key)
        return ApiKeyPrincipal(check.key), check.key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
