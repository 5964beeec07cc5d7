"""Alerts on evidence: scoring opens an alert when k of a machine's last n windows are at risk by
the decision rules and clears it after `clear` quiet windows (predictions.services.scoring_alerts), with
the real service, rules and database; the alert rules' API with its windows and expected
false-alarm rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django_tenants.utils import tenant_context

from engine.decision import expected_false_alarms
from machines.baselines import DEFAULT_DAYS
from machines.live import readings_push
from machines.models import Machine, MachineType
from machines.services import machine_create
from maintenance.models import Alert, AlertRule
from predictions.models import ModelVersion, Prediction
from predictions.services.scoring import machine_predict
from predictions.services.scoring_alerts import alarm_memory, alerts_from_anomalies, alerts_from_verdicts
from tests.conftest import TRAINED_TYPE, failing_run_readings

JSON = "application/json"
START = datetime(2026, 11, 2, tzinfo=UTC)
THRESHOLD = 0.05


class Windows:
    """A machine's steps, one an hour, each scored and handed to the alert service as scoring
    does: the stored prediction of the newest step and the states of the steps before it."""

    def __init__(self, machine: Machine) -> None:
        self.machine = Machine.objects.select_related("machine_type").get(id=machine.id)
        self.states: list[str] = []

    def score(self, states: str, *, mode: str = "bearing_wear", risk: float = 0.12) -> str:
        """`states`: one letter a step, R at risk, Q quiet (healthy), L learning; the last step's
        alert action is returned."""
        action = ""
        for letter in states:
            self.states.append({"R": "at_risk", "Q": "healthy", "L": "learning"}[letter])
            action = self.again(mode=mode, risk=risk)
        return action

    def again(self, *, mode: str = "bearing_wear", risk: float = 0.12) -> str:
        """Score the newest step once more (the fleet is scored every 15 minutes, steps are hours)."""
        at_risk = self.states[-1] == "at_risk"
        prediction = Prediction.objects.create(
            machine=self.machine, source="scheduled", window_end=START + timedelta(hours=len(self.states)),
            horizon_h=48, probability=risk if at_risk else 0.01, predicted_failure=at_risk,
            failure_mode=mode if at_risk else "", health_score=None if self.states[-1] == "learning" else 50.0,
            confidence=0.5, state=self.states[-1], risk=risk if at_risk else 0.01, threshold=THRESHOLD)
        outcome = alerts_from_verdicts(predictions=[prediction], machines={self.machine.id: self.machine},
                                       recent={self.machine.id: self.states[-alarm_memory():]})
        return outcome[self.machine.id].action

    def latest(self) -> Prediction:
        return Prediction.objects.filter(machine=self.machine).order_by("-window_end", "-id").first()  # type: ignore[return-value]


def _active(machine: Machine) -> list[Alert]:
    return list(Alert.objects.filter(machine=machine, status__in=Alert.ACTIVE))


def test_an_alert_opens_on_k_of_the_last_n_windows_not_on_one(motor: Machine, in_acme: Any) -> None:
    windows = Windows(motor)  # the default rule: 4 of 6, cleared after 6
    assert windows.score("R") == "pending" and not _active(motor)
    assert windows.score("QRQ") == "below_threshold"  # R Q R Q: 2 of 4
    assert windows.score("R") == "pending"  # 3 of the last 5
    assert not windows.latest().alarm
    assert windows.score("R") == "opened"  # R Q R Q R R: 4 of 6
    (alert,) = _active(motor)
    assert alert.failure_mode == "bearing_wear" and alert.severity == "warning"
    assert "high (12%, alert level 5%)" in alert.title
    assert alert.explanation["verdict"]["windows"] == "4 of the last 6 steps at risk"
    assert windows.latest().alarm


def test_scattered_single_windows_never_open_an_alert(motor: Machine, in_acme: Any) -> None:
    windows = Windows(motor)
    windows.score("RQQRQQRQQRQQRQQ")
    assert not Alert.objects.filter(machine=motor).exists()


def test_a_step_scored_again_adds_no_evidence_and_learning_steps_never_count(motor: Machine, in_acme: Any) -> None:
    windows = Windows(motor)
    windows.score("R")
    assert {windows.again() for _ in range(5)} == {"pending"}  # one step, scored six times
    assert windows.score("LLLL") == "below_threshold"
    assert not Alert.objects.filter(machine=motor).exists()


def test_hysteresis_keeps_the_alert_through_quiet_windows_and_clears_it_after_clear(motor: Machine,
                                                                                   in_acme: Any) -> None:
    windows = Windows(motor)
    assert windows.score("RRRR") == "opened"
    assert windows.score("RR", risk=0.7) == "updated"
    (alert,) = _active(motor)
    assert alert.occurrences == 3 and alert.severity == "critical"  # escalated in place on a very high risk
    assert windows.score("QQQQQ") == "quiet" and _active(motor) == [alert]  # 5 quiet: still open
    assert windows.latest().alarm
    assert windows.score("R") == "updated"  # back at risk: the quiet run starts again
    assert windows.score("QQQQQ") == "quiet"
    assert windows.score("Q") == "cleared"  # 6 in a row
    alert.refresh_from_db()
    assert alert.status == "resolved" and "6 steps in a row without risk" in alert.resolution_note
    assert not windows.latest().alarm
    assert windows.score("RRRR") == "cooling_down"  # the rule's cooldown after a resolve still holds


def test_the_machines_rule_sets_k_n_and_clear(motor: Machine, in_acme: Any) -> None:
    AlertRule.objects.create(machine=motor, windows_k=2, windows_n=3, windows_clear=2)
    windows = Windows(motor)
    assert windows.score("RQR") == "opened"
    assert windows.score("Q") == "quiet" and windows.score("Q") == "cleared"


def test_an_at_risk_window_by_remaining_life_alone_opens_an_alert_without_a_mode(motor: Machine,
                                                                                in_acme: Any) -> None:
    windows = Windows(motor)
    assert windows.score("RRRR", mode="") == "opened"
    assert _active(motor)[0].failure_mode == ""


def test_a_user_resolved_alert_reopens_only_after_the_cooldown(motor: Machine, in_acme: Any) -> None:
    windows = Windows(motor)
    # Resolved late on a leap day; the 4 h cooldown ends on the first of March.
    resolved = datetime(2028, 2, 29, 22, 30, tzinfo=UTC)
    with time_machine.travel(resolved, tick=False) as clock:
        windows.score("RRRR")
        Alert.objects.filter(machine=motor).update(status="resolved", resolved_at=resolved)
        clock.shift(timedelta(hours=5))
        assert windows.score("R") == "opened"  # still k of n, cooldown (4 h) over


# --- the anomaly kind ---------------------------------------------------------------------------


class Unusual:
    """A machine's steps with their anomaly scores, each stored and handed to both alert kinds as
    scoring does (the failure verdicts first, then the anomaly scores)."""

    def __init__(self, machine: Machine, *, detector_data: str = "real") -> None:
        self.machine = Machine.objects.select_related("machine_type").get(id=machine.id)
        self.states: list[str] = []
        self.scores: list[float | None] = []
        detector = ModelVersion.objects.create(
            machine_type=self.machine.machine_type, kind="anomaly_detector",
            number=ModelVersion.objects.filter(kind="anomaly_detector").count() + 1, data_source=detector_data,
            data_fingerprint="f", artifact_path="x", artifact_sha256="0" * 64)
        self.versions = {"anomaly_detector": detector.id}

    def score(self, steps: str, *, at_risk: bool = False) -> str:
        """`steps`: one letter a step, U unusual (score 0.9995), N normal (0.40), L learning (1.0),
        - no detector; the last step's anomaly action is returned."""
        action = ""
        for letter in steps:
            self.scores.append({"U": 0.9995, "N": 0.40, "L": 1.0, "-": None}[letter])
            self.states.append("learning" if letter == "L" else "at_risk" if at_risk else "healthy")
            prediction = Prediction.objects.create(
                machine=self.machine, source="scheduled", window_end=START + timedelta(hours=len(self.states)),
                horizon_h=48, probability=0.12 if at_risk else 0.01, predicted_failure=at_risk,
                failure_mode="bearing_wear" if at_risk else "", health_score=60.0, confidence=0.5,
                state=self.states[-1], risk=0.12 if at_risk else 0.01, threshold=THRESHOLD,
                anomaly_score=self.scores[-1], versions=self.versions,
                explanation={"unusual_signals": [{"signal": "vibration_mm_s", "z": 6.1}]})
            memory = alarm_memory()
            machines = {self.machine.id: self.machine}
            alerts_from_verdicts(predictions=[prediction], machines=machines,
                                 recent={self.machine.id: self.states[-memory:]})
            action = alerts_from_anomalies(predictions=[prediction], machines=machines,
                                           states={self.machine.id: self.states[-memory:]},
                                           anomalies={self.machine.id: self.scores[-memory:]})[self.machine.id].action
        return action


