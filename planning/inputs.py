"""Reads the tenant's rows into an optimizer `Problem` (and a JSON snapshot of what it saw).

Costs come from each machine type's metadata (docs/metadata.md, `costs` and `failure_modes[]`):

- failure cost   = (repair_cost + downtime_hours x downtime cost per hour) x unplanned_failure_multiplier
- planned action = repair_cost + planned_maintenance + downtime_hours x downtime cost per hour
- budget spend   = repair_cost + planned_maintenance (downtime is lost production, not spend)

where the downtime cost per hour is the machine's own `downtime_cost_per_hour` when set, else the
type's `costs.downtime_per_hour`.

Remaining life and horizons are read in hours. A cycle-indexed machine's prediction counts them in
cycles (`Prediction.time_unit`): its type's `hours_per_cycle` turns them into hours, and without it
the machine is left out of the plan with the reason (`NotPlanned`, the snapshot's `not_planned`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from machines.metadata import failure_mode_or_costliest, hours_per_cycle
from machines.models import Machine
from planning.models import MaintenancePlan, PartNeed, SparePart, Technician
from planning.optimizer import MachineInput, PartInput, Problem, TechnicianInput
from planning.risk import day_probabilities
from predictions.models import Prediction
from predictions.selectors import machine_latest_prediction

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
    return tuple(TechnicianInput(key=t.id, name=t.name, skills=frozenset(t.skills),
                                 hours_per_day=float(t.hours_per_day),
                                 working_days=_days(start, horizon, list(t.working_weekdays)))
                 for t in Technician.objects.all())


def _part_needs() -> dict[tuple[int, str], tuple[tuple[str, int], ...]]:
    needs: dict[tuple[int, str], list[tuple[str, int]]] = defaultdict(list)
    for need in PartNeed.objects.select_related("part"):
        needs[(need.machine_type_id, need.failure_mode)].append((need.part.name, need.quantity))
    return {key: tuple(value) for key, value in needs.items()}


def machine_input(*, machine: Machine, start: date, horizon: int, now: datetime, longest_shift: float,
                  needs: dict[tuple[int, str], tuple[tuple[str, int], ...]]) -> MachineInput | None:
    """None when the machine has no prediction yet or its type names no failure mode; NotPlanned
    when its remaining life is in cycles and its type does not say how long a cycle takes."""
    prediction = machine_latest_prediction(machine_id=machine.id)
    document = machine.machine_type.metadata
    mode = failure_mode_or_costliest(document, prediction.failure_mode if prediction else "")
    if prediction is None or mode is None:
        return None
    hours = _hours_per_unit(prediction, document)
    costs = document.get("costs") or {}
    per_hour = float(machine.downtime_cost_per_hour if machine.downtime_cost_per_hour is not None
                     else costs.get("downtime_per_hour", 0))
    repair, downtime = float(mode.get("repair_cost", 0)), float(mode.get("downtime_hours", 0))
    window = getattr(machine, "production_window", None)
    # Time runs from when the prediction was made, not from its last reading: a file uploaded
    # days late would otherwise make every machine look overdue.
    elapsed_h = max((now - prediction.created_at).total_seconds() / 3600.0, 0.0)
    return MachineInput(
        key=machine.id, name=machine.name, failure_mode=str(mode["name"]),
        skills=frozenset({str(mode["name"]), machine.machine_type.category}),
        action_cost=repair + float(costs.get("planned_maintenance", 0)) + downtime * per_hour,
        spend=repair + float(costs.get("planned_maintenance", 0)),
        failure_cost=(repair + downtime * per_hour) * float(costs.get("unplanned_failure_multiplier", 1)),
        # A repair longer than a shift takes the technician's whole planned day (docs/planning.md, limits).
        hours=min(downtime, longest_shift) if longest_shift > 0 else downtime,
        day_probabilities=day_probabilities(
            probability=prediction.probability, horizon_h=prediction.horizon_h * hours,
            rul_h=_scaled(prediction.rul_h, hours), rul_lower_h=_scaled(prediction.rul_lower_h, hours),
            rul_upper_h=_scaled(prediction.rul_upper_h, hours), elapsed_h=elapsed_h, days=horizon),
        allowed_days=_days(start, horizon, list(window.weekdays), list(window.dates)) if window else None,
        parts=needs.get((machine.machine_type_id, str(mode["name"])), ()),
        action=str(mode.get("recommended_action") or mode.get("label") or mode["name"]),
    )


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
    longest = max((t.hours_per_day for t in technicians), default=0.0)
    needs = _part_needs()
    machines, unscored, not_planned = [], [], []
    queryset = Machine.objects.filter(status=Machine.Status.ACTIVE).select_related("machine_type",
                                                                                   "production_window")
    for machine in queryset:
        try:
            item = machine_input(machine=machine, start=start, horizon=horizon, now=now, longest_shift=longest,
                                 needs=needs)
        except NotPlanned as exc:
            not_planned.append({"machine_id": machine.id, "machine": machine.name, "reason": str(exc)})
            continue
        if item is None:
            unscored.append(machine.name)
        else:
            machines.append(item)
    parts = tuple(PartInput(p.name, p.in_stock, p.lead_time_days) for p in SparePart.objects.all())
    problem = Problem(horizon_days=horizon, machines=tuple(machines), technicians=technicians, parts=parts,
                      budget=float(plan.budget) if plan.budget is not None else None)
    return problem, {**_snapshot(problem, unscored), "not_planned": not_planned}


def _snapshot(problem: Problem, unscored: list[str]) -> dict[str, Any]:
    return {
        "machines": [{"id": m.key, "name": m.name, "failure_mode": m.failure_mode,
                      "action_cost": round(m.action_cost, 2),
                      "failure_cost": round(m.failure_cost, 2), "hours": m.hours,
                      "risk_in_horizon": round(sum(m.day_probabilities), 4),
                      "day_probabilities": [round(p, 5) for p in m.day_probabilities],
                      "allowed_days": sorted(m.allowed_days) if m.allowed_days is not None else None,
                      "parts": [list(p) for p in m.parts]} for m in problem.machines],
        "technicians": [{"id": t.key, "name": t.name, "skills": sorted(t.skills), "hours_per_day": t.hours_per_day,
                         "working_days": sorted(t.working_days)} for t in problem.technicians],
        "parts": [{"name": p.name, "in_stock": p.in_stock, "lead_time_days": p.lead_time_days} for p in problem.parts],
        "budget": problem.budget, "unscored_machines": unscored,
    }
