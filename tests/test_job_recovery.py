"""Jobs whose worker dies: heartbeats that outlive a long transaction, the sweeper's cutoffs
(pinned clock), requeue or fail per kind, failed uploads that can be sent again, partial artifacts
removed, and one onboarding per machine type (the real-worker versions: test_job_recovery_e2e.py)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.checks import run_checks
from django.db import connection as thread_connection
from django.db import transaction
from django_tenants.utils import tenant_context

from engine.synthetic.simulator import simulate_fleet
from jobs.models import Job
from jobs.services import JobBusy, job_claim, job_create, job_execute, job_fail, jobs_sweep_stale
from machines.models import Upload
from machines.services import machine_type_adopt
from machines.uploads import upload_create
from pdm_saas.celery import app as celery_app
from pdm_saas.errors import Conflict
from predictions.services.registry import artifact_name, artifact_write, dataset_store
from predictions.services.training import onboarding_start
from tenants.services import tenant_deactivate, tenant_signup
from tenants.storage import tenant_path

MOTOR = "induction-motor-siemens-1la7"
MILL = "ai4i-milling-machine"
T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


@pytest.fixture
def in_acme(db, world):
    with tenant_context(world.acme):
        yield world.acme


@pytest.fixture
def committed(world, django_db_blocker):
    """Autocommit: the pulse thread's own connection sees the rows (as in a worker)."""
    with django_db_blocker.unblock(), tenant_context(world.acme):
        yield world.acme


def test_default_settings_recover_a_lost_job_within_two_minutes():
    assert settings.JOB_STALE_AFTER_SECONDS + settings.JOB_SWEEP_SECONDS <= 120
    # A few missed beats (a slow query, a GC pause) must not make a live job look dead.
    assert settings.JOB_STALE_AFTER_SECONDS >= 4 * settings.JOB_HEARTBEAT_SECONDS
    sweep = celery_app.conf.beat_schedule["sweep-stale-jobs"]["schedule"]
    assert sweep == timedelta(seconds=settings.JOB_SWEEP_SECONDS)
    # A healthy worker holds a message at most a webhook countdown (1 h) plus the hard time limit:
    # a shorter visibility timeout would hand a running task to a second worker.
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > 3600 + settings.CELERY_TASK_TIME_LIMIT


