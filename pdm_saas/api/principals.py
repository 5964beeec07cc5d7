"""Who is calling: a signed-in member or an API key, and which scopes they hold here."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.models import ApiKey, Membership
from accounts.roles import Actor, Role, Scope, scopes_for_role
from accounts.selectors import api_key_scopes, membership_get


class ApiKeyPrincipal:
    """Stands in for `request.user` when an API key authenticated the request."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, key: ApiKey) -> None:
        self.api_key = key
        self.email = f"api-key:{key.prefix}"

    def __str__(self) -> str:
        return self.email


def request_membership(request: Any) -> Membership | None:
    """The caller's membership in the request's tenant (None for keys and non-members)."""
    raw: HttpRequest = getattr(request, "_request", request)
    if not hasattr(raw, "pdm_membership"):
        tenant = getattr(raw, "tenant", None)
        user = getattr(request, "user", None)
        membership = None
        if tenant is not None and user is not None and not isinstance(user, ApiKeyPrincipal):
            membership = membership_get(user=user, tenant_id=tenant.id)
        raw.pdm_membership = membership  # type: ignore[attr-defined]
    return raw.pdm_membership  # type: ignore[attr-defined,no-any-return]


def request_scopes(request: Any) -> frozenset[str]:
    """What the caller may do here now. A key holds its scopes capped by its creator's role."""
    if isinstance(getattr(request, "auth", None), ApiKey):
        return api_key_scopes(request.auth)
    membership = request_membership(request)
    return scopes_for_role(membership.role) if membership else frozenset()


def request_actor(request: Any) -> Actor:
    """The caller as an Actor for services. Keys act as `admin` at most, never as owner."""
    tenant_id = request.tenant.id
    if isinstance(getattr(request, "auth", None), ApiKey):
        key: ApiKey = request.auth
        role = Role.ADMIN if Scope.ADMIN in api_key_scopes(key) else Role.VIEWER
        return Actor(tenant_id=tenant_id, role=role, user_id=key.created_by_id)
    membership = request_membership(request)
    if membership is None:
        raise PermissionError("request_actor called without a membership")
    return Actor(tenant_id=tenant_id, role=membership.role, user_id=membership.user_id)