def _anomaly_alerts(machine: Machine) -> list[Alert]:
    return list(Alert.objects.filter(machine=machine, kind="anomaly", status__in=Alert.ACTIVE))


def test_an_unusual_machine_raises_an_anomaly_alert_on_k_of_n_steps_and_clears_after_quiet_ones(
        motor: Machine, in_acme: Any) -> None:
    steps = Unusual(motor)  # the default rule: 4 of 6 at 0.999, cleared after 6
    assert steps.score("UNU") == "pending"
    assert steps.score("N") == "below_threshold" and not _anomaly_alerts(motor)
    assert steps.score("UU") == "opened"  # U N U N U U: 4 of 6
    (alert,) = _anomaly_alerts(motor)
    assert alert.severity == "warning" and alert.failure_mode == ""
    assert alert.title == "Motor-001: readings unlike its normal (vibration_mm_s)"
    assert alert.explanation["anomaly"]["windows"] == "4 of the last 6 steps unusual"
    assert steps.score("U") == "updated"
    alert.refresh_from_db()
    assert alert.occurrences == 2  # a repeat, not a second alert
    assert steps.score("NNNNN") == "quiet" and _anomaly_alerts(motor) == [alert]
    assert steps.score("N") == "cleared"
    alert.refresh_from_db()
    assert alert.status == "resolved" and "without unusual readings" in alert.resolution_note
    assert steps.score("UUUU") == "cooling_down"  # the rule's cooldown holds for this kind too
    assert not Alert.objects.filter(machine=motor, kind="failure").exists()  # the failure alarm never moved


