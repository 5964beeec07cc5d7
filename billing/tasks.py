"""Thin tasks: usage reporting to Stripe, fanned out per tenant by beat."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from billing import reporting
from pdm_saas.celery import PublicTask, app
from tenants.models import Tenant

USAGE_REPORT_TASK = "billing.tasks.usage_report_task"


@app.task(name="billing.tasks.usage_report_dispatch", base=PublicTask)
def usage_report_dispatch() -> int:
    """Send one report task per tenant that can owe overage (a Stripe customer), each message
    carrying its tenant like `tenants_dispatch` does; tenants without one get no message."""
    count = 0
    for tenant in Tenant.objects.filter(id__in=reporting.reportable_tenant_ids()).order_by("id"):
        with tenant_context(tenant):
            app.send_task(USAGE_REPORT_TASK, args=[tenant.id])
        count += 1
    return count


@app.task(name=USAGE_REPORT_TASK)
def usage_report_task(tenant_id: int) -> int:
    """Report the tenant's overage; returns the units that reached Stripe in this run. A
    duplicate delivery sends nothing new (see billing/reporting.py)."""
    return sum(report.sent for report in reporting.usage_report_tenant(tenant_id=tenant_id))
