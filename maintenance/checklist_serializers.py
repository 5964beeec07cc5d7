"""Checklist templates and a work order's checklist items, as the API shows and takes them.
They validate and shape; `maintenance.services.checklists` checks the rest and writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from machines.models import MachineType
from maintenance.checklist_models import (
    ChecklistTemplate,
    ChecklistTemplateItem,
    ItemKind,
    WorkOrderChecklistItem,
)
from maintenance.services.checklists import MAX_ITEMS, ItemSpec, number_text

ITEM_FIELDS = ["position", "text", "required", "kind", "unit", "min_value", "max_value"]


class ChecklistTemplateItemSerializer(serializers.ModelSerializer[ChecklistTemplateItem]):
    kind = serializers.ChoiceField(choices=ItemKind.choices, default=ItemKind.TICK)
    text = serializers.CharField(max_length=500)

    class Meta:
        model = ChecklistTemplateItem
        fields = ITEM_FIELDS
        read_only_fields = ["position"]
        extra_kwargs: dict[str, dict[str, Any]] = {
            "unit": {"help_text": "number items: what the value measures, such as mm or °C"},
            "min_value": {"help_text": "number items: the lowest value accepted (inclusive), or null"},
            "max_value": {"help_text": "number items: the highest value accepted (inclusive), or null"},
        }


class ChecklistTemplateSerializer(serializers.ModelSerializer[ChecklistTemplate]):
    machine_type = serializers.SlugRelatedField(slug_field="key", queryset=MachineType.objects.all())
    items = ChecklistTemplateItemSerializer(many=True, max_length=MAX_ITEMS,
                                            help_text="in order; on update, the new list replaces the old one")

    class Meta:
        model = ChecklistTemplate
        fields = ["id", "machine_type", "failure_mode", "name", "source", "items", "created_at", "updated_at"]
        read_only_fields = ["id", "source", "created_at", "updated_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {
            "failure_mode": {"required": False, "help_text": "a failure mode of the machine type, by name, label or "
                                                             "alias; empty: every work order on the type"}}


def item_specs(items: list[dict[str, Any]]) -> list[ItemSpec]:
    return [ItemSpec(text=item["text"], required=item.get("required", False), kind=item.get("kind", ItemKind.TICK),
                     unit=item.get("unit", ""), min_value=item.get("min_value"), max_value=item.get("max_value"))
            for item in items]


class WorkOrderChecklistItemSerializer(serializers.ModelSerializer[WorkOrderChecklistItem]):
    value = serializers.SerializerMethodField(help_text="number items: the value entered (a decimal string); text "
                                                        "items: the answer; tick items and unanswered items: null")

    class Meta:
        model = WorkOrderChecklistItem
        fields = [*ITEM_FIELDS, "id", "template", "template_name", "done", "value", "note", "done_by", "done_at",
                  "updated_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_value(self, item: WorkOrderChecklistItem) -> str | None:
        if item.kind == ItemKind.NUMBER:
            return number_text(item.value_number) if isinstance(item.value_number, Decimal) else None
        return (item.value_text or None) if item.kind == ItemKind.TEXT else None


class ChecklistAnswerSerializer(serializers.Serializer[Any]):
    done = serializers.BooleanField(required=False, help_text="tick items: ticked or not")
    value = serializers.CharField(required=False, allow_blank=True, max_length=2000, trim_whitespace=True,
                                  help_text="number items: a number within the item's limits (a decimal comma is "
                                            "read as a point); text items: the answer; empty clears it")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ChecklistSeedSerializer(serializers.Serializer[Any]):
    machine_type = serializers.SlugRelatedField(slug_field="key", queryset=MachineType.objects.all())
