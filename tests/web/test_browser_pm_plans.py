"""PM plans on a phone, in a real headless Chromium against the served stack: from a machine's
page to its PM plans, a monthly plan added through the form, "Generate now" making its work order,
and the page fitting a 390 px screen (nothing wider than it but the tables, which scroll in their
card). The plan's first date is fixed (31 Jan 2099), so nothing depends on today's date."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.models import Machine
from machines.services import machine_create, machine_type_adopt
from maintenance.models import WorkOrder
from planning.models import PreventivePlan
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.conftest import committed_tenant_drop
from tests.live import free_port, web_stack

pytestmark = pytest.mark.live
SLUG = "pmplans-shop"  # a name no other module commits
EMAIL = "owner@pmplans-shop.test"
PASSWORD = "Correct-Horse-42"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def shop(world: Any, django_db_blocker: Any) -> Iterator[tuple[Tenant, int]]:
    """An organization with one Siemens motor (committed, for the server)."""
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="PM Plans Shop", slug=SLUG, owner_email=EMAIL,
                               owner_password=PASSWORD)
        with tenant_context(signup.tenant):
            motor_type = machine_type_adopt(key="induction-motor-siemens-1la7")
            machine = machine_create(machine_type_id=motor_type.id, name="Motor-7", site="Plant A")
    yield signup.tenant, machine.id
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[EMAIL])


@pytest.fixture(scope="module")
def stack(shop: tuple[Tenant, int], django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    with django_db_blocker.unblock(), web_stack(port=port, logs=tmp_path_factory.mktemp("pmplans")):
        yield port


def url(port: int, path: str) -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


def fits_the_screen(tab: Any) -> bool:
    return bool(tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_on_a_phone_add_a_pm_plan_and_generate_its_work_order(browser: Any, stack: int, shop: tuple[Tenant, int],
                                                              django_db_blocker: Any, shots: Path) -> None:
    tenant, machine_id = shop
    tab = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    tab.context.set_default_timeout(20_000)
    try:
        tab.goto(url(stack, f"/accounts/login/?next=/machines/{machine_id}/"))
        tab.fill("input[name=username]", EMAIL)
        tab.fill("input[name=password]", PASSWORD)
        tab.locator("form button[type=submit]").click()
        tab.wait_for_url(url(stack, f"/machines/{machine_id}/"))
        card = tab.locator("#pm-plans-card")
        assert "No preventive plans for this machine." in card.inner_text()
        card.get_by_role("link", name="Add or edit").click()
        tab.wait_for_url(url(stack, f"/planning/pm-plans/?machine={machine_id}"))
        assert fits_the_screen(tab)

        tab.get_by_text("Add a PM plan").click()
        form = tab.locator("form", has=tab.locator("input[name=title]"))
        form.locator("input[name=title]").fill("Regrease the drive-end bearing")
        form.locator("textarea[name=description]").fill("20 g of grease, then run 10 min.")
        form.locator("input[name=every]").fill("1")
        form.locator("select[name=unit]").select_option("months")
        form.locator("input[name=start_date]").fill("2099-01-31")
        form.locator("select[name=failure_mode]").select_option(label="Drive-end bearing wear")
        assert fits_the_screen(tab)
        form.get_by_role("button", name="Add PM plan").click()
        tab.wait_for_url(url(stack, f"/planning/pm-plans/?machine={machine_id}"))
        assert "Added PM plan" in tab.locator(".message.success").inner_text()
        row = tab.locator("tr.pm-plan")
        assert row.count() == 1
        assert "every 1 month from 31 Jan 2099" in row.inner_text() and "Sat 31 Jan 2099" in row.inner_text()
        assert fits_the_screen(tab)

        row.get_by_role("button", name="Generate now").click()
        tab.wait_for_url(url(stack, f"/planning/pm-plans/?machine={machine_id}"))
        assert "Generated WO-" in tab.locator(".message.success").inner_text()
        assert "Open" in tab.locator("tr.pm-plan").inner_text()
        tab.screenshot(path=str(shots / "pm-plans-phone.png"), full_page=True)
        with django_db_blocker.unblock(), tenant_context(tenant):
            plan = PreventivePlan.objects.get()
            order = WorkOrder.objects.get()
            assert (plan.failure_mode, order.title, order.failure_mode) == (
                "bearing_wear", "Regrease the drive-end bearing", "bearing_wear")
            assert Machine.objects.get(id=machine_id).work_orders.count() == 1
    finally:
        tab.context.close()
