"""What every per-tenant management command needs: the tenant by slug, and service errors
turned into command errors a person can read (with the listed problems, if any)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from django.core.management.base import CommandError

from pdm_saas.errors import ServiceError
from tenants.models import Tenant
from tenants.selectors import tenant_by_slug

if TYPE_CHECKING:
    from machines.models import MachineType


def tenant_or_error(slug: str) -> Tenant:
    tenant = tenant_by_slug(slug=slug)
    if tenant is None:
        raise CommandError(f"No tenant with slug {slug!r}.")
    return tenant


def machine_type_or_error(key: str) -> MachineType:
    """The current tenant's machine type by key (call inside the tenant's context)."""
    from machines.models import MachineType  # tenant app; imported where a command needs it

    found = MachineType.objects.filter(key=key).first()
    if found is None:
        raise CommandError(f"No machine type {key!r} in this tenant.")
    return found


def command_error(exc: ServiceError) -> CommandError:
    details = exc.details if isinstance(exc.details, dict) else {}
    problems = details.get("problems") or []
    lines = [str(problem) if not isinstance(problem, dict) else f"{problem.get('path')}: {problem.get('message')}"
             for problem in problems]
    return CommandError("\n  ".join([exc.message, *lines]))


def command_progress(percent: int, message: str = "") -> None:
    """A one-line progress bar on stderr for long commands (stdout stays for the result)."""
    sys.stderr.write(f"\r[{'#' * (percent // 5):<20}] {percent:3d}% {message[:60]:<60}")
    if percent >= 100:
        sys.stderr.write("\n")
    sys.stderr.flush()
