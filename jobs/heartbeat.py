"""A running job's pulse: its progress and heartbeat, written from a thread of its own.

The job's own thread may sit for minutes in one transaction (an upload stores every row in one)
or in one long call that reports nothing (fitting a synthesizer). Progress written from that
thread would stay invisible to everyone else until commit, and would lock the job row, so the
sweeper would see a live job as dead. The pulse therefore writes from its own thread and database
connection, in autocommit: the latest progress as soon as it changes (at most once a second), and
a heartbeat every JOB_HEARTBEAT_SECONDS even when nothing changes.
"""

from __future__ import annotations

import logging
import threading

from django.db import DatabaseError, connection
from django.utils import timezone
from django_tenants.utils import schema_context

from jobs.models import Job

logger = logging.getLogger(__name__)

MIN_WRITE_GAP_SECONDS = 1.0  # a chatty handler must not turn into a write per row batch


class JobPulse:
    def __init__(self, *, job_id: int, schema_name: str, interval: float) -> None:
        self.job_id, self.schema_name, self.interval = job_id, schema_name, interval
        self._latest: tuple[int, str] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-pulse", daemon=True)

    def __enter__(self) -> JobPulse:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Write the last progress and stop, before the job's outcome is recorded."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=self.interval + 10)

    def report(self, percent: int, message: str) -> None:
        with self._lock:
            self._latest = (max(0, min(100, percent)), message[:500])
        self._wake.set()

    def _run(self) -> None:
        try:
            with schema_context(self.schema_name):
                while True:
                    self._wake.wait(self.interval)
                    self._wake.clear()
                    stopping = self._stopping.is_set()  # read after clear: a later stop wakes us again
                    self._write()
                    if stopping:
                        return
                    self._stopping.wait(min(MIN_WRITE_GAP_SECONDS, self.interval))
        finally:
            connection.close()  # this thread's own connection

    def _write(self) -> None:
        with self._lock:
            latest, self._latest = self._latest, None
        fields: dict[str, object] = {"heartbeat_at": timezone.now()}
        if latest is not None:
            fields.update(progress=latest[0], message=latest[1])
        try:
            Job.objects.filter(id=self.job_id, status=Job.Status.RUNNING).update(**fields)
        except DatabaseError:
            # A database blip costs one beat, not the job: the next beat reconnects.
            logger.warning("heartbeat of job %s not written", self.job_id, exc_info=True)
            connection.close()
