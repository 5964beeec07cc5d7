"""Subscribing through Stripe, and Stripe's webhooks driving the local subscription state.

- `checkout_start` / `portal_open` give the browser a Stripe URL (Checkout to subscribe or change
  plan, the Customer Portal for payment methods, invoices and cancelling). The tenant's Stripe
  customer is created once, on first need (`customer_ensure`).
- `webhook_receive` verifies a delivery, records the event once by id (a replay is a no-op) and
  applies it, all in one transaction: a crash part-way leaves no `StripeEvent`, so Stripe's retry
  is processed in full.
- Stripe does not promise order. `Subscription.stripe_state_at` holds the `created` time of the
  newest event applied to the subscription; an older one arriving late is recorded as `stale`
  and changes nothing. Invoices follow their own lifecycle instead (draft, open, then paid, void
  or uncollectible), so a late event never moves an invoice back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from billing import stripe_gateway
from billing.models import Invoice, Plan, StripeEvent, Subscription
from billing.reporting import overage_for, period_predictions
from billing.selectors import plan_public_list
from billing.services import subscription_start_trial, usage_period_start
from pdm_saas.errors import Conflict, InvalidInput
from tenants.models import Tenant
from tenants.schema_names import host_for_slug, tenant_url

logger = logging.getLogger(__name__)

Event = dict[str, Any]
Outcome = tuple[str, Tenant | None]

# Stripe's subscription statuses in ours. `incomplete` (first payment pending) and
# `incomplete_expired` change nothing: the tenant keeps what it had until payment succeeds.
_STATUS = {
    "trialing": Subscription.Status.TRIALING,
    "active": Subscription.Status.ACTIVE,
    "past_due": Subscription.Status.PAST_DUE,
    "unpaid": Subscription.Status.PAST_DUE,  # retries exhausted: the grace period keeps running
    "paused": Subscription.Status.PAST_DUE,  # trial ended without a payment method
    "canceled": Subscription.Status.CANCELED,
}
# An invoice only moves forward: draft -> open -> paid / void (uncollectible can still be paid).
_INVOICE_RANK = {"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 3}


# --- checkout, portal, customer ---------------------------------------------------------------


def _subscription_of(tenant: Tenant) -> Subscription:
    subscription = Subscription.objects.filter(tenant=tenant).first()
    return subscription or subscription_start_trial(tenant=tenant)


def customer_ensure(*, tenant: Tenant) -> str:
    """The tenant's Stripe customer id, created on first need. The row lock makes two concurrent
    first checkouts share one customer; the idempotency key covers a retry after a timeout."""
    _subscription_of(tenant)
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(tenant=tenant)
        if subscription.stripe_customer_id:
            return subscription.stripe_customer_id
        subscription.stripe_customer_id = stripe_gateway.customer_create(
            tenant_id=tenant.id, slug=tenant.slug, name=tenant.name,
            # Tenant ids restart in a fresh database; the creation time keeps keys apart.
            idempotency_key=f"pdm-customer-{tenant.id}-{int(tenant.created_at.timestamp())}",
        )
        subscription.save(update_fields=["stripe_customer_id"])
        return subscription.stripe_customer_id


def _billing_url(tenant: Tenant, query: str = "") -> str:
    return tenant_url(host_for_slug(tenant.slug), f"/billing/{query}")


def _next_month_start(now: datetime) -> int:
    """The next 1st of the month, 00:00 UTC, as Stripe's billing cycle anchor."""
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def _checkout_plan(*, tenant: Tenant, plan_code: str) -> Plan:
    plan = Plan.objects.filter(code=plan_code, is_public=True).first()
    if plan is None:
        raise InvalidInput(f"There is no plan {plan_code!r}.", code="unknown_plan", details={"plan": plan_code})
    if not plan.self_serve:
        raise InvalidInput(f"The {plan.name} plan is arranged by contract: contact us and we will set it up.",
                           code="plan_not_self_serve", details={"plan": plan.code})
    current = _subscription_of(tenant)
    if current.plan_id == plan.id and current.status == Subscription.Status.ACTIVE:
        raise Conflict(f"You are already on the {plan.name} plan.", code="already_on_plan", details={"plan": plan.code})
    if plan.allows_overage and not plan.stripe_overage_price_id:
        raise stripe_gateway.BillingNotConfigured(
            f"The {plan.name} plan has no overage price configured yet; contact support.")
    return plan


