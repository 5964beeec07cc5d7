"""Planning as a plant engineer meets it in a real headless Chromium against a real ASGI server
(issue 16): three pumps, one with a critical open seal alert, two healthy (tests/planning/pumps.py).
The plan schedules the alerted pump and says in a sentence why the healthy ones are left out; the
worklist ranks the alerted pump first; the solver's figures sit behind "Advanced"; the library's
example costs are marked and set on the costs page, which the plan links to; a technician's skills
are chosen from the failure modes by their labels.

The plan is computed here through the services at a named instant (no worker: the page reads the
stored plan). The tests run in file order and share one browser session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django_tenants.utils import tenant_context

from jobs.services import job_execute
from machines.models import MachineType
from planning.models import MaintenancePlan, Technician
from planning.services import plan_run, plan_start
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.conftest import committed_tenant_drop
from tests.live import free_port, web_stack
from tests.planning.pumps import MONDAY, three_pumps

pytestmark = pytest.mark.live
SLUG = "planning-pumps"  # a name no other module commits (test_engine_live keeps "initech")
EMAIL = "plant@planning-pumps.test"
PASSWORD = "Correct-Horse-42"


@pytest.fixture(scope="module")
def planning_pumps(world: Any, django_db_blocker: Any) -> Iterator[tuple[Tenant, int]]:
    """The organization with the three pumps and a plan made on MONDAY (committed, for the server)."""
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Planning Pumps", slug=SLUG, owner_email=EMAIL,
                               owner_password=PASSWORD)
        with time_machine.travel(MONDAY, tick=False), tenant_context(signup.tenant):
            three_pumps()
            plan = plan_start(horizon_days=14, budget=None, actor_id=signup.owner.id)
            assert plan.job_id is not None
            job_execute(job_id=plan.job_id, handler=plan_run)
    yield signup.tenant, plan.id
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[EMAIL])


@pytest.fixture(scope="module")
def stack(planning_pumps: tuple[Tenant, int], django_db_blocker: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    with django_db_blocker.unblock(), web_stack(port=port, logs=tmp_path_factory.mktemp("planning")):
        yield port


def url(port: int, path: str) -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


def test_the_plan_schedules_the_alerted_pump_and_says_why_the_others_are_out(
        page: Any, stack: int, planning_pumps: tuple[Tenant, int], shots: Path) -> None:
    plan_id = planning_pumps[1]
    page.goto(url(stack, f"/planning/plans/{plan_id}/"))
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(url(stack, f"/planning/plans/{plan_id}/"))
    assert page.locator(".plan-status").inner_text() == "1 job planned: the best plan found for these 14 days."
    rows = page.locator("tr.plan-action")
    assert rows.count() == 1 and "P-101" in rows.first.inner_text()
    assert "Mechanical seal failure" in rows.first.inner_text()
    worklist = page.locator("tr.worklist-row")
    assert worklist.count() == 3 and worklist.first.inner_text().split()[:3] == ["1", "P-101", "critical"]
    planned = page.locator("li.machine-reason.in-plan")
    assert planned.count() == 1 and "open critical alert" in planned.inner_text()
    left_out = page.locator("li.machine-reason.left-out")
    assert left_out.count() == 2
    for i in range(2):
        assert "Left out: health 98," in left_out.nth(i).inner_text()
        assert "less than the $33,800 job" in left_out.nth(i).inner_text()
    # Solver words only behind Advanced.
    assert not page.get_by_text("relative gap").is_visible()
    page.locator("[data-advanced-toggle]").check()  # the pages' one Advanced switch
    assert page.get_by_text("relative gap").is_visible()
    page.screenshot(path=str(shots / "planning-plan.png"), full_page=True)


def test_default_costs_are_marked_and_set_on_the_costs_page(page: Any, stack: int, planning_pumps: tuple[Tenant, int],
                                                           django_db_blocker: Any) -> None:
    page.get_by_role("link", name="default costs — set your own").click()
    page.wait_for_url(url(stack, "/planning/costs/"))
    section = page.locator("section.costs-type").first
    assert section.locator(".costs-default").inner_text() == "default — set your own"
    section.get_by_label("Mechanical seal failure: repair cost").fill("2400")
    section.get_by_role("button", name="Save the costs of").click()
    page.wait_for_url("**/planning/costs/#type-*")
    assert "Saved the costs of" in page.locator(".message.success").inner_text()
    assert page.locator(".costs-default").count() == 0
    with django_db_blocker.unblock(), tenant_context(planning_pumps[0]):
        pump = MachineType.objects.get()
        seal = next(m for m in pump.metadata["failure_modes"] if m["name"] == "mechanical_seal_failure")
        assert seal["repair_cost"] == 2400
        assert MaintenancePlan.objects.count() == 1  # a saved cost changes the next plan, not this one


def test_skills_are_chosen_from_the_failure_modes_by_label(page: Any, stack: int, planning_pumps: tuple[Tenant, int],
                                                           django_db_blocker: Any) -> None:
    page.goto(url(stack, "/planning/"))
    page.locator("#technicians ~ details summary, section[aria-labelledby=technicians] details summary").first.click()
    form = page.locator("form[action='/planning/technicians/']")
    form.locator("input[name=name]").fill("Lee")
    form.locator("select[name=skills]").select_option(label=["Pump: any repair"])
    form.get_by_role("button", name="Add technician").click()
    page.wait_for_url("**/planning/#technicians")
    row = page.locator("section[aria-labelledby=technicians] tr", has_text="Lee")
    assert "Pump: any repair" in row.inner_text()
    with django_db_blocker.unblock(), tenant_context(planning_pumps[0]):
        assert Technician.objects.get(name="Lee").skills == ["pump"]
