"""Alerts: opened on persistent verdicts, deduplicated, cooled down, acknowledged, resolved.

Alert fatigue is the top complaint about maintenance tools, so scoring opens an alert only on
evidence: when `windows_k` of a machine's last `windows_n` scored windows are at risk by the
decision rules (`engine.decision`, the same verdict the fleet and machine pages show), and
the alert clears itself after `windows_clear` windows in a row that are not (hysteresis). A
machine and failure mode have at most one active alert (enforced by a partial unique index:
concurrent scoring workers cannot both open one), repeats bump a counter instead of opening new
alerts, and a resolved alert keeps the same problem quiet for the rule's cooldown.

Anomaly alerts (`alerts_from_anomalies`) read the same steps the same way, with a step counted when
its anomaly score reaches the rule's `anomaly_threshold` instead of when it is at risk: a machine
whose readings are unlike its normal raises an alert even when no failure mode is at risk. They
are their own kind (`Alert.kind`), so the two alarms open, repeat, cool down and clear apart.
Only a detector that learned from real readings raises them (a cold-start one reads healthy
machines as unusual too often: `_detectors_from_real_readings`).

`alert_raise` is the older door: an alert from a bare probability against the rule's
`warning_probability` (integrations, `POST /alerts/raise/`), with no persistence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from engine.decision import (
    AT_RISK,
    CRITICAL,
    LEARNING,
    alarm_next,
    critical_level,
    expected_false_alarms,
    risk_text,
)
from machines.models import Machine, MachineType
from pdm_saas.errors import Conflict, NotFound
from predictions.models import Alert, AlertRule, Dataset, ModelVersion, Prediction, WorkOrder
from predictions.services.registry import model_set_for
from predictions.web_format import steps_duration

FALSE_ALARM_DAYS = 100  # the rate is given per 100 machine-days


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


def _cooling_down(machine: Machine, failure_mode: str, rule: AlertRule, kind: str = Alert.Kind.FAILURE) -> bool:
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
    if active is None and _cooling_down(machine, failure_mode, rule):
        return RaiseOutcome("cooling_down", None)
    if active is None:
        opened = _open(machine, failure_mode, severity, probability, explanation or {})
        if opened is not None:
            return RaiseOutcome("opened", opened)
    return RaiseOutcome("updated", _repeat(machine, failure_mode, severity, probability, explanation))


def _open(machine: Machine, failure_mode: str, severity: str, probability: float,
          explanation: dict[str, Any], threshold: float | None = None) -> Alert | None:
    mode = _failure_mode_info(machine, failure_mode)
    label = mode.get("label") or failure_mode.replace("_", " ") or "failure"
    risk = f"{probability:.0%}" if threshold is None else risk_text(probability, threshold)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                machine=machine, failure_mode=failure_mode, severity=severity, probability=probability,
                title=f"{machine.name}: {label} risk {risk}"[:200], explanation=explanation,
                recommendation=mode.get("recommended_action", ""),
            )
    except IntegrityError:
        return None  # another worker opened it a moment ago: count this one as a repeat
    from predictions.notifications import alert_notify_later

    alert_notify_later(alert_id=alert.id, event="alert.opened")
    return alert


def _repeat(machine: Machine, failure_mode: str, severity: str, probability: float,
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


# --- alerts from verdicts (scoring) ---------------------------------------------------------------


def alarm_memory() -> int:
    """The most steps any of the tenant's rules looks back (its n or its clear)."""
    rules = [*alert_rules().values(), AlertRule()]
    return max(max(rule.windows_n, rule.windows_clear) for rule in rules)


