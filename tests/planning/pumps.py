"""Issue 16's first-week scenario: three centrifugal pumps (library costs nobody entered), one with
a critical open mechanical-seal alert, two healthy at health 98 whose RUL sits at the model's cap
("beyond 4 days, no sign of wear"), and one technician whose skills were typed as "pumps, seals".

Before the fix the plan rebuilt a healthy pump's impeller for an "$81,689 saving" and left the
alerted pump out. Shared by tests/planning/test_plan_reasons.py and the browser test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from machines.models import Machine
from machines.services import machine_create, machine_type_adopt
from maintenance.models import Alert
from planning.models import Technician
from predictions.models import Prediction

PUMP = "centrifugal-pump"
# A Monday morning, named: the plan's start and every prediction's time.
MONDAY = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
CAP_H = 96.0  # the RUL model's cap: two classifier horizons of 48 h


@dataclass
class Pumps:
    alerted: Machine
    healthy: list[Machine]
    alert: Alert
    technician: Technician


def predict(machine: Machine, *, probability: float, health: float, state: str, mode: str = "",
            rul_h: float | None = CAP_H, at_cap: bool = True) -> Prediction:
    return Prediction.objects.create(
        machine=machine, source=Prediction.Source.SCHEDULED, window_end=MONDAY, horizon_h=48,
        probability=probability, predicted_failure=probability >= 0.3, failure_mode=mode, rul_h=rul_h,
        rul_lower_h=None if rul_h is None else rul_h * 0.8, rul_upper_h=None if rul_h is None else rul_h,
        rul_beyond_h=CAP_H if at_cap and rul_h is not None else None, health_score=health, state=state,
        threshold=0.3, risk=probability, confidence=0.8)


def three_pumps() -> Pumps:
    """Inside a tenant's schema, with the clock at MONDAY."""
    pump = machine_type_adopt(key=PUMP)
    alerted, *healthy = [machine_create(machine_type_id=pump.id, name=name, site="Plant A")
                         for name in ("P-101", "P-102", "P-103")]
    # P-101's latest window reads only "watch"; the seal alert raised on earlier windows is still open.
    predict(alerted, probability=0.2, health=55, state="watch", mode="mechanical_seal_failure", rul_h=None)
    for machine in healthy:
        predict(machine, probability=0.02, health=98, state="healthy")
    alert = Alert.objects.create(machine=alerted, failure_mode="mechanical_seal_failure",
                                 severity=Alert.Severity.CRITICAL, probability=0.8,
                                 title="Mechanical seal failure risk 80%")
    technician = Technician.objects.create(name="Sam", skills=["pumps", "seals"], hours_per_day=8,
                                           working_weekdays=[0, 1, 2, 3, 4])
    return Pumps(alerted, healthy, alert, technician)
