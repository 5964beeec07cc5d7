"""Writes about plans and subscriptions."""

from __future__ import annotations

from datetime import timedelta

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
