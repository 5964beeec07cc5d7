from __future__ import annotations

from django.db.models import QuerySet

from tenants.models import Tenant
from tenants.schema_names import PUBLIC_SCHEMA


def tenant_active_list() -> QuerySet[Tenant]:
    return Tenant.objects.filter(is_active=True).exclude(schema_name=PUBLIC_SCHEMA).order_by("id")


def tenant_by_slug(*, slug: str) -> Tenant | None:
    return Tenant.objects.filter(slug=slug).exclude(schema_name=PUBLIC_SCHEMA).first()
