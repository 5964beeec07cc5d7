"""A technician works on a work order without network, in a real headless Chromium against the
served stack: the work order is opened online (the page's script stores the offline bundle and
the service worker's caches take the page), the network goes off (Playwright's
`context.set_offline`), the page is reloaded from the cache, an item is ticked and a note added
(both queued on the device, shown as waiting), the network comes back and the changes are synced:
on the server, in the audit trail under the technician's name, and reported on the page. Offline,
a page not kept falls back to the offline page drawn from what the device keeps; a close made
offline is applied when back. Then a conflict: a tick made offline on an order that the owner
cancelled meanwhile is not applied, and the page says who cancelled it.

One organization of its own (slug prefixed `offline-`), committed for the servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context
from PIL import Image

from accounts.models import User
from accounts.roles import Role
from accounts.services import membership_add
from machines.services import machine_create, machine_type_adopt
from maintenance.checklist_models import WorkOrderChecklistItem
from maintenance.models import Photo, WorkOrder, WorkOrderEvent
from maintenance.services.checklists import ItemSpec, checklist_template_save
from maintenance.services.work_orders import work_order_create, work_order_transition
from tenants.services import tenant_signup
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop
from tests.live import module_stack

pytestmark = pytest.mark.live
SLUG = "offline-works"
OWNER, TECHNICIAN = "owner@offline-works.test", "tech@offline-works.test"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


stack = module_stack("offline")  # the served stack, on a port of its own


@pytest.fixture(scope="module")
def works(world: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """The organization, its owner and technician, and an in-progress work order assigned to the
    technician with a two-item checklist."""
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Offline Works", slug=SLUG, owner_email=OWNER,
                               owner_password=PASSWORD)
        signup.owner.full_name = "Anna Berg"
        signup.owner.save(update_fields=["full_name"])
        technician = User.objects.create_user(TECHNICIAN, PASSWORD, full_name="Tom Field")
        membership_add(user=technician, tenant=signup.tenant, role=Role.ENGINEER)
        with tenant_context(signup.tenant):
            motor_type = machine_type_adopt(key=MOTOR)
            motor = machine_create(machine_type_id=motor_type.id, name="M-7", site="Plant A")
            checklist_template_save(machine_type_id=motor_type.id, name="Belt drive", items=[
                ItemSpec(text="Check belt tension", required=True), ItemSpec(text="Clean the guard")])
            order = work_order_create(machine_id=motor.id, title="Belt squeal", actor_id=signup.owner.id,
                                      assignee_id=technician.id)
            work_order_transition(order_id=order.id, to_status=WorkOrder.Status.IN_PROGRESS, actor_id=technician.id)
            other = work_order_create(machine_id=motor.id, title="Guard rattle", actor_id=signup.owner.id,
                                      assignee_id=technician.id)
    yield {"tenant": signup.tenant, "order": order.id, "other": other.id, "owner": signup.owner.id,
           "technician": technician.id}
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[OWNER, TECHNICIAN])


def url(port: int, path: str = "/") -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


@pytest.fixture(scope="module")
def phone(browser: Any, stack: int, works: dict[str, Any]) -> Iterator[Any]:
    tab = browser.new_context(**PHONE).new_page()
    tab.context.set_default_timeout(20_000)
    path = f"/work-orders/{works['order']}/"
    tab.goto(url(stack, f"/accounts/login/?next={path}"))
    tab.fill("input[name=username]", TECHNICIAN)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator("form button[type=submit]").click()
    tab.wait_for_url(url(stack, path))
    yield tab
    tab.context.close()


def _kept(phone: Any, path: str) -> None:
    """Wait until the service worker controls the page and the work order's page is cached."""
    phone.wait_for_function("() => navigator.serviceWorker.controller !== null")
    phone.locator("html[data-offline-ready='1']").wait_for(state="attached")
    phone.wait_for_function(
        "async (path) => Boolean(await (await caches.open('pdm-offline-pages-v1')).match(path))", arg=path)


def _items(works: dict[str, Any]) -> list[WorkOrderChecklistItem]:
    with tenant_context(works["tenant"]):
        return list(WorkOrderChecklistItem.objects.filter(work_order_id=works["order"]).order_by("position"))


