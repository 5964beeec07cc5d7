"""The same queued operation sent by two syncs at once (two tabs, or a retry over a slow network;
two threads on their own database connections, committed rows): applied once, the other sync
hears "already applied", one entry in the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.models import Machine, MachineType
from machines.services import machine_create, machine_delete, machine_type_adopt
from maintenance.checklist_models import ChecklistTemplate, WorkOrderChecklistItem
from maintenance.models import OfflineOp, WorkOrder, WorkOrderEvent
from maintenance.offline import Operation, item_version, offline_sync
from maintenance.services.checklists import ItemSpec, checklist_template_save
from maintenance.services.work_orders import work_order_create
from tenants.db import connection
from tests.concurrency import at_once
from tests.conftest import MOTOR


@pytest.fixture
def committed_item(world: Any, django_db_blocker: Any) -> Iterator[WorkOrderChecklistItem]:
    """A work order on a globex machine with one checklist item (committed; removed afterwards)."""
    with django_db_blocker.unblock(), tenant_context(world.globex):
        motor_type = MachineType.objects.filter(key=MOTOR).first() or machine_type_adopt(key=MOTOR)
        machine = machine_create(machine_type_id=motor_type.id, name="Offline-race")
        template = checklist_template_save(machine_type_id=motor_type.id, name="Race",
                                           items=[ItemSpec(text="Check the coupling")])
        order = work_order_create(machine_id=machine.id, title="Race", actor_id=world.globex_owner.id)
        item = WorkOrderChecklistItem.objects.get(work_order=order, template=template)
    try:
        with django_db_blocker.unblock():
            yield item
    finally:
        with django_db_blocker.unblock(), tenant_context(world.globex):
            OfflineOp.objects.filter(work_order_id=order.id).delete()
            WorkOrder.objects.filter(id=order.id).delete()
            ChecklistTemplate.objects.filter(id=template.id).delete()
            machine_delete(machine_id=machine.id)
            if not Machine.objects.filter(machine_type=motor_type).exists():
                motor_type.delete()
        connection.set_schema_to_public()


def test_one_operation_in_two_syncs_at_once_is_applied_once(world: Any,
                                                            committed_item: WorkOrderChecklistItem) -> None:
    op = Operation(op_id=uuid.uuid4(), kind="checklist.answer", work_order_id=committed_item.work_order_id,
                   item_id=committed_item.id, base=item_version(committed_item), data={"done": True})

    def sync() -> Any:
        [outcome] = offline_sync(actor_id=world.globex_owner.id, operations=[op])
        return outcome

    results = at_once(world.globex, sync)
    assert sorted(r.status for r in results) == ["already_applied", "applied"], results
    with tenant_context(world.globex):
        trail = WorkOrderEvent.objects.filter(work_order_id=committed_item.work_order_id, action="checklist")
        assert trail.count() == 1
        assert OfflineOp.objects.filter(op_id=op.op_id).count() == 1
