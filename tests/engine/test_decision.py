"""The decision rules (engine.decision, docs/models.md "Decision rules"): one test each,
pure and fast, plus the alarm hysteresis and its expected false-alarm count."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engine.decision import (
    RUL_SKILL,
    alarm_rule_check,
    alarm_states,
    decide,
    expected_false_alarms,
    risk_text,
)

T = 0.053  # the classifier threshold the issue saw (chosen on validation at FPR <= 5%)
HORIZON, CAP = 48.0, 720.0


def _one(**scores: float | None) -> dict[str, Any]:
    args: dict[str, Any] = {"probability": [0.0], "threshold": T, "rul": [CAP], "rul_cap": CAP,
                               "horizon": HORIZON, "anomaly": [0.2]}
    args.update({key: value if key == "rul_skill" else [value] for key, value in scores.items()})
    verdicts = decide(**args)
    return {**verdicts.row(0), "rul": verdicts.rul[0]}


def test_rule1_at_risk_iff_probability_reaches_the_threshold_or_rul_inside_the_horizon() -> None:
    assert _one(probability=T)["state"] == "at_risk"
    assert _one(probability=T * 0.99)["state"] != "at_risk"
    assert _one(rul=HORIZON)["state"] == "at_risk"
    assert _one(rul=HORIZON + 0.1)["state"] != "at_risk"
    assert _one(anomaly=1.0, probability=0.0)["state"] != "at_risk"


def test_rule2_risk_shown_is_never_below_the_alert_level_beside_an_rul_inside_the_horizon() -> None:
    # The healthy pump: "failure risk 0%" beside "remaining useful life 5.7 h".
    pump = _one(probability=0.0, rul=5.7)
    assert pump["state"] == "at_risk" and pump["risk"] >= T and pump["risk_level"] in ("high", "very high")
    rul = np.linspace(0.0, 200.0, 81)
    verdicts = decide(probability=np.zeros(81), threshold=T, rul=rul, rul_cap=CAP, horizon=HORIZON, anomaly=None)
    assert np.array_equal(verdicts.risk >= T, verdicts.state == "at_risk")  # one reading of "at risk"
    assert np.all(np.diff(verdicts.risk) <= 0)  # shorter life, higher risk


def test_rule3_a_saturated_anomaly_alone_gives_watch_and_health_at_least_50() -> None:
    saturated = _one(anomaly=1.0)
    assert saturated["state"] == "watch" and saturated["health_score"] >= 50
    assert _one(anomaly=0.995)["state"] == "watch"
    assert _one(anomaly=0.96)["state"] == "healthy"  # one healthy window in 25 scores this high
    assert _one(probability=T * 0.6)["state"] == "watch"
    assert _one(rul=1.4 * HORIZON)["state"] == "watch"
    assert _one(anomaly=0.5)["state"] == "healthy"


def test_rule4_health_bands_by_state_and_monotone_in_the_evidence() -> None:
    rng = np.random.default_rng(7)
    rows = 5_000
    verdicts = decide(probability=rng.uniform(0, 0.2, rows) ** 2 * 10, threshold=T, rul=rng.uniform(0, CAP, rows),
                      rul_cap=CAP, horizon=HORIZON, anomaly=rng.uniform(0, 1, rows))
    bands = {"at_risk": (0, 50), "watch": (50, 70), "healthy": (70, 100.0001)}
    for state, (low, high) in bands.items():
        health = verdicts.health[verdicts.state == state]
        assert len(health) and health.min() >= low and health.max() < high, state
    # Inside a band, more evidence never raises health: probability, anomaly up; RUL down.
    p = np.linspace(0.0, 1.0, 201)
    for column in (decide(probability=p, threshold=T, rul=None, horizon=HORIZON).health,
                   decide(probability=np.zeros(201), threshold=T, horizon=HORIZON, anomaly=p).health,
                   decide(probability=np.zeros(201), threshold=T, rul=CAP * (1 - p), rul_cap=CAP,
                          horizon=HORIZON).health):
        assert np.all(np.diff(column) <= 1e-9)


def test_rule5_rul_at_its_cap_is_shown_as_beyond_not_as_a_number() -> None:
    at_cap = _one(rul=CAP * 0.99)
    assert np.isnan(at_cap["rul"]) and at_cap["rul_beyond_h"] == CAP and at_cap["state"] == "healthy"
    below = _one(rul=CAP * 0.9)
    assert below["rul"] == pytest.approx(CAP * 0.9) and below["rul_beyond_h"] is None
    no_model = decide(probability=[0.0], threshold=T, rul=None, rul_cap=None, horizon=HORIZON)
    assert np.isnan(no_model.rul[0]) and np.isnan(no_model.rul_beyond[0])


def test_rule6_a_machine_learning_its_normal_gets_no_health_verdict() -> None:
    verdicts = decide(probability=[0.9, 0.9, 0.9], threshold=T, horizon=HORIZON, learning=[0.62, 1.0, None])
    assert list(verdicts.state) == ["learning", "at_risk", "at_risk"]
    assert np.isnan(verdicts.health[0]) and verdicts.learning[0] == pytest.approx(0.62)
    assert verdicts.severity[0] == "" and np.isnan(verdicts.learning[1])


def test_rule7_severity_critical_far_above_the_alert_level_or_rul_inside_half_the_horizon() -> None:
    assert _one(probability=T * 1.5)["severity"] == "warning"
    assert _one(probability=0.6)["severity"] == "critical"  # above halfway from 5.3% to 100%
    assert _one(rul=HORIZON * 0.6)["severity"] == "warning"
    assert _one(rul=HORIZON * 0.4)["severity"] == "critical"  # inside half the horizon
    assert _one(probability=0.0)["severity"] == ""


def test_rule8_an_rul_model_without_skill_is_no_evidence() -> None:
    inside = _one(rul=HORIZON * 0.5)
    assert inside["state"] == "at_risk"  # a skilled model's (or an unknown one's) life counts
    blind = _one(rul=HORIZON * 0.5, rul_skill=RUL_SKILL / 2)
    assert blind["state"] == "healthy" and np.isnan(blind["rul"]) and blind["risk"] == 0.0
    assert _one(rul=HORIZON * 1.2, rul_skill=0.0)["state"] == "healthy"  # no watch from it either
    assert _one(rul=HORIZON * 0.5, rul_skill=RUL_SKILL)["state"] == "at_risk"
    assert _one(probability=0.9, rul_skill=0.0)["state"] == "at_risk"  # the classifier still counts


def test_risk_reads_against_the_alert_level() -> None:
    assert risk_text(0.12, T) == "high (12%, alert level 5%)"
    assert risk_text(0.001, T) == "low (<1%, alert level 5%)"
    assert risk_text(0.03, T).startswith("raised")
    assert risk_text(0.7, T).startswith("very high")


def test_alarm_opens_on_k_of_n_and_closes_after_clear_quiet_windows() -> None:
    flags = [1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    assert alarm_states(flags, k=3, n=5, clear=3) == [False] * 4 + [True, True, True, False] + [False] * 4
    assert not any(alarm_states([1, 0, 0, 1, 0, 0, 1], k=3, n=5, clear=3))  # never 3 in any 5
    single = alarm_states([1, 0, 1], k=1, n=1, clear=1)
    assert single == [True, False, True]


def test_rule_check_refuses_a_clear_that_would_reopen_on_old_windows() -> None:
    with pytest.raises(ValueError):
        alarm_rule_check(k=2, n=6, clear=2)
    with pytest.raises(ValueError):
        alarm_rule_check(k=4, n=3, clear=6)
    alarm_rule_check(k=4, n=6, clear=6)


def test_expected_false_alarms_matches_a_simulation_and_falls_with_persistence() -> None:
    rate, windows = 0.05, 400
    exact = expected_false_alarms(rate, k=2, n=3, clear=3, windows=windows)
    rng = np.random.default_rng(3)
    opened = []
    for _ in range(3_000):
        states = alarm_states(rng.random(windows) < rate, k=2, n=3, clear=3)
        opened.append(sum(1 for before, now in zip([False, *states], states, strict=False) if now and not before))
    assert exact == pytest.approx(np.mean(opened), rel=0.05)
    single = expected_false_alarms(rate, k=1, n=1, clear=1, windows=windows)
    assert single == pytest.approx(rate + (windows - 1) * rate * (1 - rate))  # each flag after a quiet window
    assert expected_false_alarms(rate, k=4, n=6, clear=6, windows=windows) < exact < single
