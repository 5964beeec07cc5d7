"""Tenant resolution for WebSocket connections. django-tenants only covers HTTP, so the ASGI
stack resolves the tenant itself: from the API key if one is presented, otherwise from the Host
header, exactly as tenants.middleware does for HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.db import database_sync_to_async

from accounts.keys import bearer_token
from accounts.lockout import address_of, lockout_check, lockout_fail
from accounts.models import ApiKey
from accounts.selectors import api_key_check
from tenants.db import connection
from tenants.models import Domain, Tenant


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


@database_sync_to_async
def _resolve(host: str, authorization: str, address: str) -> tuple[Tenant | None, ApiKey | None, str | None]:
    connection.set_schema_to_public()
    token = bearer_token(authorization)
    if token is not None:
        refusal = lockout_check(action="api_key", address=address)
        if refusal is not None:  # the same throttle as HTTP (tenants/middleware.py)
            return None, None, refusal.message
        check = api_key_check(raw=token)
        if not check.ok or check.key is None:
            if check.unknown:
                lockout_fail(action="api_key", address=address)
            return None, None, check.problem
        return check.key.tenant, check.key, None
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    return (domain.tenant if domain else None), None, None


class TenantScopeMiddleware:
    """Puts `tenant`, `api_key`, `tenant_problem` and `same_origin` into the connection scope."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        host_header = _header(scope, b"host").lower()
        address = address_of(direct=(scope.get("client") or [""])[0] or "",
                             forwarded_for=_header(scope, b"x-forwarded-for"))
        tenant, key, problem = await _resolve(host_header.split(":")[0], _header(scope, b"authorization"), address)
        origin = urlparse(_header(scope, b"origin").lower())
        same_origin = bool(origin.netloc) and origin.netloc == host_header
        scope = dict(scope, tenant=tenant, api_key=key, tenant_problem=problem, same_origin=same_origin)
        return await self.inner(scope, receive, send)
