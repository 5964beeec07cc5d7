"""How a tenant's slug becomes its schema name and host name."""

from __future__ import annotations

import re

from django.conf import settings

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
PUBLIC_SCHEMA = "public"


def schema_name_for_slug(slug: str) -> str:
    # The `t_` prefix keeps tenant schemas apart from `public`, `pg_*` and our template.
    return "t_" + slug.replace("-", "_")


def host_for_slug(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def tenant_url(host: str, path: str) -> str:
    """An absolute link to a page of a tenant host, for emails (no request to copy it from)."""
    port = f":{settings.URL_PORT}" if settings.URL_PORT else ""
    return f"{settings.URL_SCHEME}://{host}{port}{path}"
