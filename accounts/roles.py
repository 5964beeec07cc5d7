"""Roles of members, scopes of API keys, and the one mapping between them.

Every permission check asks "does this principal hold scope X?". A member holds the scopes of
their role; an API key holds the scopes it was created with. `OWNER` is not a scope any key can
hold: only a signed-in owner can delete the organization or hand out ownership.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    ENGINEER = "engineer", "Engineer"
    VIEWER = "viewer", "Viewer"


class Scope(models.TextChoices):
    READ = "read", "Read"
    PREDICT = "predict", "Predict"
    WRITE = "write", "Write"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner (members only)"


KEY_SCOPES = frozenset({Scope.READ, Scope.PREDICT, Scope.WRITE, Scope.ADMIN})

ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.VIEWER: frozenset({Scope.READ}),
    Role.ENGINEER: frozenset({Scope.READ, Scope.PREDICT, Scope.WRITE}),
    Role.ADMIN: frozenset({Scope.READ, Scope.PREDICT, Scope.WRITE, Scope.ADMIN}),
    Role.OWNER: frozenset({Scope.READ, Scope.PREDICT, Scope.WRITE, Scope.ADMIN, Scope.OWNER}),
}


def scopes_for_role(role: str) -> frozenset[str]:
    return ROLE_SCOPES.get(role, frozenset())


def lowest_role_with(scope: str) -> str:
    """The least privileged role holding `scope` (ROLE_SCOPES lists roles from least to most)."""
    return next((role for role, scopes in ROLE_SCOPES.items() if scope in scopes), Role.OWNER)


class Actor:
    """Who performs a service call: a tenant, the role they act with, and the user behind it.

    A member acts with their role; an API key with `admin` scope acts as an admin on behalf of
    the user who created it. Services take an Actor so they need not know which it was.
    """

    __slots__ = ("tenant_id", "role", "user_id")

    def __init__(self, *, tenant_id: int, role: str, user_id: int | None) -> None:
        self.tenant_id = tenant_id
        self.role = role
        self.user_id = user_id
