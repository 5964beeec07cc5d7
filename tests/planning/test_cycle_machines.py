"""The planner and cycle-indexed machines: remaining life in cycles becomes hours with the type's
`hours_per_cycle`; without it the machine is left out of the plan, and the API and the plan's page
say why in one sentence."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from jobs.services import job_execute
from machines.models import Machine
from machines.services import machine_type_adopt, machine_type_update
from planning.inputs import CYCLES_UNPLANNED
from planning.models import Technician
from planning.risk import day_probabilities
from planning.services import plan_run
from predictions.models import Prediction

ENGINE = "turbofan-engine-cmapss"
CYCLE_150 = datetime(1970, 1, 7, 6, tzinfo=UTC)  # a cycle-indexed window end: cycle 150 stored as 150 x 3600 s


def _engine(world: Any, hours: float | None) -> Machine:
    """Engine-1 of the C-MAPSS type, 12 cycles from failure, and a technician for it and the motors."""
    with tenant_context(world.acme):
        engine_type = machine_type_adopt(key=ENGINE)
        # The library's engine says 2 h a cycle; the test sets its own or none.
        document = {k: v for k, v in engine_type.metadata.items() if k != "hours_per_cycle"}
        if hours is not None:
            document["hours_per_cycle"] = hours
        engine_type = machine_type_update(type_id=engine_type.id, document=document)
        engine = Machine.objects.create(machine_type=engine_type, name="Engine-1")
        Prediction.objects.create(
            machine=engine, source=Prediction.Source.SCHEDULED, window_end=CYCLE_150, horizon_h=30, probability=0.8,
            predicted_failure=True, failure_mode="", rul_h=12, rul_lower_h=6, rul_upper_h=18, health_score=20,
            confidence=0.8)
        assert engine.predictions.get().time_unit == "cycles"
        Technician.objects.create(name="Dana", skills=["motor", "engine"], working_weekdays=list(range(7)))
        return engine


def _plan(client_for: Any, world: Any) -> dict[str, Any]:
    made = client_for("engineer").post("/api/v1/planning/plans/", {"horizon_days": 7},
                                       content_type="application/json")
    assert made.status_code == 202, made.content
    with tenant_context(world.acme):
        job_execute(job_id=made.json()["job_id"], handler=plan_run)
    plan = client_for("viewer").get(f"/api/v1/planning/plans/{made.json()['id']}/").json()
    assert plan["status"] == "ready", plan
    return plan


def test_without_hours_per_cycle_the_machine_is_left_out_and_the_plan_says_why(client_for, world, motor):
    engine = _engine(world, hours=None)
    plan = _plan(client_for, world)
    assert plan["inputs"]["not_planned"] == [{"machine_id": engine.id, "machine": "Engine-1",
                                              "reason": CYCLES_UNPLANNED}]
    assert "Engine-1" not in [m["name"] for m in plan["inputs"]["machines"]]
    assert "Engine-1" not in [a["machine"] for a in plan["result"]["actions"]]
    page = client_for("viewer").get(f"/planning/plans/{plan['id']}/").content.decode()
    assert "Not planned" in page and ("Remaining life is counted in cycles; set how long a cycle takes on the "
                                      "machine type (hours_per_cycle) to plan it.") in page


def test_with_hours_per_cycle_remaining_life_is_planned_in_hours(client_for, world, motor):
    _engine(world, hours=2.5)
    plan = _plan(client_for, world)
    assert plan["inputs"]["not_planned"] == []
    [seen] = [m for m in plan["inputs"]["machines"] if m["name"] == "Engine-1"]
    elapsed = 0.0  # the plan runs seconds after the prediction: far below the rounding of a day's risk
    in_hours = day_probabilities(probability=0.8, horizon_h=75, rul_h=30, rul_lower_h=15, rul_upper_h=45,
                                 elapsed_h=elapsed, days=7)
    read_as_hours = day_probabilities(probability=0.8, horizon_h=30, rul_h=12, rul_lower_h=6, rul_upper_h=18,
                                      elapsed_h=elapsed, days=7)
    assert seen["day_probabilities"] == pytest.approx([round(p, 5) for p in in_hours], abs=1e-3)
    assert seen["day_probabilities"] != pytest.approx([round(p, 5) for p in read_as_hours], abs=1e-3)
    assert "Engine-1" in [a["machine"] for a in plan["result"]["actions"]]
