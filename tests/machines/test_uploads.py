"""Sensor uploads end to end through the API: raw file kept, job, readings, labels, quality
report, rejected rows, duplicates, bad input, isolation."""

from __future__ import annotations

import codecs
import csv
import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from machines.models import FailureEvent, Machine, MachineType, Upload
from machines.selectors import readings_count, readings_for_machine
from machines.services import machine_type_slots

MOTOR = "induction-motor-siemens-1la7"
SINGLE_MAPPING = {
    "time_column": "timestamp", "machine_name": "Motor-001", "create_unknown_machines": True,
    "sensors": {"Current (A)": "current_a", "Winding temp": "winding_temp_c", "Vibration": "vibration_de_mm_s"},
    "failure_column": "failed", "failure_mode_column": "mode",
}


def _csv(rows: list[list[Any]], header: list[str], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _single_machine_file(bad_lines: bool = True) -> bytes:
    header = ["timestamp", "Current (A)", "Winding temp", "Vibration", "failed", "mode", "operator"]
    rows = [[f"2026-03-01T00:{minute:02d}:00Z", 12.0 + minute / 100, 70 + minute / 10, 1.2, 0, "", "ann"]
            for minute in range(40)]
    rows[30][4], rows[30][5] = 1, "bearing_wear"  # a failure, flagged on two consecutive rows
    rows[31][4], rows[31][5] = 1, "bearing_wear"
    if bad_lines:
        rows[5][0] = "not a time"  # line 7
        rows[9][1] = "twelve"  # line 11
    return _csv(rows, header)


def _post(client, content: bytes, mapping: dict[str, Any] | None = SINGLE_MAPPING, **extra: Any):
    data: dict[str, Any] = {"file": SimpleUploadedFile("history.csv", content), "machine_type": MOTOR, **extra}
    if mapping is not None:
        data["mapping"] = json.dumps(mapping)
    return client.post("/api/v1/uploads/", data)


def test_single_machine_file_with_labels(client_for, world, motor_type, eager):
    engineer = client_for("engineer")
    content = _single_machine_file()
    with eager():
        response = _post(engineer, content, save_preset_as="scada-export")
    assert response.status_code == 202, response.content
    upload = engineer.get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert upload["status"] == "succeeded", upload["error"]
    assert (upload["rows_read"], upload["rows_stored"], upload["rows_rejected"]) == (40, 38, 2)
    report = upload["report"]
    assert report["unknown_columns"] == ["operator"]
    assert report["rows"]["rejected_by_reason"] and report["failure_events"] == 1
    assert report["sensors"]["current_a"]["count"] == 38 and report["sensors"]["current_a"]["missing"] == 0
    rejected = engineer.get(f"/api/v1/uploads/{upload['id']}/rejected/")
    lines = list(csv.reader(io.StringIO(b"".join(rejected.streaming_content).decode())))
    assert [row[0] for row in lines[1:]] == ["7", "11"] and "not a time" in lines[1][1]
    raw = engineer.get(f"/api/v1/uploads/{upload['id']}/raw/")
    assert b"".join(raw.streaming_content) == content  # the raw file is kept as uploaded
    with tenant_context(world.acme):
        machine = Machine.objects.get(name="Motor-001")
        assert readings_count(machine_id=machine.id) == 38
        failure = FailureEvent.objects.get(machine=machine)
        assert (failure.failure_mode, failure.source, failure.occurred_at.minute) == ("bearing_wear", "label", 30)
    labels = engineer.get(f"/api/v1/machines/{machine.id}/labels/").json()
    assert [f["failure_mode"] for f in labels["failures"]] == ["bearing_wear"]
    ruls = [row["rul_seconds"] for row in labels["readings"]]
    assert ruls[0] == 30 * 60 and 0 in ruls and labels["readings"][-1]["censored"] is True
    first = labels["readings"][0]
    assert (first["rul"], first["time_unit"], first["cycle"]) == (0.5, "h", None)  # 30 minutes, in hours
    assert engineer.get("/api/v1/mapping-presets/").json()["results"][0]["name"] == "scada-export"


def test_fleet_file_with_cycles_and_run_to_failure(client_for, world, motor_type, eager):
    header = ["unit", "cycle", "amps", "vib"]
    rows = [[f"engine-{unit}", cycle, 10 + cycle / 100, 1 + cycle / 50] for unit in range(1, 4)
            for cycle in range(1, 21 + unit)]
    mapping = {"time_column": "cycle", "time_format": "cycle", "machine_column": "unit",
               "create_unknown_machines": True, "sensors": {"amps": "current_a", "vib": "vibration_de_mm_s"},
               "extra": {"run_to_failure": True}}
    engineer = client_for("engineer")
    with eager():
        response = _post(engineer, _csv(rows, header, delimiter=";"), mapping=mapping)
    upload = engineer.get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert upload["status"] == "succeeded", upload["error"]
    assert sorted(upload["report"]["machines_created"]) == ["engine-1", "engine-2", "engine-3"]
    with tenant_context(world.acme):
        machine = Machine.objects.get(name="engine-2")
        assert FailureEvent.objects.filter(source="label").count() == 3
    readings = engineer.get(f"/api/v1/machines/{machine.id}/labels/").json()["readings"]
    assert [row["rul_seconds"] for row in readings] == list(range(22, -1, -1))[1:]  # cycles 1..22: RUL 21..0
    # In the data's own unit too: cycles, with each reading's cycle (not only a 1970 date).
    assert [(row["cycle"], row["rul"], row["time_unit"]) for row in readings[:2]] == [(1, 21, "cycles"),
                                                                                    (2, 20, "cycles")]


def test_the_same_file_twice_is_refused_and_stores_nothing_twice(client_for, world, motor_type, eager):
    engineer = client_for("engineer")
    content = _single_machine_file(bad_lines=False)
    with eager():
        _post(engineer, content)
    again = _post(engineer, content)
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_upload"
    with eager():  # under another mapping the readings still land once: the store deduplicates
        other = _post(engineer, content, mapping={**SINGLE_MAPPING, "failure_mode_column": None})
    second = engineer.get(f"/api/v1/uploads/{other.json()['id']}/").json()
    assert second["status"] == "succeeded" and second["rows_stored"] == 0 and second["duplicates"] == 40
    with tenant_context(world.acme):
        assert FailureEvent.objects.count() == 1


def test_bad_label_values_fail_the_upload_and_leave_nothing(client_for, world, motor_type, eager):
    content = _single_machine_file(bad_lines=False).replace(b",0,,ann\n", b",maybe,,ann\n", 1)
    engineer = client_for("engineer")
    with eager():
        response = _post(engineer, content)
    upload = engineer.get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert upload["status"] == "failed"
    assert "must hold 0/1/true/false; line 2 has 'maybe'" in upload["error"]
    job = engineer.get(f"/api/v1/jobs/{upload['job_id']}/").json()
    assert job["status"] == "failed" and "0/1/true/false" in job["message"]
    with tenant_context(world.acme):
        machine = Machine.objects.filter(name="Motor-001").first()
        assert machine is None or readings_count(machine_id=machine.id) == 0
        assert not FailureEvent.objects.exists()


@pytest.mark.parametrize(
    ("content", "mapping", "code"),
    [
        (b"", SINGLE_MAPPING, "empty_file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", SINGLE_MAPPING, "binary_file"),
        (b"timestamp,Current (A)\n2026-01-01T00:00:00Z,1\n", SINGLE_MAPPING, "mapping_invalid"),
        (b"timestamp,x\n", None, "invalid"),
    ],
)
def test_bad_input_is_refused_at_once_and_nothing_is_kept(client_for, world, motor_type, content, mapping, code,
                                                          settings):
    from pathlib import Path

    uploads_dir = Path(settings.MEDIA_ROOT) / "tenants" / "t_acme" / "uploads"
    files_before = set(uploads_dir.rglob("*")) if uploads_dir.exists() else set()
    response = _post(client_for("engineer"), content, mapping=mapping)
    assert response.status_code == 400 and response.json()["error"]["code"] == code, response.content
    with tenant_context(world.acme):
        assert not Upload.objects.exists()
    assert (set(uploads_dir.rglob("*")) if uploads_dir.exists() else set()) == files_before


def test_too_large_files_are_refused(client_for, world, motor_type, settings):
    settings.PDM_MAX_UPLOAD_BYTES = 100
    response = _post(client_for("engineer"), _single_machine_file())
    assert response.status_code == 400 and response.json()["error"]["code"] == "file_too_large"


def test_quality_report_finds_stuck_sensors_unit_mistakes_and_time_problems(client_for, world, motor_type, eager):
    header = ["timestamp", "Current (A)", "Winding temp", "Vibration", "failed", "mode"]
    rows = [[f"2026-04-01T{minute // 60:02d}:{minute % 60:02d}:00Z", 11.0, 340 + (minute % 7),
             1.0 + minute / 1000, 0, ""] for minute in range(120)]
    rows.append(["2026-04-01T00:10:00Z", 11.0, 341, 1.2, 0, ""])  # goes back in time (and duplicates 00:10)
    engineer = client_for("engineer")
    with eager():
        response = _post(engineer, _csv(rows, header))
    report = engineer.get(f"/api/v1/uploads/{response.json()['id']}/").json()["report"]
    current, winding = report["sensors"]["current_a"], report["sensors"]["winding_temp_c"]
    assert current["constant"] and current["stuck"] and current["longest_identical_run"] == 121
    assert winding["unit_suspect"] == "values look like K, not °C" and winding["zones"]["implausible"] == 121
    assert report["time"]["non_monotonic"] == 1
    assert report["rows"]["duplicates"] == 1


def test_preset_reuse_roles_and_isolation(client_for, key_client, world, motor_type, eager):
    engineer = client_for("engineer")
    with eager():
        first = _post(engineer, _single_machine_file(bad_lines=False), save_preset_as="daily")
    with eager():
        reused = _post(engineer, _single_machine_file(bad_lines=False).replace(b"2026-03-01", b"2026-03-02"),
                       mapping=None, preset="daily")
    assert reused.status_code == 202, reused.content
    assert _post(client_for("viewer"), _single_machine_file()).status_code == 403
    upload_id = first.json()["id"]
    globex = key_client(["read", "write", "admin"], tenant=world.globex, host="acme.localhost")
    assert globex.get("/api/v1/uploads/").json()["count"] == 0
    for suffix in ("", "rejected/", "raw/"):
        assert globex.get(f"/api/v1/uploads/{upload_id}/{suffix}").status_code == 404
    assert client_for("globex_owner").get(f"/api/v1/uploads/{upload_id}/raw/").status_code == 404
    with tenant_context(world.acme):
        machine_id = Machine.objects.get(name="Motor-001").id
    assert globex.get(f"/api/v1/machines/{machine_id}/labels/").status_code == 404


def test_command_imports_a_cycle_fleet_file_with_progress(world, motor_type, tmp_path, capsys):
    from django.core.management import call_command

    data = tmp_path / "fleet.csv"
    data.write_bytes(_csv([[f"u{unit}", cycle, 10.0, 1.0 + cycle / 100] for unit in (1, 2) for cycle in range(1, 31)],
                          ["unit", "cycle", "amps", "vib"]))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"time_column": "cycle", "time_format": "cycle", "machine_column": "unit",
                                   "create_unknown_machines": True, "extra": {"run_to_failure": True},
                                   "sensors": {"amps": "current_a", "vib": "vibration_de_mm_s"}}))
    call_command("ingest_file", "--tenant", "acme", "--type", MOTOR, "--mapping", str(mapping), str(data))
    out = capsys.readouterr().out
    assert "[ 99%]" in out or "[100%]" in out or "rows read" in out
    assert "60 rows read, 60 stored" in out and "2 failure events" in out
    with tenant_context(world.acme):
        assert FailureEvent.objects.filter(source="label").count() == 2


