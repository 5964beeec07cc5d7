"""The planning page's forms for technicians, spare parts, part needs and production windows: roles,
the second tenant, create / edit / delete change rows, invalid input shows the API serializers'
errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from machines.models import Machine
from machines.services import machine_type_adopt
from planning.inputs import plan_problem
from planning.models import MaintenancePlan, PartNeed, ProductionWindow, SparePart, Technician
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

TECH = {"name": "Ana", "skills": ["motor", "bearing_wear"], "hours_per_day": "7.5", "working_weekdays": ["0", "2"]}
PART = {"name": "6309 bearing", "in_stock": "3", "lead_time_days": "5", "unit_cost": "42.50"}


def test_engineer_adds_edits_and_deletes_a_technician(client_for: Any, world: Any, motor: Machine) -> None:
    client = client_for("engineer")
    response = client.post("/planning/technicians/", TECH)
    assert response.status_code == 302
    with tenant_context(world.acme):
        tech = Technician.objects.get()
        assert (tech.skills, tech.hours_per_day, tech.working_weekdays) == (["bearing_wear", "motor"],
                                                                             Decimal("7.5"), [0, 2])
    page = client.get("/planning/").content.decode()
    assert "Ana" in page and f"/planning/technicians/{tech.id}/" in page
    assert "Drive-end bearing wear, Motor: any repair" in page  # skills by their labels, not keys
    assert '<option value="motor" selected>' not in page  # the add form is empty again
    edit = client.get(f"/planning/technicians/{tech.id}/").content.decode()
    assert '<option value="motor" selected>' in edit and '<option value="bearing_wear" selected>' in edit
    response = client.post(f"/planning/technicians/{tech.id}/", {**TECH, "name": "Ana B", "skills": "pump",
                                                                   "working_weekdays": ["4"]})
    assert response.status_code == 302
    with tenant_context(world.acme):
        tech.refresh_from_db()
        assert (tech.name, tech.skills, tech.working_weekdays) == ("Ana B", ["pump"], [4])
    assert client.post(f"/planning/technicians/{tech.id}/delete/").status_code == 302
    with tenant_context(world.acme):
        assert not Technician.objects.exists()


def test_invalid_technician_shows_the_error_and_keeps_the_input(client_for: Any, world: Any, motor: Machine) -> None:
    response = client_for("engineer").post("/planning/technicians/", {**TECH, "hours_per_day": "30"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "hours per day: Ensure this value is less than or equal to 24." in body
    assert '<option value="motor" selected>' in body and '<option value="bearing_wear" selected>' in body
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
    deleted = client.post(f"/planning/windows/{window.id}/delete/", follow=True).content.decode()
    assert "Deleted production window for Motor-001." in deleted  # the machine's name, not its id
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


# --- parts used per repair (PartNeed) -------------------------------------------------------------

@pytest.fixture
def bearing(world: Any, motor: Machine) -> SparePart:
    """Acme's bearing, beside Motor-001 (whose type names bearing_wear and misalignment)."""
    with tenant_context(world.acme):
        return SparePart.objects.create(name="6309 bearing", in_stock=2, lead_time_days=3)


def _need(motor: Machine, **changes: str) -> dict[str, str]:
    return {"machine_type": motor.machine_type.key, "failure_mode": "bearing_wear", "part": "6309 bearing",
            "quantity": "2", **changes}


def test_engineer_adds_edits_and_deletes_a_part_need(client_for: Any, world: Any, motor: Machine,
                                                     bearing: SparePart) -> None:
    client = client_for("engineer")
    page = client.get("/planning/").content.decode()
    assert "Parts used per repair" in page and "Add a part used by a repair" in page
    assert '<option value="bearing_wear" >bearing_wear — ' in page and "<option >6309 bearing</option>" in page
    assert client.post("/planning/needs/", _need(motor)).status_code == 302
    with tenant_context(world.acme):
        need = PartNeed.objects.get()
        assert (need.machine_type_id, need.failure_mode, need.part_id, need.quantity) == (
            motor.machine_type_id, "bearing_wear", bearing.id, 2)
    page = client.get("/planning/").content.decode()
    row = f'<td>{motor.machine_type.name}</td><td>bearing_wear</td><td>6309 bearing</td><td class="num">2</td>'
    assert row in page
    assert f"/planning/needs/{need.id}/delete/" in page
    form = client.get(f"/planning/needs/{need.id}/").content.decode()
    assert '<option value="bearing_wear" selected>' in form
    assert 'name="quantity" type="number" min="1" value="2"' in form
    response = client.post(f"/planning/needs/{need.id}/", _need(motor, failure_mode="misalignment", quantity="3"))
    assert response.status_code == 302
    with tenant_context(world.acme):
        need.refresh_from_db()
        assert (need.failure_mode, need.quantity) == ("misalignment", 3)
    assert client.post(f"/planning/needs/{need.id}/delete/").status_code == 302
    with tenant_context(world.acme):
        assert not PartNeed.objects.exists()


def test_a_part_need_added_on_the_page_is_what_the_optimizer_reads(client_for: Any, world: Any, motor: Machine,
                                                                   bearing: SparePart) -> None:
    assert client_for("engineer").post("/planning/needs/", _need(motor, quantity="3")).status_code == 302
    with tenant_context(world.acme):
        Prediction.objects.create(
            machine=motor, source=Prediction.Source.API, window_end=timezone.now(), horizon_h=24, probability=0.9,
            predicted_failure=True, failure_mode="bearing_wear", rul_h=30, rul_lower_h=15, rul_upper_h=45,
            health_score=10, confidence=0.8)
        problem, snapshot = plan_problem(plan=MaintenancePlan(start_date=date.today(), horizon_days=7),
                                         now=timezone.now())
    [machine] = problem.machines
    assert (machine.name, machine.failure_mode, machine.parts) == ("Motor-001", "bearing_wear",
                                                                   (("6309 bearing", 3),))
    assert snapshot["machines"][0]["parts"] == [["6309 bearing", 3]]


