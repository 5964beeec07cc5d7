"""The live channel: one WebSocket per browser tab or API client, joined to its tenant's group.

A connection is refused (closed before accept, so the handshake answers 403) unless it resolves
to an active tenant and comes either from a member of that tenant (session cookie, same-origin
page) or from an API key of that tenant with the `read` scope. An open socket that loses that
access (key revoked or capped, member removed, account or organization deactivated) is closed
with 4403 (`pdm_saas/live/access.py`).

A client that reconnects with `?since=<last event id>` first gets what it missed, or `resync`
(`pdm_saas/live/replay.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from pdm_saas.live.access import live_access_allowed
from pdm_saas.live.events import RESYNC, tenant_group
from pdm_saas.live.replay import stream_id_order, stream_position, stream_since

ACCESS_LOST = 4403
logger = logging.getLogger(__name__)


class LiveConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    # Replayed up to here: the same events arriving live afterwards are skipped.
    replayed_to: tuple[int, int] | None = None
    recheck: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        tenant = self.scope.get("tenant")
        if tenant is None or tenant.is_public or not await self._allowed(tenant):
            await self.close(code=ACCESS_LOST)
            return
        self.group = tenant_group(tenant.schema_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        since = parse_qs(self.scope.get("query_string", b"").decode()).get("since", [""])[0]
        position = await sync_to_async(stream_position, thread_sensitive=False)(schema_name=tenant.schema_name)
        await self.send_json({"type": "hello", "tenant": tenant.slug, "last_id": position})
        if since:
            await self._replay(tenant.schema_name, since)
        self.recheck = asyncio.create_task(self._recheck_periodically())

    async def _replay(self, schema_name: str, since: str) -> None:
        missed = await sync_to_async(stream_since, thread_sensitive=False)(schema_name=schema_name, since=since)
        if missed is None:
            await self.send_json({"type": RESYNC})
            return
        for event in missed:
            await self.send_json(event)
        self.replayed_to = stream_id_order(missed[-1]["id"]) if missed else stream_id_order(since)

    async def _allowed(self, tenant: Any) -> bool:
        key = self.scope.get("api_key")
        if key is None and not self.scope.get("same_origin"):
            return False  # a cookie-authenticated socket opened by another site's page
        user = self.scope.get("user")
        user_id = getattr(user, "id", None) if user is not None and user.is_authenticated else None
        return bool(await database_sync_to_async(live_access_allowed)(
            tenant_id=tenant.id, key_id=key.id if key is not None else None, user_id=user_id))

    async def _enforce_access(self) -> bool:
        """Close the socket if it lost its access; whether it is still open."""
        if await self._allowed(self.scope["tenant"]):
            return True
        await self.close(code=ACCESS_LOST)
        return False

    async def _recheck_periodically(self) -> None:
        while True:
            await asyncio.sleep(settings.LIVE_RECHECK_SECONDS)
            try:
                if not await self._enforce_access():
                    return
                # Renew the group membership, which channels_redis forgets after a day.
                await self.channel_layer.group_add(self.group, self.channel_name)
            except Exception:  # noqa: BLE001 - a database or Redis hiccup: try again next round
                logger.warning("live access re-check failed", exc_info=True)

    async def disconnect(self, code: int) -> None:
        if self.recheck is not None:
            self.recheck.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.recheck
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if self.replayed_to is not None and event.get("id") and stream_id_order(event["id"]) <= self.replayed_to:
            return  # already sent by the replay
        await self.send_json(event)

    async def live_recheck(self, message: dict[str, Any]) -> None:
        await self._enforce_access()