def checkout_start(*, tenant: Tenant, plan_code: str, now: datetime | None = None) -> stripe_gateway.Session:
    """A Stripe Checkout session subscribing the tenant to `plan_code` (its monthly price, plus
    the metered overage price when the plan bills overage). A tenant that already pays switches
    by subscribing again: the webhook then ends the previous subscription with a prorated credit."""
    plan = _checkout_plan(tenant=tenant, plan_code=plan_code)
    customer_id = customer_ensure(tenant=tenant)
    prices = [plan.stripe_price_id] + ([plan.stripe_overage_price_id] if plan.allows_overage else [])
    return stripe_gateway.checkout_session_create(
        customer_id=customer_id, tenant_id=tenant.id, plan_code=plan.code, price_ids=prices,
        success_url=_billing_url(tenant, "?checkout=success"), cancel_url=_billing_url(tenant, "?checkout=canceled"),
        billing_cycle_anchor=_next_month_start(now or datetime.now(UTC)),
    )


def portal_open(*, tenant: Tenant) -> stripe_gateway.Session:
    """Stripe's Customer Portal: payment methods, invoices, cancelling."""
    return stripe_gateway.portal_session_create(customer_id=customer_ensure(tenant=tenant),
                                                return_url=_billing_url(tenant))


# --- what the billing page and API show -------------------------------------------------------


@dataclass(frozen=True)
class BillingSummary:
    subscription: Subscription
    plan: Plan
    period_start: date
    predictions: int
    machines: int
    overage: int  # predictions beyond the included amount this period (billed on overage plans)
    overage_cents: Decimal
    plans: list[Plan]
    invoices: list[Invoice]
    now: datetime

    @property
    def trial_days_left(self) -> int | None:
        ends = self.subscription.trial_ends_at
        if self.subscription.status != Subscription.Status.TRIALING or ends is None:
            return None
        return max(0, (ends - self.now).days)

    @property
    def grace_ends_at(self) -> datetime | None:
        """When a past-due organization becomes read-only (billing/access.py enforces it)."""
        since = self.subscription.past_due_since
        if self.subscription.status != Subscription.Status.PAST_DUE or since is None:
            return None
        return since + timedelta(days=settings.BILLING_GRACE_DAYS)

    @property
    def usage_percent(self) -> int:
        included = self.plan.included_predictions
        return min(100, round(100 * self.predictions / included)) if included else 0

    @property
    def over_included(self) -> bool:
        included = self.plan.included_predictions
        return included is not None and self.predictions >= included


def billing_summary(*, tenant: Tenant, machines_used: int, now: datetime | None = None) -> BillingSummary:
    """Plan, status, usage this period, overage and invoices (in the tenant's schema).
    `machines_used` is the caller's count of machines against the plan
    (`machines.selectors.machines_in_use`): billing is called by machines, it does not read them."""
    moment = now or datetime.now(UTC)
    subscription = _subscription_of(tenant)
    plan = subscription.plan
    period_start = usage_period_start(moment)
    predictions = period_predictions(tenant_id=tenant.id, period_start=period_start)
    overage = overage_for(plan=plan, predictions=predictions)
    return BillingSummary(
        subscription=subscription, plan=plan, period_start=period_start, predictions=predictions,
        machines=machines_used, overage=overage,
        overage_cents=overage * (plan.overage_cents_per_prediction or Decimal(0)),
        plans=plan_public_list(), invoices=list(Invoice.objects.filter(tenant=tenant)[:24]), now=moment,
    )


# --- webhooks ---------------------------------------------------------------------------------


def webhook_receive(*, payload: bytes, signature: str | None) -> str:
    """Verify and apply one delivery; returns the outcome (`replayed` for an event seen before).
    Raises `InvalidSignature` (nothing stored) for a payload Stripe did not sign."""
    event = stripe_gateway.webhook_event_construct(payload=payload, signature=signature)
    return webhook_apply(event=event)


