"""Checklists through the API and the services: seeded from a type's recommended actions, copied
onto new work orders as a snapshot, answered item by item into the audit trail, values checked
against their limits, closing refused while required items are left, and isolation."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.library import library_get
from machines.models import MachineType
from maintenance.checklist_models import ChecklistTemplate, WorkOrderChecklistItem
from maintenance.models import WorkOrderEvent
from maintenance.services.checklists import recommended_steps
from tests.conftest import MOTOR

JSON = "application/json"
TEMPLATES = "/api/v1/checklist-templates/"
SAFETY: dict[str, Any] = {"machine_type": MOTOR, "name": "Safety first", "items": [
    {"text": "Lock out and tag out the motor", "required": True},
    {"text": "Bearing temperature after the run", "kind": "number", "unit": "°C", "min_value": "10",
     "max_value": "90", "required": True},
    {"text": "What the coupling looked like", "kind": "text"},
]}


def _modes() -> list[dict[str, Any]]:
    return library_get(MOTOR)["failure_modes"]  # type: ignore[no-any-return]


def _order(client: Any, mode: str = "bearing_wear") -> dict[str, Any]:
    response = client.post("/api/v1/work-orders/", {"machine": "Motor-001", "failure_mode": mode}, content_type=JSON)
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def _items(client: Any, order_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/work-orders/{order_id}/checklist/")
    assert response.status_code == 200, response.content
    return response.json()["results"]  # type: ignore[no-any-return]


def _answer(client: Any, order_id: int, item_id: int, **body: Any) -> Any:
    return client.patch(f"/api/v1/work-orders/{order_id}/checklist/{item_id}/", body, content_type=JSON)


def test_a_recommended_action_becomes_steps_never_cut_inside_parentheses() -> None:
    assert recommended_steps("Restore suction conditions (open suction valve; clean the strainer); inspect the "
                             "impeller for pitting. Log it in the 7.5 kW motor's book.") == [
        "Restore suction conditions (open suction valve; clean the strainer).",
        "Inspect the impeller for pitting.", "Log it in the 7.5 kW motor's book."]
    assert recommended_steps("  ") == []


def test_adopting_a_type_seeds_a_checklist_per_failure_mode_once(client_for: Any, motor: Any, world: Any) -> None:
    engineer = client_for("engineer")
    templates = engineer.get(TEMPLATES, {"machine_type__key": MOTOR}).json()["results"]
    by_mode = {t["failure_mode"]: t for t in templates}
    assert set(by_mode) == {mode["name"] for mode in _modes()}
    for mode in _modes():
        seeded = by_mode[mode["name"]]
        assert seeded["name"] == mode["label"] and seeded["source"] == "recommended"
        assert [i["text"] for i in seeded["items"]] == recommended_steps(mode["recommended_action"])
        assert all(i["kind"] == "tick" and not i["required"] for i in seeded["items"])  # the plant decides
    again = engineer.post(TEMPLATES + "seed/", {"machine_type": MOTOR}, content_type=JSON)
    assert again.status_code == 201 and again.json() == []
    gone = by_mode["bearing_wear"]["id"]
    assert engineer.delete(f"{TEMPLATES}{gone}/").status_code == 204
    refilled = engineer.post(TEMPLATES + "seed/", {"machine_type": MOTOR}, content_type=JSON).json()
    assert [t["failure_mode"] for t in refilled] == ["bearing_wear"]


def test_a_new_work_order_gets_a_snapshot_of_the_matching_templates(client_for: Any, motor: Any) -> None:
    engineer = client_for("engineer")
    safety = engineer.post(TEMPLATES, SAFETY, content_type=JSON)
    assert safety.status_code == 201, safety.content
    order = _order(engineer)
    items = _items(engineer, order["id"])
    bearing = [m for m in _modes() if m["name"] == "bearing_wear"][0]
    # The type's checklist for every work order first, then the failure mode's.
    assert [i["text"] for i in items] == [i["text"] for i in SAFETY["items"]] + recommended_steps(
        bearing["recommended_action"])
    assert [i["position"] for i in items] == list(range(1, len(items) + 1))
    assert items[1]["unit"] == "°C" and items[1]["min_value"] == "10.0000" and items[1]["required"]
    edited = engineer.patch(f"{TEMPLATES}{safety.json()['id']}/", {"items": [{"text": "Only this now"}]},
                            content_type=JSON)
    assert edited.status_code == 200 and [i["text"] for i in edited.json()["items"]] == ["Only this now"]
    assert [i["text"] for i in _items(engineer, order["id"])] == [i["text"] for i in items]  # unchanged
    later = _order(engineer, mode="misalignment")
    assert [i["text"] for i in _items(engineer, later["id"])] == [
        "Only this now", "Laser-align the motor to the driven machine and correct any soft foot."]


def test_answers_are_recorded_in_the_audit_trail(client_for: Any, motor: Any, world: Any) -> None:
    engineer = client_for("engineer")
    engineer.post(TEMPLATES, SAFETY, content_type=JSON)
    order = _order(engineer)
    tick, number, text = _items(engineer, order["id"])[:3]
    ticked = _answer(engineer, order["id"], tick["id"], done=True, note="Padlock 7")
    assert ticked.status_code == 200 and ticked.json()["done"] and ticked.json()["done_by"] == world.engineer.id
    measured = _answer(engineer, order["id"], number["id"], value="71,5")  # a decimal comma from a phone
    assert measured.json()["value"] == "71.5" and measured.json()["done"]
    assert _answer(engineer, order["id"], text["id"], value="Worn, replaced").json()["done"]
    assert _answer(engineer, order["id"], tick["id"], done=True, note="Padlock 7").status_code == 200  # no change
    history = engineer.get(f"/api/v1/work-orders/{order['id']}/events/").json()
    events = [e for e in history if e["action"] == "checklist"]
    assert [e["changes"] for e in events] == [
        {"item": "1. Lock out and tag out the motor", "done": [False, True], "note": [None, "Padlock 7"]},
        {"item": "2. Bearing temperature after the run", "done": [False, True], "value": [None, "71.5 °C"]},
        {"item": "3. What the coupling looked like", "done": [False, True], "value": [None, "Worn, replaced"]},
    ]
    assert {e["actor"] for e in events} == {world.engineer.id}
    cleared = _answer(engineer, order["id"], number["id"], value="")
    assert cleared.json()["done"] is False and cleared.json()["value"] is None


@pytest.mark.parametrize(("value", "code", "words"), [
    ("95", "out_of_range", "must be between 10 and 90 °C; 95 °C was entered"),
    ("-3", "out_of_range", "between 10 and 90 °C"),
    ("hot", "invalid", "needs a number"),
    ("NaN", "invalid", "not a measurable value"),
    ("1e12", "invalid", "not a measurable value"),
])
def test_a_value_outside_its_limits_is_refused_and_changes_nothing(client_for: Any, motor: Any, world: Any,
                                                                   value: str, code: str, words: str) -> None:
    engineer = client_for("engineer")
    engineer.post(TEMPLATES, SAFETY, content_type=JSON)
    order = _order(engineer)
    number = _items(engineer, order["id"])[1]
    refused = _answer(engineer, order["id"], number["id"], value=value)
    assert refused.status_code == 400, refused.content
    error = refused.json()["error"]
    assert error["code"] == code and words in error["message"] and "Bearing temperature" in error["message"]
    assert _items(engineer, order["id"])[1]["done"] is False
    with tenant_context(world.acme):
        assert not WorkOrderEvent.objects.filter(work_order_id=order["id"], action="checklist").exists()


def test_a_tick_takes_no_value_and_a_number_is_done_by_its_value(client_for: Any, motor: Any) -> None:
    engineer = client_for("engineer")
    engineer.post(TEMPLATES, SAFETY, content_type=JSON)
    order = _order(engineer)
    tick, number = _items(engineer, order["id"])[:2]
    assert _answer(engineer, order["id"], tick["id"], value="3").status_code == 400
    assert _answer(engineer, order["id"], number["id"], done=True).json()["error"]["details"] == {
        "done": ["number item"]}
    assert _answer(engineer, order["id"], 999_999, done=True).status_code == 404


def test_closing_is_refused_naming_the_required_items_left_then_allowed(client_for: Any, motor: Any) -> None:
    engineer = client_for("engineer")
    engineer.post(TEMPLATES, SAFETY, content_type=JSON)
    order = _order(engineer)
    url = f"/api/v1/work-orders/{order['id']}/"
    engineer.post(url + "transition/", {"status": "in_progress"}, content_type=JSON)
    tick, number = _items(engineer, order["id"])[:2]
    _answer(engineer, order["id"], tick["id"], done=True)
    close = {"failure_found": False, "action_taken": "Checked"}
    refused = engineer.post(url + "close/", close, content_type=JSON)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "checklist_unfinished" and error["details"] == {"items": ["2"]}
    assert error["message"] == "Finish the required checklist items first: 2. Bearing temperature after the run."
    assert engineer.get(url).json()["status"] == "in_progress"
    _answer(engineer, order["id"], number["id"], value="60")
    closed = engineer.post(url + "close/", close, content_type=JSON)  # optional items may stay open
    assert closed.status_code == 200 and closed.json()["status"] == "done"
    frozen = _answer(engineer, order["id"], tick["id"], done=False)
    assert frozen.status_code == 409 and frozen.json()["error"]["code"] == "work_order_closed"


def test_cancelling_needs_no_checklist(client_for: Any, motor: Any) -> None:
    engineer = client_for("engineer")
    engineer.post(TEMPLATES, SAFETY, content_type=JSON)
    order = _order(engineer)
    cancelled = engineer.post(f"/api/v1/work-orders/{order['id']}/transition/", {"status": "cancelled"},
                              content_type=JSON)
    assert cancelled.status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({**SAFETY, "items": []}, "items"),
    ({**SAFETY, "items": [{"text": "  "}]}, "items"),
    ({**SAFETY, "items": [{"text": "Gap", "kind": "number", "min_value": "5", "max_value": "1"}]}, "items"),
    ({**SAFETY, "items": [{"text": "Gap", "kind": "gauge"}]}, "items"),
    ({**SAFETY, "failure_mode": "gremlins"}, "failure_mode"),
    ({**SAFETY, "machine_type": "no-such-type"}, "machine_type"),
    ({**SAFETY, "name": ""}, "name"),
])
def test_a_bad_template_is_refused_with_the_field_and_saves_nothing(client_for: Any, motor: Any, world: Any,
                                                                   body: dict[str, Any], field: str) -> None:
    with tenant_context(world.acme):
        before = ChecklistTemplate.objects.count()
    refused = client_for("engineer").post(TEMPLATES, body, content_type=JSON)
    assert refused.status_code == 400, refused.content
    assert field in refused.json()["error"]["details"], refused.json()
    with tenant_context(world.acme):
        assert ChecklistTemplate.objects.count() == before


def test_a_template_keeps_its_machine_type(client_for: Any, motor: Any, world: Any) -> None:
    engineer = client_for("engineer")
    template = engineer.post(TEMPLATES, SAFETY, content_type=JSON).json()
    assert engineer.post("/api/v1/machine-types/adopt/", {"key": "centrifugal-pump"},
                         content_type=JSON).status_code == 201
    moved = engineer.patch(f"{TEMPLATES}{template['id']}/", {"machine_type": "centrifugal-pump"}, content_type=JSON)
    assert moved.status_code == 400 and moved.json()["error"]["details"] == {"machine_type": ["immutable"]}
    renamed = engineer.patch(f"{TEMPLATES}{template['id']}/", {"name": "Safety", "failure_mode": "Drive-end "
                                                               "bearing wear"}, content_type=JSON)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Safety"
    assert renamed.json()["failure_mode"] == "bearing_wear" and len(renamed.json()["items"]) == 3  # label -> name


def test_roles_and_tenants(client_for: Any, key_client: Any, motor: Any, world: Any) -> None:
    engineer, viewer = client_for("engineer"), client_for("viewer")
    template = engineer.post(TEMPLATES, SAFETY, content_type=JSON).json()
    order = _order(engineer)
    item = _items(engineer, order["id"])[0]
    item_url = f"/api/v1/work-orders/{order['id']}/checklist/{item['id']}/"
    # A viewer reads templates and checklists, and changes nothing.
    assert viewer.get(TEMPLATES).status_code == 200 and viewer.get(item_url).status_code == 200
    assert viewer.patch(item_url, {"done": True}, content_type=JSON).status_code == 403
    assert viewer.post(TEMPLATES, SAFETY, content_type=JSON).status_code == 403
    assert viewer.post(TEMPLATES + "seed/", {"machine_type": MOTOR}, content_type=JSON).status_code == 403
    assert viewer.delete(f"{TEMPLATES}{template['id']}/").status_code == 403
    assert key_client(["read"]).patch(item_url, {"done": True}, content_type=JSON).status_code == 403
    assert key_client(["read", "write"]).patch(item_url, {"done": True}, content_type=JSON).status_code == 200
    # The second tenant: acme's host refuses its owner, and through its own key it finds nothing of acme's.
    globex_owner = client_for("globex_owner")
    for url in (TEMPLATES, f"{TEMPLATES}{template['id']}/", item_url, f"/api/v1/work-orders/{order['id']}/checklist/"):
        assert globex_owner.get(url).status_code == 404, url
        assert client_for("outsider").get(url).status_code == 404, url
    globex = key_client(["read", "write"], tenant=world.globex)
    assert globex.get(TEMPLATES).json()["results"] == []
    assert globex.get(f"{TEMPLATES}{template['id']}/").status_code == 404
    assert globex.get(f"/api/v1/work-orders/{order['id']}/checklist/").status_code == 404
    assert globex.patch(item_url, {"done": False}, content_type=JSON).status_code == 404
    assert client_for(None).get(TEMPLATES).status_code == 401
    with tenant_context(world.acme):
        assert WorkOrderChecklistItem.objects.get(id=item["id"]).done  # the key with write, not globex, ticked it


def test_a_type_made_without_the_library_can_be_seeded_from_its_actions(db: None, in_acme: Any) -> None:
    from maintenance.services.checklists import checklist_templates_seed

    document = library_get("centrifugal-pump")
    bare = MachineType.objects.create(key="bare-pump", name="Bare pump", category="pump", metadata=document)
    assert not ChecklistTemplate.objects.filter(machine_type=bare).exists()
    made = checklist_templates_seed(machine_type_id=bare.id)
    assert len(made) == len(document["failure_modes"])
    assert checklist_templates_seed(machine_type_id=bare.id) == []


def test_an_imported_type_is_seeded_and_a_refused_import_leaves_no_template(client_for: Any, world: Any) -> None:
    engineer = client_for("engineer")
    document = {**library_get("centrifugal-pump"), "key": "own-pump", "name": "Our pump"}
    imported = engineer.post("/api/v1/machine-types/", document, content_type=JSON)
    assert imported.status_code == 201, imported.content
    seeded = engineer.get(TEMPLATES, {"machine_type__key": "own-pump"}).json()["results"]
    assert len(seeded) == len(document["failure_modes"])
    with tenant_context(world.acme):
        before = ChecklistTemplate.objects.count()
    assert engineer.post("/api/v1/machine-types/", document, content_type=JSON).status_code == 409  # key taken
    with tenant_context(world.acme):
        assert ChecklistTemplate.objects.count() == before
