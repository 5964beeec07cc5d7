"""The live channel's event contract and how to publish to it.

Every WebSocket connection joins one group per tenant, `tenant.<schema>`; nothing is ever sent
to a group without the schema in its name. Events are JSON objects with a `type`:

- `hello`: `{"type": "hello", "tenant": "<slug>"}`, sent once on connect.
- `job.progress`: `{"type": "job.progress", "job": {"id", "kind", "status", "progress",
  "message", "error", "updated_at"}}`, on every change of a Job row.
- `machine.health`: `{"type": "machine.health", "machine": {"id", "health", "failure_probability",
  "rul", "anomaly", "failure_mode", "predicted_failure", "prediction_id", "scored_at"}}`, when
  scoring updates a machine (from the ML engine issue on).

docs/architecture.md repeats this contract for client authors.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

JOB_PROGRESS = "job.progress"
MACHINE_HEALTH = "machine.health"


def tenant_group(schema_name: str) -> str:
    return f"tenant.{schema_name}"


def event_publish(*, schema_name: str, event: dict[str, Any]) -> None:
    """Send an event to every live connection of one tenant.

    Publishing is best effort: a Redis hiccup must not fail the job that reports progress, the
    Job row stays the source of truth and clients re-read it on reconnect.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(tenant_group(schema_name), {"type": "live.event", "event": event})
    except Exception:  # noqa: BLE001 - see docstring
        logger.warning("live event for %s not published", schema_name, exc_info=True)