def test_a_2_gib_upload_is_streamed_to_disk_in_constant_memory(world, db, motor_type, settings):
    """A 2 GiB file goes to the tenant's folder chunk by chunk, hashed on the way, without the
    process growing (the ingest of large files is measured in benchmarks/ingest.py)."""
    import hashlib
    import resource

    from machines.uploads import upload_file_store, upload_path

    row = b"2026-03-01T00:00:00Z,12.5,71.0,1.2,0,,ann\n"
    chunk = b"timestamp,Current (A),Winding temp,Vibration,failed,mode,operator\n" + row * (2**20 // len(row))
    size = 2 * 1024**3
    count = size // len(chunk) + 1
    expected = hashlib.sha256()
    for _ in range(count):
        expected.update(chunk)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tenant_context(world.acme):
        relative, stored_size, digest = upload_file_store(chunks=(chunk for _ in range(count)), original_name="big.csv")
        path = upload_path(Upload(stored_path=relative))
        try:
            grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
            assert stored_size == len(chunk) * count > size and path.stat().st_size == stored_size
            assert digest == expected.hexdigest()
            assert grown_mib < 64, f"peak memory grew by {grown_mib:.0f} MiB"
        finally:
            path.unlink()


def test_a_100_machine_cycle_fleet_with_run_to_failure_in_one_command(world, motor_type, tmp_path, capsys):
    """The issue's acceptance case: one command, 100 machines, integer cycles, each run ending
    in a failure; RUL labels queryable afterwards."""
    from django.core.management import call_command

    from machines.reading_store import rul_labels

    data = tmp_path / "fleet100.csv"
    data.write_bytes(_csv([[f"unit-{unit:03d}", cycle, 10.0 + cycle / 50, 1.0 + cycle / 100]
                           for unit in range(1, 101) for cycle in range(1, 21 + unit % 7)],
                          ["unit", "cycle", "amps", "vib"], delimiter="\t"))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"time_column": "cycle", "time_format": "cycle", "machine_column": "unit",
                                   "create_unknown_machines": True, "extra": {"run_to_failure": True},
                                   "sensors": {"amps": "current_a", "vib": "vibration_de_mm_s"}}))
    call_command("ingest_file", "--tenant", "acme", "--type", MOTOR, "--mapping", str(mapping), str(data))
    assert "100 failure events" in capsys.readouterr().out
    with tenant_context(world.acme):
        assert Machine.objects.filter(name__startswith="unit-").count() == 100
        machine = Machine.objects.get(name="unit-006")  # 20 + 6 cycles
        ruls = [row["rul_seconds"] for row in rul_labels(machine_id=machine.id)]
        assert ruls == list(range(25, -1, -1)) and FailureEvent.objects.filter(source="label").count() == 100


