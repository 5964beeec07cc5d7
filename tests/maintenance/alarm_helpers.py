"""Alerts opened at chosen instants, for the alarm history's tests (filters, exports, pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import time_machine
from django_tenants.utils import tenant_context

from accounts.models import User
from machines.models import Machine
from machines.services import machine_create
from maintenance.models import Alert
from maintenance.services.alerts import alert_acknowledge, alert_resolve
from tenants.models import Tenant
from tenants.services import tenant_time_zone_set


def alert_at(tenant: Tenant, machine: Machine, at: datetime, *, mode: str = "bearing_wear", **fields: Any) -> Alert:
    """An alert of `machine` opened at `at` (the clock pinned there while it is stored), resolved
    then unless `fields` say otherwise (one machine has one active alert per mode). Stored
    directly: the service's dedupe and cooldown would refuse the many alerts of one machine and
    mode a history holds."""
    values: dict[str, Any] = {"kind": "failure", "severity": "warning", "probability": 0.72,
                              "title": f"{mode} on {machine.name}", "status": "resolved", "resolved_at": at,
                              **fields}
    with tenant_context(tenant), time_machine.travel(at, tick=False):
        return Alert.objects.create(machine=machine, failure_mode=mode, **values)


def acknowledged(tenant: Tenant, alert: Alert, *, by: User, at: datetime) -> Alert:
    with tenant_context(tenant), time_machine.travel(at, tick=False):
        return alert_acknowledge(alert_id=alert.id, user_id=by.id)


def resolved(tenant: Tenant, alert: Alert, *, at: datetime, note: str = "") -> Alert:
    with tenant_context(tenant), time_machine.travel(at, tick=False):
        return alert_resolve(alert_id=alert.id, user_id=None, note=note)


def zone_set(tenant: Tenant, zone: str) -> None:
    """The organization's time zone (rolled back with the test)."""
    tenant_time_zone_set(tenant=tenant, time_zone=zone)


@dataclass
class History:
    """Three alerts around Berlin's clock change of 2026-10-25 (02:00-03:00 local happens twice)."""

    autumn: Alert  # Motor-001 bearing wear, 02:30 CEST, acknowledged, resolved at 02:30 CET
    anomaly: Alert  # Motor-001 unusual readings, 2026-10-26 10:00 CET, open
    before: Alert  # Motor-002 misalignment, 2026-10-24 23:59 CEST: outside a period starting the 25th
    other: Machine


NOTE = '=HYPERLINK("http://evil.example/","Click")'  # a spreadsheet must show it, not run it


def berlin_history(tenant: Tenant, machine: Machine, *, engineer: User) -> History:
    zone_set(tenant, "Europe/Berlin")
    with tenant_context(tenant):
        other = machine_create(machine_type_id=machine.machine_type_id, name="Motor-002", site="Plant B")
    autumn = alert_at(tenant, machine, utc(2026, 10, 25, 0, 30), severity="critical", probability=0.91,
                      occurrences=3, status="open", resolved_at=None)
    acknowledged(tenant, autumn, by=engineer, at=utc(2026, 10, 25, 0, 45))
    autumn = resolved(tenant, autumn, at=utc(2026, 10, 25, 1, 30), note=NOTE)
    anomaly = alert_at(tenant, machine, utc(2026, 10, 26, 9, 0), mode="", kind="anomaly", probability=0.9995,
                       status="open", resolved_at=None, title="Motor-001: readings unlike its normal")
    before = alert_at(tenant, other, utc(2026, 10, 24, 21, 59), mode="misalignment")
    return History(autumn=autumn, anomaly=anomaly, before=before, other=other)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
