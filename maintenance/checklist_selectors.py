"""Reads of checklists: the templates (per machine type, with their items) and a work order's
checklist with how far it is."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from machines.models import MachineType
from maintenance.checklist_models import ChecklistTemplate, ChecklistTemplateItem, WorkOrderChecklistItem
from maintenance.models import WorkOrder

CLOSED = (WorkOrder.Status.DONE, WorkOrder.Status.CANCELLED)


def checklist_templates(*, machine_type_id: int | None = None) -> QuerySet[ChecklistTemplate]:
    """Templates with their machine type and items in order (of one type when given)."""
    templates = (ChecklistTemplate.objects.select_related("machine_type")
                 .prefetch_related(Prefetch("items", queryset=ChecklistTemplateItem.objects.order_by("position", "id")))
                 .order_by("machine_type__name", "failure_mode", "id"))
    return templates.filter(machine_type_id=machine_type_id) if machine_type_id is not None else templates


def checklist_template_or_404(*, template_id: int) -> ChecklistTemplate:
    return get_object_or_404(checklist_templates(), id=template_id)


def machine_types_for_checklists() -> list[MachineType]:
    """Every machine type of the organization, by name (the templates page groups by them)."""
    return list(MachineType.objects.order_by("name", "id"))


def work_order_checklist_queryset(*, order_id: int) -> QuerySet[WorkOrderChecklistItem]:
    """A work order's items in order, with who ticked them."""
    items = WorkOrderChecklistItem.objects.filter(work_order_id=order_id)
    return items.select_related("done_by", "work_order").order_by("position", "id")


def work_order_checklist(*, order_id: int) -> list[WorkOrderChecklistItem]:
    return list(work_order_checklist_queryset(order_id=order_id))


def work_order_checklist_item_or_404(*, order_id: int, item_id: int) -> WorkOrderChecklistItem:
    return get_object_or_404(WorkOrderChecklistItem.objects.select_related("done_by", "work_order"), id=item_id,
                             work_order_id=order_id)


@dataclass(frozen=True)
class ChecklistProgress:
    done: int
    total: int
    required_left: int


def checklist_editable(*, order: WorkOrder, can_write: bool) -> bool:
    """Answers are given while the work order is open, by those who may write."""
    return can_write and order.status not in CLOSED


def checklist_progress(items: list[WorkOrderChecklistItem]) -> ChecklistProgress:
    return ChecklistProgress(done=sum(item.done for item in items), total=len(items),
                             required_left=sum(item.required and not item.done for item in items))
