"""Every call to Stripe, in one module: the seam between billing and the outside world.

The official `stripe` library is configured from settings on each call (no network and no
global state at import): `STRIPE_SECRET_KEY`, `STRIPE_API_BASE` (tests point it at the local
double in tests/stripe_double.py), `STRIPE_WEBHOOK_SECRET`, `STRIPE_METER_EVENT_NAME`.
Stripe's exceptions never leave this module: callers get a `ServiceError` a person can read
(`BillingNotConfigured`, `BillingUnavailable`) or, for webhooks, `InvalidSignature`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe
from django.conf import settings

from pdm_saas.errors import ServiceError

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds to wait for Stripe: a checkout button should fail fast, not hang a web worker for the
# library's default 80 seconds.
TIMEOUT_SECONDS = 15
# Connection errors and 409/5xx answers are retried by the library with the same idempotency key.
MAX_NETWORK_RETRIES = 2


class BillingNotConfigured(ServiceError):
    status_code = 503
    code = "billing_not_configured"


class BillingUnavailable(ServiceError):
    status_code = 503
    code = "billing_unavailable"


class InvalidSignature(ServiceError):
    status_code = 400
    code = "invalid_signature"


@dataclass(frozen=True)
class Session:
    """A Checkout or Customer Portal session: where to send the browser."""

    id: str
    url: str


def _client() -> stripe.StripeClient:
    key = settings.STRIPE_SECRET_KEY
    if not key:
        raise BillingNotConfigured(
            "Online payment is not set up on this server yet (STRIPE_SECRET_KEY is empty). "
            "Contact support to change your plan."
        )
    return stripe.StripeClient(
        key,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
    )


@contextmanager
def _translated_errors(action: str) -> Iterator[None]:
    """Stripe's exceptions as ServiceErrors; the details go to the log, not to the tenant."""
    try:
        yield
    except stripe.AuthenticationError as exc:
        logger.error("stripe refused our key while trying to %s: %s", action, exc)
        raise BillingNotConfigured(f"Could not {action}: the payment provider refused this server's key.") from exc
    except stripe.APIConnectionError as exc:
        logger.warning("stripe unreachable while trying to %s: %s", action, exc)
        raise BillingUnavailable(
            f"Could not {action}: the payment provider is unreachable. Try again in a minute.") from exc
    except stripe.StripeError as exc:
        logger.error("stripe error while trying to %s: %s", action, exc)
        raise BillingUnavailable(f"Could not {action}: the payment provider answered with an error. "
                                 "Try again later or contact support.") from exc


def _call(action: str, request: Callable[[stripe.StripeClient], T]) -> T:
    client = _client()
    with _translated_errors(action):
        return request(client)


def customer_create(*, tenant_id: int, slug: str, name: str, idempotency_key: str) -> str:
    """Create the tenant's Stripe customer; returns its id. The idempotency key makes a retried
    call (say, after a timeout) return the same customer instead of a second one."""
    params: dict[str, Any] = {"name": name, "metadata": {"tenant_id": str(tenant_id), "tenant_slug": slug}}
    customer = _call("create the billing customer",
                     lambda c: c.v1.customers.create(params, {"idempotency_key": idempotency_key}))  # type: ignore[arg-type]
    return str(customer.id)


def checkout_session_create(*, customer_id: str, tenant_id: int, plan_code: str, price_ids: list[str],
                            success_url: str, cancel_url: str, billing_cycle_anchor: int) -> Session:
    """A Checkout session that subscribes the customer to `price_ids` (the plan's fee and, for a
    metered price, no quantity). The tenant and plan travel in metadata so the webhook can link
    the result back even if events arrive out of order."""
    metadata = {"tenant_id": str(tenant_id), "plan": plan_code}
    params: dict[str, Any] = {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": str(tenant_id),
        "line_items": [_line_item(index, price) for index, price in enumerate(price_ids)],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
        # Stripe periods then start on the 1st, like our usage counters (calendar months, UTC).
        "subscription_data": {"metadata": metadata, "billing_cycle_anchor": billing_cycle_anchor},
    }
    session = _call("start the checkout", lambda c: c.v1.checkout.sessions.create(params))  # type: ignore[arg-type]
    return Session(id=str(session.id), url=str(session.url))


def _line_item(index: int, price: str) -> dict[str, Any]:
    # The first price is the monthly fee (quantity 1); a metered price takes no quantity.
    return {"price": price, "quantity": 1} if index == 0 else {"price": price}


def portal_session_create(*, customer_id: str, return_url: str) -> Session:
    params: dict[str, Any] = {"customer": customer_id, "return_url": return_url}
    session = _call("open the billing portal", lambda c: c.v1.billing_portal.sessions.create(params))  # type: ignore[arg-type]
    return Session(id=str(session.id), url=str(session.url))


def subscription_cancel(*, subscription_id: str) -> None:
    """End a subscription now (a new one from Checkout replaced it), with a prorated credit. One
    already ended is fine: the webhook asking may be a retry."""
    client = _client()
    with _translated_errors("end the previous subscription"):
        try:
            client.v1.subscriptions.cancel(subscription_id, {"prorate": True})
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing" or "cancel" in str(exc.user_message or ""):
                logger.info("subscription %s already ended: %s", subscription_id, exc)
                return
            raise


def meter_event_create(*, customer_id: str, value: int, identifier: str, timestamp: int) -> bool:
    """Report `value` units of usage. Returns False when Stripe already holds an event with this
    identifier: the identifier is derived from what is being billed, so that means "already
    recorded", which is success for the caller (a retry after a crash), never a second charge."""
    params: dict[str, Any] = {
        "event_name": settings.STRIPE_METER_EVENT_NAME,
        "payload": {"stripe_customer_id": customer_id, "value": str(value)},
        "identifier": identifier,
        "timestamp": timestamp,
    }
    client = _client()
    with _translated_errors("report usage"):
        try:
            client.v1.billing.meter_events.create(params)  # type: ignore[arg-type]
        except stripe.InvalidRequestError as exc:
            if _is_duplicate_identifier(exc):
                logger.info("meter event %s was already recorded", identifier)
                return False
            raise
    return True


def _is_duplicate_identifier(exc: stripe.InvalidRequestError) -> bool:
    # Stripe answers 400 "An event already exists with identifier ..." (not retryable).
    return exc.code == "duplicate_meter_event" or "already exists with identifier" in str(exc.user_message or "")


def webhook_event_construct(*, payload: bytes, signature: str | None) -> dict[str, Any]:
    """Verify Stripe's `Stripe-Signature` header (HMAC-SHA256 with the endpoint's secret, within
    the library's 5-minute tolerance) and return the event as plain data."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise BillingNotConfigured("STRIPE_WEBHOOK_SECRET is empty: webhooks cannot be verified.")
    try:
        event = stripe.Webhook.construct_event(payload, signature or "", secret)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature("The Stripe signature does not match this payload.") from exc
    except ValueError as exc:
        raise InvalidSignature("The payload is not a Stripe event.") from exc
    return event.to_dict()
