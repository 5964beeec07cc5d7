"""Thin tasks: take ids, call a service. All run inside their tenant (see pdm_saas/celery.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from jobs import services
from jobs.models import Job
from pdm_saas.celery import app
from tenants.db import connection


@app.task(name="jobs.tasks.jobs_sweep_stale_task")
def jobs_sweep_stale_task() -> int:
    return services.jobs_sweep_stale(stale_after_seconds=settings.JOB_STALE_AFTER_SECONDS)


def _probe(job: Job, progress: services.ProgressFn) -> dict[str, Any]:
    progress(50, "Probing")
    return {"schema": connection.schema_name}


@app.task(name="jobs.tasks.tenant_probe_task")
def tenant_probe_task(job_id: int) -> None:
    """Records which schema it ran in. Used by the operator's `check_worker` command and tests
    to prove that tenant context reaches the worker."""
    services.job_execute(job_id=job_id, handler=_probe)