def webhook_apply(*, event: Event) -> str:
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(event_id=event["id"], type=event["type"],
                                                    created=int(event["created"]), outcome=StripeEvent.Outcome.IGNORED)
        except IntegrityError:
            # Seen before (or being applied right now by a concurrent delivery, whose insert
            # we waited for): Stripe gets its 200 and nothing happens twice.
            return "replayed"
        handler = _HANDLERS.get(event["type"])
        outcome, tenant = handler(event) if handler else (StripeEvent.Outcome.IGNORED, None)
        record.outcome, record.tenant = outcome, tenant
        record.save(update_fields=["outcome", "tenant"])
    logger.info("stripe event %s %s: %s", event["id"], event["type"], outcome)
    return outcome


def _object(event: Event) -> dict[str, Any]:
    return event["data"]["object"]  # type: ignore[no-any-return]


def _locked(**lookup: Any) -> Subscription | None:
    return Subscription.objects.select_for_update().select_related("tenant", "plan").filter(**lookup).first()


def _subscription_for(obj: dict[str, Any], *, tenant_id: Any = None) -> Subscription | None:
    """Ours by Stripe customer, else by the tenant id we put in the metadata."""
    customer = obj.get("customer")
    subscription = _locked(stripe_customer_id=customer) if customer else None
    tenant_id = tenant_id or (obj.get("metadata") or {}).get("tenant_id")
    if subscription is None and str(tenant_id or "").isdigit():
        subscription = _locked(tenant_id=int(tenant_id))
    return subscription


def _at(epoch: Any) -> datetime | None:
    return datetime.fromtimestamp(int(epoch), UTC) if epoch else None


def _is_stale(subscription: Subscription, event: Event) -> bool:
    # Equal times are applied: Stripe often emits several events within one second.
    return int(event["created"]) < subscription.stripe_state_at


def _adopt(subscription: Subscription, stripe_subscription_id: str) -> None:
    """Track a new Stripe subscription (a plan change through Checkout) and end the one it
    replaces, so the tenant never pays twice."""
    previous = subscription.stripe_subscription_id
    if stripe_subscription_id and previous != stripe_subscription_id:
        if previous:
            stripe_gateway.subscription_cancel(subscription_id=previous)
        subscription.stripe_subscription_id = stripe_subscription_id


def _set_status(subscription: Subscription, status: str, event: Event) -> None:
    if status == Subscription.Status.PAST_DUE:
        # The grace period counts from the first time it became past due, not from each event.
        subscription.past_due_since = subscription.past_due_since or _at(event["created"])
    else:
        subscription.past_due_since = None
    subscription.status = status


def _checkout_completed(event: Event) -> Outcome:
    session = _object(event)
    if session.get("mode") != "subscription":
        return StripeEvent.Outcome.IGNORED, None
    subscription = _subscription_for(session, tenant_id=session.get("client_reference_id"))
    if subscription is None:
        return StripeEvent.Outcome.IGNORED, None
    subscription.stripe_customer_id = subscription.stripe_customer_id or str(session.get("customer") or "")
    if _is_stale(subscription, event):
        subscription.save(update_fields=["stripe_customer_id"])
        return StripeEvent.Outcome.STALE, subscription.tenant
    plan = Plan.objects.filter(code=(session.get("metadata") or {}).get("plan")).first()
    subscription.plan = plan or subscription.plan
    _adopt(subscription, str(session.get("subscription") or ""))
    if session.get("payment_status") in ("paid", "no_payment_required"):
        _set_status(subscription, Subscription.Status.ACTIVE, event)
    subscription.stripe_state_at = int(event["created"])
    subscription.save()
    return StripeEvent.Outcome.APPLIED, subscription.tenant


