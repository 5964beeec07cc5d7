"""Celery task metrics, and the metrics HTTP servers of the worker and beat processes.

Connected from pdm_saas/celery.py, so every Celery process has them; this module imports no
Django, since it loads with the Celery app.

Workers use the prefork pool (Procfile.dev, docker/compose.yaml): tasks run in child processes,
so a counter incremented there is invisible to the parent's memory. prometheus_client's
multiprocess mode solves exactly that: with `PROMETHEUS_MULTIPROC_DIR` set in the worker's
environment (before Python starts), every process writes its samples to files in that folder and
the parent's HTTP server adds them up. `worker_init` empties the folder (stale files of a previous
run would be counted again) before the pool forks; a prefork worker with a metrics port but no
folder refuses to start rather than report silently wrong numbers. The solo and thread pools run
tasks in the main process and need no folder.

Beat only publishes: its server reports the time of its last published message
(`pdm_beat_last_publish_timestamp_seconds`; the minute-ly alert escalation makes it a heartbeat)
and its process metrics; `up{job="beat"}` is its liveness.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from celery import signals
from prometheus_client import REGISTRY, CollectorRegistry, Gauge, start_http_server
from prometheus_client.process_collector import ProcessCollector

from pdm_saas.monitoring.metrics import TASK_DURATION, TASK_FAILURES, TASKS_FINISHED, labels_of

logger = logging.getLogger(__name__)

# Read by prometheus_client itself, so from the process environment rather than the settings.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKER_PORT = "PDM_WORKER_METRICS_PORT"
BEAT_PORT = "PDM_BEAT_METRICS_PORT"
BRIDGE_PORT = "PDM_BRIDGE_METRICS_PORT"

_started: dict[str, float] = {}  # task id -> perf_counter at prerun (one process's tasks)
_beat_last_publish: Gauge | None = None


def _port(setting: str) -> int | None:
    """The port in `settings.<setting>` (from the env var of the same name), None when 0 (off)."""
    from django.conf import settings  # not at import: this module loads with the Celery app

    port = int(getattr(settings, setting))
    if not 0 <= port <= 65535:
        raise SystemExit(f"{setting} must be a port number between 1 and 65535, not {port}")
    return port or None


def metrics_server_start(setting: str, *, registry: CollectorRegistry = REGISTRY) -> int | None:
    """Serve `registry` on the port in `settings.<setting>` (none when 0); the port, or None.

    For single-process programs outside Celery (the MQTT bridge); the default registry has the
    process and platform collectors already."""
    port = _port(setting)
    if port is None:
        return None
    start_http_server(port, registry=registry)
    logger.info("metrics on :%s/metrics (%s)", port, setting)
    return port


def _prefork(worker: Any) -> bool:
    pool = getattr(worker, "pool_cls", None)
    module = pool if isinstance(pool, str) else getattr(pool, "__module__", "")
    return "prefork" in str(module)


@signals.worker_init.connect
def _worker_metrics_prepare(sender: Any = None, **_: Any) -> None:
    """In the parent, before the pool forks: check the set-up, empty the multiprocess folder."""
    if _port(WORKER_PORT) is None:
        return
    folder = os.environ.get(MULTIPROC_ENV, "")
    if not folder:
        if _prefork(sender):
            # SystemExit: Celery logs and swallows a receiver's ordinary exceptions.
            raise SystemExit(
                f"{WORKER_PORT} is set for a prefork worker without {MULTIPROC_ENV}: the pool's "
                f"processes would not be counted. Set {MULTIPROC_ENV} to an empty, writable folder "
                "(docs/monitoring.md).")
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


@signals.worker_ready.connect
def _worker_metrics_serve(**_: Any) -> None:
    port = _port(WORKER_PORT)
    if port is None:
        return
    registry = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        ProcessCollector(registry=registry)  # the parent's own memory and CPU
    start_http_server(port, registry=registry)
    logger.info("worker metrics on :%s/metrics", port)


@signals.worker_process_shutdown.connect
def _worker_child_gone(pid: int | None = None, **_: Any) -> None:
    if os.environ.get(MULTIPROC_ENV) and pid:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # drops its live gauges; counters keep their totals


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_finished(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id or "", None)
    name, queue = labels_of(task)
    if started is not None:
        TASK_DURATION.labels(name, queue).observe(time.perf_counter() - started)
    TASKS_FINISHED.labels(name, queue, state or "UNKNOWN").inc()


@signals.task_failure.connect
def _task_failed(sender: Any = None, **_: Any) -> None:
    name, queue = labels_of(sender)
    TASK_FAILURES.labels(name, queue).inc()


@signals.beat_init.connect
def _beat_metrics_serve(**_: Any) -> None:
    global _beat_last_publish
    port = _port(BEAT_PORT)
    if port is None:
        return
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    Gauge("pdm_beat_started_timestamp_seconds", "When this beat started.", registry=registry).set_to_current_time()
    _beat_last_publish = Gauge("pdm_beat_last_publish_timestamp_seconds",
                               "When beat last published a scheduled task.", registry=registry)
    _beat_last_publish.set_to_current_time()
    start_http_server(port, registry=registry)
    logger.info("beat metrics on :%s/metrics", port)


@signals.before_task_publish.connect
def _beat_published(**_: Any) -> None:
    if _beat_last_publish is not None:  # only in the beat process
        _beat_last_publish.set_to_current_time()
