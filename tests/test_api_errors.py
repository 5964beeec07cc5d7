"""Bad input is a 4xx a person understands, never a 500: ids that are not numbers, OPTIONS on
views without one serializer, numbers past their column, duplicates and records still in use.
Each case here was a 500 (issue 13); tests/test_api_fuzz.py looks for more."""

from __future__ import annotations

import pytest
from django.db import DataError, IntegrityError, transaction
from django.db.models import ProtectedError
from django_tenants.utils import tenant_context

from machines.models import Machine, MachineType, Upload
from maintenance.models import WorkOrder
from pdm_saas.api.errors import exception_handler
from planning.models import ProductionWindow, SparePart

JSON = "application/json"

# Every detail route whose view read its id with int(pk) or a lookup of its own.
ID_ROUTES = [
    ("patch", "members/{id}/"), ("delete", "members/{id}/"), ("delete", "invitations/{id}/"),
    ("put", "machine-types/{id}/"), ("delete", "machine-types/{id}/"), ("get", "machine-types/{id}/export/"),
    ("patch", "machines/{id}/"), ("delete", "machines/{id}/"), ("get", "tenant/exports/{id}/download/"),
    ("post", "mqtt-credentials/{id}/revoke/"), ("post", "api-keys/{id}/revoke/"),
    ("post", "work-orders/{id}/transition/"), ("patch", "work-orders/{id}/"), ("post", "alerts/{id}/resolve/"),
    ("post", "planning/plans/{id}/accept/"), ("get", "models/{id}/"), ("get", "uploads/{id}/raw/"),
    ("post", "planning/parts/{id}/receive/"), ("patch", "planning/part-uses/{id}/"),
    ("post", "planning/part-uses/{id}/return/"),
    ("get", "photos/{id}/image/"), ("post", "photos/{id}/assessment/"), ("delete", "photos/{id}/"),
]


@pytest.mark.parametrize("bad_id", ["abc", "null,null", "1.5", "-1"])
@pytest.mark.parametrize(("method", "route"), ID_ROUTES)
def test_an_id_that_is_not_a_number_is_a_404(client_for, method: str, route: str, bad_id: str):
    response = getattr(client_for("owner"), method)(f"/api/v1/{route.format(id=bad_id)}", {}, content_type=JSON)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("method", "route"), ID_ROUTES)
def test_an_id_past_every_column_is_not_found_or_refused(client_for, method: str, route: str):
    """A number too large for an id column: not found, or (where the body is checked first) a
    refused body; never the database's "out of range"."""
    response = getattr(client_for("owner"), method)(f"/api/v1/{route.format(id=10**20)}", {}, content_type=JSON)
    assert response.status_code in (400, 404)


@pytest.mark.parametrize("path", ["readings/", "billing/checkout/", "billing/portal/", "machines/1/labels/"])
def test_options_answers_on_views_that_validate_their_own_body(client_for, path: str):
    response = client_for("owner").options(f"/api/v1/{path}")
    assert response.status_code == 200
    assert response.json()["name"]


def test_a_second_production_window_for_a_machine_is_a_conflict_and_keeps_the_first(client_for, motor, world):
    engineer = client_for("engineer")
    first = engineer.post("/api/v1/planning/windows/", {"machine": "Motor-001", "weekdays": [5]}, content_type=JSON)
    assert first.status_code == 201
    second = engineer.post("/api/v1/planning/windows/", {"machine": "Motor-001", "weekdays": [6]},
                           content_type=JSON)
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "window_exists" and "Motor-001" in error["message"]
    assert error["details"]["window"] == first.json()["id"]
    # Editing the one window is still allowed: the check skips the row being edited.
    edited = engineer.patch(f"/api/v1/planning/windows/{first.json()['id']}/",
                            {"machine": "Motor-001", "weekdays": [0]}, content_type=JSON)
    assert edited.status_code == 200
    with tenant_context(world.acme):
        assert list(ProductionWindow.objects.values_list("weekdays", flat=True)) == [[0]]


