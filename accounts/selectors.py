"""Reads about users, memberships and API keys."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.keys import api_key_prefix, sha256_hex
from accounts.models import ApiKey, Invitation, Membership, User
from accounts.roles import scopes_for_role


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of checking a presented API key: the key, or why it was refused."""

    key: ApiKey | None
    problem: str | None
    unknown: bool = False  # no such key: what a guess looks like (a revoked one is not a guess)

    @property
    def ok(self) -> bool:
        return self.key is not None and self.problem is None


def api_keys_with_creator_role(queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
    """Keys with `creator_role`: their creator's role in the key's tenant *now* (None if they are
    no longer a member), read in the same query so that capping a key costs no extra one."""
    role = Membership.objects.filter(user_id=OuterRef("created_by_id"), tenant_id=OuterRef("tenant_id"))
    return queryset.select_related("tenant", "created_by").annotate(
        creator_role=Subquery(role.values("role")[:1])
    )


def api_key_creator_gone(key: ApiKey) -> bool:
    """The person who made the key has left the organization or their account is deactivated."""
    if key.created_by_id is None:
        return False
    return key.created_by is None or not key.created_by.is_active or _creator_role(key) is None


def api_key_scopes(key: ApiKey) -> frozenset[str]:
    """What a key may do now: its own scopes capped by its creator's current role.

    A demoted creator's keys shrink with them (and grow back if they are promoted again: the key
    still holds what it was made for). Keys made without a creator (by an operator in a shell or
    a benchmark, never through the API or the pages) keep their own scopes.
    """
    own = frozenset(key.scopes)
    if key.created_by_id is None:
        return own
    if api_key_creator_gone(key):
        return frozenset()
    return own & scopes_for_role(_creator_role(key) or "")


def _creator_role(key: ApiKey) -> str | None:
    if key.created_by_id is None:
        return None
    if not hasattr(key, "creator_role"):  # a key not read through api_keys_with_creator_role
        key.creator_role = (  # type: ignore[attr-defined]
            Membership.objects.filter(user_id=key.created_by_id, tenant_id=key.tenant_id)
            .values_list("role", flat=True).first()
        )
    return key.creator_role  # type: ignore[attr-defined,no-any-return]


def api_key_check(*, raw: str) -> KeyCheck:
    prefix = api_key_prefix(raw)
    if prefix is None:
        return KeyCheck(None, "Malformed API key.", unknown=True)
    key = api_keys_with_creator_role(ApiKey.objects.filter(prefix=prefix)).first()
    if key is None or not hmac.compare_digest(key.key_hash, sha256_hex(raw)):
        return KeyCheck(None, "Invalid API key.", unknown=True)
    problem = api_key_problem(key)
    return KeyCheck(None, problem) if problem else KeyCheck(key, None)


def api_key_problem(key: ApiKey) -> str | None:
    """Why a genuine key may not be used now, or None. Read with api_keys_with_creator_role."""
    if key.revoked_at is not None:
        return "This API key has been revoked."
    if key.expires_at is not None and key.expires_at <= timezone.now():
        return "This API key has expired; create a new one."
    if not key.tenant.is_active:
        return "This organization is deactivated."
    if api_key_creator_gone(key):
        return ("This API key no longer works: the person who created it is no longer "
                "an active member of this organization.")
    return None


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
    return api_keys_with_creator_role(ApiKey.objects.filter(tenant_id=tenant_id))


def user_display_name(*, user_id: int | None) -> str:
    """The user's name as pages show it: the full name, else the email; "" for no such user."""
    user = User.objects.filter(id=user_id).only("full_name", "email").first() if user_id else None
    return (user.full_name or user.email) if user is not None else ""