def alerts_from_verdicts(*, predictions: Sequence[Prediction], machines: dict[int, Machine],
                         recent: Mapping[int, Sequence[str]]) -> dict[int, RaiseOutcome]:
    """Open, repeat or clear each machine's alerts from its latest stored prediction (one per
    machine) and `recent`: its verdict states over its last steps, oldest first, ending with that
    prediction's (the steps in its readings, so a machine scored every 15 minutes on hourly steps
    is judged per step, and a freshly uploaded run on its last steps at once). Marks the
    predictions whose machine's alarm is open after them (`Prediction.alarm`). `machines`: by
    id, with their types."""
    rules = alert_rules()
    by_machine = {p.machine_id: p for p in predictions}
    active: dict[int, list[Alert]] = {}
    for alert in Alert.objects.filter(machine_id__in=list(by_machine), kind=Alert.Kind.FAILURE,
                                      status__in=Alert.ACTIVE):
        active.setdefault(alert.machine_id, []).append(alert)
    outcomes = {mid: _alarm_step(p, machines[mid], alert_rule_for(machines[mid], rules),
                                 list(recent.get(mid) or [p.state]), active.get(mid, []))
                for mid, p in by_machine.items()}
    alarmed = [by_machine[mid].id for mid, o in outcomes.items() if o.action in ("opened", "updated", "quiet")]
    if alarmed:
        Prediction.objects.filter(id__in=alarmed).update(alarm=True)
    return outcomes


def _alarm_step(prediction: Prediction, machine: Machine, rule: AlertRule, states: list[str],
                active: list[Alert]) -> RaiseOutcome:
    """One machine: the alarm before this step is open iff it has an active alert."""
    flags = [state == AT_RISK for state in states]
    was_open = bool(active)
    now_open = alarm_next(was_open, flags, k=rule.windows_k, n=rule.windows_n, clear=rule.windows_clear)
    if was_open and not now_open:
        return _clear(active, rule)
    if not now_open:
        return RaiseOutcome("pending" if flags and flags[-1] else "below_threshold", None)
    if prediction.state != AT_RISK:
        return RaiseOutcome("quiet", active[0] if active else None)
    mode = prediction.failure_mode  # "" when the remaining life alone makes it at risk
    same = next((a for a in active if a.failure_mode == mode), None)
    if same is None and _cooling_down(machine, mode, rule):
        return RaiseOutcome("cooling_down", None)
    severity = _verdict_severity(prediction, rule)
    evidence = _evidence(prediction, flags, rule)
    if same is None:
        opened = _open(machine, mode, severity, _risk(prediction), evidence, prediction.threshold)
        if opened is not None:
            return RaiseOutcome("opened", opened)
    return RaiseOutcome("updated", _repeat(machine, mode, severity, _risk(prediction), evidence))


def _risk(prediction: Prediction) -> float:
    return prediction.risk if prediction.risk is not None else prediction.probability


def _verdict_severity(prediction: Prediction, rule: AlertRule) -> str:
    """Critical when the risk shown is very high (decision rule 7) or crosses the rule's own
    critical probability; else warning."""
    risk = _risk(prediction)
    very_high = prediction.threshold is not None and risk >= critical_level(prediction.threshold)
    return CRITICAL if very_high or risk >= rule.critical_probability else Alert.Severity.WARNING


def _evidence(prediction: Prediction, flags: list[bool], rule: AlertRule) -> dict[str, Any]:
    explanation = prediction.explanation or {}
    kept = {k: explanation[k] for k in ("top_factors", "rule", "confidence") if k in explanation}
    at_risk = sum(flags[-rule.windows_n:])
    return {**kept, "verdict": {
        "prediction": prediction.id, "state": prediction.state, "risk": prediction.risk,
        "threshold": prediction.threshold, "rul_h": prediction.rul_h, "time_unit": prediction.time_unit,
        "windows": f"{at_risk} of the last {min(len(flags), rule.windows_n)} steps at risk",
    }}


def _clear(active: list[Alert], rule: AlertRule, without: str = "risk") -> RaiseOutcome:
    """The alarm closed: resolve the machine's active alerts, saying why (the cooldown follows)."""
    note = f"Cleared automatically: {rule.windows_clear} steps in a row without {without}."
    Alert.objects.filter(id__in=[a.id for a in active], status__in=Alert.ACTIVE).update(
        status=Alert.Status.RESOLVED, resolved_at=timezone.now(), resolution_note=note)
    return RaiseOutcome("cleared", active[0])


