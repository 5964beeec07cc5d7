"""Offline work: the sync endpoint applies queued operations once, through the services (audit
trail included), tells conflicts and refusals apart in words, and the bundle holds the person's
open work orders; isolation between tenants and roles."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import Image

from maintenance.checklist_models import WorkOrderChecklistItem
from maintenance.models import OfflineOp, Photo, WorkOrder, WorkOrderEvent
from maintenance.offline import item_version
from maintenance.services.checklists import Answer, ItemSpec, checklist_item_update, checklist_template_save
from maintenance.services.work_orders import work_order_close, work_order_create, work_order_transition

JSON = "application/json"
SYNC, BUNDLE = "/api/v1/offline/sync/", "/api/v1/offline/bundle/"


@pytest.fixture
def order(motor: Any, world: Any) -> dict[str, Any]:
    """An in-progress work order on acme's motor, assigned to the engineer, with a required tick."""
    with tenant_context(world.acme):
        checklist_template_save(machine_type_id=motor.machine_type_id, name="Belt", items=[
            ItemSpec(text="Check belt tension", required=True), ItemSpec(text="Clean the guard")])
        made = work_order_create(machine_id=motor.id, title="Belt", actor_id=world.owner.id,
                                 assignee_id=world.engineer.id)
        work_order_transition(order_id=made.id, to_status=WorkOrder.Status.IN_PROGRESS, actor_id=world.owner.id)
        items = list(WorkOrderChecklistItem.objects.filter(work_order=made).order_by("position"))
        return {"id": made.id, "items": [i.id for i in items], "versions": [item_version(i) for i in items]}


def _tick(order: dict[str, Any], index: int = 0, **extra: Any) -> dict[str, Any]:
    return {"op_id": str(uuid.uuid4()), "kind": "checklist.answer", "work_order": order["id"],
            "item": order["items"][index], "base": order["versions"][index], "done": True, **extra}


def _sync(client: Any, *ops: dict[str, Any], url: str = SYNC) -> Any:
    return client.post(url, {"operations": list(ops)}, content_type=JSON)


def _results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]  # type: ignore[no-any-return]


def test_a_tick_is_applied_once_however_often_it_is_sent(client_for: Any, order: dict[str, Any], world: Any) -> None:
    engineer, op = client_for("engineer"), _tick(order)
    first = _results(_sync(engineer, op))
    assert [r["status"] for r in first] == ["applied"]
    assert "Check belt tension" in first[0]["message"]
    again = _results(_sync(engineer, op))
    assert [r["status"] for r in again] == ["already_applied"]
    with tenant_context(world.acme):
        assert WorkOrderChecklistItem.objects.get(id=order["items"][0]).done is True
        events = WorkOrderEvent.objects.filter(work_order_id=order["id"], action="checklist")
        assert [(e.actor_id, e.changes["done"]) for e in events] == [(world.engineer.id, [False, True])]
        assert OfflineOp.objects.filter(op_id=op["op_id"]).count() == 1


def test_one_persons_queued_changes_on_one_item_follow_each_other(client_for: Any, order: dict[str, Any],
                                                                  world: Any) -> None:
    tick, note = _tick(order), _tick(order, done=None, note="Belt glazed")
    assert [r["status"] for r in _results(_sync(client_for("engineer"), tick, note))] == ["applied", "applied"]
    with tenant_context(world.acme):
        item = WorkOrderChecklistItem.objects.get(id=order["items"][0])
        assert (item.done, item.note) == (True, "Belt glazed")


def test_an_item_changed_on_the_server_meanwhile_wins(client_for: Any, order: dict[str, Any], world: Any) -> None:
    world.owner.full_name = "Anna Berg"
    world.owner.save(update_fields=["full_name"])
    with tenant_context(world.acme):
        checklist_item_update(order_id=order["id"], item_id=order["items"][0], actor_id=world.owner.id,
                              answer=Answer(note="Tension fine"))
    [result] = _results(_sync(client_for("engineer"), _tick(order)))
    assert result["status"] == "conflict"
    assert result["message"].startswith(f"“Check belt tension” on WO-{order['id']} was changed by Anna Berg at ")
    assert result["message"].endswith("your tick was not applied. It now reads: not done, note “Tension fine”.")
    with tenant_context(world.acme):
        assert WorkOrderChecklistItem.objects.get(id=order["items"][0]).done is False


def test_a_tick_on_an_order_closed_meanwhile_says_who_closed_it(client_for: Any, order: dict[str, Any],
                                                                world: Any) -> None:
    world.owner.full_name = "Anna Berg"
    world.owner.save(update_fields=["full_name"])
    with tenant_context(world.acme):
        checklist_item_update(order_id=order["id"], item_id=order["items"][0], actor_id=world.owner.id,
                              answer=Answer(done=True))
        work_order_close(order_id=order["id"], actor_id=world.owner.id, failure_found=False, action_taken="Done")
    move = {"op_id": str(uuid.uuid4()), "kind": "work_order.transition", "work_order": order["id"],
            "base": "in_progress", "status": "scheduled"}
    note = {"op_id": str(uuid.uuid4()), "kind": "work_order.note", "work_order": order["id"], "note": "Guard cracked"}
    tick, moved, noted = _results(_sync(client_for("engineer"), _tick(order, index=1), move, note))
    assert tick["status"] == "conflict"
    assert tick["message"].startswith(f"WO-{order['id']} was closed by Anna Berg at ")
    assert tick["message"].endswith("while you were offline; your tick on “Clean the guard” was not applied.")
    assert moved["status"] == "conflict" and "was closed by Anna Berg" in moved["message"]
    assert noted["status"] == "applied"  # notes only add: always kept
    with tenant_context(world.acme):
        assert WorkOrderEvent.objects.filter(work_order_id=order["id"], action="note").get().note == "Guard cracked"


