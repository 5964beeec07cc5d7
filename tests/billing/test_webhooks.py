"""Stripe webhooks: signature, idempotency by event id, order, and what each event changes."""

from __future__ import annotations

import json
import time

import pytest

from billing import subscriptions
from billing.models import Invoice, StripeEvent, Subscription
from tests.billing.conftest import post_event, stripe_subscription, subscription_of
from tests.stripe_double import signature_header, stripe_event

CUSTOMER = "cus_acme_hook"


@pytest.fixture
def linked(stripe, world) -> Subscription:
    """Acme with a Stripe customer (as after its first checkout), still on the trial."""
    Subscription.objects.filter(tenant=world.acme).update(stripe_customer_id=CUSTOMER)
    return subscription_of(world.acme)


def _checkout_completed(world, *, sub_id: str = "sub_1", plan: str = "growth", created: int | None = None):
    session = {"id": "cs_1", "object": "checkout.session", "mode": "subscription", "customer": CUSTOMER,
               "client_reference_id": str(world.acme.id), "subscription": sub_id, "payment_status": "paid",
               "metadata": {"tenant_id": str(world.acme.id), "plan": plan}}
    return stripe_event("checkout.session.completed", session, created=created)


def test_bad_or_missing_signature_is_400_and_stores_nothing(stripe, linked, world):
    event = stripe_event("customer.subscription.updated", stripe_subscription("sub_1", CUSTOMER))
    assert post_event(event, secret="whsec_someone_else").status_code == 400
    assert post_event(event, signature="").status_code == 400
    stale_signature = signature_header(json.dumps(event), "whsec_test_double", timestamp=int(time.time()) - 3600)
    assert post_event(event, signature=stale_signature).status_code == 400  # outside the 5-minute tolerance
    assert post_event(event, signature="t=1,v1=deadbeef").json()["error"]["code"] == "invalid_signature"
    assert not StripeEvent.objects.exists()
    assert subscription_of(world.acme).status == "trialing"


