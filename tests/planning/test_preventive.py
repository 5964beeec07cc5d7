"""Preventive (PM) plans with real rows: the beat task on a pinned calendar (month ends, a leap
day, a year end, twice -> one work order), "Generate now", usage plans from stored readings, the
plant's time zone, and beat's schedule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db.models import QuerySet
from django_tenants.utils import tenant_context

from machines.live import readings_push
from machines.models import Machine
from maintenance.models import WorkOrder
from maintenance.services.work_orders import work_order_transition
from pdm_saas.celery import app as celery_app
from pdm_saas.errors import Conflict
from planning.models import PreventiveOccurrence, PreventivePlan
from planning.preventive import preventive_due_generate, preventive_generate_now, preventive_next
from planning.tasks import preventive_generate_task

pytestmark = [pytest.mark.django_db, pytest.mark.clock]  # clock: see scripts/shifted_clock_tests.sh


def pm_plan(machine: Machine, **fields: Any) -> PreventivePlan:
    defaults: dict[str, Any] = {
        "title": "Regrease the bearings", "description": "Both bearings, 20 g each.", "failure_mode": "bearing_wear",
        "priority": "high", "estimated_cost": Decimal("120.00"), "estimated_downtime_hours": Decimal("1.50"),
        "every": 1, "unit": "months", "start_date": date(2028, 1, 31), "lead_time_days": 0}
    return PreventivePlan.objects.create(machine=machine, **{**defaults, **fields})


def run_task(world: Any) -> int:
    """The beat task as a worker runs it: in acme, from its message's tenant header."""
    return int(preventive_generate_task.apply(headers={"_schema_name": world.acme.schema_name}).get())


def orders(plan: PreventivePlan) -> QuerySet[WorkOrder]:
    return WorkOrder.objects.filter(preventive_occurrences__plan=plan).order_by("due_at")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_monthly_from_jan_31_through_a_leap_february_and_twice_is_once(world: Any, motor: Machine) -> None:
    with tenant_context(world.acme):
        plan = pm_plan(motor)
    for instant, generated in [("2028-01-30T12:00", 0), ("2028-01-31T06:00", 1), ("2028-01-31T07:00", 0),
                               ("2028-02-28T12:00", 0), ("2028-02-29T00:30", 1), ("2028-03-30T23:00", 0),
                               ("2028-03-31T10:00", 1), ("2028-03-31T11:00", 0)]:
        with time_machine.travel(at(instant), tick=False), tenant_context(world.acme):
            assert run_task(world) == generated, instant
    with tenant_context(world.acme):
        made = list(orders(plan))
        assert [o.due_at for o in made] == [at("2028-01-31T08:00"), at("2028-02-29T08:00"), at("2028-03-31T08:00")]
        first = made[0]
        assert (first.title, first.description, first.failure_mode, first.priority, first.status) == (
            "Regrease the bearings", "Both bearings, 20 g each.", "bearing_wear", "high", "open")
        assert (first.planned_cost, first.planned_downtime_hours, first.machine_id) == (
            Decimal("120.00"), Decimal("1.50"), motor.id)
        assert first.events.get().action == "created"  # the audit trail, by no one (the schedule)
        assert list(plan.occurrences.order_by("sequence").values_list("sequence", "trigger")) == [
            (0, "schedule"), (1, "schedule"), (2, "schedule")]


def test_weekly_across_the_year_end_with_lead_time(world: Any, motor: Machine) -> None:
    with tenant_context(world.acme):
        plan = pm_plan(motor, unit="weeks", every=1, start_date=date(2026, 12, 28), lead_time_days=2)
        for instant, generated in [("2026-12-25T12:00", 0), ("2026-12-26T00:00", 1), ("2027-01-01T23:59", 0),
                                   ("2027-01-02T00:00", 1)]:
            assert preventive_due_generate(now=at(instant)) == generated, instant
        assert [o.due_at for o in orders(plan)] == [at("2026-12-28T08:00"), at("2027-01-04T08:00")]


def test_a_plan_started_long_ago_makes_one_order_not_a_backlog(world: Any, motor: Machine) -> None:
    with tenant_context(world.acme):
        plan = pm_plan(motor, unit="days", every=7, start_date=date(2026, 1, 5))
        assert preventive_due_generate(now=at("2026-12-09T12:00")) == 1
        assert preventive_due_generate(now=at("2026-12-09T13:00")) == 0
        occurrence = plan.occurrences.get()
        assert (occurrence.sequence, occurrence.due_on) == (48, date(2026, 12, 7))  # the latest past one


def test_paused_plans_and_retired_machines_generate_nothing(world: Any, motor: Machine) -> None:
    with tenant_context(world.acme):
        pm_plan(motor, is_active=False)
        assert preventive_due_generate(now=at("2028-02-01T12:00")) == 0
        pm_plan(motor, title="Inspect")
        Machine.objects.filter(id=motor.id).update(status=Machine.Status.RETIRED)
        assert preventive_due_generate(now=at("2028-02-01T12:00")) == 0
        assert not WorkOrder.objects.exists()


