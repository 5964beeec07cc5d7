"""Alerts and work orders that close the loop (issue 16), in a real headless Chromium against a
real ASGI server: a work order made by hand (the failure modes follow the chosen machine, the
assignee is picked by name), an alert whose work order is under way shown as being handled with
a link to it, the history in words, and on a phone the board opening on the column with work.

One organization (Initech) with a pump and a motor, committed for the server; the tests run in
file order. Screenshots go to PDM_SCREENSHOTS_DIR, as in test_browser_flow.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from accounts.services import membership_add
from machines.models import Machine
from machines.services import machine_create, machine_type_adopt
from maintenance.models import WorkOrder
from maintenance.services.alerts import alert_raise
from maintenance.services.work_orders import work_order_create, work_order_transition
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop
from tests.live import module_stack

pytestmark = pytest.mark.live
SLUG = "initrode"  # not "initech": tests/predictions/test_engine_live.py keeps one committed
OWNER, ENGINEER = "owner@initrode.test", "engineer@initrode.test"
PUMP = "centrifugal-pump"


stack = module_stack("work-orders")  # the served stack, on a port of its own


@pytest.fixture(scope="module")
def initrode(world: Any, django_db_blocker: Any) -> Iterator[Tenant]:
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Initrode", slug=SLUG, owner_email=OWNER, owner_password=PASSWORD)
        engineer = User.objects.create_user(ENGINEER, PASSWORD)
        User.objects.filter(id=engineer.id).update(full_name="Erin Engineer")
        User.objects.filter(id=signup.owner.id).update(full_name="Olga Owner")
        membership_add(user=engineer, tenant=signup.tenant, role=Role.ENGINEER)
        with tenant_context(signup.tenant):
            pump_type, motor_type = machine_type_adopt(key=PUMP), machine_type_adopt(key=MOTOR)
            machine_create(machine_type_id=pump_type.id, name="P-101", site="Plant A", line="Line 1")
            machine_create(machine_type_id=motor_type.id, name="M-7", site="Plant A", line="Line 2")
    yield signup.tenant
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[OWNER, ENGINEER])


def url(port: int, path: str = "/") -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


def signed_in(browser: Any, port: int, email: str, path: str, **context: Any) -> Any:
    tab = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context}).new_page()
    tab.context.set_default_timeout(20_000)
    tab.goto(url(port, f"/accounts/login/?next={path}"))
    tab.fill("input[name=username]", email)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator("form button[type=submit]").click()
    tab.wait_for_url(url(port, path))
    return tab


def initrode_machine(name: str) -> Any:
    return Machine.objects.get(name=name)


@pytest.fixture(scope="module")
def engineer_tab(browser: Any, stack: int, initrode: Tenant) -> Iterator[Any]:
    tab = signed_in(browser, stack, ENGINEER, "/work-orders/")
    yield tab
    tab.context.close()


def test_a_work_order_by_hand_offers_the_chosen_machines_modes_and_members_by_name(
        engineer_tab: Any, stack: int, initrode: Tenant, shots: Path) -> None:
    tab = engineer_tab
    tab.get_by_role("link", name="New work order").click()
    tab.wait_for_url(url(stack, "/work-orders/new/"))
    pump = tab.locator("#id_machine option", has_text="P-101 · Centrifugal pump").get_attribute("value")
    tab.select_option("#id_machine", value=pump)
    modes = tab.locator("#id_failure_mode optgroup:not([disabled]) option").all_inner_texts()
    assert modes == ["Impeller and wear-ring wear", "Cavitation (insufficient NPSH margin)",
                     "Mechanical seal failure", "Pump bearing failure"]  # the pump's modes only, by label
    tab.select_option("#id_failure_mode", label="Mechanical seal failure")
    tab.select_option("#id_priority", label="High")
    tab.fill("#id_due_at", "2026-12-10T07:00")
    assert "Erin Engineer" in tab.locator("#id_assignee option").all_inner_texts()
    tab.select_option("#id_assignee", label="Erin Engineer")
    tab.screenshot(path=str(shots / "work-order-new.png"), full_page=True)
    tab.get_by_role("button", name="Create work order").click()
    tab.wait_for_url("**/work-orders/*/")
    details = tab.locator("section.card").first.inner_text()
    assert "Mechanical seal failure" in details and "Erin Engineer" in details and "P-101" in details
    assert tab.get_by_role("heading", name="WO-").inner_text().endswith("Mechanical seal failure on P-101")
    history = tab.locator("table.work-order-history tbody").inner_text()
    assert "Created" in history and "Erin Engineer" in history and "None" not in history


def test_moves_read_as_words_in_the_history(engineer_tab: Any) -> None:
    tab = engineer_tab
    tab.get_by_role("button", name="Move to In Progress").click()
    tab.wait_for_load_state()
    history = tab.locator("table.work-order-history tbody").inner_text()
    assert "Open → In Progress" in history and "in_progress" not in history


def test_an_alert_being_worked_on_links_its_work_order(engineer_tab: Any, stack: int, initrode: Tenant,
                                                       django_db_blocker: Any, shots: Path) -> None:
    with django_db_blocker.unblock(), tenant_context(initrode):
        pump = initrode_machine("P-101")
        alert = alert_raise(machine_id=pump.id, failure_mode="cavitation", probability=0.9).alert
        assert alert is not None
        order = work_order_create(machine_id=pump.id, alert_id=alert.id, title="", actor_id=None)
        work_order_transition(order_id=order.id, to_status=WorkOrder.Status.IN_PROGRESS, actor_id=None)
    tab = engineer_tab
    tab.goto(url(stack, "/alerts/"))
    row = tab.locator(f"#alert-{alert.id}")
    assert row.locator(".badge.handled").inner_text() == "Being handled"
    assert row.get_by_role("button", name="Open work order").count() == 0
    tab.screenshot(path=str(shots / "alert-being-handled.png"), full_page=True)
    row.get_by_role("link", name=f"View WO-{order.id} (In Progress)").click()
    tab.wait_for_url(url(stack, f"/work-orders/{order.id}/"))


def test_on_a_phone_the_board_opens_on_the_column_with_work(browser: Any, stack: int, initrode: Tenant,
                                                            shots: Path) -> None:
    # The work orders so far are in progress: Open and Scheduled are empty.
    phone = signed_in(browser, stack, OWNER, "/work-orders/", viewport={"width": 390, "height": 844},
                      is_mobile=True, has_touch=True)
    try:
        column = phone.locator('.work-order-board [data-status="in_progress"]')
        column.locator(".ticket").first.wait_for()
        phone.wait_for_function("document.querySelector('.work-order-board').scrollLeft > 0")
        box, empty = column.bounding_box(), phone.locator('.work-order-board [data-status="open"]').bounding_box()
        assert box is not None and empty is not None
        assert 0 <= box["x"] < 60 and empty["x"] + empty["width"] <= 0  # in view; the empty one scrolled away
        phone.screenshot(path=str(shots / "work-orders-phone.png"))
    finally:
        phone.context.close()


def test_the_fleet_filters_list_each_site_and_line_once(engineer_tab: Any, stack: int) -> None:
    tab = engineer_tab
    tab.goto(url(stack, "/"))
    assert tab.locator("select[name=site] option").all_inner_texts() == ["All sites", "Plant A"]
    assert tab.locator("select[name=line] option").all_inner_texts() == ["All lines", "Line 1", "Line 2"]