def test_non_finite_values_are_rejected_rows_not_a_failed_upload(client_for, world, motor_type, eager):
    """The file of the report: 60 rows, some holding inf, -inf, Infinity or a number beyond
    float32. Those rows are rejected with their reason (in the rejected-rows file too), the others
    stored, and the upload succeeds with a report that is valid JSON."""
    header = ["timestamp", "Current (A)", "Winding temp", "Vibration"]
    rows = [[f"2026-03-01T00:{minute:02d}:00Z", 12.0, 70.0, 1.2] for minute in range(60)]
    bad = {3: "inf", 10: "-inf", 20: "Infinity", 30: "1e39", 40: "-Infinity"}
    for index, value in bad.items():
        rows[index][1 + index % 3] = value
    rows[50][2] = "NaN"  # the CSV missing-value marker: a missing value, the row is kept
    engineer = client_for("engineer")
    with eager():
        response = _post(engineer, _csv(rows, header), mapping={**SINGLE_MAPPING, "failure_column": None,
                                                                "failure_mode_column": None})
    upload = engineer.get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert upload["status"] == "succeeded", upload["error"]
    assert (upload["rows_read"], upload["rows_stored"], upload["rows_rejected"]) == (60, 55, 5)
    assert upload["report"]["rows"]["rejected_by_reason"] == {"non_finite": 5}
    assert upload["report"]["sensors"]["winding_temp_c"]["missing"] == 1
    rejected = engineer.get(f"/api/v1/uploads/{upload['id']}/rejected/")
    lines = list(csv.reader(io.StringIO(b"".join(rejected.streaming_content).decode())))
    assert [int(row[0]) for row in lines[1:]] == [index + 2 for index in bad]
    assert all("is not a finite number" in row[1] for row in lines[1:])
    assert engineer.get(f"/api/v1/jobs/{upload['job_id']}/").json()["status"] == "succeeded"
    with tenant_context(world.acme):
        assert readings_count() == 55


