"""PM plans in words, and the card a machine's page shows (one include line there)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import template
from django.utils import timezone

from machines.models import Machine
from maintenance.models import WorkOrder
from planning.preventive import PlanRow, preventive_occurrence_of, preventive_plan_list, preventive_plan_rows
from planning.preventive_models import PreventivePlan

register = template.Library()


def _day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _signal_text(plan: PreventivePlan) -> str:
    sensor = next((s for s in plan.machine.machine_type.sensors if s.get("name") == plan.signal), {})
    unit = f" {sensor['unit']}" if sensor.get("unit") else ""
    return f"{sensor.get('label') or plan.signal} \u2265 {plan.threshold:g}{unit}"


@register.filter
def pm_schedule(plan: PreventivePlan) -> str:
    """"every 3 months from 31 Jan 2026" / "every 500 running hours (Shaft speed ≥ 100 rpm) from ..."."""
    unit = plan.get_unit_display() if plan.every != 1 else plan.get_unit_display().rstrip("s")
    text = f"every {plan.every} {unit} from {_day(plan.start_date)}"
    if not plan.by_calendar and plan.threshold is not None:
        text += f", running while {_signal_text(plan)}"
    return text


@register.filter
def pm_next(row: PlanRow) -> str:
    """A plan row's next occurrence in words: its date, or the usage it is due at with an
    estimated date."""
    plan, upcoming = row.plan, row.next
    if row.problem:
        return row.problem
    if upcoming is None:
        return "paused"
    if upcoming.due_usage is None:
        return f"{upcoming.due_on:%a} {_day(upcoming.due_on)}" if upcoming.due_on else "not known"
    when = f"about {_day(upcoming.due_on)}" if upcoming.due_on else "no date yet: not running lately"
    return f"at {upcoming.due_usage:g} {plan.get_unit_display()} ({when})"


@register.inclusion_tag("planning/_machine_pm_plans.html", takes_context=True)
def machine_pm_plans(context: dict[str, Any], machine: Machine) -> dict[str, Any]:
    """The machine's PM plans with their next due dates, for its page."""
    rows = preventive_plan_rows(plans=preventive_plan_list(machine_id=machine.id), now=timezone.now())
    return {"machine": machine, "rows": rows, "can_write": context.get("can_write", False),
            "request": context.get("request")}


@register.simple_tag
def pm_plan_count() -> int:
    return preventive_plan_list().filter(is_active=True).count()


@register.inclusion_tag("planning/_work_order_pm_plan.html")
def work_order_pm_plan(order: WorkOrder) -> dict[str, Any]:
    """Which PM plan made this work order, if one did (one include line on the work order's page)."""
    return {"occurrence": preventive_occurrence_of(work_order_id=order.id)}
