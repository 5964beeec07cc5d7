"""Offline work: applying what a technician did without network, once, when the browser is back
(docs/web.md, "Offline").

The browser queues each change as an operation with its own id (a UUID it makes) and the version
it was made against. `offline_sync` applies them in the order given, each through the service a
page would call (checklists, work orders, photos), so every rule and the audit trail hold, and
answers each one: applied, already applied (its id was seen before: nothing happens twice),
conflict (the server changed meanwhile; the server's state stands and the message says what
happened, who and when) or refused (a rule said no, with that rule's message).

Conflict rules:
- a checklist answer made against the item as it was and nobody changed since: applied; changed
  on the server after that (by someone else, or online by the same person): the server wins;
- a status change or close made while the order was in a status it is no longer in (someone moved,
  closed or cancelled it meanwhile): not applied;
- anything on an order that was closed or cancelled meanwhile: not applied, except notes and
  photos, which only add and are always kept;
- one person's own offline changes on one item, queued one after another on the same base, are
  not a conflict with each other (`OfflineOp.new_version` remembers what each left).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction

from accounts.models import User
from maintenance.checklist_models import WorkOrderChecklistItem
from maintenance.models import OfflineOp, WorkOrder, WorkOrderEvent
from maintenance.photos import PhotoTarget, photo_add
from maintenance.services import checklists
from maintenance.services import work_orders as work_order_services
from pdm_saas.errors import Conflict, NotFound, ServiceError
from tenants.db import connection

KINDS = ("checklist.answer", "work_order.note", "work_order.transition", "work_order.close", "photo.add")
MAX_OPERATIONS = 200  # a day of ticks on one phone; more is not a technician's queue
CLOSED = (WorkOrder.Status.DONE, WorkOrder.Status.CANCELLED)
APPLIED, ALREADY, CONFLICT, REFUSED = "applied", "already_applied", "conflict", "refused"


@dataclass(frozen=True)
class Operation:
    """One queued change as the browser sent it (validated by the serializer). `base`: the item's
    version (checklist answers) or the work order's status (moves, closing) when it was made."""

    op_id: uuid.UUID
    kind: str
    work_order_id: int
    item_id: int | None = None
    base: str = ""
    made_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    op_id: str
    status: str
    message: str
    work_order_id: int | None = None
    version: str = ""  # the item's version after an applied checklist answer

    def as_dict(self) -> dict[str, Any]:
        return {"op_id": self.op_id, "status": self.status, "message": self.message,
                "work_order": self.work_order_id, "version": self.version}


class NotApplied(Exception):
    """A conflict found before anything was written: the message says why, in words."""


def item_version(item: WorkOrderChecklistItem) -> str:
    """The version a browser sends back with an answer: when the item last changed."""
    return item.updated_at.isoformat()


def offline_sync(*, actor_id: int, operations: Iterable[Operation]) -> list[Outcome]:
    """Apply the operations in order, each in its own transaction: one refused or conflicting
    operation does not undo the others (a close after a conflicting tick is then refused by the
    checklist rule, as it would be online)."""
    return [_one(actor_id, op) for op in operations]


def _one(actor_id: int, op: Operation) -> Outcome:
    seen = OfflineOp.objects.filter(op_id=op.op_id).first()
    if seen is not None:
        return _replayed(seen, actor_id)
    try:
        with transaction.atomic():
            record = OfflineOp.objects.create(
                op_id=op.op_id, user_id=actor_id, kind=op.kind, work_order_id=op.work_order_id,
                target=_target(op), base_version=op.base[:64], made_at=op.made_at, outcome=OfflineOp.Outcome.APPLIED)
            outcome = _apply(actor_id, op, record)
    except IntegrityError:  # the same operation in a concurrent sync: its answer stands
        return _replayed(OfflineOp.objects.get(op_id=op.op_id), actor_id)
    except (NotApplied, ServiceError) as exc:
        status = REFUSED if _is_refusal(exc) else CONFLICT
        message = str(exc) if isinstance(exc, NotApplied) else _refusal_words(op, exc)
        return _not_applied(actor_id, op, status, message)
    return outcome


