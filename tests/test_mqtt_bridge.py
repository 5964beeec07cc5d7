"""Through a real Mosquitto and the real bridge process: per-tenant broker logins, the ACL that
keeps a tenant on its own topics, revocation, and a bridge that survives bad input."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from django.core.management import call_command
from django.test import override_settings
from django_tenants.utils import tenant_context
from prometheus_client.parser import text_string_to_metric_families

from machines.models import Machine, MachineType
from machines.selectors import readings_count
from machines.services import machine_create, machine_type_adopt
from tenants.models import MqttCredential
from tenants.mqtt import (
    mosquitto_password_check,
    mosquitto_password_hash,
    mqtt_credential_create,
    mqtt_credential_revoke,
)

from .live import free_port, process, wait_for

pytestmark = pytest.mark.live

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
TYPE_KEY = "induction-motor-siemens-1la7"
BRIDGE_PASSWORD = "bridge-" + uuid.uuid4().hex


@dataclass
class Broker:
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Login:
    username: str
    password: str


@pytest.fixture(scope="module")
def committed(world: Any, django_db_blocker: Any) -> Iterator[None]:
    """Autocommit access for the whole module: the broker and the bridge are shared by its tests."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def mqtt_files(committed: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("mqtt")
    values = {"PDM_MQTT_BRIDGE_USER": "pdm-bridge", "PDM_MQTT_BRIDGE_PASSWORD": BRIDGE_PASSWORD,
              "PDM_MQTT_PASSWORD_FILE": str(folder / "passwords"), "PDM_MQTT_ACL_FILE": str(folder / "acl")}
    with pytest.MonkeyPatch.context() as env, override_settings(**values):
        for name, value in values.items():
            env.setenv(name, value)  # for the bridge process
        yield folder


@pytest.fixture(scope="module")
def acme_login(world: Any, mqtt_files: Path) -> Iterator[Login]:
    credential, password = mqtt_credential_create(tenant=world.acme)
    yield Login(credential.username, password)
    MqttCredential.objects.filter(tenant__in=[world.acme, world.globex]).delete()


@pytest.fixture(scope="module")
def broker(mqtt_files: Path, acme_login: Login) -> Iterator[Broker]:
    call_command("mqtt_sync")
    port = free_port()
    config = mqtt_files / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npersistence false\n"
        f"password_file {mqtt_files / 'passwords'}\nacl_file {mqtt_files / 'acl'}\n"
        "user root\nlog_dest stderr\nlog_type all\n"  # as root mosquitto would switch to its own user
    )
    with process([MOSQUITTO, "-c", str(config)], log=mqtt_files / "mosquitto.log",
                 ready=lambda text: " running" in text, timeout=15) as (child, log):
        yield Broker(port=port, process=child, log=log)


@pytest.fixture(scope="module")
def bridge_metrics_port() -> int:
    """Where the bridge process serves its metrics (PDM_BRIDGE_METRICS_PORT)."""
    return free_port()


