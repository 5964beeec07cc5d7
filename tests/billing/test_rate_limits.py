"""Per-plan rate limits per API key: counted in Redis per key and minute, 429 in our error shape
with Retry-After, X-RateLimit-* headers on every API-key response; sessions are not limited."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from billing.models import Plan
from billing.throttles import rate_hit

# 10 s into a minute: a test's few requests all fall in one window. On the real clock they
# straddled a minute boundary now and then, and the fourth request started a fresh count.
PINNED = datetime(2028, 2, 29, 23, 59, 10, tzinfo=UTC)


@pytest.fixture
def limits(settings: Any) -> Iterator[None]:
    settings.BILLING_RATE_LIMITS_ENABLED = True  # the test env turns them off for the shared world
    # Counters outlive a test by two minutes and key ids restart with each test database, so each
    # test counts under its own cache prefix: a rerun never inherits a window's count.
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"rate-test-{uuid.uuid4().hex}"
    settings.CACHES = caches
    with time_machine.travel(PINNED, tick=False):
        yield


def _trial_rate(per_minute: int) -> None:
    Plan.objects.filter(code="trial").update(requests_per_minute=per_minute)  # rolled back after the test


def test_the_window_counts_each_key_and_resets_next_minute(db):
    now = 1_800_000_010.0  # 10 s into a minute
    key = -time.time_ns()  # counters outlive the test for two minutes: never reuse a key id
    states = [rate_hit(key_id=key, limit=2, now=now) for _ in range(3)]
    assert [s.allowed for s in states] == [True, True, False]
    assert [s.remaining for s in states] == [1, 0, 0] and states[2].retry_after == 50
    assert states[2].headers() == {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0", "Retry-After": "50"}
    assert rate_hit(key_id=key - 1, limit=2, now=now).allowed  # another key, its own counter
    assert rate_hit(key_id=key, limit=2, now=now + 60).used == 1  # the next window


def test_a_key_past_its_plan_rate_gets_429_in_our_shape(limits, key_client, world):
    _trial_rate(3)
    client = key_client(["read"])
    answers = [client.get("/api/v1/machines/") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a["X-RateLimit-Limit"] == "3" for a in answers)
    refused = answers[3]
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and "3 requests a minute on the Free trial plan" in error["message"]
    assert error["details"]["limit"] == 3 and error["details"]["retry_after"] == 50
    assert refused["Retry-After"] == "50"
    assert key_client(["read"]).get("/api/v1/machines/").status_code == 200  # each key its own budget


def test_the_rate_follows_the_plan(limits, key_client, world):
    from billing.models import Subscription

    Subscription.objects.filter(tenant=world.acme).update(plan=Plan.objects.get(code="growth"))
    response = key_client(["read"]).get("/api/v1/me/")
    assert response.status_code == 200 and response["X-RateLimit-Limit"] == "1200"


def test_browser_sessions_are_not_rate_limited(limits, client_for, world):
    _trial_rate(1)
    client = client_for("viewer")
    answers = [client.get("/api/v1/machines/") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in answers[0]


def test_off_switch_and_outsiders(limits, key_client, world, settings):
    settings.BILLING_RATE_LIMITS_ENABLED = False
    _trial_rate(1)
    client = key_client(["read"])
    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in client.get("/api/v1/me/")
    settings.BILLING_RATE_LIMITS_ENABLED = True
    # A key of the second tenant is limited by its own plan (routing is by key, whatever the host).
    other = key_client(["read"], tenant=world.globex)
    assert other.get("/api/v1/me/")["X-RateLimit-Limit"] == "1"
