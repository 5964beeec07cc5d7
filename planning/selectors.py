"""Reads of the planning app."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet

from machines.models import MachineType
from planning.models import MaintenancePlan, SparePart, Technician


def plan_list() -> QuerySet[MaintenancePlan]:
    return MaintenancePlan.objects.all()


def plan_latest() -> MaintenancePlan | None:
    return MaintenancePlan.objects.order_by("-created_at", "-id").first()


def plan_days(plan: MaintenancePlan) -> list[dict[str, Any]]:
    """One row per day of the plan for the bar chart: actions, hours and expected saving."""
    actions = (plan.result or {}).get("actions", [])
    count, saving = Counter[int](), Counter[int]()
    for action in actions:
        count[action["day"]] += 1
        saving[action["day"]] += action["expected_saving"]
    top = max(saving.values(), default=0) or 1
    return [{"day": d, "date": plan.start_date + timedelta(days=d), "actions": count[d],
             "saving": saving[d], "percent": round(100 * saving[d] / top)} for d in range(plan.horizon_days)]


def inputs_summary() -> dict[str, Any]:
    return {"technicians": list(Technician.objects.all()), "parts": list(SparePart.objects.all())}


def failure_mode_choices(machine_types: list[MachineType]) -> list[tuple[str, str]]:
    """Each failure mode name once, as (name, "name — the types naming it"). The part-need form
    offers any mode with any type; the serializer refuses a pair the type's metadata does not name."""
    types_of: dict[str, list[str]] = {}
    for machine_type in machine_types:
        for mode in machine_type.metadata.get("failure_modes") or []:
            if mode.get("name"):
                types_of.setdefault(str(mode["name"]), []).append(machine_type.name)
    return [(name, f"{name} — {', '.join(names)}") for name, names in sorted(types_of.items())]