def test_unverifiable_when_no_secret_is_configured(stripe, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = post_event(stripe_event("invoice.paid", {"id": "in_1"}), secret="whatever")
    assert response.status_code == 503  # Stripe retries later
    assert not StripeEvent.objects.exists()


def test_get_is_not_allowed(stripe):
    from django.test import Client

    assert Client(HTTP_HOST="localhost").get("/stripe/webhook/").status_code == 405


def test_checkout_then_subscription_updated_make_the_plan_active(stripe, linked, world):
    response = post_event(_checkout_completed(world))
    assert response.status_code == 200 and response.json()["outcome"] == "applied"
    subscription = subscription_of(world.acme)
    assert subscription.plan.code == "growth" and subscription.status == "active"
    assert subscription.stripe_subscription_id == "sub_1"

    updated = stripe_event("customer.subscription.updated",
                           stripe_subscription("sub_1", CUSTOMER, price="price_starter", period_end=1_900_000_000))
    assert post_event(updated).json()["outcome"] == "applied"
    subscription = subscription_of(world.acme)
    assert subscription.plan.code == "starter" and subscription.status == "active"
    assert int(subscription.current_period_end.timestamp()) == 1_900_000_000
    assert subscription.stripe_state_at == updated["created"]
    assert sorted(StripeEvent.objects.values_list("type", "outcome", "tenant_id")) == [
        ("checkout.session.completed", "applied", world.acme.id),
        ("customer.subscription.updated", "applied", world.acme.id),
    ]


def test_checkout_links_a_tenant_without_a_customer_yet_by_client_reference(stripe, world):
    assert post_event(_checkout_completed(world)).json()["outcome"] == "applied"
    subscription = subscription_of(world.acme)
    assert subscription.stripe_customer_id == CUSTOMER and subscription.plan.code == "growth"


def test_a_replayed_event_has_no_effect(stripe, linked, world):
    event = stripe_event("customer.subscription.updated", stripe_subscription("sub_1", CUSTOMER, price="price_growth"))
    assert post_event(event).json()["outcome"] == "applied"
    Subscription.objects.filter(tenant=world.acme).update(status="past_due")  # changed since, by a newer event
    replay = post_event(event)
    assert replay.status_code == 200 and replay.json()["outcome"] == "replayed"
    assert subscription_of(world.acme).status == "past_due"
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1


def test_an_older_event_arriving_late_does_not_roll_the_state_back(stripe, linked, world):
    now = int(time.time())
    active = stripe_event("customer.subscription.updated", stripe_subscription("sub_1", CUSTOMER), created=now)
    older_past_due = stripe_event("customer.subscription.updated",
                                  stripe_subscription("sub_1", CUSTOMER, status="past_due"), created=now - 60)
    assert post_event(active).json()["outcome"] == "applied"
    assert post_event(older_past_due).json()["outcome"] == "stale"
    subscription = subscription_of(world.acme)
    assert subscription.status == "active" and subscription.past_due_since is None
    assert StripeEvent.objects.get(event_id=older_past_due["id"]).outcome == "stale"


def test_past_due_since_is_set_once_and_cleared_when_paid(stripe, linked, world):
    now = int(time.time())
    for offset in (0, 3600):  # two past_due updates: the grace period counts from the first
        post_event(stripe_event("customer.subscription.updated",
                                stripe_subscription("sub_1", CUSTOMER, status="past_due"), created=now + offset))
    subscription = subscription_of(world.acme)
    assert subscription.status == "past_due" and int(subscription.past_due_since.timestamp()) == now
    paid = stripe_event("customer.subscription.updated", stripe_subscription("sub_1", CUSTOMER), created=now + 7200)
    post_event(paid)
    subscription = subscription_of(world.acme)
    assert subscription.status == "active" and subscription.past_due_since is None


def test_deleted_cancels_and_unpaid_counts_as_past_due(stripe, linked, world):
    now = int(time.time())
    post_event(stripe_event("customer.subscription.created",
                            stripe_subscription("sub_1", CUSTOMER, status="unpaid"), created=now))
    assert subscription_of(world.acme).status == "past_due"
    post_event(stripe_event("customer.subscription.deleted",
                            stripe_subscription("sub_1", CUSTOMER, status="canceled"), created=now + 1))
    assert subscription_of(world.acme).status == "canceled"


def test_switching_plan_through_checkout_ends_the_previous_subscription(stripe, linked, world):
    now = int(time.time())
    post_event(_checkout_completed(world, sub_id="sub_old", plan="starter", created=now))
    post_event(_checkout_completed(world, sub_id="sub_new", plan="growth", created=now + 10) | {"id": "evt_switch"})
    subscription = subscription_of(world.acme)
    assert (subscription.stripe_subscription_id, subscription.plan.code) == ("sub_new", "growth")
    assert stripe.canceled_subscriptions == ["sub_old"]
    # The old subscription's end, arriving afterwards, does not cancel the tenant.
    ended = stripe_event("customer.subscription.deleted",
                         stripe_subscription("sub_old", CUSTOMER, status="canceled"), created=now + 20)
    assert post_event(ended).json()["outcome"] == "ignored"
    assert subscription_of(world.acme).status == "active"


def test_unknown_types_and_customers_are_recorded_as_ignored(stripe, linked, world):
    unknown_type = stripe_event("charge.refunded", {"id": "ch_1", "customer": CUSTOMER})
    unknown_customer = stripe_event("customer.subscription.updated", stripe_subscription("sub_9", "cus_nobody"))
    for event in (unknown_type, unknown_customer):
        response = post_event(event)
        assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert StripeEvent.objects.filter(outcome="ignored").count() == 2
    assert subscription_of(world.acme).status == "trialing"


def test_a_crash_part_way_leaves_no_event_so_the_retry_is_processed(stripe, linked, world, monkeypatch):
    event = stripe_event("customer.subscription.updated", stripe_subscription("sub_1", CUSTOMER, price="price_growth"))

    def crash(*args, **kwargs):
        raise RuntimeError("worker died mid-way")

    monkeypatch.setattr(subscriptions, "_apply_subscription", crash)
    with pytest.raises(RuntimeError):
        post_event(event)
    assert not StripeEvent.objects.filter(event_id=event["id"]).exists()
    monkeypatch.undo()
    assert post_event(event).json()["outcome"] == "applied"
    assert subscription_of(world.acme).plan.code == "growth"


def _invoice(status: str, **fields):
    return {"id": "in_1", "object": "invoice", "customer": CUSTOMER, "number": "ACME-0001", "status": status,
            "currency": "usd", "amount_due": 50_000, "amount_paid": 50_000 if status == "paid" else 0,
            "period_start": 1_890_000_000, "period_end": 1_892_592_000, "created": 1_890_000_100,
            "hosted_invoice_url": "https://invoice.stripe.test/i/in_1", **fields}


def test_invoices_are_upserted_and_never_move_back(stripe, linked, world, client_for):
    now = int(time.time())
    post_event(stripe_event("invoice.created", _invoice("draft", number=None, hosted_invoice_url=None), created=now))
    post_event(stripe_event("invoice.paid", _invoice("paid"), created=now + 20))
    late = post_event(stripe_event("invoice.finalized", _invoice("open"), created=now + 10))
    assert late.json()["outcome"] == "stale"
    invoice = Invoice.objects.get(stripe_invoice_id="in_1")
    assert (invoice.tenant_id, invoice.status, invoice.number) == (world.acme.id, "paid", "ACME-0001")
    assert invoice.amount_paid_cents == 50_000
    # Invoices are applied by their own state, even when older than the subscription's state.
    Subscription.objects.filter(tenant=world.acme).update(stripe_state_at=now + 10_000)
    post_event(stripe_event("invoice.payment_failed", _invoice("open", id="in_2", number="ACME-0002"), created=now))
    assert Invoice.objects.get(stripe_invoice_id="in_2").status == "open"

    page = client_for("viewer").get("/billing/").content.decode()
    assert "ACME-0001" in page and "$500.00" in page and "ACME-0002" in page
    assert "https://invoice.stripe.test/i/in_1" in page
    api = client_for("viewer").get("/api/v1/billing/").json()
    assert {i["number"]: i["status"] for i in api["invoices"]} == {"ACME-0001": "paid", "ACME-0002": "open"}
