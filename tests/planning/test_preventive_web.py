"""PM plans through the API (`/api/v1/planning/pm-plans/`) and the pages (/planning/pm-plans/, the
machine's page, the planning page): roles, the second tenant, bad input, Generate now."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from django_tenants.utils import tenant_context

from machines.models import Machine
from maintenance.models import WorkOrder
from planning.models import PreventiveOccurrence, PreventivePlan

pytestmark = [pytest.mark.django_db, pytest.mark.clock]
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # next due dates are read from the clock: pinned


@pytest.fixture(autouse=True)
def _pinned_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield

API = "/api/v1/planning/pm-plans/"
BODY = {"machine": "Motor-001", "title": "Regrease the bearings", "every": 3, "unit": "months",
        "start_date": "2031-01-31", "lead_time_days": 7, "failure_mode": "bearing_wear", "priority": "high",
        "estimated_cost": "120.00"}
FORM = {**BODY, "description": "20 g each", "is_active": "on", "signal": "", "threshold": "",
        "estimated_downtime_hours": ""}


def existing(world: Any, machine: Machine, **fields: Any) -> PreventivePlan:
    with tenant_context(world.acme):
        return PreventivePlan.objects.create(**{"machine": machine, "title": "Inspect", "every": 1, "unit": "weeks",
                                                "start_date": date(2031, 1, 6), **fields})


# --- API ---------------------------------------------------------------------------------------------


def test_api_create_read_update_generate_delete(client_for: Any, world: Any, motor: Machine) -> None:
    client = client_for("engineer")
    created = client.post(API, BODY, content_type="application/json")
    assert created.status_code == 201, created.content
    plan = created.json()
    assert (plan["machine"], plan["unit"], plan["every"], plan["threshold"]) == ("Motor-001", "months", 3, None)
    assert plan["next_due"] == {"sequence": 0, "due_on": "2031-01-31", "due_usage": None, "ready": False}
    listed = client.get(API, {"machine__name": "Motor-001"}).json()
    assert client.get(API, {"machine__name": "Motor-002"}).json()["results"] == []
    assert [p["id"] for p in listed["results"]] == [plan["id"]]
    changed = client.patch(f"{API}{plan['id']}/", {"every": 1}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["every"] == 1
    generated = client.post(f"{API}{plan['id']}/generate/")
    assert generated.status_code == 201
    occurrence = generated.json()
    assert (occurrence["sequence"], occurrence["due_on"], occurrence["trigger"]) == (0, "2031-01-31", "manual")
    again = client.post(f"{API}{plan['id']}/generate/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "pm_order_open"
    history = client.get(f"{API}{plan['id']}/occurrences/").json()
    assert [o["work_order"] for o in history["results"]] == [occurrence["work_order"]]
    assert client.delete(f"{API}{plan['id']}/").status_code == 204
    with tenant_context(world.acme):
        assert not PreventivePlan.objects.exists()
        assert WorkOrder.objects.filter(id=occurrence["work_order"]).exists()  # the record of the work stays


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"every": 0}, "every", "greater than or equal to 1"),
    ({"unit": "fortnights"}, "unit", "not a valid choice"),
    ({"failure_mode": "rust"}, "failure_mode", "bearing_wear"),
    ({"unit": "running_hours"}, "signal", "one of Motor-001's signals"),
    ({"unit": "running_hours", "signal": "speed_rpm"}, "threshold", "counts as running"),
    ({"unit": "cycles", "signal": "pressure_bar", "threshold": 1}, "signal", "speed_rpm"),
    ({"machine": "Motor-999"}, "machine", "does not exist"),
    ({"lead_time_days": 400}, "lead_time_days", "less than or equal to 365"),
])
def test_api_bad_input_is_a_400_naming_the_field(client_for: Any, world: Any, motor: Machine, change: dict[str, Any],
                                                 field: str, message: str) -> None:
    response = client_for("engineer").post(API, {**BODY, **change}, content_type="application/json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert message in str(details[field]), details
    with tenant_context(world.acme):
        assert not PreventivePlan.objects.exists()


def test_api_a_usage_plan_and_a_calendar_plan_drops_its_signal(client_for: Any, world: Any, motor: Machine) -> None:
    client = client_for("engineer")
    body = {**BODY, "unit": "running_hours", "every": 500, "signal": "speed_rpm", "threshold": 100}
    plan = client.post(API, body, content_type="application/json").json()
    # No readings yet: nothing run, no rate, so no date.
    assert plan["next_due"] == {"sequence": 1, "due_on": None, "due_usage": 500.0, "ready": False}
    changed = client.patch(f"{API}{plan['id']}/", {"unit": "weeks"}, content_type="application/json").json()
    assert (changed["signal"], changed["threshold"]) == ("", None)


def test_api_roles_and_the_second_tenant(client_for: Any, key_client: Any, world: Any, motor: Machine) -> None:
    plan = existing(world, motor)
    viewer = client_for("viewer")
    assert viewer.get(f"{API}{plan.id}/").status_code == 200
    assert viewer.post(API, BODY, content_type="application/json").status_code == 403
    assert viewer.post(f"{API}{plan.id}/generate/").status_code == 403
    assert viewer.delete(f"{API}{plan.id}/").status_code == 403
    assert key_client(["read"]).post(f"{API}{plan.id}/generate/").status_code == 403
    globex = client_for("globex_owner", tenant=world.globex)
    assert globex.get(f"{API}{plan.id}/").status_code == 404
    assert globex.post(f"{API}{plan.id}/generate/").status_code == 404
    assert globex.get(API).json()["results"] == []
    assert client_for("outsider").get(API).status_code in (403, 404)
    with tenant_context(world.acme):
        assert not PreventiveOccurrence.objects.exists()


# --- pages ---------------------------------------------------------------------------------------------


def test_page_add_list_edit_and_generate(client_for: Any, world: Any, motor: Machine) -> None:
    client = client_for("engineer")
    response = client.post(f"/planning/pm-plans/?machine={motor.id}", FORM)
    assert response.status_code == 302 and response["Location"] == f"/planning/pm-plans/?machine={motor.id}"
    with tenant_context(world.acme):
        plan = PreventivePlan.objects.get()
        assert (plan.every, plan.unit, plan.description, plan.estimated_downtime_hours) == (3, "months", "20 g each",
                                                                                            None)
    page = client.get(f"/planning/pm-plans/?machine={motor.id}").content.decode()
    assert "Regrease the bearings" in page and "every 3 months from 31 Jan 2031" in page
    assert "Fri 31 Jan 2031" in page and "Generate now" in page
    edit = client.post(f"/planning/pm-plans/{plan.id}/", {**FORM, "title": "Regrease both bearings"})
    assert edit.status_code == 302
    generated = client.post(f"/planning/pm-plans/{plan.id}/generate/", {"next": f"/machines/{motor.id}/"})
    assert generated.status_code == 302 and generated["Location"] == f"/machines/{motor.id}/"
    with tenant_context(world.acme):
        order = WorkOrder.objects.get()
        assert order.title == "Regrease both bearings" and order.priority == "high"
    order_page = client.get(f"/work-orders/{order.id}/").content.decode()
    assert 'id="work-order-pm-plan"' in order_page and "made by Generate now" in order_page
    assert f'href="/planning/pm-plans/{plan.id}/"' in order_page
    detail = client.get(f"/planning/pm-plans/{plan.id}/").content.decode()
    assert f"WO-{order.id}" in detail and "Generate now" in detail and "every 3 months" in detail
    # Off-site "next" is ignored: the plan's own page instead.
    with tenant_context(world.acme):
        WorkOrder.objects.filter(id=order.id).update(status="done")
    away = client.post(f"/planning/pm-plans/{plan.id}/generate/", {"next": "https://evil.example/"})
    assert away["Location"] == f"/planning/pm-plans/{plan.id}/"


def test_page_invalid_input_is_shown_and_nothing_saved(client_for: Any, world: Any, motor: Machine) -> None:
    response = client_for("engineer").post("/planning/pm-plans/", {**FORM, "unit": "running_hours",
                                                                    "title": "Oil change"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "signal: a usage plan counts from one of Motor-001&#x27;s signals" in body
    assert "threshold: the level at or above which the machine counts as running" in body
    assert 'value="Oil change"' in body  # the input is kept
    with tenant_context(world.acme):
        assert not PreventivePlan.objects.exists()


def test_pages_refuse_the_viewer_and_the_second_tenant(client_for: Any, world: Any, motor: Machine) -> None:
    plan = existing(world, motor)
    viewer = client_for("viewer")
    page = viewer.get("/planning/pm-plans/")
    assert page.status_code == 200 and "Inspect" in page.content.decode()
    assert "Generate now" not in page.content.decode() and "Add a PM plan" not in page.content.decode()
    assert viewer.post("/planning/pm-plans/", FORM).status_code == 403
    assert viewer.post(f"/planning/pm-plans/{plan.id}/", FORM).status_code == 403
    assert viewer.post(f"/planning/pm-plans/{plan.id}/generate/").status_code == 403
    assert viewer.post(f"/planning/pm-plans/{plan.id}/delete/").status_code == 403
    globex = client_for("globex_owner", tenant=world.globex)
    assert globex.get(f"/planning/pm-plans/{plan.id}/").status_code == 404
    assert globex.post(f"/planning/pm-plans/{plan.id}/generate/").status_code == 404
    assert globex.get(f"/planning/pm-plans/?machine={motor.id}").status_code == 404
    assert client_for("outsider").get("/planning/pm-plans/").status_code == 404
    assert client_for("engineer").get("/planning/pm-plans/?machine=abc").status_code == 404
    with tenant_context(world.acme):
        assert not WorkOrder.objects.exists() and PreventivePlan.objects.count() == 1


def test_the_machine_page_and_the_planning_page_show_them(client_for: Any, world: Any, motor: Machine) -> None:
    existing(world, motor)
    machine_page = client_for("viewer").get(f"/machines/{motor.id}/").content.decode()
    assert 'id="pm-plans-card"' in machine_page and "Inspect" in machine_page
    assert "every 1 week from 6 Jan 2031" in machine_page
    planning = client_for("viewer").get("/planning/").content.decode()
    assert "Preventive maintenance plans" in planning and "1 active" in planning
