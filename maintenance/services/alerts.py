"""Alerts: opened, deduplicated, cooled down, acknowledged, resolved, escalated.

Alert fatigue is the top complaint about maintenance tools, so scoring opens an alert only on
evidence (predictions.services.scoring_alerts: `windows_k` of a machine's last `windows_n` steps
at risk, cleared after `windows_clear` quiet steps) through the writes here. A machine, kind and
failure mode have at most one active alert (enforced by a partial unique index: concurrent
scoring workers cannot both open one), repeats bump a counter instead of opening new alerts, and
a resolved alert keeps the same problem quiet for the rule's cooldown.

`alert_raise` is the older door: an alert from a bare probability against the rule's
`warning_probability` (integrations, `POST /alerts/raise/`), with no persistence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from machines.models import Machine
from maintenance.models import Alert, AlertRule, WorkOrder
from pdm_saas.errors import Conflict, NotFound
from tenants.row_cache import tenant_cached


@dataclass(frozen=True)
class RaiseOutcome:
    # "opened", "updated", "below_threshold", "cooling_down"; from verdicts also "pending" (at
    # risk, not yet k of n), "quiet" (alarm open, this window not at risk) and "cleared"; from
    # anomaly scores also "covered" (a failure alert is active for the machine).
    action: str
    alert: Alert | None


def alert_rules() -> dict[tuple[int | None, int | None], AlertRule]:
    """Every rule of the tenant by (machine type id, machine id): a small table, read once."""
    return {(rule.machine_type_id, rule.machine_id): rule for rule in AlertRule.objects.all()}


def alert_rules_cached() -> dict[tuple[int | None, int | None], AlertRule]:
    """`alert_rules()` kept per process until a rule changes (tenants/row_cache.py), for scoring,
    which reads them on every call. Shared: never change the rules it returns."""
    return tenant_cached("alert_rules", (), alert_rules)


def alert_rule_for(machine: Machine, rules: dict[tuple[int | None, int | None], AlertRule] | None = None) -> AlertRule:
    """The machine's rule, else its type's, else the tenant default, else built-in defaults."""
    rules = alert_rules() if rules is None else rules
    for key in ((None, machine.id), (machine.machine_type_id, None), (None, None)):
        if key in rules:
            return rules[key]
    return AlertRule()


def alert_rule_for_default() -> AlertRule:
    """The tenant's default rule (no machine, no type), else the built-in defaults, unsaved."""
    return AlertRule.objects.filter(machine__isnull=True, machine_type__isnull=True).first() or AlertRule()


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


def alert_cooling_down(machine: Machine, failure_mode: str, rule: AlertRule, kind: str = Alert.Kind.FAILURE) -> bool:
    """Whether a resolved alert of this machine, kind and mode keeps it quiet (the rule's cooldown)."""
    since = timezone.now() - timedelta(minutes=rule.cooldown_minutes)
    return Alert.objects.filter(machine=machine, kind=kind, failure_mode=failure_mode, status=Alert.Status.RESOLVED,
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
    active = Alert.objects.filter(machine=machine, kind=Alert.Kind.FAILURE, failure_mode=failure_mode,
                                  status__in=Alert.ACTIVE).first()
    if active is None and alert_cooling_down(machine, failure_mode, rule):
        return RaiseOutcome("cooling_down", None)
    if active is None:
        opened = alert_open(machine, failure_mode, severity, probability, explanation or {})
        if opened is not None:
            return RaiseOutcome("opened", opened)
    return RaiseOutcome("updated", alert_repeat(machine, failure_mode, severity, probability, explanation))


def alert_open(machine: Machine, failure_mode: str, severity: str, probability: float,
               explanation: dict[str, Any], risk: str | None = None) -> Alert | None:
    """A new active alert, its notification queued; None when another worker opened it a moment
    ago. `risk`: how the title words the risk (scoring's reads it against the threshold)."""
    mode = _failure_mode_info(machine, failure_mode)
    label = mode.get("label") or failure_mode.replace("_", " ") or "failure"
    risk = f"{probability:.0%}" if risk is None else risk
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                machine=machine, failure_mode=failure_mode, severity=severity, probability=probability,
                title=f"{machine.name}: {label} risk {risk}"[:200], explanation=explanation,
                recommendation=mode.get("recommended_action", ""),
            )
    except IntegrityError:
        return None  # another worker opened it a moment ago: count this one as a repeat
    from maintenance.notifications import alert_notify_later

    alert_notify_later(alert_id=alert.id, event="alert.opened")
    return alert


