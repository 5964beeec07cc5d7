"""PM plans through the API and the pages' forms (one set of rules: the pages post through these)."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from machines.models import Machine
from machines.serializers import MachineRef
from pdm_saas.errors import ServiceError
from planning.preventive import preventive_next
from planning.preventive_models import PreventiveOccurrence, PreventivePlan
from planning.preventive_schedule import USAGE_UNITS

MAX_EVERY = 100_000  # running hours or cycles; a million would be a typo, not a plan
MAX_LEAD_DAYS = 365
# A calendar interval of at most a century, from a start date in these years: every due date the
# pages and the optimizer compute stays well inside the calendar.
MAX_CALENDAR_EVERY = {"days": 36_525, "weeks": 5_218, "months": 1_200}
FIRST_YEAR, LAST_YEAR = 1970, 2200


class PreventivePlanSerializer(serializers.ModelSerializer[PreventivePlan]):
    machine = MachineRef()
    every = serializers.IntegerField(min_value=1, max_value=MAX_EVERY)
    lead_time_days = serializers.IntegerField(min_value=0, max_value=MAX_LEAD_DAYS, default=0)
    threshold = serializers.FloatField(allow_null=True, required=False, default=None)
    estimated_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal(0), allow_null=True,
                                              required=False, default=None)
    estimated_downtime_hours = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=Decimal(0),
                                                        allow_null=True, required=False, default=None)
    next_due = serializers.SerializerMethodField()

    class Meta:
        model = PreventivePlan
        fields = ["id", "machine", "title", "description", "failure_mode", "priority", "estimated_cost",
                  "estimated_downtime_hours", "every", "unit", "start_date", "signal", "threshold",
                  "lead_time_days", "is_active", "next_due", "created_at", "updated_at"]
        read_only_fields = ["id", "next_due", "created_at", "updated_at"]

    @extend_schema_field({"type": "object", "nullable": True, "properties": {
        "sequence": {"type": "integer"}, "due_on": {"type": "string", "format": "date", "nullable": True},
        "due_usage": {"type": "number", "nullable": True}, "ready": {"type": "boolean"}}})
    def get_next_due(self, obj: PreventivePlan) -> dict[str, Any] | None:
        """The next occurrence to generate (None for a paused plan); a usage plan's date is an estimate."""
        if not obj.is_active:
            return None
        try:
            upcoming = preventive_next(plan=obj, now=timezone.now())
        except ServiceError:  # its signal left the machine type: nothing can be counted until it is fixed
            return None
        return {"sequence": upcoming.sequence, "due_on": upcoming.due_on, "due_usage": upcoming.due_usage,
                "ready": upcoming.ready}

    def validate_start_date(self, value: date) -> date:
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise serializers.ValidationError(f"A date between {FIRST_YEAR} and {LAST_YEAR}.")
        return value

    def validate_threshold(self, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError("A finite number.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        machine: Machine | None = attrs.get("machine") or getattr(self.instance, "machine", None)
        unit = attrs.get("unit", getattr(self.instance, "unit", ""))
        if machine is None:
            return attrs
        _check_failure_mode(machine, attrs.get("failure_mode", getattr(self.instance, "failure_mode", "")))
        every = attrs.get("every", getattr(self.instance, "every", 1))
        if unit in MAX_CALENDAR_EVERY and every > MAX_CALENDAR_EVERY[unit]:
            raise serializers.ValidationError({"every": [f"at most {MAX_CALENDAR_EVERY[unit]} {unit} (a century)"]})
        if unit in USAGE_UNITS:
            _check_usage(machine, attrs.get("signal", getattr(self.instance, "signal", "")),
                         attrs.get("threshold", getattr(self.instance, "threshold", None)))
        else:  # a calendar plan reads no signal: clear what a usage plan left
            attrs["signal"], attrs["threshold"] = "", None
        return attrs


def _check_failure_mode(machine: Machine, mode: str) -> None:
    names = sorted(str(m.get("name")) for m in machine.machine_type.metadata.get("failure_modes") or [])
    if mode and mode not in names:
        raise serializers.ValidationError({"failure_mode": [f"one of {names}, or empty for a general job"]})


def _check_usage(machine: Machine, signal: str, threshold: float | None) -> None:
    """A usage plan names one of the machine type's numeric sensors and the level that means running."""
    numeric = sorted(str(s.get("name")) for s in machine.machine_type.sensors if s.get("kind") == "numeric")
    errors: dict[str, list[str]] = {}
    if signal not in numeric:
        errors["signal"] = [f"a usage plan counts from one of {machine.name}'s signals: one of {numeric}"]
    if threshold is None:
        errors["threshold"] = ["the level at or above which the machine counts as running"]
    if errors:
        raise serializers.ValidationError(errors)


class PreventiveOccurrenceSerializer(serializers.ModelSerializer[PreventiveOccurrence]):
    class Meta:
        model = PreventiveOccurrence
        fields = ["id", "plan", "sequence", "due_on", "due_usage", "work_order", "trigger", "created_by",
                  "created_at"]
        read_only_fields = fields