def test_healthy_scores_learning_steps_and_no_detector_raise_no_anomaly_alert(motor: Machine, in_acme: Any) -> None:
    steps = Unusual(motor)
    steps.score("NNNNNN")
    steps.score("LLLLLL")  # a machine learning its normal reads unusual by nature: not counted
    steps.score("------")
    assert not Alert.objects.filter(machine=motor).exists()


def test_a_cold_start_detectors_scores_raise_no_anomaly_alert(motor: Machine, in_acme: Any) -> None:
    steps = Unusual(motor, detector_data="simulated")  # it learned the simulated machines' normal
    assert steps.score("UUUUUU") == "below_threshold"
    assert not Alert.objects.filter(machine=motor).exists()


def test_the_rules_anomaly_threshold_decides_and_null_switches_the_kind_off(motor: Machine, in_acme: Any) -> None:
    rule = AlertRule.objects.create(machine=motor, anomaly_threshold=None)
    steps = Unusual(motor)
    assert steps.score("UUUUUU") == "below_threshold"
    rule.anomaly_threshold = 0.9999  # stricter than the U steps' 0.9995
    rule.save()
    assert steps.score("UUUUUU") == "below_threshold"
    rule.anomaly_threshold = 0.95
    rule.save()
    assert steps.score("U") == "opened"


def test_a_machine_with_an_active_failure_alert_gets_no_second_alert_for_its_unusual_readings(
        motor: Machine, in_acme: Any) -> None:
    steps = Unusual(motor)
    assert steps.score("UUUU", at_risk=True) == "covered"
    assert [a.kind for a in Alert.objects.filter(machine=motor)] == ["failure"]


# --- through scoring ----------------------------------------------------------------------------