def _refusing_store(world: Any) -> None:
    """A rule the reading store enforces (a check constraint the test adds; rolled back with the
    test): current above 1000 A is refused by the database itself."""
    from django.db import connection

    with tenant_context(world.acme):
        slot = MachineType.objects.get(key=MOTOR).sensor_slots.index("current_a") + 1
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE machines_reading ADD CONSTRAINT current_below_1000 "
                           f"CHECK (vals[{slot}] IS NULL OR vals[{slot}] < 1000)")


def _raw_database_words(text: str) -> bool:
    return any(word in text for word in ("constraint", "violates", "character varying", "psycopg", "DETAIL"))


@pytest.mark.parametrize("refused", ["reading", "label"])
def test_a_database_refusal_fails_the_upload_in_words_and_keeps_nothing(client_for, world, motor_type, eager,
                                                                         refused):
    """Whatever the database refuses, a reading (a rule of the store) or a label (a rule the test
    adds to the failure events), after rows were stored: nothing stays, and the upload and its
    job say so in words, not in the database's."""
    content = _single_machine_file(bad_lines=False)
    if refused == "reading":
        with tenant_context(world.acme):
            machine_type_slots(MachineType.objects.get(key=MOTOR))
        _refusing_store(world)
        content = content.replace(b"T00:39:00Z,12.39,", b"T00:39:00Z,5000,")  # the last row
    else:  # a mode name fits its column (names are at most 63 characters): a rule refuses it instead
        from django.db import connection

        with tenant_context(world.acme), connection.cursor() as cursor:
            cursor.execute("ALTER TABLE predictions_failureevent ADD CONSTRAINT no_bearing_wear "
                           "CHECK (failure_mode <> 'bearing_wear')")
    engineer = client_for("engineer")
    with eager():
        response = _post(engineer, content)
    upload = engineer.get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert upload["status"] == "failed"
    assert "nothing of it was stored" in upload["error"] and not _raw_database_words(upload["error"])
    job = engineer.get(f"/api/v1/jobs/{upload['job_id']}/").json()
    assert job["status"] == "failed" and "nothing of it was stored" in job["message"]
    assert not _raw_database_words(job["message"]) and not _raw_database_words(job["error"]), job["error"]
    with tenant_context(world.acme):
        assert readings_count() == 0 and not FailureEvent.objects.exists()


