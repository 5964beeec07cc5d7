"""The MQTT bridge: readings published to `pdm/<slug>/readings` go into that tenant's store
through the same service as the streaming endpoint (`machines.live.readings_push`).

It lives in `machines` because what it does is feed machines their readings; it routes topic ->
tenant as the HTTP middleware does host -> tenant. The broker logins and ACL it relies on are
tenant-level and stay in tenants (tenants/mqtt.py). The broker already made sure the publisher
may write that topic, so the topic's slug is trusted.

Bad input never stops the loop: invalid JSON, an unknown or inactive tenant and rejected
readings are logged and, where a tenant is known, reported on `pdm/<slug>/errors`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import close_old_connections
from django_tenants.utils import tenant_context

from machines.live import readings_push
from pdm_saas.errors import ServiceError
from pdm_saas.monitoring.metrics import mqtt_bridge_metrics_prepare, mqtt_message_record
from pdm_saas.monitoring.worker import BRIDGE_PORT, metrics_server_start
from tenants.models import Tenant
from tenants.mqtt import BRIDGE_TOPIC, errors_topic
from tenants.selectors import tenant_by_slug

log = logging.getLogger(__name__)

TOPIC_RE = re.compile(r"^pdm/([a-z0-9][a-z0-9-]*)/readings$")
TENANT_CACHE_SECONDS = 30.0  # a deactivation reaches the bridge within this time


@dataclass
class Outcome:
    """What became of one message: `error` is None when the batch was accepted (even if some
    readings were rejected; those are in `rejected`)."""

    slug: str | None
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


class TenantCache:
    """slug -> active tenant, looked up at most every TENANT_CACHE_SECONDS per slug."""

    def __init__(self, ttl: float = TENANT_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Tenant | None]] = {}

    def get(self, slug: str) -> Tenant | None:
        now = time.monotonic()
        hit = self._entries.get(slug)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        tenant = tenant_by_slug(slug=slug)
        tenant = tenant if tenant is not None and tenant.is_active else None
        self._entries[slug] = (now, tenant)
        return tenant


def message_handle(*, topic: str, payload: bytes, tenants: TenantCache) -> Outcome:
    """Route one message to its tenant and store its readings there."""
    match = TOPIC_RE.match(topic)
    if match is None:
        return Outcome(slug=None, error=f"unexpected topic {topic!r}")
    slug = match.group(1)
    tenant = tenants.get(slug)
    if tenant is None:
        return Outcome(slug=None, error=f"no active tenant {slug!r}")  # no errors topic to answer on
    try:
        items = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Outcome(slug=slug, error=f"invalid JSON: {exc}")
    try:
        with tenant_context(tenant):
            result = readings_push(items=items)
    except ServiceError as exc:
        return Outcome(slug=slug, error=exc.message)
    return Outcome(slug=slug, stored=result.stored, duplicates=result.duplicates, rejected=result.rejected)


class Bridge:
    """The paho client and its callbacks. `run()` blocks, reconnecting whenever the broker goes."""

    def __init__(self) -> None:
        self.tenants = TenantCache()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pdm-mqtt-bridge",
                                  clean_session=False)  # QoS 1 messages wait at the broker while we restart
        self.client.username_pw_set(settings.PDM_MQTT_BRIDGE_USER, settings.PDM_MQTT_BRIDGE_PASSWORD)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def run(self) -> None:
        # Its own metrics server when PDM_BRIDGE_METRICS_PORT is set: messages received and
        # rejected, and the rows readings_push stored (pdm_ingest_rows_stored_total).
        if metrics_server_start(BRIDGE_PORT) is not None:
            mqtt_bridge_metrics_prepare()
        log.info("mqtt bridge: connecting to %s:%s as %s", settings.PDM_MQTT_HOST, settings.PDM_MQTT_PORT,
                 settings.PDM_MQTT_BRIDGE_USER)
        self.client.connect_async(settings.PDM_MQTT_HOST, settings.PDM_MQTT_PORT, keepalive=30)
        self.client.loop_forever(retry_first_connection=True)

    def stop(self) -> None:
        self.client.disconnect()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.error("mqtt bridge: connection refused: %s", reason)
            return
        client.subscribe(BRIDGE_TOPIC, qos=1)  # again on every reconnect

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        log.info("mqtt bridge: subscribed to %s (%s)", BRIDGE_TOPIC, ", ".join(map(str, reasons)))

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        log.warning("mqtt bridge: disconnected (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        close_old_connections()  # drop a connection the database closed while we waited
        try:
            outcome = message_handle(topic=message.topic, payload=bytes(message.payload), tenants=self.tenants)
        except Exception:  # a database outage or a bug must not end the loop for every tenant
            log.exception("mqtt bridge: %s: message dropped", message.topic)
            mqtt_message_record(rejected="error")
            return
        finally:
            close_old_connections()
        mqtt_message_record(rejected=None if outcome.error is None else
                            "unrouted" if outcome.slug is None else "invalid")
        self._report(message.topic, outcome)

    def _report(self, topic: str, outcome: Outcome) -> None:
        if outcome.error is not None:
            log.warning("mqtt bridge: %s: message dropped: %s", topic, outcome.error)
        else:
            log.info("mqtt bridge: %s: stored %d, duplicates %d, rejected %d", topic, outcome.stored,
                     outcome.duplicates, len(outcome.rejected))
        if outcome.slug is not None and (outcome.error or outcome.rejected):
            body = {"error": outcome.error, "stored": outcome.stored, "rejected": outcome.rejected[:100]}
            self.client.publish(errors_topic(outcome.slug), json.dumps(body), qos=0)
