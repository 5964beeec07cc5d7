"""Spare parts that move, in a real headless Chromium on a 390 px phone against the served stack: a
technician records the parts a work order uses, closes it, and the part's stock page shows them
gone, the ledger line and the low-stock mark; nothing on the way is wider than the phone.

Its own organization (`parts-shop`), committed for the server and dropped at the end.
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
from machines.services import machine_create, machine_type_adopt
from maintenance.services.work_orders import work_order_create, work_order_transition
from planning.models import SparePart
from planning.stock import spare_part_save
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop
from tests.live import module_stack

pytestmark = pytest.mark.live
SLUG = "parts-shop"
OWNER, ENGINEER = "owner@parts-shop.test", "engineer@parts-shop.test"
BEARING = "6309-2Z bearing"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


stack = module_stack("parts")  # the served stack, on a port of its own


@pytest.fixture(scope="module")
def shop(world: Any, django_db_blocker: Any) -> Iterator[tuple[Tenant, int, int]]:
    """The organization, its bearing (3 in stock, reorder at 1) and an in-progress work order."""
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Parts Shop", slug=SLUG, owner_email=OWNER, owner_password=PASSWORD)
        engineer = User.objects.create_user(ENGINEER, PASSWORD)
        membership_add(user=engineer, tenant=signup.tenant, role=Role.ENGINEER)
        with tenant_context(signup.tenant):
            machine = machine_create(machine_type_id=machine_type_adopt(key=MOTOR).id, name="M-9")
            part = spare_part_save(part=SparePart(), fields={"name": BEARING, "in_stock": 3, "reorder_point": 1},
                                   actor_id=None)
            order = work_order_create(machine_id=machine.id, title="Noisy bearing on M-9", actor_id=engineer.id)
            work_order_transition(order_id=order.id, to_status="in_progress", actor_id=engineer.id)
    yield signup.tenant, part.id, order.id
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[OWNER, ENGINEER])


def _url(port: int, path: str) -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


def _fits_the_phone(tab: Any) -> bool:
    return bool(tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_a_technician_records_parts_on_a_phone_and_the_close_takes_them(browser: Any, stack: int, shop: Any,
                                                                       shots: Path) -> None:
    _, part_id, order_id = shop
    tab = browser.new_context(**PHONE).new_page()
    tab.context.set_default_timeout(20_000)
    try:
        order_page = f"/work-orders/{order_id}/"
        tab.goto(_url(stack, f"/accounts/login/?next={order_page}"))
        tab.fill("input[name=username]", ENGINEER)
        tab.fill("input[name=password]", PASSWORD)
        tab.locator("form button[type=submit]").click()
        tab.wait_for_url(_url(stack, order_page))
        card = tab.locator("#parts")
        card.locator("select[name=part]").select_option(label=f"{BEARING} (3 in stock)")
        card.locator("input[name=quantity]").fill("2")
        card.get_by_role("button", name="Record parts used").click()
        tab.wait_for_url(_url(stack, order_page) + "#parts")
        row = tab.locator("table.work-order-parts tbody tr")
        assert row.count() == 1 and "reserved, 3 in stock" in row.inner_text()
        assert _fits_the_phone(tab)
        tab.screenshot(path=str(shots / "work-order-parts-phone.png"), full_page=True)

        close = tab.locator("form.work-order-close")
        close.locator("input[name=failure_found][value=no]").check()
        close.locator("textarea[name=action_taken]").fill("Bearing replaced, runs quiet")
        close.get_by_role("button", name="Close work order").click()
        tab.get_by_text("Work order closed.").wait_for()
        assert "taken from stock" in tab.locator("table.work-order-parts").inner_text()

        tab.locator("table.work-order-parts a", has_text=BEARING).click()
        tab.wait_for_url(_url(stack, f"/planning/parts/{part_id}/stock/"))
        assert tab.locator("#part-in-stock").inner_text() == "1"
        assert tab.get_by_text("Low stock", exact=True).is_visible()
        ledger = tab.locator("table.part-movements tbody tr").first.inner_text()
        assert "Used on a work order" in ledger and "-2" in ledger and f"WO-{order_id}" in ledger
        assert _fits_the_phone(tab)
    finally:
        tab.context.close()
