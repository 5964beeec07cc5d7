"""Writes about plans and subscriptions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import connection
from django.utils import timezone

from billing.models import Plan, Subscription
from tenants.models import Tenant

TRIAL_PLAN_CODE = "trial"
# The counter is a bigint: "no limit" compares against its largest value.
_NO_LIMIT = 2**63 - 1


def subscription_start_trial(*, tenant: Tenant) -> Subscription:
    plan = Plan.objects.get(code=TRIAL_PLAN_CODE)
    subscription, _ = Subscription.objects.get_or_create(
        tenant=tenant,
        defaults={
            "plan": plan,
            "status": Subscription.Status.TRIALING,
            "trial_ends_at": timezone.now() + timedelta(days=plan.trial_days),
        },
    )
    return subscription


def subscription_grant(*, tenant: Tenant, plan_code: str) -> Subscription:
    """Put a tenant on a plan arranged outside Stripe Checkout (an enterprise contract, the demo
    organization): active, no trial. Self-serve customers change plans through Checkout."""
    plan = Plan.objects.get(code=plan_code)
    subscription, _ = Subscription.objects.update_or_create(
        tenant=tenant, defaults={"plan": plan, "status": Subscription.Status.ACTIVE, "trial_ends_at": None,
                                 "past_due_since": None})
    return subscription


def usage_period_start(at: datetime | None = None) -> date:
    moment = at or timezone.now()
    return moment.date().replace(day=1)


def usage_record_predictions(*, tenant_id: int, count: int, at: datetime | None = None) -> int:
    """Add `count` billable predictions to the tenant's current period, whatever the plan;
    returns the new total. Scoring goes through `billing.quotas.prediction_quota_reserve`, which
    refuses past a plan's included amount; this unconditional form is kept for operators'
    corrections and as the benchmark's baseline."""
    total = usage_reserve_predictions(tenant_id=tenant_id, count=count, limit=None, at=at)
    assert total is not None  # no limit: never refused
    return total


def usage_reserve_predictions(*, tenant_id: int, count: int, limit: int | None,
                              at: datetime | None = None) -> int | None:
    """Add `count` predictions to the tenant's current period unless that takes the total past
    `limit` (None: no limit). Returns the new total, or None when refused (nothing added).

    One statement, so it is exact under concurrency: the conflicting row is locked and the
    `WHERE` is evaluated against its latest committed value, and the insert branch only proposes
    a row when `count` alone fits. Called inside the transaction that stores the predictions, the
    reservation rolls back with them. The table is named with its schema because scoring runs
    with a tenant's search path."""
    if count <= 0:
        return usage_predictions(tenant_id=tenant_id, at=at)
    ceiling = limit if limit is not None else _NO_LIMIT
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO public.billing_usagecounter (tenant_id, period_start, predictions, updated_at)
            SELECT %(tenant)s, %(period)s, %(count)s, now() WHERE %(count)s <= %(ceiling)s
            ON CONFLICT (tenant_id, period_start)
            DO UPDATE SET predictions = billing_usagecounter.predictions + EXCLUDED.predictions, updated_at = now()
            WHERE billing_usagecounter.predictions + EXCLUDED.predictions <= %(ceiling)s
            RETURNING predictions
            """,
            {"tenant": tenant_id, "period": usage_period_start(at), "count": count, "ceiling": ceiling},
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


def usage_predictions(*, tenant_id: int, at: datetime | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT predictions FROM public.billing_usagecounter WHERE tenant_id = %s AND period_start = %s",
                       [tenant_id, usage_period_start(at)])
        row = cursor.fetchone()
    return int(row[0]) if row else 0
