"""Prometheus monitoring: `/metrics` and its protection, the application's metrics recorded by the
real code paths (requests, scoring through the API, ingest, the broker's queues, what scheduled
scoring should score), and real worker and beat processes exposing their own metrics over HTTP."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import Job
from jobs.services import job_claim, job_create, job_enqueue, jobs_sweep_stale
from jobs.tasks import tenant_probe_task
from machines.live import readings_push
from machines.models import Machine, MachineType
from machines.services import machine_create, machine_delete, machine_type_adopt
from pdm_saas.celery import app as celery_app
from pdm_saas.monitoring.fleet import scheduled_scoring_observe, scorable_machines_count
from predictions.models import Dataset, ModelVersion
from tenants.models import Tenant
from tenants.selectors import tenant_active_list
from tests.billing.conftest import usage_set
from tests.conftest import MOTOR, TRAINED_TYPE

from .live import child_env, free_port, port_listening, process, python_bin, wait_for

JSON = "application/json"
TOKEN = "metrics-test-token-0123456789"


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _parsed(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(text: str, name: str, **labels: str) -> float | None:
    return _parsed(text).get((name, frozenset(labels.items())))


@pytest.fixture
def public(db: None, world: Any) -> Client:
    return Client(HTTP_HOST="localhost")


# --- Access --------------------------------------------------------------------------------------


def test_with_a_token_only_the_token_is_served(public: Client, settings: Any) -> None:
    settings.PDM_METRICS_TOKEN = TOKEN
    refused = public.get("/metrics")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert "PDM_METRICS_TOKEN" in refused.json()["error"]["message"]
    assert public.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 401
    # An API key is not the metrics token either (and is not routed to its tenant here).
    assert public.get("/metrics", HTTP_AUTHORIZATION="Bearer pdm_abc_def").status_code == 401
    served = public.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR="8.8.8.8")
    assert served.status_code == 200 and served["Content-Type"].startswith("text/plain")
    assert b"pdm_http_request_duration_seconds" in served.content


def test_without_a_token_only_private_direct_clients_are_served(public: Client, settings: Any) -> None:
    settings.PDM_METRICS_TOKEN = ""
    assert public.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert public.get("/metrics", REMOTE_ADDR="10.0.3.7").status_code == 200
    assert public.get("/metrics", REMOTE_ADDR="8.8.8.8").status_code == 403
    # A proxy in front: its private address says nothing about the client behind it.
    forwarded = public.get("/metrics", HTTP_X_FORWARDED_FOR="8.8.8.8")
    assert forwarded.status_code == 403 and "PDM_METRICS_TOKEN" in forwarded.json()["error"]["message"]


def test_tenant_hosts_do_not_serve_metrics(client_for: Any, settings: Any) -> None:
    settings.PDM_METRICS_TOKEN = TOKEN
    response = client_for("owner").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 404


# --- What the web process records -----------------------------------------------------------------


def test_requests_are_timed_per_route_method_and_status(public: Client, settings: Any) -> None:
    settings.PDM_METRICS_TOKEN = ""
    labels = {"view": "healthz", "method": "GET", "status": "200"}
    before = _sample("pdm_http_request_duration_seconds_count", **labels)
    assert public.get("/healthz").status_code == 200
    text = public.get("/metrics").content.decode()
    assert _value(text, "pdm_http_request_duration_seconds_count", **labels) == before + 1
    assert _value(text, "django_http_requests_latency_seconds_by_view_method_count", view="healthz", method="GET")


def test_predictions_are_counted_per_tenant_with_their_scores(trained_motor: Any, client_for: Any,
                                                               settings: Any) -> None:
    settings.PDM_METRICS_TOKEN = TOKEN
    before = _sample("pdm_predictions_stored_total", tenant="acme")
    scored = _sample("pdm_prediction_failure_probability_count", machine_type=TRAINED_TYPE)
    response = client_for("engineer").post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type=JSON)
    assert response.status_code == 201, response.content
    text = Client(HTTP_HOST="localhost").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert _value(text, "pdm_predictions_stored_total", tenant="acme") == before + 1
    assert _value(text, "pdm_prediction_failure_probability_count", machine_type=TRAINED_TYPE) == scored + 1
    assert _value(text, "pdm_prediction_health_score_count", machine_type=TRAINED_TYPE)
    # The observation landed in the bucket of the probability the API returned.
    probability = response.json()["probability"]
    bucket = _value(text, "pdm_prediction_failure_probability_bucket", machine_type=TRAINED_TYPE,
                    le="1.0" if probability > 0.99 else "0.99")
    assert bucket and bucket >= 1


def test_stored_readings_are_counted(client_for: Any, motor: Any, settings: Any) -> None:
    settings.PDM_METRICS_TOKEN = ""
    before = _sample("pdm_ingest_rows_stored_total", tenant="acme")
    body = {"readings": [{"machine": "Motor-001", "ts": f"2026-11-27T10:0{minute}:00Z",
                          "values": {"current_a": 12.0 + minute}} for minute in range(4)]}
    response = client_for("engineer").post("/api/v1/readings/", body, content_type=JSON)
    assert response.status_code == 200 and response.json()["stored"] == 4, response.content
    text = Client(HTTP_HOST="localhost").get("/metrics").content.decode()
    assert _value(text, "pdm_ingest_rows_stored_total", tenant="acme") == before + 4


def test_queue_depth_reflects_messages_in_the_broker(public: Client, settings: Any) -> None:
    settings.PDM_METRICS_TOKEN = ""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("synth", "notify")
    try:
        for _ in range(3):
            celery_app.send_task("metrics.test.never_run", queue="synth")
        celery_app.send_task("metrics.test.never_run", queue="notify", priority=9)  # its own list
        text = public.get("/metrics").content.decode()
        assert _value(text, "pdm_queue_depth", queue="synth") == 3
        assert _value(text, "pdm_queue_depth", queue="notify") == 1
        assert _value(text, "pdm_queue_depth", queue="train") == 0
    finally:
        broker.delete("synth", "notify", "notify\x06\x169")


def test_jobs_the_sweeper_fails_are_counted_as_stale(db: None, in_acme: Any) -> None:
    labels = {"kind": "metrics-sweep", "outcome": "stale"}
    before = _sample("pdm_jobs_finished_total", **labels)
    alive, dead = job_create(kind="metrics-sweep"), job_create(kind="metrics-sweep")
    job_claim(job_id=alive.id)
    job_claim(job_id=dead.id)
    Job.objects.filter(id=dead.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert jobs_sweep_stale(stale_after_seconds=600) == 1
    assert _sample("pdm_jobs_finished_total", **labels) == before + 1  # the live one is not counted
    assert _sample("pdm_jobs_finished_total", kind="metrics-sweep", outcome="failed") == 0
    assert Job.objects.get(id=dead.id).status == "failed"


# --- What scheduled scoring should score ------------------------------------------------------------

PUMP = "centrifugal-pump"
FINGERPRINT = "metrics-test-champion"  # marks the champion these tests make up
FLEET = {  # globex's machines: (type, readings, status); only G-1 and G-2 are scorable
    "G-1": (MOTOR, True, Machine.Status.ACTIVE),
    "G-2": (MOTOR, True, Machine.Status.ACTIVE),
    "G-idle": (MOTOR, True, Machine.Status.INACTIVE),  # not active
    "G-new": (MOTOR, False, Machine.Status.ACTIVE),  # no readings yet
    "G-pump": (PUMP, True, Machine.Status.ACTIVE),  # its type has no champion
}


def _first_numeric_sensor(machine_type: MachineType) -> str:
    return str(next(s["name"] for s in machine_type.sensors if s["kind"] == "numeric"))


def _fleet_create(tenant: Tenant) -> list[str]:
    """FLEET in `tenant`, and a type-wide champion failure classifier for the motor type; the keys
    of the types it adopted. The champion has no artifact: scoring it fails, after the run has
    said what it should score."""
    with tenant_context(tenant):
        adopted = [key for key in (MOTOR, PUMP) if not MachineType.objects.filter(key=key).exists()]
        types = {key: machine_type_adopt(key=key) if key in adopted else MachineType.objects.get(key=key)
                 for key in (MOTOR, PUMP)}
        ModelVersion.objects.create(
            machine_type=types[MOTOR], kind=ModelVersion.Kind.FAILURE_CLASSIFIER, number=1,
            status=ModelVersion.Status.CHAMPION, data_source=Dataset.Source.SIMULATED, data_fingerprint=FINGERPRINT,
            artifact_path="metrics-test/no-such.bundle", artifact_sha256="0" * 64)
        for name, (key, _, _) in FLEET.items():
            machine_create(machine_type_id=types[key].id, name=name)
        pushed = readings_push(items=[
            {"machine": name, "ts": "2026-11-27T10:00:00Z", "values": {_first_numeric_sensor(types[key]): 1.0}}
            for name, (key, readings, _) in FLEET.items() if readings])
        assert not pushed.rejected, pushed.rejected
        for name, (_, _, status) in FLEET.items():
            Machine.objects.filter(name=name).update(status=status)
    return adopted


def _fleet_remove(tenant: Tenant, adopted: list[str]) -> None:
    with tenant_context(tenant):
        for machine_id in Machine.objects.filter(name__in=FLEET).values_list("id", flat=True):
            machine_delete(machine_id=machine_id)
        ModelVersion.objects.filter(data_fingerprint=FINGERPRINT).delete()
        MachineType.objects.filter(key__in=adopted).delete()


def test_scorable_machines_are_active_with_a_champion_and_readings(db: None, world: Any) -> None:
    _fleet_create(world.globex)
    with tenant_context(world.globex):
        assert scorable_machines_count() == 2
        started = timezone.now().timestamp()
        scheduled_scoring_observe(read_only=False)
    assert _sample("pdm_machines_scorable", tenant="globex") == 2
    assert started <= _sample("pdm_scoring_last_run_timestamp_seconds", tenant="globex") <= timezone.now().timestamp()
    # Scoring skips a read-only tenant on purpose: nothing it should score, nothing to alert on.
    with tenant_context(world.globex):
        scheduled_scoring_observe(read_only=True)
    assert _sample("pdm_machines_scorable", tenant="globex") == 0


def _new_in_acme(trained_motor: Any, name: str) -> int:
    """A machine of acme's trained type with a reading no prediction has read: new to score."""
    machine = machine_create(machine_type_id=trained_motor.machine_type_id, name=name)
    assert not readings_push(items=[{"machine": name, "ts": "2026-11-27T10:00:00Z",
                                     "values": {"current_a": 40.0}}]).rejected
    return machine.id