# --- alerts from anomaly scores (scoring) ----------------------------------------------------------


def alerts_from_anomalies(*, predictions: Sequence[Prediction], machines: dict[int, Machine],
                          states: Mapping[int, Sequence[str]],
                          anomalies: Mapping[int, Sequence[float | None]]) -> dict[int, RaiseOutcome]:
    """Open, repeat or clear each machine's anomaly alert from its latest stored prediction and
    its last steps (`states` and `anomalies`, aligned, oldest first, as `alerts_from_verdicts`
    reads them). A step counts when its anomaly score, from a detector that learned from real
    readings, reaches the rule's `anomaly_threshold` and the machine is not learning its normal; a
    rule without a threshold raises none. Run after
    `alerts_from_verdicts`: a machine with an active failure alert gets no new anomaly alert
    ("covered"), since a failing machine's readings are unusual too and one problem is one alert."""
    rules, ids = alert_rules(), [p.machine_id for p in predictions]
    learned = _detectors_from_real_readings(predictions)
    active: dict[int, Alert] = {}
    failing: set[int] = set()
    for alert in Alert.objects.filter(machine_id__in=ids, status__in=Alert.ACTIVE):
        if alert.kind == Alert.Kind.ANOMALY:
            active[alert.machine_id] = alert
        else:
            failing.add(alert.machine_id)
    outcomes = {}
    for prediction in predictions:
        machine = machines[prediction.machine_id]
        rule = alert_rule_for(machine, rules)
        scores = list(anomalies.get(machine.id) or [prediction.anomaly_score])
        steps = list(states.get(machine.id) or [prediction.state])[-len(scores):]
        trusted = (prediction.versions or {}).get(ModelVersion.Kind.ANOMALY_DETECTOR) in learned
        flags = _unusual(scores, steps, rule.anomaly_threshold if trusted else None)
        if machine.id in failing and machine.id not in active:
            outcomes[machine.id] = RaiseOutcome("covered", None)
            continue
        outcomes[machine.id] = _anomaly_step(prediction, machine, rule, flags, active.get(machine.id))
    return outcomes


def _detectors_from_real_readings(predictions: Sequence[Prediction]) -> set[int]:
    """The anomaly detectors among the predictions' models that learned from real readings.
    Only their scores raise anomaly alerts: a cold-start detector learned the simulated machines'
    normal, and on simulated healthy fleets measured against it (benchmarks/false_alarms.py's
    models, docs/alerts.md) up to 97% of a type's healthy windows read beyond every normal one."""
    ids = {int(v) for p in predictions if (v := (p.versions or {}).get(ModelVersion.Kind.ANOMALY_DETECTOR))}
    return set(ModelVersion.objects.filter(id__in=ids, data_source__in=(Dataset.Source.REAL, Dataset.Source.MIXED))
               .values_list("id", flat=True))


def _unusual(scores: list[float | None], states: list[str], threshold: float | None) -> list[bool]:
    if threshold is None:
        return [False] * len(scores)
    states = [""] * (len(scores) - len(states)) + states  # a step without a state is not learning
    return [score is not None and score >= threshold and state != LEARNING
            for score, state in zip(scores, states, strict=True)]


def _anomaly_step(prediction: Prediction, machine: Machine, rule: AlertRule, flags: list[bool],
                  active: Alert | None) -> RaiseOutcome:
    now_open = alarm_next(active is not None, flags, k=rule.windows_k, n=rule.windows_n, clear=rule.windows_clear)
    if active is not None and not now_open:
        return _clear([active], rule, without="unusual readings")
    if not now_open:
        return RaiseOutcome("pending" if flags and flags[-1] else "below_threshold", None)
    if not flags[-1]:
        return RaiseOutcome("quiet", active)
    if active is None and _cooling_down(machine, "", rule, Alert.Kind.ANOMALY):
        return RaiseOutcome("cooling_down", None)
    score = float(prediction.anomaly_score or 0.0)
    evidence = _anomaly_evidence(prediction, flags, rule)
    if active is None:
        opened = _open_anomaly(machine, score, evidence)
        if opened is not None:
            return RaiseOutcome("opened", opened)
    return RaiseOutcome("updated", _repeat(machine, "", Alert.Severity.WARNING, score, evidence, Alert.Kind.ANOMALY))


