from typing import Any

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from billing.models import Plan, Subscription
        from tenants.row_cache import rows_watch

        # The rate limit and the quota keep the subscription and its plan per process
        # (tenants/row_cache.py): public rows, so the tenants they belong to are named.
        rows_watch(Subscription, schemas_of=_subscription_schemas,
                   schemas_of_rows=lambda rows: _schemas(subscription__in=rows.values("id")))
        rows_watch(Plan, schemas_of=lambda plan: plan_schemas(plan_id=plan.id),
                   schemas_of_rows=lambda rows: _schemas(subscription__plan__in=rows.values("id")))


def _subscription_schemas(subscription: Any) -> list[str]:
    return _schemas(id=subscription.tenant_id)


def plan_schemas(*, plan_id: int) -> list[str]:
    """The schemas of the tenants on a plan, whose cached plan an edit of it changes."""
    return _schemas(subscription__plan_id=plan_id)


def _schemas(**lookup: Any) -> list[str]:
    from tenants.models import Tenant

    return list(Tenant.objects.filter(**lookup).values_list("schema_name", flat=True))
