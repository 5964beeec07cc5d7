from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from machines.models import MachineType
from machines.serializers import MachineRef
from maintenance.models import Alert, AlertRule, WebhookEndpoint, WorkOrder, WorkOrderEvent
from pdm_saas.api.fields import BIGINT_MAX


class AlertSerializer(serializers.ModelSerializer[Alert]):
    machine = MachineRef(read_only=True)
    display_status = serializers.ChoiceField(
        choices=[*Alert.Status.values, Alert.HANDLED], read_only=True,
        help_text="`status`, except `handled` while the alert is open or acknowledged and a work order for it "
                  "is open, scheduled or in progress (the alert stays active until that work order closes it)")
    work_order = serializers.SerializerMethodField(help_text="the live work order handling the alert, else null")

    class Meta:
        model = Alert
        fields = ["id", "machine", "kind", "failure_mode", "severity", "status", "display_status", "work_order",
                  "probability", "title", "explanation", "recommendation", "occurrences", "escalation_level",
                  "opened_at", "last_seen_at", "acknowledged_at", "acknowledged_by", "escalated_at", "resolved_at",
                  "resolution_note"]
        read_only_fields = fields

    @extend_schema_field(inline_serializer("AlertWorkOrder", fields={
        "id": serializers.IntegerField(), "status": serializers.CharField()}, allow_null=True))
    def get_work_order(self, alert: Alert) -> dict[str, Any] | None:
        order = alert.handling_order()
        return {"id": order.id, "status": order.status} if order is not None else None


class AlertRaiseSerializer(serializers.Serializer[Any]):
    machine = MachineRef()
    failure_mode = serializers.CharField(allow_blank=True, default="")
    probability = serializers.FloatField(min_value=0, max_value=1)
    explanation = serializers.JSONField(required=False, default=dict)


class WorkOrderEventSerializer(serializers.ModelSerializer[WorkOrderEvent]):
    class Meta:
        model = WorkOrderEvent
        fields = ["id", "actor", "action", "from_status", "to_status", "changes", "note", "at"]
        read_only_fields = fields


class WorkOrderSerializer(serializers.ModelSerializer[WorkOrder]):
    machine = MachineRef()
    assignee = serializers.IntegerField(source="assignee_id", required=False, allow_null=True, min_value=1,
                                        max_value=BIGINT_MAX)

    class Meta:
        model = WorkOrder
        fields = ["id", "machine", "alert", "failure_mode", "title", "description", "explanation", "recommendation",
                  "status", "priority", "assignee", "due_at", "scheduled_for", "planned_cost", "actual_cost",
                  "planned_downtime_hours", "actual_downtime_hours", "parts", "failure_found", "failure_mode_found",
                  "action_taken", "created_by", "created_at", "updated_at", "closed_at"]
        read_only_fields = ["id", "explanation", "recommendation", "status", "actual_cost", "actual_downtime_hours",
                            "failure_found", "failure_mode_found", "action_taken", "created_by", "created_at",
                            "updated_at", "closed_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {
            "alert": {"required": False}, "title": {"required": False},
            "failure_mode": {"required": False, "help_text": "a failure mode of the machine's type, by name, label "
                                                             "or alias (stored as its name); from the alert when "
                                                             "not given"}}

    def validate_parts(self, value: Any) -> list[Any]:
        # A form's `parts=null` reaches here as None (DRF parses form JSON after its null check).
        if not isinstance(value, list):
            raise serializers.ValidationError('A list of parts, like [{"part": "6309-2Z bearing", "quantity": 2}].')
        return value


class TransitionSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=WorkOrder.Status.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")


class CloseSerializer(serializers.Serializer[Any]):
    failure_found = serializers.BooleanField()
    failure_mode_found = serializers.CharField(required=False, allow_blank=True, default="")
    action_taken = serializers.CharField()
    actual_cost = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, allow_null=True)
    actual_downtime_hours = serializers.DecimalField(max_digits=8, decimal_places=2, required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    confirm_unrecorded_parts = serializers.BooleanField(
        required=False, default=False, help_text="close even when the stock holds fewer of a part used than "
                                                 "recorded: the missing ones are recorded as an adjustment")


class AlertRuleSerializer(serializers.ModelSerializer[AlertRule]):
    machine = MachineRef(required=False, allow_null=True)
    machine_type = serializers.SlugRelatedField(slug_field="key", required=False, allow_null=True,
                                                queryset=MachineType.objects.all())
    expected_false_alarms = serializers.SerializerMethodField(
        help_text="per machine type the rule covers (with a champion failure classifier): expected false alerts "
                  "per 100 machine-days and per 1,000 scored windows of a healthy machine, from the classifier's "
                  "validation false-positive rate and the rule's windows (a floor: see docs/models.md)")

    class Meta:
        model = AlertRule
        fields = ["id", "machine_type", "machine", "warning_probability", "critical_probability", "cooldown_minutes",
                  "escalate_after_minutes", "windows_k", "windows_n", "windows_clear", "anomaly_threshold",
                  "expected_false_alarms"]
        read_only_fields = ["id", "expected_false_alarms"]
        validators: list[Any] = []  # the database constraints answer, as 409s

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_expected_false_alarms(self, rule: AlertRule) -> list[dict[str, Any]]:
        from predictions.selectors import alert_rule_false_alarms  # a read of the model registry

        return alert_rule_false_alarms(rule=rule)


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "name", "url", "is_active", "created_at"]
        read_only_fields = ["id", "created_at"]