def test_heartbeat_and_progress_are_visible_while_the_job_sits_in_one_transaction(committed, settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.2
    job = job_create(kind="probe")
    seen: list[tuple[int, datetime | None]] = []
    done = threading.Event()

    def watch() -> None:  # another connection, as the sweeper and the UI have
        with tenant_context(committed):
            while not done.is_set():
                seen.append(Job.objects.filter(id=job.id).values_list("progress", "heartbeat_at").get())
                time.sleep(0.1)
        thread_connection.close()

    def long_transaction(job: Job, progress) -> dict:
        with transaction.atomic():  # as an upload stores every row
            progress(40, "Storing rows")
            time.sleep(1.5)  # a long phase that reports nothing
        return {}

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        job_execute(job_id=job.id, handler=long_transaction)
    finally:
        done.set()
        watcher.join()
    during = [beat for progress, beat in seen if progress == 40]
    assert len(set(during)) >= 3, seen  # progress visible, and the heartbeat moved inside the transaction
    assert Job.objects.get(id=job.id).status == "succeeded"


@pytest.mark.clock
def test_sweeper_cutoff_is_stale_after_seconds_of_silence(in_acme):
    stale_after = settings.JOB_STALE_AFTER_SECONDS
    with time_machine.travel(T0, tick=False) as clock:
        job = job_create(kind="probe")
        job_claim(job_id=job.id)
        clock.shift(stale_after - 1)
        assert jobs_sweep_stale(stale_after_seconds=stale_after) == 0
        assert Job.objects.get(id=job.id).status == "running"
        clock.shift(2)
        assert jobs_sweep_stale(stale_after_seconds=stale_after) == 1
    failed = Job.objects.get(id=job.id)
    assert failed.status == "failed" and failed.message == "Worker lost; please run the job again."


def _upload(machine_type, sha: str = "ab" * 32) -> Upload:
    return Upload.objects.create(original_name="history.csv", stored_path="uploads/x/history.csv", size_bytes=10,
                                 sha256=sha, machine_type=machine_type, mapping={}, status="processing")


@pytest.mark.clock
def test_a_lost_upload_is_sent_again_up_to_its_attempts_then_fails_and_frees_the_file(
        in_acme, django_capture_on_commit_callbacks):
    upload = _upload(machine_type_adopt(key=MOTOR))
    job = job_create(kind="sensor.upload", params={"upload_id": upload.id}, queue="ingest")
    Job.objects.filter(id=job.id).update(task="machines.tasks.upload_process_task")
    with time_machine.travel(T0, tick=False) as clock:
        for attempt in (1, 2):
            assert job_claim(job_id=job.id)
            clock.shift(settings.JOB_STALE_AFTER_SECONDS + 1)
            with django_capture_on_commit_callbacks() as sent:
                assert jobs_sweep_stale(stale_after_seconds=settings.JOB_STALE_AFTER_SECONDS) == 1
            requeued = Job.objects.get(id=job.id)
            assert (requeued.status, requeued.attempts) == ("queued", attempt)
            assert requeued.message == f"Worker lost; queued again (attempt {attempt + 1} of 3)."
            assert len(sent) == 1  # the task goes out again once the sweep commits
            assert Upload.objects.get(id=upload.id).status == "queued"
        assert job_claim(job_id=job.id)  # the third and last attempt dies too
        clock.shift(settings.JOB_STALE_AFTER_SECONDS + 1)
        with django_capture_on_commit_callbacks() as sent:
            jobs_sweep_stale(stale_after_seconds=settings.JOB_STALE_AFTER_SECONDS)
    assert not sent and Job.objects.get(id=job.id).status == "failed"
    failed = Upload.objects.get(id=upload.id)
    assert failed.status == "failed" and "Worker lost" in failed.error


@pytest.mark.clock
def test_the_sweeper_leaves_a_job_alone_whose_heartbeat_came_back(in_acme):
    job = job_create(kind="sensor.upload", params={}, queue="ingest")
    Job.objects.filter(id=job.id).update(task="machines.tasks.upload_process_task")
    with time_machine.travel(T0, tick=False) as clock:
        job_claim(job_id=job.id)
        clock.shift(settings.JOB_STALE_AFTER_SECONDS * 2)
        Job.objects.filter(id=job.id).update(heartbeat_at=T0 + timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS * 2))
        assert jobs_sweep_stale(stale_after_seconds=settings.JOB_STALE_AFTER_SECONDS) == 0
    assert Job.objects.get(id=job.id).status == "running"


def test_an_upload_left_processing_by_a_job_that_ended_does_not_hold_its_file(in_acme):
    machine_type_adopt(key=MOTOR)
    content = b"timestamp,amps\n2026-03-01T00:00:00Z,12.0\n2026-03-01T00:01:00Z,12.5\n"
    mapping = {"time_column": "timestamp", "machine_name": "Motor-9", "create_unknown_machines": True,
               "sensors": {"amps": "current_a"}}
    first = upload_create(chunks=[content], original_name="a.csv", machine_type_key=MOTOR, mapping=mapping)
    with pytest.raises(Conflict):  # while its job may still store it, the file is held
        upload_create(chunks=[content], original_name="a.csv", machine_type_key=MOTOR, mapping=mapping)
    # What a worker killed before this fix left behind: the job failed, the upload `processing`.
    Upload.objects.filter(id=first.id).update(status="processing")
    Job.objects.filter(id=first.job_id).update(status="failed")
    again = upload_create(chunks=[content], original_name="a.csv", machine_type_key=MOTOR, mapping=mapping)
    assert again.id != first.id and again.status == "queued"


def _job_files(schema: str, job_id: int) -> list[str]:
    root = tenant_path(schema)
    return sorted(str(p.relative_to(root)) for p in root.rglob(f"*job{job_id}-*"))


