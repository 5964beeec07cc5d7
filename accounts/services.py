"""Writes about users, memberships, invitations and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts import selectors
from accounts.keys import api_key_generate, invitation_token_generate, sha256_hex
from accounts.lockout import lockout_check, lockout_clear_account, lockout_fail
from accounts.models import ApiKey, Invitation, Membership, User
from accounts.roles import KEY_SCOPES, Actor, Role, Scope, scopes_for_role
from pdm_saas.errors import Conflict, Gone, InvalidInput, NotAllowed, NotFound, TooManyRequests, Unauthenticated
from pdm_saas.live.events import access_changed
from tenants.models import Tenant
from tenants.selectors import tenant_link


def email_normalize(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput("Enter a valid email address.", details={"email": exc.messages}) from exc
    return email


def password_check(password: str, *, email: str) -> None:
    try:
        password_validation.validate_password(password, user=User(email=email))
    except ValidationError as exc:
        # The reasons are the message: "too weak" alone leaves the person guessing the rules.
        raise InvalidInput(
            "The password is too weak: " + " ".join(exc.messages), code="weak_password",
            details={"password": exc.messages},
        ) from exc


def user_create(*, email: str, password: str, full_name: str = "") -> User:
    email = email_normalize(email)
    if User.objects.filter(email=email).exists():
        raise Conflict(
            "An account with this email already exists; sign in instead.", code="email_taken"
        )
    password_check(password, email=email)
    return User.objects.create_user(email, password, full_name=full_name)


def membership_add(*, user: User, tenant: Tenant, role: str) -> Membership:
    membership, _ = Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": role})
    return membership


def _ownership_guard(*, actor: Actor, target: Membership, new_role: str | None) -> None:
    """Only owners touch owners or grant ownership, and a tenant never loses its last owner."""
    touches_owner = target.role == Role.OWNER or new_role == Role.OWNER
    if touches_owner and actor.role != Role.OWNER:
        raise NotAllowed("Only an owner can grant, change or remove ownership.")
    if target.role == Role.OWNER and new_role != Role.OWNER:
        # Lock every owner row: two owners demoting each other at once must not both succeed.
        owners = Membership.objects.select_for_update().filter(tenant_id=target.tenant_id, role=Role.OWNER)
        if len(owners) <= 1:
            raise Conflict("The organization must keep at least one owner.", code="last_owner")


def _member_for_update(*, actor: Actor, membership_id: int) -> Membership:
    """The member row of the actor's tenant, locked for the rest of the transaction."""
    target = Membership.objects.select_for_update().filter(id=membership_id, tenant_id=actor.tenant_id).first()
    if target is None:
        raise NotFound("No such member.")
    return target


@transaction.atomic
def member_role_change(*, actor: Actor, membership_id: int, role: str) -> Membership:
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}.", details={"role": [f"one of {Role.values}"]})
    target = _member_for_update(actor=actor, membership_id=membership_id)
    _ownership_guard(actor=actor, target=target, new_role=role)
    target.role = role
    target.save(update_fields=["role"])
    access_changed(tenant_id=target.tenant_id)  # their keys may no longer hold `read`
    return target


@transaction.atomic
def member_remove(*, actor: Actor, membership_id: int) -> None:
    target = _member_for_update(actor=actor, membership_id=membership_id)
    _ownership_guard(actor=actor, target=target, new_role=None)
    target.delete()
    # Their keys would stop working anyway (a key needs its creator to be a member), but revoked
    # keys say so in the list and stay dead if the person is invited back.
    api_keys_of_creator_revoke(tenant_id=target.tenant_id, user_id=target.user_id)
    access_changed(tenant_id=target.tenant_id)  # their open live sockets close


