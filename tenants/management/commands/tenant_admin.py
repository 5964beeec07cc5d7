"""Operator actions on one tenant: deactivate, activate, export, delete, and `plan SLUG CODE`
(put the tenant on a plan arranged outside Stripe Checkout, e.g. an enterprise contract)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from billing.models import Plan
from billing.services import subscription_grant
from jobs.services import job_create, job_execute
from tenants import services
from tenants.command_line import tenant_or_error


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["deactivate", "activate", "export", "delete", "plan"])
        parser.add_argument("slug")
        parser.add_argument("plan_code", nargs="?", metavar="PLAN", help="for `plan`: the plan's code, e.g. enterprise")

    def handle(self, *args: Any, action: str, slug: str, plan_code: str | None, **options: Any) -> None:
        tenant = tenant_or_error(slug)
        if action == "plan":
            self._plan(tenant, plan_code)
        elif action == "deactivate":
            services.tenant_deactivate(tenant=tenant)
        elif action == "activate":
            services.tenant_activate(tenant=tenant)
        elif action == "export":
            with tenant_context(tenant):  # run inline, printing progress, instead of queueing
                job = job_create(kind=services.EXPORT_KIND)
                job_execute(job_id=job.id, handler=lambda j, progress: services.tenant_export_write(
                    tenant=tenant, job_id=j.id,
                    progress=lambda pct, msg="": self.stdout.write(f"[{pct:3d}%] {msg}")))
                job.refresh_from_db()
                if job.status != job.Status.SUCCEEDED:
                    raise CommandError(job.error)
                self.stdout.write(f"Export: {services.tenant_export_file(tenant=tenant, job=job)}")
        elif action == "delete":
            archive = services.tenant_delete(tenant=tenant, confirm_slug=slug)
            self.stdout.write(f"Deleted; export archived at {archive}")
        self.stdout.write(self.style.SUCCESS(f"{action}: {slug} done"))

    def _plan(self, tenant: Any, code: str | None) -> None:
        codes = list(Plan.objects.values_list("code", flat=True))
        if code not in codes:
            raise CommandError(f"Name a plan: {', '.join(codes)} (got {code or 'none'}).")
        plan = subscription_grant(tenant=tenant, plan_code=code).plan
        machines = "unlimited" if plan.max_machines is None else f"{plan.max_machines:,}"
        self.stdout.write(f"{tenant.slug} is on the {plan.name} plan (active, no trial; machines: {machines})")
