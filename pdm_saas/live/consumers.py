"""The live channel: one WebSocket per browser tab or API client, joined to its tenant's group.

A connection is refused (closed before accept, so the handshake answers 403) unless it resolves
to an active tenant and comes either from a member of that tenant (session cookie, same-origin
page) or from an API key of that tenant with the `read` scope.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.roles import Scope
from accounts.selectors import api_key_scopes, membership_get
from pdm_saas.live.events import tenant_group


class LiveConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        tenant = self.scope.get("tenant")
        if tenant is None or tenant.is_public or not tenant.is_active or not await self._allowed(tenant):
            await self.close(code=4403)
            return
        self.group = tenant_group(tenant.schema_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "tenant": tenant.slug})

    async def _allowed(self, tenant: Any) -> bool:
        key = self.scope.get("api_key")
        if key is not None:
            return bool(key.tenant_id == tenant.id and Scope.READ in api_key_scopes(key))
        if not self.scope.get("same_origin"):
            return False  # a cookie-authenticated socket opened by another site's page
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return False
        membership = await database_sync_to_async(membership_get)(user=user, tenant_id=tenant.id)
        return membership is not None

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
