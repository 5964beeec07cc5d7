"""Acme's configuration for the transfer tests: a built-in motor type, two machines, alert rules
at all three levels, a checklist of its own beside the seeded ones, and a calendar and a usage
PM plan. Made inside each test's transaction (rolled back)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from machines.services import machine_create, machine_type_adopt, machine_update
from maintenance.checklist_models import ItemKind
from maintenance.services.checklists import ItemSpec, checklist_template_save
from maintenance.services.settings_rules import alert_rule_save
from planning.preventive_models import PreventivePlan
from tests.conftest import MOTOR


@pytest.fixture
def acme_config(db: None, world: Any) -> None:
    with tenant_context(world.acme):
        motor_type = machine_type_adopt(key=MOTOR)
        first = machine_create(machine_type_id=motor_type.id, name="Motor-001", site="Plant A", line="L1",
                               install_date=date(2024, 2, 29))
        second = machine_create(machine_type_id=motor_type.id, name="Motor-002", site="Plant B",
                                criticality="critical")
        machine_update(machine_id=second.id, downtime_cost_per_hour=None)  # a cost left empty on purpose
        alert_rule_save(warning_probability=0.4, critical_probability=0.9)
        alert_rule_save(machine_type=motor_type, windows_k=3, windows_n=5, windows_clear=5)
        alert_rule_save(machine=first, anomaly_threshold=None, cooldown_minutes=30)
        checklist_template_save(machine_type_id=motor_type.id, name="Safety first", items=[
            ItemSpec(text="Lock out the motor", required=True),
            ItemSpec(text="Bearing temperature", kind=ItemKind.NUMBER, unit="°C", min_value=Decimal("10.5"),
                     max_value=Decimal(90)),
            ItemSpec(text="What did you see?", kind=ItemKind.TEXT)])
        PreventivePlan.objects.create(machine=first, title="Grease bearings", every=3, unit="months",
                                      start_date=date(2026, 1, 31), priority="high",
                                      estimated_cost=Decimal("120.50"), lead_time_days=7,
                                      failure_mode="bearing_wear")
        PreventivePlan.objects.create(machine=second, title="Inspect windings", every=500, unit="running_hours",
                                      start_date=date(2026, 1, 1), signal="current_a", threshold=2.5)


def exported(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/config/export/")
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def imported(client: Client, document: Any, *, dry_run: bool = False) -> Any:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return client.post(f"/api/v1/config/import/?dry_run={'true' if dry_run else 'false'}", body,
                       content_type="application/json")
