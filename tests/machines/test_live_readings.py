"""Live readings pushed as JSON: stored like uploads, rejected with index and reason."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from machines.selectors import readings_count
from machines.services import machine_create, machine_type_adopt, machine_type_slots

JSON = "application/json"


@pytest.fixture
def machines(db, world):
    with tenant_context(world.acme):
        motor = machine_type_adopt(key="induction-motor-siemens-1la7")
        pump = machine_type_adopt(key="centrifugal-pump")
        return (machine_create(machine_type_id=motor.id, name="Motor-001"),
                machine_create(machine_type_id=pump.id, name="Pump-001"))


def _reading(machine: str, minute: int, **values):
    return {"machine": machine, "ts": f"2026-11-27T10:{minute:02d}:00Z", "values": values}


def test_mixed_types_are_stored_and_problems_reported_by_index(client_for, world, machines):
    pump_sensor = next(s["name"] for s in machines[1].machine_type.metadata["sensors"] if s["kind"] == "numeric")
    body = {"readings": [
        _reading("Motor-001", 0, current_a=12.5, winding_temp_c=71),
        _reading("Pump-001", 0, **{pump_sensor: 3.2}),
        _reading("Motor-404", 0, current_a=1),
        _reading("Motor-001", 1, spead_rpm=1480),
        {"machine": "Motor-001", "ts": "yesterday-ish", "values": {"current_a": 1}},
        _reading("Motor-001", 2, current_a="twelve"),
        {"machine": "Motor-001", "ts": 1795000000, "values": {"current_a": 13}},  # epoch seconds
    ]}
    response = client_for("engineer").post("/api/v1/readings/", body, content_type=JSON)
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["stored"] == 3 and result["duplicates"] == 0
    reasons = {row["index"]: row["reason"] for row in result["rejected"]}
    assert set(reasons) == {2, 3, 4, 5}
    assert "unknown machine 'Motor-404'" in reasons[2] and "'spead_rpm'" in reasons[3]
    again = client_for("engineer").post("/api/v1/readings/", body, content_type=JSON).json()
    assert again["stored"] == 0 and again["duplicates"] == 3
    readings = client_for("viewer").get(f"/api/v1/machines/{machines[0].id}/readings/").json()
    by_time = {row["ts"]: row["values"] for row in readings}
    assert by_time["2026-11-27T10:00:00Z"] == {"current_a": 12.5, "winding_temp_c": 71.0}
    assert by_time["2026-11-18T11:06:40Z"] == {"current_a": 13.0}  # from epoch seconds


@pytest.mark.parametrize(
    ("body", "code"),
    [({"readings": []}, "invalid_readings"), ({"x": 1}, "invalid_readings"),
     ({"readings": [_reading("Motor-001", 0, current_a=1)] * 10_001}, "too_many_readings")],
)
def test_bad_envelopes_are_refused_whole(client_for, world, machines, body, code):
    response = client_for("engineer").post("/api/v1/readings/", body, content_type=JSON)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    with tenant_context(world.acme):
        assert readings_count() == 0


def test_ten_thousand_readings_in_one_request(client_for, world, machines):
    body = [{"machine": "Motor-001", "ts": 1_790_000_000 + second, "values": {"current_a": second % 17}}
            for second in range(10_000)]
    result = client_for("engineer").post("/api/v1/readings/", body, content_type=JSON).json()
    assert result == {"stored": 10_000, "duplicates": 0, "rejected": []}


def test_roles_and_tenants(client_for, key_client, world, machines):
    body = [_reading("Motor-001", 0, current_a=1)]
    assert client_for("viewer").post("/api/v1/readings/", body, content_type=JSON).status_code == 403
    assert key_client(["read"]).post("/api/v1/readings/", body, content_type=JSON).status_code == 403
    globex = key_client(["read", "write"], tenant=world.globex, host="acme.localhost")
    result = globex.post("/api/v1/readings/", body, content_type=JSON).json()
    assert result["stored"] == 0 and "unknown machine" in result["rejected"][0]["reason"]
    assert globex.get(f"/api/v1/machines/{machines[0].id}/readings/").status_code == 404
    with tenant_context(world.acme):
        assert readings_count() == 0


def test_deleting_a_machine_deletes_its_readings(client_for, world, machines):
    client_for("engineer").post("/api/v1/readings/", [_reading("Motor-001", 0, current_a=1),
                                                      _reading("Pump-001", 0)], content_type=JSON)
    with tenant_context(world.acme):
        before = readings_count()
    assert client_for("admin").delete(f"/api/v1/machines/{machines[0].id}/").status_code == 204
    with tenant_context(world.acme):
        assert readings_count(machine_id=machines[0].id) == 0 and readings_count() == before - 1


def test_non_finite_values_are_rejected_and_the_machine_stays_readable(client_for, world, machines):
    """Strings that spell NaN or infinity, and a JSON number too large for a double (1e400, which
    Python reads as inf), are rejected readings; the others are stored and read back as JSON."""
    spelled = ["inf", "-inf", "nan", "NaN", "Infinity", "-Infinity", " INF", "1e39"]
    items = [_reading("Motor-001", minute, current_a=value) for minute, value in enumerate(spelled)]
    items.append(_reading("Motor-001", 30, current_a=12.5))
    raw = json.dumps(items)[:-1] + ', {"machine": "Motor-001", "ts": "2026-11-27T10:31:00Z", ' \
                                   '"values": {"current_a": 1e400, "winding_temp_c": 70}}]'
    engineer = client_for("engineer")
    response = engineer.post("/api/v1/readings/", raw, content_type=JSON)
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["stored"] == 1
    reasons = {row["index"]: row["reason"] for row in result["rejected"]}
    assert set(reasons) == {0, 1, 2, 3, 4, 5, 6, 7, 9}
    assert all("not a finite number" in reason for reason in reasons.values()), reasons
    assert reasons[6].startswith("value ' INF' in column 'current_a'")
    readings = engineer.get(f"/api/v1/machines/{machines[0].id}/readings/")
    assert json.loads(readings.content, parse_constant=_refuse) == [
        {"ts": "2026-11-27T10:30:00Z", "values": {"current_a": 12.5}}]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_not_json(client_for, world, machines, literal):
    raw = '[{"machine": "Motor-001", "ts": "2026-11-27T10:00:00Z", "values": {"current_a": LITERAL}}]'
    raw = raw.replace("LITERAL", literal)
    response = client_for("engineer").post("/api/v1/readings/", raw, content_type=JSON)
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]
    with tenant_context(world.acme):
        assert readings_count() == 0


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def test_a_database_refusal_is_answered_in_words_and_stores_nothing(client_for, world, machines):
    """A rule the database enforces (a check constraint the test adds; rolled back with the test)
    refuses one reading of the batch: nothing of the batch is stored, and the answer says so
    without the database's own message."""
    from django.db import connection

    with tenant_context(world.acme):
        slot = machine_type_slots(machines[0].machine_type).index("current_a") + 1
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE machines_reading ADD CONSTRAINT current_below_1000 "
                           f"CHECK (vals[{slot}] IS NULL OR vals[{slot}] < 1000)")
    body = [_reading("Motor-001", 0, current_a=12), _reading("Motor-001", 1, current_a=5000)]
    response = client_for("engineer").post("/api/v1/readings/", body, content_type=JSON)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "store_refused" and "nothing of it was stored" in error["message"]
    assert "constraint" not in response.content.decode() and "current_below" not in response.content.decode()
    with tenant_context(world.acme):
        assert readings_count() == 0