# --- Files as people send them (issue 13): encodings, decimal marks, ragged rows, repeats, -----
# --- negative cycles, a file that stores nothing, short messages. ----------------------------

GERMAN_MAPPING = {
    "time_column": "Zeitstempel", "machine_name": "Prüfstand-Süd", "create_unknown_machines": True,
    "sensors": {"Strom (A)": "current_a", "Wicklungstemp. (°C)": "winding_temp_c"},
}


def _german_text(rows: int = 60) -> str:
    """A semicolon file with decimal commas, as a German spreadsheet exports it."""
    lines = ["Zeitstempel;Strom (A);Wicklungstemp. (°C);Bemerkung"]
    lines += [f"2026-03-01T00:{minute:02d}:00Z;{12 + minute / 10:.1f};60,0;Prüfung läuft" for minute in range(rows)]
    lines[1:] = [line.replace(".", ",") for line in lines[1:]]  # 12.0 -> 12,0
    return "\n".join(lines) + "\n"


def _upload_of(client, response) -> dict[str, Any]:
    assert response.status_code == 202, response.content
    return client.get(f"/api/v1/uploads/{response.json()['id']}/").json()


def _rejected_lines(client, upload_id: int) -> list[list[str]]:
    rejected = client.get(f"/api/v1/uploads/{upload_id}/rejected/")
    return list(csv.reader(io.StringIO(b"".join(rejected.streaming_content).decode())))[1:]


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8"),
        lambda text: text.encode("latin-1"),
        lambda text: text.encode("cp1252"),
        lambda text: text.encode("utf-16"),  # with a byte-order mark (little-endian here)
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        lambda text: text.encode("utf-16-le"),  # no byte-order mark
    ],
    ids=["utf-8", "latin-1", "cp1252", "utf-16-bom", "utf-16-be-bom", "utf-16-le-no-bom"],
)
def test_a_german_semicolon_file_with_decimal_commas_is_stored_in_any_encoding(client_for, world, motor_type, eager,
                                                                                encode):
    engineer = client_for("engineer")
    with eager():
        response = _post(engineer, encode(_german_text()), mapping=GERMAN_MAPPING)
    upload = _upload_of(engineer, response)
    assert upload["status"] == "succeeded", upload["error"]
    assert (upload["rows_read"], upload["rows_stored"], upload["rows_rejected"]) == (60, 60, 0)
    assert upload["report"]["unknown_columns"] == ["Bemerkung"]
    with tenant_context(world.acme):
        machine = Machine.objects.get(name="Prüfstand-Süd")
        first = readings_for_machine(machine=Machine.objects.select_related("machine_type").get(id=machine.id))[0]
    assert first[1]["current_a"] == 12.0 and first[1]["winding_temp_c"] == 60.0


