"""Alerts raised from a bare probability (`alert_raise`, `POST /alerts/raise/`): thresholds, one active
alert per machine and mode, cooldown, ack/resolve, escalation. Scoring opens alerts on persistent
verdicts instead: tests/predictions/test_alert_persistence.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import tenant_context

from maintenance.models import Alert, AlertRule
from maintenance.services.alerts import alert_raise, alert_resolve, alerts_escalate

# Rerun under a shifted clock (faketime) by `make test`: see scripts/shifted_clock_tests.sh.
pytestmark = pytest.mark.clock

JSON = "application/json"


def test_thresholds_decide_severity_and_recommendation_comes_from_the_type(motor, in_acme):
    assert alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.3).action == "below_threshold"
    opened = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.6)
    assert opened.action == "opened" and opened.alert.severity == "warning"
    mode = next(m for m in motor.machine_type.metadata["failure_modes"] if m["name"] == "bearing_wear")
    assert opened.alert.recommendation == mode["recommended_action"]


def test_repeats_update_the_active_alert_and_escalate_severity_in_place(motor, in_acme):
    first = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.6).alert
    again = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9)
    assert again.action == "updated" and again.alert.id == first.id
    assert again.alert.occurrences == 2 and again.alert.severity == "critical"
    other_mode = alert_raise(machine_id=motor.id, failure_mode="winding_insulation_breakdown", probability=0.9)
    assert other_mode.action == "opened"
    assert Alert.objects.filter(machine=motor, status="open").count() == 2  # scoring elsewhere may alert too


def test_machine_rule_beats_type_rule_beats_default(motor, in_acme):
    AlertRule.objects.create(warning_probability=0.9, critical_probability=0.95)
    assert alert_raise(machine_id=motor.id, failure_mode="x", probability=0.6).action == "below_threshold"
    AlertRule.objects.create(machine_type=motor.machine_type, warning_probability=0.5, critical_probability=0.95)
    assert alert_raise(machine_id=motor.id, failure_mode="x", probability=0.6).action == "opened"
    AlertRule.objects.create(machine=motor, warning_probability=0.2, critical_probability=0.3)
    assert alert_raise(machine_id=motor.id, failure_mode="y", probability=0.35).alert.severity == "critical"


def test_cooldown_keeps_a_resolved_problem_quiet(motor, in_acme):
    alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.7).alert
    alert_resolve(alert_id=alert.id, user_id=None, note="greased")
    assert alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.7).action == "cooling_down"
    Alert.objects.filter(id=alert.id).update(resolved_at=timezone.now() - timedelta(hours=5))
    assert alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.7).action == "opened"


def test_repeated_open_hits_the_unique_index(motor, in_acme):
    from django.db import IntegrityError, transaction

    Alert.objects.create(machine=motor, failure_mode="race", severity="warning", probability=0.6, title="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(machine=motor, failure_mode="race", severity="warning", probability=0.6, title="b")
    # and alert_raise turns that race into a repeat instead of an error
    assert alert_raise(machine_id=motor.id, failure_mode="race", probability=0.7).action == "updated"


def test_acknowledge_resolve_and_states_over_the_api(client_for, motor, world):
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9).alert
    engineer = client_for("engineer")
    assert client_for("viewer").post(f"/api/v1/alerts/{alert.id}/acknowledge/").status_code == 403
    acked = engineer.post(f"/api/v1/alerts/{alert.id}/acknowledge/")
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == world.engineer.id
    again = engineer.post(f"/api/v1/alerts/{alert.id}/acknowledge/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "alert_state"
    resolved = engineer.post(f"/api/v1/alerts/{alert.id}/resolve/", {"note": "bearing replaced"}, content_type=JSON)
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution_note"] == "bearing replaced"
    listed = client_for("viewer").get("/api/v1/alerts/?status=resolved&machine__name=Motor-001").json()
    assert listed["count"] == 1


def test_raise_endpoint_needs_predict_scope(key_client, motor, world):
    body = {"machine": "Motor-001", "failure_mode": "bearing_wear", "probability": 0.95}
    assert key_client(["read"]).post("/api/v1/alerts/raise/", body, content_type=JSON).status_code == 403
    raised = key_client(["predict"]).post("/api/v1/alerts/raise/", body, content_type=JSON)
    assert raised.status_code == 201 and raised.json()["action"] == "opened"
    bad = key_client(["predict"]).post("/api/v1/alerts/raise/", {**body, "probability": 7}, content_type=JSON)
    assert bad.status_code == 400 and "probability" in bad.json()["error"]["details"]


def test_escalation_after_the_rules_delay_notifies_admins_once_per_period(motor, in_acme,
                                                                         django_capture_on_commit_callbacks):
    from pdm_saas.celery import app

    alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9).alert
    assert alerts_escalate() == 0  # not yet
    Alert.objects.filter(id=alert.id).update(opened_at=timezone.now() - timedelta(minutes=61))
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert alerts_escalate() == 1
    finally:
        app.conf.task_always_eager = False
    assert alerts_escalate() == 0  # escalated_at restarts the clock
    alert.refresh_from_db()
    assert alert.escalation_level == 1
    escalation_mail = mail.outbox[-1]
    assert "escalated" in escalation_mail.subject
    assert set(escalation_mail.to) == {"owner@acme.test", "admin@acme.test"}


def test_other_tenant_cannot_see_or_touch_alerts(client_for, key_client, motor, world):
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9).alert
    globex = key_client(["read", "write", "predict", "admin"], tenant=world.globex, host="acme.localhost")
    assert globex.get("/api/v1/alerts/").json()["count"] == 0
    assert globex.post(f"/api/v1/alerts/{alert.id}/acknowledge/").status_code == 404
    assert client_for("globex_owner").post(f"/api/v1/alerts/{alert.id}/resolve/").status_code == 404
    raised = globex.post("/api/v1/alerts/raise/", {"machine": "Motor-001", "probability": 0.9}, content_type=JSON)
    assert raised.status_code == 400  # no such machine in globex
