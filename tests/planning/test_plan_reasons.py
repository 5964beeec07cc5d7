"""A plan that fixes the right machine (issue 16): open alerts raise their failure mode's risk and
come first, a healthy machine's saving stays small, no job that saves nothing, costs nobody set
are marked as defaults and set on one page, skills typed as free text still find their repairs,
a worklist and a sentence per machine, and the solver's status in words."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django_tenants.utils import tenant_context

from jobs.services import job_execute
from machines.models import Machine, MachineType
from maintenance.models import Alert
from planning.inputs import technicians_input
from planning.models import CostsConfirmation, MaintenancePlan, Technician
from planning.optimizer import MIN_SAVING, MachineInput, Problem, TechnicianInput, solve
from planning.risk import day_probabilities
from planning.selectors import costs_default_types, skill_keys
from planning.services import plan_run, plan_start
from predictions.models import ModelVersion
from tests.planning.pumps import CAP_H, MONDAY, Pumps, predict, three_pumps

pytestmark = pytest.mark.django_db


@pytest.fixture
def pumps(world: Any) -> Any:
    with time_machine.travel(MONDAY, tick=False), tenant_context(world.acme):
        yield three_pumps()


def _plan(world: Any, horizon: int = 14) -> MaintenancePlan:
    plan = plan_start(horizon_days=horizon, budget=None, actor_id=world.engineer.id)
    assert plan.job_id is not None
    job_execute(job_id=plan.job_id, handler=plan_run)
    return MaintenancePlan.objects.get(id=plan.id)


def _machine(plan: MaintenancePlan, name: str) -> dict[str, Any]:
    return next(m for m in plan.inputs["machines"] if m["name"] == name)


def test_the_pump_with_the_critical_seal_alert_is_planned_and_the_healthy_ones_are_not(world, pumps: Pumps):
    plan = _plan(world)
    [action] = plan.result["actions"]
    assert (action["machine"], action["day"], action["failure_mode"]) == ("P-101", 0, "mechanical_seal_failure")
    assert action["failure_mode_label"] == "Mechanical seal failure"
    # Seal on a centrifugal pump: failure (1,800 + 6 h x 2,500) x 3.5 = 58,800; the job 1,800 + 800 + 15,000.
    assert (action["action_cost"], _machine(plan, "P-101")["failure_cost"]) == (17600, 58800)
    assert action["expected_saving"] > 30000
    for name in ("P-102", "P-103"):
        healthy = _machine(plan, name)
        # Health 98 with its RUL at the cap: about a 1% risk of any failure in two weeks, not certain
        # failure (the impeller rebuild "saving $81,689"); the job would cost more than it saves.
        assert healthy["risk_in_horizon"] < 0.05 and healthy["best_saving"] < 0
        assert healthy["expected_cost_without"] < 0.05 * healthy["failure_cost"]
    # Three pumps over two weeks: the alerted one's risk and two small ones, not $289,800.
    assert plan.result["expected_cost_without"] < 70000


def test_an_rul_at_its_cap_was_what_made_a_healthy_pump_certain_to_fail() -> None:
    """The bug, kept in view: the same prediction read with its capped RUL as a time to failure."""
    as_before = day_probabilities(probability=0.02, horizon_h=48, rul_h=CAP_H, rul_lower_h=0.8 * CAP_H,
                                  rul_upper_h=CAP_H, elapsed_h=0, days=14)
    now = day_probabilities(probability=0.02, horizon_h=48, rul_h=None, rul_lower_h=None, rul_upper_h=None,
                            elapsed_h=0, days=14, after_hazard_per_h=1 / 30000)
    assert sum(as_before) > 0.99 and sum(now) < 0.05


def test_an_rul_from_a_model_without_skill_is_not_counted(world, pumps: Pumps):
    version = ModelVersion.objects.create(
        machine_type=pumps.healthy[0].machine_type, kind=ModelVersion.Kind.RUL_REGRESSOR, number=1,
        data_source="simulated", data_fingerprint="x", artifact_path="x", artifact_sha256="x", metrics={"r2": 0.02})
    with time_machine.travel(MONDAY, tick=False):
        prediction = predict(pumps.healthy[0], probability=0.02, health=98, state="healthy", rul_h=60, at_cap=False)
        prediction.versions = {ModelVersion.Kind.RUL_REGRESSOR: version.id}
        prediction.save()
        assert _machine(_plan(world), "P-102")["risk_in_horizon"] < 0.05
        ModelVersion.objects.filter(id=version.id).update(metrics={"r2": 0.8})  # with skill, it counts
        assert _machine(_plan(world), "P-102")["risk_in_horizon"] > 0.9


def test_a_critical_alert_raises_its_modes_risk_and_a_warning_to_the_alert_level(world, pumps: Pumps):
    with time_machine.travel(MONDAY, tick=False):
        plan = _plan(world, horizon=2)
        alerted = _machine(plan, "P-101")
        # The prediction said 20%; the critical alert was raised at 80% (critical level: 65%).
        assert alerted["probability"] == 0.8 and alerted["priority"] == 1
        assert alerted["alert"]["severity"] == "critical" and alerted["failure_mode"] == "mechanical_seal_failure"
        Alert.objects.filter(id=pumps.alert.id).update(severity=Alert.Severity.WARNING, probability=0.1)
        warned = _machine(_plan(world, horizon=2), "P-101")
        assert warned["probability"] == 0.3 and warned["priority"] == 0  # the alert level (threshold)
        Alert.objects.filter(id=pumps.alert.id).update(status=Alert.Status.RESOLVED)
        assert _machine(_plan(world, horizon=2), "P-101")["probability"] == 0.2


def test_an_anomaly_alert_is_no_failure_risk(world, pumps: Pumps):
    """An anomaly alert stores the anomaly score as its probability (0.999 here); read as a failure
    risk it would plan the costliest repair on a pump whose readings are merely unusual."""
    healthy = pumps.healthy[0]
    Alert.objects.create(machine=healthy, kind=Alert.Kind.ANOMALY, failure_mode="", severity=Alert.Severity.WARNING,
                         probability=0.999, title="P-102: readings unlike its normal")
    with time_machine.travel(MONDAY, tick=False):
        plan = _plan(world)
    assert _machine(plan, "P-102")["alert"] is None and _machine(plan, "P-102")["risk_in_horizon"] < 0.05
    assert [action["machine"] for action in plan.result["actions"]] == ["P-101"]


def test_each_machine_gets_a_sentence_and_the_worklist_ranks_the_alert_first(world, pumps: Pumps):
    with time_machine.travel(MONDAY, tick=False):
        plan = _plan(world)
    reasons = {m["machine"]: m for m in plan.result["machines"]}
    assert reasons["P-101"]["in_plan"] and reasons["P-101"]["sentence"].startswith(
        "Planned Mon 30 Nov with Sam: open critical alert, ")
    assert "mechanical seal failure" in reasons["P-101"]["sentence"]
    for name in ("P-102", "P-103"):
        sentence = reasons[name]["sentence"]
        assert not reasons[name]["in_plan"]
        assert sentence.startswith("Left out: health 98, ") and "less than the $33,800 job" in sentence
    assert [w["machine"] for w in plan.result["worklist"]][0] == "P-101"
    assert plan.result["worklist"][0]["alert"] == "critical" and plan.result["worklist"][0]["planned_day"] == 0
    assert plan.result["status_text"] == "1 job planned: the best plan found for these 14 days."


def test_a_critical_alert_is_never_left_out_for_a_machine_without_one() -> None:
    """One technician-day for two jobs: the unalerted job saves more, the alerted one still goes first."""
    def machine(key: int, name: str, failure_cost: float, priority: int) -> MachineInput:
        return MachineInput(key=key, name=name, failure_mode="seal", skills=frozenset({"pump"}), action_cost=1000,
                            spend=500, failure_cost=failure_cost, hours=8, day_probabilities=(0.5,),
                            priority=priority)

    problem = Problem(horizon_days=1, machines=(machine(1, "alerted", 5_000, 1), machine(2, "bigger", 90_000, 0)),
                      technicians=(TechnicianInput(1, "Sam", frozenset({"pump"}), 8, frozenset({0})),))
    solution = solve(problem)
    assert [a.machine.name for a in solution.actions] == ["alerted"]
    [left] = solution.left_out
    assert left["machine"] == "bigger"
    assert "machines with an open critical alert" in left["reason"]
    greedy_first = solve(Problem(horizon_days=1, machines=(machine(2, "bigger", 90_000, 0),),
                                 technicians=problem.technicians))
    assert [a.machine.name for a in greedy_first.actions] == ["bigger"]  # alone it would be planned


def test_a_critical_alert_is_planned_ahead_of_a_machine_without_one() -> None:
    """Two days, one job a day: by saving alone the unalerted machine would take day 0 (its risk
    is mostly on day 0) and the alerted one day 1 (its risk is spread); the alert goes first."""
    sam = TechnicianInput(1, "Sam", frozenset({"pump"}), 8, frozenset({0, 1}))

    def machine(key: int, name: str, days: tuple[float, ...], priority: int) -> MachineInput:
        return MachineInput(key=key, name=name, failure_mode="seal", skills=frozenset({"pump"}), action_cost=1000,
                            spend=500, failure_cost=20_000, hours=8, day_probabilities=days, priority=priority)

    alerted, urgent = machine(1, "alerted", (0.3, 0.3), 1), machine(2, "unalerted", (0.8, 0.1), 0)
    by_saving = solve(Problem(horizon_days=2, machines=(replace(alerted, priority=0), urgent), technicians=(sam,)))
    assert [(a.machine.name, a.day) for a in by_saving.actions] == [("unalerted", 0), ("alerted", 1)]
    first = solve(Problem(horizon_days=2, machines=(alerted, urgent), technicians=(sam,)))
    assert [(a.machine.name, a.day) for a in first.actions] == [("alerted", 0), ("unalerted", 1)]


def test_no_job_that_saves_less_than_a_dollar() -> None:
    """A machine taken as due today saved $0.0001 on any later day: such a job is never planned."""
    due = MachineInput(key=1, name="due", failure_mode="seal", skills=frozenset({"pump"}), action_cost=17_600,
                       spend=2_600, failure_cost=58_800, hours=8, day_probabilities=(1 - 1e-9, 0.0, 0.0))
    busy_day_0 = TechnicianInput(1, "Sam", frozenset({"pump"}), 8, frozenset({1, 2}))
    solution = solve(Problem(horizon_days=3, machines=(due,), technicians=(busy_day_0,)))
    assert solution.actions == [] and solution.status == "nothing_to_do"
    assert all(a.saving >= MIN_SAVING for a in solve(Problem(horizon_days=3, machines=(due,), technicians=(
        TechnicianInput(1, "Sam", frozenset({"pump"}), 8, frozenset({0, 1, 2})),))).actions)


def test_an_empty_plan_reads_plainly(world, client_for):
    with time_machine.travel(MONDAY, tick=False), tenant_context(world.acme):
        plan = _plan(world)
    assert plan.result["status"] == "nothing_to_do"
    assert plan.result["status_text"] == "There is nothing to plan yet: no active machine has a prediction."
    html = client_for("viewer").get(f"/planning/plans/{plan.id}/").content.decode()
    visible = html[:html.index('<section class="card advanced"')]
    assert "There is nothing to plan yet" in visible
    assert "nothing_to_do" not in visible and "gap" not in visible
    assert "nothing_to_do, relative gap 0.000" in html  # behind Advanced


def test_skills_typed_as_free_text_find_their_repairs(world, pumps: Pumps):
    types = list(MachineType.objects.all())
    assert skill_keys("pumps", types) == {"pump"}
    assert skill_keys("seals", types) == {"mechanical_seal_failure"}
    assert skill_keys("Mechanical seal failure", types) == {"mechanical_seal_failure"}
    assert skill_keys("bearing_failure", types) == {"bearing_failure"}
    assert skill_keys("welding", types) == {"welding"}  # matches nothing, kept as typed
    [sam] = technicians_input(start=MONDAY.date(), horizon=3)
    assert sam.skills == {"pump", "mechanical_seal_failure"}


def test_costs_nobody_set_are_marked_until_saved_on_the_costs_page(world, pumps: Pumps, client_for):
    pump_type = pumps.alerted.machine_type
    with time_machine.travel(MONDAY, tick=False):
        plan = _plan(world)
    assert plan.result["costs_default"] and costs_default_types() == {pump_type.id}
    client = client_for("engineer")
    detail = client.get(f"/planning/plans/{plan.id}/").content.decode()
    assert "default costs — set your own" in detail and 'href="/planning/costs/"' in detail
    index = client.get("/planning/").content.decode()
    assert "(default costs)</a>" in index and "Set your costs</a>" in index
    page = client.get("/planning/costs/").content.decode()
    assert "Centrifugal pump" in page and "default — set your own" in page
    assert 'name="mode-mechanical_seal_failure-repair_cost"' in page
    fields = {"downtime_per_hour": "1000", "planned_maintenance": "800", "unplanned_failure_multiplier": "3.5",
              "mode-mechanical_seal_failure-repair_cost": "2000",
              **{f"machine-{m.id}-downtime": "2500" for m in (pumps.alerted, *pumps.healthy)}}
    response = client.post(f"/planning/costs/{pump_type.id}/", fields)
    assert response.status_code == 302
    pump_type.refresh_from_db()
    seal = next(m for m in pump_type.metadata["failure_modes"] if m["name"] == "mechanical_seal_failure")
    assert pump_type.metadata["costs"]["downtime_per_hour"] == 1000 and seal["repair_cost"] == 2000
    # Each pump's downtime cost was the type's old 2,500 copied at creation: it follows the new figure.
    assert set(Machine.objects.values_list("downtime_cost_per_hour", flat=True)) == {Decimal("1000.00")}
    assert CostsConfirmation.objects.filter(machine_type=pump_type).exists() and costs_default_types() == set()
    assert "Set your costs</a>" not in client.get("/planning/").content.decode()
    with time_machine.travel(MONDAY, tick=False):
        plan = _plan(world)
    assert not plan.result["costs_default"]
    assert _machine(plan, "P-101")["failure_cost"] == (2000 + 6 * 1000) * 3.5
    assert "costs-default" not in client.get("/planning/costs/").content.decode()


def test_costs_page_refuses_bad_figures_viewers_and_other_tenants(world, pumps: Pumps, client_for):
    pump_type = pumps.alerted.machine_type
    url = f"/planning/costs/{pump_type.id}/"
    response = client_for("engineer").post(url, {"downtime_per_hour": "-5", "unplanned_failure_multiplier": "0.5"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Downtime per hour: must be 0 or more." in body
    pump_type.refresh_from_db()
    assert pump_type.metadata["costs"]["downtime_per_hour"] == 2500
    response = client_for("engineer").post(url, {"unplanned_failure_multiplier": "0.5"})
    assert response.status_code == 400 and "unplanned_failure_multiplier" in response.content.decode()
    assert client_for("viewer").get("/planning/costs/").status_code == 200
    assert client_for("viewer").post(url, {"downtime_per_hour": "1"}).status_code == 403
    assert client_for("outsider").get("/planning/costs/").status_code == 404
    assert client_for("globex_owner").post(url, {"downtime_per_hour": "1"}).status_code == 404
    assert not CostsConfirmation.objects.exists()


def test_a_technician_chooses_skills_from_the_list_by_label(world, pumps: Pumps, client_for):
    client = client_for("engineer")
    page = client.get("/planning/").content.decode()
    assert '<option value="pump" >Pump: any repair</option>' in page
    assert '<option value="mechanical_seal_failure" >Mechanical seal failure (Centrifugal pump, end-suction' in page
    assert "Pump: any repair, Mechanical seal failure" not in page  # Sam's typed skills stay as typed...
    edit = client.get(f"/planning/technicians/{pumps.technician.id}/").content.decode()
    assert '<option value="pumps" selected>pumps (typed earlier)</option>' in edit  # ...and are kept on save
    response = client.post("/planning/technicians/", {"name": "Lee", "skills": ["pump", "mechanical_seal_failure"],
                                                      "hours_per_day": "8", "working_weekdays": ["0"]})
    assert response.status_code == 302
    assert Technician.objects.get(name="Lee").skills == ["mechanical_seal_failure", "pump"]
    assert "Mechanical seal failure, Pump: any repair" in client.get("/planning/").content.decode()
