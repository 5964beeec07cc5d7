"""`{% machine_alarm_history machine %}`: the machine page's card of its latest alerts, with a link
to the alarm history filtered to the machine. A tag rather than a view's context, so that the
machine page (predictions) includes it with one line and maintenance keeps its reads."""

from __future__ import annotations

from typing import Any

from django import template

from machines.models import Machine
from maintenance.alarm_rows import alarm_row
from maintenance.selectors import machine_alarm_history as recent_alarms
from tenants.selectors import tenant_time_zone
from tenants.time_zones import DEFAULT as DEFAULT_ZONE

register = template.Library()
RECENT = 10  # alerts on the machine page; the history has the rest


@register.inclusion_tag("maintenance/partials/machine_alarm_history.html", takes_context=True)
def machine_alarm_history(context: template.Context, machine: Machine) -> dict[str, Any]:
    zone = tenant_time_zone(tenant_id=context["request"].tenant.id) or DEFAULT_ZONE
    alerts, total = recent_alarms(machine_id=machine.id, limit=RECENT)
    return {"machine": machine, "rows": [alarm_row(alert, time_zone=zone) for alert in alerts], "total": total,
            "time_zone": zone}