def test_a_decimal_mark_chosen_wrong_fails_the_upload_and_says_why(client_for, world, motor_type, eager):
    """A job that stored nothing is no success: failed, with the reason and a hint."""
    engineer = client_for("engineer")
    content = _german_text().encode("latin-1")
    with eager():
        response = _post(engineer, content, mapping=GERMAN_MAPPING, decimal_mark=".")
    upload = _upload_of(engineer, response)
    assert upload["status"] == "failed" and upload["rows_stored"] == 0
    error = upload["error"]
    assert error.startswith("0 of 60 rows stored: every row was rejected (60 non-numeric value)"), error
    assert "line 2" in error.lower() and "'12,0'" in error and "Is the decimal mark a comma?" in error
    assert len(error) <= 300
    job = engineer.get(f"/api/v1/jobs/{upload['job_id']}/").json()
    assert job["status"] == "failed" and job["message"] == error
    assert len(_rejected_lines(engineer, upload["id"])) == 60  # every row, downloadable
    with tenant_context(world.acme):
        assert readings_count() == 0
    with eager():
        response = _post(engineer, _csv([["2026-03-01T00:00:00Z", "12.5", "70.5"]], ["Zeitstempel", "Strom (A)",
                                                                                     "Wicklungstemp. (°C)"]),
                         mapping=GERMAN_MAPPING, decimal_mark=",")
    assert "Is the decimal mark a point?" in _upload_of(engineer, response)["error"]
    with eager():  # the same file with the right mark is not refused as a duplicate of the failed one
        response = _post(engineer, content, mapping=GERMAN_MAPPING, decimal_mark=",")
    again = _upload_of(engineer, response)
    assert again["status"] == "succeeded" and again["rows_stored"] == 60


