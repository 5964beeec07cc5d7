"""Reads of the maintenance pages: the alert inbox and its counts, the work-order board, the
alerts still needing work, one work order with its history; a machine's latest alerts and work
orders, for its page; and the alarm history with its filters' choices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber
from django.shortcuts import get_object_or_404

from engine.metadata import failure_mode_label
from machines.models import Machine
from machines.selectors import machine_type_documents
from maintenance.models import Alert, WorkOrder, WorkOrderEvent

CLOSED_ON_BOARD = 20  # done / cancelled columns show only the latest: they grow forever
CLOSED_STATES = (WorkOrder.Status.DONE, WorkOrder.Status.CANCELLED)


def machines_for_work_orders() -> list[Machine]:
    """The machines a new work order can be for (not retired), by name, with their types."""
    return list(Machine.objects.exclude(status=Machine.Status.RETIRED).select_related("machine_type").order_by("name"))


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


# --- alarm history: active and past alerts in one list (docs/alerts.md, "Alarm history") -------


@dataclass(frozen=True)
class AlarmFilters:
    """What the alarm history is narrowed to, checked (maintenance/alarm_filters.py reads it from
    a query). Empty strings and None mean "any"; `opened_from` is included and `opened_before`
    excluded, both aware instants; `time_zone` is the zone the page and the exports show times in."""

    machine: str = ""  # its name, as the query said it
    machine_id: int | None = None
    failure_mode: str = ""
    kind: str = ""
    severity: str = ""
    state: str = ""
    opened_from: datetime | None = None
    opened_before: datetime | None = None
    oldest_first: bool = False
    time_zone: str = "UTC"


# The states people filter by: the stored status, except that an active alert a live work order
# is on reads "handled" (Alert.display_status); "active" is every alert not resolved yet.
ALARM_STATES: dict[str, Q] = {
    "active": Q(status__in=Alert.ACTIVE),
    "open": Q(status=Alert.Status.OPEN, handled=False),
    "acknowledged": Q(status=Alert.Status.ACKNOWLEDGED, handled=False),
    "handled": Q(status__in=Alert.ACTIVE, handled=True),
    "resolved": Q(status=Alert.Status.RESOLVED),
}


def alarm_history(*, filters: AlarmFilters) -> QuerySet[Alert]:
    """Active and past alerts, filtered, newest opened first (or oldest first): the rows the history
    page pages through and the exports write out. Each carries `handled`, its machine with its
    type, who acknowledged it, and its work orders (prefetched: `handling_order` reads them)."""
    handled = Exists(WorkOrder.objects.filter(alert_id=OuterRef("pk"), status__in=WorkOrder.LIVE))
    alerts = (Alert.objects.select_related("machine__machine_type", "acknowledged_by")
              .prefetch_related("work_orders").annotate(handled=handled).filter(_alarm_match(filters)))
    return alerts.order_by(*(("opened_at", "id") if filters.oldest_first else ("-opened_at", "-id")))


def _alarm_match(filters: AlarmFilters) -> Q:
    fields = {"machine_id": filters.machine_id, "failure_mode": filters.failure_mode, "kind": filters.kind,
              "severity": filters.severity, "opened_at__gte": filters.opened_from,
              "opened_at__lt": filters.opened_before}
    match = Q(**{name: value for name, value in fields.items() if value not in (None, "")})
    return match & ALARM_STATES[filters.state] if filters.state else match


def machine_alarm_history(*, machine_id: int, limit: int) -> tuple[list[Alert], int]:
    """The machine's latest `limit` alerts (the history's rows) and how many it has in all."""
    alerts = alarm_history(filters=AlarmFilters(machine_id=machine_id))
    return list(alerts[:limit]), alerts.count()


def machine_id_by_name(*, name: str) -> int | None:
    return Machine.objects.filter(name=name).values_list("id", flat=True).first()


def alarm_machine_names() -> list[str]:
    """Every machine's name, retired ones too: their alerts stay in the history."""
    return list(Machine.objects.order_by("name").values_list("name", flat=True))


def alarm_failure_modes() -> dict[str, str]:
    """The failure modes alerts can name, name -> label (the first type's, when types share a
    name): every type's modes, and any mode stored on an alert that its type no longer lists."""
    modes: dict[str, str] = {}
    for document in machine_type_documents().values():
        for mode in document.get("failure_modes") or []:
            modes.setdefault(str(mode["name"]), failure_mode_label(document, str(mode["name"])))
    for name in Alert.objects.exclude(failure_mode="").values_list("failure_mode", flat=True).distinct():
        modes.setdefault(name, failure_mode_label({}, name))
    return dict(sorted(modes.items(), key=lambda item: item[1].lower()))


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
