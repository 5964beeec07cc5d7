"""The optimizer and PM plans: a repair a PM job does within the plan's days is not scheduled twice
(docs/planning.md, "Preventive plans and the optimizer"), a general PM job covers no repair, and
accepting a plan never reschedules a PM work order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from django_tenants.utils import tenant_context

from jobs.services import job_execute
from machines.models import Machine
from maintenance.models import WorkOrder
from maintenance.services.work_orders import work_order_transition
from planning.models import MaintenancePlan, PreventivePlan, Technician
from planning.preventive import preventive_generate_now
from planning.services import plan_accept, plan_run, plan_start
from predictions.models import Prediction

pytestmark = [pytest.mark.django_db, pytest.mark.clock]
NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # a Monday; the plan starts today and looks 7 days ahead


@pytest.fixture
def failing(world: Any, motor: Machine) -> Machine:
    """Motor-001 about to fail of bearing wear, and a technician every day."""
    with tenant_context(world.acme):
        Prediction.objects.create(
            machine=motor, source=Prediction.Source.API, window_end=NOW, horizon_h=24, probability=0.9,
            predicted_failure=True, failure_mode="bearing_wear", rul_h=30, rul_lower_h=15, rul_upper_h=45,
            health_score=10, confidence=0.8)
        Prediction.objects.filter(machine=motor).update(created_at=NOW)  # auto_now_add: set after
        Technician.objects.create(name="Dana", skills=["motor"], working_weekdays=list(range(7)))
    return motor


def made(world: Any) -> MaintenancePlan:
    with time_machine.travel(NOW, tick=False):
        plan = plan_start(horizon_days=7, budget=None, actor_id=world.engineer.id)
        assert plan.job_id is not None
        job_execute(job_id=plan.job_id, handler=plan_run)
    return MaintenancePlan.objects.get(id=plan.id)


def pm(machine: Machine, **fields: Any) -> PreventivePlan:
    return PreventivePlan.objects.create(**{"machine": machine, "title": "Replace the DE bearing", "every": 6,
                                            "unit": "months", "start_date": date(2026, 12, 10),
                                            "failure_mode": "bearing_wear", **fields})


def planned_machines(plan: MaintenancePlan) -> list[str]:
    return [a["machine"] for a in plan.result["actions"]]


def test_without_a_pm_plan_the_optimizer_schedules_the_repair(world: Any, failing: Machine, in_acme: Any) -> None:
    assert planned_machines(made(world)) == ["Motor-001"]


def test_a_pm_plan_due_within_the_days_does_the_repair(world: Any, failing: Machine, in_acme: Any) -> None:
    pm(failing)  # next due Thu 10 Dec: inside the plan's 7 days from Mon 7 Dec
    plan = made(world)
    assert planned_machines(plan) == []
    [entry] = plan.inputs["not_planned"]
    assert entry["machine"] == "Motor-001"
    assert entry["reason"] == ("PM plan \u201cReplace the DE bearing\u201d does this repair on Thu 10 Dec 2026, "
                               "within the plan's days")
    assert any(m["sentence"].startswith("Left out: PM plan") for m in plan.result["machines"])


def test_a_generated_pm_order_does_the_repair_until_it_is_done(world: Any, failing: Machine, in_acme: Any) -> None:
    plan_pm = pm(failing, start_date=date(2027, 3, 1))  # due beyond the horizon...
    assert planned_machines(made(world)) == ["Motor-001"]
    occurrence = preventive_generate_now(plan_id=plan_pm.id, actor_id=world.engineer.id, now=NOW)
    assert occurrence.work_order_id is not None
    # ...but its order is generated and live: an open order with a due date past the horizon is
    # still the job someone will do; the optimizer leaves it to them (overdue ones too).
    WorkOrder.objects.filter(id=occurrence.work_order_id).update(due_at=NOW)
    plan = made(world)
    assert planned_machines(plan) == []
    assert plan.inputs["not_planned"][0]["reason"].startswith(f"preventive work order WO-{occurrence.work_order_id}")
    work_order_transition(order_id=occurrence.work_order_id, to_status="cancelled", actor_id=world.engineer.id)
    assert planned_machines(made(world)) == ["Motor-001"]


def test_a_pm_plan_for_another_repair_or_none_covers_nothing(world: Any, failing: Machine, in_acme: Any) -> None:
    pm(failing, failure_mode="misalignment")
    pm(failing, title="Lubricate", failure_mode="")
    pm(failing, start_date=date(2026, 12, 20))  # the same repair, after the plan's days
    assert planned_machines(made(world)) == ["Motor-001"]


def test_accepting_a_plan_leaves_the_pm_order_alone(world: Any, failing: Machine, in_acme: Any) -> None:
    lubricate = pm(failing, title="Lubricate", failure_mode="", start_date=date(2026, 12, 8))
    occurrence = preventive_generate_now(plan_id=lubricate.id, actor_id=world.engineer.id, now=NOW)
    assert occurrence.work_order_id is not None
    plan = made(world)
    with time_machine.travel(NOW, tick=False):
        plan_accept(plan_id=plan.id, actor_id=world.engineer.id)
    pm_order = WorkOrder.objects.get(id=occurrence.work_order_id)
    assert (pm_order.title, pm_order.status, pm_order.scheduled_for) == ("Lubricate", "open", None)
    repair = WorkOrder.objects.exclude(id=pm_order.id).get()
    assert repair.status == "scheduled" and repair.title == "Planned: bearing wear on Motor-001"


def test_parts_on_a_pm_order_are_not_counted_for_the_repair(world: Any, failing: Machine, in_acme: Any) -> None:
    """The PM order keeps its bearings: the repair still needs its own, which are not in stock."""
    from planning.models import PartNeed, PartUse, SparePart

    bearing = SparePart.objects.create(name="6309-2Z bearing", in_stock=2, lead_time_days=3)
    PartNeed.objects.create(machine_type=failing.machine_type, failure_mode="bearing_wear", part=bearing, quantity=2)
    swap = pm(failing, title="Swap the NDE bearing", failure_mode="", start_date=date(2026, 12, 8))
    occurrence = preventive_generate_now(plan_id=swap.id, actor_id=world.engineer.id, now=NOW)
    assert occurrence.work_order_id is not None
    PartUse.objects.create(work_order_id=occurrence.work_order_id, part=bearing, quantity=2)
    plan = made(world)
    # The two in stock are the PM order's; the repair needs its own two, which arrive on day 3.
    assert plan.inputs["parts"] == [{"name": "6309-2Z bearing", "in_stock": 0, "lead_time_days": 3}]
    assert plan.inputs["machines"][0]["parts"] == [["6309-2Z bearing", 2]]
    assert plan.result["actions"] == []  # too late for a failure expected within about 30 h
