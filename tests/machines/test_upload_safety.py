"""Uploads that cannot put data under the wrong machine (issue 16), through the API: an ignored
column that looks like machine identifiers and a saved mapping made for other columns are
refused with 400 `mapping_doubtful` naming the column, unless the request confirms; creating
unknown machines is off unless asked for."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from machines.ingest.doubts import machine_like_columns
from machines.models import Machine, MachineType, MappingPreset, Upload
from machines.selectors import readings_count
from machines.services import machine_create

MOTOR = "induction-motor-siemens-1la7"
SENSORS = {"Current (A)": "current_a", "Winding temp": "winding_temp_c"}
ONE_MACHINE = {"time_column": "timestamp", "machine_name": "P-101", "sensors": SENSORS}


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _pumps_file(column: str = "machine", names: tuple[str, ...] = ("P-101", "P-102", "P-103")) -> bytes:
    """Three pumps' readings, one after the other (a file sorted by machine)."""
    rows = [[f"2026-03-01T00:{minute:02d}:00Z", name, 12.0 + minute / 10, 70.0]
            for name in names for minute in range(20)]
    return _csv(["timestamp", column, "Current (A)", "Winding temp"], rows)


def _post(client: Any, content: bytes, mapping: dict[str, Any] | None = None, **extra: Any) -> Any:
    data: dict[str, Any] = {"file": SimpleUploadedFile("pumps.csv", content), "machine_type": MOTOR, **extra}
    if mapping is not None:
        data["mapping"] = json.dumps(mapping)
    return client.post("/api/v1/uploads/", data)


def _pumps(world: Any, motor_type: MachineType, *names: str) -> None:
    with tenant_context(world.acme):
        for name in names:
            machine_create(machine_type_id=motor_type.id, name=name)


def test_an_ignored_machine_column_is_refused_naming_it(client_for, world, motor_type):
    _pumps(world, motor_type, "P-101")
    response = _post(client_for("engineer"), _pumps_file(), ONE_MACHINE)
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert body["code"] == "mapping_doubtful" and body["details"]["columns"] == ["machine"]
    assert "'machine'" in body["message"] and "P-101" in body["message"]
    with tenant_context(world.acme):
        assert not Upload.objects.exists()


def test_values_naming_other_machines_are_doubted_whatever_the_header(client_for, world, motor_type):
    _pumps(world, motor_type, "P-101", "P-102", "P-103")
    response = _post(client_for("engineer"), _pumps_file(column="source"), ONE_MACHINE)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["columns"] == ["source"]
    assert "P-102, P-103" in response.json()["error"]["message"]


def test_a_text_column_of_a_few_repeated_values_is_doubted(client_for, world, motor_type):
    _pumps(world, motor_type, "P-101")
    response = _post(client_for("engineer"), _pumps_file(column="where", names=("north", "south")), ONE_MACHINE)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["columns"] == ["where"]
    assert "north, south" in response.json()["error"]["message"]


def test_a_column_that_names_only_the_chosen_machine_or_free_text_is_not_doubted(client_for, world, motor_type,
                                                                                 eager):
    _pumps(world, motor_type, "P-101")
    engineer = client_for("engineer")
    with eager():
        consistent = _post(engineer, _pumps_file(names=("P-101",)), ONE_MACHINE)
    assert consistent.status_code == 202, consistent.content
    notes = _csv(["timestamp", "note", "Current (A)", "Winding temp"],
                 [[f"2026-03-02T00:{minute:02d}:00Z", f"checked {minute}", 12.0, 70.0] for minute in range(20)])
    assert _post(engineer, notes, ONE_MACHINE).status_code == 202


def test_confirming_imports_as_mapped(client_for, world, motor_type, eager):
    _pumps(world, motor_type, "P-101")
    with eager():
        response = _post(client_for("engineer"), _pumps_file(), ONE_MACHINE, confirm_mapping="true")
    assert response.status_code == 202, response.content
    with tenant_context(world.acme):
        assert readings_count(machine_id=Machine.objects.get(name="P-101").id) == 20  # 60 rows, 20 times


def test_mapping_the_machine_column_imports_every_pump(client_for, world, motor_type, eager):
    _pumps(world, motor_type, "P-101", "P-102", "P-103")
    fleet = {"time_column": "timestamp", "machine_column": "machine", "sensors": SENSORS}
    with eager():
        assert _post(client_for("engineer"), _pumps_file(), fleet).status_code == 202
    with tenant_context(world.acme):
        assert [readings_count(machine_id=machine.id) for machine in Machine.objects.order_by("name")] == [20] * 3


def test_unknown_machines_are_not_created_unless_asked(client_for, world, motor_type, eager):
    fleet = {"time_column": "timestamp", "machine_column": "machine", "sensors": SENSORS}
    with eager():
        response = _post(client_for("engineer"), _pumps_file(), fleet)
    assert response.status_code == 202
    with tenant_context(world.acme):
        upload = Upload.objects.get()
        assert upload.status == Upload.Status.FAILED and "unknown machine" in upload.error
        assert not Machine.objects.exists()


def test_a_saved_mapping_made_for_other_columns_is_refused_naming_them(client_for, world, motor_type, eager):
    _pumps(world, motor_type, "P-101")
    engineer = client_for("engineer")
    one_pump = _csv(["timestamp", "Current (A)", "Winding temp"],
                    [[f"2026-03-01T01:{minute:02d}:00Z", 12.0, 70.0] for minute in range(20)])
    with eager():
        assert _post(engineer, one_pump, ONE_MACHINE, save_preset_as="scada").status_code == 202
    with tenant_context(world.acme):
        assert MappingPreset.objects.get(name="scada").header == ["timestamp", "Current (A)", "Winding temp"]
    other_layout = _csv(["timestamp", "Current (A)", "Winding temp", "operator"],
                        [[f"2026-03-01T02:{minute:02d}:00Z", 12.0, 70.0, "ann"] for minute in range(20)])
    refused = _post(engineer, other_layout, preset="scada")
    assert refused.status_code == 400 and refused.json()["error"]["details"]["columns"] == ["operator"]
    assert "saved mapping 'scada'" in refused.json()["error"]["message"]
    assert _post(engineer, other_layout, preset="scada", confirm_mapping="true").status_code == 202
    same_layout = one_pump.replace(b"T01:", b"T03:")
    assert _post(engineer, same_layout, preset="scada").status_code == 202


def test_serials_codes_and_flags_are_not_machine_identifiers(db, in_acme):
    """AI4I's ignored columns: a serial per row, a one-letter quality code, a 0/1 failure flag."""
    values: dict[str, set[str] | None] = {
        "Product ID": {f"L{row:05d}" for row in range(40)}, "Type": {"L", "M", "H"},
        "Machine failure": {"0", "1"}, "asset_no": {"A-1", "A-2"}, "Line": {"north", "south"}}
    doubts = machine_like_columns(ignored=list(values), values=values, rows=40, machine_name="Mill-1")
    assert [doubt.column for doubt in doubts] == ["asset_no", "Line"]
    assert "its name" in doubts[0].message and "north, south" in doubts[1].message
