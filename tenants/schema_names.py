"""How a tenant's slug becomes its schema name, host name and absolute links."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
PUBLIC_SCHEMA = "public"


def schema_name_for_slug(slug: str) -> str:
    # The `t_` prefix keeps tenant schemas apart from `public`, `pg_*` and our template.
    return "t_" + slug.replace("-", "_")


def host_for_slug(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def tenant_url(host: str, path: str) -> str:
    """An absolute link to `path` on `host` (a tenant's host or the public one): the scheme and
    port of the configured site address (settings.SITE_URL), never those of a request, whose
    Host header the sender chose. Emails, invitation links and Stripe's return pages use it."""
    site = urlsplit(settings.SITE_URL)
    port = f":{site.port}" if site.port else ""
    return f"{site.scheme}://{host}{port}{path}"


def public_url(path: str) -> str:
    """An absolute link to `path` on the public host (landing, signup, sign-in)."""
    return tenant_url(settings.BASE_DOMAIN, path)
