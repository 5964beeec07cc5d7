"""Create (or reuse) the demo organization, its owner and its demo data; print how to sign in."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from pdm_saas.demo import demo_fill, demo_models_queue
from tenants.schema_names import host_for_slug, public_url, tenant_url
from tenants.selectors import tenant_by_slug
from tenants.services import tenant_signup

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-pass-2026"


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_by_slug(slug=DEMO_SLUG)
        if tenant is None:
            tenant = tenant_signup(organization_name="Demo Plant", slug=DEMO_SLUG,
                                   owner_email=DEMO_EMAIL, owner_password=DEMO_PASSWORD).tenant
        if demo_fill(tenant=tenant):
            self.stdout.write("Demo machines, a day of readings, an alert and a work order created.")
        queued = demo_models_queue(tenant=tenant)
        if queued:
            self.stdout.write(f"Training the models of {queued} machine types on the worker (a minute or two); "
                              "follow them at /api/v1/jobs/.")
        # From the configured site address (PDM_SITE_URL), which `make run PORT=...` sets.
        self.stdout.write(self.style.SUCCESS(
            f"Demo organization ready: {tenant_url(host_for_slug(DEMO_SLUG), '/accounts/login/')}\n"
            f"  email:    {DEMO_EMAIL}\n  password: {DEMO_PASSWORD}\n"
            f"  API docs: {public_url('/api/v1/docs/')}"
        ))
