"""Throttling of credential guessing: sign-in, password-reset requests and API keys.

Failed attempts are counted in Redis (the cache's server) per account and per client address,
in fixed windows: once a counter reaches its limit, every attempt it covers is refused until the
window ends, even one with the right password, so a guesser learns nothing from the answer.

- Sign-in counts failures per account (the email, whatever the tenant host) and per address; a
  successful sign-in clears that account's counter only, never the address's, so an attacker
  cannot reset their address's count by signing in to an account of their own.
- Password-reset requests count every request (the page answers the same whatever the email).
- API keys count failures per address only: a key's prefix is not secret, so locking per key
  would let anyone who knows a prefix switch off someone else's integration.

The counters live outside Django's cache API on purpose: django-tenants prefixes cache keys with
the current schema, and an account is the same person on every tenant host. Windows are numbered
from the Python clock (not Redis' TTL), so tests can move through them with time-machine.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest

PREFIX = "lockout"


@dataclass(frozen=True)
class Rule:
    limit: int  # attempts allowed per window
    window: int  # seconds


@dataclass(frozen=True)
class Refusal:
    retry_after: int  # seconds until the window that refused ends

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        return f"Too many attempts; try again in {minutes} minute{'s' if minutes != 1 else ''}."


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHE_REDIS_URL)


def _rules(action: str) -> dict[str, Rule]:
    """{"account": Rule, "address": Rule} for an action, from settings.LOCKOUT_RULES."""
    return {subject: Rule(*limits) for subject, limits in settings.LOCKOUT_RULES[action].items()}


def _counter(action: str, subject: str, value: str, rule: Rule, now: float) -> tuple[str, int]:
    """The Redis key of the current window's counter, and the second that window ends."""
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]  # no emails in Redis
    number = int(now // rule.window)
    return f"{PREFIX}:{action}:{subject}:{digest}:{number}", (number + 1) * rule.window


def _subjects(action: str, *, account: str | None, address: str | None) -> list[tuple[str, str, Rule]]:
    values = {"account": account or "", "address": address or ""}
    return [(subject, values[subject], rule) for subject, rule in _rules(action).items() if values.get(subject)]


def lockout_check(*, action: str, account: str | None = None, address: str | None = None) -> Refusal | None:
    """A refusal if any counter of this attempt is at its limit, else None."""
    now = time.time()
    found = [(_counter(action, subject, value, rule, now), rule) for subject, value, rule in
             _subjects(action, account=account, address=address)]
    if not found:
        return None
    counts = _redis().mget([key for (key, _), _ in found])
    ends = [end for ((_, end), rule), count in zip(found, counts, strict=True)
            if count is not None and int(count) >= rule.limit]
    return Refusal(retry_after=max(1, math.ceil(max(ends) - now))) if ends else None


def lockout_fail(*, action: str, account: str | None = None, address: str | None = None) -> None:
    """Count one failed (or, for password resets, any) attempt."""
    now = time.time()
    pipe = _redis().pipeline()
    for subject, value, rule in _subjects(action, account=account, address=address):
        key, _ = _counter(action, subject, value, rule, now)
        pipe.incr(key)
        # Relative TTL, only to clean up: the window number in the key decides what counts.
        pipe.expire(key, rule.window + 1)
    pipe.execute()


def lockout_clear_account(*, action: str, account: str) -> None:
    """After a success: that account's failures are forgiven (its address's are not)."""
    rule = _rules(action)["account"]
    _redis().delete(_counter(action, "account", account, rule, time.time())[0])


def lockout_reset_all() -> None:
    """Forget every counter (tests, and an operator unlocking after an incident)."""
    client = _redis()
    for key in client.scan_iter(match=f"{PREFIX}:*", count=1000):
        client.delete(key)


def client_address(request: HttpRequest | Any) -> str:
    """The caller's IP address (see `address_of`)."""
    meta = request.META
    return address_of(direct=meta.get("REMOTE_ADDR") or "", forwarded_for=meta.get("HTTP_X_FORWARDED_FOR", ""))


def address_of(*, direct: str, forwarded_for: str) -> str:
    """The X-Forwarded-For entry PROXY_HOPS from the end: our proxy wrote the last one, a TLS
    proxy in front of it (DJANGO_BEHIND_TLS_PROXY) the one before; anything earlier the client
    could forge. Without the header (a request that reached the server directly), the
    connection's address."""
    entries = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
    hops = settings.PROXY_HOPS
    if hops and entries:
        return entries[-min(hops, len(entries))]
    return direct or "unknown"
