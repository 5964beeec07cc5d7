"""Writes about plans and subscriptions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import connection
from django.utils import timezone

from billing.models import Plan, Subscription
from tenants.models import Tenant

TRIAL_PLAN_CODE = "trial"


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


def usage_period_start(at: datetime | None = None) -> date:
    moment = at or timezone.now()
    return moment.date().replace(day=1)


def usage_record_predictions(*, tenant_id: int, count: int, at: datetime | None = None) -> int:
    """Add `count` billable predictions to the tenant's current period; returns the new total.
    One upsert, so two workers counting at once both land. The table is named with its schema
    because scoring runs with a tenant's search path."""
    if count <= 0:
        return usage_predictions(tenant_id=tenant_id, at=at)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO public.billing_usagecounter (tenant_id, period_start, predictions, updated_at)
            VALUES (%s, %s, %s, now())
            ON CONFLICT (tenant_id, period_start)
            DO UPDATE SET predictions = billing_usagecounter.predictions + EXCLUDED.predictions, updated_at = now()
            RETURNING predictions
            """,
            [tenant_id, usage_period_start(at), count],
        )
        return int(cursor.fetchone()[0])


def usage_predictions(*, tenant_id: int, at: datetime | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT predictions FROM public.billing_usagecounter WHERE tenant_id = %s AND period_start = %s",
                       [tenant_id, usage_period_start(at)])
        row = cursor.fetchone()
    return int(row[0]) if row else 0
