"""Deleting an upload removes exactly the readings it stored: rows an earlier upload stored and
this one skipped as "already stored" stay. The machines are scored again after commit, with the
tenant; an audit entry says who removed how many readings of which machines; a failure midway
leaves everything as it was; another tenant and a viewer are refused."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection as db_connection
from django_tenants.utils import tenant_context

from machines.models import Machine, MachineType, Upload, UploadDeletion
from machines.selectors import readings_count, readings_for_machine
from machines.services import machine_create
from machines.upload_removal import upload_delete
from pdm_saas.errors import Conflict
from predictions.tasks import fleet_score_task

MOTOR = "induction-motor-siemens-1la7"
MAPPING = {"time_column": "timestamp", "machine_column": "machine",
           "sensors": {"Current (A)": "current_a", "Winding temp": "winding_temp_c"}}


def _file(minutes: range, current: float, machines: tuple[str, ...] = ("P-101", "P-102")) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "machine", "Current (A)", "Winding temp"])
    writer.writerows([f"2026-03-01T00:{minute:02d}:00Z", name, current, 70.0]
                     for name in machines for minute in minutes)
    return out.getvalue().encode()


def _upload(client: Any, eager: Any, content: bytes, name: str) -> int:
    with eager():
        response = client.post("/api/v1/uploads/", {"file": SimpleUploadedFile(name, content), "machine_type": MOTOR,
                                                     "mapping": json.dumps(MAPPING)})
    assert response.status_code == 202, response.content
    return int(response.json()["id"])


@pytest.fixture
def overlapping(client_for: Any, world: Any, motor_type: MachineType, eager: Any) -> tuple[int, int]:
    """Upload 1: minutes 0-19 of P-101 and P-102 (current 10); upload 2: minutes 10-29 (current
    20), whose minutes 10-19 were already stored by upload 1."""
    with tenant_context(world.acme):
        for name in ("P-101", "P-102"):
            machine_create(machine_type_id=motor_type.id, name=name)
    engineer = client_for("engineer")
    first = _upload(engineer, eager, _file(range(0, 20), 10.0), "first.csv")
    second = _upload(engineer, eager, _file(range(10, 30), 20.0), "second.csv")
    with tenant_context(world.acme):
        assert (Upload.objects.get(id=second).rows_stored, Upload.objects.get(id=second).duplicates) == (20, 20)
    return first, second


def _currents(name: str) -> list[float]:
    machine = Machine.objects.select_related("machine_type").get(name=name)
    return [values["current_a"] for _, values in readings_for_machine(machine=machine)]


def test_deleting_a_later_upload_keeps_what_an_earlier_one_stored(client_for, world, overlapping, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    first, second = overlapping
    sent: list[dict[str, Any]] = []  # what reaches the broker: Celery's send, not our code, is replaced
    monkeypatch.setattr(fleet_score_task, "apply_async", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=False) as on_commit:
        response = client_for("engineer").delete(f"/api/v1/uploads/{second}/")
        assert sent == []  # nothing is sent before the deletion commits
    for callback in on_commit:
        callback()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["readings_removed"] == 20
    assert [(item["name"], item["readings"]) for item in body["machines"]] == [("P-101", 10), ("P-102", 10)]
    with tenant_context(world.acme):
        assert _currents("P-101") == [10.0] * 20  # every row of the first upload, none of the second
        assert _currents("P-102") == [10.0] * 20
        assert Upload.objects.get(id=second).status == Upload.Status.DELETED
        assert Upload.objects.get(id=first).status == Upload.Status.SUCCEEDED
        deletion = UploadDeletion.objects.select_related("upload").get(upload_id=second)
        assert (deletion.deleted_by_id, deletion.readings_removed) == (world.engineer.id, 20)
    assert [call["args"] for call in sent] == [[deletion.upload.machine_type_id]]  # after commit, once
    assert sent[0]["headers"] == {"_schema_name": world.acme.schema_name} and sent[0]["queue"] == "score"


def test_deleting_twice_or_while_importing_is_refused(client_for, world, overlapping):
    _, second = overlapping
    engineer = client_for("engineer")
    assert engineer.delete(f"/api/v1/uploads/{second}/").status_code == 200
    again = engineer.delete(f"/api/v1/uploads/{second}/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "upload_not_deletable"
    with tenant_context(world.acme):
        Upload.objects.filter(id=overlapping[0]).update(status=Upload.Status.PROCESSING)
        with pytest.raises(Conflict):
            upload_delete(upload_id=overlapping[0], actor_id=None)
        assert readings_count(machine_id=Machine.objects.get(name="P-101").id) == 20


def test_another_tenant_and_a_viewer_are_refused(client_for, key_client, world, overlapping):
    _, second = overlapping
    assert client_for("viewer").delete(f"/api/v1/uploads/{second}/").status_code == 403
    assert key_client(["read"]).delete(f"/api/v1/uploads/{second}/").status_code == 403
    assert key_client(["write"], tenant=world.globex).delete(f"/api/v1/uploads/{second}/").status_code == 404
    assert client_for("globex_owner").delete(f"/api/v1/uploads/{second}/").status_code == 404
    assert client_for("viewer").get(f"/uploads/{second}/delete/").status_code == 403
    assert client_for("viewer").post(f"/uploads/{second}/delete/").status_code == 403
    assert client_for("globex_owner").post(f"/uploads/{second}/delete/").status_code == 404
    assert client_for("globex_owner", tenant=world.globex).post(f"/uploads/{second}/delete/").status_code == 404
    with tenant_context(world.acme):
        assert Upload.objects.get(id=second).status == Upload.Status.SUCCEEDED
        assert readings_count(machine_id=Machine.objects.get(name="P-101").id) == 30


def test_a_failure_midway_leaves_nothing_half_deleted(world, overlapping):
    """The audit entry is written after the readings are deleted: the database refusing it must
    bring every reading back."""
    _, second = overlapping
    with tenant_context(world.acme):
        with db_connection.cursor() as cursor:
            cursor.execute("CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                           "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$")
            cursor.execute("CREATE TRIGGER refuse BEFORE INSERT ON machines_uploaddeletion "
                           "FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()")
        with pytest.raises(Exception, match="disk full"):
            upload_delete(upload_id=second, actor_id=world.engineer.id)
        assert readings_count(machine_id=Machine.objects.get(name="P-101").id) == 30
        assert Upload.objects.get(id=second).status == Upload.Status.SUCCEEDED
        assert not UploadDeletion.objects.exists()


def test_the_page_confirms_then_deletes_and_shows_the_audit(client_for, world, overlapping, eager):
    _, second = overlapping
    engineer = client_for("engineer")
    page = engineer.get(f"/uploads/{second}/delete/").content.decode()
    assert "P-101" in page and "P-102" in page and "Delete these readings" in page
    with tenant_context(world.acme):
        assert readings_count(machine_id=Machine.objects.get(name="P-101").id) == 30  # a GET deletes nothing
    with eager():
        response = engineer.post(f"/uploads/{second}/delete/")
    assert response.status_code == 302 and response["Location"] == f"/uploads/{second}/"
    detail = engineer.get(f"/uploads/{second}/").content.decode()
    assert "Readings deleted" in detail and "20 readings of P-101 (10), P-102 (10) removed" in detail
    assert "engineer@acme.test" in detail or world.engineer.full_name in detail
