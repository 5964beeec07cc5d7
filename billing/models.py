"""Plans, subscriptions, usage and what Stripe told us, in the public schema.

Plan limits are local fields that other apps read without calling Stripe. Stripe is the source
of truth for money (checkout, invoices, payment state); its webhooks update the local
`Subscription`, and a Celery job reports usage beyond the plan's included predictions as meter
events (see docs/billing.md).
"""

from __future__ import annotations

from django.db import models

from tenants.row_cache import RowsManager


class Plan(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    monthly_price_cents = models.PositiveIntegerField(default=0)
    max_machines = models.PositiveIntegerField(null=True, blank=True, help_text="empty = unlimited")
    included_predictions = models.PositiveIntegerField(null=True, blank=True, help_text="per period")
    trial_days = models.PositiveIntegerField(default=0)
    is_public = models.BooleanField(default=True)
    # Price of one prediction beyond `included_predictions`, in cents; empty = no overage: the
    # plan stops predicting at its included amount until the next period or an upgrade.
    overage_cents_per_prediction = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    # API requests per minute per API key (browsers are not metered this way).
    requests_per_minute = models.PositiveIntegerField(default=60)
    # Stripe prices: the monthly fee and the metered overage (empty for plans not sold online).
    stripe_price_id = models.CharField(max_length=100, blank=True)
    stripe_overage_price_id = models.CharField(max_length=100, blank=True)
    objects = RowsManager()  # its updates reach the row caches (tenants/row_cache.py)

    class Meta:
        ordering = ["monthly_price_cents", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def allows_overage(self) -> bool:
        return self.overage_cents_per_prediction is not None

    @property
    def self_serve(self) -> bool:
        """Bought through Stripe Checkout (enterprise is invoiced by contract)."""
        return bool(self.stripe_price_id)


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
    stripe_customer_id = models.CharField(max_length=100, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True, db_index=True)
    past_due_since = models.DateTimeField(null=True, blank=True)
    # The `created` time of the newest Stripe event applied: an older one arriving late (Stripe
    # does not promise order) must not roll the state back.
    stripe_state_at = models.BigIntegerField(default=0)
    objects = RowsManager()  # its updates reach the row caches (tenants/row_cache.py)

    def __str__(self) -> str:
        return f"{self.tenant} on {self.plan} ({self.status})"


class StripeEvent(models.Model):
    """Every webhook event received, once: the unique id makes a replayed delivery a no-op."""

    class Outcome(models.TextChoices):
        APPLIED = "applied"
        STALE = "stale"  # older than the state already applied
        IGNORED = "ignored"  # a type we do not act on, or for no tenant of ours

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    created = models.BigIntegerField()  # Stripe's epoch seconds
    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} ({self.outcome})"


class Invoice(models.Model):
    """An invoice as Stripe last described it, shown to the tenant."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="invoices")
    stripe_invoice_id = models.CharField(max_length=100, unique=True)
    number = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=32)  # draft, open, paid, uncollectible, void
    currency = models.CharField(max_length=8, default="usd")
    amount_due_cents = models.BigIntegerField(default=0)
    amount_paid_cents = models.BigIntegerField(default=0)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    hosted_invoice_url = models.URLField(max_length=500, blank=True)
    stripe_created = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-stripe_created", "-id"]

    def __str__(self) -> str:
        return f"{self.number or self.stripe_invoice_id} {self.status}"


class UsageReport(models.Model):
    """How much of a period's overage has reached Stripe. The reporting job sends the difference
    between the overage now and `reported_overage` as one meter event whose identifier is derived
    from the new total: a retry after a crash between sending and saving sends the same
    identifier, which Stripe deduplicates, so nothing is billed twice (billing/reporting.py)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="usage_reports")
    period_start = models.DateField()
    reported_overage = models.BigIntegerField(default=0)
    # The total a meter event about to be sent brings `reported_overage` to, committed before
    # sending: a crash after sending leaves it here, and the next run resends exactly that event
    # (same identifier, same value) before looking at new usage, so a retry never bills twice.
    pending_overage = models.BigIntegerField(null=True, blank=True)
    last_identifier = models.CharField(max_length=120, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [models.UniqueConstraint(fields=["tenant", "period_start"], name="usage_report_one_per_period")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.period_start:%Y-%m}: {self.reported_overage} reported"


class UsageCounter(models.Model):
    """Billable predictions of a tenant in one period (a calendar month, UTC). Incremented in the
    transaction that stores the predictions, by one conditional upsert per scoring call
    (`billing.quotas.prediction_quota_reserve`: it refuses, atomically, what would pass a plan's
    limit without overage), so concurrent workers never lose a count nor pass the limit, and a
    restart loses nothing."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="usage_counters")
    period_start = models.DateField()
    predictions = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [models.UniqueConstraint(fields=["tenant", "period_start"], name="usage_one_per_period")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.period_start:%Y-%m}: {self.predictions}"
