"""The live channel through a real ASGI server (daphne) and a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.test import Client

from accounts.services import api_key_create
from pdm_saas.live.events import event_publish

from .live import free_port, port_listening, process, python_bin

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def asgi_server(world, django_db_blocker, tmp_path_factory):
    port = free_port()

    args = [python_bin("daphne"), "-b", "127.0.0.1", "-p", str(port), "pdm_saas.asgi:application"]
    with django_db_blocker.unblock(), process(args, log=tmp_path_factory.mktemp("asgi") / "daphne.log",
                                              ready=lambda _: port_listening(port)):
        yield port


@pytest.fixture
def committed(world, django_db_blocker):
    with django_db_blocker.unblock():
        yield


def _session_cookie(world, actor: str, host: str) -> str:
    client = Client(HTTP_HOST=host)
    client.force_login(world.user(actor))
    return f"sessionid={client.cookies['sessionid'].value}"


def _connect(port: int, host: str, **headers: str) -> Any:
    return websockets.connect(
        f"ws://{host}:{port}/ws/live/", host="127.0.0.1", port=port, open_timeout=10,
        additional_headers=headers,
    )


async def _next(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=10))


async def _refused(port: int, host: str, **headers: str) -> int:
    with pytest.raises(websockets.exceptions.InvalidStatus) as refusal:
        async with _connect(port, host, **headers):
            pass
    return refusal.value.response.status_code


def test_members_receive_their_tenants_events_only(asgi_server, committed, world):
    port = asgi_server
    acme_cookie = _session_cookie(world, "viewer", "acme.localhost")
    globex_cookie = _session_cookie(world, "globex_owner", "globex.localhost")
    publish = sync_to_async(event_publish)

    async def scenario() -> None:
        async with _connect(port, "acme.localhost", Cookie=acme_cookie,
                            Origin=f"http://acme.localhost:{port}") as acme, \
                _connect(port, "globex.localhost", Cookie=globex_cookie,
                         Origin=f"http://globex.localhost:{port}") as globex:
            assert await _next(acme) == {"type": "hello", "tenant": "acme"}
            assert await _next(globex) == {"type": "hello", "tenant": "globex"}
            await publish(schema_name="t_acme", event={"type": "job.progress", "job": {"id": 7, "progress": 40}})
            await publish(schema_name="t_globex", event={"type": "job.progress", "job": {"id": 9, "progress": 5}})
            got_acme, got_globex = await _next(acme), await _next(globex)
            assert got_acme["job"] == {"id": 7, "progress": 40}
            # globex's first event is its own: acme's never reached it.
            assert got_globex["job"] == {"id": 9, "progress": 5}
            await acme.send(json.dumps({"type": "ping"}))
            assert await _next(acme) == {"type": "pong"}

    asyncio.run(scenario())


def test_job_progress_events_follow_the_contract(asgi_server, committed, world):
    from django_tenants.utils import tenant_context

    from jobs.services import job_claim, job_create, job_progress, job_succeed

    port = asgi_server
    key = api_key_create(tenant=world.acme, name="ws", scopes=["read"], created_by_id=None).raw

    async def scenario() -> None:
        async with _connect(port, "localhost", Authorization=f"Bearer {key}") as ws:
            assert (await _next(ws))["tenant"] == "acme"

            def work() -> int:
                with tenant_context(world.acme):
                    job = job_create(kind="demo")
                    job_claim(job_id=job.id)
                    job_progress(job_id=job.id, progress=55, message="Half way")
                    job_succeed(job_id=job.id, result={})
                    return job.id

            job_id = await sync_to_async(work)()
            started, halfway = await _next(ws), await _next(ws)
            assert started["type"] == "job.progress" and started["job"]["status"] == "running"
            assert halfway["job"]["id"] == job_id and halfway["job"]["progress"] == 55
            assert {"id", "kind", "status", "progress", "message", "error", "updated_at"} == set(halfway["job"])

    asyncio.run(scenario())


def test_everyone_else_is_refused(asgi_server, committed, world):
    port = asgi_server
    outsider = _session_cookie(world, "outsider", "acme.localhost")
    globex_owner = _session_cookie(world, "globex_owner", "acme.localhost")
    owner = _session_cookie(world, "owner", "acme.localhost")
    predict_only = api_key_create(tenant=world.acme, name="p", scopes=["predict"], created_by_id=None).raw
    origin = f"http://acme.localhost:{port}"

    async def scenario() -> None:
        assert await _refused(port, "acme.localhost", Origin=origin) == 403  # anonymous
        assert await _refused(port, "acme.localhost", Cookie=outsider, Origin=origin) == 403
        assert await _refused(port, "acme.localhost", Cookie=globex_owner, Origin=origin) == 403
        assert await _refused(port, "acme.localhost", Cookie=owner, Origin="http://evil.test") == 403
        assert await _refused(port, "nosuch.localhost", Cookie=owner) == 403
        assert await _refused(port, "localhost", Authorization="Bearer pdm_nope") == 403
        assert await _refused(port, "localhost", Authorization=f"Bearer {predict_only}") == 403

    asyncio.run(scenario())


def test_an_idle_socket_stays_open_and_receives(asgi_server, committed, world):
    # redis-py 8 gives every connection a 5 s read timeout by default, while channels_redis
    # blocks up to 5 s in BZPOPMIN waiting for a message: an idle socket's receive loop hit the
    # timeout and daphne closed it with 1011 every 5-10 s. 20 s idle is well past that.
    port = asgi_server
    key = api_key_create(tenant=world.acme, name="idle", scopes=["read"], created_by_id=None).raw
    publish = sync_to_async(event_publish)

    async def scenario() -> None:
        async with _connect(port, "localhost", Authorization=f"Bearer {key}") as ws:
            assert (await _next(ws))["type"] == "hello"
            await asyncio.sleep(20)
            await publish(schema_name="t_acme", event={"type": "job.progress", "job": {"id": 3, "progress": 1}})
            assert (await _next(ws))["job"] == {"id": 3, "progress": 1}

    asyncio.run(scenario())
