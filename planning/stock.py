"""Spare parts that move: the stock ledger and the parts a work order uses (docs/planning.md,
"Spare parts that move").

Every change of `SparePart.in_stock` is a `StockMovement` written here, in the same transaction,
with the part's row locked (`select_for_update`), so the stock always equals the sum of its
movements and two work orders closing at once take turns: the second sees what the first took and
is refused if too little is left. Stock never goes below zero.

Parts recorded on a work order (`PartUse`) are reserved while the order is live (open, scheduled,
in progress) and leave stock when it closes: that is when the parts are known to be used, and a
cancelled order then has nothing to give back. The optimizer plans with the stock less what live
orders hold (`parts_available`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from maintenance.models import WorkOrder, WorkOrderEvent
from pdm_saas.errors import Conflict, InvalidInput, NotFound
from planning.models import PartUse, SparePart, StockMovement

R = StockMovement.Reason
MAX_QUANTITY = 1_000_000  # one movement; a typo of many zeros is refused rather than stored


@dataclass(frozen=True)
class Shortfall:
    part: str
    used: int
    in_stock: int

    @property
    def missing(self) -> int:
        return self.used - self.in_stock

    def text(self) -> str:
        return f"{self.part}: {self.used} used, {self.in_stock} in stock"


def _quantity(value: int, *, field: str = "quantity", allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_QUANTITY:
        raise InvalidInput(f"The quantity must be a whole number from {low} to {MAX_QUANTITY:,}.",
                           details={field: [f"between {low} and {MAX_QUANTITY}"]})
    return value


def _locked_parts(part_ids: Iterable[int]) -> dict[int, SparePart]:
    """The parts' rows locked, always in id order: two transactions locking the same parts cannot
    deadlock."""
    return {part.id: part for part in SparePart.objects.select_for_update().filter(id__in=set(part_ids)).order_by("id")}


def _locked_part(part_id: int) -> SparePart:
    part = _locked_parts([part_id]).get(part_id)
    if part is None:
        raise NotFound("No such spare part.")
    return part


def _move(part: SparePart, *, quantity: int, reason: str, actor_id: int | None, work_order_id: int | None = None,
          note: str = "") -> StockMovement:
    """Apply one movement to a locked part: the ledger row, the stock, and the low-stock crossing."""
    balance = part.in_stock + quantity
    if balance < 0:
        raise Conflict(f"Only {part.in_stock} of {part.name} in stock; {-quantity} cannot leave it.",
                       code="stock_short", details={"part": [part.name]})
    movement = StockMovement.objects.create(part=part, quantity=quantity, reason=reason, balance=balance,
                                            work_order_id=work_order_id, note=note[:500], actor_id=actor_id)
    part.in_stock = balance
    fields = ["in_stock", *_low_stock_crossing(part)]
    part.save(update_fields=fields)
    return movement


def _low_stock_crossing(part: SparePart) -> list[str]:
    """Mark the part low when it reaches its reorder point (and send the one email of this
    crossing after commit), or not low when it rose above it. The fields it changed."""
    from pdm_saas.celery import tenant_task_send
    from planning.tasks import low_stock_notify_task  # tasks load late: work orders import this module

    low = part.in_stock <= part.reorder_point
    if low and part.low_since is None:
        part.low_since = timezone.now()
        tenant_task_send(low_stock_notify_task, args=[part.id], queue="notify")
        return ["low_since"]
    if not low and part.low_since is not None:
        part.low_since = None
        return ["low_since"]
    return []


# --- receiving and counting ---------------------------------------------------------------------


@transaction.atomic
def stock_receive(*, part_id: int, quantity: int, actor_id: int | None, note: str = "") -> StockMovement:
    """Parts delivered into stock."""
    return _move(_locked_part(part_id), quantity=_quantity(quantity), reason=R.RECEIVED, actor_id=actor_id,
                 note=note)


@transaction.atomic
def stock_count(*, part_id: int, counted: int, actor_id: int | None, note: str = "") -> StockMovement | None:
    """A stocktake: the stock is `counted`; the difference is an `adjusted` movement (None when
    nothing differs)."""
    part = _locked_part(part_id)
    difference = _quantity(counted, field="in_stock", allow_zero=True) - part.in_stock
    if difference == 0:
        return None
    return _move(part, quantity=difference, reason=R.ADJUSTED, actor_id=actor_id, note=note or "Stock counted")


@transaction.atomic
def spare_part_save(*, part: SparePart, fields: dict[str, Any], actor_id: int | None) -> SparePart:
    """Create or edit a spare part (the API's and the planning page's form). An `in_stock` in the
    fields is a count: the ledger records the difference, so the stock stays its movements' sum."""
    fields = dict(fields)
    counted = fields.pop("in_stock", None)
    reorder_point_before = part.reorder_point if part.pk is not None else None
    for name, value in fields.items():
        setattr(part, name, value)
    if part.pk is None:
        part.in_stock = 0
    part.save()
    moved = counted is not None and stock_count(
        part_id=part.id, counted=counted, actor_id=actor_id,
        note="Opening stock" if not StockMovement.objects.filter(part=part).exists() else "") is not None
    if not moved and reorder_point_before not in (None, part.reorder_point):
        # A new reorder point can cross by itself (judged on the locked row, like a movement).
        locked = _locked_part(part.id)
        changed = _low_stock_crossing(locked)
        if changed:
            locked.save(update_fields=changed)
    part.refresh_from_db()
    return part


