"""The work-order board and a work order's page: assign, move, close, history, role checks and
tenant isolation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import tenant_context

from machines.models import FailureEvent
from maintenance.models import Alert, WorkOrder
from maintenance.services.alerts import alert_raise
from maintenance.services.work_orders import work_order_create, work_order_transition

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


def test_detail_words_the_factors_of_a_new_explanation(client_for, world, motor):
    """Since issue 18 a factor carries its label, reading, unit and share: the page shows those,
    the local rule in sensor units with how often it holds, and the raw names only for Advanced."""
    factors = [{"feature": "winding_temp_c", "signal": "winding_temp_c", "label": "Stator winding temperature (PT100)",
                "value": 141.234, "unit": "°C", "zone": "critical", "contribution": 0.62, "shap": 1.9,
                "direction": "raises risk", "window_feature": "winding_temp_c__max_24"}]
    rule = {"text": "IF Stator winding temperature (PT100) > 135 °C THEN 85% chance of failure within 7 days",
            "conditions": [], "fidelity": 0.9, "coverage": 0.2, "method": "local surrogate (anchors)"}
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9,
                            explanation={"top_factors": factors, "rule": rule, "confidence": "high"}).alert
        order = work_order_create(machine_id=motor.id, alert_id=alert.id, title="Winding", actor_id=None)
    html = client_for("viewer").get(_url(order)).content.decode()
    listed = html[html.index('id="work-order-factors"'):html.index("</ul>", html.index('id="work-order-factors"'))]
    assert "<strong>Stator winding temperature (PT100)</strong> 141 °C" in listed and "(critical range)" in listed
    assert "62% of the evidence, raises risk" in listed
    assert '<span class="advanced muted">' in listed and "winding_temp_c__max_24" in listed
    assert "IF Stator winding temperature (PT100) &gt; 135 °C THEN 85% chance" in html
    assert "It holds for 90% of similar situations." in html


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


# --- history in words (issue 16) ------------------------------------------------------------------


def test_history_says_created_and_moves_in_words_with_who_by_name(client_for, world, order):
    from accounts.models import User

    User.objects.filter(id=world.engineer.id).update(full_name="Erin Engineer")
    engineer = client_for("engineer")
    engineer.post(_url(order), {"action": "transition", "status": "in_progress"})
    html = client_for("viewer").get(_url(order)).content.decode()
    history = html[html.index('class="work-order-history"'):]
    assert "Created" in history and "Open → In Progress" in history and "Erin Engineer" in history
    assert "None" not in history and "in_progress" not in history and world.engineer.email not in history


# --- a new work order by hand (issue 16) --------------------------------------------------------------

NEW = "/work-orders/new/"


@pytest.fixture
def pump(db, world):
    from machines.models import Machine
    from machines.services import machine_create, machine_type_adopt

    with tenant_context(world.acme):
        pump_type = machine_type_adopt(key="centrifugal-pump")
        machine = machine_create(machine_type_id=pump_type.id, name="P-101", site="Plant B")
        return Machine.objects.select_related("machine_type").get(id=machine.id)


def _form(**overrides):
    return {"machine": "", "failure_mode": "", "title": "", "priority": "medium", "due_at": "", "assignee": "",
            "alert": "", "description": "", **overrides}


def test_the_form_offers_the_fleet_the_modes_by_type_and_members_by_name(client_for, world, motor, pump):
    from accounts.models import User

    User.objects.filter(id=world.viewer.id).update(full_name="Vic Viewer")
    html = client_for("engineer").get(NEW).content.decode()
    assert "P-101 · Centrifugal" in html and "Motor-001 · " in html
    assert '<optgroup label="Centrifugal pump">' in html or "Centrifugal" in html.split("<optgroup")[1]
    assert ">Drive-end bearing wear</option>" in html and "bearing_wear</option>" not in html  # labels, not keys
    assert ">Vic Viewer</option>" in html
    assert f"{world.globex_owner.email}" not in html


def test_a_work_order_made_by_hand_goes_to_its_page(client_for, world, motor):
    response = client_for("engineer").post(NEW, _form(machine=motor.id, failure_mode="bearing_wear", priority="high",
                                                      due_at="2026-12-03T07:30", assignee=world.viewer.id))
    with tenant_context(world.acme):
        order = WorkOrder.objects.get()
    assert response.status_code == 302 and response["Location"] == _url(order)
    assert (order.failure_mode, order.priority, order.assignee_id, order.created_by_id) == (
        "bearing_wear", "high", world.viewer.id, world.engineer.id)
    assert order.title == "Drive-end bearing wear on Motor-001" and order.due_at.day == 3
    page = client_for("viewer").get(_url(order)).content.decode()
    assert "Drive-end bearing wear" in page and world.viewer.email in page


def test_the_form_refuses_a_mode_of_another_type_an_alert_of_another_machine_and_an_outsider(client_for, world,
                                                                                           motor, pump):
    engineer = client_for("engineer")
    wrong_mode = engineer.post(NEW, _form(machine=pump.id, failure_mode="bearing_wear"))
    assert wrong_mode.status_code == 400 and "Not a failure mode of Centrifugal" in wrong_mode.content.decode()
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9).alert
    wrong_alert = engineer.post(NEW, _form(machine=pump.id, alert=alert.id))
    assert wrong_alert.status_code == 400 and "Unknown alert for this machine." in wrong_alert.content.decode()
    outsider = engineer.post(NEW, _form(machine=motor.id, assignee=world.globex_owner.id))
    assert outsider.status_code == 400 and "Select a valid choice" in outsider.content.decode()
    with tenant_context(world.acme):
        assert not WorkOrder.objects.exists()


def test_a_work_order_for_an_alert_links_it(client_for, world, motor):
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9).alert
    form = client_for("engineer").get(NEW, {"alert": alert.id}).content.decode()  # filled in from the alert
    for field, value in (("alert", alert.id), ("machine", motor.id), ("failure_mode", "bearing_wear"),
                         ("priority", "urgent")):
        chosen = form.split(f'name="{field}"')[1].split("</select>")[0]
        assert f'value="{value}" selected' in chosen, field
    client_for("engineer").post(NEW, _form(machine=motor.id, alert=alert.id, priority="urgent"))
    with tenant_context(world.acme):
        order = WorkOrder.objects.get()
    assert order.alert_id == alert.id and order.failure_mode == "bearing_wear" and order.priority == "urgent"
    # handled now: the alert is no longer offered
    assert f'<option value="{alert.id}"' not in client_for("engineer").get(NEW).content.decode()


def test_a_viewer_sees_no_form_and_cannot_post_one(client_for, world, motor):
    page = client_for("viewer").get(NEW)
    assert page.status_code == 200 and "needs the Engineer role" in page.content.decode()
    assert 'name="machine"' not in page.content.decode()
    assert "New work order" not in client_for("viewer").get(BOARD).content.decode()
    assert client_for("viewer").post(NEW, _form(machine=motor.id)).status_code == 403
    with tenant_context(world.acme):
        assert not WorkOrder.objects.exists()


def test_another_tenant_cannot_reach_the_form_nor_name_our_machines(client_for, world, motor):
    assert client_for("globex_owner").get(NEW).status_code == 404  # acme's host, not a member
    assert client_for("globex_owner").post(NEW, _form(machine=motor.id)).status_code == 404
    from machines.services import machine_create, machine_type_adopt

    with tenant_context(world.globex):
        machine_create(machine_type_id=machine_type_adopt(key="centrifugal-pump").id, name="G-1")
    globex = client_for("globex_owner", tenant=world.globex)
    offered = globex.get(NEW).content.decode()
    assert "G-1 · " in offered and "Motor-001" not in offered
    refused = globex.post(NEW, _form(machine=motor.id))  # an acme machine id on globex's host
    assert refused.status_code == 400 and "Select a valid choice" in refused.content.decode()
    with tenant_context(world.acme):
        assert not WorkOrder.objects.exists()


def test_anonymous_is_sent_to_login_from_the_form(client_for):
    response = client_for(None).get(NEW)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# --- where a phone opens the board (issue 16) -----------------------------------------------------


def test_the_board_starts_on_the_users_own_column_else_the_first_with_work(client_for, world, motor):
    def start(actor: str) -> str:
        html = client_for(actor).get(BOARD).content.decode()
        return html.split('data-start="')[1].split('"')[0]

    assert start("engineer") == "open"  # nothing anywhere: the first column
    with tenant_context(world.acme):
        theirs = work_order_create(machine_id=motor.id, title="Someone's", actor_id=None)
        mine = work_order_create(machine_id=motor.id, title="Mine", actor_id=None, assignee_id=world.engineer.id)
    _move(world, theirs, "scheduled")
    _move(world, mine, "in_progress")
    assert start("viewer") == "scheduled" and start("engineer") == "in_progress"
