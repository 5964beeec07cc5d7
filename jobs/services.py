"""Writes about jobs: create, enqueue after commit, claim, report progress, finish, sweep.

A job's task may be delivered twice (acks_late after a lost worker, a retried publish): the
conditional UPDATE in `job_claim` lets exactly one delivery run it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import Task
from django.db.models import F
from django.utils import timezone

from jobs.models import Job
from pdm_saas.celery import tenant_task_send
from pdm_saas.live.events import JOB_PROGRESS, event_publish
from pdm_saas.monitoring.metrics import job_outcome_record
from tenants.db import connection

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, str], None]
JobHandler = Callable[[Job, ProgressFn], dict[str, Any]]


def no_progress(percent: int, message: str = "") -> None:
    """For long services called where nobody watches (a test, a nested step)."""


def job_event(job: Job) -> dict[str, Any]:
    return {
        "type": JOB_PROGRESS,
        "job": {
            "id": job.id,
            "kind": job.kind,
            "status": job.status,
            "progress": job.progress,
            "message": job.message,
            "error": job.error,
            "updated_at": timezone.now().isoformat(),
        },
    }


def _publish(job_id: int) -> None:
    job = Job.objects.filter(id=job_id).first()
    if job is not None:
        event_publish(schema_name=connection.schema_name, event=job_event(job))


def job_create(
    *, kind: str, params: dict[str, Any] | None = None, created_by_id: int | None = None,
    queue: str = "default",
) -> Job:
    return Job.objects.create(
        kind=kind, params=params or {}, created_by_id=created_by_id, queue=queue, message="Queued"
    )


def job_enqueue(*, job: Job, task: Task) -> None:
    """Send the job's task once the surrounding transaction commits, carrying the tenant."""
    tenant_task_send(task, args=[job.id], queue=job.queue)


def job_claim(*, job_id: int) -> bool:
    now = timezone.now()
    claimed = Job.objects.filter(id=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1,
        message="Started",
    )
    if claimed:
        _publish(job_id)
    return bool(claimed)


def job_progress(*, job_id: int, progress: int, message: str = "") -> None:
    Job.objects.filter(id=job_id, status=Job.Status.RUNNING).update(
        progress=max(0, min(100, progress)), message=message[:500], heartbeat_at=timezone.now()
    )
    _publish(job_id)


def job_succeed(*, job_id: int, result: dict[str, Any], message: str = "Done") -> None:
    Job.objects.filter(id=job_id, status=Job.Status.RUNNING).update(
        status=Job.Status.SUCCEEDED, progress=100, message=message[:500], result=result,
        finished_at=timezone.now(),
    )
    _publish(job_id)


def job_fail(*, job_id: int, error: str, message: str = "Failed") -> None:
    Job.objects.filter(id=job_id).exclude(status__in=Job.FINISHED).update(
        status=Job.Status.FAILED, message=message[:500], error=error, finished_at=timezone.now()
    )
    _publish(job_id)


def job_execute(*, job_id: int, handler: JobHandler) -> None:
    """Claim the job, run `handler(job, progress)` and record the outcome on the row."""
    if not job_claim(job_id=job_id):
        logger.info("job %s already claimed or finished; skipping duplicate delivery", job_id)
        return
    job = Job.objects.get(id=job_id)

    def progress(percent: int, message: str = "") -> None:
        job_progress(job_id=job_id, progress=percent, message=message)

    try:
        result = handler(job, progress)
    except Exception as exc:
        # A failed job is an outcome the user must see, not a task to retry blindly: the error
        # goes on the row. Transient errors that deserve a retry are retried inside handlers.
        job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
                 message=str(exc)[:500] or type(exc).__name__)
        logger.exception("job %s (%s) failed", job_id, job.kind)
        job_outcome_record(kind=job.kind, outcome="failed")
        return
    job_succeed(job_id=job_id, result=result)
    job_outcome_record(kind=job.kind, outcome="succeeded")


def jobs_sweep_stale(*, stale_after_seconds: int) -> int:
    """Fail running jobs whose worker stopped sending heartbeats (killed, OOM, lost host)."""
    cutoff = timezone.now() - timedelta(seconds=stale_after_seconds)
    stale_ids = list(
        Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).values_list("id", "kind")
    )
    for job_id, kind in stale_ids:
        job_fail(
            job_id=job_id,
            error=f"No heartbeat for {stale_after_seconds} s: the worker running this job was lost.",
            message="Worker lost; please run the job again.",
        )
        job_outcome_record(kind=kind, outcome="stale")
    return len(stale_ids)
