"""The ML engine through real processes: onboarding as a job on a real Celery worker with its
progress on the row, scheduled fleet scoring sent to the tenant, and its `machine.health` event
arriving over a real WebSocket from a real ASGI server."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
import redis
import websockets
from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.services import api_key_create
from jobs.models import Job
from machines.live import readings_push
from machines.services import machine_create, machine_type_adopt
from pdm_saas.celery import tenant_task_send
from predictions.models import Prediction
from predictions.tasks import fleet_score_task
from tenants.services import tenant_signup
from tests.conftest import reading_after_last
from tests.live import free_port, port_listening, process, python_bin, wait_for
from tests.predictions.conftest import failing_run_readings

pytestmark = pytest.mark.live
TYPE = "ai4i-milling-machine"


@pytest.fixture(scope="module")
def initech(world, django_db_blocker):
    """A tenant of its own (committed), so what the worker trains stays out of acme and globex."""
    with django_db_blocker.unblock():
        signed = tenant_signup(organization_name="Initech", slug="initech", owner_email="owner@initech.test",
                               owner_password="Correct-Horse-42")
        with tenant_context(signed.tenant):
            machine_type = machine_type_adopt(key=TYPE)
            machine_create(machine_type_id=machine_type.id, name="Mill-1")
            readings_push(items=failing_run_readings(machine_type.metadata, "Mill-1"))
        key = api_key_create(tenant=signed.tenant, name="ml", scopes=["read", "write", "predict"],
                             created_by_id=None)
        return signed.tenant, key.raw


@pytest.fixture(scope="module")
def services(initech, django_db_blocker, tmp_path_factory):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    logs = tmp_path_factory.mktemp("engine")
    port = free_port()
    worker = [python_bin("celery"), "-A", "pdm_saas", "worker", "-Q", "train,score", "-P", "solo", "-l", "info",
              "--without-gossip", "--without-mingle", "--without-heartbeat"]
    asgi = [python_bin("daphne"), "-b", "127.0.0.1", "-p", str(port), "pdm_saas.asgi:application"]
    with django_db_blocker.unblock(), process(worker, log=logs / "worker.log", ready=lambda t: " ready." in t), \
            process(asgi, log=logs / "daphne.log", ready=lambda _: port_listening(port)):
        yield port


def test_onboarding_runs_on_the_worker_with_progress_and_scores_the_fleet(initech, services, django_db_blocker):
    tenant, secret = initech
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")
    with django_db_blocker.unblock():
        queued = client.post("/api/v1/models/onboard/", {"machine_type": TYPE, "machines": 12, "horizon_h": 12},
                             content_type="application/json")
        assert queued.status_code == 202, queued.content
        job_id = queued.json()["id"]
        seen: set[int] = set()

        def finished() -> bool:
            with tenant_context(tenant):
                job = Job.objects.get(id=job_id)
            seen.add(job.progress)
            return job.is_finished

        wait_for(finished, timeout=240, what="the onboarding job")
        with tenant_context(tenant):
            job = Job.objects.get(id=job_id)
            assert job.status == "succeeded", job.error
            assert any(0 < p < 100 for p in seen), seen  # progress moved while the job ran
            assert {m["kind"] for m in job.result["models"]} == {
                "failure_classifier", "rul_regressor", "anomaly_detector", "sensor_forecaster"}
            assert Prediction.objects.filter(machine__name="Mill-1", source="onboarding").count() == 1
        listing = client.get("/api/v1/predictions/?machine__name=Mill-1").json()
        assert listing["count"] == 1 and listing["results"][0]["explanation"]["top_factors"]


def test_scheduled_scoring_pushes_machine_health_to_the_live_channel(initech, services, django_db_blocker):
    tenant, secret = initech
    port = services
    received: list[dict[str, Any]] = []
    connected = threading.Event()

    async def listen() -> None:
        async with websockets.connect(f"ws://localhost:{port}/ws/live/", host="127.0.0.1", port=port,
                                      open_timeout=10,
                                      additional_headers={"Authorization": f"Bearer {secret}"}) as ws:
            received.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=10)))  # hello
            connected.set()
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
                if event["type"] == "machine.health":
                    received.append(event)
                    return

    listener = threading.Thread(target=lambda: asyncio.run(listen()), daemon=True)
    listener.start()
    assert connected.wait(15), "the WebSocket did not connect"
    with django_db_blocker.unblock(), tenant_context(tenant):
        before = Prediction.objects.filter(source="scheduled").count()
        reading_after_last("Mill-1")  # beat's run scores what is new
        tenant_task_send(fleet_score_task, args=[], queue="score")  # what beat's dispatcher sends
        wait_for(lambda: Prediction.objects.filter(source="scheduled").count() > before, timeout=60,
                 what="a scheduled prediction")
    listener.join(timeout=60)
    assert received[0]["type"] == "hello" and received[-1]["type"] == "machine.health", received
    health = received[-1]["machine"]
    assert 0 <= health["health"] <= 100 and 0 <= health["failure_probability"] <= 1