def test_the_decimal_mark_delimiter_and_encoding_are_api_parameters(client_for, world, motor_type, eager):
    engineer = client_for("engineer")
    content = _german_text(5).encode("cp1252")
    with eager():
        response = _post(engineer, content, mapping=GERMAN_MAPPING, decimal_mark=",",
                                            delimiter=";", encoding="cp1252")
    upload = _upload_of(engineer, response)
    assert upload["status"] == "succeeded", upload["error"]
    with tenant_context(world.acme):
        stored = Upload.objects.get(id=upload["id"]).mapping
    assert (stored["encoding"], stored["delimiter"], stored["decimal_mark"]) == ("cp1252", ";", ",")
    refused = _post(engineer, content, mapping=GERMAN_MAPPING, decimal_mark=";")
    assert refused.status_code == 400 and "decimal_mark" in refused.json()["error"]["details"]
    wrong = _post(engineer, content, mapping={**GERMAN_MAPPING, "encoding": "zlib"})
    assert wrong.status_code == 400 and "unknown encoding" in wrong.json()["error"]["message"]


def test_a_ragged_row_is_rejected_with_its_line_and_the_rest_stored(client_for, world, motor_type, eager):
    lines = _single_machine_file(bad_lines=False).decode().splitlines()
    lines[4] = "2026-03-01T00:03:00Z,12.03,70.3"  # line 5: 3 fields where the header has 7
    lines[9] = lines[9] + ",surplus"  # line 10: 8 fields
    lines[14] = lines[14].replace(",12.13,", ",twelve,")  # line 15: a bad value, after the dropped rows
    engineer = client_for("engineer")
    with eager():
        response = _post(engineer, ("\n".join(lines) + "\n").encode())
    upload = _upload_of(engineer, response)
    assert upload["status"] == "succeeded", upload["error"]
    assert (upload["rows_read"], upload["rows_stored"], upload["rows_rejected"]) == (40, 37, 3)
    assert upload["report"]["rows"]["rejected_by_reason"] == {"ragged_row": 2, "non_numeric": 1}
    rejected = _rejected_lines(engineer, upload["id"])
    assert [row[0] for row in rejected] == ["5", "10", "15"]
    assert rejected[0][1] == "wrong number of fields: 3 fields where the header has 7"
    assert "'twelve'" in rejected[2][1]


def test_a_file_of_ragged_rows_only_fails_and_asks_about_the_delimiter(client_for, world, motor_type, eager):
    engineer = client_for("engineer")
    content = b"timestamp,Current (A),Winding temp,Vibration\n" + b"2026-03-01T00:00:00Z;12.0;70.0;1.2\n" * 3
    with eager():
        response = _post(engineer, content, mapping={**SINGLE_MAPPING, "failure_column": None,
                                                                        "failure_mode_column": None})
    upload = _upload_of(engineer, response)
    assert upload["status"] == "failed"
    assert "every row was rejected (3 wrong number of fields)" in upload["error"]
    assert "Is the delimiter right?" in upload["error"]


def test_repeated_rows_are_counted_in_the_quality_report(client_for, world, motor_type, eager):
    """Rows with the machine and time of an earlier row, wherever they are in the file."""
    lines = _single_machine_file(bad_lines=False).decode().splitlines()
    content = "\n".join(lines + lines[1:11]) + "\n"  # the first 10 rows again, at the end
    engineer = client_for("engineer")
    with eager():
        response = _post(engineer, content.encode())
    upload = _upload_of(engineer, response)
    assert upload["status"] == "succeeded", upload["error"]
    assert (upload["rows_read"], upload["rows_stored"], upload["duplicates"]) == (50, 40, 10)
    time = upload["report"]["time"]
    assert time["duplicates_in_file"] == 10 and time["duplicates_in_file_exact"] is True
    assert time["non_monotonic"] == 1  # only the first repeat goes back in time


