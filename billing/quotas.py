"""Plan quotas, checked where machines are created and where predictions are stored.

Limits are the plan's local fields (`billing.models.Plan`), read without calling Stripe:

- **machines**: `max_machines` counts the tenant's machines that are not retired. Creations are
  serialized per tenant by a transaction-scoped advisory lock, so two creations at the boundary
  cannot both pass; the lock is released when the creating transaction ends.
- **predictions**: on a plan without overage, `included_predictions` per period is a hard
  ceiling, enforced by a conditional reservation on the usage counter
  (`billing.services.usage_reserve_predictions`) in the transaction that stores the predictions.
  Plans with overage are never refused here: the overage is billed.

A tenant without a subscription (the operator's own tenants, made outside signup) has no limits,
and `settings.BILLING_QUOTAS_ENABLED = False` (self-hosted installs without billing) switches the
limits off; usage is counted either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import F

from billing.models import Plan
from billing.selectors import subscription_with_plan, subscription_with_plan_cached
from billing.services import usage_predictions, usage_reserve_predictions
from pdm_saas.errors import PaymentRequired

UPGRADE_URL = "/billing/"
# First key of the two-key advisory lock that serializes a tenant's machine creations; the
# second key is the tenant id. Any constant unused elsewhere does ("mach" in ASCII).
MACHINE_LOCK_NAMESPACE = 0x6D616368


def tenant_plan(*, tenant_id: int) -> Plan | None:
    """The plan whose limits apply to the tenant, or None when no limits apply."""
    if not settings.BILLING_QUOTAS_ENABLED:
        return None
    tenant = getattr(connection, "tenant", None)
    if tenant is not None and getattr(tenant, "id", None) == tenant_id:  # the usual case: kept per process
        subscription = subscription_with_plan_cached(tenant_id=tenant_id, schema_name=tenant.schema_name)
    else:
        subscription = subscription_with_plan(tenant_id=tenant_id)
    return subscription.plan if subscription else None


def machine_quota_guard(*, tenant_id: int, adding: int, used: Callable[[], int]) -> None:
    """Refuse `adding` machines beyond the plan's limit. Call it inside the transaction that
    creates them: the lock taken here is held until that transaction ends, and `used` (the count
    of machines that are not retired) is read after taking it, so it sees every creation that
    committed before."""
    plan = tenant_plan(tenant_id=tenant_id)
    if plan is None or plan.max_machines is None:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [MACHINE_LOCK_NAMESPACE, tenant_id])
    count = used()
    if count + adding > plan.max_machines:
        raise _machines_refused(plan, count, adding)


def _machines_refused(plan: Plan, used: int, adding: int) -> PaymentRequired:
    limit = plan.max_machines
    message = f"Your {plan.name} plan includes {limit:,} machines and you have {used:,}."
    if adding > 1:
        message += f" Adding {adding:,} would make {used + adding:,}."
    message += f" Upgrade at {UPGRADE_URL} to add more."
    details = {"limit": limit, "used": used, "requested": adding, "upgrade_url": UPGRADE_URL}
    return PaymentRequired(message, details=details)


def plans_with_more_machines(limit: int) -> list[str]:
    """The public plans that allow more than `limit` machines, as "Growth (50 machines)": the
    way up named in a refusal that cannot link to the billing page (a command's output)."""
    plans = Plan.objects.filter(is_public=True).exclude(max_machines__lte=limit).order_by(
        F("max_machines").asc(nulls_last=True))
    return [f"{plan.name} ({'unlimited' if plan.max_machines is None else f'{plan.max_machines:,}'} machines)"
            for plan in plans]


def prediction_limit(plan: Plan | None) -> int | None:
    """The hard ceiling on predictions per period, or None (unlimited, or billed as overage)."""
    if plan is None or plan.allows_overage:
        return None
    return plan.included_predictions


@dataclass(frozen=True)
class PredictionQuota:
    """The plan a scoring call is held to, read once by `prediction_quota_check` and handed to
    `prediction_quota_reserve`, so one call reads the subscription once instead of twice."""

    plan: Plan | None

    @property
    def limit(self) -> int | None:
        return prediction_limit(self.plan)


def prediction_quota_check(*, tenant_id: int, count: int = 1) -> PredictionQuota:
    """A cheap look before the expensive scoring: refuse when `count` more cannot fit. No lock:
    `prediction_quota_reserve` is the exact check; this only spares refused calls the CPU.
    Returns the plan it looked at, for the reservation of the same call."""
    quota = PredictionQuota(tenant_plan(tenant_id=tenant_id))
    limit = quota.limit
    if quota.plan is None or limit is None:
        return quota
    used = usage_predictions(tenant_id=tenant_id)
    if used + count > limit:
        raise _predictions_refused(quota.plan, limit, used, count)
    return quota


def prediction_quota_reserve(*, tenant_id: int, count: int, quota: PredictionQuota | None = None) -> int:
    """Count `count` predictions in the current period, or refuse them all with PaymentRequired
    when the plan has no overage and they would take the period past its included amount.
    Call it in the transaction that stores the predictions. Returns the period's new total.

    `quota`: what this call's `prediction_quota_check` read a moment before (else the plan is
    read here). The exactness lives in the counter's conditional update, not in when the plan was
    read; a plan change that lands mid-call applies from the next call, as it would had the
    request arrived a moment earlier."""
    quota = quota if quota is not None else PredictionQuota(tenant_plan(tenant_id=tenant_id))
    limit = quota.limit
    total = usage_reserve_predictions(tenant_id=tenant_id, count=count, limit=limit)
    if total is None:
        assert quota.plan is not None and limit is not None  # only a limit refuses
        raise _predictions_refused(quota.plan, limit, usage_predictions(tenant_id=tenant_id), count)
    return total


def _predictions_refused(plan: Plan, limit: int, used: int, requested: int) -> PaymentRequired:
    message = (f"Your {plan.name} plan includes {limit:,} predictions a month and {used:,} are used; "
               f"this needs {requested:,} more. Upgrade at {UPGRADE_URL} to keep predicting "
               "(paid plans bill predictions beyond the included amount), or wait for next month.")
    details = {"limit": limit, "used": used, "requested": requested, "upgrade_url": UPGRADE_URL}
    return PaymentRequired(message, details=details)