def test_ticks_and_notes_made_offline_sync_when_back(phone: Any, works: dict[str, Any], django_db_blocker: Any,
                                                     shots: Path) -> None:
    path = f"/work-orders/{works['order']}/"
    _kept(phone, path)
    phone.context.set_offline(True)
    phone.reload()  # from the service worker's cache: there is no network
    phone.get_by_role("heading", name=f"WO-{works['order']}: Belt squeal").wait_for()
    phone.locator(".offline-state", has_text="Offline").wait_for()
    phone.get_by_role("button", name="1. Check belt tension").tap()
    item = phone.locator(f"#checklist-item-{_items_unblocked(works, django_db_blocker)[0].id}")
    item.locator(".offline-queued").wait_for()
    assert phone.get_by_role("button", name="1. Check belt tension").get_attribute("aria-pressed") == "true"
    assert phone.locator("#checklist-progress").inner_text() == "1 of 2 done · nothing required left"
    item.locator("summary", has_text="Note").tap()
    item.get_by_label("Note on item 1").fill("Belt glazed, re-tensioned")
    item.get_by_role("button", name="Save note").tap()
    phone.locator(".offline-count", has_text="2 changes waiting to sync.").wait_for()
    phone.screenshot(path=str(shots / "work-order-offline-phone.png"), full_page=True)
    with django_db_blocker.unblock():
        assert [i.done for i in _items(works)] == [False, False]  # nothing reached the server yet

    phone.context.set_offline(False)
    phone.locator(".offline-outcome.applied").nth(1).wait_for()  # synced, then the page reloaded
    assert "Check belt tension" in phone.locator(".offline-outcomes").inner_text()
    assert phone.locator(".offline-count").count() == 0
    with django_db_blocker.unblock():
        first = _items(works)[0]
        assert (first.done, first.note, first.done_by_id) == (True, "Belt glazed, re-tensioned", works["technician"])
        with tenant_context(works["tenant"]):
            trail = list(WorkOrderEvent.objects.filter(work_order_id=works["order"], action="checklist"))
        assert [e.actor_id for e in trail] == [works["technician"]] * 2
    phone.get_by_role("button", name="1. Check belt tension").wait_for()
    assert phone.get_by_role("button", name="1. Check belt tension").get_attribute("aria-pressed") == "true"
    phone.get_by_role("button", name="Dismiss").tap()
    phone.locator(".offline-outcomes").wait_for(state="detached")


def test_the_offline_page_lists_what_the_device_keeps(phone: Any, stack: int, works: dict[str, Any],
                                                      shots: Path) -> None:
    """Offline, a page that is not kept (the alerts) falls back to the offline page, drawn from
    IndexedDB: the work order, its machine's health and checklist progress."""
    _kept(phone, f"/work-orders/{works['order']}/")
    phone.context.set_offline(True)
    try:
        phone.goto(url(stack, "/alerts/"))
        phone.get_by_role("heading", name="Offline work").wait_for()
        card = phone.locator(".offline-order", has_text=f"WO-{works['order']}: Belt squeal")
        card.wait_for()
        assert "M-7 · health: not scored · checklist 1 of 2 done" in card.inner_text()
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        phone.screenshot(path=str(shots / "offline-page-phone.png"), full_page=True)
        card.get_by_role("link").click()  # the work order's own page, from the cache
        phone.get_by_role("button", name="2. Clean the guard").wait_for()
    finally:
        phone.context.set_offline(False)


def _items_unblocked(works: dict[str, Any], blocker: Any) -> list[WorkOrderChecklistItem]:
    with blocker.unblock():
        return _items(works)


def test_closing_offline_is_applied_when_back(phone: Any, stack: int, works: dict[str, Any],
                                             django_db_blocker: Any) -> None:
    phone.goto(url(stack, f"/work-orders/{works['order']}/"))
    _kept(phone, f"/work-orders/{works['order']}/")
    phone.context.set_offline(True)
    phone.get_by_role("radio", name="No").check()
    phone.get_by_label("Action taken").fill("Re-tensioned the belt")
    phone.get_by_role("button", name="Close work order").click()
    phone.locator(".offline-count", has_text="1 change waiting to sync.").wait_for()
    phone.context.set_offline(False)
    phone.locator(".offline-outcome.applied", has_text=f"WO-{works['order']} closed.").wait_for()
    phone.locator(".badge.done").first.wait_for()  # the page reloaded with the server's state
    with django_db_blocker.unblock(), tenant_context(works["tenant"]):
        closed = WorkOrder.objects.get(id=works["order"])
        assert (closed.status, closed.action_taken) == (WorkOrder.Status.DONE, "Re-tensioned the belt")
        assert WorkOrderEvent.objects.get(work_order=closed, action="closed").actor_id == works["technician"]
    phone.get_by_role("button", name="Dismiss").tap()


