"""The application's metrics, and the functions the services call to record them.

Only prometheus_client here: importing this module costs nothing at web start-up, and the
recorders never raise into the code they instrument (a metric is not worth a failed request).

Labels stay bounded: tenants (one per organization), machine type keys, task names, queues,
job kinds. Never a machine, a user or an id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger(__name__)

# Probabilities in 0..1; health scores in 0..100 (engine/explain.py).
PROBABILITY_BUCKETS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
HEALTH_BUCKETS = (5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 100.0)
# Tasks run from milliseconds (notifications) to half an hour (training; the hard limit is 35 min).
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 2100.0)

PREDICTIONS_STORED = Counter(
    "pdm_predictions_stored", "Prediction rows stored (billable predictions), per tenant.", ["tenant"])
FAILURE_PROBABILITY = Histogram(
    "pdm_prediction_failure_probability", "Failure probability of each stored prediction, per machine type.",
    ["machine_type"], buckets=PROBABILITY_BUCKETS)
HEALTH_SCORE = Histogram(
    "pdm_prediction_health_score", "Health score (0-100) of each stored prediction, per machine type.",
    ["machine_type"], buckets=HEALTH_BUCKETS)
INGEST_ROWS = Counter(
    "pdm_ingest_rows_stored", "Sensor readings stored (uploads, live pushes, MQTT), per tenant.", ["tenant"])
JOBS_FINISHED = Counter(
    "pdm_jobs_finished", "Jobs that reached an outcome (succeeded, failed; stale: failed by the sweeper), per kind.",
    ["kind", "outcome"])
TASK_DURATION = Histogram(
    "pdm_celery_task_duration_seconds", "Run time of Celery tasks, per task and queue.", ["task", "queue"],
    buckets=TASK_BUCKETS)
TASKS_FINISHED = Counter(
    "pdm_celery_tasks_finished", "Celery tasks that finished, per task, queue and final state.",
    ["task", "queue", "state"])
TASK_FAILURES = Counter(
    "pdm_celery_task_failures", "Celery tasks that raised, per task and queue.", ["task", "queue"])

# What scheduled scoring should cover, set by every scheduled run (pdm_saas/monitoring/fleet.py) in
# the worker's pool process that ran it. "mostrecent": the worker serves the value last set by any
# of its processes (a tenant's next run may land in another child; a dead child's files stay).
MACHINES_SCORABLE = Gauge(
    "pdm_machines_scorable",
    "Machines the last scheduled scoring run was to score (active, a champion for their type, readings; "
    "0 while the tenant is read-only or out of predictions), per tenant.", ["tenant"], multiprocess_mode="mostrecent")
SCORING_LAST_RUN = Gauge(
    "pdm_scoring_last_run_timestamp_seconds", "When the last scheduled scoring run of a tenant started.",
    ["tenant"], multiprocess_mode="mostrecent")

# The MQTT bridge (machines/mqtt_bridge.py), served on its own port (PDM_BRIDGE_METRICS_PORT).
MQTT_REJECT_REASONS = ("unrouted", "invalid", "error")
MQTT_RECEIVED = Counter(
    "pdm_mqtt_messages_received", "Messages the MQTT bridge received on pdm/+/readings.")
MQTT_REJECTED = Counter(
    "pdm_mqtt_messages_rejected",
    "Messages the MQTT bridge dropped whole, per reason: unrouted (bad topic, no active tenant), "
    "invalid (bad JSON or batch), error (an exception while storing).", ["reason"])


def tenant_label(schema_name: str) -> str:
    """`t_acme` -> `acme`: the label reads like the organization's slug (hyphens stay underscores)."""
    return schema_name[2:] if schema_name.startswith("t_") else schema_name


def predictions_record(*, schema_name: str, machine_type: str, scores: Iterable[tuple[float, float | None]]) -> None:
    """Count stored predictions for a tenant and observe their (probability, health) scores (no
    health while a machine learns its normal)."""
    try:
        count = 0
        probability, health = FAILURE_PROBABILITY.labels(machine_type), HEALTH_SCORE.labels(machine_type)
        for failure_probability, health_score in scores:
            count += 1
            probability.observe(float(failure_probability))
            if health_score is not None:
                health.observe(float(health_score))
        PREDICTIONS_STORED.labels(tenant_label(schema_name)).inc(count)
    except Exception:  # never let monitoring break scoring
        logger.exception("could not record prediction metrics")


def ingest_record(*, schema_name: str, rows: int) -> None:
    try:
        INGEST_ROWS.labels(tenant_label(schema_name)).inc(max(0, int(rows)))
    except Exception:
        logger.exception("could not record ingest metrics")


def job_outcome_record(*, kind: str, outcome: str) -> None:
    try:
        JOBS_FINISHED.labels(kind or "unknown", outcome).inc()
    except Exception:
        logger.exception("could not record job metrics")


def scheduled_scoring_record(*, schema_name: str, scorable: int) -> None:
    """A scheduled scoring run of a tenant starts, and should score `scorable` machines."""
    try:
        tenant = tenant_label(schema_name)
        MACHINES_SCORABLE.labels(tenant).set(max(0, int(scorable)))
        SCORING_LAST_RUN.labels(tenant).set_to_current_time()
    except Exception:
        logger.exception("could not record scoring metrics")


def labels_of(task: Any) -> tuple[str, str]:
    """(task name, queue) of a running Celery task; the queue is the routing key it came by."""
    delivery = getattr(getattr(task, "request", None), "delivery_info", None) or {}
    queue = delivery.get("routing_key") or delivery.get("queue") or "unknown"
    return str(getattr(task, "name", None) or "unknown"), str(queue)


def mqtt_bridge_metrics_prepare() -> None:
    """Show every rejection reason at 0 from the start (rate() needs a first sample)."""
    for reason in MQTT_REJECT_REASONS:
        MQTT_REJECTED.labels(reason)


def mqtt_message_record(*, rejected: str | None) -> None:
    """One message the bridge received; `rejected` is one of MQTT_REJECT_REASONS when it was dropped."""
    try:
        MQTT_RECEIVED.inc()
        if rejected is not None:
            MQTT_REJECTED.labels(rejected).inc()
    except Exception:
        logger.exception("could not record MQTT metrics")
