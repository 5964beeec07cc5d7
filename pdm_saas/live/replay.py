"""A short per-tenant history of live events in a Redis stream, so that a client that
reconnects gets what it missed, or is told to resync when that is no longer kept.

Each published event is appended to `live.stream.<schema>` (capped at `LIVE_REPLAY_EVENTS`
entries; the key expires `LIVE_REPLAY_SECONDS` after the last event). Its stream id is the
event's `id`. A client reconnecting with `?since=<id>` gets every later event again, in order,
if none after `since` can have been trimmed; otherwise a `resync`. (Needs Redis 7 for XINFO's
`entries-added`.)
"""

from __future__ import annotations

import json
import logging
import re
import time
from functools import cache
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

STREAM_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")


@cache
def _redis() -> Any:
    # Any: redis-py's reply types are unions of bytes, str and None that do not say what a given
    # command returns; with decode_responses every reply here is text.
    return redis.Redis.from_url(settings.CHANNELS_REDIS_URL, socket_timeout=settings.CHANNELS_SOCKET_TIMEOUT,
                                decode_responses=True)


def stream_key(schema_name: str) -> str:
    return f"live.stream.{schema_name}"


def stream_id_order(stream_id: str) -> tuple[int, int]:
    millis, seq = stream_id.split("-")
    return int(millis), int(seq)


def stream_append(*, schema_name: str, event: dict[str, Any]) -> str | None:
    """Keep the event; its stream id, or None if Redis refused (the event still goes out)."""
    key = stream_key(schema_name)
    try:
        pipe = _redis().pipeline()
        pipe.xadd(key, {"event": json.dumps(event, default=str)}, maxlen=settings.LIVE_REPLAY_EVENTS,
                  approximate=False)
        pipe.expire(key, settings.LIVE_REPLAY_SECONDS)
        stream_id, _ = pipe.execute()
    except redis.RedisError:
        logger.warning("live event for %s not kept for replay", schema_name, exc_info=True)
        return None
    return str(stream_id)


def stream_position(*, schema_name: str) -> str:
    """Where the stream stands now: its last id, or (empty) an id just before Redis' clock, so
    that a client reconnecting with it as `since` gets every event published after this."""
    client = _redis()
    entries = client.xrevrange(stream_key(schema_name), count=1)
    if entries:
        return str(entries[0][0])
    seconds, micros = client.time()
    return f"{seconds * 1000 + micros // 1000 - 1}-0"


def stream_since(*, schema_name: str, since: str) -> list[dict[str, Any]] | None:
    """Every event after `since`, oldest first, or None when some may be lost (resync)."""
    if not STREAM_ID.match(since):
        return None
    # The stream expires LIVE_REPLAY_SECONDS after its last event, so for a younger `since` it
    # cannot have expired (and been started afresh) since then; an older one is not vouched for.
    if time.time() - stream_id_order(since)[0] / 1000 >= settings.LIVE_REPLAY_SECONDS:
        return None
    key = stream_key(schema_name)
    client = _redis()
    if not client.exists(key):
        return []  # no event at all since `since`
    info = client.xinfo_stream(key)
    first = info["first-entry"][0] if info.get("first-entry") else None
    # Events before the first kept one were trimmed (if any ever were): unless `since` is at or
    # after it, some of what the client missed may be gone.
    trimmed = int(info["entries-added"]) > int(info["length"])
    if trimmed and first is not None and stream_id_order(since) < stream_id_order(first):
        return None
    entries = client.xrange(key, min=f"({since}", max="+")
    return [{**json.loads(fields["event"]), "id": entry_id} for entry_id, fields in entries]