def _anomaly_evidence(prediction: Prediction, flags: list[bool], rule: AlertRule) -> dict[str, Any]:
    unusual = (prediction.explanation or {}).get("unusual_signals") or []
    return {"unusual_signals": unusual, "anomaly": {
        "prediction": prediction.id, "score": prediction.anomaly_score, "threshold": rule.anomaly_threshold,
        "windows": f"{sum(flags[-rule.windows_n:])} of the last {min(len(flags), rule.windows_n)} steps unusual",
    }}


def _open_anomaly(machine: Machine, score: float, evidence: dict[str, Any]) -> Alert | None:
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
    from predictions.notifications import alert_notify_later

    alert_notify_later(alert_id=alert.id, event="alert.opened")
    return alert


def alert_rule_false_alarms(*, rule: AlertRule) -> list[dict[str, Any]]:
    """The rule's expected false alerts per 100 machine-days, for each machine type it covers
    that has a champion failure classifier: a healthy machine whose scored windows are flagged
    independently at the classifier's validation false-positive rate, one window a model step
    (a window scored twice counts once). Cycle-indexed types have no days: per 1,000 windows
    only. Neighbouring windows share readings, so real runs of false flags are likelier: a floor."""
    if rule.machine is not None:
        types = MachineType.objects.filter(id=rule.machine.machine_type_id)
    elif rule.machine_type_id is not None:
        types = MachineType.objects.filter(id=rule.machine_type_id)
    else:  # the tenant default covers every type in use
        types = MachineType.objects.filter(machines__isnull=False).distinct()
    return [rate for machine_type in types.order_by("key") if (rate := _false_alarm_rate(rule, machine_type))]


def _false_alarm_rate(rule: AlertRule, machine_type: MachineType) -> dict[str, Any] | None:
    champion = ModelVersion.objects.filter(machine_type=machine_type, machine__isnull=True,
                                           kind=ModelVersion.Kind.FAILURE_CLASSIFIER,
                                           status=ModelVersion.Status.CHAMPION).only("id", "metrics").first()
    models = model_set_for(machine_type=machine_type) if champion is not None else None
    if champion is None or models is None:
        return None
    metrics = champion.metrics or {}
    fpr = (metrics.get("validation") or {}).get("fpr", metrics.get("fpr"))
    if not isinstance(fpr, int | float):
        return None
    windows = {"k": rule.windows_k, "n": rule.windows_n, "clear": rule.windows_clear}
    per_1000 = expected_false_alarms(float(fpr), windows=1000, **windows)
    daily = None if models.time_unit == "cycles" else 24.0 / models.step_hours
    per_days = expected_false_alarms(float(fpr), windows=round(FALSE_ALARM_DAYS * daily), **windows) if daily else None
    # The rule counts model steps: "4 of 6" is 4 days at risk for a type stepping daily, 8 cycles
    # for an engine read per cycle. Saying so turns the counts into the time a planner expects.
    unit = models.time_unit
    return {"machine_type": machine_type.key, "name": machine_type.name, "model_version": champion.id,
            "validation_fpr": round(float(fpr), 4), "windows_per_day": daily,
            "step": steps_duration(models.step_hours, unit),
            "opens_after": steps_duration(rule.windows_k * models.step_hours, unit),
            "clears_after": steps_duration(rule.windows_clear * models.step_hours, unit),
            "per_100_machine_days": None if per_days is None else round(per_days, 3),
            "per_1000_windows": round(per_1000, 3)}


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
            from predictions.notifications import alert_notify_later

            alert_notify_later(alert_id=alert.id, event="alert.escalated")
            escalated += 1
    return escalated