def test_a_failing_run_scored_in_a_batch_is_in_the_inbox_and_at_risk_on_the_pages(
    trained_motor: Any, client_for: Any, world: Any,
) -> None:
    with tenant_context(world.acme):
        machine_type = MachineType.objects.get(key=TRAINED_TYPE)
        machine = machine_create(machine_type_id=machine_type.id, name="ABB-201")
        run = failing_run_readings(machine_type.metadata, "ABB-201", seed=7)
        # The machine's first readings (the healthy start of its run) teach it its normal; a
        # machine with no known normal is "learning its normal", not judged.
        start = datetime.fromisoformat(run[0]["ts"])
        learned_by = start + timedelta(days=DEFAULT_DAYS + 1)
        readings_push(items=[r for r in run if datetime.fromisoformat(r["ts"]) <= learned_by])
        rows = run[-60:]  # the run's last steps
    scored = client_for("engineer").post("/api/v1/predictions/batch/", {"readings": rows}, content_type=JSON)
    assert scored.status_code == 201, scored.content
    latest = max(scored.json(), key=lambda p: p["window_end"])
    assert latest["state"] == "at_risk" and latest["risk"] >= latest["threshold"] and latest["alarm"] is True
    assert latest["risk_level"] in ("high", "very high")
    with tenant_context(world.acme):
        assert Prediction.objects.get(id=latest["id"]).alarm  # stored too, not only answered
        (alert,) = _active(machine)
    fleet = client_for("viewer").get("/").content.decode()
    row = fleet[fleet.index(f'data-machine="{machine.id}"'):]
    row = row[: row.index("</tr>")]
    assert 'data-state="at_risk"' in row and "at risk" in row and "confirming" not in row
    page = client_for("viewer").get(f"/machines/{machine.id}/").content.decode()
    assert 'data-state="at_risk"' in page and "alert open" in page
    inbox = client_for("viewer").get("/alerts/").content.decode()
    assert "ABB-201" in inbox and f'id="alert-{alert.id}"' in inbox
    url = f"/api/v1/predictions/{latest['id']}/"
    api = client_for("viewer").get(url).json()
    assert api["state"] == "at_risk" and api["alarm"] is True  # a viewer reads the verdict
    assert client_for("globex_owner", tenant=world.globex).get(url).status_code == 404
    assert client_for("viewer").post("/api/v1/predictions/batch/", {"readings": rows},
                                     content_type=JSON).status_code == 403  # scoring needs the predict role


def test_one_scoring_of_a_failing_runs_readings_judges_its_last_steps(trained_motor: Any, world: Any,
                                                                     db: None) -> None:
    with tenant_context(world.acme):
        machine_type = MachineType.objects.get(key=TRAINED_TYPE)
        machine = machine_create(machine_type_id=machine_type.id, name="ABB-202")
        readings_push(items=failing_run_readings(machine_type.metadata, "ABB-202", seed=7))
        prediction = machine_predict(machine=machine)  # once: the evidence is in the readings
        assert prediction.state == "at_risk" and prediction.alarm
        (alert,) = _active(machine)
        assert alert.explanation["verdict"]["windows"].endswith("of the last 6 steps at risk")
        assert machine_predict(machine=machine).alarm and _active(machine) == [alert]  # scored again: a repeat
        alert.refresh_from_db()
        assert alert.occurrences == 2


def test_scoring_raises_an_anomaly_alert_once_the_detector_learned_from_real_readings(trained_motor: Any, world: Any,
                                                                                     db: None) -> None:
    from django.db.models import F

    with tenant_context(world.acme):
        machine_type = MachineType.objects.get(key=TRAINED_TYPE)
        machine = machine_create(machine_type_id=machine_type.id, name="ABB-203")
        readings_push(items=failing_run_readings(machine_type.metadata, "ABB-203", seed=7))
        AlertRule.objects.create(machine=machine, windows_k=1, windows_n=1, windows_clear=1, anomaly_threshold=0.9)
        first = machine_predict(machine=machine)
        assert first.anomaly_score is not None and first.anomaly_score >= 0.9  # the failing run's end is unusual
        assert not Alert.objects.filter(machine=machine, kind="anomaly").exists()  # a cold-start detector: none
        # Someone resolved the failure alert (its cooldown keeps that kind quiet); the detector is
        # now one trained on the tenant's own readings.
        Alert.objects.filter(machine=machine).update(status="resolved", resolved_at=F("opened_at"))
        ModelVersion.objects.filter(id=first.versions["anomaly_detector"]).update(data_source="real")
        machine_predict(machine=machine)
        (alert,) = Alert.objects.filter(machine=machine, status="open")
        assert alert.kind == "anomaly" and alert.title.startswith("ABB-203: readings unlike its normal")
        assert alert.explanation["anomaly"]["windows"] == "1 of the last 1 steps unusual"


