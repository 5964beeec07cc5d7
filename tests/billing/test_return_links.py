"""Stripe sends the customer back to links built from the site address (PDM_SITE_URL), with the
tenant's host, whatever port the request that started checkout came in on."""

from __future__ import annotations


def test_checkout_and_portal_return_to_the_site_address(client_for, stripe, settings):
    settings.SITE_URL = "http://localhost:8010"
    admin = client_for("admin")
    checkout_started = admin.post("/api/v1/billing/checkout/", {"plan": "starter"}, content_type="application/json")
    assert checkout_started.status_code == 200, checkout_started.content
    assert admin.post("/api/v1/billing/portal/").status_code == 200
    (checkout,) = (call.params for call in stripe.calls("/v1/checkout/sessions"))
    assert checkout["success_url"] == "http://acme.localhost:8010/billing/?checkout=success"
    assert checkout["cancel_url"] == "http://acme.localhost:8010/billing/?checkout=canceled"
    (portal,) = (call.params for call in stripe.calls("/v1/billing_portal/sessions"))
    assert portal["return_url"] == "http://acme.localhost:8010/billing/"
