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
from planning import services, stock
from planning.models import PartNeed, PartUse, ProductionWindow, SparePart, StockMovement, Technician
from planning.selectors import plan_list
from planning.serializers import (
    PartNeedSerializer,
    PartUseQuantitySerializer,
    PartUseSerializer,
    PlanRequestSerializer,
    PlanSerializer,
    ProductionWindowSerializer,
    SparePartSerializer,
    StockMovementSerializer,
    StockReceiveSerializer,
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
    """The stock changes only through the ledger (planning.stock): an `in_stock` sent is a count."""

    queryset = SparePart.objects.all()
    serializer_class = SparePartSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "reserved": stock.parts_reserved()}

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = stock.spare_part_save(part=serializer.instance or SparePart(),
                                                    fields=dict(serializer.validated_data),
                                                    actor_id=request_actor(self.request).user_id)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        self.perform_create(serializer)

    @extend_schema(request=StockReceiveSerializer, responses=StockMovementSerializer)
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str) -> Response:
        """Parts delivered: the stock rises by `quantity` (a `received` movement)."""
        self.get_object()
        body = StockReceiveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        movement = stock.stock_receive(part_id=int(pk), actor_id=request_actor(request).user_id, **body.validated_data)
        return Response(StockMovementSerializer(movement).data, status=status.HTTP_201_CREATED)


class StockMovementViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The stock ledger, newest first: read only (movements are made by receiving, counting and
    closing work orders)."""

    queryset = StockMovement.objects.select_related("part")
    serializer_class = StockMovementSerializer
    filterset_fields = ["part", "reason", "work_order"]


class PartUseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Spare parts recorded on work orders (`?work_order=<id>`): reserved while the order is live,
    out of stock when it closes."""

    queryset = PartUse.objects.select_related("part")
    serializer_class = PartUseSerializer
    filterset_fields = ["work_order", "part"]

    def create(self, request: Request) -> Response:
        """Record the quantity of a part the work order uses (replacing what was recorded for that part)."""
        body = PartUseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        line = stock.part_use_set(order_id=data["work_order"].id, part_id=data["part"].id, quantity=data["quantity"],
                                  actor_id=request_actor(request).user_id)
        return Response(PartUseSerializer(line).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PartUseQuantitySerializer, responses=PartUseSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change the quantity used (0 removes the line: answered with 204)."""
        line = self.get_object()
        body = PartUseQuantitySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kept = stock.part_use_set(order_id=line.work_order_id, part_id=line.part_id,
                                  quantity=body.validated_data["quantity"], actor_id=request_actor(request).user_id)
        if kept is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(PartUseSerializer(kept).data)

    def destroy(self, request: Request, pk: str) -> Response:
        line = self.get_object()
        stock.part_use_set(order_id=line.work_order_id, part_id=line.part_id, quantity=0,
                           actor_id=request_actor(request).user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=StockReceiveSerializer, responses=PartUseSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_to_stock(self, request: Request, pk: str) -> Response:
        """Parts a closed work order took but did not use, back into stock (a `returned` movement)."""
        self.get_object()
        body = StockReceiveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        line = stock.part_use_return(use_id=int(pk), quantity=body.validated_data["quantity"],
                                     actor_id=request_actor(request).user_id)
        return Response(PartUseSerializer(line).data)


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