def api_keys_of_creator_revoke(*, tenant_id: int, user_id: int) -> int:
    return ApiKey.objects.filter(tenant_id=tenant_id, created_by_id=user_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # shown once, in the response and in the email


def invitation_create(*, actor: Actor, email: str, role: str) -> IssuedInvitation:
    email = email_normalize(email)
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}.", details={"role": [f"one of {Role.values}"]})
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise NotAllowed("Only an owner can invite another owner.")
    if Membership.objects.filter(tenant_id=actor.tenant_id, user__email=email).exists():
        raise Conflict(f"{email} is already a member.", code="already_member")
    token, digest = invitation_token_generate()
    invitation = Invitation.objects.create(
        tenant_id=actor.tenant_id,
        email=email,
        role=role,
        token_hash=digest,
        invited_by_id=actor.user_id,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    transaction.on_commit(lambda: _invitation_mail(invitation=invitation, token=token))
    return IssuedInvitation(invitation=invitation, token=token)


def invitation_accept_url(*, invitation: Invitation, token: str) -> str:
    return tenant_link(tenant=invitation.tenant, path=f"/accounts/invitations/{token}/")


def _invitation_mail(*, invitation: Invitation, token: str) -> None:
    send_mail(
        subject=f"You are invited to {invitation.tenant.name}",
        message=(
            f"You have been invited to join {invitation.tenant.name} as {invitation.role}.\n"
            f"Accept within {settings.INVITATION_TTL_DAYS} days: "
            f"{invitation_accept_url(invitation=invitation, token=token)}\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


def invitation_revoke(*, tenant_id: int, invitation_id: int) -> None:
    updated = Invitation.objects.filter(
        id=invitation_id, tenant_id=tenant_id, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise NotFound("No such pending invitation.")


@transaction.atomic
def invitation_accept(*, tenant_id: int, token: str, password: str, full_name: str = "") -> Membership:
    """Join the inviting tenant: a new user sets a password, an existing one proves theirs."""
    invitation = selectors.invitation_pending_by_token_hash(token_hash=sha256_hex(token))
    if invitation is None or invitation.tenant_id != tenant_id:
        raise Gone("This invitation is invalid, expired, revoked or already used.", code="invitation_invalid")
    user = User.objects.filter(email=invitation.email).first()
    if user is None:
        user = user_create(email=invitation.email, password=password, full_name=full_name)
    elif authenticate(username=invitation.email, password=password) is None:
        raise NotAllowed("Wrong password for the existing account with this email.", code="bad_credentials")
    updated = Invitation.objects.filter(id=invitation.id, accepted_at__isnull=True).update(
        accepted_at=timezone.now()
    )
    if not updated:  # a concurrent accept got there first
        raise Gone("This invitation has already been used.", code="invitation_invalid")
    return membership_add(user=user, tenant=invitation.tenant, role=invitation.role)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    raw: str  # shown once


def api_key_create(
    *, tenant: Tenant, name: str, scopes: list[str], created_by_id: int | None,
    expires_at: datetime | None = None, holder_scopes: frozenset[str] | None = None,
) -> IssuedKey:
    """A new key. `holder_scopes` are what the caller may do now (a member's role, or the key
    they call with): nobody mints a key stronger than themself."""
    unknown = sorted(set(scopes) - KEY_SCOPES)
    if unknown or not scopes:
        raise InvalidInput(
            "Scopes must be a non-empty subset of read, predict, write, admin.",
            details={"scopes": unknown or ["empty"]},
        )
    beyond = sorted(set(scopes) - holder_scopes) if holder_scopes is not None else []
    if beyond:
        raise NotAllowed(f"You cannot give a key scopes you do not hold: {', '.join(beyond)}.")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("expires_at must be in the future.", details={"expires_at": ["in the past"]})
    new = api_key_generate()
    key = ApiKey.objects.create(
        tenant=tenant, name=name.strip() or "API key", prefix=new.prefix, key_hash=new.digest,
        scopes=sorted(set(scopes)), created_by_id=created_by_id, expires_at=expires_at,
    )
    return IssuedKey(key=key, raw=new.raw)


def api_key_create_with_password(
    *, tenant: Tenant, email: str, password: str, address: str, name: str, scopes: list[str],
    expires_at: datetime | None = None,
) -> IssuedKey:
    """A first key for a script that has only an admin's email and password (no session, no CSRF
    cookie to scrape). Throttled as the sign-in page is, on the same counters: while the account or
    the address is locked out even the right password is refused, and every wrong one counts."""
    refusal = lockout_check(action="login", account=email, address=address)
    if refusal is not None:
        raise TooManyRequests(refusal.message, details={"retry_after": refusal.retry_after})
    user = authenticate(None, username=email_normalize(email), password=password)
    membership = selectors.membership_get(user=user, tenant_id=tenant.id) if user is not None else None
    if membership is None:  # a wrong password and another organization's member read the same
        lockout_fail(action="login", account=email, address=address)
        raise Unauthenticated("Please give a correct email and password for this organization.")
    lockout_clear_account(action="login", account=email)
    holder = scopes_for_role(membership.role)
    if Scope.ADMIN not in holder:
        raise NotAllowed(f"Only an admin or owner may create API keys; you are a {membership.role}.")
    return api_key_create(tenant=tenant, name=name, scopes=scopes, created_by_id=membership.user_id,
                          expires_at=expires_at, holder_scopes=holder)


def api_key_revoke(*, tenant_id: int, key_id: int) -> ApiKey:
    key = ApiKey.objects.filter(id=key_id, tenant_id=tenant_id).first()
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        ApiKey.objects.filter(id=key.id, revoked_at__isnull=True).update(revoked_at=timezone.now())
        key.refresh_from_db()
        access_changed(tenant_id=tenant_id)  # live sockets opened with it close
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Record use, at most once per API_KEY_TOUCH_SECONDS so busy clients don't write each call."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.API_KEY_TOUCH_SECONDS)
    if key.last_used_at is None or key.last_used_at < stale:
        ApiKey.objects.filter(id=key.id).update(last_used_at=now)
        key.last_used_at = now


