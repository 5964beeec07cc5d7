"""Frictions an outside evaluation hit with `ingest_file` (issue 14): every sensor had to be
spelled out in the mapping, and a file whose rows a plan limit refused looked like a success."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import tenant_context

from billing.models import Plan, Subscription
from jobs.models import Job
from machines.forms import MappingForm
from machines.models import Machine, Upload
from machines.selectors import readings_count

MOTOR = "induction-motor-siemens-1la7"
HEADER = ["timestamp", "machine", "Current [A]", "winding_temp_c", "Rotational speed [rpm]", "operator"]


def _fleet_file(tmp_path: Path, machines: int, minutes: int = 5) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows([f"2026-03-01T00:{minute:02d}:00Z", f"FR-{unit:02d}", 12.5, 70.0, 1480, "ann"]
                     for unit in range(machines) for minute in range(minutes))
    path = tmp_path / "fleet.csv"
    path.write_text(out.getvalue())
    return path


def _ingest(path: Path, *extra: str) -> None:
    call_command("ingest_file", "--tenant", "acme", "--type", MOTOR, *extra, str(path))


def test_ingest_file_without_a_mapping_matches_headers_to_sensors_and_says_so(world, motor_type, tmp_path, capsys):
    _ingest(_fleet_file(tmp_path, machines=2), "--create-machines")
    out = capsys.readouterr().out
    assert "time column: timestamp (guessed)" in out and "machine column: machine (guessed)" in out
    assert "Current [A] -> current_a (matched by name)" in out
    assert "Rotational speed [rpm] -> speed_rpm (matched by name)" in out
    assert "winding_temp_c -> winding_temp_c (matched by name)" in out
    assert "ignored columns: operator" in out
    assert "10 rows read, 10 stored" in out
    with tenant_context(world.acme):
        upload = Upload.objects.latest("id")
        assert upload.mapping["sensors"] == {"Current [A]": "current_a", "winding_temp_c": "winding_temp_c",
                                             "Rotational speed [rpm]": "speed_rpm"}
        assert readings_count(machine_id=Machine.objects.get(name="FR-01").id) == 5


def test_a_mapping_of_only_the_time_and_machine_columns_gets_its_sensors_matched(world, motor_type, tmp_path,
                                                                                   capsys):
    path = _fleet_file(tmp_path, machines=1)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"time_column": "timestamp", "machine_column": "machine",
                                   "create_unknown_machines": True}))
    _ingest(path, "--mapping", str(mapping))
    out = capsys.readouterr().out
    assert "time column: timestamp (given)" in out and "Current [A] -> current_a (matched by name)" in out
    assert "5 rows read, 5 stored" in out


def test_a_file_with_no_time_like_column_is_refused_in_words(world, motor_type, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("when,machine,current_a\n2026-03-01T00:00:00Z,FR-1,12\n")
    with pytest.raises(CommandError, match="No column looks like the time .*time_column"):
        _ingest(path, "--create-machines")


def test_the_upload_form_guesses_the_same_mapping_as_the_command(world, motor_type):
    """One guess for both: the form's preselected roles are the command's mapping."""
    with tenant_context(world.acme):
        form = MappingForm(columns=HEADER, machine_type=motor_type)
    chosen = {field.label: form.initial[field.name] for field in form.column_fields() if form.initial[field.name]}
    assert chosen == {"timestamp": "time", "machine": "machine", "Current [A]": "sensor:current_a",
                      "winding_temp_c": "sensor:winding_temp_c", "Rotational speed [rpm]": "sensor:speed_rpm"}


# --- a plan limit refusing rows -------------------------------------------------------------------

def _full_mapping(tmp_path: Path) -> str:
    """Every role spelled out, as before the guess: these tests are about the plan, not the guess."""
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"time_column": "timestamp", "machine_column": "machine",
                                   "create_unknown_machines": True, "sensors": {"Current [A]": "current_a"}}))
    return str(mapping)


@pytest.fixture
def on_trial(settings, world) -> Plan:
    settings.BILLING_QUOTAS_ENABLED = True  # the test env turns them off for the shared world
    plan = Plan.objects.get(code="trial")
    Subscription.objects.filter(tenant=world.acme).update(plan=plan)
    return plan


def test_rows_a_plan_limit_refused_fail_the_command_with_the_limit_and_the_way_up(world, motor_type, on_trial,
                                                                                  tmp_path, capsys):
    with tenant_context(world.acme):
        room = on_trial.max_machines - Machine.objects.exclude(status="retired").count()
    assert room > 0
    with pytest.raises(CommandError) as failed:
        _ingest(_fleet_file(tmp_path, machines=10), "--mapping", _full_mapping(tmp_path))
    message = str(failed.value)
    refused_rows = (10 - room) * 5
    assert message.startswith(f"{refused_rows:,} of 50 rows not stored: {10 - room} machines of the file are over "
                              "the plan's limit.")
    assert f"Your Free trial plan includes {on_trial.max_machines} machines" in message
    assert "Upgrade at /billing/" in message and "Enterprise (unlimited machines)" in message
    assert "Starter (10 machines)" in message
    assert f"{room * 5} stored" in capsys.readouterr().out  # the all-but-refused rows are kept, as documented
    with tenant_context(world.acme):
        upload = Upload.objects.latest("id")
        job = Job.objects.get(id=upload.job_id)
        assert upload.status == Upload.Status.SUCCEEDED and upload.error == message
        assert upload.report["plan_limit"]["rows"] == refused_rows
        assert upload.report["plan_limit"]["limit"] == on_trial.max_machines
        assert upload.report["plan_limit"]["upgrade_url"] == "/billing/"
        assert upload.report["rows"]["rejected_by_reason"] == {"plan_limit": refused_rows}
        assert job.status == Job.Status.SUCCEEDED and job.message == message


def test_a_file_only_over_the_plan_fails_with_the_plan_s_words(world, motor_type, on_trial, tmp_path):
    with tenant_context(world.acme):
        for machine in Machine.objects.exclude(status="retired"):
            machine.status = "retired"
            machine.save(update_fields=["status"])
        Subscription.objects.filter(tenant=world.acme).update(plan=Plan.objects.get(code="trial"))
        Plan.objects.filter(code="trial").update(max_machines=0)
    with pytest.raises(CommandError, match=r"failed: 10 of 10 rows not stored: 2 machines .* Upgrade at /billing/"):
        _ingest(_fleet_file(tmp_path, machines=2), "--mapping", _full_mapping(tmp_path))


def test_an_api_upload_reports_the_plan_refusal_in_its_status_and_on_its_page(
        client_for, world, motor_type, on_trial, tmp_path, django_capture_on_commit_callbacks: Any):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from pdm_saas.celery import app as celery_app

    mapping = {"time_column": "timestamp", "machine_column": "machine", "create_unknown_machines": True,
               "sensors": {"Current [A]": "current_a"}}
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for("engineer").post("/api/v1/uploads/", {
                "file": SimpleUploadedFile("fleet.csv", _fleet_file(tmp_path, machines=10).read_bytes()),
                "machine_type": MOTOR, "mapping": json.dumps(mapping)})
    finally:
        celery_app.conf.task_always_eager = False
    assert response.status_code in (201, 202), response.content
    upload = client_for("engineer").get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert upload["status"] == "succeeded" and "over the plan's limit" in upload["error"]
    assert upload["report"]["plan_limit"]["upgrade_url"] == "/billing/"
    page = client_for("engineer").get(f"/uploads/{upload['id']}/").content.decode()
    assert "Your plan refused part of this file" in page and 'href="/billing/"' in page
    assert "Machine over the plan&#x27;s limit (not created)" in page
