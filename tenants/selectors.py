from __future__ import annotations

import copy

from django.conf import settings
from django.db.models import QuerySet

from tenants.models import Domain, Tenant
from tenants.row_cache import routing_cached
from tenants.schema_names import PUBLIC_SCHEMA, tenant_url


def tenant_active_list() -> QuerySet[Tenant]:
    return Tenant.objects.filter(is_active=True).exclude(schema_name=PUBLIC_SCHEMA).order_by("id")


def tenant_by_slug(*, slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug).exclude(schema_name=PUBLIC_SCHEMA).first()


def tenant_link(*, tenant: Tenant, path: str) -> str:
    """An absolute link to a page of the tenant, for emails: built from its primary domain and
    the configured scheme and port, never from the request (whose Host header the sender chose)."""
    domain = tenant.get_primary_domain()
    return tenant_url(domain.domain if domain else f"{tenant.slug}.{settings.BASE_DOMAIN}", path)


def tenant_time_zone(*, tenant_id: int) -> str:
    """The organization's stored time zone ("" when never asked), read fresh: an upload's worker
    or page holds a Tenant loaded before a change."""
    return Tenant.objects.filter(id=tenant_id).values_list("time_zone", flat=True).first() or ""


def tenant_by_host(*, hostname: str) -> Tenant | None:
    """The tenant a host name routes to (the public tenant for the site's own hosts), or None.

    Every request asks; the answer is kept per process until a tenant or a domain changes
    (tenants/row_cache.py), which saves two round trips a request. Each caller gets its own copy:
    a view that changes `request.tenant` must not change another thread's."""
    tenant = routing_cached("tenant_by_host", (hostname,), lambda: _tenant_of_domain(hostname))
    return None if tenant is None else copy.copy(tenant)


def _tenant_of_domain(hostname: str) -> Tenant | None:
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    return None if domain is None else domain.tenant
