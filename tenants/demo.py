"""Demo data for `make run`: a few machines of built-in types, readings, a failure, an open alert
and a work order, so every screen and endpoint has something to show; and onboarding jobs that
train each demo type's models on the worker, after which scoring runs on the demo readings.
The healthy machines are simulated healthy machines at their own operating points; Motor-003's
readings are a simulated run hours from a bearing failure, so the first scoring shows one machine
at risk beside four healthy ones; its open alert and work order are about that bearing. Motor-001
had the same failure 40 days ago (a past failure for the history pages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django_tenants.utils import tenant_context

from billing.services import subscription_grant
from machines.live import readings_push
from machines.models import Machine, MachineType
from machines.services import machine_create, machine_type_adopt
from predictions.models import FailureEvent
from predictions.services.alerts import alert_raise
from predictions.services.work_orders import work_order_create
from tenants.models import Tenant

# Three weeks of hourly readings: a machine's own normal is learned from its first days, and the
# models' windows and baselines need history before they give a verdict.
DEMO_DAYS = 21
DEMO_STEPS = DEMO_DAYS * 24
SEED = 7
AT_RISK = "Motor-003"
AT_RISK_MODE = "bearing_wear"
AT_RISK_HOURS_LEFT = 6  # the failing run ends this long after the last reading: at risk, not failed yet
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
                            explanation={"top_factors": [{"signal": "vibration_de_mm_s", "contribution": 0.41},
                                                         {"signal": "bearing_de_temp_c", "contribution": 0.22}]}).alert
        if alert is not None:
            work_order_create(machine_id=motor.id, alert_id=alert.id, title="", actor_id=None)
        return True


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
    """`DEMO_DAYS` of hourly readings per machine, ending now. The healthy machines are simulated
    healthy machines, each at its own operating point inside the normal ranges (a plant's machines
    do not all run at the middle of every range); Motor-003 is a simulated run to failure that
    is hours from its end, its first days still healthy (the stretch a machine's own normal is
    learned from)."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    items = _failing_readings(AT_RISK, end)
    machines = Machine.objects.select_related("machine_type").exclude(name=AT_RISK).order_by("name")
    by_type: dict[int, list[Machine]] = {}
    for machine in machines:
        by_type.setdefault(machine.machine_type_id, []).append(machine)
    for group in by_type.values():
        items += _healthy_readings(group, end)
    readings_push(items=items)


def _healthy_readings(machines: list[Machine], end: datetime) -> list[dict[str, Any]]:
    from predictions.synthetic.operating_points import healthy_fleet

    document = machines[0].machine_type.metadata
    fleet = healthy_fleet(document, machines=len(machines), steps=DEMO_STEPS, seed=SEED)
    simulated = fleet.column("machine").to_pylist()
    names = dict(zip(sorted(set(simulated)), [m.name for m in machines], strict=True))
    sensors = [s["name"] for s in machines[0].machine_type.sensors]
    rows = fleet.select(sensors).to_pylist()
    cycles = fleet.column("cycle").to_pylist()
    return [_item(names[machine], end - timedelta(hours=DEMO_STEPS - 1 - cycle), row)
            for machine, cycle, row in zip(simulated, cycles, rows, strict=True)]


def _failing_readings(name: str, end: datetime) -> list[dict[str, Any]]:
    """A run that fails by `AT_RISK_MODE`, `AT_RISK_HOURS_LEFT` hours after its last reading."""
    from predictions.synthetic.simulator import SimulationOptions, simulate_fleet

    machine = Machine.objects.select_related("machine_type").get(name=name)
    document = machine.machine_type.metadata
    document = {**document, "failure_modes": [m for m in document["failure_modes"] if m["name"] == AT_RISK_MODE]}
    steps = DEMO_STEPS + AT_RISK_HOURS_LEFT
    run = simulate_fleet(document, machines=1, seed=SEED, healthy_fraction=0.0,
                         options=SimulationOptions(min_run_steps=steps, max_run_steps=steps))
    sensors = [s["name"] for s in machine.machine_type.sensors]
    rows = run.select(sensors).slice(0, DEMO_STEPS).to_pylist()
    return [_item(name, end - timedelta(hours=len(rows) - 1 - i), row) for i, row in enumerate(rows)]


def _item(machine: str, ts: datetime, row: dict[str, Any]) -> dict[str, Any]:
    return {"machine": machine, "ts": ts.isoformat(),
            "values": {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()
                       if v is not None and v == v}}
