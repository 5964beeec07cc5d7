"""A technician works through a work order's checklist on a phone, in a real headless Chromium
against the served stack: one tap ticks an item (htmx swaps only that item and the progress
line), a measured value outside its limits is refused in words beside the item, a value inside
is kept, closing is refused while a required item is left and allowed once it is done.

One organization of its own (slug prefixed `checklists-`), committed for the servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from accounts.services import membership_add
from machines.services import machine_create, machine_type_adopt
from maintenance.checklist_models import ItemKind, WorkOrderChecklistItem
from maintenance.models import WorkOrder
from maintenance.services.checklists import ItemSpec, checklist_template_save
from maintenance.services.work_orders import work_order_create, work_order_transition
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop
from tests.live import module_stack

pytestmark = pytest.mark.live
SLUG = "checklists-works"
OWNER, TECHNICIAN = "owner@checklists-works.test", "tech@checklists-works.test"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


stack = module_stack("checklists")  # the served stack, on a port of its own


@pytest.fixture(scope="module")
def works(world: Any, django_db_blocker: Any) -> Iterator[tuple[Tenant, int]]:
    """The organization and an in-progress work order on its motor with a safety checklist."""
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Checklist Works", slug=SLUG, owner_email=OWNER,
                               owner_password=PASSWORD)
        technician = User.objects.create_user(TECHNICIAN, PASSWORD)
        membership_add(user=technician, tenant=signup.tenant, role=Role.ENGINEER)
        with tenant_context(signup.tenant):
            motor_type = machine_type_adopt(key=MOTOR)
            motor = machine_create(machine_type_id=motor_type.id, name="M-12", site="Plant A")
            checklist_template_save(machine_type_id=motor_type.id, name="Safety first", items=[
                ItemSpec(text="Lock out the motor", required=True),
                ItemSpec(text="Bearing temperature", kind=ItemKind.NUMBER, unit="°C", min_value=Decimal(10),
                         max_value=Decimal(90), required=True)])
            order = work_order_create(machine_id=motor.id, title="", failure_mode="bearing_wear", actor_id=None)
            work_order_transition(order_id=order.id, to_status=WorkOrder.Status.IN_PROGRESS, actor_id=None)
    yield signup.tenant, order.id
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[OWNER, TECHNICIAN])


def url(port: int, path: str = "/") -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


@pytest.fixture(scope="module")
def phone(browser: Any, stack: int, works: tuple[Tenant, int]) -> Iterator[Any]:
    _, order_id = works
    tab = browser.new_context(**PHONE).new_page()
    tab.context.set_default_timeout(20_000)
    path = f"/work-orders/{order_id}/"
    tab.goto(url(stack, f"/accounts/login/?next={path}"))
    tab.fill("input[name=username]", TECHNICIAN)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator("form button[type=submit]").click()
    tab.wait_for_url(url(stack, path))
    yield tab
    tab.context.close()


def _items(works: tuple[Tenant, int]) -> list[WorkOrderChecklistItem]:
    tenant, order_id = works
    with tenant_context(tenant):
        return list(WorkOrderChecklistItem.objects.filter(work_order_id=order_id).order_by("position"))


def test_one_tap_ticks_an_item_on_a_phone(phone: Any, works: tuple[Tenant, int], django_db_blocker: Any,
                                          shots: Path) -> None:
    progress = phone.locator("#checklist-progress")
    assert progress.inner_text() == "0 of 3 done · 2 required left"
    tick = phone.get_by_role("button", name="1. Lock out the motor")
    box = tick.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 300  # a thumb's target, the card's width
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    tick.tap()
    phone.locator("#checklist-progress", has_text="1 of 3 done").wait_for()
    assert phone.get_by_role("button", name="1. Lock out the motor").get_attribute("aria-pressed") == "true"
    assert phone.url.endswith(f"/work-orders/{works[1]}/")  # swapped in place, no page load
    with django_db_blocker.unblock():
        assert [item.done for item in _items(works)] == [True, False, False]
    phone.screenshot(path=str(shots / "work-order-checklist-phone.png"), full_page=True)


def test_a_value_outside_its_limits_is_refused_beside_the_item(phone: Any, works: tuple[Tenant, int],
                                                               django_db_blocker: Any) -> None:
    field = phone.get_by_label("2. Bearing temperature")
    field.fill("120")
    field.press("Enter")
    phone.get_by_role("alert").filter(has_text="must be between 10 and 90 °C").wait_for()
    phone.get_by_label("2. Bearing temperature").fill("64,5")
    phone.get_by_label("2. Bearing temperature").press("Enter")
    phone.locator("#checklist-progress", has_text="2 of 3 done · nothing required left").wait_for()
    with django_db_blocker.unblock():
        assert _items(works)[1].value_number == Decimal("64.5")


def test_closing_waits_for_the_required_items(phone: Any, works: tuple[Tenant, int], django_db_blocker: Any) -> None:
    phone.get_by_role("button", name="1. Lock out the motor").tap()  # untick: a required item is left again
    phone.locator("#checklist-progress", has_text="1 required left").wait_for()
    phone.get_by_role("radio", name="No").check()
    phone.get_by_label("Action taken").fill("Replaced the DE bearing")
    phone.get_by_role("button", name="Close work order").click()
    phone.get_by_text("Finish the required checklist items first: 1. Lock out the motor.").wait_for()
    phone.get_by_role("button", name="1. Lock out the motor").tap()
    phone.locator("#checklist-progress", has_text="nothing required left").wait_for()
    phone.get_by_role("radio", name="No").check()
    phone.get_by_label("Action taken").fill("Replaced the DE bearing")
    phone.get_by_role("button", name="Close work order").click()
    phone.get_by_text("Work order closed.").wait_for()
    tenant, order_id = works
    with django_db_blocker.unblock(), tenant_context(tenant):
        assert WorkOrder.objects.get(id=order_id).status == WorkOrder.Status.DONE


def test_the_templates_page_fits_a_phone(phone: Any, stack: int, shots: Path) -> None:
    phone.goto(url(stack, "/checklists/"))
    motor = phone.locator("section.card", has_text="Safety first")
    assert motor.get_by_role("button", name="Create from recommended actions").is_visible()
    assert "Drive-end bearing wear" in motor.inner_text()  # seeded when the type was adopted
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.screenshot(path=str(shots / "checklists-phone.png"), full_page=True)
    motor.get_by_role("link", name="Edit").first.click()
    phone.get_by_role("button", name="Save checklist").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # the rows scroll in their card
