"""Alerts, work orders, alert rules and webhook endpoints."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Scope
from maintenance import alarm_api
from maintenance.alarm_export import alarm_export_response
from maintenance.models import Alert, AlertRule, WebhookEndpoint, WorkOrder
from maintenance.selectors import alarm_history
from maintenance.serializers import (
    AlertRaiseSerializer,
    AlertRuleSerializer,
    AlertSerializer,
    CloseSerializer,
    TransitionSerializer,
    WebhookEndpointSerializer,
    WorkOrderEventSerializer,
    WorkOrderSerializer,
)
from maintenance.services import alerts, settings_rules, work_orders
from pdm_saas.api.base import TenantViewSet
from pdm_saas.api.bodies import NoteSerializer
from pdm_saas.api.principals import request_actor


@extend_schema_view(list=extend_schema(parameters=alarm_api.FILTER_PARAMETERS))
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """The list is the alarm history (maintenance/alarm_api.py): its filters beside the fields'."""

    queryset = Alert.objects.select_related("machine").prefetch_related("work_orders")
    serializer_class = AlertSerializer
    filterset_fields = ["status", "kind", "severity", "failure_mode", "machine__name", "machine__site"]
    ordering_fields = ["opened_at", "probability", "severity"]
    scope_map = {"raise_alert": Scope.PREDICT}

    def get_queryset(self) -> QuerySet[Alert]:
        if self.action in ("list", "export"):  # a tenant-schema table: the schema is the scope
            return alarm_history(filters=alarm_api.history_filters(self.request))
        return super().get_queryset()

    @extend_schema(parameters=alarm_api.EXPORT_PARAMETERS, responses=alarm_api.EXPORT_RESPONSES)
    @action(detail=False, methods=["get"], content_negotiation_class=alarm_api.FileNegotiation)
    def export(self, request: Request) -> StreamingHttpResponse | FileResponse:
        """The filtered alerts as a CSV (streamed) or Excel file, the history page's columns."""
        return alarm_export_response(alerts=self.filter_queryset(self.get_queryset()),
                                     filters=alarm_api.history_filters(request),
                                     file_format=request.query_params.get("file", "csv"),
                                     schema_name=request.tenant.schema_name)  # type: ignore[attr-defined]

    @extend_schema(request=AlertRaiseSerializer, responses=inline_serializer(
        "AlertRaised", fields={"action": serializers.CharField(), "alert": AlertSerializer(allow_null=True)}))
    @action(detail=False, methods=["post"], url_path="raise")
    def raise_alert(self, request: Request) -> Response:
        """Raise (or repeat) an alert from a failure probability, as scoring does."""
        body = AlertRaiseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        outcome = alerts.alert_raise(machine_id=data["machine"].id, failure_mode=data["failure_mode"],
                                     probability=data["probability"], explanation=data["explanation"])
        alert = AlertSerializer(outcome.alert).data if outcome.alert else None
        code = status.HTTP_201_CREATED if outcome.action == "opened" else status.HTTP_200_OK
        return Response({"action": outcome.action, "alert": alert}, status=code)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        self.get_object()
        alert = alerts.alert_acknowledge(alert_id=int(pk), user_id=request_actor(request).user_id)
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=NoteSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        self.get_object()
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        alert = alerts.alert_resolve(alert_id=int(pk), user_id=request_actor(request).user_id,
                                     note=body.validated_data["note"])
        return Response(AlertSerializer(alert).data)


class WorkOrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    queryset = WorkOrder.objects.select_related("machine")
    serializer_class = WorkOrderSerializer
    filterset_fields = ["status", "priority", "machine__name", "assignee"]
    ordering_fields = ["created_at", "due_at", "priority"]

    def create(self, request: Request) -> Response:
        body = WorkOrderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        machine, alert = fields.pop("machine"), fields.pop("alert", None)
        order = work_orders.work_order_create(machine_id=machine.id, alert_id=alert.id if alert else None,
                                              title=fields.pop("title", ""), actor_id=request_actor(request).user_id,
                                              refuse_handled_alert=True, **fields)
        return Response(WorkOrderSerializer(order).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        body = WorkOrderSerializer(self.get_object(), data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        fields = {k: v for k, v in body.validated_data.items() if k not in ("machine", "alert")}
        order = work_orders.work_order_update(order_id=int(pk), actor_id=request_actor(request).user_id, **fields)
        return Response(WorkOrderSerializer(order).data)

    @extend_schema(request=TransitionSerializer, responses=WorkOrderSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str) -> Response:
        self.get_object()
        body = TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = work_orders.work_order_transition(order_id=int(pk), to_status=body.validated_data["status"],
                                                  actor_id=request_actor(request).user_id,
                                                  note=body.validated_data["note"])
        return Response(WorkOrderSerializer(order).data)

    @extend_schema(request=CloseSerializer, responses=WorkOrderSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        self.get_object()
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = work_orders.work_order_close(order_id=int(pk), actor_id=request_actor(request).user_id,
                                             **body.validated_data)
        return Response(WorkOrderSerializer(order).data)

    @extend_schema(responses=WorkOrderEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str) -> Response:
        return Response(WorkOrderEventSerializer(self.get_object().events.all(), many=True).data)


class AlertRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    queryset = AlertRule.objects.select_related("machine", "machine_type")
    serializer_class = AlertRuleSerializer
    scope_map = {"create": Scope.ADMIN, "partial_update": Scope.ADMIN, "destroy": Scope.ADMIN}

    def create(self, request: Request) -> Response:
        body = AlertRuleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(AlertRuleSerializer(settings_rules.alert_rule_save(**body.validated_data)).data,
                        status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        body = AlertRuleSerializer(self.get_object(), data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        return Response(AlertRuleSerializer(settings_rules.alert_rule_save(rule_id=int(pk),
                                                                           **body.validated_data)).data)


class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    scope_map = {"list": Scope.ADMIN, "create": Scope.ADMIN, "destroy": Scope.ADMIN}

    @extend_schema(responses={201: inline_serializer("WebhookIssued", fields={
        "endpoint": WebhookEndpointSerializer(), "secret": serializers.CharField()})})
    def create(self, request: Request) -> Response:
        body = WebhookEndpointSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = settings_rules.webhook_endpoint_create(**body.validated_data)
        data: dict[str, Any] = {"endpoint": WebhookEndpointSerializer(issued.endpoint).data, "secret": issued.secret}
        return Response(data, status=status.HTTP_201_CREATED)
