"""Machine-type pages: the list with the library, adopting, a library type, import with errors
at their JSON paths, the detail page, export, and editing by fields and as JSON. Every page
proves its role checks and tenant isolation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from machines.library import library_get
from machines.models import MachineType
from machines.services import machine_type_adopt

MOTOR = "induction-motor-siemens-1la7"
PUMP = "centrifugal-pump"


@pytest.fixture
def motor(db: None, world: Any) -> MachineType:
    with tenant_context(world.acme):
        return machine_type_adopt(key=MOTOR)


def _type(world: Any, key: str = MOTOR) -> MachineType:
    with tenant_context(world.acme):
        return MachineType.objects.get(key=key)


def _document(key: str = "test-press") -> dict[str, Any]:
    document = library_get(PUMP)
    document["key"], document["name"] = key, "Test press"
    return document


# --- who may see what ---------------------------------------------------------------------------


def _pages(motor: MachineType) -> list[str]:
    return ["/machine-types/", "/machine-types/import/", f"/machine-types/library/{MOTOR}/",
            f"/machine-types/{motor.pk}/", f"/machine-types/{motor.pk}/edit/", f"/machine-types/{motor.pk}/export/"]


def test_pages_render_for_an_engineer(client_for, motor):
    engineer = client_for("engineer")
    for url in _pages(motor):
        response = engineer.get(url)
        assert response.status_code == 200, url


def test_viewer_reads_but_cannot_import_or_edit(client_for, motor):
    viewer = client_for("viewer")
    for url in ["/machine-types/", f"/machine-types/library/{MOTOR}/", f"/machine-types/{motor.pk}/"]:
        assert viewer.get(url).status_code == 200, url
    page = viewer.get("/machine-types/").content.decode()
    assert "Add to my types" not in page and "Import JSON" not in page
    assert viewer.get("/machine-types/import/").status_code == 403
    assert viewer.get(f"/machine-types/{motor.pk}/edit/").status_code == 403


def test_viewer_posts_are_refused_and_change_nothing(client_for, world, motor):
    viewer = client_for("viewer")
    assert viewer.post("/machine-types/adopt/", {"key": PUMP}).status_code == 403
    assert viewer.post("/machine-types/import/", {"document": json.dumps(_document())}).status_code == 403
    response = viewer.post(f"/machine-types/{motor.pk}/edit/", {"mode": "json", "document": "{}"})
    assert response.status_code == 403
    with tenant_context(world.acme):
        # (other tests' committed types may exist: look at the two this test touches)
        assert list(MachineType.objects.filter(key__in=[MOTOR, PUMP]).values_list("key", "version")) == [(MOTOR, 1)]


def test_another_tenant_gets_404(client_for, world, motor):
    outsider = client_for("globex_owner")
    for url in _pages(motor):
        assert outsider.get(url).status_code == 404, url
    assert outsider.post("/machine-types/adopt/", {"key": PUMP}).status_code == 404
    # acme's type id on globex's own host: not there
    at_home = client_for("globex_owner", tenant=world.globex)
    assert at_home.get(f"/machine-types/{motor.pk}/").status_code == 404
    assert at_home.get(f"/machine-types/{motor.pk}/edit/").status_code == 404


def test_anonymous_goes_to_login(client_for, motor):
    anonymous = client_for(None)
    for url in _pages(motor):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


# --- behaviour ----------------------------------------------------------------------------------


def test_list_shows_types_and_the_library(client_for, motor):
    page = client_for("engineer").get("/machine-types/").content.decode()
    assert "Siemens" in page and MOTOR in page
    assert "Centrifugal pump" in page and "Add to my types" in page
    assert f"/machine-types/library/{PUMP}/" in page


def test_adopt_copies_a_library_type(client_for, world, motor):
    response = client_for("engineer").post("/machine-types/adopt/", {"key": PUMP})
    pump = _type(world, PUMP)
    assert response.status_code == 302 and response["Location"] == f"/machine-types/{pump.pk}/"
    assert pump.source == MachineType.Source.LIBRARY


def test_adopting_twice_says_why(client_for, world, motor):
    response = client_for("engineer").post("/machine-types/adopt/", {"key": MOTOR}, follow=True)
    assert "already exists" in response.content.decode()


def test_library_type_shows_ranges_and_recommendations(client_for):
    page = client_for("viewer").get(f"/machine-types/library/{MOTOR}/").content.decode()
    document = library_get(MOTOR)
    assert document["failure_modes"][0]["recommended_action"] in page
    assert "mm/s" in page and "Critical" in page
    assert client_for("viewer").get("/machine-types/library/no-such-type/").status_code == 404


def test_import_pasted_json_redirects_to_the_new_type(client_for, world):
    response = client_for("engineer").post("/machine-types/import/", {"document": json.dumps(_document())})
    imported = _type(world, "test-press")
    assert response.status_code == 302 and response["Location"] == f"/machine-types/{imported.pk}/"
    assert imported.source == MachineType.Source.IMPORTED


def test_import_a_json_file(client_for, world):
    upload = SimpleUploadedFile("press.json", json.dumps(_document()).encode(), content_type="application/json")
    response = client_for("engineer").post("/machine-types/import/", {"file": upload})
    assert response.status_code == 302
    assert _type(world, "test-press").name == "Test press"


def test_invalid_metadata_shows_each_problem_at_its_path_and_keeps_the_text(client_for, world):
    document = _document()
    document["sensors"][0]["unit"] = "x" * 40
    del document["costs"]
    text = json.dumps(document)
    response = client_for("engineer").post("/machine-types/import/", {"document": text})
    page = response.content.decode()
    assert response.status_code == 400
    assert "$.costs" in page and "$.sensors[0].unit" in page and "2 problems" in page
    assert json.dumps(document["name"]) in response.context["form"]["document"].value()
    with tenant_context(world.acme):
        assert not MachineType.objects.filter(key=document["key"]).exists()


def test_broken_json_and_empty_input_are_explained(client_for):
    engineer = client_for("engineer")
    broken = engineer.post("/machine-types/import/", {"document": '{"key": '})
    assert broken.status_code == 400 and "not valid JSON" in broken.content.decode()
    empty = engineer.post("/machine-types/import/", {"document": " "})
    assert empty.status_code == 400 and "Paste a metadata document" in empty.content.decode()


def test_detail_lists_signals_modes_and_links(client_for, motor):
    page = client_for("engineer").get(f"/machine-types/{motor.pk}/").content.decode()
    assert "winding_temp_c" in page and "Drive-end bearing wear" in page
    assert f"/onboard/?type={motor.pk}" in page
    assert f"/machine-types/{motor.pk}/edit/" in page and f"/machine-types/{motor.pk}/export/" in page


def test_export_downloads_the_document(client_for, motor):
    response = client_for("viewer").get(f"/machine-types/{motor.pk}/export/")
    assert response["Content-Disposition"] == f'attachment; filename="{MOTOR}.json"'
    assert json.loads(response.content)["key"] == MOTOR


def _edit_data(client: Any, motor: MachineType) -> dict[str, Any]:
    form = client.get(f"/machine-types/{motor.pk}/edit/").context["form"]
    data = {name: form[name].value() for name in form.fields}
    return {key: "" if value is None else value for key, value in data.items()} | {"mode": "fields"}


def test_edit_fields_saves_through_the_service(client_for, world, motor):
    engineer = client_for("engineer")
    data = _edit_data(engineer, motor)
    data |= {"name": "Motor (plant 2)", "sensor_0_unit": "mA", "sensor_0_normal_high": "15",
             "mode_0_recommended_action": "Call the bearing contractor."}
    response = engineer.post(f"/machine-types/{motor.pk}/edit/", data)
    assert response.status_code == 302, response.context and response.context["form"].errors
    saved = _type(world)
    assert saved.name == "Motor (plant 2)" and saved.version == 2
    assert saved.metadata["sensors"][0]["unit"] == "mA"
    assert saved.metadata["sensors"][0]["ranges"]["normal"][1] == 15
    assert saved.metadata["failure_modes"][0]["recommended_action"] == "Call the bearing contractor."


def test_edit_fields_shows_range_errors_next_to_the_field(client_for, world, motor):
    engineer = client_for("engineer")
    data = _edit_data(engineer, motor) | {"sensor_2_normal_low": "5000", "sensor_2_normal_high": "10"}
    response = engineer.post(f"/machine-types/{motor.pk}/edit/", data)
    assert response.status_code == 400
    assert response.context["form"].errors["sensor_2_normal_low"]
    assert "expected low &lt; high" in response.content.decode()
    assert _type(world).version == 1


def test_edit_fields_sets_and_clears_how_long_a_cycle_takes(client_for, world, motor):
    """The planner turns remaining life in cycles into hours with it (docs/planning.md)."""
    engineer = client_for("engineer")
    page = engineer.get(f"/machine-types/{motor.pk}/edit/").content.decode()
    assert "Hours per cycle" in page
    zero = engineer.post(f"/machine-types/{motor.pk}/edit/", _edit_data(engineer, motor) | {"hours_per_cycle": "0"})
    assert zero.status_code == 400
    assert zero.context["form"].errors["hours_per_cycle"] == ["expected a number > 0, got 0"]
    saved = engineer.post(f"/machine-types/{motor.pk}/edit/", _edit_data(engineer, motor) | {"hours_per_cycle": "2.5"})
    assert saved.status_code == 302 and _type(world).metadata["hours_per_cycle"] == 2.5
    assert _edit_data(engineer, motor)["hours_per_cycle"] == 2.5
    cleared = engineer.post(f"/machine-types/{motor.pk}/edit/", _edit_data(engineer, motor) | {"hours_per_cycle": ""})
    assert cleared.status_code == 302 and "hours_per_cycle" not in _type(world).metadata


def test_edit_as_json(client_for, world, motor):
    engineer = client_for("engineer")
    document = dict(motor.metadata, name="Renamed motor")
    response = engineer.post(f"/machine-types/{motor.pk}/edit/", {"mode": "json", "document": json.dumps(document)})
    assert response.status_code == 302
    assert _type(world).name == "Renamed motor"


def test_edit_as_json_refuses_a_new_key_and_bad_documents(client_for, world, motor):
    engineer = client_for("engineer")
    moved = dict(motor.metadata, key="another-key")
    response = engineer.post(f"/machine-types/{motor.pk}/edit/", {"mode": "json", "document": json.dumps(moved)})
    assert response.status_code == 400 and "$.key" in response.content.decode()
    broken = dict(motor.metadata, category="spaceship")
    response = engineer.post(f"/machine-types/{motor.pk}/edit/", {"mode": "json", "document": json.dumps(broken)})
    assert response.status_code == 400 and "$.category" in response.content.decode()
    assert response.context["json_open"] and "spaceship" in response.context["json_form"]["document"].value()
    assert _type(world).version == 1


def test_an_invalid_json_file_comes_back_in_the_textarea(client_for):
    document = dict(_document(), category="spaceship")
    upload = SimpleUploadedFile("press.json", json.dumps(document).encode(), content_type="application/json")
    response = client_for("engineer").post("/machine-types/import/", {"file": upload})
    assert response.status_code == 400 and "$.category" in response.content.decode()
    assert "spaceship" in response.context["form"]["document"].value()
