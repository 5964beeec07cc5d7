"""Beat's scheduled runs score only what is new (issue 16, "billing that counts what is new"): a
machine whose latest prediction read its newest reading, with the models serving now, is neither
scored again nor billed; a new reading, new models, an upload's run or a call score it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from billing.services import usage_predictions
from machines.live import readings_push
from machines.models import Machine, MachineType
from machines.services import machine_create
from pdm_saas.monitoring.fleet import scorable_machines_count
from predictions.models import ModelVersion, Prediction
from predictions.services.scoring import fleet_score
from predictions.tasks import fleet_score_task
from tests.predictions.conftest import Trained

START = datetime(2026, 2, 27, tzinfo=UTC)  # its readings run over a leap day into March


def _readings(machine: Machine, hours: range) -> None:
    items = [{"machine": machine.name, "ts": (START + timedelta(hours=h)).isoformat(),
              "values": {"current_a": 40.0 + (h % 3), "winding_temp_c": 80.0}} for h in hours]
    assert not readings_push(items=items).rejected


def _stored(machine: Machine) -> int:
    return Prediction.objects.filter(machine=machine).count()


def test_a_scheduled_run_bills_only_machines_with_new_readings(db: None, trained_motor: Trained, in_acme: Any,
                                                               world: Any) -> None:
    machine_type = MachineType.objects.get(id=trained_motor.machine_type_id)
    machine = machine_create(machine_type_id=machine_type.id, name="ABB-410")
    _readings(machine, range(0, 72))
    fleet_score(only_new=True)  # every machine of the tenant with something new: ABB-410 among them
    assert _stored(machine) == 1
    assert Prediction.objects.get(machine=machine).readings_until == START + timedelta(hours=71)

    used = usage_predictions(tenant_id=world.acme.id)
    total = Prediction.objects.count()
    for _ in range(3):  # beat's runs with nothing new: nothing stored, nothing billed
        assert fleet_score_task.run() == 0
    assert Prediction.objects.count() == total and usage_predictions(tenant_id=world.acme.id) == used
    quiet = scorable_machines_count()  # what monitoring expects a run to score: ABB-410 is not in it

    _readings(machine, range(72, 73))  # one new reading (29 February, midnight)
    assert scorable_machines_count() == quiet + 1
    assert [p.machine_id for p in fleet_score(only_new=True)] == [machine.id]
    assert _stored(machine) == 2 and usage_predictions(tenant_id=world.acme.id) == used + 1

    # An upload's run (its type given) scores whatever the readings' times: a backfill is new too.
    assert fleet_score_task.run(machine_type.id) >= 1 and _stored(machine) == 3
    assert machine.id in [p.machine_id for p in fleet_score()]  # so does a run without `only_new`


def test_new_models_are_new_predictions(db: None, trained_motor: Trained, in_acme: Any) -> None:
    machine_type = MachineType.objects.get(id=trained_motor.machine_type_id)
    machine = machine_create(machine_type_id=machine_type.id, name="ABB-411")
    _readings(machine, range(0, 72))
    fleet_score(only_new=True)
    assert [p.machine_id for p in fleet_score(only_new=True)] == []
    latest = Prediction.objects.filter(machine=machine).latest("id")
    # The prediction was made by other models than the ones serving now (a promotion since).
    changed = {**latest.versions, ModelVersion.Kind.FAILURE_CLASSIFIER: -1}
    Prediction.objects.filter(id=latest.id).update(versions=changed)
    assert machine.id in [p.machine_id for p in fleet_score(only_new=True)]
