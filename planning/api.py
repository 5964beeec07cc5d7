"""The planning API: technicians, spare parts, part needs and production windows (plain reference
data: the serializer validates and saves one row, nothing else happens), and plans (made by a job,
accepted into work orders by `planning.services`)."""

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
from planning import services
from planning.models import PartNeed, ProductionWindow, SparePart, Technician
from planning.selectors import plan_list
from planning.serializers import (
    PartNeedSerializer,
    PlanRequestSerializer,
    PlanSerializer,
    ProductionWindowSerializer,
    SparePartSerializer,
    TechnicianSerializer,
)


class _ReferenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    """List and read need `read`; create, update and delete need `write` (the base's default)."""


class TechnicianViewSet(_ReferenceViewSet):
    queryset = Technician.objects.all()
    serializer_class = TechnicianSerializer

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        services.technician_user_check(user_id=serializer.validated_data.get("user_id"))
        serializer.save()

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        self.perform_create(serializer)


class SparePartViewSet(_ReferenceViewSet):
    queryset = SparePart.objects.all()
    serializer_class = SparePartSerializer


class PartNeedViewSet(_ReferenceViewSet):
    queryset = PartNeed.objects.select_related("machine_type", "part")
    serializer_class = PartNeedSerializer


class ProductionWindowViewSet(_ReferenceViewSet):
    queryset = ProductionWindow.objects.select_related("machine")
    serializer_class = ProductionWindowSerializer


class PlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    serializer_class = PlanSerializer
    filterset_fields = ["status"]

    def dangerously_get_unscoped_queryset(self) -> Any:
        return plan_list()  # a tenant-schema table: the schema isolates it

    @extend_schema(request=PlanRequestSerializer, responses={202: PlanSerializer})
    def create(self, request: Request) -> Response:
        """Make a plan: a job computes it; poll the plan (or its job) until `status` is `ready`."""
        body = PlanRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = services.plan_start(horizon_days=body.validated_data["horizon_days"],
                                   budget=body.validated_data["budget"], actor_id=request_actor(request).user_id)
        return Response(PlanSerializer(plan).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=PlanSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        """Turn the plan's actions into scheduled work orders (once; accepting again changes nothing)."""
        self.get_object()
        plan = services.plan_accept(plan_id=int(pk), actor_id=request_actor(request).user_id)
        return Response(PlanSerializer(plan).data)
