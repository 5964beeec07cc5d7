"""GET /api/v1/insights/: model performance, prediction analytics, business KPIs and data quality
over a period (read scope). Thin: the numbers come from `insights.selectors`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Scope
from insights import selectors
from pdm_saas.api.base import TenantAPIView


class InsightsQuerySerializer(serializers.Serializer[Any]):
    days = serializers.IntegerField(min_value=1, max_value=selectors.MAX_DAYS, default=selectors.DEFAULT_DAYS)


class InsightsView(TenantAPIView):
    scope_map = {"get": Scope.READ}

    @extend_schema(parameters=[OpenApiParameter("days", int, description="the period: the last N days (30)")],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        query = InsightsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(selectors.insights_overview(selectors.period_of(query.validated_data["days"])))
