"""Work orders: from alerts, states with an audit trail, closing into a failure label."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from machines.models import FailureEvent
from maintenance.models import Alert, WorkOrder
from maintenance.services.alerts import alert_raise

JSON = "application/json"


def _from_alert(client, motor, world):
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9,
                            explanation={"top_factors": [{"signal": "vibration_mm_s", "shap": 0.4}]}).alert
    response = client.post("/api/v1/work-orders/", {"machine": "Motor-001", "alert": alert.id}, content_type=JSON)
    assert response.status_code == 201, response.content
    return alert, response.json()


def test_work_order_from_an_alert_carries_its_explanation(client_for, motor, world):
    alert, order = _from_alert(client_for("engineer"), motor, world)
    assert order["explanation"] == {"top_factors": [{"signal": "vibration_mm_s", "shap": 0.4}]}
    assert order["recommendation"] == alert.recommendation and order["priority"] == "urgent"
    assert order["title"] == alert.title and order["status"] == "open"


def test_lifecycle_with_audit_trail_and_failure_label(client_for, motor, world):
    engineer = client_for("engineer")
    alert, order = _from_alert(engineer, motor, world)
    url = f"/api/v1/work-orders/{order['id']}/"
    assigned = engineer.patch(url, {"assignee": world.engineer.id, "due_at": "2026-12-01T08:00:00Z",
                                    "parts": [{"part": "6309-2Z bearing", "quantity": 2}]}, content_type=JSON)
    assert assigned.status_code == 200 and assigned.json()["assignee"] == world.engineer.id
    assert engineer.post(url + "transition/", {"status": "scheduled"}, content_type=JSON).status_code == 200
    assert engineer.post(url + "transition/", {"status": "in_progress"}, content_type=JSON).status_code == 200
    closed = engineer.post(url + "close/", {"failure_found": True, "failure_mode_found": "bearing_wear",
                                            "action_taken": "Replaced DE bearing", "actual_cost": "1450.00",
                                            "actual_downtime_hours": "6.5"}, content_type=JSON)
    assert closed.status_code == 200 and closed.json()["status"] == "done"
    events = engineer.get(url + "events/").json()
    assert [e["action"] for e in events] == ["created", "updated", "status", "status", "closed"]
    assert events[-1]["from_status"] == "in_progress" and events[-1]["actor"] == world.engineer.id
    with tenant_context(world.acme):
        label = FailureEvent.objects.get(work_order_id=order["id"])
        assert (label.failure_mode, label.source) == ("bearing_wear", "work_order")
        assert Alert.objects.get(id=alert.id).status == "resolved"
    frozen = engineer.patch(url, {"title": "late edit"}, content_type=JSON)
    assert frozen.status_code == 409 and frozen.json()["error"]["code"] == "work_order_closed"


def test_illegal_transitions_and_bad_closes_are_explained(client_for, motor, world):
    engineer = client_for("engineer")
    order = engineer.post("/api/v1/work-orders/", {"machine": "Motor-001", "title": "Inspect"},
                          content_type=JSON).json()
    url = f"/api/v1/work-orders/{order['id']}/"
    early = engineer.post(url + "close/", {"failure_found": False, "action_taken": "x"}, content_type=JSON)
    assert early.status_code == 409 and "allowed" in early.json()["error"]["message"]
    done = engineer.post(url + "transition/", {"status": "done"}, content_type=JSON)
    assert done.json()["error"]["code"] == "use_close"
    engineer.post(url + "transition/", {"status": "in_progress"}, content_type=JSON)
    unknown_mode = engineer.post(url + "close/", {"failure_found": True, "failure_mode_found": "gremlins",
                                                  "action_taken": "x"}, content_type=JSON)
    assert unknown_mode.status_code == 400 and "failure_mode_found" in unknown_mode.json()["error"]["details"]
    no_failure = engineer.post(url + "close/", {"failure_found": False, "action_taken": "Checked, fine"},
                               content_type=JSON)
    assert no_failure.status_code == 200
    with tenant_context(world.acme):
        assert not FailureEvent.objects.exists()


def test_assignee_must_be_a_member(client_for, motor, world):
    response = client_for("engineer").post("/api/v1/work-orders/", {
        "machine": "Motor-001", "title": "x", "assignee": world.globex_owner.id}, content_type=JSON)
    assert response.status_code == 400 and "assignee" in response.json()["error"]["details"]


def test_viewers_read_and_other_tenants_see_nothing(client_for, key_client, motor, world):
    _, order = _from_alert(client_for("engineer"), motor, world)
    viewer = client_for("viewer")
    assert viewer.get("/api/v1/work-orders/?status=open").json()["count"] == 1
    assert viewer.post("/api/v1/work-orders/", {"machine": "Motor-001", "title": "x"},
                       content_type=JSON).status_code == 403
    globex = key_client(["read", "write"], tenant=world.globex, host="acme.localhost")
    assert globex.get("/api/v1/work-orders/").json()["count"] == 0
    assert globex.get(f"/api/v1/work-orders/{order['id']}/events/").status_code == 404
    assert globex.post(f"/api/v1/work-orders/{order['id']}/transition/", {"status": "cancelled"},
                       content_type=JSON).status_code == 404
    with tenant_context(world.acme):
        assert WorkOrder.objects.get(id=order["id"]).status == "open"


def test_failure_events_by_hand(client_for, motor, world):
    engineer = client_for("engineer")
    created = engineer.post("/api/v1/failure-events/", {"machine": "Motor-001", "occurred_at": "2026-10-01T10:00:00Z",
                                                        "failure_mode": "bearing_wear", "notes": "seized"},
                            content_type=JSON)
    assert created.status_code == 201 and created.json()["source"] == "manual"
    bad = engineer.post("/api/v1/failure-events/", {"machine": "Motor-001", "occurred_at": "2026-10-01T10:00:00Z",
                                                    "failure_mode": "gremlins"}, content_type=JSON)
    assert bad.status_code == 400
    assert engineer.get("/api/v1/failure-events/?machine__name=Motor-001").json()["count"] == 1


def test_failure_events_from_a_file_all_or_nothing(client_for, motor, world, tmp_path, capsys):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import CommandError, call_command

    engineer = client_for("engineer")
    good = (b"machine;occurred_at;failure_mode;notes\nMotor-001;2026-09-01T08:00:00Z;bearing_wear;seized\n"
            b"Motor-001;2026-10-02 09:30;;trip\n")
    created = engineer.post("/api/v1/failure-events/import/", {"file": SimpleUploadedFile("f.csv", good)})
    assert created.status_code == 201 and [e["source"] for e in created.json()] == ["import", "import"]
    bad = b"machine,occurred_at,failure_mode\nMotor-001,2026-09-03T00:00:00Z,\nGhost,2026-09-03,\nMotor-001,soon,\n"
    refused = engineer.post("/api/v1/failure-events/import/", {"file": SimpleUploadedFile("f.csv", bad)})
    problems = refused.json()["error"]["details"]["problems"]
    assert refused.status_code == 400 and problems == [
        "line 3: unknown machine 'Ghost'", "line 4: occurred_at 'soon' is not an ISO 8601 time"]
    assert engineer.get("/api/v1/failure-events/").json()["count"] == 2
    path = tmp_path / "failures.csv"
    path.write_bytes(good)
    call_command("failure_events_import", "--tenant", "acme", str(path))  # again: nothing repeated
    assert "2 failure events recorded." in capsys.readouterr().out
    assert engineer.get("/api/v1/failure-events/").json()["count"] == 2
    with pytest.raises(CommandError, match="unknown machine"):
        path.write_bytes(bad)
        call_command("failure_events_import", "--tenant", "acme", str(path))


# --- by hand, with a failure mode; an alert handled by its work order (issue 16) ----------------


def test_a_work_order_by_hand_names_a_failure_mode_by_label_and_gets_a_title_from_it(client_for, motor, world):
    engineer = client_for("engineer")
    created = engineer.post("/api/v1/work-orders/", {
        "machine": "Motor-001", "failure_mode": "Drive-end bearing wear", "priority": "high",
        "due_at": "2026-12-01T08:00:00Z", "assignee": world.viewer.id}, content_type=JSON)
    assert created.status_code == 201, created.content
    order = created.json()
    assert order["failure_mode"] == "bearing_wear" and order["title"] == "Drive-end bearing wear on Motor-001"
    assert (order["priority"], order["assignee"], order["alert"]) == ("high", world.viewer.id, None)
    unknown = engineer.post("/api/v1/work-orders/", {"machine": "Motor-001", "failure_mode": "seal leak"},
                            content_type=JSON)
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_failure_mode"
    moved = engineer.patch(f"/api/v1/work-orders/{order['id']}/", {"failure_mode": "misalignment"},
                           content_type=JSON)
    assert moved.status_code == 200 and moved.json()["failure_mode"] == "misalignment"


def test_a_work_order_from_an_alert_takes_its_mode_and_a_handled_alert_gets_no_second_one(client_for, motor, world):
    engineer = client_for("engineer")
    alert, order = _from_alert(engineer, motor, world)
    assert order["failure_mode"] == "bearing_wear"
    again = engineer.post("/api/v1/work-orders/", {"machine": "Motor-001", "alert": alert.id}, content_type=JSON)
    assert again.status_code == 409 and again.json()["error"]["code"] == "alert_handled"
    assert f"WO-{order['id']} already handles this alert" in again.json()["error"]["message"]
    with tenant_context(world.acme):  # a plan scheduling more work on the machine may still link it
        from maintenance.services.work_orders import work_order_create

        planned = work_order_create(machine_id=motor.id, alert_id=alert.id, title="Planned", actor_id=None)
        assert planned.alert_id == alert.id
        WorkOrder.objects.filter(id=planned.id).update(status="cancelled")
    engineer.post(f"/api/v1/work-orders/{order['id']}/transition/", {"status": "cancelled"}, content_type=JSON)
    assert engineer.post("/api/v1/work-orders/", {"machine": "Motor-001", "alert": alert.id},
                         content_type=JSON).status_code == 201  # the cancelled one handles nothing


def test_an_alert_reads_handled_while_its_work_order_runs(client_for, motor, world):
    engineer = client_for("engineer")
    alert, order = _from_alert(engineer, motor, world)
    url = f"/api/v1/alerts/{alert.id}/"
    shown = client_for("viewer").get(url).json()
    assert (shown["status"], shown["display_status"]) == ("open", "handled")  # stored status unchanged
    assert shown["work_order"] == {"id": order["id"], "status": "open"} and shown["kind"] == "failure"
    wo = f"/api/v1/work-orders/{order['id']}/"
    engineer.post(wo + "transition/", {"status": "in_progress"}, content_type=JSON)
    assert client_for("viewer").get(url).json()["work_order"]["status"] == "in_progress"
    engineer.post(wo + "close/", {"failure_found": False, "action_taken": "Greased"}, content_type=JSON)
    closed = client_for("viewer").get(url).json()
    assert (closed["status"], closed["display_status"], closed["work_order"]) == ("resolved", "resolved", None)


def test_a_handled_alert_is_not_escalated(motor, world, in_acme):
    from datetime import timedelta

    import time_machine

    from maintenance.services.alerts import alerts_escalate
    from maintenance.services.work_orders import work_order_create

    opened_at = "2026-11-02T08:00:00+00:00"  # a Monday morning; the default rule escalates after 60 min
    with time_machine.travel(opened_at, tick=False) as clock:
        handled = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9).alert
        waiting = alert_raise(machine_id=motor.id, failure_mode="misalignment", probability=0.9).alert
        work_order_create(machine_id=motor.id, alert_id=handled.id, title="", actor_id=None)
        clock.shift(timedelta(minutes=90))
        assert alerts_escalate() == 1
    assert Alert.objects.get(id=handled.id).escalation_level == 0
    assert Alert.objects.get(id=waiting.id).escalation_level == 1