def test_a_work_order_form_with_parts_null_is_refused_and_creates_nothing(client_for, motor, world):
    response = client_for("engineer").post("/api/v1/work-orders/", {"machine": "Motor-001", "title": "Inspect",
                                                                     "parts": "null"})  # multipart
    assert response.status_code == 400
    assert "parts" in response.json()["error"]["details"]
    with tenant_context(world.acme):
        assert not WorkOrder.objects.exists()
    listed = client_for("engineer").post("/api/v1/work-orders/", {
        "machine": "Motor-001", "title": "Inspect", "parts": '[{"part": "6309-2Z bearing", "quantity": 2}]'})
    assert listed.status_code == 201 and listed.json()["parts"] == [{"part": "6309-2Z bearing", "quantity": 2}]


HUGE = 10**20  # past every integer column


def test_numbers_past_their_column_are_refused_by_name(client_for, motor, world):
    engineer = client_for("engineer")
    with tenant_context(world.acme):
        SparePart.objects.create(name="6309-2Z bearing")
        mode = motor.machine_type.metadata["failure_modes"][0]["name"]
    cases = [
        ("planning/part-needs/", {"machine_type": motor.machine_type.key, "failure_mode": mode,
                                  "part": "6309-2Z bearing", "quantity": 2**31}, "quantity"),
        ("planning/technicians/", {"name": "Dana", "skills": ["motor"], "hours_per_day": "8", "user": HUGE}, "user"),
        ("work-orders/", {"machine": "Motor-001", "title": "x", "assignee": HUGE}, "assignee"),
    ]
    for path, body, field in cases:
        response = engineer.post(f"/api/v1/{path}", body, content_type=JSON)
        assert response.status_code == 400, (path, response.content)
        assert field in response.json()["error"]["details"]
    ok = engineer.post("/api/v1/planning/part-needs/", {**cases[0][1], "quantity": 2**31 - 1}, content_type=JSON)
    assert ok.status_code == 201


def test_labels_limit_must_be_a_whole_number_in_range(client_for, motor):
    viewer = client_for("viewer")
    for bad in ("abc", "0", "10001"):
        response = viewer.get(f"/api/v1/machines/{motor.id}/labels/?limit={bad}")
        assert response.status_code == 400, bad
        assert "limit" in response.json()["error"]["details"]
    assert viewer.get(f"/api/v1/machines/{motor.id}/labels/?limit=5").status_code == 200


def test_deleting_a_machine_type_that_has_uploads_is_a_conflict_and_keeps_both(client_for, world):
    admin = client_for("admin")
    adopted = admin.post("/api/v1/machine-types/adopt/", {"key": "centrifugal-pump"}, content_type=JSON).json()
    with tenant_context(world.acme):
        upload = Upload.objects.create(original_name="pump.csv", stored_path="x", size_bytes=1, sha256="0" * 64,
                                       machine_type_id=adopted["id"], mapping={})
    response = admin.delete(f"/api/v1/machine-types/{adopted['id']}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "type_in_use"
    assert "uploaded" in response.json()["error"]["message"]
    with tenant_context(world.acme):
        assert MachineType.objects.filter(id=adopted["id"]).exists() and Upload.objects.filter(id=upload.id).exists()


def test_database_refusals_that_get_past_validation_are_plain_409s(in_acme, motor):
    """The safety net for races and checks we lack: real errors from the database, answered
    without its text (table, column and constraint names)."""
    ProductionWindow.objects.create(machine=motor)
    with pytest.raises(IntegrityError) as duplicate, transaction.atomic():
        ProductionWindow.objects.create(machine=motor)
    with pytest.raises(ProtectedError) as protected, transaction.atomic():
        motor.machine_type.delete()
    for exc, code in ((duplicate.value, "conflict"), (protected.value, "in_use")):
        response = exception_handler(exc, {})
        assert response is not None and response.status_code == 409
        error = response.data["error"]
        assert error["code"] == code
        assert not any(word in error["message"] for word in ("duplicate key", "planning_", "machines_", "constraint"))
    assert exception_handler(protected.value, {}).data["error"]["details"] == {"in_use_by": ["machines"]}
    assert Machine.objects.filter(id=motor.id).exists()
    with pytest.raises(DataError) as too_large, transaction.atomic():
        SparePart.objects.create(name="bearing", in_stock=HUGE)
    response = exception_handler(too_large.value, {})
    assert response is not None and response.status_code == 400
    assert "out of range" not in response.data["error"]["message"]
