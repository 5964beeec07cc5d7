"""Two tenants hammered at once through the servers `make run` starts (HAProxy in front of
granian's WSGI threads, which keep their database connections open between requests): no answer
ever comes from the other tenant's schema (a key answers from its own tenant whatever the host, as
docs/architecture.md says), a key without the `read` scope is refused, and the connections are
reused rather than opened per request (issue 19, docs/deploy.md "Serving").

django-tenants sets the schema on every cursor and forgets it when a connection closes or rolls
back; this holds that for our stack under load, where each thread's kept connection serves both
tenants in turn.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from accounts.services import api_key_create
from jobs.models import Job

from .live import free_port, web_stack

pytestmark = pytest.mark.live
CLIENTS = 24  # more than the web threads (8 per core): requests queue and interleave
ROUNDS = 60  # requests per client, on one keep-alive connection
TENANTS = ("acme", "globex")


@pytest.fixture(scope="module")
def served(world: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    with django_db_blocker.unblock(), web_stack(port=port, logs=tmp_path_factory.mktemp("hammer")):
        yield port


@pytest.fixture
def marked(world: Any, django_db_blocker: Any) -> Iterator[dict[str, dict[str, Any]]]:
    """Per tenant: a job whose message names the tenant, a read key and a key without the read
    scope (committed, for the servers)."""
    marks: dict[str, dict[str, Any]] = {}
    with django_db_blocker.unblock():
        for tenant in (world.acme, world.globex):
            with tenant_context(tenant):
                job = Job.objects.create(kind="hammer", message=f"kept by {tenant.slug}")
            key = api_key_create(tenant=tenant, name="hammer", scopes=["read"], created_by_id=None)
            blind = api_key_create(tenant=tenant, name="hammer-predict", scopes=["predict"], created_by_id=None)
            marks[tenant.slug] = {"job": job.id, "key": key.raw, "blind": blind.raw, "tenant": tenant}
        yield marks
        for mark in marks.values():
            with tenant_context(mark["tenant"]):
                Job.objects.filter(id=mark["job"]).delete()


def _sessions_opened() -> int:
    """Connections Postgres has accepted to the test database so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def _hammer(port: int, marks: dict[str, dict[str, Any]], client: int) -> list[tuple[str, str, str, int, Any]]:
    """One client alternating tenants. Of every five requests, three read the host's own job with
    its key, one reads a job with the other tenant's key (on this host), one sends a key without
    the read scope."""
    answers = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for n in range(ROUNDS):
        host = TENANTS[(client + n) % 2]
        kind = ("own", "own", "own", "other", "blind")[n % 5]
        owner = TENANTS[(client + n + 1) % 2] if kind == "other" else host
        key = marks[owner]["blind" if kind == "blind" else "key"]
        conn.request("GET", f"/api/v1/jobs/{marks[owner]['job']}/",
                     headers={"Host": f"{host}.localhost", "Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
        answers.append((kind, host, owner, response.status, body.get("message")))
    conn.close()
    return answers


def test_two_tenants_hammered_through_kept_connections_never_see_each_other(
        served: int, marked: dict[str, dict[str, Any]], django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        opened_before = _sessions_opened()
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = [a for client in pool.map(lambda c: _hammer(served, marked, c), range(CLIENTS)) for a in client]
    with django_db_blocker.unblock():
        opened = _sessions_opened() - opened_before

    assert len(answers) == CLIENTS * ROUNDS
    read = [a for a in answers if a[0] != "blind"]
    assert [a for a in read if a[3:] != (200, f"kept by {a[2]}")] == []
    assert {a[0] for a in read} == {"own", "other"}
    blind = [a for a in answers if a[0] == "blind"]
    assert len(blind) == CLIENTS * ROUNDS // 5 and {a[3:] for a in blind} == {(403, None)}
    # Kept, not opened per request: at most one per web thread (Procfile.dev: a process per core,
    # 8 threads each), and a few to spare.
    web_threads = (os.cpu_count() or 1) * 8
    assert opened <= web_threads + 8, f"{opened} connections opened for {len(answers)} requests"