def test_negative_cycles_are_rejected_per_row(client_for, world, motor_type, eager):
    rows = [["engine-1", cycle, 10.0, 1.0] for cycle in (-1, 0, 1, 2, -5, 3)]
    mapping = {"time_column": "cycle", "time_format": "cycle", "machine_column": "unit",
               "create_unknown_machines": True, "sensors": {"amps": "current_a", "vib": "vibration_de_mm_s"}}
    engineer = client_for("engineer")
    with eager():
        response = _post(engineer, _csv(rows, ["unit", "cycle", "amps", "vib"]), mapping=mapping)
    upload = _upload_of(engineer, response)
    assert (upload["status"], upload["rows_stored"], upload["rows_rejected"]) == ("succeeded", 4, 2)
    assert upload["report"]["rows"]["rejected_by_reason"] == {"negative_cycle": 2}
    rejected = _rejected_lines(engineer, upload["id"])
    assert [row[0] for row in rejected] == ["2", "6"]
    assert rejected[0][1] == "negative cycle '-1' in column 'cycle' (cycles count up from 0)"
    assert upload["report"]["time"]["first"].startswith("1970-01-01T00:00:00")  # cycle 0


@pytest.mark.parametrize(
    "content",
    [bytes(range(1, 256)) * 300, b"\xfe\x01\x02" * 30000],
    ids=["every-byte-but-nul", "controls"],
)
def test_a_binary_file_without_zero_bytes_is_refused_in_a_few_words(client_for, world, motor_type, content):
    response = _post(client_for("engineer"), content)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "binary_file" and len(response.content) < 500, len(response.content)


def test_errors_quoting_the_file_stay_short(client_for, world, motor_type, eager):
    engineer = client_for("engineer")
    huge = "Q" * 70_000
    refused = _post(engineer, f"timestamp,{huge}\n2026-03-01T00:00:00Z,1\n".encode())  # no column of the mapping
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "mapping_invalid"
    assert len(refused.json()["error"]["message"]) <= 300 and len(refused.content) < 5000, len(refused.content)
    repeated = _post(engineer, f"timestamp,{huge},{huge}\n2026-03-01T00:00:00Z,1,2\n".encode())
    assert repeated.status_code == 400 and len(repeated.content) < 1000, len(repeated.content)
    lines = _single_machine_file(bad_lines=False).decode().splitlines()
    lines[3] = lines[3].replace(",0,,ann", f",{huge},,ann")  # a failure flag of 70,000 characters
    with eager():
        response = _post(engineer, ("\n".join(lines) + "\n").encode())
    upload = _upload_of(engineer, response)
    assert upload["status"] == "failed" and "line 4" in upload["error"] and len(upload["error"]) <= 300
    job = engineer.get(f"/api/v1/jobs/{upload['job_id']}/").json()
    assert len(job["message"]) <= 300


def test_the_command_takes_the_decimal_mark_delimiter_and_encoding(world, motor_type, tmp_path, capsys):
    from django.core.management import CommandError, call_command

    data = tmp_path / "messung.csv"
    data.write_bytes(_german_text(10).encode("latin-1"))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(GERMAN_MAPPING))
    base = ["ingest_file", "--tenant", "acme", "--type", MOTOR, "--mapping", str(mapping)]
    with pytest.raises(CommandError) as caught:
        call_command(*base, "--decimal-mark", ".", str(data))
    assert "Is the decimal mark a comma?" in str(caught.value)
    call_command(*base, "--decimal-mark", ",", "--delimiter", ";", "--encoding", "latin-1", str(data))
    assert "10 rows read, 10 stored" in capsys.readouterr().out
    with tenant_context(world.acme):
        assert Upload.objects.filter(status="succeeded").get().mapping["encoding"] == "latin-1"
