"""Billing API: plan, usage and invoices; Checkout and Customer Portal links. Thin views."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Scope
from billing import subscriptions
from billing.serializers import BillingSerializer, CheckoutSerializer, SessionUrlSerializer, billing_data
from machines.selectors import machines_in_use
from pdm_saas.api.base import TenantAPIView


class BillingView(TenantAPIView):
    """The plan, the subscription's state, usage this period against the plan's limits, the
    overage so far, the plans on offer and the invoices."""

    scope_map = {"get": Scope.READ}

    @extend_schema(responses=BillingSerializer)
    def get(self, request: Request) -> Response:
        summary = subscriptions.billing_summary(tenant=request.tenant,  # type: ignore[attr-defined]
                                               machines_used=machines_in_use())
        return Response(billing_data(summary))


class CheckoutView(TenantAPIView):
    """A Stripe Checkout link to subscribe to (or switch to) a plan; open it in a browser."""

    scope_map = {"post": Scope.ADMIN}

    @extend_schema(request=CheckoutSerializer, responses=SessionUrlSerializer)
    def post(self, request: Request) -> Response:
        body = CheckoutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        session = subscriptions.checkout_start(tenant=request.tenant, plan_code=body.validated_data["plan"])  # type: ignore[attr-defined]
        return Response({"url": session.url})


class PortalView(TenantAPIView):
    """A Stripe Customer Portal link: payment methods, invoices, cancelling."""

    scope_map = {"post": Scope.ADMIN}

    @extend_schema(request=None, responses=SessionUrlSerializer)
    def post(self, request: Request) -> Response:
        session = subscriptions.portal_open(tenant=request.tenant)  # type: ignore[attr-defined]
        return Response({"url": session.url})