def _not_applied(actor_id: int, op: Operation, status: str, message: str) -> Outcome:
    """Recorded too: the same operation sent again hears the same answer and is not retried
    against a server that may have changed again."""
    try:
        with transaction.atomic():
            OfflineOp.objects.create(op_id=op.op_id, user_id=actor_id, kind=op.kind, work_order_id=op.work_order_id,
                                     target=_target(op), base_version=op.base[:64], made_at=op.made_at,
                                     outcome=status, message=message)
    except IntegrityError:
        return _replayed(OfflineOp.objects.get(op_id=op.op_id), actor_id)
    return Outcome(str(op.op_id), status, message, op.work_order_id)


def _replayed(seen: OfflineOp, actor_id: int) -> Outcome:
    if seen.user_id != actor_id:  # an id is the browser's; another person's is not theirs to replay
        return Outcome(str(seen.op_id), REFUSED, "This change's id was already used by someone else; it was not "
                                                  "applied.", seen.work_order_id)
    status = ALREADY if seen.outcome == OfflineOp.Outcome.APPLIED else seen.outcome
    return Outcome(str(seen.op_id), status, seen.message or "Already applied.", seen.work_order_id,
                   seen.new_version)


def _is_refusal(exc: Exception) -> bool:
    """A rule said no (409 from a service with its own code, 400, 404), as opposed to a change
    made on the server meanwhile (NotApplied, or a service's "this order is closed")."""
    if isinstance(exc, NotApplied):
        return False
    return not (isinstance(exc, Conflict) and exc.code == "work_order_closed")


def _refusal_words(op: Operation, exc: ServiceError) -> str:
    return f"WO-{op.work_order_id}: your {_what(op)} was not applied. {exc.message}"


def _target(op: Operation) -> str:
    return f"item:{op.item_id}" if op.kind == "checklist.answer" else f"work_order:{op.work_order_id}"


def _apply(actor_id: int, op: Operation, record: OfflineOp) -> Outcome:
    order = WorkOrder.objects.select_for_update().select_related("machine").filter(id=op.work_order_id).first()
    if order is None:
        raise NotFound(f"WO-{op.work_order_id} does not exist (any more) in this organization.")
    message, version = APPLY[op.kind](actor_id, op, order)
    record.new_version, record.message = version[:64], message
    record.save(update_fields=["new_version", "message"])
    return Outcome(str(op.op_id), APPLIED, message, order.id, version)


# --- each kind ---------------------------------------------------------------------------------


def _checklist_answer(actor_id: int, op: Operation, order: WorkOrder) -> tuple[str, str]:
    item = WorkOrderChecklistItem.objects.filter(id=op.item_id or 0, work_order=order).first()
    if item is None:
        raise NotFound(f"WO-{order.id} has no such checklist item.")
    _refuse_if_closed(order, f"your {_what(op)} on “{item.text}”")
    if op.base and item_version(item) != op.base and not _own_chain(actor_id, op, item):
        raise NotApplied(f"“{item.text}” on WO-{order.id} was changed {_by_whom(item)} while you were offline; "
                         f"your {_what(op)} was not applied. It now reads: {_answer_text(item)}.")
    answer = checklists.Answer(**{key: op.data[key] for key in ("done", "value", "note") if key in op.data})
    item = checklists.checklist_item_update(order_id=order.id, item_id=item.id, actor_id=actor_id, answer=answer)
    return f"WO-{order.id}: {_what(op)} on “{item.text}” saved.", item_version(item)


def _own_chain(actor_id: int, op: Operation, item: WorkOrderChecklistItem) -> bool:
    """The item's current version was left by this person's earlier offline change made on the
    same base: their queue, replayed in order, not someone else's edit."""
    return OfflineOp.objects.filter(target=f"item:{item.id}", user_id=actor_id, base_version=op.base,
                                    new_version=item_version(item), outcome=OfflineOp.Outcome.APPLIED).exists()


def _work_order_note(actor_id: int, op: Operation, order: WorkOrder) -> tuple[str, str]:
    # A note only adds to the history: kept even when the order closed meanwhile (like photos).
    WorkOrderEvent.objects.create(work_order=order, actor_id=actor_id, action="note", note=op.data["note"],
                                  changes={"offline": True})
    return f"WO-{order.id}: your note was added to the history.", ""


def _transition(actor_id: int, op: Operation, order: WorkOrder) -> tuple[str, str]:
    _refuse_if_moved(order, op)
    moved = work_order_services.work_order_transition(order_id=order.id, to_status=op.data["status"],
                                                      actor_id=actor_id, note=op.data.get("note", ""))
    return f"WO-{order.id} moved to {moved.get_status_display()}.", moved.status


