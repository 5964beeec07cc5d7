"""The Stripe double, started once and reset for every test, with settings pointing at it;
helpers to post signed webhooks and to give acme's plans Stripe prices; billing's tests that
score with `trained_motor` run last."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from billing.models import Plan, Subscription, UsageCounter
from billing.services import usage_period_start
from tests import stripe_double
from tests.stripe_double import StripeDouble

WEBHOOK_SECRET = "whsec_test_double"
PRICES = {"starter": ("price_starter", "price_starter_overage"), "growth": ("price_growth", "price_growth_overage")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Billing's tests that use `trained_motor` run after every other collected test. The fixture
    commits ABB-101, its readings and its onboarding predictions into acme for the rest of the
    session; the machine quota and billing page tests here, and tests/machines (collected after
    this folder), count acme's machines and readings and would see them."""
    here = Path(__file__).parent
    late = [item for item in items
            if here in item.path.parents and "trained_motor" in getattr(item, "fixturenames", ())]
    if late:
        items[:] = [item for item in items if item not in late] + late


@pytest.fixture(scope="session")
def _stripe_server() -> Iterator[StripeDouble]:
    double, server = stripe_double.start()
    yield double
    server.shutdown()


@pytest.fixture
def stripe_settings(_stripe_server: StripeDouble, settings: Any) -> StripeDouble:
    """Stripe configured and pointing at a freshly reset double (no database needed)."""
    _stripe_server.reset()
    settings.STRIPE_SECRET_KEY = "sk_test_double"
    settings.STRIPE_API_BASE = _stripe_server.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_METER_EVENT_NAME = "pdm_predictions"
    return _stripe_server


@pytest.fixture
def stripe(stripe_settings: StripeDouble, db: None) -> StripeDouble:
    """The double, and the plans with their Stripe prices (rolled back after the test)."""
    for code, (price, overage) in PRICES.items():
        Plan.objects.filter(code=code).update(stripe_price_id=price, stripe_overage_price_id=overage)
    return stripe_settings


def post_event(event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, signature: str | None = None) -> Any:
    """POST `event` to the webhook endpoint on the public host, signed like Stripe does."""
    payload = json.dumps(event)
    header = signature if signature is not None else stripe_double.signature_header(payload, secret)
    return Client(HTTP_HOST="localhost").post("/stripe/webhook/", payload, content_type="application/json",
                                              HTTP_STRIPE_SIGNATURE=header)


def usage_set(tenant_id: int, predictions: int, period: date | None = None) -> None:
    """The tenant's prediction counter for `period` (default: this month), as if it had predicted."""
    UsageCounter.objects.update_or_create(tenant_id=tenant_id, period_start=period or usage_period_start(),
                                          defaults={"predictions": predictions})


def subscription_of(tenant: Any) -> Subscription:
    return Subscription.objects.select_related("plan").get(tenant=tenant)


def stripe_subscription(sub_id: str, customer: str, *, status: str = "active", price: str = "price_growth",
                        period_end: int = 1_900_000_000, tenant_id: int | None = None) -> dict[str, Any]:
    """A Stripe subscription object as webhooks carry it (the period on the item, as in newer APIs)."""
    return {
        "id": sub_id, "object": "subscription", "customer": customer, "status": status,
        "metadata": {"tenant_id": str(tenant_id)} if tenant_id else {},
        "items": {"object": "list", "data": [
            {"id": f"si_{sub_id}", "object": "subscription_item", "price": {"id": price, "object": "price"},
             "current_period_end": period_end},
        ]},
    }
