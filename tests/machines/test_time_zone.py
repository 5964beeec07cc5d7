"""Times without an offset are local times of the organization's time zone (asked once, kept on
the tenant); with none stored they are read as UTC, as before. Fixed data: a spring-forward day
(a local half hour that does not exist), an autumn day (a local hour that happens twice), and a
leap day; no clock is read."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from machines.ingest.mapping import ColumnMapping, mapping_validate
from machines.ingest.parse import batch_parse, times_us
from machines.models import Machine, MachineType, MappingPreset, Upload
from machines.selectors import readings_for_machine
from machines.services import machine_create
from pdm_saas.errors import InvalidInput
from tenants.models import Tenant
from tenants.services import tenant_time_zone_set

MOTOR = "induction-motor-siemens-1la7"
BERLIN = "Europe/Berlin"
NAIVE = ["2026-03-29T01:30:00", "2026-03-29T02:30:00", "2026-03-29T03:30:00",  # spring: 02:30 is skipped
         "2026-10-25T01:30:00", "2026-10-25T02:30:00", "2026-10-25T03:30:00",  # autumn: 02:30 happens twice
         "2024-02-29T12:00:00", "2026-06-01T12:00:00+00:00"]  # a leap day; a time with its offset
BERLIN_UTC = ["2026-03-29T00:30:00", None, "2026-03-29T01:30:00",
              "2026-10-24T23:30:00", "2026-10-25T00:30:00", "2026-10-25T02:30:00",
              "2024-02-29T11:00:00", "2026-06-01T12:00:00"]


def _iso(micros: int | None) -> str | None:
    return None if micros is None else datetime.fromtimestamp(micros / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_naive_times_are_local_times_of_the_zone():
    converted = times_us(pa.array(NAIVE), "iso", time_zone=BERLIN).to_pylist()
    assert [_iso(value) for value in converted] == BERLIN_UTC


def test_without_a_zone_naive_times_are_utc():
    converted = times_us(pa.array(NAIVE), "iso").to_pylist()
    assert [_iso(value) for value in converted] == [text[:19] for text in NAIVE]


def test_a_skipped_local_time_is_rejected_in_words():
    mapping = ColumnMapping(time_column="t", sensors={"v": "v"}, machine_name="M", time_zone=BERLIN)
    parsed = batch_parse(pa.record_batch({"t": pa.array(NAIVE[:3]), "v": pa.array(["1", "2", "3"])}),
                         mapping=mapping, start=0)
    (rejection, rows), = list(parsed.rejections_exclusive())
    assert rows.tolist() == [False, True, False]
    assert "does not exist in Europe/Berlin" in rejection.describe(1)


def test_parquet_timestamps_without_a_zone_are_local_too():
    naive = pa.array([datetime(2024, 2, 29, 12, 0)], pa.timestamp("us"))
    assert _iso(times_us(naive, "iso", time_zone="America/New_York")[0].as_py()) == "2024-02-29T17:00:00"


def test_an_unknown_zone_is_refused(db, world):
    with pytest.raises(InvalidInput):
        tenant_time_zone_set(tenant=Tenant.objects.get(id=world.acme.id), time_zone="Mars/Olympus")
    assert Tenant.objects.get(id=world.acme.id).time_zone == ""
    mapping = ColumnMapping(time_column="t", sensors={"v": "v"}, machine_name="M", time_zone="Mars/Olympus")
    with pytest.raises(InvalidInput, match="unknown time zone"):
        mapping_validate(mapping, columns=["t", "v"], machine_type=MachineType(key="k", metadata={"sensors": []}))


def _file(times: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "Current (A)"])
    writer.writerows([time, 12.0 + index] for index, time in enumerate(times))
    return out.getvalue().encode()


def _upload(client: Any, eager: Any, content: bytes, **extra: Any) -> Upload:
    mapping = {"time_column": "timestamp", "machine_name": "P-101", "sensors": {"Current (A)": "current_a"}}
    with eager():
        response = client.post("/api/v1/uploads/", {"file": SimpleUploadedFile("p.csv", content), "machine_type": MOTOR,
                                                     "mapping": json.dumps(mapping), **extra})
    assert response.status_code == 202, response.content
    return Upload.objects.get(id=response.json()["id"])


def _stored(name: str = "P-101") -> list[str]:
    machine = Machine.objects.select_related("machine_type").get(name=name)
    return [ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") for ts, _ in readings_for_machine(machine=machine)]


def test_uploads_use_the_organizations_zone_and_keep_it(client_for, world, motor_type: MachineType, eager):
    with tenant_context(world.acme):
        machine_create(machine_type_id=motor_type.id, name="P-101")
    tenant_time_zone_set(tenant=Tenant.objects.get(id=world.acme.id), time_zone=BERLIN)
    engineer = client_for("engineer")
    with tenant_context(world.acme):
        upload = _upload(engineer, eager, _file(NAIVE), save_preset_as="berlin")
        assert upload.mapping["time_zone"] == BERLIN and upload.rows_rejected == 1  # the skipped 02:30
        assert _stored() == sorted(value for value in BERLIN_UTC if value)
        assert "time_zone" not in MappingPreset.objects.get(name="berlin").mapping  # the next file: the tenant's
    tenant_time_zone_set(tenant=Tenant.objects.get(id=world.acme.id), time_zone="Asia/Tokyo")
    with tenant_context(world.acme):
        later = _upload(engineer, eager, _file(["2024-02-29T09:00:00"]))
        assert later.mapping["time_zone"] == "Asia/Tokyo" and "2024-02-29T00:00:00" in _stored()
        assert Upload.objects.get(id=upload.id).mapping["time_zone"] == BERLIN  # stored uploads keep theirs


def test_without_a_stored_zone_naive_times_stay_utc(client_for, world, motor_type: MachineType, eager):
    with tenant_context(world.acme):
        machine_create(machine_type_id=motor_type.id, name="P-101")
        upload = _upload(client_for("engineer"), eager, _file(["2024-02-29T12:00:00"]))
        assert "time_zone" not in upload.mapping and _stored() == ["2024-02-29T12:00:00"]


def test_the_api_sets_the_zone_for_admins_only(client_for, world):
    assert client_for("engineer").patch("/api/v1/tenant/", {"time_zone": BERLIN},
                                        content_type="application/json").status_code == 403
    response = client_for("admin").patch("/api/v1/tenant/", {"time_zone": BERLIN}, content_type="application/json")
    assert response.status_code == 200 and response.json()["time_zone"] == BERLIN
    assert Tenant.objects.get(id=world.acme.id).time_zone == BERLIN
    refused = client_for("admin").patch("/api/v1/tenant/", {"time_zone": "Nowhere"}, content_type="application/json")
    assert refused.status_code == 400 and Tenant.objects.get(id=world.acme.id).time_zone == BERLIN
    assert Tenant.objects.get(id=world.globex.id).time_zone == ""


def test_the_settings_page_shows_and_changes_the_zone(client_for, world):
    admin = client_for("admin")
    assert "Not set yet" in admin.get("/organization/settings/").content.decode()
    response = admin.post("/organization/settings/", {"action": "time_zone", "time_zone": BERLIN})
    assert response.status_code == 302
    assert "Now Europe/Berlin" in admin.get("/organization/settings/").content.decode()
    assert client_for("engineer").post("/organization/settings/",
                                       {"action": "time_zone", "time_zone": "UTC"}).status_code == 403
    assert client_for("globex_owner").post("/organization/settings/",
                                           {"action": "time_zone", "time_zone": "UTC"}).status_code == 404
    assert Tenant.objects.get(id=world.acme.id).time_zone == BERLIN
