"""Billing in the browser (tenant host) and Stripe's webhook endpoint (public host). Thin: check,
call a service in billing/subscriptions.py, render or redirect."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.roles import Scope
from billing import subscriptions
from billing.stripe_gateway import InvalidSignature
from machines.selectors import machines_in_use
from pdm_saas.errors import ServiceError
from pdm_saas.web_access import member_view

_CHECKOUT_MESSAGES = {
    "success": "Thank you! Your subscription is being set up; this page shows the new plan as soon as "
               "Stripe confirms it.",
    "canceled": "Checkout cancelled: nothing was charged and your plan is unchanged.",
}


@member_view()
def billing_overview(request: HttpRequest) -> HttpResponse:
    notice = _CHECKOUT_MESSAGES.get(request.GET.get("checkout", ""))
    summary = subscriptions.billing_summary(tenant=request.tenant,  # type: ignore[attr-defined]
                                           machines_used=machines_in_use())
    return render(request, "billing/overview.html", {"summary": summary, "checkout_notice": notice,
                                                     "sales_email": f"sales@{settings.BASE_DOMAIN}"})


def _see_other(url: str) -> HttpResponse:
    # 303: the browser follows a POST's answer with a GET, to Stripe's page.
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


@member_view(write=Scope.ADMIN)
@require_POST
def billing_checkout(request: HttpRequest) -> HttpResponse:
    try:
        session = subscriptions.checkout_start(tenant=request.tenant, plan_code=request.POST.get("plan", ""))  # type: ignore[attr-defined]
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("billing:overview")
    return _see_other(session.url)


@member_view(write=Scope.ADMIN)
@require_POST
def billing_portal(request: HttpRequest) -> HttpResponse:
    try:
        session = subscriptions.portal_open(tenant=request.tenant)  # type: ignore[attr-defined]
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("billing:overview")
    return _see_other(session.url)


@csrf_exempt  # Stripe cannot send a CSRF token; the signature is the credential
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """200 once an event is recorded (applied, stale, ignored or replayed): Stripe stops
    retrying. 400 for a bad signature (nothing stored); 503 when we cannot verify (no secret
    configured) so that Stripe retries later; any other error is a 500 and Stripe retries."""
    try:
        outcome = subscriptions.webhook_receive(payload=request.body, signature=request.headers.get("Stripe-Signature"))
    except InvalidSignature as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=400)
    except ServiceError as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}}, status=exc.status_code)
    return JsonResponse({"received": True, "outcome": outcome})
