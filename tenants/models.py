"""Tenants (organizations) and the host names that route browsers to them. Public schema."""

from __future__ import annotations

from typing import Any

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from tenants.row_cache import RowsManager


class Tenant(TenantMixin):
    """An organization. Its operational data lives in its own Postgres schema."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=40, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # The plants' IANA time zone ("Europe/Berlin"): an upload's times written without an offset
    # are local times there (docs/ingest.md). Empty: not asked yet; such times are read as UTC.
    time_zone = models.CharField(max_length=64, blank=True)
    objects: models.Manager[Any] = RowsManager()  # its updates reach the routing cache (tenants/row_cache.py)

    # Schemas come from tenants.provisioning (a renamed spare or a clone of the template), never
    # from save(): django-tenants' own path runs every migration, slower with each one added.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"


class Domain(DomainMixin):
    """A host name (`acme.localhost`) that routes browser traffic to a tenant."""

    objects: models.Manager[Any] = RowsManager()  # its updates reach the routing cache (tenants/row_cache.py)


class SpareSchema(models.Model):
    """A schema cloned ahead of time from the template, waiting for a signup to rename it.

    Cloning gets slower as the catalog grows (it reads pg_catalog for every object); renaming a
    schema does not. `template_fingerprint` says which template state the spare was cloned
    from, so a spare left over from before a migration is never handed out."""

    name = models.CharField(max_length=63, unique=True)
    template_fingerprint = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class MqttCredential(models.Model):
    """A tenant's login on the MQTT broker. The broker reads `password_hash` from the password
    file `manage.py mqtt_sync` writes (Mosquitto's own format), so no row is ever read by the
    broker directly and the plain password is shown once, at creation."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="mqtt_credentials")
    username = models.CharField(max_length=80, unique=True)
    password_hash = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.username

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
