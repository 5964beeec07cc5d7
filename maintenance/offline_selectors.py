"""What a technician's browser keeps for working offline (docs/web.md, "Offline"): their open
work orders with the checklists, their machines' latest health, and the pages and files to cache.

Whose work orders: the live ones (open, scheduled, in progress) assigned to the person; for
those who may change work orders of anybody (engineers and above: the `write` scope, which the
endpoints already require) also the live ones nobody is assigned to yet, since any of them may
pick one up on the floor. Orders assigned to someone else stay online only.

The machine health is one read of predictions (the latest verdict, as the fleet page words it).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from engine.metadata import failure_mode_label
from maintenance.checklist_models import WorkOrderChecklistItem
from maintenance.models import Alert, WorkOrder
from maintenance.offline import item_version
from maintenance.services.work_orders import TRANSITIONS
from predictions.selectors import machine_latest_prediction
from predictions.web_format import verdict

FORMAT, VERSION = "pdm-offline-bundle", 1
MAX_ORDERS = 100  # the newest first; a phone keeps what one person works on, not the plant's backlog
SHELL_FILES = ("css/app.css", "css/checklists.css", "css/offline.css", "vendor/htmx-2.0.11.min.js", "js/page.js",
               "js/relative_time.js", "js/live.js", "js/offline.js", "icons/icon.svg", "icons/icon-192.png",
               "manifest.webmanifest")


def offline_work_orders(*, user_id: int) -> list[WorkOrder]:
    """The person's live work orders, and the live unassigned ones, newest first."""
    mine = Q(assignee_id=user_id) | Q(assignee__isnull=True)
    return list(WorkOrder.objects.filter(mine, status__in=WorkOrder.LIVE).select_related("machine__machine_type")
                .order_by("-created_at", "-id")[:MAX_ORDERS])


def offline_bundle(*, user_id: int) -> dict[str, Any]:
    orders = offline_work_orders(user_id=user_id)
    items = _items_by_order([order.id for order in orders])
    machines = {order.machine_id: order.machine for order in orders}
    return {
        "format": FORMAT, "version": VERSION, "generated_at": timezone.now().isoformat(), "user": user_id,
        "work_orders": [_order(order, items.get(order.id, [])) for order in orders],
        "machines": [_machine(machine) for machine in sorted(machines.values(), key=lambda m: m.name)],
        "urls": offline_urls(orders),
    }


def offline_urls(orders: list[WorkOrder]) -> list[str]:
    """What the service worker caches: the offline page, each work order's page, the app shell."""
    pages = [reverse("predictions:offline"), *(reverse("predictions:work-order-detail", args=[o.id]) for o in orders)]
    return pages + [static(name) for name in SHELL_FILES]


def _items_by_order(order_ids: list[int]) -> dict[int, list[WorkOrderChecklistItem]]:
    grouped: dict[int, list[WorkOrderChecklistItem]] = {}
    for item in WorkOrderChecklistItem.objects.filter(work_order_id__in=order_ids).order_by("position", "id"):
        grouped.setdefault(item.work_order_id, []).append(item)
    return grouped


def _order(order: WorkOrder, items: list[WorkOrderChecklistItem]) -> dict[str, Any]:
    metadata = order.machine.machine_type.metadata
    moves = [to for to in TRANSITIONS.get(order.status, set()) if to != WorkOrder.Status.DONE]
    return {
        "id": order.id, "title": order.title, "status": order.status, "status_label": order.get_status_display(),
        "priority": order.priority, "priority_label": order.get_priority_display(),
        "machine": order.machine_id, "machine_name": order.machine.name,
        "failure_mode": failure_mode_label(metadata, order.failure_mode) if order.failure_mode else "",
        "assignee": order.assignee_id, "due_at": order.due_at.isoformat() if order.due_at else None,
        "url": reverse("predictions:work-order-detail", args=[order.id]),
        "moves": sorted(str(to) for to in moves), "can_close": WorkOrder.Status.DONE in TRANSITIONS[order.status],
        "checklist": [_item(item) for item in items],
    }


def _item(item: WorkOrderChecklistItem) -> dict[str, Any]:
    value = item.value_text if item.kind == "text" else (None if item.value_number is None else str(item.value_number))
    return {"id": item.id, "position": item.position, "text": item.text, "required": item.required,
            "kind": item.kind, "unit": item.unit, "min_value": _text(item.min_value),
            "max_value": _text(item.max_value), "done": item.done, "value": value, "note": item.note,
            "group": item.template_name, "version": item_version(item)}


def _text(number: Any) -> str | None:
    return None if number is None else str(number)


def _machine(machine: Any) -> dict[str, Any]:
    latest = machine_latest_prediction(machine_id=machine.id)
    shown = verdict(latest)
    return {
        "id": machine.id, "name": machine.name, "type": machine.machine_type.name, "site": machine.site,
        "health": {key: shown.get(key) for key in ("state", "label", "health", "risk", "rul")},
        "scored_at": latest.created_at.isoformat() if latest is not None else None,
        "open_alerts": Alert.objects.filter(machine_id=machine.id, status__in=Alert.ACTIVE).count(),
    }
