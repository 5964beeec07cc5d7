"""Reads of the planning app."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet

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
