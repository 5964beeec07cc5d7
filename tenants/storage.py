"""Tenant-scoped file paths. Every file a tenant owns lives under MEDIA_ROOT/tenants/<schema>/,
and every path is built here, so no caller can step outside its tenant's folder."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

_SCHEMA_RE = re.compile(r"^t_[a-z0-9_]+$")


class UnsafePath(ValueError):
    """A path that would leave the tenant's folder."""


def tenant_root(schema_name: str) -> Path:
    if not _SCHEMA_RE.match(schema_name):
        raise UnsafePath(f"not a tenant schema: {schema_name!r}")
    return Path(settings.MEDIA_ROOT).resolve() / "tenants" / schema_name


def tenant_path(schema_name: str, *parts: str) -> Path:
    root = tenant_root(schema_name)
    path = root.joinpath(*parts).resolve()
    if root != path and root not in path.parents:
        raise UnsafePath(f"{'/'.join(parts)!r} leaves the tenant folder")
    return path
