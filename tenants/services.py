"""Writes about tenants: signup, activation, export and deletion."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.db import transaction
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import ApiKey, Membership, User
from accounts.roles import Role
from billing.services import subscription_start_trial
from jobs.models import Job
from pdm_saas.errors import Conflict, InvalidInput
from pdm_saas.live.events import access_changed
from tenants import provisioning
from tenants.db import connection
from tenants.models import Domain, Tenant
from tenants.schema_names import PUBLIC_SCHEMA, SLUG_RE, host_for_slug, schema_name_for_slug
from tenants.storage import tenant_path
from tenants.time_zones import time_zones

EXPORT_KIND = "tenant.export"
EXPORT_VALID_HOURS = 24


def tenant_public_ensure(*, domains: list[str] | None = None) -> Tenant:
    """The public tenant and its host names; browsers on these hosts get the public site."""
    public, _ = Tenant.objects.get_or_create(
        schema_name=PUBLIC_SCHEMA, defaults={"name": "Public", "slug": "public"}
    )
    for index, host in enumerate(domains or [settings.BASE_DOMAIN, "127.0.0.1"]):
        Domain.objects.get_or_create(domain=host, defaults={"tenant": public, "is_primary": index == 0})
    return public


def slug_validate(slug: str) -> str:
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug) or "--" in slug:
        raise InvalidInput(
            "The slug must be 3-40 characters: lower-case letters, digits and single hyphens, "
            "starting with a letter.",
            code="invalid_slug", details={"slug": ["invalid format"]},
        )
    if slug in settings.RESERVED_SLUGS:
        raise InvalidInput(f"'{slug}' is reserved; choose another.", code="slug_reserved",
                           details={"slug": ["reserved"]})
    if Tenant.objects.filter(slug=slug).exists() or Tenant.objects.filter(
        schema_name=schema_name_for_slug(slug)
    ).exists():
        raise Conflict(f"'{slug}' is already taken; choose another.", code="slug_taken",
                       details={"slug": ["taken"]})
    return slug


def _slug_base(name: str) -> str:
    """"Müller & Söhne GmbH" -> "muller-sohne-gmbh": ASCII letters and digits, single hyphens,
    starting with a letter, short enough for a "-99" suffix (static/js/signup.js does the same)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")
    if not base[:1].isalpha():
        base = f"org-{base}".strip("-")
    base = base[:36].strip("-")
    return base if len(base) >= 3 else f"{base}-org"


def slug_from_name(name: str) -> str:
    """A valid, free slug for an organization named `name`: its base, else base-2, base-3..."""
    base = _slug_base(name)
    for number in range(1, 100):
        candidate = base if number == 1 else f"{base}-{number}"
        try:
            return slug_validate(candidate)
        except (InvalidInput, Conflict):
            continue
    raise Conflict("Choose an address for the organization.", code="slug_taken", details={"slug": ["taken"]})


@dataclass(frozen=True)
class Signup:
    tenant: Tenant
    owner: User
    host: str
    provisioned_by: str  # "spare" or "clone"


@transaction.atomic
def tenant_signup(*, organization_name: str, owner_email: str, owner_password: str, slug: str = "") -> Signup:
    """Provision a usable tenant: schema (cloned), domain, owner and trial, all or nothing. A
    blank slug is derived from the name."""
    name = (organization_name or "").strip()
    if not name:
        raise InvalidInput("Enter the organization's name.", details={"organization_name": ["required"]})
    slug = slug_validate(slug) if (slug or "").strip() else slug_from_name(name)
    owner = accounts_services.user_create(email=owner_email, password=owner_password)
    tenant = Tenant.objects.create(name=name[:200], slug=slug, schema_name=schema_name_for_slug(slug))
    host = host_for_slug(slug)
    Domain.objects.create(domain=host, tenant=tenant, is_primary=True)
    how = provisioning.schema_provision(schema_name=tenant.schema_name)
    accounts_services.membership_add(user=owner, tenant=tenant, role=Role.OWNER)
    subscription_start_trial(tenant=tenant)
    transaction.on_commit(spare_pool_refill_later)
    return Signup(tenant=tenant, owner=owner, host=host, provisioned_by=how)


def spare_pool_refill_later() -> None:
    from tenants.tasks import spare_pool_fill_task

    spare_pool_fill_task.apply_async(queue="default")


