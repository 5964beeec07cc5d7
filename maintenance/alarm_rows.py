"""What one alert of the alarm history reads as, in words and local times: the history page shows
these rows and the CSV and Excel exports write them, so a file says what the page said."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.metadata import failure_mode_label
from maintenance.models import Alert

STATE_WORDS = {Alert.Status.OPEN: "Open", Alert.Status.ACKNOWLEDGED: "Acknowledged",
               Alert.Status.RESOLVED: "Resolved", Alert.HANDLED: "Being handled"}
UNUSUAL = "Unusual readings"  # an anomaly alert's "failure mode": it names none


@dataclass(frozen=True)
class AlarmRow:
    alert_id: int
    machine: str
    machine_id: int
    site: str
    kind: str  # "Failure risk" or "Unusual readings"
    failure_mode: str  # the mode's label; "Unusual readings" for an anomaly alert
    severity: str
    state: str  # "Open", "Acknowledged", "Being handled", "Resolved"
    state_code: str  # open, acknowledged, handled, resolved: the badge's class
    risk_percent: float | None  # a failure alert's probability, in %
    unusual_percent: float | None  # an anomaly alert: more unusual than this share of its normal readings
    title: str
    opened: datetime  # in the history's time zone, like every time here
    acknowledged: datetime | None
    acknowledged_by: str
    resolved: datetime | None
    occurrences: int
    escalations: int
    work_order: str  # "WO-12 (In Progress)": the live work order on it, else the latest one
    work_order_id: int | None
    resolution_note: str


def alarm_row(alert: Alert, *, time_zone: str) -> AlarmRow:
    """The row of an alert read by `maintenance.selectors.alarm_history` (machine, type, work
    orders and who acknowledged it already loaded)."""
    zone = ZoneInfo(time_zone)
    anomaly = alert.kind == Alert.Kind.ANOMALY
    order = alert.handling_order() or max(alert.work_orders.all(), key=lambda wo: (wo.created_at, wo.id), default=None)
    state = alert.display_status
    return AlarmRow(
        alert_id=alert.id, machine=alert.machine.name, machine_id=alert.machine_id, site=alert.machine.site,
        kind=UNUSUAL if anomaly else "Failure risk",
        failure_mode=UNUSUAL if anomaly else failure_mode_label(alert.machine.machine_type.metadata,
                                                                alert.failure_mode),
        severity=alert.get_severity_display(), state=STATE_WORDS.get(state, state), state_code=state,
        risk_percent=None if anomaly else round(100 * alert.probability, 1),
        unusual_percent=round(100 * alert.probability, 2) if anomaly else None,
        title=alert.title, opened=alert.opened_at.astimezone(zone),
        acknowledged=_local(alert.acknowledged_at, zone), acknowledged_by=_person(alert),
        resolved=_local(alert.resolved_at, zone), occurrences=alert.occurrences,
        escalations=alert.escalation_level,
        work_order=f"WO-{order.id} ({order.get_status_display()})" if order else "",
        work_order_id=order.id if order else None, resolution_note=alert.resolution_note)


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone) if moment is not None else None


def _person(alert: Alert) -> str:
    user = alert.acknowledged_by if alert.acknowledged_by_id else None
    if user is None:
        return ""
    return user.full_name or user.email  # as pages name people (accounts.selectors.user_display_name)