def _plan_for(stripe_subscription: dict[str, Any]) -> Plan | None:
    prices = [(item.get("price") or {}).get("id") for item in (stripe_subscription.get("items") or {}).get("data", [])]
    plan = Plan.objects.filter(stripe_price_id__in=[p for p in prices if p]).first()
    return plan or Plan.objects.filter(code=(stripe_subscription.get("metadata") or {}).get("plan")).first()


def _period_end(stripe_subscription: dict[str, Any]) -> datetime | None:
    # Newer API versions keep the period on each item rather than on the subscription.
    ends = [item.get("current_period_end") for item in (stripe_subscription.get("items") or {}).get("data", [])]
    return _at(stripe_subscription.get("current_period_end") or max((e for e in ends if e), default=None))


def _subscription_changed(event: Event) -> Outcome:
    obj = _object(event)
    subscription = _subscription_for(obj)
    if subscription is None:
        return StripeEvent.Outcome.IGNORED, None
    stripe_status = "canceled" if event["type"] == "customer.subscription.deleted" else str(obj.get("status"))
    other = bool(subscription.stripe_subscription_id) and subscription.stripe_subscription_id != obj.get("id")
    if other or stripe_status not in _STATUS:
        # Another subscription than the one we track (one we replaced, or a new one whose
        # checkout.session.completed, which switches to it, has not arrived yet), or one whose
        # first payment is still pending.
        return StripeEvent.Outcome.IGNORED, subscription.tenant
    if _is_stale(subscription, event):
        return StripeEvent.Outcome.STALE, subscription.tenant
    _apply_subscription(subscription, obj, _STATUS[stripe_status], event)
    return StripeEvent.Outcome.APPLIED, subscription.tenant


def _apply_subscription(subscription: Subscription, obj: dict[str, Any], status: str, event: Event) -> None:
    subscription.stripe_subscription_id = str(obj.get("id") or "")
    subscription.stripe_customer_id = subscription.stripe_customer_id or str(obj.get("customer") or "")
    subscription.plan = _plan_for(obj) or subscription.plan
    _set_status(subscription, status, event)
    subscription.current_period_end = _period_end(obj) or subscription.current_period_end
    if status == Subscription.Status.TRIALING and obj.get("trial_end"):
        subscription.trial_ends_at = _at(obj["trial_end"])
    subscription.stripe_state_at = int(event["created"])
    subscription.save()


def _invoice_changed(event: Event) -> Outcome:
    obj = _object(event)
    subscription = Subscription.objects.select_related("tenant").filter(stripe_customer_id=obj.get("customer")).first()
    if subscription is None or not obj.get("id"):
        return StripeEvent.Outcome.IGNORED, None
    fields = _invoice_fields(obj)
    invoice, created = Invoice.objects.get_or_create(stripe_invoice_id=obj["id"],
                                                     defaults={"tenant": subscription.tenant, **fields})
    if created:
        return StripeEvent.Outcome.APPLIED, subscription.tenant
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if _INVOICE_RANK.get(fields["status"], 0) < _INVOICE_RANK.get(invoice.status, 0):
        return StripeEvent.Outcome.STALE, subscription.tenant
    for name, value in fields.items():
        setattr(invoice, name, value)
    invoice.save()
    return StripeEvent.Outcome.APPLIED, subscription.tenant


def _invoice_fields(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": obj.get("number") or "",
        "status": obj.get("status") or "draft",
        "currency": obj.get("currency") or "usd",
        "amount_due_cents": int(obj.get("amount_due") or 0),
        "amount_paid_cents": int(obj.get("amount_paid") or 0),
        "period_start": _at(obj.get("period_start")),
        "period_end": _at(obj.get("period_end")),
        "hosted_invoice_url": obj.get("hosted_invoice_url") or "",
        "stripe_created": int(obj.get("created") or 0),
    }


_HANDLERS: dict[str, Callable[[Event], Outcome]] = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "invoice.created": _invoice_changed,
    "invoice.finalized": _invoice_changed,
    "invoice.paid": _invoice_changed,
    "invoice.payment_failed": _invoice_changed,
}
# For docs/billing.md and the Stripe dashboard: the events to enable on the endpoint.
WEBHOOK_EVENTS = tuple(_HANDLERS)
