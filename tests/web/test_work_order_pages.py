"""The work-order board and a work order's page: assign, move, close, history, role checks and
tenant isolation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from predictions.models import Alert, FailureEvent, WorkOrder
from predictions.services.alerts import alert_raise
from predictions.services.work_orders import work_order_create, work_order_transition

BOARD = "/work-orders/"


@pytest.fixture
def order(world, motor) -> WorkOrder:
    with tenant_context(world.acme):
        factors = [{"signal": "vibration_mm_s", "direction": "raises risk"}]
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9,
                            explanation={"top_factors": factors}).alert
        assert alert is not None
        return work_order_create(machine_id=motor.id, alert_id=alert.id, title="Check DE bearing",
                                 actor_id=world.engineer.id)


def _fresh(world, order: WorkOrder) -> WorkOrder:
    with tenant_context(world.acme):
        return WorkOrder.objects.get(id=order.id)


def _move(world, order: WorkOrder, *states: str) -> None:
    with tenant_context(world.acme):
        for state in states:
            work_order_transition(order_id=order.id, to_status=state, actor_id=None)


def _url(order: WorkOrder) -> str:
    return f"/work-orders/{order.id}/"


# --- the board ----------------------------------------------------------------------------------


def test_board_has_a_column_per_state_with_the_ticket(client_for, order):
    page = client_for("viewer").get(BOARD)
    assert page.status_code == 200
    html = page.content.decode()
    for label in ("Open", "Scheduled", "In Progress", "Done", "Cancelled"):
        assert f">{label} <span" in html
    assert f'href="{_url(order)}"' in html and "Check DE bearing" in html and "Motor-001" in html
    assert "Urgent" in html and "Unassigned" in html
    open_column = html[html.index('id="col-open"'):html.index('id="col-scheduled"')]
    assert "Check DE bearing" in open_column


def test_board_only_mine(client_for, world, order, motor):
    with tenant_context(world.acme):
        WorkOrder.objects.filter(id=order.id).update(assignee_id=world.engineer.id)
        work_order_create(machine_id=motor.id, title="Someone else's", actor_id=None)
    mine = client_for("engineer").get(BOARD, {"mine": "1"}).content.decode()
    assert "Check DE bearing" in mine and "Someone else&#x27;s" not in mine


# --- the detail page ------------------------------------------------------------------------------


def test_detail_shows_the_work_order_and_its_history(client_for, world, order):
    html = client_for("viewer").get(_url(order)).content.decode()
    assert "WO-" in html and "Check DE bearing" in html and "vibration_mm_s" in html
    history = html[html.index('class="work-order-history"'):]
    assert "Created" in history and world.engineer.email in history  # no name set: the email
    assert "Close work order" not in html and 'name="action"' not in html  # viewers see, never act


def test_assign_to_a_member_and_set_a_due_date(client_for, world, order):
    response = client_for("engineer").post(_url(order), {"action": "assign", "assignee": world.viewer.id,
                                                         "due_at": "2026-12-01T08:00"}, follow=True)
    assert response.redirect_chain[-1][0] == _url(order) and "Work order updated." in response.content.decode()
    fresh = _fresh(world, order)
    assert fresh.assignee_id == world.viewer.id and fresh.due_at is not None and fresh.due_at.day == 1
    history = response.content.decode().split('class="work-order-history"')[1]
    assert f"Assignee: nobody → {world.viewer.email}" in history  # no name set: the email
    assert "Due: — → 2026-12-01 08:00" in history and "None" not in history


def test_only_members_can_be_assigned(client_for, world, order):
    response = client_for("engineer").post(_url(order), {"action": "assign", "assignee": world.globex_owner.id})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert _fresh(world, order).assignee_id is None


def test_move_through_states_records_events(client_for, world, order):
    engineer = client_for("engineer")
    engineer.post(_url(order), {"action": "transition", "status": "scheduled", "note": "Monday"})
    engineer.post(_url(order), {"action": "transition", "status": "in_progress"})
    assert _fresh(world, order).status == "in_progress"
    with tenant_context(world.acme):
        actions = list(_fresh(world, order).events.values_list("action", "to_status", "note"))
    assert actions == [("created", "open", ""), ("status", "scheduled", "Monday"), ("status", "in_progress", "")]


def test_an_invalid_transition_is_a_message_and_changes_nothing(client_for, world, order):
    _move(world, order, "cancelled")
    response = client_for("engineer").post(_url(order), {"action": "transition", "status": "in_progress"},
                                           follow=True)
    assert "cannot go from cancelled to in_progress" in response.content.decode()
    assert _fresh(world, order).status == "cancelled"


def test_closing_needs_work_under_way(client_for, world, order):
    html = client_for("engineer").get(_url(order)).content.decode()
    assert "Move to In Progress" in html and "Close work order" not in html
    response = client_for("engineer").post(_url(order), {"action": "close", "failure_found": "no",
                                                         "action_taken": "Looked"}, follow=True)
    assert "cannot go from open to done" in response.content.decode()
    assert _fresh(world, order).status == "open"


def test_close_with_failure_found_records_a_label_and_resolves_the_alert(client_for, world, order):
    _move(world, order, "in_progress")
    engineer = client_for("engineer")
    assert "Close work order" in engineer.get(_url(order)).content.decode()
    response = engineer.post(_url(order), {
        "action": "close", "failure_found": "yes", "failure_mode_found": "bearing_wear",
        "action_taken": "Replaced DE bearing", "actual_cost": "1450.00", "actual_downtime_hours": "6.5",
    }, follow=True)
    assert "Work order closed." in response.content.decode()
    fresh = _fresh(world, order)
    assert (fresh.status, fresh.failure_found, fresh.failure_mode_found) == ("done", True, "bearing_wear")
    assert fresh.actual_cost == Decimal("1450.00") and fresh.actual_downtime_hours == Decimal("6.5")
    with tenant_context(world.acme):
        assert FailureEvent.objects.get(work_order_id=order.id).source == "work_order"
        assert Alert.objects.get(id=fresh.alert_id).status == "resolved"
    html = response.content.decode()
    assert "Replaced DE bearing" in html and "Close work order" not in html


def test_close_without_failure(client_for, world, order):
    _move(world, order, "in_progress")
    client_for("engineer").post(_url(order), {"action": "close", "failure_found": "no", "action_taken": "Cleaned"})
    fresh = _fresh(world, order)
    assert fresh.status == "done" and fresh.failure_found is False
    with tenant_context(world.acme):
        assert not FailureEvent.objects.filter(work_order_id=order.id).exists()


def test_an_incomplete_close_form_shows_its_errors(client_for, world, order):
    _move(world, order, "in_progress")
    response = client_for("engineer").post(_url(order), {"action": "close", "actual_cost": "-3"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html and "greater than or equal to 0" in html
    assert _fresh(world, order).status == "in_progress"


@pytest.mark.parametrize("data", [
    {"action": "assign", "assignee": "1"},
    {"action": "transition", "status": "cancelled"},
    {"action": "close", "failure_found": "no", "action_taken": "x"},
])
def test_a_viewer_cannot_change_a_work_order(client_for, world, order, data):
    _move(world, order, "in_progress")
    response = client_for("viewer").post(_url(order), data)
    assert response.status_code == 403
    fresh = _fresh(world, order)
    assert fresh.status == "in_progress" and fresh.assignee_id is None


def test_another_tenants_user_gets_404(client_for, world, order):
    client = client_for("globex_owner")
    assert client.get(BOARD).status_code == 404
    assert client.get(_url(order)).status_code == 404
    assert client.post(_url(order), {"action": "transition", "status": "cancelled"}).status_code == 404
    assert _fresh(world, order).status == "open"


def test_an_acme_work_order_id_on_globex_host_is_404(client_for, world, order):
    globex = client_for("globex_owner", tenant=world.globex)
    assert globex.get(BOARD).status_code == 200
    assert globex.get(_url(order)).status_code == 404
    assert globex.post(_url(order), {"action": "transition", "status": "cancelled"}).status_code == 404
    assert _fresh(world, order).status == "open"


def test_anonymous_goes_to_login(client_for, order):
    for response in (client_for(None).get(BOARD), client_for(None).get(_url(order))):
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
