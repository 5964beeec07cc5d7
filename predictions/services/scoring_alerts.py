"""Scoring raises alerts: the alarm rule read over each machine's latest steps.

Scoring opens an alert only on evidence: when `windows_k` of a machine's last `windows_n` scored
windows are at risk by the decision rules (`engine.decision`, the same verdict the fleet and
machine pages show), and the alert clears itself after `windows_clear` windows in a row that are
not (hysteresis). What an alert is and how it opens, repeats, cools down and clears is
maintenance's (`maintenance.services.alerts`); this module reads the predictions and decides.

Anomaly alerts (`alerts_from_anomalies`) read the same steps the same way, with a step counted when
its anomaly score reaches the rule's `anomaly_threshold` instead of when it is at risk: a machine
whose readings are unlike its normal raises an alert even when no failure mode is at risk. They
are their own kind (`Alert.kind`), so the two alarms open, repeat, cool down and clear apart.
Only a detector that learned from real readings raises them (a cold-start one reads healthy
machines as unusual too often: `_detectors_from_real_readings`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.decision import AT_RISK, CRITICAL, LEARNING, alarm_next, critical_level, risk_text
from machines.models import Machine
from maintenance.models import Alert, AlertRule
from maintenance.services.alerts import (
    RaiseOutcome,
    alert_anomaly_open,
    alert_cooling_down,
    alert_open,
    alert_repeat,
    alert_rule_for,
    alert_rules_cached,
    alerts_clear,
)
from predictions.models import Dataset, ModelVersion, Prediction
from tenants.row_cache import tenant_cached


def alarm_memory() -> int:
    """The most steps any of the tenant's rules looks back (its n or its clear)."""
    rules = [*alert_rules_cached().values(), AlertRule()]
    return max(max(rule.windows_n, rule.windows_clear) for rule in rules)


def alerts_from_verdicts(*, predictions: Sequence[Prediction], machines: dict[int, Machine],
                         recent: Mapping[int, Sequence[str]]) -> dict[int, RaiseOutcome]:
    """Open, repeat or clear each machine's alerts from its latest stored prediction (one per
    machine) and `recent`: its verdict states over its last steps, oldest first, ending with that
    prediction's (the steps in its readings, so a machine scored every 15 minutes on hourly steps
    is judged per step, and a freshly uploaded run on its last steps at once). Marks the
    predictions whose machine's alarm is open after them (`Prediction.alarm`). `machines`: by
    id, with their types."""
    rules = alert_rules_cached()
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
        return alerts_clear(active, rule)
    if not now_open:
        return RaiseOutcome("pending" if flags and flags[-1] else "below_threshold", None)
    if prediction.state != AT_RISK:
        return RaiseOutcome("quiet", active[0] if active else None)
    mode = prediction.failure_mode  # "" when the remaining life alone makes it at risk
    same = next((a for a in active if a.failure_mode == mode), None)
    if same is None and alert_cooling_down(machine, mode, rule):
        return RaiseOutcome("cooling_down", None)
    severity = _verdict_severity(prediction, rule)
    evidence = _evidence(prediction, flags, rule)
    if same is None:
        opened = alert_open(machine, mode, severity, _risk(prediction), evidence, _risk_words(prediction))
        if opened is not None:
            return RaiseOutcome("opened", opened)
    return RaiseOutcome("updated", alert_repeat(machine, mode, severity, _risk(prediction), evidence))


def _risk(prediction: Prediction) -> float:
    return prediction.risk if prediction.risk is not None else prediction.probability


def _risk_words(prediction: Prediction) -> str | None:
    """The risk as the alert's title says it: against the classifier's threshold where it has one."""
    if prediction.threshold is None:
        return None
    return risk_text(_risk(prediction), prediction.threshold)


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


# --- alerts from anomaly scores ---------------------------------------------------------------------


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
    rules, ids = alert_rules_cached(), [p.machine_id for p in predictions]
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
    ids = frozenset(int(v) for p in predictions if (v := (p.versions or {}).get(ModelVersion.Kind.ANOMALY_DETECTOR)))
    if not ids:
        return set()

    def load() -> frozenset[int]:
        real = (Dataset.Source.REAL, Dataset.Source.MIXED)
        return frozenset(ModelVersion.objects.filter(id__in=ids, data_source__in=real).values_list("id", flat=True))

    return set(tenant_cached("real_detectors", tuple(sorted(ids)), load))


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
        return alerts_clear([active], rule, without="unusual readings")
    if not now_open:
        return RaiseOutcome("pending" if flags and flags[-1] else "below_threshold", None)
    if not flags[-1]:
        return RaiseOutcome("quiet", active)
    if active is None and alert_cooling_down(machine, "", rule, Alert.Kind.ANOMALY):
        return RaiseOutcome("cooling_down", None)
    score = float(prediction.anomaly_score or 0.0)
    evidence = _anomaly_evidence(prediction, flags, rule)
    if active is None:
        opened = alert_anomaly_open(machine, score, evidence)
        if opened is not None:
            return RaiseOutcome("opened", opened)
    repeated = alert_repeat(machine, "", Alert.Severity.WARNING, score, evidence, Alert.Kind.ANOMALY)
    return RaiseOutcome("updated", repeated)


def _anomaly_evidence(prediction: Prediction, flags: list[bool], rule: AlertRule) -> dict[str, Any]:
    unusual = (prediction.explanation or {}).get("unusual_signals") or []
    return {"unusual_signals": unusual, "anomaly": {
        "prediction": prediction.id, "score": prediction.anomaly_score, "threshold": rule.anomaly_threshold,
        "windows": f"{sum(flags[-rule.windows_n:])} of the last {min(len(flags), rule.windows_n)} steps unusual",
    }}