# --- the rules' API -----------------------------------------------------------------------------


def test_alert_rules_carry_an_anomaly_threshold_a_default_and_refuse_a_noisy_one(client_for: Any, world: Any) -> None:
    owner = client_for("owner")
    created = owner.post("/api/v1/alert-rules/", {}, content_type=JSON)
    assert created.status_code == 201 and created.json()["anomaly_threshold"] == 0.999  # on by default
    url = f"/api/v1/alert-rules/{created.json()['id']}/"
    noisy = owner.patch(url, {"anomaly_threshold": 0.5}, content_type=JSON)
    assert noisy.status_code == 400 and "anomaly_threshold" in noisy.content.decode()
    off = owner.patch(url, {"anomaly_threshold": None}, content_type=JSON)
    assert off.status_code == 200 and off.json()["anomaly_threshold"] is None
    assert client_for("engineer").patch(url, {"anomaly_threshold": 0.99}, content_type=JSON).status_code == 403


def test_alert_rules_carry_their_windows_and_refuse_a_clear_that_could_reopen(client_for: Any, world: Any) -> None:
    owner = client_for("owner")
    created = owner.post("/api/v1/alert-rules/", {"windows_k": 3, "windows_n": 5, "windows_clear": 6},
                         content_type=JSON)
    assert created.status_code == 201, created.content
    assert created.json()["windows_k"] == 3
    for rate in created.json()["expected_false_alarms"]:  # the default rule: every type with a champion
        assert rate["per_100_machine_days"] is not None and rate["validation_fpr"] >= 0
    rule_id = created.json()["id"]
    bad = owner.patch(f"/api/v1/alert-rules/{rule_id}/", {"windows_k": 2, "windows_clear": 2}, content_type=JSON)
    assert bad.status_code == 400 and "windows_clear" in bad.json()["error"]["details"]
    assert client_for("viewer").get(f"/api/v1/alert-rules/{rule_id}/").json()["windows_n"] == 5
    assert client_for("viewer").patch(f"/api/v1/alert-rules/{rule_id}/", {"windows_k": 4},
                                      content_type=JSON).status_code == 403
    assert client_for("globex_owner", tenant=world.globex).get(f"/api/v1/alert-rules/{rule_id}/").status_code == 404
    assert client_for("globex_owner").get(f"/api/v1/alert-rules/{rule_id}/").status_code == 404


def test_a_rules_expected_false_alarms_come_from_the_champions_validation_fpr(
    trained_motor: Any, client_for: Any, world: Any,
) -> None:
    owner = client_for("owner")
    created = owner.post("/api/v1/alert-rules/", {"machine_type": TRAINED_TYPE}, content_type=JSON)
    assert created.status_code == 201, created.content
    (rate,) = created.json()["expected_false_alarms"]
    with tenant_context(world.acme):
        champion = ModelVersion.objects.get(machine_type_id=trained_motor.machine_type_id, machine=None,
                                            kind="failure_classifier", status="champion")
    fpr = champion.metrics["validation"]["fpr"]
    windows = round(100 * rate["windows_per_day"])
    assert rate["machine_type"] == TRAINED_TYPE and rate["validation_fpr"] == pytest.approx(fpr, abs=1e-4)
    # the motor steps daily: 4 of 6 steps is 4 days at risk, 6 quiet days clear it
    assert (rate["step"], rate["opens_after"], rate["clears_after"]) == ("24 h", "4 days", "6 days")
    assert rate["per_100_machine_days"] == pytest.approx(
        expected_false_alarms(fpr, k=4, n=6, clear=6, windows=windows), abs=1e-3)
    looser = owner.patch(f"/api/v1/alert-rules/{created.json()['id']}/",
                         {"windows_k": 1, "windows_n": 1, "windows_clear": 1}, content_type=JSON).json()
    assert looser["expected_false_alarms"][0]["per_100_machine_days"] >= rate["per_100_machine_days"]
