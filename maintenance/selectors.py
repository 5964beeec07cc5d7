"""Reads of the maintenance pages: the alert inbox and its counts, the work-order board, the
alerts still needing work, one work order with its history; and a machine's latest alerts and
work orders, for its page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber
from django.shortcuts import get_object_or_404

from machines.models import Machine
from maintenance.models import Alert, WorkOrder, WorkOrderEvent

CLOSED_ON_BOARD = 20  # done / cancelled columns show only the latest: they grow forever
CLOSED_STATES = (WorkOrder.Status.DONE, WorkOrder.Status.CANCELLED)


def machines_for_work_orders() -> list[Machine]:
    """The machines a new work order can be for (not retired), by name, with their types."""
    return list(Machine.objects.exclude(status=Machine.Status.RETIRED).select_related("machine_type").order_by("name"))


def machine_alerts_recent(*, machine_id: int, limit: int = 20) -> QuerySet[Alert]:
    """The machine's latest alerts, newest first (the machine page)."""
    return Alert.objects.filter(machine_id=machine_id).order_by("-opened_at")[:limit]


def machine_work_orders_recent(*, machine_id: int, limit: int = 20) -> QuerySet[WorkOrder]:
    """The machine's latest work orders with their assignee, newest first (the machine page)."""
    return WorkOrder.objects.filter(machine_id=machine_id).select_related("assignee").order_by("-created_at")[:limit]


def alert_inbox(*, status: str = "", severity: str = "") -> QuerySet[Alert]:
    """Active alerts first (they need someone), newest first within each group."""
    alerts = (Alert.objects.select_related("machine__machine_type")
              .prefetch_related("work_orders")
              .annotate(done=Case(When(status__in=Alert.ACTIVE, then=Value(0)), default=Value(1),
                                  output_field=IntegerField()))
              .order_by("done", "-opened_at", "-id"))
    if status:
        alerts = alerts.filter(status=status)
    if severity:
        alerts = alerts.filter(severity=severity)
    return alerts


def alert_inbox_counts() -> dict[str, int]:
    """Open alerts nobody is on yet, and active alerts a live work order handles."""
    handled = Exists(WorkOrder.objects.filter(alert_id=OuterRef("pk"), status__in=WorkOrder.LIVE))
    active = Alert.objects.filter(status__in=Alert.ACTIVE).annotate(handled=handled)
    return {"open_count": active.filter(status=Alert.Status.OPEN, handled=False).count(),
            "handled_count": active.filter(handled=True).count()}


def alert_with_work_orders(*, alert_id: int) -> Alert:
    """One alert with what its row and its work-order button read (404 when missing)."""
    return get_object_or_404(Alert.objects.select_related("machine__machine_type").prefetch_related("work_orders"),
                             pk=alert_id)


def alert_or_404(*, alert_id: int) -> Alert:
    return get_object_or_404(Alert, pk=alert_id)


def alert_get(*, alert_id: int) -> Alert | None:
    return Alert.objects.filter(id=alert_id).first()


def alerts_needing_work(*, limit: int = 200) -> list[Alert]:
    """Active alerts no live work order handles yet, newest first."""
    handled = WorkOrder.objects.filter(alert_id=OuterRef("pk"), status__in=WorkOrder.LIVE)
    return list(Alert.objects.filter(status__in=Alert.ACTIVE).exclude(Exists(handled))
                .select_related("machine__machine_type")[:limit])


@dataclass
class BoardColumn:
    status: str
    label: str
    tickets: list[WorkOrder]
    total: int

    @property
    def hidden(self) -> int:
        return self.total - len(self.tickets)


def work_order_board(*, assignee_id: int | None = None, now: datetime) -> list[BoardColumn]:
    """One column per status, in workflow order, read in one query: live work orders by due date
    (the soonest first, undated last), then newest; done and cancelled only the latest
    `CLOSED_ON_BOARD` closed, with how many there are. `assignee_id`: only theirs. Each live ticket
    says whether it is `overdue`."""
    mine = WorkOrder.objects.all() if assignee_id is None else WorkOrder.objects.filter(assignee_id=assignee_id)
    latest_closed = Window(RowNumber(), partition_by=[F("status")], order_by=[F("closed_at").desc(), F("id").desc()])
    orders = (mine.select_related("machine", "assignee")
              .annotate(closed_rank=latest_closed, in_status=Window(Count("id"), partition_by=[F("status")]))
              .filter(Q(status__in=WorkOrder.LIVE) | Q(closed_rank__lte=CLOSED_ON_BOARD))
              .order_by("due_at", "-created_at", "-id"))
    by_status: dict[str, list[WorkOrder]] = {}
    for order in orders:
        order.overdue = (order.status not in CLOSED_STATES  # type: ignore[attr-defined]
                         and order.due_at is not None and order.due_at < now)
        by_status.setdefault(order.status, []).append(order)
    for status in CLOSED_STATES:
        by_status.get(status, []).sort(key=lambda order: order.closed_rank)  # type: ignore[attr-defined]
    return [BoardColumn(status=status, label=label, tickets=(tickets := by_status.get(status, [])),
                        total=tickets[0].in_status if tickets else 0)  # type: ignore[attr-defined]
            for status, label in WorkOrder.Status.choices]


def work_order_for_page(*, order_id: int) -> WorkOrder:
    """One work order with what its page reads (404 when missing)."""
    return get_object_or_404(WorkOrder.objects.select_related("machine__machine_type", "alert", "assignee",
                                                              "created_by"), pk=order_id)


def work_order_history(*, order: WorkOrder) -> list[WorkOrderEvent]:
    """The audit trail of a work order, oldest first, with who did each step."""
    return list(order.events.select_related("actor"))
