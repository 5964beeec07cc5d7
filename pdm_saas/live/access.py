"""Whether a live connection may still receive its tenant's events.

Checked when the socket connects, again whenever access in its tenant changes (a key revoked, a
member removed or demoted, the organization deactivated: `events.access_changed`), and every
`LIVE_RECHECK_SECONDS` as a backstop for changes made elsewhere (a key expiring, an account
deactivated in the admin). A socket that fails the check is closed with code 4403.
"""

from __future__ import annotations

from accounts.models import ApiKey, Membership
from accounts.roles import Scope
from accounts.selectors import api_key_problem, api_key_scopes, api_keys_with_creator_role
from tenants.db import connection
from tenants.models import Tenant


def live_access_allowed(*, tenant_id: int, key_id: int | None, user_id: int | None) -> bool:
    """A key of the tenant that works and holds `read`, or an active member of the tenant."""
    connection.set_schema_to_public()  # a thread of the pool may have been left in a tenant
    if not Tenant.objects.filter(id=tenant_id, is_active=True).exists():
        return False
    if key_id is not None:
        key = api_keys_with_creator_role(ApiKey.objects.filter(id=key_id, tenant_id=tenant_id)).first()
        return key is not None and api_key_problem(key) is None and Scope.READ in api_key_scopes(key)
    if user_id is None:
        return False
    return Membership.objects.filter(tenant_id=tenant_id, user_id=user_id, user__is_active=True).exists()