def _close(actor_id: int, op: Operation, order: WorkOrder) -> tuple[str, str]:
    _refuse_if_moved(order, op)
    fields = {key: op.data[key] for key in ("failure_found", "action_taken", "failure_mode_found", "actual_cost",
                                             "actual_downtime_hours", "note") if key in op.data}
    work_order_services.work_order_close(order_id=order.id, actor_id=actor_id, **fields)
    return f"WO-{order.id} closed.", WorkOrder.Status.DONE


def _photo(actor_id: int, op: Operation, order: WorkOrder) -> tuple[str, str]:
    # Photos are always kept: what the technician saw stays true whatever happened to the order.
    photo = photo_add(target=PhotoTarget(work_order_id=order.id), chunks=op.data["file"].chunks(),
                      caption=op.data.get("caption", ""), actor_id=actor_id)
    return f"WO-{order.id}: your photo was added.", str(photo.id)


APPLY: dict[str, Callable[[int, Operation, WorkOrder], tuple[str, str]]] = {
    "checklist.answer": _checklist_answer, "work_order.note": _work_order_note,
    "work_order.transition": _transition, "work_order.close": _close, "photo.add": _photo,
}


# --- what happened meanwhile, in words ----------------------------------------------------------


def _refuse_if_closed(order: WorkOrder, what: str) -> None:
    if order.status in CLOSED:
        raise NotApplied(f"WO-{order.id} was {_closing_words(order)} while you were offline; {what} was not applied.")


def _refuse_if_moved(order: WorkOrder, op: Operation) -> None:
    _refuse_if_closed(order, f"your {_what(op)}")
    if op.base and order.status != op.base:
        event = _last_event(order, actions=("status", "closed"))
        who = _who_when(event.actor_id, event.at) if event is not None else ""
        raise NotApplied(f"WO-{order.id} was moved to {order.get_status_display()}{who} while you were offline; "
                         f"your {_what(op)} was not applied.")


def _closing_words(order: WorkOrder) -> str:
    event = _last_event(order, actions=("closed", "status"))
    verb = "closed" if order.status == WorkOrder.Status.DONE else "cancelled"
    return verb + (_who_when(event.actor_id, event.at) if event is not None else "")


def _last_event(order: WorkOrder, *, actions: tuple[str, ...]) -> WorkOrderEvent | None:
    return WorkOrderEvent.objects.filter(work_order=order, action__in=actions).order_by("-at", "-id").first()


def _by_whom(item: WorkOrderChecklistItem) -> str:
    answers = WorkOrderEvent.objects.filter(work_order_id=item.work_order_id, action="checklist",
                                            changes__item=f"{item.position}. {item.text}")
    event = answers.order_by("-at", "-id").first()
    return _who_when(event.actor_id, event.at).strip() if event is not None else "on the server"


def _who_when(actor_id: int | None, at: datetime) -> str:
    """" by Anna Berg at 10:02 (7 Dec)" in the organization's time zone."""
    person = User.objects.filter(id=actor_id).first() if actor_id else None
    name = (person.full_name.strip() or person.email) if person is not None else "the system"
    zone = ZoneInfo(getattr(connection.tenant, "time_zone", "") or "UTC")
    local = at.astimezone(zone)
    return f" by {name} at {local:%H:%M} ({local.day} {local:%b})"


def _what(op: Operation) -> str:
    data = op.data
    if op.kind == "checklist.answer":
        parts = [("tick" if data["done"] else "untick") if data.get("done") is not None else "",
                 "value" if data.get("value") is not None else "", "note" if data.get("note") is not None else ""]
        return " and ".join(part for part in parts if part) or "answer"
    return {"work_order.note": "note", "work_order.transition": f"move to {data.get('status', '')}".replace("_", " "),
            "work_order.close": "closing", "photo.add": "photo"}[op.kind]


def _answer_text(item: WorkOrderChecklistItem) -> str:
    parts = ["done" if item.done else "not done"]
    if item.value_number is not None:
        parts.append(f"{checklists.number_text(item.value_number)} {item.unit}".strip())
    elif item.value_text:
        parts.append(f"“{item.value_text}”")
    if item.note:
        parts.append(f"note “{item.note}”")
    return ", ".join(parts)