# --- parts used on a work order -----------------------------------------------------------------


def _locked_live_order(order_id: int) -> WorkOrder:
    order = WorkOrder.objects.select_for_update().filter(id=order_id).first()
    if order is None:
        raise NotFound("No such work order.")
    if order.status not in WorkOrder.LIVE:
        raise Conflict(f"A {order.status} work order's parts cannot change.", code="work_order_closed")
    return order


@transaction.atomic
def part_use_set(*, order_id: int, part_id: int, quantity: int, actor_id: int | None) -> PartUse | None:
    """Record that the work order uses `quantity` of a part (0 removes the line). Reserved until the
    order closes; the change goes into the order's audit trail."""
    order = _locked_live_order(order_id)
    quantity = _quantity(quantity, allow_zero=True)
    part = SparePart.objects.filter(id=part_id).first()
    if part is None:
        raise InvalidInput("Unknown spare part.", details={"part": ["does not exist"]})
    line = PartUse.objects.filter(work_order=order, part=part).first()
    before = line.quantity if line is not None else 0
    if quantity == before:
        return line
    if quantity == 0:
        line.delete()  # type: ignore[union-attr]  # before != 0, so the line exists
        line = None
    elif line is None:
        line = PartUse.objects.create(work_order=order, part=part, quantity=quantity, recorded_by_id=actor_id)
    else:
        line.quantity = quantity
        line.save(update_fields=["quantity"])
    WorkOrderEvent.objects.create(work_order=order, actor_id=actor_id, action="parts",
                                  changes={"parts_used": [f"{before} x {part.name}", f"{quantity} x {part.name}"]})
    return line


@transaction.atomic
def part_uses_plan(*, order_id: int, parts: list[dict[str, Any]], actor_id: int | None) -> None:
    """An accepted maintenance plan's parts (`[{"part": name, "quantity": n}]`) recorded on its work
    order, so they are reserved for it: the next plan does not count them twice. Parts recorded by
    hand already are left as they are; a name that is no longer a spare part is skipped."""
    by_name = {p.name: p for p in SparePart.objects.filter(name__in=[str(item.get("part")) for item in parts])}
    recorded = set(PartUse.objects.filter(work_order_id=order_id).values_list("part_id", flat=True))
    for item in parts:
        part = by_name.get(str(item.get("part")))
        if part is not None and part.id not in recorded:
            part_use_set(order_id=order_id, part_id=part.id, quantity=int(item.get("quantity") or 1),
                         actor_id=actor_id)


def work_order_shortfalls(*, order_id: int, parts: dict[int, SparePart] | None = None) -> list[Shortfall]:
    """The parts the work order uses that the stock does not hold enough of."""
    lines = list(PartUse.objects.filter(work_order_id=order_id, consumed_at__isnull=True).select_related("part"))
    parts = parts if parts is not None else {line.part_id: line.part for line in lines}
    return [Shortfall(line.part.name, line.quantity, parts[line.part_id].in_stock) for line in lines
            if line.quantity > parts[line.part_id].in_stock]


def work_order_parts_consume(*, order: WorkOrder, actor_id: int | None, confirm_unrecorded: bool = False) -> None:
    """Take the parts a closing work order used out of stock (called by `work_order_close`, inside
    its transaction, with the order locked). Too few in stock: refused, naming each part, unless
    the person confirms the parts were there though not recorded; then an `adjusted` movement
    first records what was missing, so the stock never goes below zero."""
    lines = list(PartUse.objects.filter(work_order=order, consumed_at__isnull=True).select_related("part"))
    if not lines:
        return
    parts = _locked_parts(line.part_id for line in lines)
    short = work_order_shortfalls(order_id=order.id, parts=parts)
    if short and not confirm_unrecorded:
        raise Conflict("Not enough in stock to close: " + "; ".join(s.text() for s in short) + ". Receive the "
                       "parts first, or confirm that the parts used were there though not recorded in stock.",
                       code="parts_short", details={"parts": [s.text() for s in short]})
    _record_missing(order, lines, parts, actor_id)
    for line in lines:
        _move(parts[line.part_id], quantity=-line.quantity, reason=R.USED, actor_id=actor_id, work_order_id=order.id,
              note=f"WO-{order.id}")
    PartUse.objects.filter(id__in=[line.id for line in lines]).update(consumed_at=timezone.now())


