"""Routes every HTTP request to its tenant before anything else runs.

- A request carrying an API key (`Authorization: Bearer pdm_...`) goes to the key's tenant,
  whatever the host, so API clients need no per-tenant host name. A presented key that is
  invalid, revoked or expired is refused here with 401: guessing would be worse.
- Any other request is routed by host (`acme.localhost` -> tenant `acme`); the public tenant's
  domains (`localhost`, `127.0.0.1`) get the public URL conf; unknown hosts get 404.
- A deactivated tenant answers 403 to everyone.
- An address with too many failed keys recently gets 429 for any key (accounts/lockout.py).
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django_tenants.middleware.main import TenantMainMiddleware

from accounts.keys import bearer_token
from accounts.lockout import client_address, lockout_check, lockout_fail
from accounts.selectors import api_key_check
from pdm_saas.api.errors import error_json
from tenants.db import connection, tenant_activate
from tenants.models import Tenant
from tenants.selectors import tenant_by_host


def tenant_inactive_response() -> HttpResponse:
    return error_json(
        status_code=403,
        code="tenant_inactive",
        message="This organization is deactivated. Contact support to reactivate it.",
    )


class TenantRoutingMiddleware(TenantMainMiddleware):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        token = bearer_token(request.headers.get("Authorization", ""))
        # /metrics' bearer token is Prometheus' (PDM_METRICS_TOKEN), not an API key: route by host.
        if token is not None and request.path_info != "/metrics":
            connection.set_schema_to_public()
            return self._route_by_key(request, token)
        return self._route_by_host(request)

    def _route_by_host(self, request: HttpRequest) -> HttpResponse | None:
        """django-tenants' routing by host, with the tenant read from the per-process routing
        cache and its search path kept when the connection is on it already."""
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return HttpResponseNotFound()
        tenant = tenant_by_host(hostname=hostname)
        if tenant is None:
            connection.set_schema_to_public()
            return self.no_tenant_found(request, hostname)  # type: ignore[no-any-return]
        if not tenant.is_active:
            connection.set_schema_to_public()
            return tenant_inactive_response()
        tenant.domain_url = hostname
        request.tenant = tenant  # type: ignore[attr-defined]
        tenant_activate(tenant)
        self.setup_url_routing(request)
        return None

    def _route_by_key(self, request: HttpRequest, token: str) -> HttpResponse | None:
        address = client_address(request)
        refusal = lockout_check(action="api_key", address=address)
        if refusal is not None:  # even a right key: a guesser must not learn which guess was right
            response = error_json(status_code=429, code="throttled", message=refusal.message)
            response["Retry-After"] = str(refusal.retry_after)
            return response
        check = api_key_check(raw=token)
        if not check.ok or check.key is None:
            if check.unknown:
                lockout_fail(action="api_key", address=address)
            response = error_json(
                status_code=401, code="authentication_failed", message=check.problem or "Invalid API key."
            )
            response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        tenant: Tenant = check.key.tenant
        tenant.domain_url = self.hostname_from_request(request)
        request.tenant = tenant  # type: ignore[attr-defined]
        request.api_key_check = check  # type: ignore[attr-defined]
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None
