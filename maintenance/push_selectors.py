"""Reads for Web Push's pages and API: a person's browsers and choices, in this organization."""

from __future__ import annotations

from maintenance.push_models import PushKind, PushPreference, PushSubscription


def push_preferences_of(*, user_id: int) -> dict[str, bool]:
    """Every kind with this person's choice (on unless switched off)."""
    off = set(PushPreference.objects.filter(user_id=user_id, enabled=False).values_list("kind", flat=True))
    return {kind: kind not in off for kind in PushKind.values}


def push_subscriptions_of(*, user_id: int) -> list[PushSubscription]:
    return list(PushSubscription.objects.filter(user_id=user_id))
