"""Reads the tenant's rows into an optimizer `Problem` (and a JSON snapshot of what it saw).

Costs come from each machine type's metadata (docs/metadata.md, `costs` and `failure_modes[]`):

- failure cost   = (repair_cost + downtime_hours x downtime cost per hour) x unplanned_failure_multiplier
- planned action = repair_cost + planned_maintenance + downtime_hours x downtime cost per hour
- budget spend   = repair_cost + planned_maintenance (downtime is lost production, not spend)

where the downtime cost per hour is the machine's own `downtime_cost_per_hour` when set, else the
type's `costs.downtime_per_hour`.

Risk (docs/planning.md, "Failure risk per day" and "Open alerts"): the latest prediction, its RUL
only where the verdict counts it (not at the model's cap, from a model with skill), the failure
mode's base rate after the classifier's horizon for a machine the models call healthy, and an
active alert raising its failure mode's probability (critical: at least halfway from the alert
level to certainty; warning: at least the alert level; either: at least the alert's own risk).

Remaining life and horizons are read in hours. A cycle-indexed machine's prediction counts them in
cycles (`Prediction.time_unit`): its type's `hours_per_cycle` turns them into hours, and without it
the machine is left out of the plan with the reason (`NotPlanned`, the snapshot's `not_planned`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from engine.decision import critical_level
from engine.metadata import failure_mode_label, failure_mode_or_costliest, hours_per_cycle
from machines.models import Machine, MachineType
from maintenance.models import Alert, WorkOrder
from planning.models import MaintenancePlan, PartNeed, SparePart, Technician
from planning.optimizer import MachineInput, PartInput, Problem, TechnicianInput
from planning.preventive import preventive_covered
from planning.risk import day_probabilities
from planning.selectors import costs_default_types, skill_choices, skill_keys, skill_label
from planning.stock import parts_available, parts_held_by_machines
from predictions.models import Prediction
from predictions.selectors import machine_latest_prediction, machines_active_alerts, prediction_rul_is_evidence

CYCLES_UNPLANNED = ("remaining life is counted in cycles; set how long a cycle takes on the machine type "
                    "(hours_per_cycle) to plan it")


class NotPlanned(Exception):
    """A machine with a prediction that the plan cannot read; the message says why."""


def _days(start: date, horizon: int, weekdays: list[int], dates: list[str] | None = None) -> frozenset[int]:
    wanted = set(dates or [])
    return frozenset(d for d in range(horizon)
                     if (start + timedelta(days=d)).weekday() in weekdays
                     or (start + timedelta(days=d)).isoformat() in wanted)


def technicians_input(*, start: date, horizon: int) -> tuple[TechnicianInput, ...]:
    """Skills as the failure-mode and category keys they mean: "pumps, seals", typed before skills
    were chosen from a list, still finds `pump` and `mechanical_seal_failure` (planning.selectors.skill_keys)."""
    types = list(MachineType.objects.all())
    return tuple(TechnicianInput(key=t.id, name=t.name,
                                 skills=frozenset(k for skill in t.skills for k in skill_keys(str(skill), types)),
                                 hours_per_day=float(t.hours_per_day),
                                 working_days=_days(start, horizon, list(t.working_weekdays)))
                 for t in Technician.objects.all())


def _part_needs() -> dict[tuple[int, str], tuple[tuple[str, int], ...]]:
    needs: dict[tuple[int, str], list[tuple[str, int]]] = defaultdict(list)
    for need in PartNeed.objects.select_related("part"):
        needs[(need.machine_type_id, need.failure_mode)].append((need.part.name, need.quantity))
    return {key: tuple(value) for key, value in needs.items()}


@dataclass(frozen=True)
class Context:
    """What every machine's input reads once per plan."""

    start: date
    horizon: int
    now: datetime
    longest_shift: float
    needs: dict[tuple[int, str], tuple[tuple[str, int], ...]]
    alerts: dict[int, list[Alert]] = field(default_factory=dict)
    default_costs: frozenset[int] = frozenset()  # machine types still on the library's example costs
    # (machine, failure mode) -> why a PM job already does that repair within the horizon.
    preventive: dict[tuple[int, str], str] = field(default_factory=dict)


