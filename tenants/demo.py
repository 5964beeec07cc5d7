"""Demo data for `make run`: a few machines of built-in types, readings, a failure, an open alert
and a work order, so every screen and endpoint has something to show; and onboarding jobs that
train each demo type's models on the worker, after which scoring runs on the demo readings.
Motor-003's readings are the last days of a simulated run that ends in a failure, so the first
scoring shows a machine in trouble beside healthy ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django_tenants.utils import tenant_context

from billing.services import subscription_grant
from machines.live import readings_push
from machines.models import Machine, MachineType
from machines.services import machine_create, machine_type_adopt
from predictions.models import FailureEvent
from predictions.services.alerts import alert_raise
from predictions.services.work_orders import work_order_create
from tenants.models import Tenant

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
        motor = Machine.objects.get(name="Motor-001")
        FailureEvent.objects.create(machine=motor, occurred_at=datetime.now(UTC) - timedelta(days=40),
                                    failure_mode="bearing_wear", notes="Demo: DE bearing seized")
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.87,
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
    """A day of 10-minute readings per machine, near the middle of each sensor's normal range;
    for Motor-003, the last 144 hours of a simulated run to failure."""
    rng = np.random.default_rng(7)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
    items = _failing_readings("Motor-003")
    for machine in Machine.objects.select_related("machine_type").exclude(name="Motor-003"):
        sensors = [s for s in MachineType.objects.get(id=machine.machine_type_id).sensors if s["kind"] == "numeric"]
        for step in range(144):
            values = {s["name"]: round(float(np.mean(s["ranges"]["normal"]) * (1 + rng.normal(0, 0.03))), 3)
                      for s in sensors}
            items.append({"machine": machine.name, "ts": (start + timedelta(minutes=10 * step)).isoformat(),
                          "values": values})
    readings_push(items=items)


def _failing_readings(name: str) -> list[dict[str, Any]]:
    from predictions.synthetic.simulator import simulate_fleet

    machine = Machine.objects.select_related("machine_type").get(name=name)
    sensors = [s["name"] for s in machine.machine_type.sensors]
    run = simulate_fleet(machine.machine_type.metadata, machines=1, seed=4, healthy_fraction=0.0)
    rows = run.select(sensors).slice(max(run.num_rows - 144, 0)).to_pylist()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return [{"machine": name, "ts": (end - timedelta(hours=len(rows) - 1 - i)).isoformat(),
             "values": {k: v for k, v in row.items() if v is not None and v == v}} for i, row in enumerate(rows)]
