"""Reads of plans and subscriptions (public schema), for billing and the pages that show a plan."""

from __future__ import annotations

from billing.models import Plan, Subscription
from tenants.row_cache import tenant_cached


def plan_public_list() -> list[Plan]:
    """The plans on offer, cheapest first, the custom (unlimited, invoiced) plan last."""
    return sorted(Plan.objects.filter(is_public=True),
                  key=lambda p: (p.max_machines is None, p.monthly_price_cents))


def subscription_with_plan(*, tenant_id: int) -> Subscription | None:
    """The tenant's subscription with its plan (one query), or None before it has one."""
    return Subscription.objects.select_related("plan").filter(tenant_id=tenant_id).first()


def subscription_with_plan_cached(*, tenant_id: int, schema_name: str) -> Subscription | None:
    """`subscription_with_plan`, kept per process until the subscription or its plan changes
    (tenants/row_cache.py), for what every request reads: the rate limit, the standing, the quota
    check. Shared: never change or save what it returns."""
    return tenant_cached("subscription", (tenant_id,), lambda: subscription_with_plan(tenant_id=tenant_id),
                         schema=schema_name)
