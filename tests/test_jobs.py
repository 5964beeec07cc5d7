"""Job records: claiming, progress, failure, the stale-job sweeper and the per-tenant dispatcher."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from jobs.models import Job
from jobs.services import job_claim, job_create, job_execute, job_progress, jobs_sweep_stale
from tenants.models import Tenant

# Rerun under a shifted clock (faketime) by `make test`: see scripts/shifted_clock_tests.sh.
pytestmark = pytest.mark.clock


@pytest.fixture
def in_acme(db, world):
    with tenant_context(world.acme):
        yield world.acme


def test_a_job_is_claimed_once(in_acme):
    job = job_create(kind="x")
    assert job_claim(job_id=job.id) is True
    assert job_claim(job_id=job.id) is False
    job.refresh_from_db()
    assert job.status == "running" and job.attempts == 1 and job.started_at


def test_progress_is_clamped_and_recorded(in_acme):
    job = job_create(kind="x")
    job_claim(job_id=job.id)
    job_progress(job_id=job.id, progress=140, message="almost")
    job.refresh_from_db()
    assert (job.progress, job.message) == (100, "almost")


def test_a_failing_handler_leaves_the_error_on_the_row(in_acme):
    job = job_create(kind="x")

    def boom(job, progress):
        progress(10, "starting")
        raise ValueError("column 'rpm' has text in row 12")

    job_execute(job_id=job.id, handler=boom)
    job.refresh_from_db()
    assert job.status == "failed" and job.message == "column 'rpm' has text in row 12"
    assert "ValueError" in job.error and job.finished_at


def test_execute_skips_a_job_already_finished(in_acme):
    job = job_create(kind="x")
    job_execute(job_id=job.id, handler=lambda job, progress: {"n": 1})
    job_execute(job_id=job.id, handler=lambda job, progress: {"n": 2})
    job.refresh_from_db()
    assert job.result == {"n": 1} and job.attempts == 1


def test_sweeper_fails_jobs_whose_worker_died(in_acme):
    alive, dead = job_create(kind="x"), job_create(kind="x")
    job_claim(job_id=alive.id)
    job_claim(job_id=dead.id)
    Job.objects.filter(id=dead.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert jobs_sweep_stale(stale_after_seconds=600) == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "failed" and "worker" in dead.message.lower()
    assert alive.status == "running"


def test_jobs_api_filters_and_paginates(client_for, world):
    with tenant_context(world.acme):
        for kind in ("a", "a", "b"):
            job_create(kind=kind)
    owner = client_for("owner")
    assert owner.get("/api/v1/jobs/?kind=a").json()["count"] == 2
    assert owner.get("/api/v1/jobs/?status=queued&page_size=1").json()["next"]
    detail = owner.get(f"/api/v1/jobs/{world.acme_job_id}/").json()
    assert detail["kind"] == "seed.acme" and "log" in detail


def test_dispatcher_sends_one_message_per_active_tenant(db, world, monkeypatch):
    from pdm_saas.celery import app
    from tenants.services import tenant_deactivate
    from tenants.tasks import tenants_dispatch

    sent: list[tuple[str, str]] = []

    def record(name, *args, **options):
        from django.db import connection

        sent.append((name, connection.schema_name))
        return None  # not sent: this test is about the fan-out, the worker test about delivery

    monkeypatch.setattr(app, "send_task", record)
    tenant_deactivate(tenant=world.globex)
    # Other modules' committed tenants (a browser suite's, say) may be active too: all but globex.
    active = set(Tenant.objects.filter(is_active=True).exclude(schema_name="public")
                 .values_list("schema_name", flat=True))
    assert "t_acme" in active and "t_globex" not in active
    assert tenants_dispatch("jobs.tasks.jobs_sweep_stale_task") == len(active)
    assert sorted(sent) == sorted(("jobs.tasks.jobs_sweep_stale_task", schema) for schema in active)