def machine_input(*, machine: Machine, context: Context) -> tuple[MachineInput, dict[str, Any]] | None:
    """The machine's input to the optimizer and what the plan's page says about it; None when it
    has no prediction yet or its type names no failure mode; NotPlanned when its remaining life is
    in cycles and its type does not say how long a cycle takes."""
    prediction = machine_latest_prediction(machine_id=machine.id)
    if prediction is None:
        return None
    document = machine.machine_type.metadata
    alert = _alert(context.alerts.get(machine.id, []), document)
    mode = failure_mode_or_costliest(document, alert.failure_mode if alert else prediction.failure_mode)
    if mode is None:
        return None
    hours = _hours_per_unit(prediction, document)
    costs = document.get("costs") or {}
    per_hour = float(machine.downtime_cost_per_hour if machine.downtime_cost_per_hour is not None
                     else costs.get("downtime_per_hour", 0))
    repair, downtime = float(mode.get("repair_cost", 0)), float(mode.get("downtime_hours", 0))
    window = getattr(machine, "production_window", None)
    # Time runs from when the prediction was made, not from its last reading: a file uploaded
    # days late would otherwise make every machine look overdue.
    elapsed_h = max((context.now - prediction.created_at).total_seconds() / 3600.0, 0.0)
    probability = _raised(prediction, alert)
    at_risk = alert is not None or prediction.predicted_failure or prediction.state == "at_risk"
    rul = prediction_rul_is_evidence(prediction)
    item = MachineInput(
        key=machine.id, name=machine.name, failure_mode=str(mode["name"]),
        skills=frozenset({str(mode["name"]), machine.machine_type.category}),
        action_cost=repair + float(costs.get("planned_maintenance", 0)) + downtime * per_hour,
        spend=repair + float(costs.get("planned_maintenance", 0)),
        failure_cost=(repair + downtime * per_hour) * float(costs.get("unplanned_failure_multiplier", 1)),
        # A repair longer than a shift takes the technician's whole planned day (docs/planning.md, limits).
        hours=min(downtime, context.longest_shift) if context.longest_shift > 0 else downtime,
        day_probabilities=day_probabilities(
            probability=probability, horizon_h=prediction.horizon_h * hours,
            rul_h=_scaled(prediction.rul_h, hours) if rul else None,
            rul_lower_h=_scaled(prediction.rul_lower_h, hours) if rul else None,
            rul_upper_h=_scaled(prediction.rul_upper_h, hours) if rul else None, elapsed_h=elapsed_h,
            days=context.horizon,
            # A machine the models call healthy fails at its failure mode's base rate once past
            # what the classifier can see, not at the classifier's rate carried on for weeks.
            after_hazard_per_h=None if at_risk else _base_rate(mode)),
        allowed_days=_days(context.start, context.horizon, list(window.weekdays), list(window.dates))
        if window else None,
        parts=context.needs.get((machine.machine_type_id, str(mode["name"])), ()),
        action=str(mode.get("recommended_action") or mode.get("label") or mode["name"]),
        priority=1 if alert is not None and alert.severity == Alert.Severity.CRITICAL else 0,
    )
    about = {
        "health": prediction.health_score, "state": prediction.state, "criticality": machine.criticality,
        "failure_mode_label": failure_mode_label(document, str(mode["name"])),
        "mode_named": bool(alert or prediction.failure_mode), "probability": round(probability, 4),
        "alert": {"id": alert.id, "severity": alert.severity, "title": alert.title,
                  "failure_mode": alert.failure_mode} if alert else None,
        "costs_default": machine.machine_type_id in context.default_costs,
    }
    return item, about


def _alert(alerts: list[Alert], document: dict[str, Any]) -> Alert | None:
    """The machine's most severe active alert (machines_active_alerts orders them), preferring one
    whose failure mode the type names: its mode is the one the plan repairs."""
    named = {str(m.get("name")) for m in document.get("failure_modes") or []}
    return next((a for a in alerts if a.failure_mode in named), alerts[0] if alerts else None)


def _raised(prediction: Prediction, alert: Alert | None) -> float:
    """The probability of failing within the classifier's horizon, raised by an active alert: a
    critical one to at least halfway from the alert level to certainty (the decision rules'
    "very high", engine.decision.critical_level: 50% or more), a warning to at least the alert
    level, and either to at least the risk the alert was raised at."""
    p = float(prediction.probability)
    if alert is None:
        return p
    level = float(prediction.threshold) if prediction.threshold is not None else 0.5
    floor = critical_level(level) if alert.severity == Alert.Severity.CRITICAL else level
    return min(max(p, floor, float(alert.probability)), 1.0)


def _base_rate(mode: dict[str, Any]) -> float | None:
    """Failures per hour when nothing is wrong: 1 / the failure mode's mean time to failure. The
    plan prices one failure mode per machine (the costliest when none is named), so its risk is
    that mode's too."""
    mttf = float(mode.get("mean_time_to_failure_hours") or 0)
    return 1.0 / mttf if mttf > 0 else None


