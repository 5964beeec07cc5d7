"""The checklist pages: the templates per machine type (read by all, written by engineers), the
"Create from recommended actions" button, a template written through the form, and a work
order's checklist on its page: ticked, measured (limits enforced), closing refused by name, the
history in words; roles and the second tenant refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from maintenance.checklist_models import ChecklistTemplate, ItemKind, WorkOrderChecklistItem
from maintenance.models import WorkOrder
from maintenance.services.checklists import ItemSpec, checklist_template_save
from maintenance.services.work_orders import work_order_create, work_order_transition

INDEX = "/checklists/"


@pytest.fixture
def safety(world: Any, motor: Any) -> ChecklistTemplate:
    with tenant_context(world.acme):
        return checklist_template_save(machine_type_id=motor.machine_type_id, name="Safety first", items=[
            ItemSpec(text="Lock out the motor", required=True),
            ItemSpec(text="Bearing temperature", kind=ItemKind.NUMBER, unit="°C", min_value=Decimal(10),
                     max_value=Decimal(90), required=True)])


@pytest.fixture
def order(world: Any, motor: Any, safety: ChecklistTemplate) -> WorkOrder:
    with tenant_context(world.acme):
        made = work_order_create(machine_id=motor.id, title="Check DE bearing", failure_mode="bearing_wear",
                                 actor_id=world.engineer.id)
        return work_order_transition(order_id=made.id, to_status=WorkOrder.Status.IN_PROGRESS, actor_id=None)


def _items(world: Any, order: WorkOrder) -> list[WorkOrderChecklistItem]:
    with tenant_context(world.acme):
        return list(WorkOrderChecklistItem.objects.filter(work_order=order).order_by("position"))


def _item_url(order: WorkOrder, item: WorkOrderChecklistItem) -> str:
    return f"/work-orders/{order.id}/checklist/{item.id}/"


def test_the_templates_page_lists_each_type_with_its_checklists(client_for: Any, safety: ChecklistTemplate) -> None:
    html = client_for("engineer").get(INDEX).content.decode()
    assert "Induction motor" in html and "Safety first" in html and "Every work order" in html
    assert "Drive-end bearing wear" in html  # seeded when the type was adopted
    assert "(number, °C, between 10 and 90 °C)" in html and "Create from recommended actions" in html
    viewer = client_for("viewer").get(INDEX)
    assert viewer.status_code == 200 and "Create from recommended actions" not in viewer.content.decode()


def test_create_from_recommended_actions_fills_the_modes_without_one(client_for: Any, world: Any,
                                                                     motor: Any) -> None:
    with tenant_context(world.acme):
        ChecklistTemplate.objects.filter(machine_type_id=motor.machine_type_id, failure_mode="misalignment").delete()
    engineer = client_for("engineer")
    seeded = engineer.post(f"/checklists/seed/{motor.machine_type_id}/", follow=True)
    assert "1 checklists made from the recommended actions." in seeded.content.decode()
    again = engineer.post(f"/checklists/seed/{motor.machine_type_id}/", follow=True)
    assert "Every failure mode of this type has a checklist already." in again.content.decode()
    with tenant_context(world.acme):
        assert ChecklistTemplate.objects.filter(failure_mode="misalignment").count() == 1


def _form(motor: Any, **extra: Any) -> dict[str, Any]:
    body = {"machine_type": motor.machine_type_id, "failure_mode": "bearing_wear", "name": "Bearing change",
            "items-TOTAL_FORMS": "3", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "100",
            "items-0-text": "Clearance", "items-0-kind": "number", "items-0-unit": "mm", "items-0-min_value": "0",
            "items-0-max_value": "0.2", "items-0-ORDER": "2", "items-0-required": "on",
            "items-1-text": "Photograph the old bearing", "items-1-kind": "tick", "items-1-ORDER": "1",
            "items-2-kind": "tick"}
    return {**body, **extra}


def test_a_checklist_written_on_the_page_keeps_its_order(client_for: Any, world: Any, motor: Any) -> None:
    engineer = client_for("engineer")
    assert engineer.get(f"/checklists/new/?type={motor.machine_type_id}").status_code == 200
    saved = engineer.post("/checklists/new/", _form(motor))
    assert saved.status_code == 302, saved.content.decode()
    with tenant_context(world.acme):
        template = ChecklistTemplate.objects.get(name="Bearing change")
        items = list(template.items.order_by("position"))
    assert [(i.text, i.kind, i.required) for i in items] == [("Photograph the old bearing", "tick", False),
                                                             ("Clearance", "number", True)]
    assert (items[1].unit, items[1].max_value) == ("mm", Decimal("0.2"))
    edit = engineer.get(f"/checklists/{template.id}/").content.decode()
    assert 'value="Photograph the old bearing"' in edit


def test_a_bad_checklist_form_says_why_and_saves_nothing(client_for: Any, world: Any, motor: Any) -> None:
    engineer = client_for("engineer")
    backwards = engineer.post("/checklists/new/", _form(motor, **{"items-0-min_value": "5"}))
    assert backwards.status_code == 400
    assert "Item 2: the lowest allowed value is above the highest." in backwards.content.decode()
    empty = engineer.post("/checklists/new/", _form(motor, **{"items-0-text": "", "items-1-text": "",
                                                              "items-0-kind": "tick", "items-0-unit": "",
                                                              "items-0-min_value": "", "items-0-max_value": "",
                                                              "items-0-ORDER": "", "items-1-ORDER": "",
                                                              "items-0-required": ""}))
    assert empty.status_code == 400 and "A checklist needs at least one item." in empty.content.decode()
    with tenant_context(world.acme):
        assert not ChecklistTemplate.objects.filter(name="Bearing change").exists()


def test_the_work_order_page_shows_and_records_the_checklist(client_for: Any, world: Any,
                                                             order: WorkOrder) -> None:
    engineer = client_for("engineer")
    page = engineer.get(f"/work-orders/{order.id}/").content.decode()
    assert 'id="checklist"' in page and "0 of 3 done" in page and "2 required left" in page
    assert "Safety first" in page and "Drive-end bearing wear" in page and "Allowed: between 10 and 90 °C" in page
    lock, temperature, _ = _items(world, order)
    ticked = engineer.post(_item_url(order, lock), {"done": "1"})
    assert ticked.status_code == 302 and ticked["Location"].endswith(f"#checklist-item-{lock.id}")
    swapped = engineer.post(_item_url(order, temperature), {"value": "64.5"}, HTTP_HX_REQUEST="true")
    fragment = swapped.content.decode()
    assert swapped.status_code == 200 and 'value="64.5"' in fragment
    assert 'id="checklist-progress" hx-swap-oob="true"' in fragment and "2 of 3 done" in fragment
    noted = engineer.post(_item_url(order, lock), {"note": "Padlock 7"}, HTTP_HX_REQUEST="true")
    assert 'value="Padlock 7"' in noted.content.decode()
    assert [(i.done, i.note) for i in _items(world, order)[:2]] == [(True, "Padlock 7"), (True, "")]
    history = engineer.get(f"/work-orders/{order.id}/").content.decode()
    history = history[history.index("work-order-history"):]
    assert "Checklist" in history and "Item: 2. Bearing temperature" in history and "Value: — → 64.5 °C" in history
    assert "Done: no → yes" in history and "Note: — → Padlock 7" in history


def test_a_value_out_of_range_is_refused_on_the_page(client_for: Any, world: Any, order: WorkOrder) -> None:
    engineer = client_for("engineer")
    temperature = _items(world, order)[1]
    refused = engineer.post(_item_url(order, temperature), {"value": "120"}, HTTP_HX_REQUEST="true")
    assert "“Bearing temperature” must be between 10 and 90 °C; 120 °C was entered." in refused.content.decode()
    without_js = engineer.post(_item_url(order, temperature), {"value": "120"}, follow=True)
    assert "must be between 10 and 90 °C" in without_js.content.decode()
    assert not _items(world, order)[1].done


def test_closing_on_the_page_names_the_required_items_left(client_for: Any, world: Any, order: WorkOrder) -> None:
    engineer = client_for("engineer")
    close = {"action": "close", "failure_found": "no", "action_taken": "Checked"}
    refused = engineer.post(f"/work-orders/{order.id}/", close, follow=True).content.decode()
    assert "Finish the required checklist items first: 1. Lock out the motor; 2. Bearing temperature." in refused
    lock, temperature, _ = _items(world, order)
    engineer.post(_item_url(order, lock), {"done": "1"})
    engineer.post(_item_url(order, temperature), {"value": "50"})
    closed = engineer.post(f"/work-orders/{order.id}/", close, follow=True).content.decode()
    assert "Work order closed." in closed
    assert 'class="checklist-answer-form"' not in closed and "50 °C" in closed  # read-only once closed


def test_roles_and_the_second_tenant_are_refused(client_for: Any, world: Any, order: WorkOrder,
                                                 safety: ChecklistTemplate, motor: Any) -> None:
    lock = _items(world, order)[0]
    viewer = client_for("viewer")
    page = viewer.get(f"/work-orders/{order.id}/").content.decode()
    assert "Lock out the motor" in page and 'class="checklist-answer-form"' not in page  # read only
    for url, body in ((_item_url(order, lock), {"done": "1"}), (f"/checklists/seed/{motor.machine_type_id}/", {}),
                      ("/checklists/new/", _form(motor)), (f"/checklists/{safety.id}/", _form(motor)),
                      (f"/checklists/{safety.id}/delete/", {})):
        assert viewer.post(url, body).status_code == 403, url
    for actor in ("globex_owner", "outsider"):
        other = client_for(actor)
        for url in (INDEX, f"/checklists/{safety.id}/", "/checklists/new/"):
            assert other.get(url).status_code == 404, (actor, url)
        assert other.post(_item_url(order, lock), {"done": "1"}).status_code == 404
    globex_home = client_for("globex_owner", tenant=world.globex)
    assert globex_home.get(f"/checklists/{safety.id}/").status_code == 404  # not in globex's schema
    assert "Safety first" not in globex_home.get(INDEX).content.decode()
    assert not _items(world, order)[0].done
    assert client_for("engineer").get(f"/work-orders/{order.id}/checklist/999999/").status_code == 404