@pytest.fixture(scope="module")
def bridge(broker: Broker, bridge_metrics_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PDM_MQTT_PORT", str(broker.port))
        env.setenv("PDM_BRIDGE_METRICS_PORT", str(bridge_metrics_port))
        args = [_python(), "manage.py", "mqtt_bridge"]
        log = tmp_path_factory.mktemp("bridge") / "bridge.log"
        with process(args, log=log, ready=lambda text: "subscribed to pdm/+/readings" in text) as (_, path):
            yield path


@pytest.fixture(scope="module")
def machine_name(committed: None, world: Any) -> Iterator[str]:
    """A machine of the same name in acme and globex, so a reading that reached globex would be
    stored there (and the ACL test could fail)."""
    name = f"MQTT-{uuid.uuid4().hex[:8]}"
    for tenant in (world.acme, world.globex):
        with tenant_context(tenant):
            machine_type = MachineType.objects.filter(key=TYPE_KEY).first() or machine_type_adopt(key=TYPE_KEY)
            machine_create(machine_type_id=machine_type.id, name=name)
    yield name
    for tenant in (world.acme, world.globex):
        with tenant_context(tenant):
            Machine.objects.filter(name=name).delete()


def _python() -> str:
    import sys

    return sys.executable


def _connect(port: int, login: Login) -> tuple[mqtt.Client, Any]:
    """A connected (or refused) client and the CONNACK's reason code."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.username_pw_set(login.username, login.password)
    answered, reasons = threading.Event(), []

    def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        reasons.append(reason)
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert answered.wait(10), "no CONNACK"
    if reasons[0].is_failure:
        _close(client)
    return client, reasons[0]


def _close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def _refused(port: int, login: Login) -> bool:
    client, reason = _connect(port, login)
    if not reason.is_failure:
        _close(client)
    return bool(reason.is_failure)


def _publish(port: int, login: Login, topic: str, payload: str | bytes) -> None:
    client, reason = _connect(port, login)
    assert not reason.is_failure, f"{login.username} refused: {reason}"
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        _close(client)


def _readings(name: str, minute: int) -> str:
    return json.dumps([{"machine": name, "ts": f"2026-03-01T10:{minute:02d}:00Z", "values": {"current_a": 12.5}},
                       {"machine": name, "ts": f"2026-03-01T10:{minute:02d}:30Z", "values": {"current_a": 12.7}}])


def _count(tenant: Any, name: str) -> int:
    with tenant_context(tenant):
        return readings_count(machine_id=Machine.objects.get(name=name).id)


# --- The password format --------------------------------------------------------------------------


def test_password_hash_matches_mosquitto_passwd(tmp_path: Path) -> None:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed")
    file = tmp_path / "passwords"
    file.touch()
    subprocess.run([tool, "-b", str(file), "someone", "s3cret pass"], check=True)
    encoded = file.read_text().strip().partition(":")[2]
    salt = base64.b64decode(encoded.split("$")[3])
    assert mosquitto_password_hash("s3cret pass", salt=salt) == encoded
    assert mosquitto_password_check("s3cret pass", encoded)
    assert not mosquitto_password_check("wrong", encoded)


# --- Through the broker and the bridge -------------------------------------------------------------


def test_readings_published_by_a_tenant_are_stored_in_that_tenant(world, broker, bridge, acme_login, machine_name):
    before = _count(world.acme, machine_name)
    _publish(broker.port, acme_login, "pdm/acme/readings", _readings(machine_name, 1))
    wait_for(lambda: _count(world.acme, machine_name) == before + 2, timeout=20, what="readings in acme")
    assert "pdm/acme/readings: stored 2" in bridge.read_text()


def test_a_tenant_cannot_publish_to_another_tenants_topic(world, broker, bridge, acme_login, machine_name):
    globex_before, acme_before = _count(world.globex, machine_name), _count(world.acme, machine_name)
    _publish(broker.port, acme_login, "pdm/globex/readings", _readings(machine_name, 2))
    # A marker behind it on the same broker: once it is stored, the bridge saw everything before it.
    _publish(broker.port, acme_login, "pdm/acme/readings", _readings(machine_name, 3))
    wait_for(lambda: _count(world.acme, machine_name) == acme_before + 2, timeout=20, what="marker in acme")
    assert _count(world.globex, machine_name) == globex_before
    assert "pdm/globex/readings" not in bridge.read_text()
    assert "Denied PUBLISH" in broker.log.read_text()  # the ACL, not the bridge, stopped it


def test_a_wrong_password_is_refused(broker, acme_login):
    assert _refused(broker.port, Login(acme_login.username, acme_login.password + "x"))
    assert not _refused(broker.port, acme_login)


def test_a_revoked_credential_stops_working_after_mqtt_sync(world, broker, acme_login):
    credential, password = mqtt_credential_create(tenant=world.acme)
    login = Login(credential.username, password)
    assert login.username.startswith("acme-")  # "acme" is taken by the first login
    call_command("mqtt_sync", reload_pid=broker.process.pid)
    wait_for(lambda: not _refused(broker.port, login), timeout=10, what="the new login to work")
    mqtt_credential_revoke(tenant=world.acme, credential_id=credential.id)
    call_command("mqtt_sync", reload_pid=broker.process.pid)
    wait_for(lambda: _refused(broker.port, login), timeout=10, what="the revoked login to be refused")
    assert not _refused(broker.port, acme_login)  # the reload kept the others


def test_malformed_payloads_do_not_stop_the_bridge(world, broker, bridge, acme_login, machine_name):
    before = _count(world.acme, machine_name)
    _publish(broker.port, acme_login, "pdm/acme/readings", b"{not json")
    _publish(broker.port, acme_login, "pdm/acme/readings", b"\xff\xfe")
    _publish(broker.port, acme_login, "pdm/acme/readings", json.dumps({"readings": "nope"}))
    _publish(broker.port, acme_login, "pdm/acme/readings", _readings(machine_name, 4))
    wait_for(lambda: _count(world.acme, machine_name) == before + 2, timeout=20, what="the good batch")
    text = bridge.read_text()
    assert "pdm/acme/readings: message dropped: invalid JSON" in text
    assert "Send a JSON list of readings" in text


def test_rejections_are_reported_on_the_tenants_errors_topic(world, broker, bridge, acme_login, machine_name):
    client, reason = _connect(broker.port, acme_login)
    assert not reason.is_failure
    received: list[dict[str, Any]] = []
    subscribed, got = threading.Event(), threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = lambda c, u, message: (received.append(json.loads(message.payload)), got.set())
    try:
        client.subscribe("pdm/acme/errors", qos=1)
        assert subscribed.wait(10)
        bad = [{"machine": "no-such-machine", "ts": "2026-03-01T11:00:00Z", "values": {"current_a": 1}}]
        client.publish("pdm/acme/readings", json.dumps(bad), qos=1).wait_for_publish(10)
        assert got.wait(20), "no report on pdm/acme/errors"
    finally:
        _close(client)
    assert received[0]["rejected"] == [{"index": 0, "reason": "unknown machine 'no-such-machine'"}]


def test_non_finite_values_are_rejected_and_reported(world, broker, bridge, acme_login, machine_name):
    """NaN and Infinity literals (Python's json reads them), a number beyond a double (1e400)
    and strings spelling them: rejected readings, reported on the errors topic; the finite one
    is stored."""
    client, reason = _connect(broker.port, acme_login)
    assert not reason.is_failure
    received: list[dict[str, Any]] = []
    subscribed, got = threading.Event(), threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = lambda c, u, message: (received.append(json.loads(message.payload)), got.set())
    before = _count(world.acme, machine_name)
    values = ["NaN", "Infinity", "-Infinity", "1e400", '"inf"', '"nan"', "12.5"]
    payload = "[" + ", ".join(f'{{"machine": "{machine_name}", "ts": "2026-03-02T10:{minute:02d}:00Z", '
                              f'"values": {{"current_a": {value}}}}}' for minute, value in enumerate(values)) + "]"
    try:
        client.subscribe("pdm/acme/errors", qos=1)
        assert subscribed.wait(10)
        client.publish("pdm/acme/readings", payload, qos=1).wait_for_publish(10)
        assert got.wait(20), "no report on pdm/acme/errors"
    finally:
        _close(client)
    report = received[0]
    assert report["error"] is None and report["stored"] == 1
    assert [row["index"] for row in report["rejected"]] == [0, 1, 2, 3, 4, 5]
    assert all("not a finite number" in row["reason"] for row in report["rejected"])
    assert _count(world.acme, machine_name) == before + 1


# --- The bridge's metrics server (PDM_BRIDGE_METRICS_PORT) ----------------------------------------


def _bridge_metrics(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_bridge_serves_its_metrics(world: Any, broker: Broker, bridge: Path, bridge_metrics_port: int,
                                       acme_login: Login, machine_name: str) -> None:
    received: tuple[str, frozenset[tuple[str, str]]] = ("pdm_mqtt_messages_received_total", frozenset())
    invalid = ("pdm_mqtt_messages_rejected_total", frozenset({("reason", "invalid")}))
    unrouted = ("pdm_mqtt_messages_rejected_total", frozenset({("reason", "unrouted")}))
    rows = ("pdm_ingest_rows_stored_total", frozenset({("tenant", "acme")}))
    before = _bridge_metrics(bridge_metrics_port)
    assert before[unrouted] == 0 and invalid in before  # every reason is there from the start
    assert before.get(("process_resident_memory_bytes", frozenset()))
    _publish(broker.port, acme_login, "pdm/acme/readings", b"{not json")
    _publish(broker.port, acme_login, "pdm/acme/readings", _readings(machine_name, 5))

    def counted() -> bool:
        return _bridge_metrics(bridge_metrics_port).get(received, 0) >= before.get(received, 0) + 2

    wait_for(counted, timeout=20, what="both messages counted")
    after = _bridge_metrics(bridge_metrics_port)
    assert after[received] == before.get(received, 0) + 2
    assert after[invalid] == before[invalid] + 1
    assert after[unrouted] == 0
    # The readings went through readings_push, whose store counts them per tenant.
    assert after[rows] == before.get(rows, 0) + 2
