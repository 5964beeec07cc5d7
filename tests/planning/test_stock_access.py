"""Spare parts that move, through the API and the pages: receiving, counting, parts used on a work
order and its close, the second tenant (404) and the viewer (403); and two closes at once that
cannot both take the last parts (threads on their own connections, a committed tenant of this
module's own)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections, transaction
from django.db.models import Sum
from django_tenants.utils import tenant_context

from machines.models import Machine
from machines.services import machine_create, machine_type_adopt
from maintenance.models import WorkOrder
from maintenance.services.work_orders import work_order_close, work_order_create, work_order_transition
from planning.models import PartUse, SparePart, StockMovement
from planning.stock import part_use_set, spare_part_save
from tenants.db import connection
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop

JSON = "application/json"
BEARING = "6309-2Z bearing"


def _ledger_ok(part_id: int) -> bool:
    part = SparePart.objects.get(id=part_id)
    return part.in_stock == (StockMovement.objects.filter(part=part).aggregate(t=Sum("quantity"))["t"] or 0)


@pytest.fixture
def shop(world: Any, motor: Machine) -> dict[str, Any]:
    """Acme: a bearing with 2 in stock and an in-progress work order on Motor-001."""
    with tenant_context(world.acme):
        part = spare_part_save(part=SparePart(), fields={"name": BEARING, "in_stock": 2, "reorder_point": 1},
                               actor_id=None)
        order = work_order_create(machine_id=motor.id, title="Bearing", actor_id=world.engineer.id)
        work_order_transition(order_id=order.id, to_status="in_progress", actor_id=None)
        return {"part": part, "order": order}


# --- the API ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_stock_counts_and_receipts_go_through_the_ledger(client_for, world):
    engineer = client_for("engineer")
    created = engineer.post("/api/v1/planning/parts/", {"name": BEARING, "in_stock": 4, "reorder_point": 1},
                            content_type=JSON)
    assert created.status_code == 201, created.content
    part_id = created.json()["id"]
    assert (created.json()["in_stock"], created.json()["reserved"]) == (4, 0)
    counted = engineer.patch(f"/api/v1/planning/parts/{part_id}/", {"in_stock": 6}, content_type=JSON)
    assert counted.status_code == 200 and counted.json()["in_stock"] == 6
    received = engineer.post(f"/api/v1/planning/parts/{part_id}/receive/", {"quantity": 3, "note": "PO 12"},
                             content_type=JSON)
    assert received.status_code == 201 and (received.json()["balance"], received.json()["reason"]) == (9, "received")
    bad = engineer.post(f"/api/v1/planning/parts/{part_id}/receive/", {"quantity": 0}, content_type=JSON)
    assert bad.status_code == 400 and "quantity" in bad.json()["error"]["details"]
    ledger = engineer.get(f"/api/v1/planning/stock-movements/?part={part_id}").json()["results"]
    assert [(m["reason"], m["quantity"], m["balance"]) for m in ledger] == [
        ("received", 3, 9), ("adjusted", 2, 6), ("adjusted", 4, 4)]
    with tenant_context(world.acme):
        assert _ledger_ok(part_id)


@pytest.mark.django_db
def test_api_parts_used_and_a_short_close(client_for, world, shop):
    engineer, order_id = client_for("engineer"), shop["order"].id
    line = engineer.post("/api/v1/planning/part-uses/", {"work_order": order_id, "part": BEARING, "quantity": 3},
                         content_type=JSON)
    assert line.status_code == 201, line.content
    assert engineer.get(f"/api/v1/planning/parts/{shop['part'].id}/").json()["reserved"] == 3
    listed = engineer.get(f"/api/v1/planning/part-uses/?work_order={order_id}").json()["results"]
    assert [(u["part"], u["quantity"], u["consumed_at"]) for u in listed] == [(BEARING, 3, None)]
    close = {"failure_found": False, "action_taken": "Bearing replaced"}
    short = engineer.post(f"/api/v1/work-orders/{order_id}/close/", close, content_type=JSON)
    assert short.status_code == 409 and short.json()["error"]["code"] == "parts_short"
    assert f"{BEARING}: 3 used, 2 in stock" in short.json()["error"]["message"]
    done = engineer.post(f"/api/v1/work-orders/{order_id}/close/", {**close, "confirm_unrecorded_parts": True},
                         content_type=JSON)
    assert done.status_code == 200 and done.json()["status"] == "done"
    with tenant_context(world.acme):
        assert SparePart.objects.get(id=shop["part"].id).in_stock == 0 and _ledger_ok(shop["part"].id)
    back = engineer.post(f"/api/v1/planning/part-uses/{line.json()['id']}/return/", {"quantity": 1},
                         content_type=JSON)
    assert back.status_code == 200 and back.json()["returned"] == 1


@pytest.mark.django_db
def test_api_removing_a_line_and_unknown_parts(client_for, world, shop):
    engineer, order_id = client_for("engineer"), shop["order"].id
    line = engineer.post("/api/v1/planning/part-uses/", {"work_order": order_id, "part": BEARING, "quantity": 1},
                         content_type=JSON).json()
    assert engineer.patch(f"/api/v1/planning/part-uses/{line['id']}/", {"quantity": 0},
                          content_type=JSON).status_code == 204
    unknown = engineer.post("/api/v1/planning/part-uses/", {"work_order": order_id, "part": "flux capacitor",
                                                            "quantity": 1}, content_type=JSON)
    assert unknown.status_code == 400 and "part" in unknown.json()["error"]["details"]
    with tenant_context(world.acme):
        assert not PartUse.objects.exists()


@pytest.mark.django_db
def test_api_viewers_read_and_other_tenants_get_404(client_for, world, shop):
    part_id, order_id = shop["part"].id, shop["order"].id
    with tenant_context(world.acme):
        line = part_use_set(order_id=order_id, part_id=part_id, quantity=1, actor_id=None)
    assert line is not None
    viewer = client_for("viewer")
    assert viewer.get(f"/api/v1/planning/parts/{part_id}/").status_code == 200
    assert viewer.get("/api/v1/planning/stock-movements/").status_code == 200
    assert viewer.get(f"/api/v1/planning/part-uses/{line.id}/").status_code == 200
    refused = [viewer.post(f"/api/v1/planning/parts/{part_id}/receive/", {"quantity": 1}, content_type=JSON),
               viewer.post("/api/v1/planning/part-uses/", {"work_order": order_id, "part": BEARING, "quantity": 2},
                           content_type=JSON),
               viewer.delete(f"/api/v1/planning/part-uses/{line.id}/")]
    assert [r.status_code for r in refused] == [403, 403, 403]
    stranger = client_for("globex_owner")  # signed in, on acme's host: not a member
    answers = [stranger.get(f"/api/v1/planning/parts/{part_id}/"), stranger.get("/api/v1/planning/stock-movements/"),
               stranger.get(f"/api/v1/planning/part-uses/{line.id}/"),
               stranger.post(f"/api/v1/planning/parts/{part_id}/receive/", {"quantity": 1}, content_type=JSON)]
    assert [r.status_code for r in answers] == [404, 404, 404, 404]
    own = client_for("globex_owner", tenant=world.globex)  # in its own organization, acme's ids are nobody's
    assert own.get(f"/api/v1/planning/part-uses/{line.id}/").status_code == 404
    with tenant_context(world.acme):
        assert SparePart.objects.get(id=part_id).in_stock == 2 and PartUse.objects.get().quantity == 1


# --- the pages --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_work_order_page_records_parts_used(client_for, world, shop):
    engineer, order_id, part_id = client_for("engineer"), shop["order"].id, shop["part"].id
    page = engineer.get(f"/work-orders/{order_id}/").content.decode()
    assert "Parts used" in page and f'<option value="{part_id}">{BEARING} (2 in stock)</option>' in page
    answer = engineer.post(f"/planning/work-orders/{order_id}/parts/", {"part": part_id, "quantity": "3"})
    assert answer.status_code == 302 and answer["Location"] == f"/work-orders/{order_id}/#parts"
    page = engineer.get(f"/work-orders/{order_id}/").content.decode()
    assert "reserved, 2 in stock" in page and f"{BEARING}: 3 used, 2 in stock" in page  # the shortfall, said
    bad = engineer.post(f"/planning/work-orders/{order_id}/parts/", {"part": part_id, "quantity": "lots"}, follow=True)
    assert "The quantity must be a whole number" in bad.content.decode()
    engineer.post(f"/planning/work-orders/{order_id}/parts/unrecorded/")
    history = engineer.get(f"/work-orders/{order_id}/").content.decode()
    assert "Parts used: 0 x 6309-2Z bearing → 3 x 6309-2Z bearing" in history
    with tenant_context(world.acme):
        assert SparePart.objects.get(id=part_id).in_stock == 3 and PartUse.objects.get().quantity == 3


@pytest.mark.django_db
def test_parts_pages_refuse_viewers_and_other_tenants(client_for, world, shop):
    order_id, part_id = shop["order"].id, shop["part"].id
    posts = [(f"/planning/work-orders/{order_id}/parts/", {"part": part_id, "quantity": "1"}),
             (f"/planning/work-orders/{order_id}/parts/unrecorded/", {}),
             (f"/planning/parts/{part_id}/stock/", {"quantity": "5"})]
    viewer, stranger = client_for("viewer"), client_for("globex_owner")
    assert viewer.get(f"/planning/parts/{part_id}/stock/").status_code == 200
    assert [viewer.post(url, data).status_code for url, data in posts] == [403, 403, 403]
    assert stranger.get(f"/planning/parts/{part_id}/stock/").status_code == 404
    assert [stranger.post(url, data).status_code for url, data in posts] == [404, 404, 404]
    with tenant_context(world.acme):
        assert SparePart.objects.get(id=part_id).in_stock == 2 and not PartUse.objects.exists()


@pytest.mark.django_db
def test_receiving_on_the_page_and_the_low_stock_banner(client_for, world, shop):
    engineer, part_id = client_for("engineer"), shop["part"].id
    with tenant_context(world.acme):
        part_use_set(order_id=shop["order"].id, part_id=part_id, quantity=1, actor_id=None)
        work_order_close(order_id=shop["order"].id, actor_id=None, failure_found=False, action_taken="done")
    banner = engineer.get("/planning/").content.decode()
    assert 'id="low-stock"' in banner and "(1 left, reorder at 1)" in banner
    answer = engineer.post(f"/planning/parts/{part_id}/stock/", {"quantity": "4", "note": "PO 9"}, follow=True)
    body = answer.content.decode()
    assert f"Received 4 x {BEARING}: 5 in stock." in body and "PO 9" in body and f"WO-{shop['order'].id}" in body
    assert 'id="low-stock"' not in engineer.get("/planning/").content.decode()


# --- two closes at once -------------------------------------------------------------------------------


@pytest.fixture
def race(world: Any, django_db_blocker: Any) -> Iterator[Any]:
    """A committed tenant of this module's own, with 3 bearings and two in-progress work orders
    using 2 each: only one of them can close."""
    from tenants.services import tenant_signup

    with django_db_blocker.unblock():
        signed = tenant_signup(organization_name="Parts race", slug="parts-race", owner_email="owner@parts-race.test",
                               owner_password=PASSWORD)
        with tenant_context(signed.tenant):
            machine = machine_create(machine_type_id=machine_type_adopt(key=MOTOR).id, name="Race-1")
            part = spare_part_save(part=SparePart(), fields={"name": BEARING, "in_stock": 3}, actor_id=None)
            orders = []
            for n in range(2):
                order = work_order_create(machine_id=machine.id, title=f"Race {n}", actor_id=None)
                work_order_transition(order_id=order.id, to_status="in_progress", actor_id=None)
                part_use_set(order_id=order.id, part_id=part.id, quantity=2, actor_id=None)
                orders.append(order.id)
        try:
            yield signed.tenant, part.id, orders
        finally:
            committed_tenant_drop(signed.tenant, emails=["owner@parts-race.test"])


def test_two_closes_at_once_cannot_oversell(race):
    tenant, part_id, orders = race
    results: list[Any] = [None, None]
    start = threading.Barrier(2)

    def close(index: int) -> None:
        try:
            start.wait()
            with tenant_context(tenant), transaction.atomic():
                work_order_close(order_id=orders[index], actor_id=None, failure_found=False, action_taken="done")
                time.sleep(0.3)  # hold the transaction: without the row lock both would read 3 in stock
            results[index] = "closed"
        except Exception as exc:  # noqa: BLE001 - the assertion below reports it
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=close, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "str"], results
    refusal = next(r for r in results if isinstance(r, Exception))
    assert f"{BEARING}: 2 used, 1 in stock" in str(refusal)
    with tenant_context(tenant):
        assert SparePart.objects.get(id=part_id).in_stock == 1 and _ledger_ok(part_id)
        assert sorted(WorkOrder.objects.values_list("status", flat=True)) == ["done", "in_progress"]
    connection.set_schema_to_public()