def tenant_rename(*, tenant: Tenant, name: str) -> Tenant:
    """Change the organization's display name; the slug, schema and host never change."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Enter the organization's name.", details={"name": ["required"]})
    tenant.name = name[:200]
    tenant.save(update_fields=["name"])
    return tenant


def tenant_time_zone_set(*, tenant: Tenant, time_zone: str) -> Tenant:
    """The plants' time zone: uploads created from now on read times without an offset as local
    times there (uploads already stored keep the zone they were read with)."""
    if time_zone not in time_zones():
        raise InvalidInput(f"Unknown time zone '{time_zone[:64]}'; choose one such as Europe/Berlin.",
                           details={"time_zone": ["unknown"]})
    tenant.time_zone = time_zone
    tenant.save(update_fields=["time_zone"])
    return tenant


def tenant_deactivate(*, tenant: Tenant) -> Tenant:
    Tenant.objects.filter(id=tenant.id).update(is_active=False, deactivated_at=timezone.now())
    tenant.refresh_from_db()
    access_changed(tenant_id=tenant.id)  # its open live sockets close
    return tenant


def tenant_activate(*, tenant: Tenant) -> Tenant:
    Tenant.objects.filter(id=tenant.id).update(is_active=True, deactivated_at=None)
    tenant.refresh_from_db()
    return tenant


def _tenant_models() -> list[Any]:
    labels = [label.rsplit(".", 1)[-1] for label in settings.TENANT_APPS if label not in settings.SHARED_APPS]
    return [model for label in labels for model in apps.get_app_config(label).get_models()]


def _public_rows(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenant": {"name": tenant.name, "slug": tenant.slug, "created_at": tenant.created_at.isoformat(),
                   "time_zone": tenant.time_zone},
        "members": [
            {"email": m.user.email, "full_name": m.user.full_name, "role": m.role}
            for m in Membership.objects.filter(tenant=tenant).select_related("user")
        ],
        "api_keys": [
            {"name": k.name, "prefix": k.prefix, "scopes": k.scopes, "revoked": k.revoked_at is not None}
            for k in ApiKey.objects.filter(tenant=tenant)
        ],
    }


def tenant_export_write(*, tenant: Tenant, job_id: int, progress: Any) -> dict[str, Any]:
    """Write everything the tenant owns to one JSON file in its folder. Runs in its schema."""
    models = _tenant_models()
    document: dict[str, Any] = {"format": "pdm-saas-export/1", "exported_at": timezone.now().isoformat()}
    document.update(_public_rows(tenant))
    document["data"] = {}
    for index, model in enumerate(models, start=1):
        rows = serializers.serialize("python", model.objects.all())
        document["data"][model._meta.label] = rows
        progress(int(90 * index / max(len(models), 1)), f"Exported {model._meta.label}")
    path = tenant_path(tenant.schema_name, "exports", f"export-{job_id}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(document, default=str, indent=1).encode()
    tmp = path.with_suffix(".part")
    tmp.write_bytes(payload)
    tmp.replace(path)  # readers never see a half-written export
    return {"file": path.name, "bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


def tenant_export_file(*, tenant: Tenant, job: Job) -> Path | None:
    if job.kind != EXPORT_KIND or job.status != Job.Status.SUCCEEDED:
        return None
    path = tenant_path(tenant.schema_name, "exports", str(job.result.get("file", "")))
    return path if path.is_file() else None


def _recent_export(tenant: Tenant) -> Job | None:
    since = timezone.now() - timedelta(hours=EXPORT_VALID_HOURS)
    for job in Job.objects.filter(kind=EXPORT_KIND, status=Job.Status.SUCCEEDED, finished_at__gte=since):
        if tenant_export_file(tenant=tenant, job=job):
            return job
    return None


def tenant_delete(*, tenant: Tenant, confirm_slug: str) -> Path:
    """Delete a tenant for good, after an export of the last 24 hours. Returns the archived
    export, kept for the operator's retention period."""
    if confirm_slug != tenant.slug:
        raise InvalidInput("Type the organization's slug to confirm deletion.", code="confirmation_required",
                           details={"confirm_slug": ["does not match"]})
    connection.set_tenant(tenant)
    export = _recent_export(tenant)
    if export is None:
        raise Conflict(f"Export the organization's data first (an export from the last "
                       f"{EXPORT_VALID_HOURS} hours is required).", code="export_required")
    export_path = tenant_export_file(tenant=tenant, job=export)
    assert export_path is not None
    connection.set_schema_to_public()
    archive = Path(settings.DATA_DIR) / "deleted-tenants" / f"{tenant.schema_name}-{timezone.now():%Y%m%dT%H%M%S}.json"
    archive.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(export_path, archive)
    folder = tenant_path(tenant.schema_name)
    with transaction.atomic():
        provisioning.schema_drop(schema_name=tenant.schema_name)
        Tenant.objects.filter(id=tenant.id).delete()
        transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
    return archive


def tenant_export_start(*, created_by_id: int | None) -> Job:
    """Queue an export of the current tenant; the file appears when the job succeeds."""
    from jobs.services import job_create, job_enqueue
    from tenants.tasks import tenant_export_task

    job = job_create(kind=EXPORT_KIND, created_by_id=created_by_id)
    job_enqueue(job=job, task=tenant_export_task)
    return job
