"""The billing page and API: who sees and does what, and what they show."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from billing.models import Plan, Subscription, UsageCounter
from billing.services import usage_period_start


@pytest.fixture
def on_starter(stripe, world) -> Subscription:
    Subscription.objects.filter(tenant=world.acme).update(plan=Plan.objects.get(code="starter"), status="active",
                                                           stripe_customer_id="cus_acme_page")
    UsageCounter.objects.update_or_create(tenant=world.acme, period_start=usage_period_start(),
                                          defaults={"predictions": 10_250})
    return Subscription.objects.get(tenant=world.acme)


def test_anonymous_goes_to_login_and_another_tenant_gets_404(client_for):
    anonymous = client_for(None).get("/billing/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert client_for("globex_owner").get("/billing/").status_code == 404
    assert client_for("outsider").get("/billing/").status_code == 404
    assert client_for(None).post("/billing/checkout/", {"plan": "starter"}).status_code == 302
    assert client_for("globex_owner").post("/billing/checkout/", {"plan": "starter"}).status_code == 404


def test_a_viewer_reads_the_trial_but_cannot_act(client_for, stripe):
    viewer = client_for("viewer")
    page = viewer.get("/billing/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Free trial" in html and "Trialing" in html and "days left" in html
    assert "of 1,000 included predictions" in html
    assert "Upgrade to" not in html and "Manage payment" not in html
    assert "Only admins can change the plan" in html
    assert viewer.post("/billing/checkout/", {"plan": "starter"}).status_code == 403
    assert viewer.post("/billing/portal/").status_code == 403
    assert stripe.requests == []


def test_an_admin_sees_upgrades_and_contact_us_for_enterprise(client_for, stripe):
    html = client_for("admin").get("/billing/").content.decode()
    assert "Upgrade to Starter" in html and "Upgrade to Growth" in html
    assert 'name="plan" value="enterprise"' not in html and "Contact us" in html
    assert "$500.00/month" in html and "$2,000.00/month" in html


def test_usage_overage_and_machines_on_an_active_plan(client_for, on_starter, motor):
    html = client_for("admin").get("/billing/").content.decode()
    assert "10,250</b> of 10,000 included predictions (100%)" in html
    assert "Overage so far: <b>250</b> predictions at $0.06 each = <b>$15.00</b>" in html
    assert "1 / 10" in html  # machines used against the plan's limit
    assert "Switch to Growth" in html and "Switch to Starter" not in html
    assert "Manage payment and invoices" in html


def test_past_due_shows_the_grace_period(client_for, on_starter):
    two_days_ago = timezone.now() - timedelta(days=2)
    Subscription.objects.filter(pk=on_starter.pk).update(status="past_due", past_due_since=two_days_ago)
    html = client_for("viewer").get("/billing/").content.decode()
    assert "Past Due" in html and "grace period" in html and "Ask an admin" in html
    grace_end = two_days_ago + timedelta(days=django_settings.BILLING_GRACE_DAYS)
    assert f"until {grace_end:%Y-%m-%d %H:%M} UTC" in html


def test_checkout_return_messages(client_for, stripe):
    assert "Thank you" in client_for("viewer").get("/billing/?checkout=success").content.decode()
    assert "nothing was charged" in client_for("viewer").get("/billing/?checkout=canceled").content.decode()


def test_the_api_shows_plan_status_limits_usage_and_overage(key_client, on_starter, motor):
    body = key_client(["read"]).get("/api/v1/billing/").json()
    assert body["plan"]["code"] == "starter" and body["plan"]["overage_cents_per_prediction"] == "6.0000"
    assert body["subscription"]["status"] == "active" and body["subscription"]["has_payment_account"] is True
    usage = body["usage"]
    assert (usage["predictions"], usage["included_predictions"], usage["overage"]) == (10_250, 10_000, 250)
    assert (usage["machines"], usage["max_machines"], usage["overage_cents"]) == (1, 10, "1500.00")
    assert [p["code"] for p in body["plans"]] == ["trial", "starter", "growth", "enterprise"]
    assert body["invoices"] == []


def test_checkout_and_portal_need_admin_on_the_api(key_client, client_for, stripe):
    assert key_client(["read", "predict", "write"]).post(
        "/api/v1/billing/checkout/", {"plan": "starter"}, content_type="application/json").status_code == 403
    assert client_for("engineer").post("/api/v1/billing/portal/").status_code == 403
    response = key_client(["read", "admin"]).post("/api/v1/billing/checkout/", {"plan": "starter"},
                                                  content_type="application/json")
    assert response.status_code == 200 and response.json()["url"].startswith("https://checkout.stripe.test/")
    assert client_for(None).get("/api/v1/billing/").status_code == 401


def test_prices_and_counts_read_as_a_person_writes_them():
    from decimal import Decimal

    from billing.templatetags.money import count, money

    assert money(Decimal("2.5")) == "$0.025"  # a per-prediction price keeps its fraction of a cent
    assert money(Decimal("6")) == "$0.06" and money(200_000) == "$2,000.00" and money(None) == "$0.00"
    assert count(100_000) == "100,000" and count(None) == ""
