"""Machine types and machines through the API: library, adopt, import, edit, export, assets."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from machines.library import library_get
from machines.models import Machine, MachineType

JSON = "application/json"
MOTOR = "induction-motor-siemens-1la7"


def _adopt(client, key: str = MOTOR):
    return client.post("/api/v1/machine-types/adopt/", {"key": key}, content_type=JSON)


def test_library_lists_at_least_21_types(client_for, world):
    library = client_for("viewer").get("/api/v1/machine-types/library/").json()
    assert len(library) >= 21 and MOTOR in {item["key"] for item in library}
    detail = client_for("viewer").get(f"/api/v1/machine-types/library/{MOTOR}/").json()
    assert detail["sensors"] and detail["failure_modes"]
    assert client_for("viewer").get("/api/v1/machine-types/library/no-such-type/").status_code == 404


def test_engineer_adopts_a_built_in_type_once(client_for, world):
    engineer = client_for("engineer")
    response = _adopt(engineer)
    assert response.status_code == 201 and response.json()["source"] == "library"
    assert response.json()["metadata"] == library_get(MOTOR)
    again = _adopt(engineer)
    assert again.status_code == 409 and again.json()["error"]["code"] == "type_exists"
    assert _adopt(client_for("viewer"), "centrifugal-pump").status_code == 403


def test_import_json_with_errors_at_their_path(client_for, world):
    engineer = client_for("engineer")
    document = library_get("centrifugal-pump")
    document["key"] = "my-pump"
    document["sensors"][0]["ranges"]["warning"] = [99999, 1]
    response = engineer.post("/api/v1/machine-types/", {"metadata": document}, content_type=JSON)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_metadata"
    assert error["details"]["problems"][0]["path"].startswith("$.sensors[0].ranges")
    assert "$.sensors[0].ranges" in error["message"]
    document["sensors"][0]["ranges"] = library_get("centrifugal-pump")["sensors"][0]["ranges"]
    ok = engineer.post("/api/v1/machine-types/", {"metadata": document}, content_type=JSON)
    assert ok.status_code == 201 and ok.json()["key"] == "my-pump" and ok.json()["source"] == "imported"


def test_import_an_uploaded_file_and_refuse_garbage(client_for, world):
    engineer = client_for("engineer")
    document = library_get("belt-conveyor")
    upload = SimpleUploadedFile("conveyor.json", json.dumps(document).encode(), content_type=JSON)
    assert engineer.post("/api/v1/machine-types/", {"file": upload}).status_code == 201
    garbage = SimpleUploadedFile("x.json", b"\x89PNG\r\n\x1a\n binary", content_type=JSON)
    response = engineer.post("/api/v1/machine-types/", {"file": garbage})
    assert response.status_code == 400 and response.json()["error"]["details"]["problems"][0]["path"] == "$"


def test_update_validates_bumps_the_version_and_keeps_the_key(client_for, world):
    engineer = client_for("engineer")
    created = _adopt(engineer).json()
    document = created["metadata"]
    document["name"] = "Line 3 motors"
    updated = engineer.put(f"/api/v1/machine-types/{created['id']}/", {"metadata": document}, content_type=JSON)
    assert updated.status_code == 200 and updated.json()["version"] == 2 and updated.json()["name"] == "Line 3 motors"
    document["key"] = "renamed"
    refused = engineer.put(f"/api/v1/machine-types/{created['id']}/", {"metadata": document}, content_type=JSON)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "key_immutable"


def test_export_round_trips(client_for, world):
    engineer = client_for("engineer")
    created = _adopt(engineer).json()
    exported = engineer.get(f"/api/v1/machine-types/{created['id']}/export/")
    assert exported["Content-Disposition"] == f'attachment; filename="{MOTOR}.json"'
    assert json.loads(exported.content) == library_get(MOTOR)


def test_machines_crud_filters_and_defaults(client_for, world):
    engineer = client_for("engineer")
    _adopt(engineer)
    body = {"name": "Motor-001", "machine_type": MOTOR, "site": "Plant A", "line": "L1", "criticality": "high"}
    created = engineer.post("/api/v1/machines/", body, content_type=JSON)
    assert created.status_code == 201, created.content
    expected_cost = library_get(MOTOR)["costs"]["downtime_per_hour"]
    assert float(created.json()["downtime_cost_per_hour"]) == pytest.approx(expected_cost)
    engineer.post("/api/v1/machines/", {**body, "name": "Motor-002", "site": "Plant B"}, content_type=JSON)
    duplicate = engineer.post("/api/v1/machines/", body, content_type=JSON)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "machine_exists"
    assert engineer.get("/api/v1/machines/?site=Plant+B").json()["count"] == 1
    assert engineer.get(f"/api/v1/machines/?machine_type__key={MOTOR}").json()["count"] == 2
    machine_id = created.json()["id"]
    patched = engineer.patch(f"/api/v1/machines/{machine_id}/", {"status": "maintenance"}, content_type=JSON)
    assert patched.json()["status"] == "maintenance"
    assert engineer.delete(f"/api/v1/machines/{machine_id}/").status_code == 403  # admins delete
    assert client_for("admin").delete(f"/api/v1/machines/{machine_id}/").status_code == 204


def test_unknown_type_and_bad_fields_are_clear(client_for, world):
    engineer = client_for("engineer")
    response = engineer.post("/api/v1/machines/", {"name": "X", "machine_type": "nope"}, content_type=JSON)
    assert response.status_code == 400 and "machine_type" in response.json()["error"]["details"]
    _adopt(engineer)
    bad = engineer.post("/api/v1/machines/", {"name": "X", "machine_type": MOTOR, "criticality": "extreme"},
                        content_type=JSON)
    assert bad.status_code == 400 and "criticality" in bad.json()["error"]["details"]


def test_a_type_in_use_cannot_be_deleted(client_for, world):
    engineer = client_for("engineer")
    type_id = _adopt(engineer).json()["id"]
    engineer.post("/api/v1/machines/", {"name": "M", "machine_type": MOTOR}, content_type=JSON)
    admin = client_for("admin")
    response = admin.delete(f"/api/v1/machine-types/{type_id}/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "type_in_use"


def test_the_other_tenant_sees_none_of_it(client_for, key_client, world):
    engineer = client_for("engineer")
    type_id = _adopt(engineer).json()["id"]
    machine_id = engineer.post("/api/v1/machines/", {"name": "M-1", "machine_type": MOTOR},
                               content_type=JSON).json()["id"]
    globex = key_client(["read", "write", "admin"], tenant=world.globex, host="acme.localhost")
    assert globex.get("/api/v1/machines/").json()["count"] == 0
    assert globex.get("/api/v1/machine-types/").json()["count"] == 0
    for url in (f"/api/v1/machines/{machine_id}/", f"/api/v1/machine-types/{type_id}/",
                f"/api/v1/machine-types/{type_id}/export/"):
        assert globex.get(url).status_code == 404
    assert globex.delete(f"/api/v1/machines/{machine_id}/").status_code == 404
    with tenant_context(world.acme):
        assert Machine.objects.filter(id=machine_id).exists() and MachineType.objects.filter(id=type_id).exists()
    # The same key is free in globex: types are per tenant.
    assert _adopt(globex).status_code == 201
