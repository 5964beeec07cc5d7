"""The maintenance pages' reads (maintenance.selectors) and the one membership rule for whoever
work is given to (maintenance.services.work_orders.member_check)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from maintenance.models import WorkOrder
from maintenance.selectors import CLOSED_ON_BOARD, work_order_board
from maintenance.services.work_orders import member_check
from pdm_saas.errors import InvalidInput


def _orders(motor, status: str, count: int, **fields) -> list[WorkOrder]:
    return [WorkOrder.objects.create(machine=motor, title=f"{status} {n}", status=status, **fields)
            for n in range(count)]


NOW = datetime(2028, 2, 29, 0, 30, tzinfo=UTC)  # overdue and closed times across a leap day


@time_machine.travel(NOW, tick=False)
def test_the_board_is_one_query_with_every_column_the_latest_closed_and_their_totals(world, motor):
    now = NOW
    with tenant_context(world.acme):
        soon, later = _orders(motor, "open", 2)
        WorkOrder.objects.filter(id=soon.id).update(due_at=now - timedelta(hours=1))  # overdue
        WorkOrder.objects.filter(id=later.id).update(due_at=now + timedelta(days=2))
        done = _orders(motor, "done", CLOSED_ON_BOARD + 3)
        for n, order in enumerate(done):
            WorkOrder.objects.filter(id=order.id).update(closed_at=now - timedelta(hours=n))
        mine = WorkOrder.objects.create(machine=motor, title="mine", status="scheduled", assignee=world.engineer)
        with CaptureQueriesContext(db_connection) as queries:
            columns = work_order_board(now=now)
        assert len(queries) == 1
        by_status = {column.status: column for column in columns}
        assert [c.status for c in columns] == list(WorkOrder.Status.values)
        assert [o.id for o in by_status["open"].tickets] == [soon.id, later.id]
        assert [o.overdue for o in by_status["open"].tickets] == [True, False]  # type: ignore[attr-defined]
        closed = by_status["done"]
        assert [o.id for o in closed.tickets] == [o.id for o in done[:CLOSED_ON_BOARD]]  # latest closed first
        assert (closed.total, closed.hidden) == (CLOSED_ON_BOARD + 3, 3)
        assert (by_status["cancelled"].total, by_status["cancelled"].tickets) == (0, [])
        assert [o.id for c in work_order_board(assignee_id=world.engineer.id, now=now) for o in c.tickets] == [mine.id]


def test_work_goes_only_to_members(db, world):
    with tenant_context(world.acme):
        assert member_check(user_id=world.engineer.id) == world.engineer.id
        assert member_check(user_id=None) is None
        with pytest.raises(InvalidInput) as refused:
            member_check(user_id=world.globex_owner.id)
        assert refused.value.details == {"assignee": ["unknown"]}
        with pytest.raises(InvalidInput, match="The linked user must be a member"):
            member_check(user_id=world.outsider.id, who="The linked user", field="user")
