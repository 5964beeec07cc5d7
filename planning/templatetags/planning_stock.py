"""`{% work_order_parts order %}`: the parts-used card on a work order's page, included by one line
so the work-order page's view stays as it is (docs/planning.md, "Spare parts that move")."""

from __future__ import annotations

from typing import Any

from django import template

from maintenance.models import WorkOrder
from planning.selectors import spare_part_list, work_order_part_uses
from planning.stock import work_order_shortfalls

register = template.Library()


@register.inclusion_tag("planning/partials/work_order_parts.html", takes_context=True)
def work_order_parts(context: template.Context, order: WorkOrder) -> dict[str, Any]:
    live = order.status in WorkOrder.LIVE
    return {
        "order": order, "lines": list(work_order_part_uses(order_id=order.id)), "live": live,
        "shortfalls": work_order_shortfalls(order_id=order.id) if live else [],
        "parts": list(spare_part_list()) if live else [],
        "can_write": context.get("can_write", False), "csrf_token": context.get("csrf_token"),
    }
