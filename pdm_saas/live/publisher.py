"""Live events published off the request path: one background publisher per process.

A request that scores a machine used to append its `machine.health` event to the replay stream
and send it to the tenant's group inline (two Redis round trips, and an event loop spun up by
`async_to_sync`) before its response left; with Redis slow or down it waited up to the socket
timeout. Inside HTTP request handling events now go to a bounded queue that a daemon thread
drains, in order, with its own event loop (the channel layer keeps one connection per loop, so
the loop lives as long as the thread). A full queue drops the event with a log line: live events
are best effort (a client that reconnects replays or resyncs), the rows stay the truth.

Outside a request (Celery tasks, management commands, tests calling services) publishing stays
synchronous, as before: those processes have no latency to protect, and a prefork Celery child
may leave by `os._exit`, which runs no exit hook, so a queue there could lose the last events
(a job's final progress). A web process that exits normally flushes its queue at exit
(`atexit`, bounded by `FLUSH_SECONDS`).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
FLUSH_SECONDS = 5.0

Send = Callable[[asyncio.AbstractEventLoop], None]


class _RequestFlag(threading.local):
    active = False


_in_request = _RequestFlag()


def request_scope_set(active: bool) -> None:
    """Set by pdm_saas/request_scope.py around the middleware chain."""
    _in_request.active = active


def in_request() -> bool:
    """True while this thread handles an HTTP request (pdm_saas/request_scope.py)."""
    return _in_request.active


class Publisher:
    """A bounded queue and the daemon thread that drains it, in the order events were queued."""

    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._pid = -1
        self._queue: queue.Queue[Send | None] = queue.Queue(size)
        self._thread: threading.Thread | None = None

    def submit(self, send: Send, what: str) -> bool:
        """Queue `send(loop)`; never blocks. False (and a log line) when the queue is full."""
        self._started()
        try:
            self._queue.put_nowait(send)
        except queue.Full:
            logger.warning("live %s dropped: the publisher's queue is full (%s)", what, self._size)
            return False
        return True

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Wait until everything queued so far was sent (or `timeout`); True when it was."""
        if self._thread is None or self._pid != os.getpid():
            return True
        done = threading.Event()
        try:
            self._queue.put(lambda loop: done.set(), timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def _started(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            if self._pid != os.getpid():  # a forked child inherits the queue but not the thread
                self._queue = queue.Queue(self._size)
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="live-publisher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        while True:
            send = self._queue.get()
            if send is None:
                break
            try:
                send(loop)
            except Exception:  # noqa: BLE001 - one failed event must not stop the ones after it
                logger.warning("live event not published", exc_info=True)


publisher = Publisher()


@atexit.register
def _flush_at_exit() -> None:
    if not publisher.flush():
        logger.warning("live events still queued at exit were not published")
