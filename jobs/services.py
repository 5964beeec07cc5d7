"""Writes about jobs: create, enqueue after commit, claim, report progress, finish, sweep.

A job's task may be delivered twice (acks_late after a lost worker, a retried publish, the
sweeper's requeue): the conditional UPDATE in `job_claim` lets exactly one delivery run it.
What a lost worker costs each kind of job, and how its partial work is undone: jobs/kinds.py and
docs/jobs.md.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from jobs.heartbeat import JobPulse
from jobs.kinds import kind_get
from jobs.models import Job
from pdm_saas.celery import app, tenant_task_send
from pdm_saas.errors import Conflict
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


class JobBusy(Conflict):
    """Another job with the same exclusive key is queued or running."""

    def __init__(self, message: str, *, job_id: int | None) -> None:
        super().__init__(message, code="job_in_progress", details={"job_id": job_id})
        self.job_id = job_id


def job_create(
    *, kind: str, params: dict[str, Any] | None = None, created_by_id: int | None = None,
    queue: str = "default", exclusive_key: str = "",
) -> Job:
    """A queued job. With `exclusive_key`, JobBusy while another job with that key is queued or
    running: the database's partial unique index decides, so two concurrent callers cannot both
    get one."""
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives a refusal
            return Job.objects.create(kind=kind, params=params or {}, created_by_id=created_by_id, queue=queue,
                                      message="Queued", exclusive_key=exclusive_key)
    except IntegrityError:
        if not exclusive_key:
            raise
        active = Job.objects.filter(exclusive_key=exclusive_key, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
        running = active.values_list("id", flat=True).first()
        raise JobBusy(f"Job {running} of the same kind is already queued or running.", job_id=running) from None


def job_enqueue(*, job: Job, task: Task) -> None:
    """Send the job's task once the surrounding transaction commits, carrying the tenant. The
    task's name stays on the row, for the sweeper to send it again."""
    Job.objects.filter(id=job.id).update(task=task.name)
    job.task = task.name
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
    """Mark the job failed and undo its partial work (its kind's cleanup, jobs/kinds.py)."""
    failed = Job.objects.filter(id=job_id).exclude(status__in=Job.FINISHED).update(
        status=Job.Status.FAILED, message=message[:500], error=error, finished_at=timezone.now()
    )
    if failed:
        _failed_cleanup(job_id)
    _publish(job_id)


def _failed_cleanup(job_id: int) -> None:
    job = Job.objects.get(id=job_id)
    cleanup = kind_get(job.kind).failed_cleanup()
    if cleanup is None:
        return
    try:
        cleanup(job)
    except Exception:
        # The failure stays recorded; leftovers are logged for an operator rather than hiding
        # the job's own error behind the cleanup's.
        logger.exception("cleanup after failed job %s (%s) did not finish", job_id, job.kind)


def job_execute(*, job_id: int, handler: JobHandler) -> None:
    """Claim the job, run `handler(job, progress)` with a heartbeat beside it, and record the
    outcome on the row."""
    if not job_claim(job_id=job_id):
        logger.info("job %s already claimed or finished; skipping duplicate delivery", job_id)
        return
    job = Job.objects.get(id=job_id)
    schema_name = connection.schema_name

    with JobPulse(job_id=job_id, schema_name=schema_name, interval=settings.JOB_HEARTBEAT_SECONDS) as pulse:

        def progress(percent: int, message: str = "") -> None:
            job.progress, job.message = max(0, min(100, percent)), message[:500]
            pulse.report(job.progress, job.message)
            event_publish(schema_name=schema_name, event=job_event(job))

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
    # A handler may end its job with a message the user must read (e.g. what a plan limit refused).
    job_succeed(job_id=job_id, result=result, message=str(result.get("message") or "Done"))
    job_outcome_record(kind=job.kind, outcome="succeeded")


def jobs_sweep_stale(*, stale_after_seconds: int) -> int:
    """Recover running jobs whose worker stopped sending heartbeats (killed, OOM, lost host):
    send them again while their kind allows more attempts, else fail them and undo their partial
    work. Returns how many were recovered."""
    cutoff = timezone.now() - timedelta(seconds=stale_after_seconds)
    stale = list(Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).values_list(
        "id", "kind", "attempts", "task"))
    for job_id, kind, attempts, task in stale:
        if task and attempts < kind_get(kind).max_attempts:
            _requeue(job_id=job_id, cutoff=cutoff, attempts=attempts, task=task)
            outcome = "requeued"
        else:
            job_fail(job_id=job_id, message="Worker lost; please run the job again.",
                     error=f"No heartbeat for {stale_after_seconds} s: the worker running this job was lost "
                           f"(attempt {attempts} of {kind_get(kind).max_attempts}).")
            outcome = "stale"
        job_outcome_record(kind=kind, outcome=outcome)
    return len(stale)


def _requeue(*, job_id: int, cutoff: datetime, attempts: int, task: str) -> None:
    """Back to `queued` and sent again after commit. Conditional on the heartbeat still being
    stale, so a job that came back to life meanwhile is left alone."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(id=job_id, status=Job.Status.RUNNING,
                                                     heartbeat_at__lt=cutoff).first()
        if job is None:
            return
        kind = kind_get(job.kind)
        job.status, job.progress, job.started_at = Job.Status.QUEUED, 0, None
        job.message = f"Worker lost; queued again (attempt {attempts + 1} of {kind.max_attempts})."
        job.save(update_fields=["status", "progress", "started_at", "message"])
        hook = kind.requeued_hook()
        if hook is not None:
            hook(job)
        tenant_task_send(app.signature(task), args=[job_id], queue=job.queue)
    _publish(job_id)
