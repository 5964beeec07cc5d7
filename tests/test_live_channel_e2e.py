"""The live channel through the servers `make run` starts (HAProxy in front of daphne) and a real
WebSocket client."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pytest
import websockets
import websockets.exceptions
from asgiref.sync import sync_to_async
from django.test import Client

from accounts.services import api_key_create
from pdm_saas.live.events import event_publish

from .live import free_port, web_stack

pytestmark = pytest.mark.live
RECHECK_SECONDS = 2
# How long the idle-socket test waits; raise it (PDM_LIVE_IDLE_SECONDS=3600) to measure hours.
IDLE_SECONDS = float(os.environ.get("PDM_LIVE_IDLE_SECONDS", "20"))


@pytest.fixture(scope="module")
def asgi_server(world, django_db_blocker, tmp_path_factory):
    port = free_port()
    # Re-check access every 2 s, so the backstop for changes made outside our services is tested.
    os.environ["PDM_LIVE_RECHECK_SECONDS"] = str(RECHECK_SECONDS)
    with django_db_blocker.unblock(), web_stack(port=port, logs=tmp_path_factory.mktemp("asgi")):
        os.environ.pop("PDM_LIVE_RECHECK_SECONDS")
        yield port


@pytest.fixture
def committed(world, django_db_blocker):
    with django_db_blocker.unblock():
        yield


def _session_cookie(world, actor: str, host: str) -> str:
    client = Client(HTTP_HOST=host)
    client.force_login(world.user(actor))
    return f"sessionid={client.cookies['sessionid'].value}"


def _connect(port: int, host: str, query: str = "", **headers: str) -> Any:
    return websockets.connect(
        f"ws://{host}:{port}/ws/live/{query}", host="127.0.0.1", port=port, open_timeout=10,
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
            assert (await _next(acme)).items() >= {"type": "hello", "tenant": "acme"}.items()
            assert (await _next(globex)).items() >= {"type": "hello", "tenant": "globex"}.items()
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
    # redis-py 8 gives every connection a 5 s read timeout by default, while channels_redis' list
    # layer blocked up to 5 s in BZPOPMIN waiting for a message: an idle socket's receive loop hit
    # the timeout and daphne closed it with 1011 every 5-10 s. 20 s idle is well past that.
    port = asgi_server
    key = api_key_create(tenant=world.acme, name="idle", scopes=["read"], created_by_id=None).raw
    publish = sync_to_async(event_publish)

    async def scenario() -> None:
        async with _connect(port, "localhost", Authorization=f"Bearer {key}") as ws:
            assert (await _next(ws))["type"] == "hello"
            await asyncio.sleep(IDLE_SECONDS)
            await publish(schema_name="t_acme", event={"type": "job.progress", "job": {"id": 3, "progress": 1}})
            assert (await _next(ws))["job"] == {"id": 3, "progress": 1}

    asyncio.run(scenario())


async def _closed_for_lost_access(ws: Any, *, within: float) -> float:
    """Seconds until the server closed the socket with 4403 (fails after `within`)."""
    started = time.monotonic()
    await asyncio.wait_for(ws.wait_closed(), timeout=within)
    assert ws.close_code == 4403, ws.close_code
    return time.monotonic() - started


def test_a_revoked_keys_socket_closes_at_once_and_others_stay(asgi_server, committed, world):
    from accounts.services import api_key_revoke

    port = asgi_server
    doomed = api_key_create(tenant=world.acme, name="doomed", scopes=["read"], created_by_id=world.admin.id)
    other = api_key_create(tenant=world.acme, name="other", scopes=["read"], created_by_id=None).raw
    publish = sync_to_async(event_publish)

    async def scenario() -> None:
        async with _connect(port, "localhost", Authorization=f"Bearer {doomed.raw}") as ws, \
                _connect(port, "localhost", Authorization=f"Bearer {other}") as kept:
            await _next(ws), await _next(kept)
            await sync_to_async(api_key_revoke)(tenant_id=world.acme.id, key_id=doomed.key.id)
            # Well under the 2 s backstop: the revocation itself closed it.
            assert await _closed_for_lost_access(ws, within=RECHECK_SECONDS - 0.5) < RECHECK_SECONDS
            await publish(schema_name="t_acme", event={"type": "job.progress", "job": {"id": 1}})
            assert (await _next(kept))["job"] == {"id": 1}

    asyncio.run(scenario())


def test_a_removed_members_socket_closes(asgi_server, committed, world):
    from accounts.models import Membership, User
    from accounts.roles import Actor, Role
    from accounts.services import member_remove, membership_add

    port = asgi_server
    leaver = User.objects.create_user("leaver@acme.test", "Leaver-Passphrase-9")
    membership = membership_add(user=leaver, tenant=world.acme, role=Role.ENGINEER)
    cookie = _session_cookie(world, "viewer", "acme.localhost")
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(leaver)
    leaver_cookie = f"sessionid={client.cookies['sessionid'].value}"
    owner = Actor(tenant_id=world.acme.id, role=Role.OWNER, user_id=world.owner.id)
    origin = f"http://acme.localhost:{port}"

    async def scenario() -> None:
        async with _connect(port, "acme.localhost", Cookie=leaver_cookie, Origin=origin) as ws, \
                _connect(port, "acme.localhost", Cookie=cookie, Origin=origin) as kept:
            await _next(ws), await _next(kept)
            await sync_to_async(member_remove)(actor=owner, membership_id=membership.id)
            assert await _closed_for_lost_access(ws, within=RECHECK_SECONDS - 0.5) < RECHECK_SECONDS
            await kept.send(json.dumps({"type": "ping"}))
            assert await _next(kept) == {"type": "pong"}

    asyncio.run(scenario())
    assert not Membership.objects.filter(user=leaver).exists()


def test_a_deactivated_tenants_sockets_close(asgi_server, committed, world):
    from tenants.services import tenant_deactivate, tenant_signup

    port = asgi_server
    doomed = tenant_signup(organization_name="Initech", slug="initech-live",
                           owner_email="owner@initech-live.test", owner_password="Initech-Passphrase-1")
    key = api_key_create(tenant=doomed.tenant, name="ws", scopes=["read"], created_by_id=doomed.owner.id).raw
    acme_key = api_key_create(tenant=world.acme, name="ws", scopes=["read"], created_by_id=None).raw

    async def scenario() -> None:
        async with _connect(port, "localhost", Authorization=f"Bearer {key}") as ws, \
                _connect(port, "localhost", Authorization=f"Bearer {acme_key}") as acme:
            assert (await _next(ws))["tenant"] == "initech-live"
            await _next(acme)
            await sync_to_async(tenant_deactivate)(tenant=doomed.tenant)
            assert await _closed_for_lost_access(ws, within=RECHECK_SECONDS - 0.5) < RECHECK_SECONDS
            await acme.send(json.dumps({"type": "ping"}))
            assert await _next(acme) == {"type": "pong"}

    asyncio.run(scenario())


def test_access_lost_outside_our_services_closes_within_the_recheck(asgi_server, committed, world):
    from datetime import UTC, datetime

    from accounts.models import ApiKey

    port = asgi_server
    issued = api_key_create(tenant=world.acme, name="expiring", scopes=["read"], created_by_id=None)

    async def scenario() -> None:
        async with _connect(port, "localhost", Authorization=f"Bearer {issued.raw}") as ws:
            await _next(ws)
            # Expiry is no event: the periodic re-check must notice it.
            await sync_to_async(ApiKey.objects.filter(id=issued.key.id).update)(
                expires_at=datetime(2000, 1, 1, tzinfo=UTC))  # long past, whatever the server's clock says
            assert await _closed_for_lost_access(ws, within=RECHECK_SECONDS + 3) <= RECHECK_SECONDS + 3

    asyncio.run(scenario())


def test_a_reconnecting_client_gets_what_it_missed_once_and_in_order(asgi_server, committed, world):
    port = asgi_server
    key = api_key_create(tenant=world.acme, name="replay", scopes=["read"], created_by_id=None).raw
    publish = sync_to_async(event_publish)

    async def scenario() -> None:
        async with _connect(port, "localhost", Authorization=f"Bearer {key}") as ws:
            last_id = (await _next(ws))["last_id"]
        for n in range(3):  # while the client is away
            await publish(schema_name="t_acme", event={"type": "job.progress", "job": {"id": 50 + n}})
        async with _connect(port, "localhost", f"?since={last_id}", Authorization=f"Bearer {key}") as ws:
            hello = await _next(ws)
            missed = [await _next(ws) for _ in range(3)]
            assert [e["job"]["id"] for e in missed] == [50, 51, 52]
            assert hello["last_id"] == missed[-1]["id"]
            await publish(schema_name="t_acme", event={"type": "job.progress", "job": {"id": 60}})
            assert (await _next(ws))["job"]["id"] == 60  # live again, and nothing twice

    asyncio.run(scenario())


def test_a_client_that_missed_too_much_is_told_to_resync(asgi_server, committed, world, settings):
    port = asgi_server
    key = api_key_create(tenant=world.acme, name="resync", scopes=["read"], created_by_id=None).raw
    publish = sync_to_async(event_publish)
    settings.LIVE_REPLAY_EVENTS = 2  # the publisher trims the stream to two events

    async def scenario() -> None:
        async with _connect(port, "localhost", Authorization=f"Bearer {key}") as ws:
            last_id = (await _next(ws))["last_id"]
        for n in range(4):
            await publish(schema_name="t_acme", event={"type": "job.progress", "job": {"id": 70 + n}})
        async with _connect(port, "localhost", f"?since={last_id}", Authorization=f"Bearer {key}") as ws:
            await _next(ws)
            assert await _next(ws) == {"type": "resync"}
        async with _connect(port, "localhost", "?since=1-0", Authorization=f"Bearer {key}") as ws:
            await _next(ws)
            assert await _next(ws) == {"type": "resync"}  # older than anything kept

    asyncio.run(scenario())


def test_a_resumed_socket_gets_only_its_own_tenants_events(asgi_server, committed, world):
    port = asgi_server
    globex_key = api_key_create(tenant=world.globex, name="replay", scopes=["read"], created_by_id=None).raw
    publish = sync_to_async(event_publish)

    async def scenario() -> None:
        async with _connect(port, "localhost", Authorization=f"Bearer {globex_key}") as ws:
            last_id = (await _next(ws))["last_id"]
        await publish(schema_name="t_acme", event={"type": "job.progress", "job": {"id": 80}})
        await publish(schema_name="t_globex", event={"type": "job.progress", "job": {"id": 81}})
        async with _connect(port, "acme.localhost", f"?since={last_id}",
                            Authorization=f"Bearer {globex_key}") as ws:
            assert (await _next(ws))["tenant"] == "globex"  # the key decides, whatever the host
            assert (await _next(ws))["job"] == {"id": 81}  # acme's event was never replayed here

    asyncio.run(scenario())


def test_guessed_keys_on_the_live_channel_are_throttled(asgi_server, committed, world):
    port = asgi_server
    real = api_key_create(tenant=world.acme, name="ws", scopes=["read"], created_by_id=None).raw
    prefix = real.split("_")[1]

    async def scenario() -> None:
        for n in range(20):
            assert await _refused(port, "localhost", Authorization=f"Bearer pdm_{prefix}_{'y' * 42}{n % 10}") == 403
        # The address is throttled now: even the right key is refused at the handshake.
        assert await _refused(port, "localhost", Authorization=f"Bearer {real}") == 403

    asyncio.run(scenario())
    from accounts.lockout import lockout_reset_all

    lockout_reset_all()
