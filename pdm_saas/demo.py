"""Demo data for `make run`: a few machines of built-in types, readings, a failure, an open alert
and a work order, so every screen and endpoint has something to show; and onboarding jobs that
train each demo type's models on the worker, after which scoring runs on the demo readings.
The healthy machines are simulated healthy machines at their own operating points; Motor-003's
readings are a simulated run hours from a bearing failure, so the first scoring shows one machine
at risk beside four healthy ones; its open alert and work order are about that bearing. Motor-001
had the same failure 40 days ago (a past failure for the history pages)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django_tenants.utils import tenant_context

from billing.services import subscription_grant
from machines.live import readings_push
from machines.models import FailureEvent, Machine, MachineType
from machines.services import machine_create, machine_type_adopt
from maintenance.services.alerts import alert_raise
from maintenance.services.work_orders import work_order_create
from planning.models import PartNeed, PreventivePlan, SparePart
from planning.stock import stock_receive
from tenants.models import Tenant

SEED = 7
AT_RISK = "Motor-003"
AT_RISK_MODE = "bearing_wear"
# Before the bearing's P-F interval, Motor-003 runs healthy this long: a week to learn its own
# normal, a week judged healthy. Every demo machine's readings span the same period.
HEALTHY_DAYS = 14
PUSH_BATCH = 5_000
AT_RISK_LEFT = 0.03  # of the P-F interval still to go at the last reading: at risk, not failed yet
FLEET = [("induction-motor-siemens-1la7", "Motor-00{}", 3, "Plant North", "Line 1"),
         ("centrifugal-pump", "Pump-00{}", 2, "Plant North", "Line 2")]


DEMO_PLAN = "growth"  # five machines and scoring every 15 minutes outgrow the trial's limits


def demo_fill(*, tenant: Tenant) -> bool:
    """Fill the tenant with demo machines and data, once (False when they are there already)."""
    subscription_grant(tenant=tenant, plan_code=DEMO_PLAN)
    with tenant_context(tenant):
        if Machine.objects.exists():
            return False
        for key, pattern, count, site, line in FLEET:
            machine_type = machine_type_adopt(key=key)
            for number in range(1, count + 1):
                machine_create(machine_type_id=machine_type.id, name=pattern.format(number), site=site, line=line)
        _readings()
        FailureEvent.objects.create(machine=Machine.objects.get(name="Motor-001"),
                                    occurred_at=datetime.now(UTC) - timedelta(days=40),
                                    failure_mode=AT_RISK_MODE, notes="Demo: DE bearing seized")
        motor = Machine.objects.get(name=AT_RISK)
        alert = alert_raise(machine_id=motor.id, failure_mode=AT_RISK_MODE, probability=0.87,
                            explanation={"top_factors": [_factor("vibration_de_mm_s", 7.9, "mm/s", 0.62, 1.93),
                                                         _factor("bearing_de_temp_c", 78.0, "°C", 0.33, 1.02)]}).alert
        if alert is not None:
            work_order_create(machine_id=motor.id, alert_id=alert.id, title="", actor_id=None)
        _shop_floor(motor)
        return True


def _shop_floor(motor: Machine) -> None:
    """Spare parts in stock with what a bearing repair uses, and a monthly preventive plan per
    pump, so the stock pages and the PM plans show something (the adopted types' checklists are
    seeded with the types)."""
    bearing = SparePart.objects.create(name="6309-2Z bearing", lead_time_days=5, unit_cost=Decimal("48.00"),
                                       reorder_point=2)
    stock_receive(part_id=bearing.id, quantity=4, actor_id=None, note="Demo: opening stock")
    PartNeed.objects.create(machine_type=motor.machine_type, failure_mode=AT_RISK_MODE, part=bearing, quantity=1)
    for pump in Machine.objects.filter(machine_type__key="centrifugal-pump").order_by("name"):
        PreventivePlan.objects.create(machine=pump, title="Inspect the mechanical seal", priority="medium",
                                      description="Look for leaks at the seal; check the flush line.",
                                      every=1, unit=PreventivePlan.Unit.MONTHS,
                                      start_date=datetime.now(UTC).date() + timedelta(days=7), lead_time_days=3,
                                      estimated_downtime_hours=Decimal("0.50"))


def _factor(signal: str, value: float, unit: str, share: float, shap: float) -> dict[str, object]:
    """A top factor in the explanation contract's shape (engine.explanation), for the demo alert."""
    return {"feature": signal, "signal": signal, "value": value, "unit": unit, "contribution": share, "shap": shap,
            "direction": "raises risk"}