def test_a_failed_onboarding_leaves_no_datasets_files_or_models(in_acme, world):
    machine_type = machine_type_adopt(key=MOTOR)
    job, other = job_create(kind="models.onboard"), job_create(kind="models.onboard")
    table = simulate_fleet(machine_type.metadata, machines=10, seed=1)
    kept = dataset_store(machine_type=machine_type, source="simulated", table=table, job_id=other.id)
    dataset_store(machine_type=machine_type, source="simulated", table=table, job_id=job.id)
    artifact_write(f"synthesizers/{MOTOR}/{artifact_name('gaussian_copula-window', job_id=job.id)}.bin", b"fit")
    # A write cut short by the kill: the temporary name, never renamed.
    artifact_write(f"models/{MOTOR}/.{artifact_name('failure_classifier', job_id=job.id)}.zip.tmp", b"half")
    assert len(_job_files(in_acme.schema_name, job.id)) == 3
    with tenant_context(world.globex):  # job ids are per tenant: globex has a job of that number too
        artifact_write(f"datasets/{artifact_name('dataset', job_id=job.id)}.parquet", b"globex's")
    job_claim(job_id=job.id)
    job_fail(job_id=job.id, error="killed", message="Worker lost; please run the job again.")
    assert _job_files(in_acme.schema_name, job.id) == []
    assert len(_job_files(world.globex.schema_name, job.id)) == 1
    assert not machine_type.datasets.filter(job_id=job.id).exists()
    assert machine_type.datasets.filter(id=kept.id).exists() and _job_files(in_acme.schema_name, other.id)


def test_a_second_onboarding_of_a_type_is_refused_while_one_is_queued(client_for, world):
    with tenant_context(world.acme):
        machine_type_adopt(key=MOTOR)
    with tenant_context(world.globex):
        machine_type_adopt(key=MOTOR)
    owner = client_for("owner")
    first = owner.post("/api/v1/models/onboard/", {"machine_type": MOTOR, "machines": 10},
                       content_type="application/json")
    assert first.status_code == 202, first.content
    second = owner.post("/api/v1/models/onboard/", {"machine_type": MOTOR, "machines": 10},
                        content_type="application/json")
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "job_in_progress" and error["details"]["job_id"] == first.json()["id"]
    assert "already has an onboarding queued or running" in error["message"]
    assert client_for("viewer").post("/api/v1/models/onboard/", {"machine_type": MOTOR},
                                     content_type="application/json").status_code == 403
    # Another tenant's onboarding of the same type is its own business.
    globex = client_for("globex_owner", tenant=world.globex)
    assert globex.post("/api/v1/models/onboard/", {"machine_type": MOTOR, "machines": 10},
                       content_type="application/json").status_code == 202
    with tenant_context(world.acme):
        Job.objects.filter(id=first.json()["id"]).update(status="failed")
    again = owner.post("/api/v1/models/onboard/", {"machine_type": MOTOR, "machines": 10},
                       content_type="application/json")
    assert again.status_code == 202  # a failed onboarding does not block the next


def test_concurrent_onboardings_of_one_type_start_exactly_one(world, django_db_blocker):
    # Threads need committed rows, so this organization is committed: its name is its own (other
    # suites sign up theirs), and afterwards its queued job is failed, its message purged from the
    # broker and the organization deactivated (out of "every tenant" runs).
    with django_db_blocker.unblock():
        signed = tenant_signup(organization_name="Kramerica", slug="kramerica-recovery",
                               owner_email="owner@kramerica.test", owner_password="Correct-Horse-42")
        try:
            _concurrent_onboardings(signed.tenant)
        finally:
            with tenant_context(signed.tenant):
                Job.objects.exclude(status__in=Job.FINISHED).update(status=Job.Status.FAILED)
            tenant_deactivate(tenant=signed.tenant)
            celery_app.control.purge()  # the started onboarding's message: no later worker or queue count sees it


def _concurrent_onboardings(tenant) -> None:
    with tenant_context(tenant):
        machine_type = machine_type_adopt(key=MILL)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def start() -> None:
        with tenant_context(tenant):
            barrier.wait()
            try:
                with transaction.atomic():
                    onboarding_start(machine_type=machine_type, machines=10)
                outcomes.append("started")
            except JobBusy:
                outcomes.append("refused")
        thread_connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "refused", "refused", "started"]
    with tenant_context(tenant):
        assert Job.objects.filter(kind="models.onboard", status="queued").count() == 1


def test_system_checks_flag_recovery_settings_that_do_not_fit(settings):
    def ids() -> set[str]:
        return {message.id for message in run_checks() if message.id and message.id.startswith("jobs.")}

    assert ids() == set()  # the defaults fit
    settings.JOB_STALE_AFTER_SECONDS = 30  # two beats
    settings.JOB_SWEEP_SECONDS = 100
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
    assert ids() == {"jobs.W001", "jobs.W002", "jobs.E001"}
