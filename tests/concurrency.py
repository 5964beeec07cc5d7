"""Running the same call from several threads at once, each on its own database connection, as
two workers or two requests would: what the race tests need to prove a lock or a unique row."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django_tenants.utils import tenant_context

from tenants.models import Tenant


def at_once(tenant: Tenant, call: Callable[[], Any], *, count: int = 2, timeout: float = 120) -> list[Any]:
    """`call()` in `count` threads released together, in `tenant`'s schema; each thread's result,
    or the exception it raised (for the caller's assertion to report)."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            start.wait()
            with tenant_context(tenant):
                results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            results[index] = exc
        finally:
            connections.close_all()  # this thread's own connection

    workers = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=timeout)
    return results
