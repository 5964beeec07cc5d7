"""Shapes of the billing API. Validation and output only: no Stripe, no writes."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from billing.models import Invoice, Plan
from billing.subscriptions import BillingSummary


class PlanSerializer(serializers.ModelSerializer[Plan]):
    overage_cents_per_prediction = serializers.DecimalField(max_digits=8, decimal_places=4, allow_null=True)
    self_serve = serializers.BooleanField()

    class Meta:
        model = Plan
        fields = ["code", "name", "monthly_price_cents", "max_machines", "included_predictions",
                  "overage_cents_per_prediction", "requests_per_minute", "trial_days", "self_serve"]


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    class Meta:
        model = Invoice
        fields = ["stripe_invoice_id", "number", "status", "currency", "amount_due_cents", "amount_paid_cents",
                  "period_start", "period_end", "hosted_invoice_url"]


class SubscriptionStateSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
    trial_ends_at = serializers.DateTimeField(allow_null=True)
    trial_days_left = serializers.IntegerField(allow_null=True)
    current_period_end = serializers.DateTimeField(allow_null=True)
    past_due_since = serializers.DateTimeField(allow_null=True)
    has_payment_account = serializers.BooleanField()


class UsageSerializer(serializers.Serializer[Any]):
    period_start = serializers.DateField()
    predictions = serializers.IntegerField()
    included_predictions = serializers.IntegerField(allow_null=True)
    machines = serializers.IntegerField()
    max_machines = serializers.IntegerField(allow_null=True)
    overage = serializers.IntegerField()
    overage_cents = serializers.DecimalField(max_digits=14, decimal_places=2)


class BillingSerializer(serializers.Serializer[Any]):
    plan = PlanSerializer()
    subscription = SubscriptionStateSerializer()
    usage = UsageSerializer()
    plans = PlanSerializer(many=True)
    invoices = InvoiceSerializer(many=True)


def billing_data(summary: BillingSummary) -> dict[str, Any]:
    """The summary in the API's shape."""
    subscription, plan = summary.subscription, summary.plan
    return BillingSerializer({
        "plan": plan,
        "subscription": {
            "status": subscription.status, "trial_ends_at": subscription.trial_ends_at,
            "trial_days_left": summary.trial_days_left, "current_period_end": subscription.current_period_end,
            "past_due_since": subscription.past_due_since, "has_payment_account": bool(subscription.stripe_customer_id),
        },
        "usage": {
            "period_start": summary.period_start, "predictions": summary.predictions,
            "included_predictions": plan.included_predictions, "machines": summary.machines,
            "max_machines": plan.max_machines, "overage": summary.overage, "overage_cents": summary.overage_cents,
        },
        "plans": summary.plans,
        "invoices": summary.invoices,
    }).data


class CheckoutSerializer(serializers.Serializer[Any]):
    plan = serializers.SlugField(help_text="The plan's code: starter or growth (enterprise is arranged by contract).")


class SessionUrlSerializer(serializers.Serializer[Any]):
    url = serializers.URLField(help_text="Send the browser here (Stripe Checkout or the Customer Portal).")
