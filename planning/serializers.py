from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from machines.models import MachineType
from machines.serializers import MachineRef
from pdm_saas.api.fields import BIGINT_MAX, INTEGER_MAX
from pdm_saas.errors import Conflict
from planning.models import MaintenancePlan, PartNeed, PartUse, ProductionWindow, SparePart, StockMovement, Technician


def _weekdays(value: list[Any]) -> list[int]:
    if not isinstance(value, list) or any(not isinstance(d, int) or not 0 <= d <= 6 for d in value):
        raise serializers.ValidationError("A list of weekdays, 0 (Monday) to 6 (Sunday).")
    return sorted(set(value))


class TechnicianSerializer(serializers.ModelSerializer[Technician]):
    hours_per_day = serializers.DecimalField(max_digits=4, decimal_places=1, min_value=Decimal("0.5"),
                                             max_value=Decimal("24"))
    user = serializers.IntegerField(source="user_id", allow_null=True, required=False, min_value=1,
                                    max_value=BIGINT_MAX)

    class Meta:
        model = Technician
        fields = ["id", "name", "skills", "hours_per_day", "working_weekdays", "user", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_skills(self, value: Any) -> list[str]:
        if not isinstance(value, list) or any(not isinstance(s, str) or not s.strip() for s in value):
            raise serializers.ValidationError("A list of skill names (failure modes or machine categories).")
        return sorted({s.strip() for s in value})

    def validate_working_weekdays(self, value: Any) -> list[int]:
        return _weekdays(value)


class SparePartSerializer(serializers.ModelSerializer[SparePart]):
    in_stock = serializers.IntegerField(
        min_value=0, max_value=1_000_000, required=False,
        help_text="the stock; a value sent is a count, recorded in the ledger as an adjustment (receive parts "
                  "with `receive/`)")
    reorder_point = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False,
                                             help_text="at or below it after a movement the part is low: "
                                                       "one email per crossing and a banner on the planning page")
    reserved = serializers.SerializerMethodField(help_text="recorded on live work orders, leaving stock when "
                                                           "they close")

    class Meta:
        model = SparePart
        fields = ["id", "name", "in_stock", "reorder_point", "reserved", "low_since", "lead_time_days", "unit_cost",
                  "created_at"]
        read_only_fields = ["id", "reserved", "low_since", "created_at"]

    def get_reserved(self, part: SparePart) -> int:
        reserved: dict[int, int] = self.context.get("reserved") or {}
        return reserved.get(part.id, 0)


class StockMovementSerializer(serializers.ModelSerializer[StockMovement]):
    part = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = StockMovement
        fields = ["id", "part", "quantity", "reason", "balance", "work_order", "note", "actor", "at"]
        read_only_fields = fields


class StockReceiveSerializer(serializers.Serializer[Any]):
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class PartUseSerializer(serializers.ModelSerializer[PartUse]):
    part = serializers.SlugRelatedField(slug_field="name", queryset=SparePart.objects.all())
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)

    class Meta:
        model = PartUse
        fields = ["id", "work_order", "part", "quantity", "consumed_at", "returned", "recorded_by", "recorded_at"]
        read_only_fields = ["id", "consumed_at", "returned", "recorded_by", "recorded_at"]


class PartUseQuantitySerializer(serializers.Serializer[Any]):
    quantity = serializers.IntegerField(min_value=0, max_value=1_000_000)


class PartNeedSerializer(serializers.ModelSerializer[PartNeed]):
    machine_type = serializers.SlugRelatedField(slug_field="key", queryset=MachineType.objects.all())
    part = serializers.SlugRelatedField(slug_field="name", queryset=SparePart.objects.all())
    quantity = serializers.IntegerField(min_value=1, max_value=INTEGER_MAX, default=1)

    class Meta:
        model = PartNeed
        fields = ["id", "machine_type", "failure_mode", "part", "quantity"]
        read_only_fields = ["id"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        machine_type = attrs.get("machine_type") or getattr(self.instance, "machine_type", None)
        mode = attrs.get("failure_mode", getattr(self.instance, "failure_mode", ""))
        names = {m.get("name") for m in (machine_type.metadata.get("failure_modes") or [])} if machine_type else set()
        if mode not in names:
            raise serializers.ValidationError({"failure_mode": [f"one of {sorted(n for n in names if n)}"]})
        return attrs


class ProductionWindowSerializer(serializers.ModelSerializer[ProductionWindow]):
    machine = MachineRef()
    dates = serializers.ListField(child=serializers.DateField(), required=False, default=list)

    class Meta:
        model = ProductionWindow
        fields = ["id", "machine", "weekdays", "dates"]
        read_only_fields = ["id"]

    def validate_weekdays(self, value: Any) -> list[int]:
        return _weekdays(value)

    def validate_dates(self, value: list[Any]) -> list[str]:
        return sorted({d.isoformat() for d in value})

    def validate_machine(self, value: Any) -> Any:
        # One window per machine (a one-to-one column): a second one is a conflict to resolve by
        # editing the first, said before the database refuses it.
        existing = ProductionWindow.objects.filter(machine=value)
        if self.instance is not None:
            existing = existing.exclude(pk=self.instance.pk)
        window_id = existing.values_list("id", flat=True).first()
        if window_id is not None:
            raise Conflict(f"Machine {value.name} already has a production window; change that one.",
                           code="window_exists", details={"machine": [value.name], "window": window_id})
        return value


# billing has a PlanSerializer too (a price plan); one name for both would merge their schemas.
@extend_schema_serializer(component_name="MaintenancePlan")
class PlanSerializer(serializers.ModelSerializer[MaintenancePlan]):
    class Meta:
        model = MaintenancePlan
        fields = ["id", "status", "job_id", "start_date", "horizon_days", "budget", "expected_cost_without",
                  "expected_cost_with", "result", "inputs", "error", "created_by", "accepted_by", "accepted_at",
                  "created_at"]
        read_only_fields = fields


class PlanRequestSerializer(serializers.Serializer[Any]):
    horizon_days = serializers.IntegerField(min_value=1, max_value=60, default=14)
    budget = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal(0), allow_null=True,
                                      required=False, default=None)
