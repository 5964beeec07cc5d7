"""Through a real Celery worker: tasks run in the tenant their message names, and a message
that names no tenant is refused instead of running in `public`."""

from __future__ import annotations

import signal
import time

import pytest
import redis
from celery import Celery
from django.conf import settings
from django_tenants.utils import tenant_context

from jobs.models import Job
from jobs.services import job_create, job_enqueue, jobs_sweep_stale
from jobs.tasks import tenant_probe_task

from .live import process, python_bin, wait_for

pytestmark = pytest.mark.live


@pytest.fixture
def committed(world, django_db_blocker):
    """Autocommit database access: rows are visible to the worker process at once."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def worker_process(committed, tmp_path):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # no stale messages from other runs
    args = [python_bin("celery"), "-A", "pdm_saas", "worker", "-Q", "default", "-P", "solo",
            "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with process(args, log=tmp_path / "worker.log", ready=lambda text: " ready." in text) as running:
        yield running


@pytest.fixture
def worker(worker_process):
    return worker_process[1]


def _status(tenant, job_id: int) -> Job:
    with tenant_context(tenant):
        return Job.objects.get(id=job_id)


def test_task_runs_in_the_tenant_of_its_message(world, worker):
    with tenant_context(world.acme):
        acme_job = job_create(kind="probe")
    with tenant_context(world.globex):
        globex_job = job_create(kind="probe")
        job_enqueue(job=globex_job, task=tenant_probe_task)  # autocommit: sent at once
    wait_for(lambda: _status(world.globex, globex_job.id).is_finished, timeout=30, what="globex job")
    finished = _status(world.globex, globex_job.id)
    assert finished.status == "succeeded" and finished.result == {"schema": "t_globex"}
    # acme's job was never touched, even where both schemas use the same id.
    assert _status(world.acme, acme_job.id).status == "queued"
    with tenant_context(world.acme):
        job_enqueue(job=acme_job, task=tenant_probe_task)
    wait_for(lambda: _status(world.acme, acme_job.id).is_finished, timeout=30, what="acme job")
    assert _status(world.acme, acme_job.id).result == {"schema": "t_acme"}


def test_message_without_tenant_is_refused(world, worker):
    with tenant_context(world.globex):
        orphan = job_create(kind="probe")
        marker = job_create(kind="probe")
    # A sender that is not tenant-aware: its message carries no `_schema_name` header.
    bare = Celery(broker=settings.CELERY_BROKER_URL)
    bare.send_task("jobs.tasks.tenant_probe_task", args=[orphan.id], queue="default")
    # A proper message behind it on the same queue; once it is done, the first was handled.
    with tenant_context(world.globex):
        job_enqueue(job=marker, task=tenant_probe_task)
    wait_for(lambda: _status(world.globex, marker.id).is_finished, timeout=30, what="marker job")
    assert _status(world.globex, orphan.id).status == "queued"
    assert "refused: message carries no tenant" in worker.read_text()


def test_duplicate_delivery_runs_the_job_once(world, worker):
    with tenant_context(world.acme):
        job = job_create(kind="probe")
        job_enqueue(job=job, task=tenant_probe_task)
        job_enqueue(job=job, task=tenant_probe_task)
        marker = job_create(kind="probe")
        job_enqueue(job=marker, task=tenant_probe_task)
    wait_for(lambda: _status(world.acme, marker.id).is_finished, timeout=30, what="marker job")
    assert _status(world.acme, job.id).attempts == 1
    assert "already claimed or finished" in worker.read_text()


def test_a_worker_killed_mid_job_leaves_a_clear_failure_not_a_stuck_job(world, worker_process):
    process, log = worker_process
    with tenant_context(world.acme):
        job = job_create(kind="probe", params={"hold_seconds": 60})
        job_enqueue(job=job, task=tenant_probe_task)
    wait_for(lambda: _status(world.acme, job.id).progress > 0, timeout=30, what="job to start")
    process.send_signal(signal.SIGKILL)  # no chance to clean up, as with OOM or a lost host
    process.wait(timeout=10)
    running = _status(world.acme, job.id)
    assert running.status == "running"  # nothing marked it yet
    time.sleep(1.5)
    with tenant_context(world.acme):
        assert jobs_sweep_stale(stale_after_seconds=1) >= 1  # other tests' jobs may be stale too
    failed = _status(world.acme, job.id)
    assert failed.status == "failed" and failed.message == "Worker lost; please run the job again."
    assert failed.progress == running.progress  # what was done is still shown
