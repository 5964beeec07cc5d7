"""PM plans through the API: `/api/v1/planning/pm-plans/` (list and read need `read`; create,
update, delete and generate need `write`), their occurrences, and "Generate now"."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from pdm_saas.api.base import TenantViewSet
from pdm_saas.api.principals import request_actor
from planning.preventive import preventive_generate_now, preventive_plan_list
from planning.preventive_serializers import PreventiveOccurrenceSerializer, PreventivePlanSerializer


class PreventivePlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                            mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    serializer_class = PreventivePlanSerializer
    filterset_fields = ["machine__name", "unit", "failure_mode", "is_active"]

    def dangerously_get_unscoped_queryset(self) -> Any:
        return preventive_plan_list()  # a tenant-schema table: the schema isolates it

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.save(created_by_id=request_actor(self.request).user_id)

    @extend_schema(request=None, responses={201: PreventiveOccurrenceSerializer})
    @action(detail=True, methods=["post"])
    def generate(self, request: Request, pk: str) -> Response:
        """Generate now: the next occurrence's work order at once (409 while the plan's previous
        work order is still open)."""
        plan = self.get_object()
        occurrence = preventive_generate_now(plan_id=plan.id, actor_id=request_actor(request).user_id)
        return Response(PreventiveOccurrenceSerializer(occurrence).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=PreventiveOccurrenceSerializer(many=True))
    @action(detail=True, methods=["get"])
    def occurrences(self, request: Request, pk: str) -> Response:
        """The occurrences generated so far, newest first, each with its work order's id."""
        plan = self.get_object()
        page = self.paginate_queryset(plan.occurrences.all())
        return self.get_paginated_response(PreventiveOccurrenceSerializer(page, many=True).data)