def test_a_failure_mode_the_type_does_not_name_is_refused_and_kept(client_for: Any, world: Any, motor: Machine,
                                                                   bearing: SparePart) -> None:
    with tenant_context(world.acme):
        machine_type_adopt(key="centrifugal-pump")  # its modes are offered too, but not for the motor
    client = client_for("engineer")
    assert '<option value="cavitation" >cavitation — ' in client.get("/planning/").content.decode()
    for mode in ("cavitation", "no_such_mode"):
        response = client.post("/planning/needs/", _need(motor, failure_mode=mode, quantity="4"))
        assert response.status_code == 400, mode
        body = response.content.decode()
        assert "failure mode: one of [&#x27;bearing_wear&#x27;, " in body
        assert f'<option value="{mode}" selected>' in body and 'value="4"' in body
        assert f'<option value="{motor.machine_type.key}" selected>' in body
    with tenant_context(world.acme):
        assert not PartNeed.objects.exists()


def test_a_part_listed_twice_for_a_repair_is_refused(client_for: Any, world: Any, motor: Machine,
                                                     bearing: SparePart) -> None:
    client = client_for("engineer")
    assert client.post("/planning/needs/", _need(motor)).status_code == 302
    response = client.post("/planning/needs/", _need(motor, quantity="5"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "The fields machine_type, failure_mode, part must make a unique set." in body
    assert 'value="5"' in body
    with tenant_context(world.acme):
        other = PartNeed.objects.create(machine_type=motor.machine_type, failure_mode="misalignment", part=bearing)
    # Editing one into the other's repair is the same duplicate.
    response = client.post(f"/planning/needs/{other.id}/", _need(motor, quantity="5"))
    assert response.status_code == 400 and "must make a unique set" in response.content.decode()
    with tenant_context(world.acme):
        assert sorted(PartNeed.objects.values_list("failure_mode", "quantity")) == [("bearing_wear", 2),
                                                                                     ("misalignment", 1)]


def test_a_quantity_of_zero_is_refused_and_kept(client_for: Any, world: Any, motor: Machine,
                                                bearing: SparePart) -> None:
    client = client_for("engineer")
    response = client.post("/planning/needs/", _need(motor, failure_mode="misalignment", quantity="0"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "quantity: Ensure this value is greater than or equal to 1." in body
    assert 'name="quantity" type="number" min="1" value="0"' in body
    assert '<option value="misalignment" selected>' in body
    with tenant_context(world.acme):
        assert not PartNeed.objects.exists()
        need = PartNeed.objects.create(machine_type=motor.machine_type, failure_mode="bearing_wear", part=bearing)
    response = client.post(f"/planning/needs/{need.id}/", _need(motor, quantity="0"))
    assert response.status_code == 400 and "quantity: Ensure this value" in response.content.decode()
    with tenant_context(world.acme):
        need.refresh_from_db()
        assert need.quantity == 1


def test_viewer_reads_part_needs_but_cannot_change_them(client_for: Any, world: Any, motor: Machine,
                                                        bearing: SparePart) -> None:
    with tenant_context(world.acme):
        need = PartNeed.objects.create(machine_type=motor.machine_type, failure_mode="bearing_wear", part=bearing)
    viewer = client_for("viewer")
    page = viewer.get("/planning/").content.decode()
    assert "<td>bearing_wear</td><td>6309 bearing</td>" in page
    assert "Add a part used by a repair" not in page and f"/planning/needs/{need.id}/" not in page
    assert viewer.get(f"/planning/needs/{need.id}/").status_code == 200
    for path, data in [("/planning/needs/", _need(motor, failure_mode="misalignment")),
                       (f"/planning/needs/{need.id}/", _need(motor, quantity="7")),
                       (f"/planning/needs/{need.id}/delete/", {})]:
        assert viewer.post(path, data).status_code == 403, path
    with tenant_context(world.acme):
        assert list(PartNeed.objects.values_list("failure_mode", "quantity")) == [("bearing_wear", 1)]


def test_second_tenant_gets_404_for_part_needs(client_for: Any, world: Any, motor: Machine,
                                               bearing: SparePart) -> None:
    with tenant_context(world.acme):
        need = PartNeed.objects.create(machine_type=motor.machine_type, failure_mode="bearing_wear", part=bearing)
    other = client_for("globex_owner")
    assert other.post("/planning/needs/", _need(motor)).status_code == 404
    assert other.get(f"/planning/needs/{need.id}/").status_code == 404
    assert other.post(f"/planning/needs/{need.id}/", _need(motor, quantity="7")).status_code == 404
    assert other.post(f"/planning/needs/{need.id}/delete/").status_code == 404
    # Globex's own pages: acme's row id does not exist there.
    own = client_for("globex_owner", tenant=world.globex)
    assert own.get(f"/planning/needs/{need.id}/").status_code == 404
    assert own.post(f"/planning/needs/{need.id}/", _need(motor, quantity="7")).status_code == 404
    assert own.post(f"/planning/needs/{need.id}/delete/").status_code == 404
    with tenant_context(world.acme):
        assert list(PartNeed.objects.values_list("quantity", flat=True)) == [1]
