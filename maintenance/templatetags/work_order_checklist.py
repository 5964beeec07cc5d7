"""`{% work_order_checklist order %}`: a work order's checklist on its page (one line in
work_order_detail.html), and the filters its items use."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.roles import Scope
from maintenance import checklist_selectors
from maintenance.checklist_models import ItemKind, WorkOrderChecklistItem
from maintenance.models import WorkOrder
from maintenance.services.checklists import number_text, range_words
from pdm_saas.web_access import can

register = template.Library()


@register.inclusion_tag("maintenance/partials/work_order_checklist.html", takes_context=True)
def work_order_checklist(context: template.Context, order: WorkOrder) -> dict[str, Any]:
    items = checklist_selectors.work_order_checklist(order_id=order.id)
    request = context["request"]
    return {"order_id": order.id, "items": items, "progress": checklist_selectors.checklist_progress(items),
            "editable": checklist_selectors.checklist_editable(order=order, can_write=can(request, Scope.WRITE)),
            "can_write": can(request, Scope.WRITE), "csrf_token": context.get("csrf_token"), "request": request}


@register.filter
def checklist_limits(item: WorkOrderChecklistItem) -> str:
    """"between 0.05 and 0.2 mm", or "" for an item without limits."""
    return range_words(item)


@register.filter
def checklist_value(item: WorkOrderChecklistItem) -> str:
    """The answer as typed back into the form: "0.12" (no trailing zeros), the text, or ""."""
    if item.kind == ItemKind.NUMBER:
        return number_text(item.value_number) if item.value_number is not None else ""
    return item.value_text if item.kind == ItemKind.TEXT else ""
