"""Work orders: created by hand or from an alert, moved through their states with an audit
trail, and closed with what was found, which becomes a failure label for retraining."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from engine.metadata import failure_mode_label
from machines.baselines import machine_baseline_after_repair
from machines.failures import failure_mode_resolve
from machines.models import FailureEvent, Machine
from maintenance.models import Alert, WorkOrder, WorkOrderEvent
from maintenance.photos import photo_labels_join_work_order
from maintenance.push import push_assigned
from maintenance.services import checklists
from pdm_saas.errors import Conflict, InvalidInput, NotFound
from planning.stock import work_order_parts_consume
from tenants.db import connection

S = WorkOrder.Status
TRANSITIONS: dict[str, set[str]] = {
    S.OPEN: {S.SCHEDULED, S.IN_PROGRESS, S.CANCELLED},
    S.SCHEDULED: {S.OPEN, S.IN_PROGRESS, S.CANCELLED},
    S.IN_PROGRESS: {S.SCHEDULED, S.DONE, S.CANCELLED},
    S.DONE: set(),
    S.CANCELLED: set(),
}
EDITABLE = ("title", "description", "failure_mode", "priority", "assignee_id", "due_at", "scheduled_for",
            "planned_cost", "planned_downtime_hours", "parts")


def member_is(*, user_id: int) -> bool:
    """Whether the user is a member of this organization: the one rule for whoever work is given
    to, a work order's assignee or a planning technician's user."""
    return Membership.objects.filter(tenant=connection.tenant, user_id=user_id).exists()


def member_check(*, user_id: int | None, who: str = "The assignee", field: str = "assignee") -> int | None:
    """`user_id` when it is a member of this organization (or None); else 400 naming `field`."""
    if user_id is not None and not member_is(user_id=user_id):
        raise InvalidInput(f"{who} must be a member of this organization.", details={field: ["unknown"]})
    return user_id


def _event(order: WorkOrder, *, actor_id: int | None, action: str, **fields: Any) -> WorkOrderEvent:
    return WorkOrderEvent.objects.create(work_order=order, actor_id=actor_id, action=action, **fields)


@transaction.atomic
def work_order_create(*, machine_id: int, title: str, actor_id: int | None, alert_id: int | None = None,
                      failure_mode: str = "", refuse_handled_alert: bool = False, **fields: Any) -> WorkOrder:
    """A work order on a machine, by hand or from one of its alerts. `failure_mode`: a mode of the
    machine's type, by name, label or alias ("" for none; from the alert when not given).
    `refuse_handled_alert`: a person asking for a work order for an alert a live work order
    already handles gets 409 `alert_handled` (the pages and the API); a plan that schedules more
    work on the machine may still link the alert (planning.services). The assignee must be a
    member (`member_check`)."""
    fields["assignee_id"] = member_check(user_id=fields.get("assignee_id"))
    machine = Machine.objects.select_related("machine_type").filter(id=machine_id).first()
    if machine is None:
        raise InvalidInput("Unknown machine.", details={"machine": ["does not exist"]})
    mode = _mode(machine, failure_mode)
    alert = _alert_for(machine, alert_id, refuse_handled_alert) if alert_id is not None else None
    if alert is not None:
        # The explanation is copied, not linked: the work order shows what the technician saw.
        fields.setdefault("explanation", alert.explanation)
        fields.setdefault("recommendation", alert.recommendation)
        fields.setdefault("priority", WorkOrder.Priority.URGENT if alert.severity == Alert.Severity.CRITICAL
                          else WorkOrder.Priority.HIGH)
        mode = mode or alert.failure_mode
    order = WorkOrder.objects.create(machine=machine, alert=alert, failure_mode=mode,
                                     title=title or _default_title(machine, mode, alert), created_by_id=actor_id,
                                     **fields)
    event = _event(order, actor_id=actor_id, action="created", to_status=order.status)
    checklists.work_order_checklist_attach(order=order)  # a snapshot of the matching templates
    push_assigned(order=order, actor_id=actor_id, event_id=event.id)
    return order


def _mode(machine: Machine, given: str) -> str:
    """The failure mode named by its label as the pages show it ("Drive-end bearing wear"), else
    by name or alias as everywhere else (`failure_mode_resolve`)."""
    for mode in machine.machine_type.metadata.get("failure_modes") or []:
        if given.strip() and str(mode.get("label", "")).casefold() == given.strip().casefold():
            return str(mode["name"])
    return failure_mode_resolve(machine_type=machine.machine_type, label=given)


def _alert_for(machine: Machine, alert_id: int, refuse_handled: bool) -> Alert:
    # The row lock makes two people asking at once take turns: the second sees the first's order.
    alert = Alert.objects.select_for_update().filter(id=alert_id, machine=machine).first()
    if alert is None:
        raise InvalidInput("Unknown alert for this machine.", details={"alert": ["does not exist"]})
    if not refuse_handled:
        return alert
    handling = WorkOrder.objects.filter(alert=alert, status__in=WorkOrder.LIVE).order_by("-id").first()
    if handling is not None:
        raise Conflict(f"WO-{handling.id} already handles this alert ({handling.get_status_display()}).",
                       code="alert_handled", details={"work_order": [str(handling.id)]})
    return alert


def _default_title(machine: Machine, mode: str, alert: Alert | None) -> str:
    if alert is not None:
        return alert.title
    label = failure_mode_label(machine.machine_type.metadata, mode) if mode else "Inspection"
    return f"{label[:1].upper()}{label[1:]} on {machine.name}"[:200]


def _locked(order_id: int) -> WorkOrder:
    order = WorkOrder.objects.select_for_update().filter(id=order_id).first()
    if order is None:
        raise NotFound("No such work order.")
    return order


@transaction.atomic
def work_order_update(*, order_id: int, actor_id: int | None, **fields: Any) -> WorkOrder:
    if "assignee_id" in fields:
        member_check(user_id=fields["assignee_id"])
    order = _locked(order_id)
    if order.status in (S.DONE, S.CANCELLED):
        raise Conflict(f"A {order.status} work order cannot change.", code="work_order_closed")
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"These fields cannot be edited here: {sorted(unknown)}.")
    if "failure_mode" in fields:
        fields["failure_mode"] = _mode(order.machine, fields["failure_mode"])
    changes = {name: [str(getattr(order, name)), str(value)] for name, value in fields.items()
               if getattr(order, name) != value}
    for name, value in fields.items():
        setattr(order, name, value)
    order.save()
    if changes:
        event = _event(order, actor_id=actor_id, action="assigned" if set(changes) == {"assignee_id"} else "updated",
                       changes=changes)
        if "assignee_id" in changes:
            push_assigned(order=order, actor_id=actor_id, event_id=event.id)
    return order


@transaction.atomic
def work_order_transition(*, order_id: int, to_status: str, actor_id: int | None, note: str = "") -> WorkOrder:
    if to_status == S.DONE:
        raise InvalidInput("Close a work order with the close action, saying what was found.",
                           code="use_close")
    order = _locked(order_id)
    _check_transition(order, to_status)
    from_status, order.status = order.status, to_status
    if to_status == S.CANCELLED:
        order.closed_at = timezone.now()
    order.save()
    _event(order, actor_id=actor_id, action="status", from_status=from_status, to_status=to_status, note=note)
    return order


def _check_transition(order: WorkOrder, to_status: str) -> None:
    if to_status not in TRANSITIONS:
        raise InvalidInput(f"Unknown status {to_status!r}.", details={"status": [f"one of {list(TRANSITIONS)}"]})
    if to_status not in TRANSITIONS[order.status]:
        allowed = sorted(TRANSITIONS[order.status]) or ["none: it is closed"]
        raise Conflict(f"A work order cannot go from {order.status} to {to_status}; allowed: {', '.join(allowed)}.",
                       code="bad_transition")


@transaction.atomic
def work_order_close(
    *, order_id: int, actor_id: int | None, failure_found: bool, action_taken: str, failure_mode_found: str = "",
    actual_cost: Decimal | None = None, actual_downtime_hours: Decimal | None = None,
    occurred_at: datetime | None = None, note: str = "", confirm_unrecorded_parts: bool = False,
) -> WorkOrder:
    """Mark done. A failure found becomes a FailureEvent: a label the models learn from. The parts
    recorded on the order leave stock (planning.stock; `confirm_unrecorded_parts`: see there)."""
    order = _locked(order_id)
    _check_transition(order, S.DONE)
    checklists.checklist_close_check(order=order)  # required items done, else 409 naming them
    if not action_taken.strip():
        raise InvalidInput("Say what action was taken.", details={"action_taken": ["required"]})
    if failure_found:
        failure_mode_found = failure_mode_resolve(machine_type=order.machine.machine_type, label=failure_mode_found,
                                                  field="failure_mode_found")
    work_order_parts_consume(order=order, actor_id=actor_id, confirm_unrecorded=confirm_unrecorded_parts)
    from_status = order.status
    order.status, order.closed_at = S.DONE, timezone.now()
    order.failure_found, order.failure_mode_found, order.action_taken = failure_found, failure_mode_found, action_taken
    order.actual_cost, order.actual_downtime_hours = actual_cost, actual_downtime_hours
    order.save()
    if failure_found:
        # A repair changes the machine's normal: it relearns it from the readings after this.
        machine_baseline_after_repair(machine_id=order.machine_id, work_order_id=order.id)
        event = FailureEvent.objects.create(machine=order.machine, occurred_at=occurred_at or order.closed_at,
                                            failure_mode=failure_mode_found, notes=action_taken,
                                            source=FailureEvent.Source.WORK_ORDER, work_order=order)
        photo_labels_join_work_order(order=order, event=event)  # its photos saw the same failure
    if order.alert_id:
        Alert.objects.filter(id=order.alert_id, status__in=Alert.ACTIVE).update(
            status=Alert.Status.RESOLVED, resolved_at=order.closed_at, resolution_note=f"Closed by WO-{order.id}")
    _event(order, actor_id=actor_id, action="closed", from_status=from_status, to_status=S.DONE, note=note,
           changes={"failure_found": failure_found, "failure_mode_found": failure_mode_found})
    return order
