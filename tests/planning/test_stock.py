"""Spare parts that move (planning.stock): the ledger the stock always equals, parts recorded on a
work order leaving stock when it closes, refusals that leave nothing behind, the low-stock email
once per crossing, and the stock the optimizer plans with."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db.models import Sum

from machines.models import Machine
from maintenance.models import WorkOrder, WorkOrderEvent
from maintenance.services.work_orders import work_order_close, work_order_create, work_order_transition
from pdm_saas.errors import Conflict, InvalidInput
from planning.inputs import plan_problem
from planning.models import MaintenancePlan, PartNeed, PartUse, SparePart, StockMovement
from planning.stock import (
    part_use_return,
    part_use_set,
    parts_available,
    spare_part_save,
    stock_count,
    stock_receive,
    work_order_unrecorded_confirm,
)
from planning.stock_notify import low_stock_notify
from predictions.models import Prediction

BEARING = "6309-2Z bearing"
pytestmark = pytest.mark.django_db

MADE_AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _part(world: Any, *, in_stock: int, reorder_point: int = 0, name: str = BEARING) -> SparePart:
    return spare_part_save(part=SparePart(), fields={"name": name, "in_stock": in_stock,
                                                      "reorder_point": reorder_point, "lead_time_days": 3},
                           actor_id=world.engineer.id)


def _order(world: Any, machine: Machine, *, started: bool = True) -> WorkOrder:
    order = work_order_create(machine_id=machine.id, title="Replace the bearing", actor_id=world.engineer.id)
    if started:
        order = work_order_transition(order_id=order.id, to_status="in_progress", actor_id=world.engineer.id)
    return order


def _close(world: Any, order: WorkOrder, **kwargs: Any) -> WorkOrder:
    return work_order_close(order_id=order.id, actor_id=world.engineer.id, failure_found=False,
                            action_taken="Bearing replaced", **kwargs)


def _ledger_sum(part: SparePart) -> int:
    return int(StockMovement.objects.filter(part=part).aggregate(total=Sum("quantity"))["total"] or 0)


def _stock(part: SparePart) -> int:
    part.refresh_from_db()
    return part.in_stock


# --- the ledger ------------------------------------------------------------------------------------


def test_receiving_and_counting_keep_the_stock_equal_to_its_ledger(world, in_acme):
    part = _part(world, in_stock=3)
    stock_receive(part_id=part.id, quantity=5, actor_id=world.engineer.id, note="PO 4711")
    assert stock_count(part_id=part.id, counted=6, actor_id=world.engineer.id) is not None
    assert stock_count(part_id=part.id, counted=6, actor_id=world.engineer.id) is None  # nothing differs
    moves = list(StockMovement.objects.filter(part=part).order_by("id").values_list("reason", "quantity", "balance"))
    assert moves == [("adjusted", 3, 3), ("received", 5, 8), ("adjusted", -2, 6)]
    assert _stock(part) == _ledger_sum(part) == 6


@pytest.mark.parametrize("quantity", [0, -2, 2_000_000])
def test_a_bad_quantity_is_refused_and_leaves_nothing(world, in_acme, quantity):
    part = _part(world, in_stock=3)
    with pytest.raises(InvalidInput, match="whole number"):
        stock_receive(part_id=part.id, quantity=quantity, actor_id=None)
    assert StockMovement.objects.filter(part=part).count() == 1 and _stock(part) == 3


# --- parts used on a work order ----------------------------------------------------------------------


def test_parts_are_reserved_while_the_order_is_live_and_leave_stock_at_the_close(world, motor, in_acme):
    part = _part(world, in_stock=5)
    order = _order(world, motor)
    part_use_set(order_id=order.id, part_id=part.id, quantity=3, actor_id=world.engineer.id)
    part_use_set(order_id=order.id, part_id=part.id, quantity=2, actor_id=world.engineer.id)  # corrected
    assert _stock(part) == 5 and parts_available()[part.id] == 3
    _close(world, order)
    assert _stock(part) == _ledger_sum(part) == 3 and parts_available()[part.id] == 3
    used = StockMovement.objects.get(part=part, reason="used")
    assert (used.quantity, used.balance, used.work_order_id, used.actor_id) == (-2, 3, order.id, world.engineer.id)
    assert PartUse.objects.get(work_order=order).consumed_at is not None
    trail = list(WorkOrderEvent.objects.filter(work_order=order, action="parts").values_list("changes", flat=True))
    assert trail == [{"parts_used": [f"0 x {BEARING}", f"3 x {BEARING}"]},
                     {"parts_used": [f"3 x {BEARING}", f"2 x {BEARING}"]}]
    with pytest.raises(Conflict, match="done work order's parts cannot change"):
        part_use_set(order_id=order.id, part_id=part.id, quantity=1, actor_id=None)


def test_a_short_close_is_refused_naming_the_part_then_confirmed(world, motor, in_acme):
    part = _part(world, in_stock=1)
    order = _order(world, motor)
    part_use_set(order_id=order.id, part_id=part.id, quantity=3, actor_id=world.engineer.id)
    with pytest.raises(Conflict, match=f"Not enough in stock to close: {BEARING}: 3 used, 1 in stock"):
        _close(world, order)
    order.refresh_from_db()
    assert order.status == "in_progress" and _stock(part) == 1 and StockMovement.objects.filter(part=part).count() == 1
    _close(world, order, confirm_unrecorded_parts=True)
    moves = list(StockMovement.objects.filter(part=part).order_by("id").values_list("reason", "quantity", "balance"))
    assert moves == [("adjusted", 1, 1), ("adjusted", 2, 3), ("used", -3, 0)]
    assert _stock(part) == _ledger_sum(part) == 0


def test_confirming_unrecorded_parts_before_the_close(world, motor, in_acme):
    part = _part(world, in_stock=0)
    order = _order(world, motor)
    part_use_set(order_id=order.id, part_id=part.id, quantity=2, actor_id=None)
    [short] = work_order_unrecorded_confirm(order_id=order.id, actor_id=world.engineer.id)
    assert (short.part, short.missing) == (BEARING, 2) and _stock(part) == 2
    _close(world, order)
    assert _stock(part) == 0


def test_a_cancelled_order_gives_its_reservation_back_and_takes_nothing(world, motor, in_acme):
    part = _part(world, in_stock=4)
    order = _order(world, motor, started=False)
    part_use_set(order_id=order.id, part_id=part.id, quantity=4, actor_id=None)
    assert parts_available()[part.id] == 0
    work_order_transition(order_id=order.id, to_status="cancelled", actor_id=None)
    assert parts_available()[part.id] == 4 and _stock(part) == 4
    assert not StockMovement.objects.filter(part=part, reason="used").exists()


def test_parts_not_used_after_the_close_come_back(world, motor, in_acme):
    part = _part(world, in_stock=4)
    order = _order(world, motor)
    line = part_use_set(order_id=order.id, part_id=part.id, quantity=3, actor_id=None)
    assert line is not None
    with pytest.raises(Conflict, match="have not left stock"):
        part_use_return(use_id=line.id, quantity=1, actor_id=None)
    _close(world, order)
    part_use_return(use_id=line.id, quantity=2, actor_id=world.engineer.id)
    with pytest.raises(InvalidInput, match="Only 1 of"):
        part_use_return(use_id=line.id, quantity=2, actor_id=None)
    assert _stock(part) == _ledger_sum(part) == 3
    assert StockMovement.objects.filter(part=part, reason="returned").get().work_order_id == order.id


# --- low stock ------------------------------------------------------------------------------------


def test_low_stock_emails_once_per_crossing(world, motor, in_acme, eager):
    part = _part(world, in_stock=5, reorder_point=2)
    mail.outbox.clear()
    with eager():
        stock_count(part_id=part.id, counted=2, actor_id=None)  # crosses: one email
    with eager():
        stock_count(part_id=part.id, counted=1, actor_id=None)  # still low: none
    assert [m.subject for m in mail.outbox] == [f"Low stock: {BEARING} (2 left, reorder at 2)"]
    assert set(mail.outbox[0].to) == {"owner@acme.test", "admin@acme.test", "engineer@acme.test"}
    assert "http://acme.localhost" in mail.outbox[0].body and "/planning/#parts" in mail.outbox[0].body
    assert low_stock_notify(part_id=part.id) is False  # the task delivered twice sends once
    with eager():
        stock_receive(part_id=part.id, quantity=10, actor_id=None)  # back above: the crossing ends
    assert _stock(part) == 11 and SparePart.objects.get(id=part.id).low_since is None
    order = _order(world, motor)
    part_use_set(order_id=order.id, part_id=part.id, quantity=9, actor_id=None)
    with eager():
        _close(world, order)  # down to 2 again: a second crossing, a second email
    assert len(mail.outbox) == 2 and "(2 left, reorder at 2)" in mail.outbox[1].subject


# --- what the optimizer sees --------------------------------------------------------------------------


def _predict(machine: Machine) -> None:
    Prediction.objects.create(machine=machine, source=Prediction.Source.API, window_end=MADE_AT, horizon_h=24,
                              probability=0.9, predicted_failure=True, failure_mode="bearing_wear", rul_h=30,
                              rul_lower_h=15, rul_upper_h=45, health_score=10, confidence=0.8)


def _problem_parts(plan: MaintenancePlan) -> tuple[dict[str, int], dict[str, tuple[tuple[str, int], ...]]]:
    problem, _ = plan_problem(plan=plan, now=MADE_AT + timedelta(hours=1))
    return {p.name: p.in_stock for p in problem.parts}, {m.name: m.parts for m in problem.machines}


def test_the_optimizer_plans_with_the_stock_less_what_live_orders_hold(world, motor, in_acme):
    part = _part(world, in_stock=5)
    PartNeed.objects.create(machine_type=motor.machine_type, failure_mode="bearing_wear", part=part, quantity=2)
    other = Machine.objects.create(machine_type=motor.machine_type, name="Motor-002")
    _predict(motor)
    plan = MaintenancePlan(start_date=date(2026, 3, 2), horizon_days=7)
    assert _problem_parts(plan) == ({BEARING: 5}, {"Motor-001": ((BEARING, 2),)})
    elsewhere = _order(world, other)  # another machine's job holds 2
    part_use_set(order_id=elsewhere.id, part_id=part.id, quantity=2, actor_id=None)
    assert _problem_parts(plan) == ({BEARING: 3}, {"Motor-001": ((BEARING, 2),)})
    _close(world, elsewhere)  # taken from stock: the stock itself is lower now, nothing held
    assert _problem_parts(plan) == ({BEARING: 3}, {"Motor-001": ((BEARING, 2),)})
    # Motor-001's own open order already holds its bearings: the plan, which would update that
    # order, needs no more, and the stock it counts on is what is left.
    own = _order(world, motor, started=False)
    part_use_set(order_id=own.id, part_id=part.id, quantity=2, actor_id=None)
    assert _problem_parts(plan) == ({BEARING: 1}, {"Motor-001": ()})


def test_a_new_reorder_point_crosses_by_itself_and_a_new_empty_part_does_not(world, in_acme, eager):
    mail.outbox.clear()
    with eager():
        empty = spare_part_save(part=SparePart(), fields={"name": "V-belt"}, actor_id=None)
    assert empty.low_since is None and not mail.outbox  # nothing moved: nothing crossed
    part = _part(world, in_stock=3)
    with eager():
        spare_part_save(part=part, fields={"reorder_point": 3}, actor_id=None)
    assert SparePart.objects.get(id=part.id).low_since is not None and len(mail.outbox) == 1
    with eager():
        spare_part_save(part=part, fields={"reorder_point": 1}, actor_id=None)
    assert SparePart.objects.get(id=part.id).low_since is None and len(mail.outbox) == 1


def test_an_accepted_plan_reserves_its_parts_on_its_work_order(world, motor, in_acme):
    from planning.services import plan_accept

    part = _part(world, in_stock=5)
    action = {"machine_id": motor.id, "machine": motor.name, "day": 0, "technician_id": 0, "spend": 1200,
              "hours": 4, "failure_mode": "bearing_wear", "action": "Replace the bearing", "expected_saving": 5000,
              "parts": [{"part": BEARING, "quantity": 2}, {"part": "a part deleted since", "quantity": 1}]}
    plan = MaintenancePlan.objects.create(start_date=date(2026, 3, 2), horizon_days=7, status="ready",
                                          result={"actions": [action]})
    plan_accept(plan_id=plan.id, actor_id=world.engineer.id)
    order = WorkOrder.objects.get(machine=motor)
    assert list(PartUse.objects.filter(work_order=order).values_list("part__name", "quantity")) == [(BEARING, 2)]
    assert parts_available()[part.id] == 3 and _stock(part) == 5
