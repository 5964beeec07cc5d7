"""Plans with real rows: the job, accepting into work orders, the API and the page, with the
roles and the second tenant."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from jobs.models import Job
from jobs.services import job_execute
from machines.models import Machine
from maintenance.models import Alert, WorkOrder
from pdm_saas.errors import InvalidInput
from planning.models import MaintenancePlan, PartNeed, SparePart, Technician
from planning.services import plan_accept, plan_run, plan_start
from predictions.models import Prediction


def _predict(machine: Machine, *, probability: float, mode: str = "bearing_wear", rul_h: float = 30) -> Prediction:
    return Prediction.objects.create(
        machine=machine, source=Prediction.Source.API, window_end=timezone.now(), horizon_h=24,
        probability=probability, predicted_failure=probability >= 0.5, failure_mode=mode, rul_h=rul_h,
        rul_lower_h=rul_h * 0.5, rul_upper_h=rul_h * 1.5, health_score=100 * (1 - probability), confidence=0.8)


@pytest.fixture
def shop(world: Any, motor: Machine) -> dict[str, Any]:
    """Acme: Motor-001 about to fail (bearing wear), with an open alert; a healthy Motor-002; one
    technician (the engineer) every day; a bearing in stock."""
    with tenant_context(world.acme):
        healthy = Machine.objects.create(machine_type=motor.machine_type, name="Motor-002")
        _predict(motor, probability=0.9)
        _predict(healthy, probability=0.001, rul_h=20_000)
        alert = Alert.objects.create(machine=motor, failure_mode="bearing_wear", severity=Alert.Severity.CRITICAL,
                                     probability=0.9, title="Bearing wear risk 90%")
        tech = Technician.objects.create(name="Dana", skills=["motor"], working_weekdays=list(range(7)),
                                         user_id=world.engineer.id)
        part = SparePart.objects.create(name="6309-2Z bearing", in_stock=2, lead_time_days=3)
        PartNeed.objects.create(machine_type=motor.machine_type, failure_mode="bearing_wear", part=part, quantity=2)
        return {"motor": motor, "healthy": healthy, "alert": alert, "tech": tech}


def _made(world: Any, *, horizon: int = 7, budget: Decimal | None = None) -> MaintenancePlan:
    """Start a plan and run its job here (its task would be sent after commit, which tests never reach)."""
    plan = plan_start(horizon_days=horizon, budget=budget, actor_id=world.engineer.id)
    assert plan.job_id is not None
    job_execute(job_id=plan.job_id, handler=plan_run)
    return MaintenancePlan.objects.get(id=plan.id)


def test_the_plan_schedules_the_failing_motor_first_day_with_its_saving(world, shop, in_acme):
    plan = _made(world)
    assert plan.status == "ready"
    job = Job.objects.get(id=plan.job_id)
    assert (job.kind, job.status, job.progress, job.queue) == ("planning.plan", "succeeded", 100, "default")
    [action] = plan.result["actions"]
    assert (action["machine"], action["day"], action["technician"]) == ("Motor-001", 0, "Dana")
    assert action["date"] == plan.start_date.isoformat()
    # bearing_wear on a Siemens 1LA7: failure (900 + 4 h x 800) x 3 = 12,300; planned 900 + 300 + 3,200.
    assert action["action_cost"] == 4400 and action["spend"] == 1200
    assert action["parts"] == [{"part": "6309-2Z bearing", "quantity": 2}]
    assert action["expected_saving"] > 5000
    assert plan.expected_cost_without > plan.expected_cost_with
    assert plan.inputs["technicians"][0]["name"] == "Dana" and len(plan.inputs["machines"]) == 2


def test_accept_creates_scheduled_work_orders_once(world, shop, in_acme):
    plan = _made(world)
    plan = plan_accept(plan_id=plan.id, actor_id=world.engineer.id)
    order = WorkOrder.objects.get(machine=shop["motor"])
    assert order.status == "scheduled" and order.alert_id == shop["alert"].id
    assert order.assignee_id == world.engineer.id
    assert timezone.localtime(order.scheduled_for).date() == plan.start_date
    assert order.planned_cost == Decimal("1200.00") and order.planned_downtime_hours == Decimal("4.00")
    assert order.parts == [{"part": "6309-2Z bearing", "quantity": 2}]
    assert plan.status == "accepted" and plan.result["actions"][0]["work_order_id"] == order.id
    events = order.events.count()
    again = plan_accept(plan_id=plan.id, actor_id=world.admin.id)
    assert again.accepted_by_id == world.engineer.id
    assert WorkOrder.objects.count() == 1 and order.events.count() == events


def test_accept_updates_the_machines_open_work_order(world, shop, in_acme):
    from maintenance.services.work_orders import work_order_create

    existing = work_order_create(machine_id=shop["motor"].id, title="Check the bearing", actor_id=world.owner.id)
    plan_accept(plan_id=_made(world).id, actor_id=world.engineer.id)
    existing.refresh_from_db()
    assert WorkOrder.objects.count() == 1
    assert existing.status == "scheduled" and existing.assignee_id == world.engineer.id
    assert existing.planned_cost == Decimal("1200.00")


def test_budget_too_small_is_explained(world, shop, in_acme):
    plan = _made(world, budget=Decimal("500"))
    assert plan.result["actions"] == []
    assert plan.result["left_out"][0]["machine"] == "Motor-001"
    assert plan.result["binding"][0]["message"].startswith("Budget binds: 1 worthwhile action left out")


def test_missing_skill_is_explained(world, shop, in_acme):
    Technician.objects.filter(id=shop["tech"].id).update(skills=["pump"])
    plan = _made(world)
    assert plan.result["actions"] == []
    # The skills by the labels the technicians' form offers, never their keys.
    assert ("no technician with skill “Drive-end bearing wear” or “Motor: any repair”"
            in plan.result["left_out"][0]["reason"])


@pytest.mark.parametrize("horizon", [0, 61])
def test_bad_input_leaves_nothing(world, shop, in_acme, horizon):
    plans, jobs = MaintenancePlan.objects.count(), Job.objects.count()
    with pytest.raises(InvalidInput, match="horizon"):
        plan_start(horizon_days=horizon, budget=None, actor_id=None)
    assert (MaintenancePlan.objects.count(), Job.objects.count()) == (plans, jobs)


def test_the_job_running_twice_computes_once(world, shop, in_acme):
    plan = _made(world)
    result = plan.result
    job_execute(job_id=plan.job_id, handler=plan_run)  # a duplicate delivery
    Job.objects.filter(id=plan.job_id).update(status="queued")
    job_execute(job_id=plan.job_id, handler=plan_run)  # even when the claim succeeds: the plan is not pending
    plan.refresh_from_db()
    assert plan.result == result and plan.status == "ready"


def test_accepting_a_pending_plan_is_refused(world, shop, in_acme):
    from pdm_saas.errors import Conflict

    plan = plan_start(horizon_days=7, budget=None, actor_id=None)
    with pytest.raises(Conflict, match="cannot be accepted"):
        plan_accept(plan_id=plan.id, actor_id=None)
    assert WorkOrder.objects.count() == 0


# --- API ---------------------------------------------------------------------------------------


def test_api_technicians_crud_with_roles(client_for, world, shop):
    body = {"name": "Lee", "skills": ["pump", "motor"], "hours_per_day": "7.5", "working_weekdays": [0, 1, 2]}
    assert client_for("viewer").post("/api/v1/planning/technicians/", body,
                                     content_type="application/json").status_code == 403
    created = client_for("engineer").post("/api/v1/planning/technicians/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["skills"] == ["motor", "pump"]
    names = {t["name"] for t in client_for("viewer").get("/api/v1/planning/technicians/").json()["results"]}
    assert names == {"Dana", "Lee"}
    assert client_for("globex_owner").get("/api/v1/planning/technicians/").status_code == 404
    own = client_for("globex_owner", tenant=world.globex).get("/api/v1/planning/technicians/")
    assert own.status_code == 200 and own.json()["results"] == []
    bad = client_for("engineer").post("/api/v1/planning/technicians/", {**body, "name": "X", "working_weekdays": [9]},
                                      content_type="application/json")
    assert bad.status_code == 400 and "working_weekdays" in bad.json()["error"]["details"]
    outsider = client_for("engineer").post("/api/v1/planning/technicians/",
                                           {**body, "name": "Y", "user": world.globex_owner.id},
                                           content_type="application/json")
    assert outsider.status_code == 400
    with tenant_context(world.acme):
        assert not Technician.objects.filter(name__in=["X", "Y"]).exists()


def test_api_part_needs_check_the_failure_mode(client_for, shop):
    client = client_for("engineer")
    bad = client.post("/api/v1/planning/part-needs/", {"machine_type": shop["motor"].machine_type.key,
                                                        "failure_mode": "nope", "part": "6309-2Z bearing"},
                      content_type="application/json")
    assert bad.status_code == 400 and "failure_mode" in bad.json()["error"]["details"]
    window = client.post("/api/v1/planning/windows/", {"machine": "Motor-001", "weekdays": [5, 6]},
                         content_type="application/json")
    assert window.status_code == 201 and window.json()["weekdays"] == [5, 6]


def test_api_plan_make_list_and_accept(client_for, world, shop):
    made = client_for("engineer").post("/api/v1/planning/plans/", {"horizon_days": 7},
                                       content_type="application/json")
    assert made.status_code == 202 and made.json()["status"] == "pending"
    plan_id = made.json()["id"]
    with tenant_context(world.acme):
        job_execute(job_id=made.json()["job_id"], handler=plan_run)
    listed = client_for("viewer").get("/api/v1/planning/plans/").json()["results"]
    assert [p["id"] for p in listed] == [plan_id] and listed[0]["status"] == "ready"
    assert client_for("viewer").post(f"/api/v1/planning/plans/{plan_id}/accept/").status_code == 403
    globex = client_for("globex_owner", tenant=world.globex)
    assert globex.post(f"/api/v1/planning/plans/{plan_id}/accept/").status_code == 404
    accepted = client_for("engineer").post(f"/api/v1/planning/plans/{plan_id}/accept/")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert client_for("engineer").post(f"/api/v1/planning/plans/{plan_id}/accept/").status_code == 200
    with tenant_context(world.acme):
        assert WorkOrder.objects.filter(machine=shop["motor"]).count() == 1
    bad = client_for("engineer").post("/api/v1/planning/plans/", {"horizon_days": 0}, content_type="application/json")
    assert bad.status_code == 400


# --- the page ----------------------------------------------------------------------------------


def test_page_shows_inputs_and_makes_a_plan(client_for, world, shop):
    page = client_for("viewer").get("/planning/")
    assert page.status_code == 200
    assert b"Dana" in page.content and b"6309-2Z bearing" in page.content and b"Make a plan" not in page.content
    assert client_for("globex_owner").get("/planning/").status_code == 404
    denied = client_for("viewer").post("/planning/plans/", {"horizon_days": 7})
    assert denied.status_code == 403
    with tenant_context(world.acme):
        assert not MaintenancePlan.objects.exists()
    made = client_for("engineer").post("/planning/plans/", {"horizon_days": 7, "budget": ""})
    assert made.status_code == 302
    with tenant_context(world.acme):
        plan = MaintenancePlan.objects.get()
    assert made["Location"] == f"/planning/plans/{plan.id}/"
    pending = client_for("viewer").get(made["Location"])
    assert pending.status_code == 200 and f'data-job="{plan.job_id}"'.encode() in pending.content
    bad = client_for("engineer").post("/planning/plans/", {"horizon_days": 0})
    assert bad.status_code == 400


def test_page_shows_the_plan_and_accepts_it(client_for, world, shop):
    with tenant_context(world.acme):
        plan = _made(world)
    detail = client_for("viewer").get(f"/planning/plans/{plan.id}/")
    html = detail.content.decode()
    assert "Motor-001" in html and "expected saving" in html and "Accept plan" not in html
    assert "Expected saving per day" in html
    assert client_for("globex_owner").get(f"/planning/plans/{plan.id}/").status_code == 404
    assert client_for("viewer").post(f"/planning/plans/{plan.id}/accept/").status_code == 403
    assert "Accept plan" in client_for("engineer").get(f"/planning/plans/{plan.id}/").content.decode()
    accepted = client_for("engineer").post(f"/planning/plans/{plan.id}/accept/", follow=True)
    text = accepted.content.decode()
    assert "Plan accepted: 1 work orders created, 0 updated." in text and "work-order board" in text
    with tenant_context(world.acme):
        order = WorkOrder.objects.get(machine=shop["motor"])
    assert f"WO-{order.id}" in text
    client_for("engineer").post(f"/planning/plans/{plan.id}/accept/")
    with tenant_context(world.acme):
        assert WorkOrder.objects.count() == 1


def test_nav_links_to_planning(client_for, shop):
    assert b'href="/planning/"' in client_for("viewer").get("/work-orders/").content


def test_budget_constraint_shown_on_the_page(client_for, world, shop):
    with tenant_context(world.acme):
        plan = _made(world, budget=Decimal("100"))
    html = client_for("viewer").get(f"/planning/plans/{plan.id}/").content.decode()
    assert "Budget binds: 1 worthwhile action left out" in html and "Worth doing but left out" in html
    assert timedelta(days=plan.horizon_days)  # the chart has one row per day
    assert html.count('aria-label="Saving on') == plan.horizon_days
