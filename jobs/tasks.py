"""Thin tasks: take ids, call a service. All run inside their tenant (see pdm_saas/celery.py)."""

from __future__ import annotations

import time
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
    # `hold_seconds` keeps the job running (with heartbeats) so operators and tests can watch
    # progress travel, or kill a worker mid-job.
    hold = float(job.params.get("hold_seconds", 0))
    steps = max(1, int(hold / 0.5))
    for step in range(steps):
        progress(int(100 * step / steps), "Probing")
        time.sleep(hold / steps)
    return {"schema": connection.schema_name}


@app.task(name="jobs.tasks.tenant_probe_task")
def tenant_probe_task(job_id: int) -> None:
    """Records which schema it ran in: proof that tenant context reaches the worker (the
    end-to-end worker tests use it)."""
    services.job_execute(job_id=job_id, handler=_probe)