@transaction.atomic
def work_order_unrecorded_confirm(*, order_id: int, actor_id: int | None) -> list[Shortfall]:
    """The person on a live work order confirms that the parts it uses were there though the stock
    says fewer: the missing ones are recorded (`adjusted`), so the order can close. What was
    recorded; nothing when the stock holds enough."""
    order = _locked_live_order(order_id)
    lines = list(PartUse.objects.filter(work_order=order, consumed_at__isnull=True))
    parts = _locked_parts(line.part_id for line in lines)
    short = work_order_shortfalls(order_id=order.id, parts=parts)
    _record_missing(order, lines, parts, actor_id)
    return short


def _record_missing(order: WorkOrder, lines: list[PartUse], parts: dict[int, SparePart], actor_id: int | None) -> None:
    """What the order uses beyond the stock, recorded as found (`adjusted`), on locked parts."""
    for line in lines:
        part = parts[line.part_id]
        if line.quantity > part.in_stock:
            _move(part, quantity=line.quantity - part.in_stock, reason=R.ADJUSTED, actor_id=actor_id,
                  work_order_id=order.id, note=f"Used on WO-{order.id} but not recorded in stock (confirmed)")


@transaction.atomic
def part_use_return(*, use_id: int, quantity: int, actor_id: int | None) -> PartUse:
    """Parts a closed work order took but did not use, brought back into stock."""
    line = PartUse.objects.select_for_update().select_related("part", "work_order").filter(id=use_id).first()
    if line is None:
        raise NotFound("No such part line.")
    if line.consumed_at is None:
        raise Conflict("These parts have not left stock: change the quantity used instead.", code="not_consumed")
    quantity = _quantity(quantity)
    if quantity > line.quantity - line.returned:
        raise InvalidInput(f"Only {line.quantity - line.returned} of {line.part.name} can come back from "
                           f"WO-{line.work_order_id}.", details={"quantity": ["more than was used"]})
    _move(_locked_part(line.part_id), quantity=quantity, reason=R.RETURNED, actor_id=actor_id,
          work_order_id=line.work_order_id, note=f"Not used on WO-{line.work_order_id}")
    line.returned += quantity
    line.save(update_fields=["returned"])
    WorkOrderEvent.objects.create(work_order_id=line.work_order_id, actor_id=actor_id, action="parts",
                                  changes={"parts_returned": f"{quantity} x {line.part.name}"})
    return line


# --- reads the optimizer and the pages share ------------------------------------------------------


def parts_reserved() -> dict[int, int]:
    """Per part id, what live work orders hold: recorded on them and not yet taken from stock."""
    rows = (PartUse.objects.filter(consumed_at__isnull=True, work_order__status__in=WorkOrder.LIVE)
            .values("part_id").annotate(total=Sum("quantity")))
    return {row["part_id"]: int(row["total"]) for row in rows}


def parts_available() -> dict[int, int]:
    """Per part id, what a new job can count on: the stock less what live work orders hold."""
    reserved = parts_reserved()
    return {part_id: max(in_stock - reserved.get(part_id, 0), 0)
            for part_id, in_stock in SparePart.objects.values_list("id", "in_stock")}


def parts_held_by_machines(*, states: Iterable[str]) -> dict[int, dict[str, int]]:
    """Per machine id, the parts (by name) its work orders in `states` hold: a plan that would
    update such an order (planning.services.plan_accept) needs only what the order does not hold."""
    held: dict[int, dict[str, int]] = {}
    # A PM plan's work order is another job, never updated by a plan (planning.services._action_order):
    # its parts are reserved for it, not held for the repair.
    uses = PartUse.objects.filter(consumed_at__isnull=True, work_order__status__in=list(states),
                                  work_order__preventive_occurrences__isnull=True)
    for machine_id, name, quantity in uses.values_list("work_order__machine_id", "part__name", "quantity"):
        held.setdefault(machine_id, {})[name] = held.get(machine_id, {}).get(name, 0) + quantity
    return held
