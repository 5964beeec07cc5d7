"""The base of every tenant API view. Safe by default.

It owns, in one place: authentication (API key or session), the check that the caller belongs to
the request's tenant, the scope each action needs, and a queryset narrowed to the tenant. Tenant
schema models are isolated by the schema itself; public-schema models with a `tenant` field are
filtered here. A view that truly needs rows across tenants must override
`dangerously_get_unscoped_queryset` and say why.

Billing rides along (docs/billing.md, "Quotas and rate limits"): API keys are rate limited by
their plan (`billing.throttles`), a read-only tenant's unsafe requests are refused with 402
(`billing.access`), and responses carry the rate-limit and past-due headers.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import exceptions, permissions, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Membership
from accounts.roles import Scope
from billing.access import PAST_DUE_WARNING, request_standing, write_refusal
from billing.throttles import PlanRateThrottle, request_rate_state
from pdm_saas.api.principals import ApiKeyPrincipal, request_membership, request_scopes


class TenantScopePermission(permissions.BasePermission):
    """Anonymous: 401. Not part of this tenant: 404 (we don't confirm the tenant's data exists).
    Part of it without the scope the action needs: 403."""

    def has_permission(self, request: Request, view: Any) -> bool:
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.is_public:
            raise exceptions.NotFound()
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        scopes = request_scopes(request)
        if not scopes and isinstance(request.user, ApiKeyPrincipal):
            raise exceptions.PermissionDenied(
                "This API key's scopes are all beyond its creator's current role in this organization."
            )
        if not scopes:
            raise exceptions.NotFound()
        needed = view.required_scope(request)
        if needed not in scopes:
            raise exceptions.PermissionDenied(f"This action needs the '{needed}' scope.")
        return True


class SubscriptionStandingPermission(permissions.BasePermission):
    """After `TenantScopePermission` (so only the tenant's own callers learn its billing state):
    a read-only tenant's unsafe requests get 402, except paying and leaving."""

    def has_permission(self, request: Request, view: Any) -> bool:
        refusal = write_refusal(request)
        if refusal is not None:
            raise refusal
        request._request.pdm_standing_checked = True  # type: ignore[attr-defined]
        return True


class TenantMetadata(SimpleMetadata):
    """OPTIONS. DRF describes a view's POST/PUT body from its one `serializer_class`; views that
    validate their body with a serializer of their own (or none) have no such class, and DRF would
    fail on them. Those answer OPTIONS without the `actions` description."""

    def determine_actions(self, request: Request, view: Any) -> dict[str, Any]:
        if view.__class__.get_serializer_class is GenericAPIView.get_serializer_class and not getattr(
                view, "serializer_class", None):
            return {}
        return super().determine_actions(request, view)  # type: ignore[no-any-return]


class TenantAPIMixin:
    permission_classes = [TenantScopePermission, SubscriptionStandingPermission]
    throttle_classes = [PlanRateThrottle]
    metadata_class = TenantMetadata
    # Maps a viewset action (or an HTTP method, lower case) to the scope it needs. Unlisted:
    # safe methods need `read`, everything else `write`.
    scope_map: dict[str, str] = {}
    request: Request

    def required_scope(self, request: Request) -> str:
        action = getattr(self, "action", None) or request.method.lower()
        if action in self.scope_map:
            return self.scope_map[action]
        return Scope.READ if request.method in permissions.SAFE_METHODS else Scope.WRITE

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        state = request_rate_state(request)
        for name, value in (state.headers() if state else {}).items():
            response[name] = value
        # Only callers who passed the tenant's permission checks hear about its payments.
        if getattr(request._request, "pdm_standing_checked", False) and request_standing(request).past_due:
            response["Warning"] = PAST_DUE_WARNING
        return response

    @property
    def membership(self) -> Membership | None:
        return request_membership(self.request)

    def get_queryset(self) -> QuerySet[Any]:
        queryset = self.dangerously_get_unscoped_queryset()
        model: type[Model] = queryset.model
        if any(field.name == "tenant" for field in model._meta.get_fields()):
            queryset = queryset.filter(tenant=self.request.tenant)  # type: ignore[attr-defined]
        return queryset

    def dangerously_get_unscoped_queryset(self) -> QuerySet[Any]:
        return super().get_queryset()  # type: ignore[misc,no-any-return]


class TenantAPIView(TenantAPIMixin, GenericAPIView):  # type: ignore[type-arg]
    pass


class TenantViewSet(TenantAPIMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    # Every routed id is an integer primary key: `/machines/abc/` is a 404 from the URL resolver,
    # before any view code turns "abc" into an int.
    lookup_value_regex = "[0-9]+"

