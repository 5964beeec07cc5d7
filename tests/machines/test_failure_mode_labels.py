"""Failure modes as people label them (issue 14): one 0/1 column per mode (AI4I's TWF ... RNF) or
one mode column, by the names or aliases of the type's metadata, through the API, the upload
form and `ingest_file`; a label naming no mode of the type is an error naming it and the known
modes, and nothing is stored."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import tenant_context

from machines.forms import MappingForm
from machines.ingest.mapping import ColumnMapping, mapping_guess
from machines.models import FailureEvent, Machine, MachineType, Upload
from machines.selectors import readings_count
from machines.services import machine_create, machine_type_adopt

AI4I = "ai4i-milling-machine"
HEADER = ["UDI", "Product ID", "Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]",
          "Torque [Nm]", "Tool wear [min]", "Machine failure", "TWF", "HDF", "PWF", "OSF", "RNF"]
MODES = ["TWF", "HDF", "PWF", "OSF", "RNF"]
# cycle -> (the failure flag, the mode flags set): a mode flag without the failure flag (cycle 10),
# two modes on one row (15), a failure of no mode (20), a run of two rows (24-25) followed at once
# by another mode (26).
LABELS = {5: (1, ["TWF"]), 10: (0, ["RNF"]), 15: (1, ["HDF", "OSF"]), 20: (1, []), 24: (1, ["PWF"]),
          25: (1, ["PWF"]), 26: (1, ["OSF"])}
EXPECTED = [(5, "tool_wear_failure", ""), (10, "random_failure", ""),
            (15, "heat_dissipation_failure", "modes flagged: heat_dissipation_failure, overstrain_failure"),
            (20, "", ""), (24, "power_failure", ""), (26, "overstrain_failure", "")]
BASE_MAPPING = {"time_column": "UDI", "time_format": "cycle", "machine_name": "Mill-1", "create_unknown_machines": True}


@pytest.fixture
def ai4i(db: None, world: Any) -> MachineType:
    with tenant_context(world.acme):
        return machine_type_adopt(key=AI4I)


def _ai4i_file(rows: int = 30) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for cycle in range(1, rows + 1):
        failed, modes = LABELS.get(cycle, (0, []))
        writer.writerow([cycle, f"L{cycle:05d}", "LMH"[cycle % 3], 298.1, 308.6, 1500 + cycle, 40.0, cycle * 2,
                         failed, *(int(mode in modes) for mode in MODES)])
    return out.getvalue().encode()


def _mode_column_file(values: list[str]) -> bytes:
    lines = ["UDI,Rotational speed [rpm],Failure Type"]
    lines += [f"{cycle},{1500 + cycle},{value}" for cycle, value in enumerate(values, start=1)]
    return ("\n".join(lines) + "\n").encode()


def _post(client: Any, content: bytes, mapping: dict[str, Any]) -> Any:
    return client.post("/api/v1/uploads/", {"file": SimpleUploadedFile("ai4i.csv", content), "machine_type": AI4I,
                                            "mapping": json.dumps(mapping)})


def _events(world: Any) -> list[tuple[int, str, str]]:
    with tenant_context(world.acme):
        return [(int(e.occurred_at.timestamp()), e.failure_mode, e.notes)
                for e in FailureEvent.objects.order_by("occurred_at")]


# --- one 0/1 column per mode ----------------------------------------------------------------------

def test_mode_flag_columns_through_the_api_become_failures_of_their_modes(client_for, world, ai4i, eager):
    mapping = {**BASE_MAPPING, "sensors": {"Rotational speed [rpm]": "speed_rpm"},
               "failure_column": "Machine failure", "failure_mode_flags": MODES}  # a list: each header names its mode
    with eager():
        response = _post(client_for("engineer"), _ai4i_file(), mapping)
    assert response.status_code == 202, response.content
    upload = client_for("engineer").get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert upload["status"] == "succeeded", upload["error"]
    assert upload["report"]["failure_events"] == 6 and upload["report"]["unknown_columns"] == [
        "Product ID", "Type", "Air temperature [K]", "Process temperature [K]", "Torque [Nm]", "Tool wear [min]"]
    assert _events(world) == EXPECTED
    with tenant_context(world.acme):
        assert Upload.objects.get().mapping["failure_mode_flags"] == {mode: mode for mode in MODES}


def test_mode_flags_without_a_failure_column_and_mapped_by_mode_name(client_for, world, ai4i, eager):
    mapping = {**BASE_MAPPING, "sensors": {"Rotational speed [rpm]": "speed_rpm"},
               "failure_mode_flags": {"TWF": "tool_wear_failure", "OSF": "overstrain_failure"}}
    with eager():
        _post(client_for("engineer"), _ai4i_file(), mapping)
    assert [(cycle, mode) for cycle, mode, _ in _events(world)] == [
        (5, "tool_wear_failure"), (15, "overstrain_failure"), (26, "overstrain_failure")]


def test_a_mode_flag_header_naming_no_mode_is_refused_at_once(client_for, world, ai4i, eager):
    content = _ai4i_file().replace(b",RNF\n", b",XYZ\n", 1)
    mapping = {**BASE_MAPPING, "sensors": {"Rotational speed [rpm]": "speed_rpm"},
               "failure_mode_flags": ["TWF", "XYZ"]}
    with eager():
        response = _post(client_for("engineer"), content, mapping)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "'XYZ' names no failure mode of machine type 'ai4i-milling-machine'" in error["message"]
    problem = error["details"]["problems"][0]
    assert "tool_wear_failure (TWF)" in problem and "random_failure (RNF, Random Failures))" in problem
    with tenant_context(world.acme):
        assert not Upload.objects.exists() and readings_count() == 0


def test_a_mode_flag_that_is_not_0_or_1_fails_the_upload_with_its_line(client_for, world, ai4i, eager):
    lines = _ai4i_file().split(b"\n")
    assert lines[5].startswith(b"5,") and lines[5].endswith(b",1,1,0,0,0,0")
    lines[5] = lines[5][: -len(b"1,0,0,0,0")] + b"yes,0,0,0,0"  # cycle 5's TWF, line 6 of the file
    content = b"\n".join(lines)
    mapping = {**BASE_MAPPING, "sensors": {"Rotational speed [rpm]": "speed_rpm"}, "failure_mode_flags": MODES}
    with eager():
        response = _post(client_for("engineer"), content, mapping)
    upload = client_for("engineer").get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert upload["status"] == "failed" and "'TWF' must hold 0/1/true/false; line 6 has 'yes'" in upload["error"]
    with tenant_context(world.acme):
        assert readings_count() == 0 and not FailureEvent.objects.exists()


# --- one mode column ------------------------------------------------------------------------------

def test_a_mode_column_takes_names_aliases_and_no_failure_words(client_for, world, ai4i, eager):
    values = ["No Failure", "TWF", "Tool Wear Failure", "", "Random Failures", "none", "heat_dissipation_failure",
              "no failure"]
    mapping = {**BASE_MAPPING, "sensors": {"Rotational speed [rpm]": "speed_rpm"},
               "failure_mode_column": "Failure Type"}
    with eager():
        response = _post(client_for("engineer"), _mode_column_file(values), mapping)
    upload = client_for("engineer").get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert upload["status"] == "succeeded", upload["error"]
    # TWF then "Tool Wear Failure": one failure over two rows; a named mode needs no failure column.
    assert [(cycle, mode) for cycle, mode, _ in _events(world)] == [
        (2, "tool_wear_failure"), (5, "random_failure"), (7, "heat_dissipation_failure")]


def test_a_mode_column_value_naming_no_mode_fails_the_upload_and_stores_nothing(client_for, world, ai4i, eager):
    mapping = {**BASE_MAPPING, "sensors": {"Rotational speed [rpm]": "speed_rpm"},
               "failure_mode_column": "Failure Type"}
    with eager():
        response = _post(client_for("engineer"), _mode_column_file(["No Failure", "TWF", "Spindle Crash"]), mapping)
    upload = client_for("engineer").get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert upload["status"] == "failed"
    assert upload["error"].startswith("Nothing was imported: the failure-mode column 'Failure Type' on line 4 "
                                      "says 'Spindle Crash', which names no failure mode")
    assert "Known: tool_wear_failure (TWF), heat_dissipation_failure (HDF)" in upload["error"]
    with tenant_context(world.acme):
        assert readings_count() == 0 and not FailureEvent.objects.exists()


def test_the_failure_flag_with_a_mode_column_keeps_its_meaning(client_for, world, motor_type, eager):
    """A flagged row without a mode is a failure of unknown mode; the mode column's "none" is no
    failure unless the flag says one."""
    content = b"timestamp,current_a,failed,mode\n" + b"".join(
        f"2026-03-01T00:{m:02d}:00Z,12,{int(m in (3, 8))},{'misalignment' if m == 8 else 'none'}\n".encode()
        for m in range(10))
    mapping = {"time_column": "timestamp", "machine_name": "Motor-9", "create_unknown_machines": True,
               "sensors": {"current_a": "current_a"}, "failure_column": "failed", "failure_mode_column": "mode"}
    client = client_for("engineer")
    with eager():
        client.post("/api/v1/uploads/", {"file": SimpleUploadedFile("m.csv", content), "mapping": json.dumps(mapping),
                                         "machine_type": "induction-motor-siemens-1la7"})
    with tenant_context(world.acme):
        assert [(e.occurred_at.minute, e.failure_mode) for e in FailureEvent.objects.order_by("occurred_at")] == [
            (3, ""), (8, "misalignment")]


# --- guessing: the upload form and ingest_file ----------------------------------------------------

def test_the_guess_finds_mode_flags_and_the_failure_column_by_name_or_alias(world, ai4i):
    with tenant_context(world.acme):
        guess = mapping_guess(columns=HEADER, machine_type=ai4i)
        form = MappingForm(columns=HEADER, machine_type=ai4i)
    assert guess.failure_column == "Machine failure" and guess.failure_mode_column is None
    assert guess.failure_mode_flags == {"TWF": "tool_wear_failure", "HDF": "heat_dissipation_failure",
                                        "PWF": "power_failure", "OSF": "overstrain_failure", "RNF": "random_failure"}
    chosen = {field.label: form.initial[field.name] for field in form.column_fields() if form.initial[field.name]}
    assert chosen["Machine failure"] == "failure" and chosen["TWF"] == "mode:tool_wear_failure"
    assert chosen["RNF"] == "mode:random_failure" and chosen["Type"] == "sensor:product_type"
    kaggle = mapping_guess(columns=["UDI", "Target", "Failure Type"], machine_type=ai4i)
    assert kaggle.failure_mode_column == "Failure Type" and kaggle.failure_mode_flags == {}


def test_the_upload_form_maps_mode_flags_and_stores_their_failures(client_for, world, ai4i, eager):
    engineer = client_for("engineer")
    start = engineer.post("/uploads/", {"machine_type": AI4I, "file": SimpleUploadedFile("ai4i.csv", _ai4i_file())})
    assert start.status_code == 302, start.content
    page = engineer.get(start["Location"])
    form = page.context["form"]
    assert "Failure flag (0/1) of Tool wear failure (TWF)" in page.content.decode()
    post = {name: form[name].value() or "" for name in form.fields if name.startswith("col_")}
    assert post["col_9"] == "mode:tool_wear_failure" and post["col_8"] == "failure"  # preselected by the guess
    post |= {"col_0": "time", "time_format": "cycle", "new_machine_name": "Mill-1", "create_unknown_machines": "on"}
    with eager():
        response = engineer.post(start["Location"], post)
    assert response.status_code == 302, response.content
    with tenant_context(world.acme):
        upload = Upload.objects.get()
        assert upload.status == Upload.Status.SUCCEEDED, upload.error
        assert upload.mapping["failure_mode_flags"] == {"TWF": "tool_wear_failure", "HDF": "heat_dissipation_failure",
                                                        "PWF": "power_failure", "OSF": "overstrain_failure",
                                                        "RNF": "random_failure"}
    assert _events(world) == EXPECTED


def test_ingest_file_guesses_the_label_columns_and_says_so(world, ai4i, tmp_path: Path, capsys):
    data, mapping = tmp_path / "ai4i2020.csv", tmp_path / "mapping.json"
    data.write_bytes(_ai4i_file())
    mapping.write_text(json.dumps(BASE_MAPPING))
    call_command("ingest_file", "--tenant", "acme", "--type", AI4I, "--mapping", str(mapping), str(data))
    out = capsys.readouterr().out
    assert "failure column: Machine failure (guessed)" in out
    assert "TWF -> failure mode tool_wear_failure (matched by failure mode)" in out
    assert "ignored columns: Product ID\n" in out and "6 failure events" in out
    assert _events(world) == EXPECTED


def test_ingest_file_refuses_a_mapped_mode_the_type_does_not_have(world, ai4i, tmp_path: Path):
    data, mapping = tmp_path / "ai4i2020.csv", tmp_path / "mapping.json"
    data.write_bytes(_ai4i_file())
    mapping.write_text(json.dumps({**BASE_MAPPING, "failure_mode_flags": {"TWF": "chatter"}}))
    with pytest.raises(CommandError, match="'chatter' names no failure mode of machine type 'ai4i-milling"):
        call_command("ingest_file", "--tenant", "acme", "--type", AI4I, "--mapping", str(mapping), str(data))
    with tenant_context(world.acme):
        assert not Machine.objects.exists()


def test_a_mapping_without_mode_flags_keeps_its_saved_form():
    """Mappings saved before mode flags existed compare equal (the duplicate-upload check)."""
    mapping = ColumnMapping.from_dict({"time_column": "t", "sensors": {"a": "b"}, "machine_name": "M"})
    assert "failure_mode_flags" not in mapping.as_dict()
    assert ColumnMapping.from_dict({**mapping.as_dict(), "failure_mode_flags": ["TWF"]}).failure_mode_flags == {
        "TWF": "TWF"}


# --- failure events entered by hand, imported, or from a work order ---------------------------------

def test_the_failure_event_api_takes_aliases_and_names_the_known_modes(client_for, world, ai4i):
    with tenant_context(world.acme):
        machine_create(machine_type_id=ai4i.id, name="Mill-2")
    engineer = client_for("engineer")
    made = engineer.post("/api/v1/failure-events/", {"machine": "Mill-2", "occurred_at": "2026-03-01T10:00:00Z",
                                                     "failure_mode": "twf"}, content_type="application/json")
    assert made.status_code == 201, made.content
    assert made.json()["failure_mode"] == "tool_wear_failure"
    bad = engineer.post("/api/v1/failure-events/", {"machine": "Mill-2", "occurred_at": "2026-03-01T11:00:00Z",
                                                    "failure_mode": "spindle crash"}, content_type="application/json")
    assert bad.status_code == 400
    assert "Unknown failure mode 'spindle crash'" in bad.json()["error"]["message"]
    assert "power_failure (PWF)" in bad.json()["error"]["message"]
    csv_file = b"machine,occurred_at,failure_mode\nMill-2,2026-03-02T00:00:00Z,HDF\nMill-2,2026-03-03T00:00:00Z,PWF\n"
    imported = engineer.post("/api/v1/failure-events/import/", {"file": SimpleUploadedFile("f.csv", csv_file)})
    assert imported.status_code == 201, imported.content
    assert [e["failure_mode"] for e in imported.json()] == ["heat_dissipation_failure", "power_failure"]
    refused = engineer.post("/api/v1/failure-events/import/", {"file": SimpleUploadedFile(
        "f.csv", b"machine,occurred_at,failure_mode\nMill-2,2026-03-04T00:00:00Z,XYZ\n")})
    assert refused.status_code == 400 and "line 2: unknown failure mode 'XYZ'" in json.dumps(refused.json())
    with tenant_context(world.acme):
        assert FailureEvent.objects.count() == 3


def test_a_work_order_closed_with_an_alias_records_the_mode_by_name(client_for, world, ai4i):
    with tenant_context(world.acme):
        machine_create(machine_type_id=ai4i.id, name="Mill-3")
    engineer = client_for("engineer")
    order = engineer.post("/api/v1/work-orders/", {"machine": "Mill-3", "title": "Tool"},
                          content_type="application/json").json()
    url = f"/api/v1/work-orders/{order['id']}/"
    engineer.post(url + "transition/", {"status": "in_progress"}, content_type="application/json")
    unknown = engineer.post(url + "close/", {"failure_found": True, "failure_mode_found": "gremlins",
                                             "action_taken": "x"}, content_type="application/json")
    assert unknown.status_code == 400 and "overstrain_failure (OSF)" in unknown.json()["error"]["message"]
    closed = engineer.post(url + "close/", {"failure_found": True, "failure_mode_found": "OSF",
                                            "action_taken": "New tool"}, content_type="application/json")
    assert closed.status_code == 200 and closed.json()["failure_mode_found"] == "overstrain_failure"
    with tenant_context(world.acme):
        assert FailureEvent.objects.get(work_order_id=order["id"]).failure_mode == "overstrain_failure"
