"""A real Celery worker killed by a real SIGKILL in the middle of a job; then a restarted worker
and the sweeper. Short settings: the worker beats every second and the sweeper here calls a job
dead after 3 s of silence (the defaults are 15 s and 75 s; test_job_recovery.py pins those)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import redis
from django.conf import settings
from django_tenants.utils import tenant_context

from jobs.models import Job
from jobs.services import JobBusy, jobs_sweep_stale
from machines.models import Machine, MachineType, Upload
from machines.selectors import readings_count
from machines.services import machine_type_adopt
from machines.uploads import upload_create
from predictions.models import Dataset, ModelVersion
from predictions.services.training import onboarding_start
from tenants.services import tenant_signup
from tenants.storage import tenant_path

from .live import process, python_bin, wait_for

pytestmark = pytest.mark.live

MOTOR = "induction-motor-siemens-1la7"
MILL = "ai4i-milling-machine"
STALE_AFTER = 3
ROWS = 1_200_000  # several seconds of ingest: long enough to be killed in the middle


@pytest.fixture(scope="module")
def hooli(world, django_db_blocker):
    """A tenant of its own (committed): what these tests load and train stays out of acme and globex."""
    with django_db_blocker.unblock():
        return tenant_signup(organization_name="Hooli", slug="hooli", owner_email="owner@hooli.test",
                             owner_password="Correct-Horse-42").tenant


@pytest.fixture
def committed(hooli, django_db_blocker, monkeypatch):
    """Autocommit, a clean broker, and workers that beat every second."""
    monkeypatch.setenv("JOB_HEARTBEAT_SECONDS", "1")
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    with django_db_blocker.unblock():
        yield hooli


@contextmanager
def worker(log: Path, queues: str) -> Iterator:
    args = [python_bin("celery"), "-A", "pdm_saas", "worker", "-Q", queues, "-P", "solo", "-l", "info",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with process(args, log=log, ready=lambda text: " ready." in text) as (child, _):
        yield child


def kill(child) -> None:
    child.send_signal(signal.SIGKILL)  # no chance to clean up, as with OOM or a lost host
    child.wait(timeout=10)


def kill_mid_upload(child, tenant, job_id: int) -> None:
    """Once rows are being stored (progress shows, the transaction is open), kill the worker."""
    wait_for(lambda: job_of(tenant, job_id).progress > 0, timeout=60, what="the upload to store rows")
    kill(child)
    killed = job_of(tenant, job_id)
    assert killed.status == "running" and killed.progress < 100, "the upload finished before the kill"


def job_of(tenant, job_id: int) -> Job:
    with tenant_context(tenant):
        return Job.objects.get(id=job_id)


def sweep_until_recovered(tenant, job_id: int, *, timeout: float) -> None:
    """What beat does every JOB_SWEEP_SECONDS, here every half second."""
    def recovered() -> bool:
        with tenant_context(tenant):
            jobs_sweep_stale(stale_after_seconds=STALE_AFTER)
            return Job.objects.get(id=job_id).status != "running"

    wait_for(recovered, timeout=timeout, what=f"the sweeper to recover job {job_id}")


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> bytes:
    minutes = np.arange(ROWS)
    stamps = np.datetime64("2025-01-01T00:00:00") + minutes.astype("timedelta64[m]")
    lines = [f"{stamp}Z,{12 + (i % 50) / 10:.1f},{70 + (i % 30) / 10:.1f},1.2"
             for i, stamp in enumerate(stamps.astype(str))]
    return ("timestamp,Current (A),Winding temp,Vibration\n" + "\n".join(lines) + "\n").encode()


def _upload(tenant, content: bytes, machine_name: str) -> Upload:
    mapping = {"time_column": "timestamp", "machine_name": machine_name, "create_unknown_machines": True,
               "sensors": {"Current (A)": "current_a", "Winding temp": "winding_temp_c",
                           "Vibration": "vibration_de_mm_s"}}
    with tenant_context(tenant):
        if not MachineType.objects.filter(key=MOTOR).exists():
            machine_type_adopt(key=MOTOR)
        return upload_create(chunks=[content], original_name="history.csv", machine_type_key=MOTOR, mapping=mapping)


def _readings_of(tenant, machine_name: str) -> int:
    with tenant_context(tenant):
        machine = Machine.objects.filter(name=machine_name).first()
        return 0 if machine is None else readings_count(machine_id=machine.id)


def test_an_upload_whose_worker_was_killed_is_requeued_and_loads_on_a_restarted_worker(
        committed, big_file, tmp_path):
    tenant = committed
    upload = _upload(tenant, big_file, "Motor-Requeued")
    with worker(tmp_path / "first.log", "ingest") as child:
        kill_mid_upload(child, tenant, upload.job_id)
    killed_at = time.monotonic()
    assert job_of(tenant, upload.job_id).status == "running"  # nothing marked it yet
    assert _readings_of(tenant, "Motor-Requeued") == 0  # all or nothing: the transaction died with it
    with worker(tmp_path / "second.log", "ingest"):
        sweep_until_recovered(tenant, upload.job_id, timeout=60)
        wait_for(lambda: job_of(tenant, upload.job_id).is_finished, timeout=120, what="the requeued upload")
    recovered_in = time.monotonic() - killed_at
    job = job_of(tenant, upload.job_id)
    assert (job.status, job.attempts) == ("succeeded", 2), job.error
    with tenant_context(tenant):
        assert Upload.objects.get(id=upload.id).status == "succeeded"
    assert _readings_of(tenant, "Motor-Requeued") == ROWS
    assert recovered_in < 120


def test_an_upload_that_dies_on_its_last_attempt_fails_and_the_same_file_can_be_sent_again(
        committed, big_file, tmp_path):
    tenant = committed
    upload = _upload(tenant, big_file, "Motor-Resent")
    with tenant_context(tenant):
        Job.objects.filter(id=upload.job_id).update(attempts=2)  # two workers died under it already
    with worker(tmp_path / "first.log", "ingest") as child:
        kill_mid_upload(child, tenant, upload.job_id)
    sweep_until_recovered(tenant, upload.job_id, timeout=60)
    failed = job_of(tenant, upload.job_id)
    assert failed.status == "failed" and failed.message == "Worker lost; please run the job again."
    with tenant_context(tenant):
        assert Upload.objects.get(id=upload.id).status == "failed"
    again = _upload(tenant, big_file, "Motor-Resent")  # not refused as a duplicate
    with worker(tmp_path / "second.log", "ingest"):
        wait_for(lambda: job_of(tenant, again.job_id).is_finished, timeout=120, what="the second upload")
    assert job_of(tenant, again.job_id).status == "succeeded"
    assert _readings_of(tenant, "Motor-Resent") == ROWS


def _artifacts(tenant, job_id: int) -> list[Path]:
    """Every file the job wrote: named after it, or recorded on its rows."""
    with tenant_context(tenant):
        root = tenant_path(tenant.schema_name)
        recorded = [*Dataset.objects.filter(job_id=job_id).values_list("stored_path", flat=True),
                    *ModelVersion.objects.filter(job_id=job_id).values_list("artifact_path", flat=True),
                    *(d.params["synthesizer"]["artifact_path"] for d in Dataset.objects.filter(job_id=job_id)
                      if d.params.get("synthesizer"))]
        return sorted({*root.rglob(f"*job{job_id}-*"), *(root / path for path in recorded)})


def test_an_onboarding_killed_midway_fails_removes_what_it_wrote_and_holds_its_type_meanwhile(
        committed, tmp_path):
    tenant = committed
    with tenant_context(tenant):
        machine_type = MachineType.objects.filter(key=MILL).first() or machine_type_adopt(key=MILL)
        job = onboarding_start(machine_type=machine_type, machines=10)
    with worker(tmp_path / "train.log", "train,score") as child:
        wait_for(lambda: job_of(tenant, job.id).progress >= 25, timeout=240, what="the onboarding to pass 25%")
        with tenant_context(tenant):
            with pytest.raises(JobBusy, match="already has an onboarding queued or running"):
                onboarding_start(machine_type=machine_type, machines=10)
            assert Dataset.objects.filter(job_id=job.id).count() == 2  # simulated and synthesized
        written = _artifacts(tenant, job.id)
        assert written and all(path.exists() for path in written)
        kill(child)
    sweep_until_recovered(tenant, job.id, timeout=60)
    assert job_of(tenant, job.id).status == "failed"  # training is not retried (docs/jobs.md)
    with tenant_context(tenant):
        assert not Dataset.objects.filter(job_id=job.id).exists()
        assert not ModelVersion.objects.filter(job_id=job.id).exists()
    assert [path for path in written if path.exists()] == []
    assert _artifacts(tenant, job.id) == []
    with tenant_context(tenant):
        retry = onboarding_start(machine_type=machine_type, machines=10)  # the type is free again
        Job.objects.filter(id=retry.id).update(status="canceled")