def test_an_answer_the_server_did_not_get_is_queued_too(phone: Any, stack: int, works: dict[str, Any],
                                                        django_db_blocker: Any) -> None:
    """The browser says online, but the server cannot be reached (requests aborted): the tick is
    queued as if offline, and "Sync now" sends it once the server answers again."""
    path = f"/work-orders/{works['other']}/"
    phone.goto(url(stack, path))
    _kept(phone, path)
    phone.route("**/checklist/**", lambda route: route.abort())
    phone.get_by_role("button", name="1. Check belt tension").tap()
    phone.locator(".offline-count", has_text="1 change waiting to sync.").wait_for()
    phone.unroute("**/checklist/**")
    phone.get_by_role("button", name="Sync now").tap()
    phone.locator(".offline-outcome.applied", has_text="Check belt tension").wait_for()
    with django_db_blocker.unblock(), tenant_context(works["tenant"]):
        assert list(WorkOrderChecklistItem.objects.filter(work_order_id=works["other"]).order_by("position")
                    .values_list("done", flat=True)) == [True, False]
    phone.get_by_role("button", name="Dismiss").tap()


def test_a_photo_taken_offline_is_uploaded_when_back(phone: Any, stack: int, works: dict[str, Any],
                                                     django_db_blocker: Any, tmp_path: Path) -> None:
    """The photo waits on the device (IndexedDB keeps the file) and goes with the sync."""
    picture = tmp_path / "guard.png"
    Image.new("RGB", (80, 60), "orange").save(picture)
    path = f"/work-orders/{works['other']}/"
    phone.goto(url(stack, path))
    _kept(phone, path)
    phone.context.set_offline(True)
    phone.set_input_files("#photo-file", str(picture))
    phone.fill("#photo-caption", "Guard bracket")
    phone.get_by_role("button", name="Add photo").click()
    phone.locator(".offline-count", has_text="1 change waiting to sync.").wait_for()
    phone.context.set_offline(False)
    phone.locator(".offline-outcome.applied", has_text="your photo was added").wait_for()
    with django_db_blocker.unblock(), tenant_context(works["tenant"]):
        assert [(p.caption, p.uploaded_by_id, p.width) for p in Photo.objects.filter(work_order_id=works["other"])] == [
            ("Guard bracket", works["technician"], 80)]
    phone.get_by_role("button", name="Dismiss").tap()


def test_a_tick_on_an_order_cancelled_meanwhile_is_not_applied(phone: Any, stack: int, works: dict[str, Any],
                                                               django_db_blocker: Any, shots: Path) -> None:
    path = f"/work-orders/{works['other']}/"
    phone.goto(url(stack, path))
    _kept(phone, path)
    phone.context.set_offline(True)
    phone.get_by_role("button", name="2. Clean the guard").tap()
    phone.locator(".offline-count", has_text="1 change waiting to sync.").wait_for()
    with django_db_blocker.unblock(), tenant_context(works["tenant"]):
        work_order_transition(order_id=works["other"], to_status=WorkOrder.Status.CANCELLED, actor_id=works["owner"])
    phone.context.set_offline(False)
    conflict = phone.locator(".offline-outcome.conflict")
    conflict.wait_for()
    text = conflict.inner_text()
    assert f"WO-{works['other']} was cancelled by Anna Berg at " in text
    assert "your tick on “Clean the guard” was not applied." in text
    phone.screenshot(path=str(shots / "work-order-offline-conflict-phone.png"), full_page=True)
    with django_db_blocker.unblock(), tenant_context(works["tenant"]):
        assert list(WorkOrderChecklistItem.objects.filter(work_order_id=works["other"]).order_by("position")
                    .values_list("done", flat=True)) == [True, False]