def _hours_per_unit(prediction: Prediction, document: dict[str, Any]) -> float:
    """Hours per unit of the prediction's horizon and remaining life: 1, or the type's hours per cycle."""
    if prediction.time_unit != "cycles":
        return 1.0
    hours = hours_per_cycle(document)
    if hours is None:
        raise NotPlanned(CYCLES_UNPLANNED)
    return hours


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def plan_problem(*, plan: MaintenancePlan, now: datetime) -> tuple[Problem, dict[str, Any]]:
    start, horizon = plan.start_date, plan.horizon_days
    technicians = technicians_input(start=start, horizon=horizon)
    context = Context(start=start, horizon=horizon, now=now,
                      longest_shift=max((t.hours_per_day for t in technicians), default=0.0), needs=_part_needs(),
                      alerts=machines_active_alerts(), default_costs=frozenset(costs_default_types()),
                      preventive=preventive_covered(start=start, horizon_days=horizon, now=now))
    machines, about, unscored, not_planned = [], {}, [], []
    queryset = Machine.objects.filter(status=Machine.Status.ACTIVE).select_related("machine_type",
                                                                                   "production_window")
    for machine in queryset:
        try:
            found = machine_input(machine=machine, context=context)
        except NotPlanned as exc:
            not_planned.append({"machine_id": machine.id, "machine": machine.name, "reason": str(exc)})
            continue
        covered = context.preventive.get((machine.id, found[0].failure_mode)) if found else None
        if covered:  # the same job twice: once from the PM plan, once from the optimizer
            not_planned.append({"machine_id": machine.id, "machine": machine.name, "reason": covered})
        elif found is None:
            unscored.append(machine.name)
        else:
            machines.append(found[0])
            about[machine.id] = found[1]
    parts, machines = _parts_input(machines)
    types = list({machine.machine_type_id: machine.machine_type for machine in queryset}.values())
    labels = {key: skill_label(key, types) for _, choices in skill_choices(types) for key, _ in choices}
    problem = Problem(horizon_days=horizon, machines=tuple(machines), technicians=technicians, parts=parts,
                      budget=float(plan.budget) if plan.budget is not None else None, skill_labels=labels)
    return problem, {**_snapshot(problem, unscored, about), "not_planned": not_planned}


# The states of the work order a plan updates for its machine (planning.services.plan_accept).
PLAN_UPDATES = (WorkOrder.Status.OPEN, WorkOrder.Status.SCHEDULED)


def _parts_input(machines: list[MachineInput]) -> tuple[tuple[PartInput, ...], list[MachineInput]]:
    """The stock a plan counts on: what is in stock less what live work orders hold (recorded on
    them, leaving stock when they close; planning.stock). A machine whose open or scheduled order
    already holds parts its repair needs, needs only the rest: accepting the plan updates that
    order, so its parts are not counted twice (docs/planning.md, "Spare parts that move")."""
    available = parts_available()
    parts = tuple(PartInput(p.name, available.get(p.id, 0), p.lead_time_days) for p in SparePart.objects.all())
    held = parts_held_by_machines(states=PLAN_UPDATES)
    return parts, [replace(m, parts=_still_needed(m.parts, held[m.key])) if m.key in held else m for m in machines]


def _still_needed(needs: tuple[tuple[str, int], ...], held: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple((name, quantity - held.get(name, 0)) for name, quantity in needs if quantity > held.get(name, 0))


def _snapshot(problem: Problem, unscored: list[str], about: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "machines": [{"id": m.key, "name": m.name, "failure_mode": m.failure_mode,
                      "action_cost": round(m.action_cost, 2),
                      "failure_cost": round(m.failure_cost, 2), "hours": m.hours,
                      "risk_in_horizon": round(sum(m.day_probabilities), 4),
                      "day_probabilities": [round(p, 5) for p in m.day_probabilities],
                      "allowed_days": sorted(m.allowed_days) if m.allowed_days is not None else None,
                      "parts": [list(p) for p in m.parts], "priority": m.priority,
                      "expected_cost_without": round(m.expected_cost_unplanned, 2),
                      "best_saving": round(max((m.saving(d) for d in range(problem.horizon_days)), default=0.0), 2),
                      **about.get(m.key, {})} for m in problem.machines],
        "technicians": [{"id": t.key, "name": t.name, "skills": sorted(t.skills), "hours_per_day": t.hours_per_day,
                         "working_days": sorted(t.working_days)} for t in problem.technicians],
        "parts": [{"name": p.name, "in_stock": p.in_stock, "lead_time_days": p.lead_time_days} for p in problem.parts],
        "budget": problem.budget, "unscored_machines": unscored,
    }
