"""The lapsed-subscription rule: when an organization becomes read-only, and what it may still do.

A tenant is **read-only** when its subscription is canceled, past due for longer than
`settings.BILLING_GRACE_DAYS`, or trialing past `trial_ends_at` (the trial ended and no paid plan
followed). Reads always work; every unsafe request on the tenant's API and pages is refused with
402, except what is needed to pay or to leave (`lapsed_allows`). Within the grace period writes
still work and the tenant is warned (an API `Warning` header, a banner on every page).

The standing is computed from the local `Subscription` (kept current by Stripe's webhooks) once
per request and cached on it; no Stripe call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from billing.models import Subscription
from billing.quotas import UPGRADE_URL
from billing.selectors import subscription_with_plan_cached
from pdm_saas.errors import PaymentRequired

# The HTTP Warning header (RFC 7234, code 299: miscellaneous persistent warning) sent with every
# API response of a tenant in its grace period.
PAST_DUE_WARNING = '299 - "payment past due"'

# Path prefixes that stay writable for a read-only tenant: paying (billing pages and API) and
# signing in or out (the login pages are not member pages, listed for safety).
_ALWAYS_ALLOWED = ("/billing/", "/api/v1/billing/", "/accounts/login/", "/accounts/logout/",
                   "/accounts/password-reset/")
# (method, exact path) pairs that let a read-only tenant leave with its data: export, delete,
# deactivate. The settings page handles export and delete as form actions (see `lapsed_allows`).
_LEAVING = {("POST", "/api/v1/tenant/exports/"), ("DELETE", "/api/v1/tenant/"),
            ("POST", "/api/v1/tenant/deactivate/")}
_LEAVING_PAGE = "/organization/settings/"
_LEAVING_PAGE_ACTIONS = ("export", "delete")


@dataclass(frozen=True)
class Standing:
    """`read_only`: unsafe requests are refused; `past_due`: in the grace period (warn only);
    `notice`: the sentence shown to people in either case ('' in good standing)."""

    read_only: bool = False
    past_due: bool = False
    notice: str = ""
    status: str = ""
    since: datetime | None = None

    def refusal(self) -> PaymentRequired:
        details: dict[str, Any] = {"status": self.status, "upgrade_url": UPGRADE_URL}
        if self.since is not None:
            details["since"] = self.since.isoformat()
        return PaymentRequired(self.notice, code="subscription_lapsed", details=details)


GOOD_STANDING = Standing()


def _day(moment: datetime, now: datetime) -> str:
    """'3 Nov', with the year when it is not this year's."""
    text = f"{moment.day} {moment:%b}"
    return text if moment.year == now.year else f"{text} {moment.year}"


def subscription_standing(subscription: Subscription | None, *, now: datetime | None = None) -> Standing:
    if subscription is None:
        return GOOD_STANDING
    now = now or timezone.now()
    status = subscription.status
    if status == Subscription.Status.CANCELED:
        return Standing(read_only=True, status=status, notice=(
            f"Your subscription is canceled; subscribe again at {UPGRADE_URL}. "
            "Until then the organization is read-only."))
    if status == Subscription.Status.PAST_DUE:
        return _past_due(subscription.past_due_since or now, now)
    if status == Subscription.Status.TRIALING and subscription.trial_ends_at and subscription.trial_ends_at <= now:
        ended = subscription.trial_ends_at
        return Standing(read_only=True, status="trial_ended", since=ended, notice=(
            f"Your free trial ended on {_day(ended, now)}; choose a plan at {UPGRADE_URL}. "
            "Until then the organization is read-only."))
    return GOOD_STANDING


def _past_due(since: datetime, now: datetime) -> Standing:
    # A past_due without its date (set by a webhook) starts its grace period now: lenient, never
    # locking a tenant out on missing data.
    grace_ends = since + timedelta(days=settings.BILLING_GRACE_DAYS)
    status = Subscription.Status.PAST_DUE
    if now >= grace_ends:
        return Standing(read_only=True, status=status, since=since, notice=(
            f"Your subscription is past due since {_day(since, now)}; payments can be updated at "
            f"{UPGRADE_URL}. Until then the organization is read-only."))
    return Standing(past_due=True, status=status, since=since, notice=(
        f"Your payment is past due since {_day(since, now)}; update it at {UPGRADE_URL} before "
        f"{_day(grace_ends, now)}, or the organization becomes read-only."))


def tenant_standing(*, tenant_id: int) -> Standing:
    subscription = Subscription.objects.filter(tenant_id=tenant_id).first()
    return subscription_standing(subscription)


def request_subscription(request: Any) -> Subscription | None:
    """The request's tenant's subscription with its plan, read once per request (the rate limit,
    the standing and the banner all need it)."""
    raw = getattr(request, "_request", request)
    if not hasattr(raw, "pdm_subscription"):
        tenant = getattr(raw, "tenant", None)
        found = None
        if tenant is not None and not tenant.is_public:
            found = subscription_with_plan_cached(tenant_id=tenant.id, schema_name=tenant.schema_name)
        raw.pdm_subscription = found
    return raw.pdm_subscription  # type: ignore[no-any-return]


def request_standing(request: Any) -> Standing:
    return subscription_standing(request_subscription(request))


def lapsed_allows(*, method: str, path: str, action: str = "") -> bool:
    """What a read-only tenant may still change: pay, sign in or out, export, leave."""
    if path.startswith(_ALWAYS_ALLOWED) or (method, path) in _LEAVING:
        return True
    return method == "POST" and path == _LEAVING_PAGE and action in _LEAVING_PAGE_ACTIONS


def write_refusal(request: Any) -> PaymentRequired | None:
    """The 402 for an unsafe request of a read-only tenant, or None when it may go ahead."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    standing = request_standing(request)
    if not standing.read_only:
        return None
    # The form's action is read only here: parsing a body costs, and most tenants pay.
    action = request.POST.get("action", "") if request.path == _LEAVING_PAGE else ""
    if lapsed_allows(method=request.method, path=request.path, action=action):
        return None
    return standing.refusal()