def test_generate_now_then_the_schedule_continues(world: Any, motor: Machine) -> None:
    with tenant_context(world.acme):
        plan = pm_plan(motor, start_date=date(2028, 1, 31))
        now = at("2028-01-10T09:00")
        first = preventive_generate_now(plan_id=plan.id, actor_id=world.engineer.id, now=now)
        assert (first.sequence, first.due_on, first.trigger) == (0, date(2028, 1, 31), "manual")
        assert first.work_order is not None and first.work_order.created_by_id == world.engineer.id
        assert first.work_order_id is not None
        with pytest.raises(Conflict) as refused:  # a second press while WO is open: the same job twice
            preventive_generate_now(plan_id=plan.id, actor_id=world.engineer.id, now=now)
        assert refused.value.code == "pm_order_open"
        assert f"WO-{first.work_order_id} from this PM plan is still Open" in refused.value.message
        work_order_transition(order_id=first.work_order_id, to_status="cancelled", actor_id=world.engineer.id)
        second = preventive_generate_now(plan_id=plan.id, actor_id=world.engineer.id, now=now)
        assert (second.sequence, second.due_on) == (1, date(2028, 2, 29))
        # The task at those dates finds both done; March's is next.
        assert preventive_due_generate(now=at("2028-02-29T12:00")) == 0
        assert preventive_next(plan=plan, now=at("2028-02-29T12:00")).due_on == date(2028, 3, 31)
        assert WorkOrder.objects.count() == 2


def test_the_plants_time_zone_sets_today_and_the_due_time(world: Any, motor: Machine) -> None:
    before = world.acme.time_zone
    world.acme.time_zone = "Asia/Tokyo"  # the tenant object the schema context carries; restored below
    try:
        with tenant_context(world.acme):
            plan = pm_plan(motor, start_date=date(2026, 12, 10))
            # 23:30 UTC on the 9th is 08:30 on the 10th in Tokyo: due there today.
            assert preventive_due_generate(now=at("2026-12-09T14:00")) == 0  # 23:00 on the 9th in Tokyo
            assert preventive_due_generate(now=at("2026-12-09T23:30")) == 1
            assert orders(plan).get().due_at == at("2026-12-09T23:00")  # 08:00 in Tokyo
    finally:
        world.acme.time_zone = before


@pytest.fixture
def running_motor(world: Any, motor: Machine) -> Iterator[Machine]:
    """Motor-001 ran 20 h a day for ten days from 1 Mar 2026 (stopped 20:00-24:00), one reading an hour."""
    start = at("2026-03-01T00:00")
    items = [{"machine": motor.name, "ts": (start + timedelta(hours=h)).isoformat(),
              "values": {"speed_rpm": 1450.0 if h % 24 < 20 else 0.0}} for h in range(240)]
    with tenant_context(world.acme):
        assert not readings_push(items=items).rejected
        yield Machine.objects.select_related("machine_type").get(id=motor.id)


def test_a_running_hours_plan_generates_from_stored_readings(world: Any, running_motor: Machine) -> None:
    with tenant_context(world.acme):
        plan = pm_plan(running_motor, unit="running_hours", every=150, start_date=date(2026, 3, 1),
                       signal="speed_rpm", threshold=100, lead_time_days=2)
        day_7 = at("2026-03-08T00:00")  # 7 days x 20 h = 140 h run: 10 h short, half a day at 20 h a day
        upcoming = preventive_next(plan=plan, now=day_7)
        assert (upcoming.sequence, upcoming.due_usage, upcoming.due_on, upcoming.ready) == (
            1, 150.0, date(2026, 3, 9), True)  # inside the 2-day lead time
        assert preventive_due_generate(now=day_7) == 1
        assert preventive_due_generate(now=day_7) == 0
        occurrence = plan.occurrences.get()
        assert (occurrence.due_usage, occurrence.due_on) == (150.0, date(2026, 3, 9))
        # After the ten days (200 h), the next mark is 300 h; the machine has not run since: no date.
        later = preventive_next(plan=plan, now=at("2026-04-01T00:00"))
        assert (later.sequence, later.due_usage, later.due_on, later.ready) == (2, 300.0, None, False)


def test_a_cycles_plan_counts_starts(world: Any, running_motor: Machine) -> None:
    with tenant_context(world.acme):
        plan = pm_plan(running_motor, unit="cycles", every=5, start_date=date(2026, 3, 1), signal="speed_rpm",
                       threshold=100)
        # Starts on days 2..10 (day 1 begins running with no reading before it): 9 starts.
        end = at("2026-03-11T00:00")
        assert preventive_next(plan=plan, now=end).due_usage == 5.0
        assert preventive_due_generate(now=end) == 1
        assert plan.occurrences.get().sequence == 1
        assert preventive_next(plan=plan, now=end).sequence == 2  # 10 starts not yet reached


def test_beat_schedules_the_task_for_every_tenant() -> None:
    entry = celery_app.conf.beat_schedule["preventive-plans"]
    assert entry["task"] == "tenants.tasks.tenants_dispatch"
    assert entry["args"] == ["planning.tasks.preventive_generate_task"]


def test_the_task_runs_only_in_its_own_tenant(world: Any, motor: Machine) -> None:
    with tenant_context(world.acme):
        pm_plan(motor)
    with time_machine.travel(at("2028-02-01T12:00"), tick=False), tenant_context(world.globex):
        assert preventive_generate_task.apply(headers={"_schema_name": world.globex.schema_name}).get() == 0
    with tenant_context(world.acme):
        assert not PreventiveOccurrence.objects.exists()


def test_a_usage_plan_whose_signal_left_the_type_is_skipped_and_said(world: Any, motor: Machine,
                                                                     client_for: Any) -> None:
    with tenant_context(world.acme):
        plan = pm_plan(motor, unit="running_hours", every=100, signal="oil_temp_c", threshold=40)
        assert preventive_due_generate(now=at("2028-02-01T12:00")) == 0  # logged, not raised
    page = client_for("viewer").get("/planning/pm-plans/").content.decode()
    assert "Motor-001 has no numeric signal &#x27;oil_temp_c&#x27;." in page
    assert client_for("viewer").get(f"/api/v1/planning/pm-plans/{plan.id}/").json()["next_due"] is None
