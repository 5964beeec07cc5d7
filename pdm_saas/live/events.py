"""The live channel's event contract and how to publish to it.

Every WebSocket connection joins one group per tenant, `tenant.<schema>`; nothing is ever sent
to a group without the schema in its name. Events are JSON objects with a `type` and an `id`
(the position of the event in the tenant's short replay stream, `pdm_saas/live/replay.py`):

- `hello`: `{"type": "hello", "tenant": "<slug>", "last_id": "<id>" | null}`, sent once on
  connect; `last_id` is where the stream stood, to send back as `?since=` on reconnect.
- `job.progress`: `{"type": "job.progress", "id", "job": {"id", "kind", "status", "progress",
  "message", "error", "updated_at"}}`, on every change of a Job row.
- `machine.health`: `{"type": "machine.health", "id", "machine": {"id", "health",
  "failure_probability", "rul", "time_unit", "anomaly", "failure_mode", "predicted_failure",
  "prediction_id", "scored_at"}}`, when scoring updates a machine; `rul` is in `time_unit`,
  "h" or "cycles" (cycle-indexed data).
- `resync`: `{"type": "resync"}`, after a reconnect whose missed events are no longer kept:
  reload state from the API.

Control messages (`live.recheck`) go to the same group but never reach clients: each socket
re-checks its access and closes with 4403 if it has lost it.

docs/architecture.md repeats this contract for client authors.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from pdm_saas.live.publisher import in_request, publisher
from pdm_saas.live.replay import stream_append

logger = logging.getLogger(__name__)

JOB_PROGRESS = "job.progress"
MACHINE_HEALTH = "machine.health"
RESYNC = "resync"


def tenant_group(schema_name: str) -> str:
    return f"tenant.{schema_name}"


def _group_send(schema_name: str, message: dict[str, Any], loop: asyncio.AbstractEventLoop | None = None) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        if loop is None:
            async_to_sync(layer.group_send)(tenant_group(schema_name), message)
        else:
            loop.run_until_complete(layer.group_send(tenant_group(schema_name), message))
    except Exception:  # noqa: BLE001 - best effort, see event_publish
        logger.warning("live %s for %s not published", message["type"], schema_name, exc_info=True)


def event_publish(*, schema_name: str, event: dict[str, Any]) -> None:
    """Send an event to every live connection of one tenant, and keep it for replay.

    Publishing is best effort: a Redis hiccup must not fail the job that reports progress, the
    Job row stays the source of truth and a client that misses events is told to resync. During
    an HTTP request the event is handed to the process's background publisher
    (`pdm_saas/live/publisher.py`) and the request goes on; elsewhere it is sent before returning.
    """
    if in_request():
        publisher.submit(lambda loop: _event_send(schema_name, event, loop), f"{event['type']} for {schema_name}")
    else:
        _event_send(schema_name, event, None)


def _event_send(schema_name: str, event: dict[str, Any], loop: asyncio.AbstractEventLoop | None) -> None:
    event = {**event, "id": stream_append(schema_name=schema_name, event=event)}
    _group_send(schema_name, {"type": "live.event", "event": event}, loop)


def access_changed(*, tenant_id: int) -> None:
    """After the current transaction commits, every live socket of the tenant re-checks its
    access (a key revoked, a member removed, the organization deactivated) and closes if lost."""
    from tenants.models import Tenant  # the events module is imported by apps that load first

    def send() -> None:
        schema_name = Tenant.objects.filter(id=tenant_id).values_list("schema_name", flat=True).first()
        if not schema_name:
            return
        if in_request():  # after the event publisher's earlier events, never before them
            publisher.submit(lambda loop: _group_send(schema_name, {"type": "live.recheck"}, loop),
                             f"live.recheck for {schema_name}")
        else:
            _group_send(schema_name, {"type": "live.recheck"})

    transaction.on_commit(send)
