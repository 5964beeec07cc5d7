"""Live events of a request are published by the process's background publisher
(pdm_saas/live/publisher.py): they still arrive, in order, and a channel layer that cannot be
reached neither fails nor holds up the request that scored.

A test's transaction never commits, so its on-commit callbacks (where scoring publishes) are
captured and then run as the end of a request runs them: inside the request's handling.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from pdm_saas.live import replay
from pdm_saas.live.events import MACHINE_HEALTH, event_publish, tenant_group
from pdm_saas.live.publisher import Publisher, in_request, publisher, request_scope_set

JSON = "application/json"
UNREACHABLE = "redis://127.0.0.1:9/0"  # the discard port: nothing listens, connections are refused


def _publish_in_request(schema: str, count: int) -> None:
    request_scope_set(True)
    try:
        for n in range(count):
            event_publish(schema_name=schema, event={"type": MACHINE_HEALTH, "machine": {"id": n}})
    finally:
        request_scope_set(False)


def test_events_published_during_a_request_arrive_in_order() -> None:
    schema = "t_live_publisher"  # a group no other test's socket joins
    layer = get_channel_layer()
    assert layer is not None

    async def receive(count: int) -> list[dict[str, Any]]:
        channel = await layer.new_channel()
        await layer.group_add(tenant_group(schema), channel)
        try:
            await sync_to_async(_publish_in_request, thread_sensitive=False)(schema, count)
            return [await asyncio.wait_for(layer.receive(channel), timeout=10) for _ in range(count)]
        finally:
            await layer.group_discard(tenant_group(schema), channel)

    messages = async_to_sync(receive)(3)
    assert [m["event"]["machine"]["id"] for m in messages] == [0, 1, 2]
    assert all(m["type"] == "live.event" and m["event"]["id"] for m in messages)  # kept for replay too


def test_a_prediction_succeeds_when_the_channel_layer_is_unreachable(
    trained_motor: Any, key_client: Any, settings: Any, caplog: Any, django_capture_on_commit_callbacks: Any,
) -> None:
    settings.CHANNELS_REDIS_URL = UNREACHABLE
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                           "CONFIG": {"hosts": [{"address": UNREACHABLE}]}}}
    replay._redis.cache_clear()
    client = key_client(["read", "predict"])
    try:
        with django_capture_on_commit_callbacks() as callbacks:
            response = client.post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type=JSON)
        assert response.status_code == 201, response.content
        request_scope_set(True)
        try:
            for callback in callbacks:  # as at the request's commit: handed over, never raised
                callback()
        finally:
            request_scope_set(False)
        with caplog.at_level(logging.WARNING):
            assert publisher.flush()
        assert "not kept for replay" in caplog.text and "not published" in caplog.text
    finally:
        replay._redis.cache_clear()


def test_a_full_queue_drops_the_event_with_a_log_line(caplog: Any) -> None:
    small = Publisher(size=1)
    release, busy = threading.Event(), threading.Event()
    sent: list[int] = []

    def blocked(loop: Any) -> None:
        busy.set()
        release.wait(10)

    assert small.submit(blocked, "first")
    assert busy.wait(10)  # the thread holds the first; the queue is empty again
    assert small.submit(lambda loop: sent.append(2), "second")
    with caplog.at_level(logging.WARNING):
        assert not small.submit(lambda loop: sent.append(3), "third")
    assert "live third dropped" in caplog.text
    release.set()
    assert small.flush()
    assert sent == [2]


def test_outside_a_request_events_are_sent_before_returning(settings: Any, caplog: Any) -> None:
    settings.CHANNELS_REDIS_URL = UNREACHABLE
    replay._redis.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):  # a Celery task's progress, a command's event
            event_publish(schema_name="t_live_publisher", event={"type": MACHINE_HEALTH, "machine": {"id": 1}})
        assert "not kept for replay" in caplog.text  # already tried, in this thread
    finally:
        replay._redis.cache_clear()


def test_a_requests_scope_ends_with_the_middleware_chain_even_if_its_response_is_never_closed(db: None) -> None:
    """request_finished is only sent when the server closes a response: a response left open
    (a streaming export abandoned by its client) must not leave the thread 'in a request', or
    later work on it would hand its events to the publisher and read stale row-cache tokens."""
    from django.http import HttpRequest, StreamingHttpResponse
    from django.test import RequestFactory

    from pdm_saas.request_scope import RequestScopeMiddleware
    from tenants.row_cache import _state

    inside: list[tuple[bool, bool]] = []

    def view(request: HttpRequest) -> StreamingHttpResponse:
        inside.append((in_request(), _state.tokens is not None))
        return StreamingHttpResponse(iter([b"rows"]))

    response = RequestScopeMiddleware(view)(RequestFactory().get("/export/"))
    assert inside == [(True, True)]
    assert not in_request() and _state.tokens is None  # the response is still open
    response.close()
