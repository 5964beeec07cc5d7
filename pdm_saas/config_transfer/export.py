"""Reading an organization's configuration into the file's sections (the export), entry by entry
in the canonical forms of `fields.py`: the import compares the target's entries read here with
the file's to tell "unchanged" from "updated"."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from machines.models import Machine, MachineType
from maintenance.checklist_models import ChecklistTemplate
from maintenance.models import AlertRule
from pdm_saas.config_transfer.document import FORMAT, SECTIONS, VERSION
from planning.preventive_models import PreventivePlan


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def type_entry(machine_type: MachineType) -> dict[str, Any]:
    return {"key": machine_type.key, "metadata": machine_type.metadata}


def machine_entry(machine: Machine) -> dict[str, Any]:
    return {
        "name": machine.name, "machine_type": machine.machine_type.key, "site": machine.site, "line": machine.line,
        "position": machine.position, "serial_number": machine.serial_number, "criticality": machine.criticality,
        "downtime_cost_per_hour": _money(machine.downtime_cost_per_hour), "install_date": _day(machine.install_date),
        "status": machine.status,
    }


def rule_entry(rule: AlertRule) -> dict[str, Any]:
    fields = [name for name in SECTIONS["alert_rules"] if name not in ("machine_type", "machine")]
    return {"machine_type": rule.machine_type.key if rule.machine_type else None,
            "machine": rule.machine.name if rule.machine else None,
            **{name: getattr(rule, name) for name in fields}}


def checklist_entry(template: ChecklistTemplate) -> dict[str, Any]:
    return {
        "machine_type": template.machine_type.key, "failure_mode": template.failure_mode, "name": template.name,
        "items": [{"text": item.text, "required": item.required, "kind": item.kind, "unit": item.unit,
                   "min_value": _money(item.min_value), "max_value": _money(item.max_value)}
                  for item in template.items.all()],
    }


def plan_entry(plan: PreventivePlan) -> dict[str, Any]:
    return {
        "machine": plan.machine.name, "title": plan.title, "description": plan.description,
        "failure_mode": plan.failure_mode, "priority": plan.priority,
        "estimated_cost": _money(plan.estimated_cost),
        "estimated_downtime_hours": _money(plan.estimated_downtime_hours),
        "every": plan.every, "unit": plan.unit, "start_date": _day(plan.start_date), "signal": plan.signal,
        "threshold": plan.threshold, "lead_time_days": plan.lead_time_days, "is_active": plan.is_active,
    }


def _rule_order(rule: AlertRule) -> tuple[int, str]:
    """The default rule, then the types', then the machines': from the broadest to the most specific."""
    if rule.machine is not None:
        return 2, rule.machine.name
    return (1, rule.machine_type.key) if rule.machine_type is not None else (0, "")


def config_sections() -> dict[str, list[dict[str, Any]]]:
    """The organization's configuration, each section in a stable order (by natural key)."""
    rules = sorted(AlertRule.objects.select_related("machine_type", "machine"), key=_rule_order)
    return {
        "machine_types": [type_entry(t) for t in MachineType.objects.order_by("key")],
        "machines": [machine_entry(m) for m in Machine.objects.select_related("machine_type").order_by("name")],
        "alert_rules": [rule_entry(r) for r in rules],
        "checklist_templates": [checklist_entry(t) for t in ChecklistTemplate.objects.select_related(
            "machine_type").prefetch_related("items").order_by("machine_type__key", "failure_mode", "name", "id")],
        "pm_plans": [plan_entry(p) for p in PreventivePlan.objects.select_related("machine").order_by(
            "machine__name", "title", "id")],
    }


def config_export(*, organization: str, now: datetime) -> dict[str, Any]:
    """The whole file: the header, then the sections in the order an import applies them."""
    return {"format": FORMAT, "version": VERSION, "exported_at": now.isoformat(), "organization": organization,
            **config_sections()}
