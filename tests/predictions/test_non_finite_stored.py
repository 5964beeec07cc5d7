"""A non-finite value already in the reading store (written before the ingest refused them, or by
hand) is treated as missing: the readings API, scoring, the predictions API, the machine page
and its chart data all answer, in valid JSON."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from machines.live import readings_push
from machines.models import Machine, MachineType
from machines.services import machine_create, machine_type_adopt
from tests.conftest import TRAINED_TYPE, failing_run_readings

pytestmark = pytest.mark.django_db
JSON = "application/json"
POISON = ("Infinity", "NaN", "-Infinity")
# Infinity twice in the last rows: an average over them stays infinite (+inf and -inf would cancel).
POISON_ROWS = ("Infinity", "Infinity", "NaN")


def strict_json(content: bytes) -> Any:
    """JSON as a browser reads it: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not valid JSON")

    return json.loads(content, parse_constant=refuse)


def _poison(machine: Machine, after: datetime, slot_values: list[list[str | None]]) -> None:
    """Rows written straight into the store, the way an old row holding inf/NaN sits there."""
    with connection.cursor() as cursor:
        for offset, vals in enumerate(slot_values, start=1):
            cursor.execute("INSERT INTO machines_reading (machine_id, ts, vals) VALUES (%s, %s, %s::real[])",
                           [machine.id, after + timedelta(minutes=offset), vals])


@pytest.fixture
def poisoned(trained_motor, world) -> Machine:
    """A machine of the trained type whose latest readings hold inf and NaN in every slot, then a
row with a value, inf, NaN and -inf."""
    with tenant_context(world.acme):
        machine_type = MachineType.objects.get(key=TRAINED_TYPE)
        machine = machine_create(machine_type_id=machine_type.id, name="ABB-POISON")
        readings = failing_run_readings(machine_type.metadata, "ABB-POISON", seed=5)[:40]
        assert not readings_push(items=readings).rejected
        last = datetime.fromisoformat(readings[-1]["ts"])
        width = len(machine_type.sensor_slots)
        rows: list[list[str | None]] = [[value] * width for value in POISON_ROWS]
        _poison(machine, last, [*rows, ["1.5", *POISON, *[None] * (width - 4)]])
        return machine


def test_the_readings_api_leaves_non_finite_values_out(client_for, poisoned):
    response = client_for("viewer").get(f"/api/v1/machines/{poisoned.id}/readings/")
    assert response.status_code == 200
    rows = strict_json(response.content)
    assert [row["values"] for row in rows[-4:]] == [{}, {}, {}, {"current_a": 1.5}]
    assert all(math.isfinite(value) for row in rows for value in row["values"].values())


def test_scoring_and_the_predictions_api_treat_them_as_missing(client_for, poisoned):
    engineer = client_for("engineer")
    scored = engineer.post("/api/v1/predictions/", {"machine": "ABB-POISON", "forecast": True}, content_type=JSON)
    assert scored.status_code == 201, scored.content
    body = strict_json(scored.content)
    assert math.isfinite(body["probability"]) and math.isfinite(body["health_score"])
    listed = engineer.get("/api/v1/predictions/", {"machine": poisoned.id})
    assert listed.status_code == 200
    assert strict_json(listed.content)["results"]


def test_the_machine_page_and_its_chart_data_stay_valid(client_for, poisoned):
    engineer = client_for("engineer")
    assert engineer.post("/api/v1/predictions/", {"machine": "ABB-POISON"}, content_type=JSON).status_code == 201
    page = engineer.get(f"/machines/{poisoned.id}/")
    assert page.status_code == 200
    chart = engineer.get(f"/machines/{poisoned.id}/chart-data/")
    assert chart.status_code == 200
    data = strict_json(chart.content)
    assert data["readings"]["signals"]["current_a"][-4:] == [None, None, None, 1.5]
    assert data["readings"]["signals"]["voltage_v"][-1] is None


def test_a_categorical_slot_holding_no_category_reads_as_missing(client_for, world):
    with tenant_context(world.acme):
        machine_type = machine_type_adopt(key="ai4i-milling-machine")
        machine = machine_create(machine_type_id=machine_type.id, name="Mill-POISON")
        readings_push(items=[{"machine": "Mill-POISON", "ts": "2026-11-01T00:00:00Z",
                              "values": {"torque_nm": 40.0}}])
        machine_type.refresh_from_db()
        slots = list(machine_type.sensor_slots)
        categorical = next(s["name"] for s in machine_type.sensors if s["kind"] == "categorical")
        index = slots.index(categorical)
        rows = []
        for bad in ("Infinity", "NaN", "-1", "99"):
            vals: list[str | None] = [None] * len(slots)
            vals[index] = bad
            rows.append(vals)
        _poison(machine, datetime.fromisoformat("2026-11-01T00:00:00+00:00"), rows)
    viewer = client_for("viewer")
    response = viewer.get(f"/api/v1/machines/{machine.id}/readings/")
    assert response.status_code == 200
    assert [row["values"] for row in strict_json(response.content)[1:]] == [{}, {}, {}, {}]
    assert viewer.get(f"/machines/{machine.id}/chart-data/").status_code == 200


def test_drift_and_training_reads_average_only_finite_values(poisoned, world):
    from predictions.services.stored_readings import bucketed_frame

    with tenant_context(world.acme):
        frame = bucketed_frame(machine_type=poisoned.machine_type, machines={poisoned.id: poisoned.name})
        slots = poisoned.machine_type.sensor_slots
    # The last hour holds the last simulated reading and the poisoned rows: its average is that
    # of the finite values, not inf and not missing.
    last = {name: frame.column(name)[-1].as_py() for name in slots}
    assert all(value is not None and math.isfinite(value) for value in last.values()), last
