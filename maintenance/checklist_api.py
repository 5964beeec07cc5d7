"""Checklist templates (`/api/v1/checklist-templates/`) and a work order's checklist
(`/api/v1/work-orders/<id>/checklist/`): read with `read`, changed with `write`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from maintenance import checklist_selectors
from maintenance.checklist_models import WorkOrderChecklistItem
from maintenance.checklist_serializers import (
    ChecklistAnswerSerializer,
    ChecklistSeedSerializer,
    ChecklistTemplateSerializer,
    WorkOrderChecklistItemSerializer,
    item_specs,
)
from maintenance.models import WorkOrder
from maintenance.services import checklists
from pdm_saas.api.base import TenantViewSet
from pdm_saas.api.principals import request_actor


class ChecklistTemplateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    queryset = checklist_selectors.checklist_templates()
    serializer_class = ChecklistTemplateSerializer
    filterset_fields = ["machine_type__key", "failure_mode", "source"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def create(self, request: Request) -> Response:
        body = ChecklistTemplateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        template = checklists.checklist_template_save(
            machine_type_id=data["machine_type"].id, failure_mode=data.get("failure_mode", ""), name=data["name"],
            items=item_specs(data["items"]))
        return Response(self._shown(template.id), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        body = ChecklistTemplateSerializer(self.get_object(), data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        checklists.checklist_template_save(
            template_id=int(pk), machine_type_id=data["machine_type"].id if "machine_type" in data else None,
            failure_mode=data.get("failure_mode"), name=data.get("name"),
            items=item_specs(data["items"]) if "items" in data else None)
        return Response(self._shown(int(pk)))

    def destroy(self, request: Request, pk: str) -> Response:
        self.get_object()
        checklists.checklist_template_delete(template_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ChecklistSeedSerializer, responses={201: ChecklistTemplateSerializer(many=True)})
    @action(detail=False, methods=["post"])
    def seed(self, request: Request) -> Response:
        """A template per failure mode of the type from its recommended actions, for the modes that
        have none yet: the templates made (an empty list when every mode has one)."""
        body = ChecklistSeedSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        made = checklists.checklist_templates_seed(machine_type_id=body.validated_data["machine_type"].id)
        shown = checklist_selectors.checklist_templates().filter(id__in=[t.id for t in made])
        return Response(ChecklistTemplateSerializer(shown, many=True).data, status=status.HTTP_201_CREATED)

    def _shown(self, template_id: int) -> dict[str, Any]:
        return ChecklistTemplateSerializer(checklist_selectors.checklist_template_or_404(template_id=template_id)).data


class WorkOrderChecklistViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The items of one work order (`order_pk` in the path); a missing work order is a 404."""

    queryset = WorkOrderChecklistItem.objects.none()  # the model, for the schema and the filters
    serializer_class = WorkOrderChecklistItemSerializer
    filterset_fields = ["done", "required", "kind"]
    ordering_fields = ["position", "updated_at"]

    def dangerously_get_unscoped_queryset(self) -> QuerySet[Any]:
        # Tenant-schema rows: the schema isolates them; narrowed here to the work order in the path.
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI generator has no path
            return self.queryset
        order_id = int(self.kwargs["order_pk"])
        if not WorkOrder.objects.filter(id=order_id).exists():
            raise NotFound("No such work order.")
        return checklist_selectors.work_order_checklist_queryset(order_id=order_id)

    @extend_schema(request=ChecklistAnswerSerializer, responses=WorkOrderChecklistItemSerializer)
    def partial_update(self, request: Request, order_pk: str, pk: str) -> Response:
        """Tick an item (`done`), enter its value (`value`) or a note; recorded in the work order's
        history. A value outside the item's limits is refused (400 `out_of_range`)."""
        self.get_object()
        body = ChecklistAnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = checklists.checklist_item_update(order_id=int(order_pk), item_id=int(pk),
                                                actor_id=request_actor(request).user_id,
                                                answer=checklists.Answer(**body.validated_data))
        return Response(WorkOrderChecklistItemSerializer(item).data)
