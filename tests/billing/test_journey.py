"""The issue's whole story in one test, through the API and signed webhooks against the Stripe
double: a trial tenant predicts, sees its usage climb, is refused clearly at its limit, upgrades
through Checkout, and continues, its overage now counted for Stripe."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import tenant_context

from predictions.models import Prediction
from tests.billing.conftest import post_event, stripe_subscription, subscription_of, usage_set
from tests.stripe_double import stripe_event

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _predict(client: Any) -> Any:
    return client.post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type=JSON)


def test_subscribe_climb_hit_the_limit_upgrade_and_continue(trained_motor: Any, stripe: Any, world: Any,
                                                            client_for: Any, key_client: Any, settings: Any) -> None:
    settings.BILLING_QUOTAS_ENABLED = True  # the test env turns quotas off for the shared world
    engineer, admin = client_for("engineer"), client_for("admin")
    usage_set(world.acme.id, 998)  # a trial (1,000 included, no overage) nearly used up

    # Usage climbs with every prediction, visible on the billing API.
    assert _predict(engineer).status_code == 201
    assert admin.get("/api/v1/billing/").json()["usage"]["predictions"] == 999
    assert _predict(engineer).status_code == 201
    assert admin.get("/api/v1/billing/").json()["usage"]["predictions"] == 1000

    # At the limit: a clear refusal with the limit, the usage and where to upgrade; nothing stored.
    with tenant_context(world.acme):
        stored = Prediction.objects.filter(machine__name="ABB-101").count()
    refused = _predict(engineer)
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["details"] == {"limit": 1000, "used": 1000, "requested": 1, "upgrade_url": "/billing/"}
    assert "upgrade" in error["message"].lower()
    with tenant_context(world.acme):
        assert Prediction.objects.filter(machine__name="ABB-101").count() == stored

    # Upgrade: Checkout through Stripe (the double), then Stripe's signed webhooks.
    checkout = admin.post("/api/v1/billing/checkout/", {"plan": "starter"}, content_type=JSON)
    assert checkout.status_code == 200 and checkout.json()["url"].startswith("http")
    customer = subscription_of(world.acme).stripe_customer_id
    assert customer and stripe.calls("/v1/checkout/sessions")
    session = {"id": "cs_up", "object": "checkout.session", "mode": "subscription", "customer": customer,
               "client_reference_id": str(world.acme.id), "subscription": "sub_up", "payment_status": "paid",
               "metadata": {"tenant_id": str(world.acme.id), "plan": "starter"}}
    assert post_event(stripe_event("checkout.session.completed", session)).status_code == 200
    active = stripe_subscription("sub_up", customer, price="price_starter", tenant_id=world.acme.id)
    assert post_event(stripe_event("customer.subscription.updated", active)).status_code == 200
    subscription = subscription_of(world.acme)
    assert (subscription.plan.code, subscription.status) == ("starter", "active")

    # And continue: Starter includes 10,000 predictions and bills beyond; the count goes on.
    assert _predict(engineer).status_code == 201
    billing = admin.get("/api/v1/billing/").json()
    assert billing["usage"]["predictions"] == 1001 and billing["plan"]["code"] == "starter"