def test_a_tenant_out_of_predictions_has_nothing_to_score(db: None, trained_motor: Any, world: Any, in_acme: Any,
                                                         settings: Any) -> None:
    settings.BILLING_QUOTAS_ENABLED = True
    _new_in_acme(trained_motor, "ABB-491")
    usage_set(world.acme.id, 1000)  # the trial's included predictions, all used
    scheduled_scoring_observe(read_only=False)
    assert _sample("pdm_machines_scorable", tenant="acme") == 0
    usage_set(world.acme.id, 0)
    scheduled_scoring_observe(read_only=False)
    assert _sample("pdm_machines_scorable", tenant="acme") == scorable_machines_count() >= 1  # ABB-491


# --- Real worker and beat processes ---------------------------------------------------------------


@pytest.fixture
def committed(world: Any, django_db_blocker: Any) -> Iterator[None]:
    """Autocommit database access: rows are visible to the worker process at once."""
    with django_db_blocker.unblock():
        yield


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


@pytest.mark.live
def test_a_prefork_worker_reports_its_tasks_over_http(world: Any, committed: None, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    port, folder = free_port(), tmp_path / "multiproc"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"stale")  # a previous run's file: removed at start
    monkeypatch.setenv("PDM_WORKER_METRICS_PORT", str(port))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    # The production pool: prefork, tasks in a child process (docker/compose.yaml).
    args = [python_bin("celery"), "-A", "pdm_saas", "worker", "-Q", "default", "-P", "prefork", "-c", "1",
            "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with process(args, log=tmp_path / "worker.log", ready=lambda text: " ready." in text):
        wait_for(lambda: _port_answers(port), timeout=20, what="worker metrics")
        with tenant_context(world.acme):
            job = job_create(kind="probe")
            job_enqueue(job=job, task=tenant_probe_task)
        # A task that raises: the job id is no id at all.
        tenant_probe_task.apply_async(args=["not-an-id"], queue="default", headers={"_schema_name": "t_acme"})
        task = {"task": "jobs.tasks.tenant_probe_task", "queue": "default"}
        wait_for(lambda: _value(_scrape(port), "pdm_celery_task_duration_seconds_count", **task) == 2,
                 timeout=60, what="both tasks to be reported")
        text = _scrape(port)
    with tenant_context(world.acme):
        assert Job.objects.get(id=job.id).status == "succeeded"
    assert _value(text, "pdm_celery_task_duration_seconds_count", **task) == 2
    assert _value(text, "pdm_celery_task_failures_total", **task) == 1
    assert _value(text, "pdm_celery_tasks_finished_total", state="SUCCESS", **task) == 1
    assert _value(text, "pdm_celery_tasks_finished_total", state="FAILURE", **task) == 1
    assert _value(text, "pdm_jobs_finished_total", kind="probe", outcome="succeeded") == 1
    assert _value(text, "process_resident_memory_bytes")  # the parent's own process metrics


@pytest.mark.live
def test_a_prefork_worker_without_a_multiprocess_folder_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDM_WORKER_METRICS_PORT", str(free_port()))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    args = [python_bin("celery"), "-A", "pdm_saas", "worker", "-Q", "default", "-P", "prefork", "-c", "1",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    done = subprocess.run(args, cwd=Path(__file__).resolve().parent.parent, env=child_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR" in done.stdout + done.stderr


@pytest.mark.live
def test_beat_exposes_its_liveness(world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("PDM_BEAT_METRICS_PORT", str(port))
    args = [python_bin("celery"), "-A", "pdm_saas", "beat", "-l", "info", "--schedule", str(tmp_path / "schedule")]
    with process(args, log=tmp_path / "beat.log", ready=lambda text: "beat: Starting" in text):
        wait_for(lambda: _port_answers(port), timeout=20, what="beat metrics")
        text = _scrape(port)
    assert _value(text, "pdm_beat_started_timestamp_seconds")
    assert _value(text, "pdm_beat_last_publish_timestamp_seconds")
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()  # whatever beat sent


@pytest.mark.live
def test_a_scheduled_scoring_run_reports_what_each_tenant_should_score(
        world: Any, trained_motor: Any, committed: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Beat's real message, fanned out by the dispatcher, scored by a prefork worker (two pool
    processes, so the tenants' runs may land in different ones): each tenant's gauge has its own
    count. Acme scores ABB-492 (new readings) for real; globex's champion has no artifact, so its run fails after
    reporting 2 scorable machines: the very case PdmNoPredictionsStored is for."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    port, folder = free_port(), tmp_path / "multiproc"
    folder.mkdir()
    monkeypatch.setenv("PDM_WORKER_METRICS_PORT", str(port))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    adopted = _fleet_create(world.globex)
    with tenant_context(world.acme):
        new = _new_in_acme(trained_motor, "ABB-492")  # a scheduled run scores what is new
    try:
        tenants = tenant_active_list().count()
        args = [python_bin("celery"), "-A", "pdm_saas", "worker", "-Q", "default,score", "-P", "prefork", "-c", "2",
                "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        with process(args, log=tmp_path / "worker.log", ready=lambda text: " ready." in text):
            wait_for(lambda: _port_answers(port), timeout=20, what="worker metrics")
            started = timezone.now().timestamp()
            schedule = celery_app.conf.beat_schedule["score-fleet"]  # what beat publishes
            celery_app.send_task(schedule["task"], args=schedule["args"])
            task = "predictions.tasks.fleet_score_task"

            def all_tenants_scored() -> bool:
                text = _scrape(port)
                return sum(value for (name, labels), value in _parsed(text).items()
                           if name == "pdm_celery_tasks_finished_total" and ("task", task) in labels) == tenants

            wait_for(all_tenants_scored, timeout=180, what=f"{tenants} scheduled scoring runs")
            text = _scrape(port)
    finally:
        _fleet_remove(world.globex, adopted)
        with tenant_context(world.acme):
            left = scorable_machines_count()
            machine_delete(machine_id=new)
    finished = timezone.now().timestamp()
    assert _value(text, "pdm_machines_scorable", tenant="globex") == 2
    assert _value(text, "pdm_predictions_stored_total", tenant="globex") is None
    assert _value(text, "pdm_celery_tasks_finished_total", task=task, queue="score", state="FAILURE") == 1
    acme = _value(text, "pdm_machines_scorable", tenant="acme")
    assert acme and acme >= 1  # ABB-492, and whatever else in acme has readings no prediction read
    # What acme should score is what its run scored: none of globex's machines leaked in.
    assert _value(text, "pdm_predictions_stored_total", tenant="acme") == acme
    assert left == 0  # the run scored everything new: nothing is left to score
    for tenant in ("acme", "globex"):
        ran = _value(text, "pdm_scoring_last_run_timestamp_seconds", tenant=tenant)
        assert ran and started <= ran <= finished, tenant


def _port_answers(port: int) -> bool:
    try:
        _scrape(port)
        return True
    except OSError:
        return False



@pytest.mark.live
def test_daphne_serves_metrics_with_the_token_and_times_requests(world: Any, committed: None, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """As deployed: ASGI under daphne, the token required, request timing recorded per route."""
    port = free_port()
    monkeypatch.setenv("PDM_METRICS_TOKEN", "scrape-secret")
    args = [python_bin("daphne"), "-b", "127.0.0.1", "-p", str(port), "pdm_saas.asgi:application"]

    def get(path: str, token: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": "localhost"})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""

    with process(args, log=tmp_path / "daphne.log", ready=lambda _: port_listening(port)):
        assert get("/healthz")[0] == 200
        assert get("/metrics")[0] == 401 and get("/metrics", "wrong")[0] == 401
        status, text = get("/metrics", "scrape-secret")
    assert status == 200
    assert (_value(text, "pdm_http_request_duration_seconds_count", view="healthz", method="GET", status="200")
            or 0) >= 1