def alert_repeat(machine: Machine, failure_mode: str, severity: str, probability: float,
                 explanation: dict[str, Any] | None, kind: str = Alert.Kind.FAILURE) -> Alert:
    # One UPDATE of just the fields a repeat changes: its row lock serializes concurrent repeats
    # (the counter goes up by one each) as the former SELECT ... FOR UPDATE did, in one round
    # trip instead of four, and writes back nothing it did not mean to change.
    changes: dict[str, Any] = {"occurrences": F("occurrences") + 1, "probability": probability,
                               "last_seen_at": timezone.now()}
    if severity == Alert.Severity.CRITICAL:
        changes["severity"] = severity  # escalate in place; never downgrade an active alert
    if explanation:
        changes["explanation"] = explanation
    active = Alert.objects.filter(machine=machine, kind=kind, failure_mode=failure_mode, status__in=Alert.ACTIVE)
    active.update(**changes)
    return active.get()


def alerts_clear(active: list[Alert], rule: AlertRule, without: str = "risk") -> RaiseOutcome:
    """The alarm closed: resolve the machine's active alerts, saying why (the cooldown follows)."""
    note = f"Cleared automatically: {rule.windows_clear} steps in a row without {without}."
    Alert.objects.filter(id__in=[a.id for a in active], status__in=Alert.ACTIVE).update(
        status=Alert.Status.RESOLVED, resolved_at=timezone.now(), resolution_note=note)
    return RaiseOutcome("cleared", active[0])


def alert_anomaly_open(machine: Machine, score: float, evidence: dict[str, Any]) -> Alert | None:
    """An anomaly alert is a warning: unusual readings are a reason to look, not a failure
    predicted (decision rule 3: the anomaly score alone never puts a machine at risk)."""
    signals = [u.get("signal") for u in evidence.get("unusual_signals", []) if u.get("signal")]
    where = f" ({', '.join(signals[:3])})" if signals else ""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                machine=machine, kind=Alert.Kind.ANOMALY, failure_mode="", severity=Alert.Severity.WARNING,
                probability=score, title=f"{machine.name}: readings unlike its normal{where}"[:200],
                explanation=evidence,
                recommendation="Inspect the machine: compare the unusual signals with its normal readings "
                               "and look for a change in load, setup or sensors.")
    except IntegrityError:
        return None  # another worker opened it a moment ago
    from maintenance.notifications import alert_notify_later

    alert_notify_later(alert_id=alert.id, event="alert.opened")
    return alert


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
    """Escalate open, unacknowledged alerts past their rule's delay (per tenant, from beat). An
    alert with a live work order is being handled: nobody needs waking for it."""
    now, escalated, rules = timezone.now(), 0, alert_rules()
    handled = WorkOrder.objects.filter(alert_id=OuterRef("pk"), status__in=WorkOrder.LIVE)
    for alert in (Alert.objects.filter(status=Alert.Status.OPEN).exclude(Exists(handled))
                  .select_related("machine")):
        delay = timedelta(minutes=alert_rule_for(alert.machine, rules).escalate_after_minutes)
        if (alert.escalated_at or alert.opened_at) + delay > now:
            continue
        claimed = Alert.objects.filter(id=alert.id, status=Alert.Status.OPEN,
                                       escalation_level=alert.escalation_level).update(
            escalation_level=F("escalation_level") + 1, escalated_at=now)
        if claimed:  # a concurrent run escalated it already otherwise
            from maintenance.notifications import alert_notify_later

            alert_notify_later(alert_id=alert.id, event="alert.escalated")
            escalated += 1
    return escalated
