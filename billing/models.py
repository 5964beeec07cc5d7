"""Plans and subscriptions, in the public schema.

Plan limits are local fields that other apps read without calling Stripe. Stripe wiring
(checkout, webhooks, metering) comes with the billing issue; signup only starts a trial.
"""

from __future__ import annotations

from django.db import models


class Plan(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    monthly_price_cents = models.PositiveIntegerField(default=0)
    max_machines = models.PositiveIntegerField(null=True, blank=True, help_text="empty = unlimited")
    included_predictions = models.PositiveIntegerField(null=True, blank=True, help_text="per period")
    trial_days = models.PositiveIntegerField(default=0)
    is_public = models.BooleanField(default=True)

    class Meta:
        ordering = ["monthly_price_cents", "code"]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    class Status(models.TextChoices):
        TRIALING = "trialing"
        ACTIVE = "active"
        PAST_DUE = "past_due"
        CANCELED = "canceled"

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=Status.choices)
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.tenant} on {self.plan} ({self.status})"


class UsageCounter(models.Model):
    """Billable predictions of a tenant in one period (a calendar month, UTC). Incremented by one
    atomic upsert per scoring call (`billing.services.usage_record_predictions`), so concurrent
    workers never lose a count and a restart loses nothing."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="usage_counters")
    period_start = models.DateField()
    predictions = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [models.UniqueConstraint(fields=["tenant", "period_start"], name="usage_one_per_period")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.period_start:%Y-%m}: {self.predictions}"
