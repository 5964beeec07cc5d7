from __future__ import annotations

from dataclasses import dataclass

import pytest
from django_tenants.utils import tenant_context

from machines.live import readings_push
from machines.models import Machine, MachineType
from machines.services import machine_create, machine_type_adopt
from predictions.bundles import KINDS
from predictions.services.training import onboard_machine_type
from predictions.synthetic.simulator import simulate_fleet

TRAINED_KINDS = KINDS

MOTOR = "induction-motor-siemens-1la7"
TRAINED_TYPE = "induction-motor-abb-m3bp"  # not the type other tests adopt in their own transactions


@dataclass
class Trained:
    machine_type_id: int
    machine_id: int  # ABB-101: a failing simulated run stored as its readings
    summary: dict


@pytest.fixture(scope="session")
def trained_motor(world, django_db_blocker) -> Trained:
    """Acme's ABB motor type onboarded once per session (committed): its champions, a dataset,
    and ABB-101 whose stored readings are a simulated run ending in a failure."""
    with django_db_blocker.unblock(), tenant_context(world.acme):
        machine_type = MachineType.objects.filter(key=TRAINED_TYPE).first() or machine_type_adopt(key=TRAINED_TYPE)
        machine = Machine.objects.filter(name="ABB-101").first() or machine_create(
            machine_type_id=machine_type.id, name="ABB-101", site="Plant B")
        readings_push(items=failing_run_readings(machine_type.metadata, "ABB-101"))
        summary = onboard_machine_type(machine_type=machine_type, machines=24, horizon_h=24, seed=3,
                                       kinds=TRAINED_KINDS)
        return Trained(machine_type.id, machine.id, summary)


def failing_run_readings(document: dict, name: str, *, seed: int = 11) -> list[dict]:
    """The readings of one simulated machine whose run ends in a failure, as a live push."""
    table = simulate_fleet(document, machines=1, seed=seed, healthy_fraction=0.0)
    sensors = [s["name"] for s in document["sensors"]]
    rows = table.select(["ts", *sensors]).to_pylist()
    return [{"machine": name, "ts": row["ts"].isoformat(),
             "values": {k: (None if v != v else v) for k, v in row.items() if k != "ts" and v is not None}}
            for row in rows]