def test_closing_with_a_required_item_left_is_refused_then_applied_after_the_tick(
        client_for: Any, order: dict[str, Any], world: Any) -> None:
    close = {"op_id": str(uuid.uuid4()), "kind": "work_order.close", "work_order": order["id"], "base": "in_progress",
             "failure_found": False, "action_taken": "Re-tensioned the belt"}
    [refused] = _results(_sync(client_for("engineer"), close))
    assert refused["status"] == "refused"
    assert "Finish the required checklist items first: 1. Check belt tension." in refused["message"]
    close_again = {**close, "op_id": str(uuid.uuid4())}
    assert [r["status"] for r in _results(_sync(client_for("engineer"), _tick(order), close_again))] == [
        "applied", "applied"]
    with tenant_context(world.acme):
        assert WorkOrder.objects.get(id=order["id"]).status == WorkOrder.Status.DONE


def test_the_bundle_holds_my_open_orders_with_their_checklists(client_for: Any, order: dict[str, Any]) -> None:
    answer = client_for("engineer").get(BUNDLE)
    assert answer.status_code == 200, answer.content
    bundle = answer.json()
    [mine] = [o for o in bundle["work_orders"] if o["id"] == order["id"]]
    assert [i["text"] for i in mine["checklist"]] == ["Check belt tension", "Clean the guard"]
    assert mine["checklist"][0]["version"] == order["versions"][0]
    assert f"/work-orders/{order['id']}/" in bundle["urls"] and "/offline/" in bundle["urls"]
    assert [m["name"] for m in bundle["machines"]] == ["Motor-001"]
    page = client_for("engineer").get("/offline/bundle/")
    assert page.status_code == 200 and page.json()["work_orders"] == bundle["work_orders"]


def test_other_tenants_and_viewers_are_refused(client_for: Any, order: dict[str, Any], world: Any) -> None:
    stranger = client_for("globex_owner", tenant=world.acme)
    assert _sync(stranger, _tick(order)).status_code == 404
    assert stranger.get(BUNDLE).status_code == 404
    assert stranger.get("/offline/").status_code == 404
    viewer = client_for("viewer")
    assert _sync(viewer, _tick(order)).status_code == 403
    assert viewer.get(BUNDLE).status_code == 403
    assert _sync(viewer, _tick(order), url="/offline/sync/").status_code == 403
    assert viewer.get("/offline/").status_code == 403
    with tenant_context(world.acme):
        assert not OfflineOp.objects.exists()
        assert WorkOrderChecklistItem.objects.get(id=order["items"][0]).done is False


def test_ids_of_another_organization_name_nothing_here(client_for: Any, order: dict[str, Any], world: Any) -> None:
    globex = client_for("globex_owner", tenant=world.globex)
    [result] = _results(_sync(globex, _tick(order)))  # acme's work order id, sent to globex
    assert result["status"] == "refused" and "does not exist" in result["message"]
    with tenant_context(world.acme):
        assert WorkOrderChecklistItem.objects.get(id=order["items"][0]).done is False


def test_a_malformed_operation_is_a_clear_400_and_nothing_is_applied(client_for: Any, order: dict[str, Any],
                                                                     world: Any) -> None:
    bad = {"op_id": "not-a-uuid", "kind": "checklist.answer", "work_order": order["id"]}
    answer = _sync(client_for("engineer"), _tick(order), bad)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("Operation 2, op_id:")
    page = _sync(client_for("engineer"), _tick(order), {**bad, "op_id": str(uuid.uuid4())}, url="/offline/sync/")
    assert page.status_code == 400 and "Operation 2" in page.json()["error"]["message"]
    with tenant_context(world.acme):
        assert WorkOrderChecklistItem.objects.get(id=order["items"][0]).done is False


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(out, "JPEG")
    return out.getvalue()


def test_a_photo_taken_offline_is_kept_even_on_an_order_closed_meanwhile(
        client_for: Any, order: dict[str, Any], world: Any) -> None:
    with tenant_context(world.acme):
        work_order_transition(order_id=order["id"], to_status=WorkOrder.Status.CANCELLED, actor_id=world.owner.id)
    op = {"op_id": str(uuid.uuid4()), "kind": "photo.add", "work_order": order["id"], "caption": "Guard",
          "file": "photo-1"}
    body = {"operations": json.dumps([op]), "photo-1": SimpleUploadedFile("p.jpg", _jpeg(), "image/jpeg")}
    [result] = _results(client_for("engineer").post("/offline/sync/", body))
    assert result["status"] == "applied"
    missing = {"operations": json.dumps([{**op, "op_id": str(uuid.uuid4()), "file": "photo-9"}])}
    refused = client_for("engineer").post(SYNC, missing)
    assert refused.status_code == 400 and "no file named 'photo-9'" in refused.json()["error"]["message"]
    with tenant_context(world.acme):
        assert [(p.caption, p.uploaded_by_id) for p in Photo.objects.filter(work_order_id=order["id"])] == [
            ("Guard", world.engineer.id)]
