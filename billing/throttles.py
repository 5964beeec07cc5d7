"""Per-plan request rate limits for API keys.

Each API key may make `Plan.requests_per_minute` requests per minute on the tenant API. Counts
live in Redis through Django's cache: one counter per key and minute window (`INCR`, atomic
across every web process), expiring after two windows. A fixed window is one `INCR` per request;
its known cost is that a client may burst up to twice the limit across a window boundary, which
is acceptable for a plan limit (it is not a security control). Browser sessions are not limited
this way: people clicking are not a load problem, and signup has its own throttle.

The throttle records what it decided on the request; `TenantAPIMixin.finalize_response` turns
that into `X-RateLimit-Limit` / `X-RateLimit-Remaining` on every API-key response and
`Retry-After` on a 429.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiKey
from billing.access import request_subscription
from pdm_saas.errors import TooManyRequests

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateState:
    limit: int
    used: int
    retry_after: int  # seconds until the window resets

    @property
    def allowed(self) -> bool:
        return self.used <= self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def rate_hit(*, key_id: int, limit: int, now: float | None = None) -> RateState:
    """Count one request of an API key in the current window."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    cache_key = f"billing:rate:{key_id}:{window}"
    cache.add(cache_key, 0, timeout=2 * WINDOW_SECONDS)  # SET NX: the window's first request
    try:
        used = int(cache.incr(cache_key))
    except ValueError:  # evicted between the two calls
        cache.set(cache_key, 1, timeout=2 * WINDOW_SECONDS)
        used = 1
    retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
    return RateState(limit=limit, used=used, retry_after=retry_after)


def request_rate_state(request: Any) -> RateState | None:
    """What the throttle decided for this request (None: not an API key, or not limited)."""
    raw = getattr(request, "_request", request)
    return getattr(raw, "pdm_rate", None)


class PlanRateThrottle(BaseThrottle):
    """API keys only, at their tenant's plan's rate; raises our 429 (`rate_limited`)."""

    def allow_request(self, request: Any, view: Any) -> bool:
        key = getattr(request, "auth", None)
        if not isinstance(key, ApiKey) or not settings.BILLING_RATE_LIMITS_ENABLED:
            return True
        subscription = request_subscription(request)
        if subscription is None:
            return True
        state = rate_hit(key_id=key.id, limit=subscription.plan.requests_per_minute)
        request._request.pdm_rate = state
        if not state.allowed:
            raise TooManyRequests(
                f"This API key may make {state.limit:,} requests a minute on the {subscription.plan.name} plan; "
                f"try again in {state.retry_after} s, or upgrade at /billing/ for a higher rate.",
                details={"limit": state.limit, "retry_after": state.retry_after},
            )
        return True
