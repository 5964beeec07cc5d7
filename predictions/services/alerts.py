"""Alerts: raised from failure probabilities, deduplicated, cooled down, acknowledged, resolved.

Alert fatigue is the top complaint about maintenance tools, so an alert is only opened when the
probability crosses the machine's rule, a machine and failure mode have at most one active alert
(enforced by a partial unique index: concurrent scoring workers cannot both open one), repeats
bump a counter instead of opening new alerts, and a resolved alert keeps the same problem quiet
for the rule's cooldown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from machines.models import Machine
from pdm_saas.errors import Conflict, NotFound
from predictions.models import Alert, AlertRule


@dataclass(frozen=True)
class RaiseOutcome:
    action: str  # "opened", "updated", "below_threshold", "cooling_down"
    alert: Alert | None


def alert_rules() -> dict[tuple[int | None, int | None], AlertRule]:
    """Every rule of the tenant by (machine type id, machine id): a small table, read once."""
    return {(rule.machine_type_id, rule.machine_id): rule for rule in AlertRule.objects.all()}


def alert_rule_for(machine: Machine, rules: dict[tuple[int | None, int | None], AlertRule] | None = None) -> AlertRule:
    """The machine's rule, else its type's, else the tenant default, else built-in defaults."""
    rules = alert_rules() if rules is None else rules
    for key in ((None, machine.id), (machine.machine_type_id, None), (None, None)):
        if key in rules:
            return rules[key]
    return AlertRule()


def _failure_mode_info(machine: Machine, failure_mode: str) -> dict[str, Any]:
    for mode in machine.machine_type.metadata.get("failure_modes", []):
        if mode.get("name") == failure_mode:
            return dict(mode)
    return {}


def _severity(rule: AlertRule, probability: float) -> str | None:
    if probability >= rule.critical_probability:
        return Alert.Severity.CRITICAL
    if probability >= rule.warning_probability:
        return Alert.Severity.WARNING
    return None


def _cooling_down(machine: Machine, failure_mode: str, rule: AlertRule) -> bool:
    since = timezone.now() - timedelta(minutes=rule.cooldown_minutes)
    return Alert.objects.filter(machine=machine, failure_mode=failure_mode, status=Alert.Status.RESOLVED,
                                resolved_at__gte=since).exists()


def alert_raise(
    *, machine_id: int, failure_mode: str, probability: float, explanation: dict[str, Any] | None = None,
    machine: Machine | None = None,
) -> RaiseOutcome:
    """`machine`: the machine of `machine_id` with its type, when the caller (scoring, which just
    stored a prediction for it) holds it already; otherwise it is read here."""
    if machine is None or machine.id != machine_id:
        machine = Machine.objects.select_related("machine_type").filter(id=machine_id).first()
    if machine is None:
        raise NotFound("No such machine.")
    rule = alert_rule_for(machine)
    severity = _severity(rule, probability)
    if severity is None:
        return RaiseOutcome("below_threshold", None)
    active = Alert.objects.filter(machine=machine, failure_mode=failure_mode, status__in=Alert.ACTIVE).first()
    if active is None and _cooling_down(machine, failure_mode, rule):
        return RaiseOutcome("cooling_down", None)
    if active is None:
        opened = _open(machine, failure_mode, severity, probability, explanation or {})
        if opened is not None:
            return RaiseOutcome("opened", opened)
    return RaiseOutcome("updated", _repeat(machine, failure_mode, severity, probability, explanation))


def _open(machine: Machine, failure_mode: str, severity: str, probability: float,
          explanation: dict[str, Any]) -> Alert | None:
    mode = _failure_mode_info(machine, failure_mode)
    label = mode.get("label") or failure_mode.replace("_", " ") or "failure"
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                machine=machine, failure_mode=failure_mode, severity=severity, probability=probability,
                title=f"{machine.name}: {label} risk {probability:.0%}", explanation=explanation,
                recommendation=mode.get("recommended_action", ""),
            )
    except IntegrityError:
        return None  # another worker opened it a moment ago: count this one as a repeat
    from predictions.notifications import alert_notify_later

    alert_notify_later(alert_id=alert.id, event="alert.opened")
    return alert


def _repeat(machine: Machine, failure_mode: str, severity: str, probability: float,
            explanation: dict[str, Any] | None) -> Alert:
    # One UPDATE of just the fields a repeat changes: its row lock serializes concurrent repeats
    # (the counter goes up by one each) as the former SELECT ... FOR UPDATE did, in one round
    # trip instead of four, and writes back nothing it did not mean to change.
    changes: dict[str, Any] = {"occurrences": F("occurrences") + 1, "probability": probability,
                               "last_seen_at": timezone.now()}
    if severity == Alert.Severity.CRITICAL:
        changes["severity"] = severity  # escalate in place; never downgrade an active alert
    if explanation:
        changes["explanation"] = explanation
    active = Alert.objects.filter(machine=machine, failure_mode=failure_mode, status__in=Alert.ACTIVE)
    active.update(**changes)
    return active.get()


def alert_acknowledge(*, alert_id: int, user_id: int | None) -> Alert:
    updated = Alert.objects.filter(id=alert_id, status=Alert.Status.OPEN).update(
        status=Alert.Status.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by_id=user_id)
    return _after_transition(alert_id, updated, "acknowledged")


def alert_resolve(*, alert_id: int, user_id: int | None, note: str = "") -> Alert:
    updated = Alert.objects.filter(id=alert_id, status__in=Alert.ACTIVE).update(
        status=Alert.Status.RESOLVED, resolved_at=timezone.now(), resolution_note=note)
    return _after_transition(alert_id, updated, "resolved")


def _after_transition(alert_id: int, updated: int, verb: str) -> Alert:
    alert = Alert.objects.filter(id=alert_id).first()
    if alert is None:
        raise NotFound("No such alert.")
    if not updated:
        raise Conflict(f"This alert is {alert.status} and cannot be {verb}.", code="alert_state")
    return alert


def alerts_escalate() -> int:
    """Escalate open, unacknowledged alerts past their rule's delay (per tenant, from beat)."""
    now, escalated, rules = timezone.now(), 0, alert_rules()
    for alert in Alert.objects.filter(status=Alert.Status.OPEN).select_related("machine"):
        delay = timedelta(minutes=alert_rule_for(alert.machine, rules).escalate_after_minutes)
        if (alert.escalated_at or alert.opened_at) + delay > now:
            continue
        claimed = Alert.objects.filter(id=alert.id, status=Alert.Status.OPEN,
                                       escalation_level=alert.escalation_level).update(
            escalation_level=F("escalation_level") + 1, escalated_at=now)
        if claimed:  # a concurrent run escalated it already otherwise
            from predictions.notifications import alert_notify_later

            alert_notify_later(alert_id=alert.id, event="alert.escalated")
            escalated += 1
    return escalated
