"""The Celery app. Tenant-aware: every task message carries its tenant's schema.

tenant-schemas-celery puts the sender's schema in a `_schema_name` header and switches the
worker's connection to it before the task runs. Left alone it falls back to `public` when the
header is missing; `TenantBoundTask`, our default base, refuses such messages instead, so that a
tenant task can never run against the public schema or another tenant. Platform-wide tasks (the
per-tenant dispatcher) opt out explicitly with `base=PublicTask`.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from celery.exceptions import Reject
from celery.schedules import crontab
from tenant_schemas_celery.app import CeleryApp, get_schema_name_from_task
from tenant_schemas_celery.task import TenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdm_saas.settings")
logger = logging.getLogger(__name__)


class TenantMissing(Exception):
    """A tenant task arrived without a usable tenant."""


class TenantBoundTask(TenantTask):
    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from tenants.db import connection  # not at import: this module loads before Django's apps

        schema_name = get_schema_name_from_task(self, kwargs)
        if not schema_name or schema_name == "public" or connection.schema_name != schema_name:
            reason = f"task {self.name} refused: message carries no tenant ({schema_name!r})"
            logger.error(reason)
            raise Reject(TenantMissing(reason), requeue=False)
        return super().__call__(*args, **kwargs)


class PublicTask(TenantTask):
    """For platform tasks that work across tenants from the public schema."""

    abstract = True


def tenant_task_send(task: Any, *, args: list[Any], queue: str) -> None:
    """Send `task` for the current tenant once the surrounding transaction commits (at once
    outside one). The schema is captured now and set explicitly, so the message carries it
    whatever the connection's schema is when the commit hook runs."""
    from django.db import transaction

    from tenants.db import connection

    schema_name = connection.schema_name
    transaction.on_commit(lambda: tenant_task_apply(task, args=args, queue=queue, schema_name=schema_name))


def tenant_task_apply(task: Any, *, args: list[Any], queue: str, schema_name: str) -> None:
    """Send `task` now for the tenant `schema_name`: for a caller already past the commit that
    knows its tenant (a `machines.signals.readings_changed` receiver)."""
    task.apply_async(args=args, queue=queue, headers={"_schema_name": schema_name})


app = CeleryApp("pdm_saas", task_cls="pdm_saas.celery:TenantBoundTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

def _fleet_score_minutes() -> int:
    from django.conf import settings

    return int(settings.FLEET_SCORE_MINUTES)


def _usage_report_minutes() -> int:
    from django.conf import settings

    return int(settings.STRIPE_USAGE_REPORT_MINUTES)


def _job_sweep_seconds() -> int:
    from django.conf import settings

    return int(settings.JOB_SWEEP_SECONDS)


def _weekly_summary_weekday() -> int:
    from django.conf import settings

    return (int(settings.WEEKLY_SUMMARY_WEEKDAY) + 1) % 7  # crontab counts from Sunday = 0


def _drift_check_days() -> int:
    from django.conf import settings

    return int(settings.DRIFT_CHECK_DAYS)


# Beat only knows platform schedules; the dispatcher fans each one out to every active tenant.
app.conf.beat_schedule = {
    "refill-spare-schemas": {
        "task": "tenants.tasks.spare_pool_fill_task",
        "schedule": crontab(minute="*/10"),
    },
    "escalate-alerts": {
        "task": "tenants.tasks.tenants_dispatch",
        "schedule": crontab(minute="*"),
        "args": ["predictions.tasks.alerts_escalate_task"],
    },
    "score-fleet": {
        "task": "tenants.tasks.tenants_dispatch",
        "schedule": crontab(minute=f"*/{_fleet_score_minutes()}"),
        "args": ["predictions.tasks.fleet_score_task"],
    },
    # Overage beyond the included predictions, to Stripe's meter (billing/reporting.py).
    "report-usage-to-stripe": {
        "task": "billing.tasks.usage_report_dispatch",
        "schedule": timedelta(minutes=_usage_report_minutes()),
    },
    # Jobs whose worker died are requeued or failed within stale-after + this (docs/jobs.md).
    "sweep-stale-jobs": {
        "task": "tenants.tasks.tenants_dispatch",
        "schedule": timedelta(seconds=_job_sweep_seconds()),
        "args": ["jobs.tasks.jobs_sweep_stale_task"],
    },
    # Drift reports and outcome snapshots of every champion classifier (docs/models.md).
    "monitor-models": {
        "task": "tenants.tasks.tenants_dispatch",
        "schedule": timedelta(days=_drift_check_days()),
        "args": ["predictions.tasks.models_monitor_task"],
    },
    # The weekly summary email to admins and owners, once per tenant and week (docs/insights.md).
    "weekly-summary": {
        "task": "tenants.tasks.tenants_dispatch",
        "schedule": crontab(minute=0, hour=7, day_of_week=_weekly_summary_weekday()),
        "args": ["insights.tasks.weekly_summary_task"],
    },
    # Work orders of preventive (PM) plans that have come due, once per occurrence (docs/planning.md).
    "preventive-plans": {
        "task": "tenants.tasks.tenants_dispatch",
        "schedule": crontab(minute=5),
        "args": ["planning.tasks.preventive_generate_task"],
    },
}
app.conf.task_routes = {
    "tenants.tasks.tenants_dispatch": {"queue": "default"},
    "predictions.tasks.fleet_score_task": {"queue": "score"},
}

# Task durations and failures, and the worker's and beat's metrics servers (docs/monitoring.md).
import pdm_saas.monitoring.worker  # noqa: E402,F401
