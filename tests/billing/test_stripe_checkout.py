"""Checkout, the Customer Portal and the gateway's errors, against the Stripe double."""

from __future__ import annotations

import socket

import pytest

from billing import stripe_gateway
from billing.models import Subscription
from billing.subscriptions import customer_ensure
from pdm_saas.errors import ServiceError


def _checkout(client, plan: str):
    return client.post("/api/v1/billing/checkout/", {"plan": plan}, content_type="application/json")


def test_checkout_creates_the_customer_once_and_a_session_with_the_plans_prices(client_for, stripe, world):
    admin = client_for("admin")
    first = _checkout(admin, "starter")
    assert first.status_code == 200, first.content
    assert first.json()["url"].startswith("https://checkout.stripe.test/c/pay/cs_")
    assert _checkout(admin, "growth").status_code == 200

    customers = stripe.calls("/v1/customers")
    assert len(customers) == 1
    assert customers[0].params["metadata"] == {"tenant_id": str(world.acme.id), "tenant_slug": "acme"}
    subscription = Subscription.objects.get(tenant=world.acme)
    assert subscription.stripe_customer_id == next(iter(stripe.customers))

    starter, growth = (call.params for call in stripe.calls("/v1/checkout/sessions"))
    assert starter["mode"] == "subscription"
    assert starter["customer"] == subscription.stripe_customer_id
    assert starter["client_reference_id"] == str(world.acme.id)
    assert starter["line_items"] == [{"price": "price_starter", "quantity": "1"}, {"price": "price_starter_overage"}]
    assert starter["metadata"] == {"tenant_id": str(world.acme.id), "plan": "starter"}
    assert starter["subscription_data"]["metadata"]["plan"] == "starter"
    assert starter["success_url"].startswith("http://acme.localhost")
    assert "/billing/?checkout=success" in starter["success_url"]
    assert "/billing/?checkout=canceled" in starter["cancel_url"]
    assert [item["price"] for item in growth["line_items"]] == ["price_growth", "price_growth_overage"]


def test_checkout_page_redirects_to_stripe_with_303(client_for, stripe):
    response = client_for("admin").post("/billing/checkout/", {"plan": "growth"})
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.test/c/pay/")


def test_enterprise_and_unknown_plans_are_refused_without_calling_stripe(client_for, stripe):
    admin = client_for("admin")
    enterprise = _checkout(admin, "enterprise")
    assert enterprise.status_code == 400
    assert enterprise.json()["error"]["code"] == "plan_not_self_serve"
    assert "contact us" in enterprise.json()["error"]["message"]
    assert _checkout(admin, "platinum").json()["error"]["code"] == "unknown_plan"
    page = admin.post("/billing/checkout/", {"plan": "enterprise"}, follow=True)
    assert "arranged by contract" in page.content.decode()
    assert stripe.requests == []


def test_already_on_the_plan_is_a_conflict(client_for, stripe, world):
    Subscription.objects.filter(tenant=world.acme).update(plan_id=_plan_id("growth"), status="active")
    response = _checkout(client_for("admin"), "growth")
    assert response.status_code == 409 and response.json()["error"]["code"] == "already_on_plan"


def _plan_id(code: str) -> int:
    from billing.models import Plan

    return Plan.objects.get(code=code).id


def test_portal_opens_for_the_tenants_customer(client_for, stripe):
    admin = client_for("admin")
    response = admin.post("/api/v1/billing/portal/")
    assert response.status_code == 200
    assert response.json()["url"].startswith("https://billing.stripe.test/p/session/")
    (call,) = stripe.calls("/v1/billing_portal/sessions")
    assert call.params["customer"] in stripe.customers
    assert call.params["return_url"].endswith("/billing/")
    page = admin.post("/billing/portal/")
    assert page.status_code == 303 and page["Location"].startswith("https://billing.stripe.test/")
    assert len(stripe.calls("/v1/customers")) == 1


def test_not_configured_is_a_clear_503(client_for, stripe, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = _checkout(client_for("admin"), "starter")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "billing_not_configured"
    assert "not set up" in response.json()["error"]["message"]
    page = client_for("admin").post("/billing/checkout/", {"plan": "starter"}, follow=True)
    assert "not set up" in page.content.decode()


def test_a_refused_key_and_an_unreachable_stripe_are_clear_errors(world, stripe, settings, monkeypatch):
    settings.STRIPE_SECRET_KEY = "rk_wrong"  # the double accepts only sk_test_ keys
    with pytest.raises(stripe_gateway.BillingNotConfigured, match="refused this server's key"):
        customer_ensure(tenant=world.acme)
    settings.STRIPE_SECRET_KEY = "sk_test_double"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        settings.STRIPE_API_BASE = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setattr(stripe_gateway, "MAX_NETWORK_RETRIES", 0)
    with pytest.raises(stripe_gateway.BillingUnavailable, match="unreachable") as refused:
        customer_ensure(tenant=world.acme)
    assert isinstance(refused.value, ServiceError) and refused.value.status_code == 503
    assert Subscription.objects.get(tenant=world.acme).stripe_customer_id == ""


def test_the_double_honours_idempotency_keys(stripe, world):
    first = stripe_gateway.customer_create(tenant_id=1, slug="x", name="X", idempotency_key="same-key")
    again = stripe_gateway.customer_create(tenant_id=1, slug="x", name="X", idempotency_key="same-key")
    other = stripe_gateway.customer_create(tenant_id=1, slug="x", name="X", idempotency_key="other-key")
    assert first == again != other
    assert len(stripe.customers) == 2
    assert stripe.requests[0].headers["idempotency-key"] == "same-key"


def test_billing_plans_command_sets_price_ids(db):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from billing.models import Plan

    out = StringIO()
    call_command("billing_plans", "--set", "starter", "price=price_123", "overage=price_456", stdout=out)
    starter = Plan.objects.get(code="starter")
    assert (starter.stripe_price_id, starter.stripe_overage_price_id) == ("price_123", "price_456")
    assert starter.self_serve and "price=price_123" in out.getvalue()
    with pytest.raises(CommandError, match="No plan"):
        call_command("billing_plans", "--set", "platinum", "price=x")
    with pytest.raises(CommandError, match="not understood"):
        call_command("billing_plans", "--set", "starter", "cost=x")