def demo_models_queue(*, tenant: Tenant) -> int:
    """Queue onboarding for each demo type that has no models and no onboarding under way."""
    from jobs.models import Job
    from predictions.models import ModelVersion
    from predictions.services.training import ONBOARD_KIND, onboarding_start

    queued = 0
    with tenant_context(tenant):
        for machine_type in MachineType.objects.filter(key__in=[key for key, *_ in FLEET]):
            busy = Job.objects.filter(kind=ONBOARD_KIND, params__machine_type_id=machine_type.id,
                                      status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).exists()
            if busy or ModelVersion.objects.filter(machine_type=machine_type).exists():
                continue
            onboarding_start(machine_type=machine_type)
            queued += 1
    return queued


def _readings() -> None:
    """Readings at each type's simulation step over the same period, ending now: the healthy
    machines are simulated healthy machines, each at its own operating point inside the normal
    ranges (a plant's machines do not all run at the middle of every range); Motor-003 is a
    simulated run to a bearing failure near its end, whose first `HEALTHY_DAYS` are healthy (the
    stretch a machine's own normal is learned from)."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    at_risk = Machine.objects.select_related("machine_type").get(name=AT_RISK)
    span_h, left_h = demo_span_hours(at_risk.machine_type.metadata)
    items = failing_readings(at_risk.machine_type.metadata, AT_RISK, end, span_h, left_h)
    machines = Machine.objects.select_related("machine_type").exclude(name=AT_RISK).order_by("name")
    by_type: dict[int, list[Machine]] = {}
    for machine in machines:
        by_type.setdefault(machine.machine_type_id, []).append(machine)
    for group in by_type.values():
        items += healthy_readings(group[0].machine_type.metadata, [m.name for m in group], end, span_h)
    for start in range(0, len(items), PUSH_BATCH):  # the live path's limit per request
        readings_push(items=items[start:start + PUSH_BATCH])


def simulation_step_hours(document: dict[str, Any]) -> float:
    """The step a type is simulated at (and its models read): chosen from its P-F intervals once
    the simulator has `simulation_scale` (docs/synthetic.md), one hour before."""
    from engine.synthetic import simulator

    scale = getattr(simulator, "simulation_scale", None)
    return float(scale(document).step_hours) if scale is not None else 1.0


def demo_span_hours(document: dict[str, Any]) -> tuple[float, float]:
    """(hours of readings per machine, hours left to Motor-003's failure after the last one)."""
    step = simulation_step_hours(document)
    pf = next(m["pf_interval_hours"] for m in document["failure_modes"] if m["name"] == AT_RISK_MODE)
    pf_steps = math.ceil(pf / step)
    left = max(1, round(AT_RISK_LEFT * pf_steps))
    return (math.ceil(HEALTHY_DAYS * 24 / step) + pf_steps - left) * step, left * step


def demo_steps(document: dict[str, Any], span_h: float) -> int:
    return max(2, math.ceil(span_h / simulation_step_hours(document)))


def healthy_readings(document: dict[str, Any], names: list[str], end: datetime,
                     span_h: float) -> list[dict[str, Any]]:
    """Live-reading items of healthy machines `names` of one type, each at its own operating point."""
    from engine.synthetic.operating_points import healthy_fleet

    step = simulation_step_hours(document)
    steps = demo_steps(document, span_h)
    fleet = healthy_fleet(document, machines=len(names), steps=steps, seed=SEED, step_hours=step)
    simulated = fleet.column("machine").to_pylist()
    named = dict(zip(sorted(set(simulated)), names, strict=True))
    sensors = [s["name"] for s in document["sensors"]]
    rows = fleet.select(sensors).to_pylist()
    cycles = fleet.column("cycle").to_pylist()
    return [_item(named[machine], end - timedelta(hours=step * (steps - 1 - cycle)), row)
            for machine, cycle, row in zip(simulated, cycles, rows, strict=True)]


def failing_readings(document: dict[str, Any], name: str, end: datetime, span_h: float,
                     left_h: float) -> list[dict[str, Any]]:
    """Live-reading items of a run that fails by `AT_RISK_MODE` `left_h` hours after its last one."""
    from engine.synthetic.simulator import SimulationOptions, simulate_fleet

    sensors = [s["name"] for s in document["sensors"]]
    step = simulation_step_hours(document)  # the type's step, from all its modes
    shown = demo_steps(document, span_h)
    document = {**document, "failure_modes": [m for m in document["failure_modes"] if m["name"] == AT_RISK_MODE]}
    steps = shown + max(1, round(left_h / step))
    run = simulate_fleet(document, machines=1, seed=SEED, healthy_fraction=0.0, step_hours=step,
                         options=SimulationOptions(min_run_steps=steps, max_run_steps=steps))
    rows = run.select(sensors).slice(0, shown).to_pylist()
    return [_item(name, end - timedelta(hours=step * (shown - 1 - i)), row) for i, row in enumerate(rows)]


def _item(machine: str, ts: datetime, row: dict[str, Any]) -> dict[str, Any]:
    return {"machine": machine, "ts": ts.isoformat(),
            "values": {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()
                       if v is not None and v == v}}
