"""Two beat runs at once (two threads on their own database connections, committed rows): one
work order per due occurrence, never two (the plan's row lock, and the unique (plan, sequence))."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.models import Machine, MachineType
from machines.services import machine_create, machine_delete, machine_type_adopt
from maintenance.models import WorkOrder
from planning.models import PreventiveOccurrence, PreventivePlan
from planning.preventive import preventive_due_generate
from tenants.db import connection
from tests.concurrency import at_once

MOTOR = "induction-motor-siemens-1la7"
DUE = datetime(2029, 6, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def committed_plans(world: Any, django_db_blocker: Any) -> Iterator[list[int]]:
    """Three monthly plans on a globex machine, all due at DUE (committed; removed afterwards)."""
    with django_db_blocker.unblock(), tenant_context(world.globex):
        motor_type = MachineType.objects.filter(key=MOTOR).first() or machine_type_adopt(key=MOTOR)
        machine = machine_create(machine_type_id=motor_type.id, name="PM-race")
        plans = [PreventivePlan.objects.create(machine=machine, title=f"Job {n}", every=1, unit="months",
                                               start_date=date(2029, 1, 30)).id for n in range(3)]
    try:
        with django_db_blocker.unblock():
            yield plans
    finally:
        with django_db_blocker.unblock(), tenant_context(world.globex):
            WorkOrder.objects.filter(machine=machine).delete()
            PreventivePlan.objects.filter(id__in=plans).delete()
            machine_delete(machine_id=machine.id)
            if not Machine.objects.filter(machine_type=motor_type).exists():
                motor_type.delete()
        connection.set_schema_to_public()


def test_two_runs_at_once_make_each_work_order_once(world: Any, committed_plans: list[int]) -> None:
    results = at_once(world.globex, lambda: preventive_due_generate(now=DUE))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(results) == 3, results  # however the three plans fell between the two runs
    with tenant_context(world.globex):
        assert WorkOrder.objects.filter(preventive_occurrences__plan_id__in=committed_plans).count() == 3
        assert sorted(PreventiveOccurrence.objects.filter(plan_id__in=committed_plans)
                      .values_list("plan_id", "sequence")) == [(p, 5) for p in sorted(committed_plans)]
