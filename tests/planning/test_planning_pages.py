"""The planning page's forms for technicians, spare parts and production windows: roles, the second
tenant, create / edit / delete change rows, invalid input shows the API serializers' errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from planning.models import ProductionWindow, SparePart, Technician

pytestmark = pytest.mark.django_db

TECH = {"name": "Ana", "skills": "motor, bearing_wear", "hours_per_day": "7.5", "working_weekdays": ["0", "2"]}
PART = {"name": "6309 bearing", "in_stock": "3", "lead_time_days": "5", "unit_cost": "42.50"}


def test_engineer_adds_edits_and_deletes_a_technician(client_for: Any, world: Any) -> None:
    client = client_for("engineer")
    response = client.post("/planning/technicians/", TECH)
    assert response.status_code == 302
    with tenant_context(world.acme):
        tech = Technician.objects.get()
        assert (tech.skills, tech.hours_per_day, tech.working_weekdays) == (["bearing_wear", "motor"],
                                                                             Decimal("7.5"), [0, 2])
    page = client.get("/planning/").content.decode()
    assert "Ana" in page and f"/planning/technicians/{tech.id}/" in page
    assert 'value="motor, bearing_wear"' not in page  # the add form is empty again
    assert "bearing_wear, motor" in client.get(f"/planning/technicians/{tech.id}/").content.decode()
    response = client.post(f"/planning/technicians/{tech.id}/", {**TECH, "name": "Ana B", "skills": "pump",
                                                                   "working_weekdays": ["4"]})
    assert response.status_code == 302
    with tenant_context(world.acme):
        tech.refresh_from_db()
        assert (tech.name, tech.skills, tech.working_weekdays) == ("Ana B", ["pump"], [4])
    assert client.post(f"/planning/technicians/{tech.id}/delete/").status_code == 302
    with tenant_context(world.acme):
        assert not Technician.objects.exists()


def test_invalid_technician_shows_the_error_and_keeps_the_input(client_for: Any, world: Any) -> None:
    response = client_for("engineer").post("/planning/technicians/", {**TECH, "hours_per_day": "30"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "hours per day: Ensure this value is less than or equal to 24." in body
    assert 'value="motor, bearing_wear"' in body
    with tenant_context(world.acme):
        assert not Technician.objects.exists()


def test_spare_parts(client_for: Any, world: Any) -> None:
    client = client_for("engineer")
    assert client.post("/planning/parts/", PART).status_code == 302
    response = client.post("/planning/parts/", PART)  # the name is taken
    assert response.status_code == 400
    assert "name: spare part with this name already exists." in response.content.decode()
    with tenant_context(world.acme):
        part = SparePart.objects.get()
        assert (part.in_stock, part.lead_time_days, part.unit_cost) == (3, 5, Decimal("42.50"))
    response = client.post(f"/planning/parts/{part.id}/", {**PART, "in_stock": "-1"})
    assert response.status_code == 400 and "in stock:" in response.content.decode()
    assert client.post(f"/planning/parts/{part.id}/", {**PART, "in_stock": "9"}).status_code == 302
    with tenant_context(world.acme):
        part.refresh_from_db()
        assert part.in_stock == 9
    client.post(f"/planning/parts/{part.id}/delete/")
    with tenant_context(world.acme):
        assert not SparePart.objects.exists()


def test_production_windows(client_for: Any, world: Any, motor: Any) -> None:
    client = client_for("engineer")
    assert "Add a production window" in client.get("/planning/").content.decode()
    response = client.post("/planning/windows/", {"machine": "Motor-001", "weekdays": ["5", "6"],
                                                  "dates": "2026-12-24, 2026-12-24"})
    assert response.status_code == 302
    with tenant_context(world.acme):
        window = ProductionWindow.objects.get()
        assert (window.machine_id, window.weekdays, window.dates) == (motor.id, [5, 6], ["2026-12-24"])
    response = client.post(f"/planning/windows/{window.id}/", {"machine": "Motor-001", "dates": "24/12/2026"})
    assert response.status_code == 400 and "dates:" in response.content.decode()
    response = client.post("/planning/windows/", {"machine": "Nope", "weekdays": ["1"]})
    assert response.status_code == 400 and "machine:" in response.content.decode()
    assert client.post(f"/planning/windows/{window.id}/", {"machine": "Motor-001", "weekdays": ["0"]}
                       ).status_code == 302
    with tenant_context(world.acme):
        window.refresh_from_db()
        assert (window.weekdays, window.dates) == ([0], [])
    client.post(f"/planning/windows/{window.id}/delete/")
    with tenant_context(world.acme):
        assert not ProductionWindow.objects.exists()


def test_viewer_reads_but_cannot_change(client_for: Any, world: Any) -> None:
    with tenant_context(world.acme):
        tech = Technician.objects.create(name="Bo")
        part = SparePart.objects.create(name="Seal")
    viewer = client_for("viewer")
    page = viewer.get("/planning/").content.decode()
    assert "Bo" in page and "Add a technician" not in page and "/delete/" not in page
    assert viewer.get(f"/planning/technicians/{tech.id}/").status_code == 200
    for path, data in [("/planning/technicians/", TECH), (f"/planning/technicians/{tech.id}/", TECH),
                       (f"/planning/technicians/{tech.id}/delete/", {}), ("/planning/parts/", PART),
                       (f"/planning/parts/{part.id}/delete/", {}), ("/planning/windows/", {})]:
        assert viewer.post(path, data).status_code == 403, path
    with tenant_context(world.acme):
        assert list(Technician.objects.values_list("name", flat=True)) == ["Bo"]
        assert SparePart.objects.count() == 1


def test_second_tenant_gets_404(client_for: Any, world: Any) -> None:
    with tenant_context(world.acme):
        tech = Technician.objects.create(name="Bo")
    other = client_for("globex_owner")
    assert other.post("/planning/technicians/", TECH).status_code == 404
    assert other.get(f"/planning/technicians/{tech.id}/").status_code == 404
    assert other.post(f"/planning/technicians/{tech.id}/delete/").status_code == 404
    # Globex's own page: acme's row id does not exist there.
    assert client_for("globex_owner", tenant=world.globex).get(f"/planning/technicians/{tech.id}/").status_code == 404
    with tenant_context(world.acme):
        assert Technician.objects.filter(name="Bo").exists()
