"""Reads about users, memberships and API keys."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from accounts.keys import api_key_prefix, sha256_hex
from accounts.models import ApiKey, Invitation, Membership, User


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of checking a presented API key: the key, or why it was refused."""

    key: ApiKey | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.key is not None and self.problem is None


def api_key_check(*, raw: str) -> KeyCheck:
    prefix = api_key_prefix(raw)
    if prefix is None:
        return KeyCheck(None, "Malformed API key.")
    key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.key_hash, sha256_hex(raw)):
        return KeyCheck(None, "Invalid API key.")
    if key.revoked_at is not None:
        return KeyCheck(None, "This API key has been revoked.")
    if key.expires_at is not None and key.expires_at <= timezone.now():
        return KeyCheck(None, "This API key has expired; create a new one.")
    if not key.tenant.is_active:
        return KeyCheck(None, "This organization is deactivated.")
    return KeyCheck(key, None)


def membership_get(*, user: User, tenant_id: int) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, tenant_id=tenant_id).first()


def membership_list(*, tenant_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant_id=tenant_id).select_related("user")


def invitation_pending_by_token_hash(*, token_hash: str) -> Invitation | None:
    invitation = Invitation.objects.select_related("tenant").filter(token_hash=token_hash).first()
    if invitation is None or not invitation.is_pending:
        return None
    return invitation


def invitation_pending_list(*, tenant_id: int) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        tenant_id=tenant_id, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def api_key_list(*, tenant_id: int) -> QuerySet[ApiKey]:
    """Every key of the tenant, revoked ones too: the page shows what was revoked and when."""
    return ApiKey.objects.filter(tenant_id=tenant_id).select_related("created_by")
